"""A scanned backlog of tens of thousands of files, filed in one long run that can stop and
take up again where it stopped.

``dangan backlog FOLDER`` files every file under ``FOLDER`` (laid out like the inbox: kind
folders such as 许可证/ 案卷/ 会议记录/, or anything, filed by content), copying: the originals
stay where they are. What is done is kept in ``.dangan/backlog/<folder>-<hash>.sqlite``, one row
a file (its path, size and modification time, its outcome), written as each file is decided:
run the same command again after Ctrl+C, a power cut or a reboot and the files already decided
are passed over without being read again (a file changed since is done again; a file that had
to wait, for example for an OCR worker, is tried again).

Reading goes on ahead in threads (the local OCR pool, or the queue's workers on other
machines) while filing stays one file at a time; the archive's writer lock is taken for each
filing only, so ``dangan watch`` keeps filing the clerks' drops between two backlog files.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from archive.core.config import Archive
from archive.core.errors import UsageError
from archive.intake.intake import Extractor, Outcome
from archive.intake.pipeline import after_batch, make_intake
from archive.intake.sources import check_sources, walk_sources
from archive.records.reindex import open_catalog

DECIDED = ("filed", "unfiled", "duplicate", "quarantined")  # not tried again on a later run
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    rel BLOB PRIMARY KEY,   -- the path under the backlog folder, as the file system's bytes
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    code TEXT,
    record TEXT,
    pages INTEGER,
    at TEXT NOT NULL
)
"""


@dataclass
class BacklogStatus:
    """Where a backlog run stands; ``line()`` says it for a person."""

    total: int  # files in the backlog folder
    done_before: int  # decided by earlier runs, passed over
    done: int = 0  # decided by this run
    pages: int = 0  # pages of the documents this run filed
    seconds: float = 0.0  # since this run started
    counts: dict[str, int] = field(default_factory=dict)  # outcome → files, this run

    @property
    def left(self) -> int:
        return max(0, self.total - self.done_before - self.done)

    @property
    def pages_per_second(self) -> float | None:
        return self.pages / self.seconds if self.seconds > 0 and self.pages else None

    @property
    def seconds_left(self) -> float | None:
        """The files left at this run's pace so far (None before the first file)."""
        if not self.done or self.seconds <= 0:
            return None
        return self.left * self.seconds / self.done

    def line(self) -> str:
        rate = self.pages_per_second
        left = self.seconds_left
        parts = [
            f"{self.done_before + self.done:,}/{self.total:,} 个文件",
            f"本次 {self.done:,} 个 {self.pages:,} 页",
            f"{rate:.2f} 页/秒" if rate is not None else "-- 页/秒",
            f"预计剩余 {_duration(left)}" if left is not None else "预计剩余 --",
        ]
        if self.done_before:
            parts.insert(1, f"之前已完成 {self.done_before:,}")
        return "积压件: " + ", ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {
            **self.__dict__,
            "left": self.left,
            "pages_per_second": self.pages_per_second,
            "seconds_left": self.seconds_left,
        }


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return "不到1分钟"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    out = (f"{days}天" if days else "") + (f"{hours}小时" if hours else "")
    return out + (f"{mins}分钟" if mins and not days else "") or "不到1分钟"


class BacklogState:
    """The per-file record of one backlog folder, in the archive's ``.dangan/backlog/``."""

    def __init__(self, archive: Archive, folder: Path) -> None:
        folder = folder.resolve()
        digest = hashlib.sha256(os.fsencode(folder)).hexdigest()[:12]
        name = "".join(c if c.isalnum() else "_" for c in folder.name)[:40] or "backlog"
        self.path = archive.state / "backlog" / f"{name}-{digest}.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def reset(self) -> None:
        with self._db:
            self._db.execute("DELETE FROM files")

    def _key(self, path: Path) -> bytes:
        return os.fsencode(path.relative_to(self.folder))

    def decided(self) -> dict[bytes, tuple[int, int]]:
        rows = self._db.execute(
            f"SELECT rel, size, mtime_ns FROM files WHERE outcome IN ({','.join('?' * len(DECIDED))})",
            DECIDED,
        )
        return {bytes(rel): (size, mtime) for rel, size, mtime in rows}

    def record(self, path: Path, size: int, mtime_ns: int, outcome: Outcome) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self._key(path),
                    size,
                    mtime_ns,
                    outcome.outcome,
                    outcome.code,
                    outcome.record,
                    outcome.pages,
                    time.strftime("%Y-%m-%dT%H:%M:%S"),
                ),
            )


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.lstat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def run_backlog(
    archive: Archive,
    folder: Path,
    extractor: Extractor | None,
    *,
    restart: bool = False,
    on_outcome: Callable[[Outcome], None] | None = None,
    on_progress: Callable[[BacklogStatus], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    index_every: int = 500,
) -> BacklogStatus:
    """File every file under ``folder`` not decided by an earlier run (``restart``: forget
    earlier runs). The search index and the tray are brought up to date every
    ``index_every`` files and at the end."""
    folder = folder.resolve()
    if not folder.is_dir():
        raise UsageError(f"{folder}: 不是文件夹; 请给出积压扫描件所在的文件夹")
    check_sources(archive.root, [folder])  # never the archive's own output
    state = BacklogState(archive, folder)
    try:
        if restart:
            state.reset()
        decided = state.decided()
        # litter (Thumbs.db …) and copier part-files are not listed; what is listed but not
        # taken (a hidden name, a folder that cannot be read) is told on every run
        found = list(walk_sources(folder))
        left = [
            s
            for s in found
            if s.skip is not None
            or decided.get(os.fsencode(s.path.relative_to(folder))) != _signature(s.path)
        ]
        todo = [(s.path, s.root) for s in left if s.skip is None]
        status = BacklogStatus(total=len(found), done_before=len(found) - len(left))
        start = clock()
        with archive.writer_lock():
            catalog = open_catalog(archive)
        try:
            with archive.writer_lock():
                intake = make_intake(archive, catalog, extractor)
            since_index = 0
            not_taken = [(s.path, intake.not_taken(s)) for s in left if s.skip is not None]
            for path, outcome in chain(not_taken, intake.run_each(todo, archive.writer_lock)):
                signature = _signature(path)
                if outcome is None:
                    continue
                if outcome.outcome in DECIDED and signature is not None:
                    state.record(path, *signature, outcome)
                status.done += 1
                status.pages += outcome.pages or 0
                status.counts[outcome.outcome] = status.counts.get(outcome.outcome, 0) + 1
                status.seconds = clock() - start
                since_index += outcome.outcome in ("filed", "unfiled")
                if on_outcome is not None:
                    on_outcome(outcome)
                if on_progress is not None:
                    on_progress(status)
                if since_index >= index_every:
                    with archive.writer_lock():
                        after_batch(archive, catalog)
                    since_index = 0
            with archive.writer_lock():
                after_batch(archive, catalog)
        finally:
            catalog.close()
        status.seconds = clock() - start
        return status
    finally:
        state.close()
