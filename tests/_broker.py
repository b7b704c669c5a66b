"""A real redis-server and real ``dangan ocr-worker`` processes for the OCR queue's tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _serve import free_port
from conftest import DANGAN


@dataclass
class RedisServer:
    """redis-server on a free loopback port, append-only file on (as the docs ask)."""

    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is not installed: bash scripts/bootstrap.sh test"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                exe,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.folder),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
                "--protected-mode", "yes",
            ],
            stdout=(self.folder / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(lambda: self.ping(), 20, "redis-server did not start")
        return self

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # a graceful shutdown, as systemctl restart does
            self.proc.wait(timeout=30)
        self.proc = None

    def client(self, db: int = 0) -> Any:
        import redis

        return redis.Redis(port=self.port, db=db, socket_connect_timeout=2)


@dataclass
class Worker:
    """One ``dangan ocr-worker`` process (its own session: killed with its readers)."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL the worker and its reading processes at once, as a machine dies."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_worker(
    redis_server: RedisServer,
    folder: Path,
    name: str,
    *args: str,
    ready: bool = True,
) -> Worker:
    """Start ``dangan ocr-worker`` (on ``redis_server``'s database 0 unless ``--broker`` is
    among ``args``) and wait for its heartbeat."""
    log = folder / f"{name}.log"
    broker = [] if "--broker" in args else ["--broker", redis_server.url]
    proc = subprocess.Popen(
        [str(DANGAN), "ocr-worker", *broker, "--name", name, *args],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = Worker(name, proc, log)
    if ready:
        wait_for(
            lambda: heartbeat(redis_server, name) is not None, 120, f"{name} never ready", worker
        )
        wait_for(lambda: " ready." in worker.text(), 60, f"{name} never ready", worker)
    return worker


def heartbeat(redis_server: RedisServer, name: str, db: int | None = None) -> dict[str, Any] | None:
    """The heartbeat of worker ``name`` (in any of the first few databases)."""
    for n in range(4) if db is None else [db]:
        beat = _heartbeat_in(redis_server.client(n), name)
        if beat is not None:
            return beat
    return None


def _heartbeat_in(client: Any, name: str) -> dict[str, Any] | None:
    for key in client.scan_iter(match="dangan:ocr:worker:*"):
        raw = client.get(key)
        if raw and json.loads(raw)["hostname"].startswith(f"{name}-"):
            return dict(json.loads(raw))
    return None


def wait_for(
    check: Callable[[], Any], seconds: float, message: str, worker: Worker | None = None
) -> Any:
    """Poll ``check`` until it is truthy; a generous bound on a hang, not a timing."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if worker is not None and worker.proc.poll() is not None:
            raise AssertionError(f"{message}: worker exited\n{worker.text()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(message + ("" if worker is None else f"\n{worker.text()[-3000:]}"))
