"""The access log (利用登记): who did what, when, to which record, from which address.

Append-only twice over: SQLite triggers refuse every UPDATE and DELETE, and each entry
carries the SHA-256 of the one before it and of itself, so :meth:`AccessLog.verify` finds an
entry changed or removed behind the program's back (with another SQLite tool).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from archive.access.store import AccessStore
from archive.core.errors import UsageError

#: The events written to the log, declared once (what the auditor filters by).
LOG_ACTIONS: dict[str, str] = {
    "login": "登录",
    "login_failed": "登录失败",
    "locked": "账户锁定",
    "logout": "退出",
    "search": "检索",
    "view_dossier": "查阅档案",
    "view_record": "查阅文件",
    "view_page": "查阅页面",
    "download": "下载",
    "print": "打印卷内目录",
    "view_quarantine": "查看隔离区",
    "forbidden": "越权访问被拒绝",
    "password_change": "修改本人密码",
    "user_add": "新建用户",
    "user_passwd": "重设密码",
    "user_disable": "停用用户",
    "user_enable": "启用用户",
    "user_unlock": "解除锁定",
    "log_view": "查看利用登记",
    "log_export": "导出利用登记",
}

_GENESIS = "0" * 64
_FIELDS = ("at", "user", "role", "action", "target", "detail", "address")
MAX_TEXT = 500  # a target or detail longer than this is cut (a log is not a data dump)


@dataclass(frozen=True)
class Actor:
    """Who acted: a user name and role ('' when nobody is signed in) and where from."""

    name: str
    role: str
    address: str = ""


@dataclass(frozen=True)
class LogEntry:
    seq: int
    at: str
    user: str
    role: str
    action: str
    target: str
    detail: str
    address: str

    @property
    def action_label(self) -> str:
        return LOG_ACTIONS.get(self.action, self.action)


@dataclass(frozen=True)
class LogFilter:
    """What the auditor asks for; every part optional. Dates are inclusive days."""

    user: str = ""
    action: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    text: str = ""  # in the target or the detail
    address: str = ""


@dataclass
class LogPage:
    entries: list[LogEntry]
    total: int
    offset: int
    limit: int


@dataclass
class LogCheck:
    """The result of walking the chain: ``broken_at`` is the first entry that does not fit."""

    entries: int
    broken_at: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _clip(text: str) -> str:
    text = "".join(c if c.isprintable() else " " for c in str(text))
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _digest(prev: str, values: tuple[str, ...]) -> str:
    payload = "\x1f".join((prev, *values)).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def append(
    db: sqlite3.Connection,
    at: str,
    actor: Actor,
    action: str,
    target: str = "",
    detail: str = "",
) -> int:
    """Add one entry inside the caller's write transaction; returns its number."""
    if action not in LOG_ACTIONS:
        raise ValueError(
            f"未声明的登记事项 {action!r}: 请在 archive/access/log.py 的 LOG_ACTIONS 中声明"
        )
    last = db.execute("SELECT seq, hash FROM log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, _GENESIS)
    values = (
        at,
        _clip(actor.name),
        actor.role,
        action,
        _clip(target),
        _clip(detail),
        actor.address,
    )
    db.execute(
        "INSERT INTO log (seq, at, user, role, action, target, detail, address, prev, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, *values, prev, _digest(prev, values)),
    )
    return int(seq)


def _where(f: LogFilter) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    if f.user:
        parts.append("user = ?")
        params.append(f.user)
    if f.action:
        if f.action not in LOG_ACTIONS:
            raise UsageError(f"没有“{f.action}”这种登记事项")
        parts.append("action = ?")
        params.append(f.action)
    if f.since is not None and f.until is not None and f.since > f.until:
        raise UsageError("起始日期晚于截止日期: 请把早的日期放在前面")
    if f.since is not None:
        parts.append("at >= ?")
        params.append(f.since.isoformat())
    if f.until is not None:
        parts.append("at < ?")
        params.append((f.until + dt.timedelta(days=1)).isoformat())
    if f.text:
        parts.append("(instr(target, ?) > 0 OR instr(detail, ?) > 0)")
        params += [f.text, f.text]
    if f.address:
        parts.append("address = ?")
        params.append(f.address)
    return (" AND ".join(parts) or "1"), params


def _entry(row: sqlite3.Row) -> LogEntry:
    return LogEntry(*(row[k] for k in ("seq", *_FIELDS)))


class AccessLog:
    """The log of one archive's access store."""

    def __init__(self, store: AccessStore) -> None:
        self.store = store

    def record(self, actor: Actor, action: str, target: str = "", detail: str = "") -> int:
        with self.store.write() as db:
            return append(db, self.store.now_iso(), actor, action, target, detail)

    def query(self, f: LogFilter, *, offset: int = 0, limit: int = 50) -> LogPage:
        """Entries matching *f*, newest first."""
        where, params = _where(f)
        with self.store.read() as db:
            total = db.execute(f"SELECT count(*) FROM log WHERE {where}", params).fetchone()[0]
            rows = db.execute(
                f"SELECT * FROM log WHERE {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return LogPage([_entry(r) for r in rows], int(total), offset, limit)

    def users(self) -> list[str]:
        """Every name that appears in the log (for the auditor's filter)."""
        with self.store.read() as db:
            return [r[0] for r in db.execute("SELECT DISTINCT user FROM log ORDER BY user")]

    def verify(self) -> LogCheck:
        """Walk the chain from the first entry: any edit, deletion or insertion shows."""
        check = LogCheck(entries=0)
        prev = _GENESIS
        expected_seq = 1
        with self.store.read() as db:
            for row in db.execute("SELECT * FROM log ORDER BY seq"):
                check.entries += 1
                values = tuple(str(row[k]) for k in _FIELDS)
                problem = None
                if row["seq"] != expected_seq:
                    problem = f"第 {expected_seq} 条起缺失 (下一条为第 {row['seq']} 条)"
                elif row["prev"] != prev:
                    problem = f"第 {row['seq']} 条与前一条接不上 (其前有条目被改动或删除)"
                elif row["hash"] != _digest(prev, values):
                    problem = f"第 {row['seq']} 条的内容被改动过"
                if problem and check.broken_at is None:
                    check.broken_at = int(row["seq"])
                    check.problems.append(problem)
                prev = row["hash"]
                expected_seq = row["seq"] + 1
        return check
