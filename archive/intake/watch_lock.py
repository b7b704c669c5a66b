"""One watcher per archive, and a way to tell whether it is running.

``dangan watch`` holds an exclusive lock on ``.dangan/watch.lock`` for its whole life and
writes who it is into the file (pid, host, start time, mode). The kernel drops the lock when
the process ends, however it ends, so a killed watcher never leaves a stale "running" behind:
:func:`running_watcher` just tries the lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

from archive.core.config import Archive, try_lock
from archive.core.errors import LockedError

LOCK_NAME = "watch.lock"


def _holder(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def hold_watch_lock(archive: Archive, mode: str) -> Iterator[None]:
    """Hold the watcher lock for the block; a second watcher fails at once, clearly."""
    archive.state.mkdir(parents=True, exist_ok=True)
    path = archive.state / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        # a status check holds the lock for an instant: give it a second before refusing
        deadline = time.monotonic() + 1.0
        acquired = try_lock(fd)
        while not acquired and time.monotonic() < deadline:
            time.sleep(0.05)
            acquired = try_lock(fd)
        if not acquired:
            who = _holder(path.read_text(encoding="utf-8", errors="replace"))
            raise LockedError(
                f"{archive.root}: 已有一个 dangan watch 在监视此档案库 "
                f"(进程 {who.get('pid', '?')}, {who.get('host', '?')}, "
                f"自 {str(who.get('since', '?'))[:19]}); 不必再启动一个"
            )
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "mode": mode,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info, ensure_ascii=False).encode(), 0)
        yield
    finally:
        os.close(fd)


def running_watcher(archive: Archive) -> dict[str, Any] | None:
    """Who is watching this archive (pid, host, since, mode), or None when nobody is."""
    path = archive.state / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        if try_lock(fd):
            return None
        return _holder(path.read_text(encoding="utf-8", errors="replace")) or {"pid": None}
    finally:
        os.close(fd)
