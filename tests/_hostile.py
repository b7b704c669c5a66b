"""Tools for the hostile-input tests: a watched folder beside the archive, and commands run
with a time bound and their memory measured.

- :class:`Outside` is a folder next to the archive holding a canary file, watched with
  inotify (watchdog's real observer): any file in it opened, read, written, created or
  removed is recorded. A test ends with ``outside.assert_untouched()``.
- :func:`run_bounded` runs a command, kills it (and its children) when it passes its time
  limit, and reports its elapsed time and peak memory, measured by the kernel for that
  process (``wait4``'s ``ru_maxrss``, from a small launcher so that the count is the
  command's own).
"""

from __future__ import annotations

import os
import shutil
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


# Forks the command and reports its peak memory: forked from this small process, the
# command's count starts near zero (a child forked from pytest itself would carry pytest's
# resident size into ru_maxrss, which the kernel keeps across exec).
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(usage.ru_maxrss))
sys.exit(min(255, max(0, os.waitstatus_to_exitcode(status))) if os.WIFEXITED(status) else 1)
"""


def run_bounded(
    args: list[str | Path],
    *,
    limit: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Bounded:
    """Run ``args``; kill it (and its children) after ``limit`` seconds. Peak memory is the
    kernel's count for the command's process (``ru_maxrss`` from ``wait4``)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dangan-bound-") as tmp:
        peak_file = Path(tmp) / "maxrss"
        argv = [str(a) for a in args]
        if not os.path.isabs(argv[0]):
            argv[0] = shutil.which(argv[0]) or argv[0]
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(peak_file), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=limit)
            killed = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            killed = True
        seconds = time.monotonic() - start
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything left behind (none expected)
        except ProcessLookupError:
            pass
        peak_kb = int(peak_file.read_text() or 0) if peak_file.exists() else 0
    return Bounded(
        None if killed else proc.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        seconds,
        peak_kb / 1024,
    )


def dangan_bounded(*args: str | Path, limit: float = 240, cwd: Path | None = None) -> Bounded:
    """``dangan ARGS`` under :func:`run_bounded`."""
    return run_bounded([DANGAN, *args], limit=limit, cwd=cwd)


# Seconds for one command: generous for a shared 2-core machine under heavy load (load
# average 20 was seen during a full run); a hang is killed here. The memory bound is the
# sharp one: the kernel's count does not grow with the load.
LIMIT = 240.0
MEMORY_MB = 600.0  # peak resident memory of one dangan process (no OCR models loaded)


def within(done: Bounded, seconds: float = LIMIT, memory_mb: float = MEMORY_MB) -> Bounded:
    """Assert the command ended by itself inside the time and memory bounds."""
    assert not done.hung, f"still running after {seconds} s: {done.stderr[-500:]}"
    assert done.seconds < seconds, f"took {done.seconds:.0f} s"
    assert done.peak_mb < memory_mb, f"peak memory {done.peak_mb:.0f} MB"
    return done
