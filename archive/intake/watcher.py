"""Watch the inbox: native file events (or polling, for network shares) plus periodic rescans."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from archive.core.config import Archive
from archive.core.names import is_ignored
from archive.intake.intake import DiskFull, Intake, Outcome
from archive.intake.stability import StabilityTracker


class _Collector(FileSystemEventHandler):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.paths: set[Path] = set()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                path = Path(os.fsdecode(raw))
                with self.lock:
                    self.paths.add(path)

    def take(self) -> set[Path]:
        with self.lock:
            taken, self.paths = self.paths, set()
        return taken


class Watcher:
    """Files whatever lands in the inbox until ``stop`` is set. One bad file never stops it."""

    def __init__(
        self,
        archive: Archive,
        make_intake: Callable[[], Intake],
        *,
        poll_seconds: float | None = None,
        settle_seconds: float | None = None,
        rescan_seconds: float | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        on_error: Callable[[Path, BaseException], None] | None = None,
        after_batch: Callable[[], None] | None = None,
        tick_seconds: float = 0.25,
    ) -> None:
        archive.check_layout()
        self.archive = archive
        self.make_intake = make_intake
        self.poll = poll_seconds
        self.tracker = StabilityTracker(
            archive.config.settle_seconds if settle_seconds is None else settle_seconds
        )
        self.rescan = archive.config.rescan_seconds if rescan_seconds is None else rescan_seconds
        self.on_outcome = on_outcome
        self.on_error = on_error
        self.tick = tick_seconds
        self.after_batch = after_batch
        self.pending: set[Path] = set()

    def _rescan(self) -> None:
        for folder, dirs, files in os.walk(self.archive.inbox):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                self.pending.add(Path(folder) / name)

    def _ready(self, now: float) -> list[Path]:
        ready = []
        for path in sorted(self.pending):
            try:
                st = path.lstat()
            except FileNotFoundError:
                self.pending.discard(path)
                self.tracker.forget(path)
                continue
            if is_ignored(path.name):
                self.pending.discard(path)
                continue
            if self.tracker.observe(path, st.st_size, st.st_mtime_ns, now):
                ready.append(path)
        return ready

    def run(self, stop: threading.Event) -> None:
        self.archive.inbox.mkdir(parents=True, exist_ok=True)
        observer = PollingObserver(timeout=self.poll) if self.poll else Observer()
        collector = _Collector()
        observer.schedule(collector, str(self.archive.inbox), recursive=True)
        observer.start()
        try:
            with self.archive.writer_lock():
                intake = self.make_intake()
            intake.settle = 0.0  # the tracker decides readiness here
            self._rescan()
            last_rescan = time.monotonic()
            while not stop.is_set():
                now = time.monotonic()
                self.pending |= collector.take()
                if now - last_rescan >= self.rescan:
                    self._rescan()
                    last_rescan = now
                ready = self._ready(now)
                if ready:
                    with self.archive.writer_lock(purpose="dangan watch 正在归档收件箱"):
                        for path in ready:
                            if not self._file_one(intake, path):
                                break  # the disk is full: the rest waits in the inbox
                        if self.after_batch is not None:
                            try:
                                self.after_batch()
                            except Exception as exc:  # the index is derived: report, go on
                                if self.on_error is not None:
                                    self.on_error(self.archive.index_dir, exc)
                stop.wait(self.tick)
        finally:
            observer.stop()
            observer.join(timeout=5)

    def _file_one(self, intake: Intake, path: Path) -> bool:
        """File one path; False when the batch must stop (the disk is full)."""
        try:
            outcome = intake.process(path, self.archive.inbox)
        except BaseException as exc:  # never let one file stop the loop
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            if self.on_error is not None:
                self.on_error(path, exc)
            if isinstance(exc, DiskFull):
                self.tracker.forget(path)  # try again once there is room
                return False
            return True
        if outcome is not None and outcome.outcome == "skipped" and path.exists():
            self.tracker.forget(path)  # try again once it settles anew
            return True
        self.pending.discard(path)
        self.tracker.forget(path)
        if outcome is not None and self.on_outcome is not None:
            self.on_outcome(outcome)
        return True
