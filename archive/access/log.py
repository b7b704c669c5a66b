"""The access log (利用登记): who did what, when, to which record, from which address.

Append-only twice over: SQLite triggers refuse every UPDATE and DELETE, and each entry
carries the SHA-256 of the one before it and of itself, so :meth:`AccessLog.verify` finds an
entry changed or removed behind the program's back (with another SQLite tool).

Walking the whole chain takes seconds once the log holds a few hundred thousand entries (a
few years of a bureau's use), too long for every view of the auditor's page. So
:meth:`AccessLog.check` walks it all at most once an hour (or when asked), and in between
only the entries added since, starting from the last entry it found sound, whose hash it
first reads again: a chain rewritten from an old entry on, or cut short, shows at once; an
entry edited in place without rewriting the chain shows at the next whole walk.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
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
    # the clerk's work (web/views_work.py, views_correct.py, views_materials.py)
    "upload": "上传归档",
    "upload_refused": "上传被拒绝",
    "assign": "待归档文件归档",
    "quarantine_release": "放行隔离文件",
    "quarantine_delete": "删除隔离文件",
    "correct": "更正档案",
    "generate": "生成材料",
    "generate_failed": "生成材料失败",
    "view_audit": "查看自查结果",
    "import": "导入名册或评分标准",
    # what only the command line does (cli/access_log.py; the web's codes above serve both)
    "ingest": "收件归档",
    "number": "编档号",
    "stamp": "加盖归档章",
    "destroy": "销毁",
    "verify": "校验并记入历史",
    "restore": "从备份恢复",
    "command_failed": "命令未完成",
}

_GENESIS = "0" * 64
_FIELDS = ("at", "user", "role", "action", "target", "detail", "address")
MAX_TEXT = 500  # a target or detail longer than this is cut (a log is not a data dump)
FULL_CHECK_SECONDS = 3600.0  # the whole chain is walked at least this often by check()


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


@dataclass(frozen=True)
class ChainPoint:
    """An entry found sound: where the next walk of the chain may start."""

    seq: int
    hash: str


@dataclass
class LogCheck:
    """The result of walking the chain: ``broken_at`` is the first entry that does not fit.

    ``full``: the whole chain was walked; otherwise only the ``walked`` entries after the
    last sound one of a whole walk made at ``full_at``."""

    entries: int
    broken_at: int | None = None
    problems: list[str] = field(default_factory=list)
    last: ChainPoint | None = None
    full: bool = True
    walked: int = 0
    full_at: str = ""

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
        self._lock = threading.Lock()
        self._checked: tuple[ChainPoint, float] | None = None  # last sound entry, whole walk's time
        self._full_at = ""

    def record(self, actor: Actor, action: str, target: str = "", detail: str = "") -> int:
        with self.store.write() as db:
            return append(db, self.store.now_iso(), actor, action, target, detail)

    def record_all(self, actor: Actor, entries: Iterable[tuple[str, str, str]]) -> list[int]:
        """Several entries (action, target, detail) by one actor, in one transaction: all or
        none (a command that changed many records)."""
        with self.store.write() as db:
            at = self.store.now_iso()
            return [append(db, at, actor, *entry) for entry in entries]

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

    def verify(self, since: ChainPoint | None = None) -> LogCheck:
        """Walk the chain from the first entry (or from *since*, an entry an earlier walk
        found sound, read again first): any edit, deletion or insertion on the way shows."""
        start = since.seq if since else 0
        check = LogCheck(entries=start, full=since is None)
        prev = since.hash if since else _GENESIS
        expected_seq = start + 1
        with self.store.read() as db:
            cursor = db.cursor()
            cursor.row_factory = None  # plain tuples: a whole walk reads every entry
            if since is not None:
                row = cursor.execute("SELECT hash FROM log WHERE seq = ?", (since.seq,)).fetchone()
                if row is None or row[0] != since.hash:
                    check.broken_at = since.seq
                    check.problems.append(
                        f"第 {since.seq} 条在上次核验后被改动或删除 (其后的登记被重写或截去)"
                    )
                    return check
            rows = cursor.execute(
                f"SELECT seq, {', '.join(_FIELDS)}, prev, hash FROM log WHERE seq > ? ORDER BY seq",
                (start,),
            )
            for seq, *values, row_prev, row_hash in rows:
                check.entries += 1
                check.walked += 1
                problem = None
                if seq != expected_seq:
                    problem = f"第 {expected_seq} 条起缺失 (下一条为第 {seq} 条)"
                elif row_prev != prev:
                    problem = f"第 {seq} 条与前一条接不上 (其前有条目被改动或删除)"
                elif row_hash != _digest(prev, tuple(str(v) for v in values)):
                    problem = f"第 {seq} 条的内容被改动过"
                if problem and check.broken_at is None:
                    check.broken_at = int(seq)
                    check.problems.append(problem)
                prev = row_hash
                expected_seq = seq + 1
        if check.ok:
            check.last = ChainPoint(expected_seq - 1, prev) if expected_seq > 1 else None
        return check

    def check(
        self, *, full: bool = False, monotonic: Callable[[], float] = time.monotonic
    ) -> LogCheck:
        """:meth:`verify` for a page: the whole chain at most once an hour (or when *full*),
        in between from the last sound entry on (see the module's doc). The last sound entry
        stays the anchor once something is found wrong, so a finding is never forgotten."""
        with self._lock:
            kept = self._checked
            whole = full or kept is None or monotonic() - kept[1] >= FULL_CHECK_SECONDS
            result = self.verify(None if whole or kept is None else kept[0])
            if whole and kept is not None and result.ok:
                anchored = self.verify(kept[0])  # the chain still runs through what was seen
                if not anchored.ok:
                    result = anchored
            if result.ok and result.last is not None:
                self._checked = (result.last, monotonic() if whole or kept is None else kept[1])
            if result.ok and whole:
                self._full_at = self.store.now_iso()
            result.full = whole
            result.full_at = self._full_at
            return result
