"""Signed-in browsers: server-side sessions with an idle and an absolute timeout.

The browser holds a random token in an HttpOnly, SameSite cookie; the server keeps only its
SHA-256 (a copied session file signs nobody in), the user's name, the session's CSRF token
and when it was last used. Signing out, or being disabled, ends a session at once. Sessions
are kept in ``.dangan/web-sessions.sqlite``: losing them only signs everyone out.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

TOUCH_SECONDS = 30  # "last used" is written at most this often per session

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,
    created REAL NOT NULL, seen REAL NOT NULL, address TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user);
"""


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    created: float
    seen: float


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class SessionStore:
    def __init__(
        self,
        path: Path,
        *,
        idle_seconds: float,
        absolute_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.idle = idle_seconds
        self.absolute = absolute_seconds
        self.clock = clock
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, kept open (see ``archive.access.store.AccessStore``)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        yield db

    def create(self, user: str, address: str) -> tuple[str, Session]:
        """A new session for *user*; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(user, secrets.token_urlsafe(32), now, now)
        with self._db() as db:
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                (_key(token), user, session.csrf, now, now, address),
            )
            # sessions long gone are forgotten whenever someone signs in
            db.execute(
                "DELETE FROM sessions WHERE seen < ? OR created < ?",
                (now - self.idle, now - self.absolute),
            )
        return token, session

    def load(self, token: str) -> tuple[Session | None, bool]:
        """The live session for *token*, and whether one existed but timed out."""
        if not token or len(token) > 200:
            return None, False
        key = _key(token)
        now = self.clock()
        with self._db() as db:
            row = db.execute(
                "SELECT user, csrf, created, seen FROM sessions WHERE id = ?", (key,)
            ).fetchone()
            if row is None:
                return None, False
            session = Session(*row)
            if now - session.seen > self.idle or now - session.created > self.absolute:
                db.execute("DELETE FROM sessions WHERE id = ?", (key,))
                return None, True
            if now - session.seen > TOUCH_SECONDS:
                db.execute("UPDATE sessions SET seen = ? WHERE id = ?", (now, key))
        return session, False

    def end(self, token: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE id = ?", (_key(token),))

    def end_user(self, user: str) -> None:
        """Sign *user* out everywhere (disabled, or a new password set by an admin)."""
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE user = ?", (user,))
