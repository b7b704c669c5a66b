"""The access database: ``<archive>/access/access.sqlite`` (users and the access log).

Not in ``.dangan/``: that folder is derived and may be deleted and rebuilt; users and the log
are records of their own. The folder is made readable by its owner only (password hashes).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from archive.core.clock import Clock, local_now
from archive.core.config import Archive
from archive.core.errors import ArchiveError

ACCESS_DIR = "access"
ACCESS_DB = "access.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    failed INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,
    last_login_at TEXT
);
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_at ON log (at);
CREATE INDEX IF NOT EXISTS log_user ON log (user, at);
CREATE INDEX IF NOT EXISTS log_action ON log (action, at);
CREATE TRIGGER IF NOT EXISTS log_append_only_update BEFORE UPDATE ON log
BEGIN SELECT RAISE(ABORT, '利用登记只能追加, 不能修改'); END;
CREATE TRIGGER IF NOT EXISTS log_append_only_delete BEFORE DELETE ON log
BEGIN SELECT RAISE(ABORT, '利用登记只能追加, 不能删除'); END;
"""


class AccessStoreError(ArchiveError):
    """The access database cannot be opened (permissions, damage)."""

    exit_code = 4


class AccessStore:
    """The users and the log of one archive. Each thread keeps its own connection (a web
    server's worker threads reuse theirs: opening and closing per call would make SQLite
    checkpoint its write-ahead log, with an fsync, on every entry); processes (the CLI beside
    a server) share the file through SQLite's locks."""

    def __init__(self, path: Path, *, clock: Clock = local_now) -> None:
        self.path = path
        self.clock = clock
        self._ready = False
        self._local = threading.local()
        # Writers of this process take turns here: SQLite's own wait for a busy database
        # backs off in sleeps of up to 100 ms, which a busy server would feel in every page.
        self._writing = threading.Lock()

    @classmethod
    def of(cls, archive: Archive, *, clock: Clock = local_now) -> AccessStore:
        return cls(archive.root / ACCESS_DIR / ACCESS_DB, clock=clock)

    def now_iso(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            return db
        try:
            if not self.path.parent.is_dir():
                self.path.parent.mkdir(parents=True, mode=0o700)
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=NORMAL")
            if not self._ready:
                self._prepare(db)
        except (OSError, sqlite3.Error) as exc:
            raise AccessStoreError(
                f"{self.path}: 无法打开用户与利用登记库 ({exc}); "
                "请检查该目录的权限 (应由运行 dangan serve 的账户所有)"
            ) from exc
        self._local.db = db
        return db

    def _prepare(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        if row is None:
            db.execute("INSERT INTO meta VALUES ('version', ?)", (str(SCHEMA_VERSION),))
        elif row[0] != str(SCHEMA_VERSION):
            raise AccessStoreError(
                f"{self.path}: 用户与利用登记库的版本为 {row[0]}, 本程序为 {SCHEMA_VERSION}; "
                "请使用与之相符的 dangan 版本"
            )
        self._ready = True

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._db()
        except sqlite3.DatabaseError as exc:
            raise AccessStoreError(f"{self.path}: 用户与利用登记库读取失败 ({exc})") from exc

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``: one writer at a time, others wait)."""
        db = self._db()
        with self._writing:
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise AccessStoreError(f"{self.path}: 用户与利用登记库写入失败 ({exc})") from exc

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
