"""Tools for the hostile-input tests: a watched folder beside the archive, and commands run
with a time bound and their memory measured.

- :class:`Outside` is a folder next to the archive holding a canary file, watched with
  inotify (watchdog's real observer): any file in it opened, read, written, created or
  removed is recorded. A test ends with ``outside.assert_untouched()``.
- :func:`run_bounded` runs a command, kills it (and its children) when it passes its time
  limit, and reports its elapsed time and peak memory, measured by the kernel for that
  process (``wait4``'s ``ru_maxrss``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.inotify import InotifyObserver

DANGAN = Path(sys.executable).with_name("dangan")
CANARY_TEXT = "CANARY 金丝雀 — nothing of dangan's may read this\n"


class _Recorder(FileSystemEventHandler):
    def __init__(self) -> None:
        self.events: list[str] = []
        self.lock = threading.Lock()

    def on_any_event(self, event: FileSystemEvent) -> None:
        with self.lock:
            self.events.append(f"{event.event_type} {os.fsdecode(event.src_path)}")


class Outside:
    """A folder beside the archive with a canary file, every access to it recorded."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.canary = folder / "canary.txt"
        self.canary.write_text(CANARY_TEXT, encoding="utf-8")
        self._recorder = _Recorder()
        self._observer = InotifyObserver()
        self._observer.schedule(self._recorder, str(folder), recursive=True)
        self._observer.start()
        time.sleep(0.2)  # let the watch settle before the test acts
        self.listing = self._listing()

    def _listing(self) -> list[tuple[str, int, int]]:
        return sorted(
            (str(p.relative_to(self.folder)), p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in self.folder.rglob("*")
        )

    @property
    def events(self) -> list[str]:
        time.sleep(0.5)  # inotify delivers asynchronously
        with self._recorder.lock:
            return list(self._recorder.events)

    def assert_untouched(self) -> None:
        """Nothing in the folder was opened, read, written, created or removed."""
        assert self.events == [], "a file outside the archive was touched"
        assert self._listing() == self.listing
        assert self.canary.read_text(encoding="utf-8") == CANARY_TEXT

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)


@dataclass
class Bounded:
    returncode: int | None  # None: killed at the time limit
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float

    @property
    def hung(self) -> bool:
        return self.returncode is None


def run_bounded(
    args: list[str | Path],
    *,
    limit: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Bounded:
    """Run ``args``; kill its process group after ``limit`` seconds. Peak memory is the
    kernel's count for the process itself (``ru_maxrss`` from ``wait4``)."""
    proc = subprocess.Popen(
        [str(a) for a in args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        start_new_session=True,
    )
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}

    def drain(stream: object, key: str) -> None:
        for block in iter(lambda: stream.read(65536), b""):  # type: ignore[attr-defined]
            chunks[key].append(block)

    readers = [
        threading.Thread(target=drain, args=(proc.stdout, "out"), daemon=True),
        threading.Thread(target=drain, args=(proc.stderr, "err"), daemon=True),
    ]
    for reader in readers:
        reader.start()
    start = time.monotonic()
    killed = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - start > limit:
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    seconds = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # children left behind (none expected)
    except ProcessLookupError:
        pass
    for reader in readers:
        reader.join(timeout=10)
    return Bounded(
        None if killed else proc.returncode,
        b"".join(chunks["out"]).decode("utf-8", "replace"),
        b"".join(chunks["err"]).decode("utf-8", "replace"),
        seconds,
        usage.ru_maxrss / 1024,
    )


def dangan_bounded(*args: str | Path, limit: float = 90, cwd: Path | None = None) -> Bounded:
    """``dangan ARGS`` under :func:`run_bounded`."""
    return run_bounded([DANGAN, *args], limit=limit, cwd=cwd)


LIMIT = 90.0  # seconds for one command: generous on a loaded 2-core machine
MEMORY_MB = 600.0  # peak resident memory of one dangan process (no OCR models loaded)


def within(done: Bounded, seconds: float = LIMIT, memory_mb: float = MEMORY_MB) -> Bounded:
    """Assert the command ended by itself inside the time and memory bounds."""
    assert not done.hung, f"still running after {seconds} s: {done.stderr[-500:]}"
    assert done.seconds < seconds, f"took {done.seconds:.0f} s"
    assert done.peak_mb < memory_mb, f"peak memory {done.peak_mb:.0f} MB"
    return done
