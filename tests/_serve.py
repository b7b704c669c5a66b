"""``dangan serve`` in a subprocess on a free loopback port, for the tests that need the real
server (uvicorn): a browser, a connection cut off, a server killed."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
from conftest import DANGAN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def serve(root: Path, port: int | None = None) -> Served:
    """Start ``dangan serve`` on *root*; returns once it accepts connections."""
    port = port or free_port()
    log = root.parent / f"serve-{port}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [DANGAN, "serve", "--port", str(port), "--archive", str(root)], stdout=out, stderr=out
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Served(proc, port, log)
        except OSError:
            assert proc.poll() is None, log.read_text(encoding="utf-8", errors="replace")
            assert time.monotonic() < deadline, "dangan serve did not start in 60 s"
            time.sleep(0.2)


def signed_in(base: str, name: str, password: str) -> httpx.Client:
    """An HTTP client signed in through the real form (cookies kept)."""
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    got = client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token.group(1), "next": "/"},
    )
    assert got.status_code == 303, got.text[:300]
    return client


def page_token(client: Any, url: str, attribute: str = "csrf_token") -> str:
    text = client.get(url).text
    found = re.search(rf'(?:name="{attribute}" value|data-token)="([^"]+)"', text)
    assert found, f"{url}: no token"
    return found.group(1)
