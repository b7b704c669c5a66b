"""Background jobs: the reports and the acceptance packet, made while the clerk waits elsewhere.

One job at a time per archive. A job holds an exclusive lock on ``.dangan/job.lock`` for as
long as it runs (the kernel drops the lock when its process ends, however it ends), and its
state lives in ``.dangan/jobs.sqlite``: what it is, who started it, how far it has got, the
files it made or the reason it failed. So the progress survives a page reload, a browser
closed and reopened and a server restart; and a job whose server died is seen for what it
is: its row says "running" but nobody holds the lock, and the next reader marks it failed
(:meth:`Jobs.reconcile`), never "running" forever.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.core.clock import Clock, local_now
from archive.core.config import Archive, try_lock
from archive.core.errors import ArchiveError, LockedError, NotFoundError

LOCK_NAME = "job.lock"
DB_NAME = "jobs.sqlite"

#: Where a job's files go: ``<archive>/报告/网页生成/<job id>/``.
OUTPUT_DIR = ("报告", "网页生成")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,          -- running | done | failed
    started_by TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    step TEXT NOT NULL DEFAULT '',
    files TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    pid INTEGER,
    host TEXT
);
CREATE INDEX IF NOT EXISTS jobs_started ON jobs (started_at);
"""

#: A job reports progress as (steps done, steps in all, what it is doing now).
Progress = Callable[[int, int, str], None]


@dataclass
class JobResult:
    """What a job made: its files (inside its output folder) and notes for the clerk."""

    files: list[Path]
    notes: list[str] = field(default_factory=list)


#: A job's work: (output folder, progress) → what it made. Raise ArchiveError to fail it
#: with a reason a clerk can act on.
Work = Callable[[Path, Progress], JobResult]


@dataclass(frozen=True)
class Job:
    """One row of the job table, as pages and the CLI show it."""

    id: str
    kind: str
    label: str
    params: dict[str, Any]
    state: str
    started_by: str
    started_at: str
    finished_at: str | None
    done: int
    total: int
    step: str
    files: list[str]  # relative to the archive root
    notes: list[str]
    error: str | None

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "percent": self.percent}


class JobBusy(LockedError):
    """Another job of this archive is still running."""


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        label=row["label"],
        params=json.loads(row["params"]),
        state=row["state"],
        started_by=row["started_by"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        done=row["done"],
        total=row["total"],
        step=row["step"],
        files=json.loads(row["files"]),
        notes=json.loads(row["notes"]),
        error=row["error"],
    )


class Jobs:
    """The job table of one archive, and the runner that fills it."""

    def __init__(self, archive: Archive, *, clock: Clock = local_now) -> None:
        self.archive = archive
        self.clock = clock
        archive.state.mkdir(parents=True, exist_ok=True)
        self.db_path = archive.state / DB_NAME
        self.lock_path = archive.state / LOCK_NAME
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA journal_mode=WAL")
            yield db
        finally:
            db.close()

    def _now(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    # ------------------------------------------------------------------ reading

    def reconcile(self) -> int:
        """Mark failed every job recorded as running whose process no longer holds the job
        lock (its server was stopped or killed). Returns how many were marked."""
        with self._db() as db:
            running = db.execute(
                "SELECT id, pid, host FROM jobs WHERE state = 'running'"
            ).fetchall()
        if not running:
            return 0
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not try_lock(fd):
                return 0  # a job is running: the row that holds it is live
            with self._db() as db:
                for row in running:
                    db.execute(
                        "UPDATE jobs SET state = 'failed', finished_at = ?, error = ? "
                        "WHERE id = ? AND state = 'running'",
                        (
                            self._now(),
                            f"生成时服务器停止了 (进程 {row['pid']}, {row['host']}); "
                            "未生成完, 请重新开始",
                            row["id"],
                        ),
                    )
            return len(running)
        finally:
            os.close(fd)

    def list(self, limit: int = 20) -> list[Job]:
        """The latest jobs, newest first (stale "running" rows reconciled first)."""
        self.reconcile()
        with self._db() as db:
            rows = db.execute(
                "SELECT * FROM jobs ORDER BY started_at DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_job(r) for r in rows]

    def get(self, job_id: str) -> Job:
        self.reconcile()
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"没有编号为 {job_id} 的生成任务")
        return _job(row)

    def current(self) -> Job | None:
        """The running job, if any."""
        return next((j for j in self.list(5) if j.running), None)

    def file(self, job_id: str, index: int) -> Path:
        """The *index*-th file a finished job made (never a path outside its folder)."""
        job = self.get(job_id)
        if job.state != "done" or not 0 <= index < len(job.files):
            raise NotFoundError(f"生成任务 {job_id} 没有第 {index + 1} 个文件")
        folder = self.output_folder(job_id).resolve()
        path = (self.archive.root / job.files[index]).resolve()
        if not path.is_relative_to(folder) or not path.is_file():
            raise NotFoundError(f"{job.files[index]}: 文件已不在 (可能被移走或删除); 请重新生成")
        return path

    def output_folder(self, job_id: str) -> Path:
        return self.archive.root.joinpath(*OUTPUT_DIR, job_id)

    # ------------------------------------------------------------------ running

    def start(
        self,
        kind: str,
        label: str,
        params: dict[str, Any],
        work: Work,
        *,
        started_by: str,
        wait: bool = False,
    ) -> Job:
        """Start *work* in a background thread, or raise :class:`JobBusy` naming the job that
        runs. ``wait``: run it in this thread instead (the CLI, and tests)."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + 1.0  # a reconcile holds the lock for an instant
            acquired = try_lock(fd)
            while not acquired and time.monotonic() < deadline:
                time.sleep(0.05)
                acquired = try_lock(fd)
            if not acquired:
                self._busy()
        except BaseException:
            os.close(fd)
            raise
        job_id = uuid.uuid4().hex[:12]
        try:
            self.reconcile_held()
            with self._db() as db:
                db.execute(
                    "INSERT INTO jobs (id, kind, label, params, state, started_by, started_at, "
                    "pid, host, step) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, '准备中')",
                    (
                        job_id,
                        kind,
                        label,
                        json.dumps(params, ensure_ascii=False),
                        started_by,
                        self._now(),
                        os.getpid(),
                        socket.gethostname(),
                    ),
                )
        except BaseException:
            os.close(fd)
            raise
        if wait:
            self._run(job_id, work, fd)
        else:
            threading.Thread(
                target=self._run, args=(job_id, work, fd), name=f"dangan-job-{job_id}", daemon=True
            ).start()
        return self.get(job_id)

    def reconcile_held(self) -> None:
        """With the job lock held: every row still "running" is a dead server's."""
        with self._db() as db:
            db.execute(
                "UPDATE jobs SET state = 'failed', finished_at = ?, "
                "error = '生成时服务器停止了; 未生成完, 请重新开始' WHERE state = 'running'",
                (self._now(),),
            )

    def _busy(self) -> None:
        with self._db() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE state = 'running' ORDER BY started_at DESC"
            ).fetchone()
        if row is None:
            raise JobBusy("正在生成另一份材料; 请等它完成后再开始")
        job = _job(row)
        raise JobBusy(
            f"正在生成“{job.label}” ({job.started_by} 于 {job.started_at[11:16]} 开始, "
            f"已完成 {job.percent}%); 同一档案库一次只生成一份材料, 请等它完成后再开始"
        )

    def _run(self, job_id: str, work: Work, fd: int) -> None:
        last = [0.0]

        def progress(done: int, total: int, step: str) -> None:
            now = time.monotonic()
            if now - last[0] < 0.2 and done < total:
                return  # a few updates a second are plenty for a progress bar
            last[0] = now
            with self._db() as db:
                db.execute(
                    "UPDATE jobs SET done = ?, total = ?, step = ? WHERE id = ?",
                    (done, total, step, job_id),
                )

        try:
            folder = self.output_folder(job_id)
            folder.mkdir(parents=True, exist_ok=True)
            result = work(folder, progress)
            files = [
                p.resolve().relative_to(self.archive.root.resolve()).as_posix()
                for p in result.files
            ]
            with self._db() as db:
                db.execute(
                    "UPDATE jobs SET state = 'done', finished_at = ?, files = ?, notes = ?, "
                    "step = '完成', done = total WHERE id = ?",
                    (
                        self._now(),
                        json.dumps(files, ensure_ascii=False),
                        json.dumps(result.notes, ensure_ascii=False),
                        job_id,
                    ),
                )
        except BaseException as exc:  # the job's boundary: keep the reason, free the lock
            reason = exc.message if isinstance(exc, ArchiveError) else _unexpected(exc)
            with self._db() as db:
                db.execute(
                    "UPDATE jobs SET state = 'failed', finished_at = ?, error = ? WHERE id = ?",
                    (self._now(), reason, job_id),
                )
            if not isinstance(exc, Exception):
                raise
        finally:
            os.close(fd)


def _unexpected(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    at = f" ({Path(where[0].filename).name}:{where[0].lineno})" if where else ""
    return f"生成时发生内部错误: {exc!r}{at}; 请把这条信息告诉系统管理员"
