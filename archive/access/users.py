"""The users of an archive: names, roles, argon2id password hashes, lockout.

A sign-in that fails :data:`MAX_FAILED` times in a row locks the account for
:data:`LOCK_MINUTES` minutes (an admin can lift it sooner); an unknown name costs the same
hashing time as a known one, so timing does not tell which names exist. Every change and
every sign-in, failed or not, goes into the access log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import sqlite3
import threading
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from archive.access.log import Actor, append
from archive.access.roles import ROLES, role_label
from archive.access.store import AccessStore
from archive.core.errors import AuthenticationError, NotFoundError, UsageError

MAX_FAILED = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 8
MAX_PASSWORD = 256
_NAME_RE = re.compile(r"^[\w.\-@\u4e00-\u9fff]{1,32}$")
_HASHER = PasswordHasher()  # argon2id, the library's current recommended parameters
#: Each argon2 hash takes 64 MiB for its moment: two at a time bounds a burst of sign-ins
#: (20 at once measured 1.3 GB before this) at the cost of a short wait.
_HASHING = threading.BoundedSemaphore(2)


@dataclass(frozen=True)
class User:
    name: str
    role: str
    active: bool
    failed: int
    locked_until: str | None
    created_at: str
    password_changed_at: str
    last_login_at: str | None

    @property
    def role_label(self) -> str:
        return role_label(self.role)

    def locked_at(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and dt.datetime.fromisoformat(self.locked_until) > now


def _user(row: sqlite3.Row) -> User:
    return User(
        name=row["name"],
        role=row["role"],
        active=bool(row["active"]),
        failed=int(row["failed"]),
        locked_until=row["locked_until"],
        created_at=row["created_at"],
        password_changed_at=row["password_changed_at"],
        last_login_at=row["last_login_at"],
    )


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME_RE.match(name):
        raise UsageError(
            f"用户名“{name[:40]}”不可用: 应为 1 到 32 个汉字、字母、数字或 . _ - @, 不含空格"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        choices = "、".join(f"{k} ({v})" for k, v in ROLES.items())
        raise UsageError(f"角色“{role}”不存在: 应为 {choices} 之一")
    return role


def check_password(password: str, name: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"密码太短: 至少 {MIN_PASSWORD} 个字符")
    if len(password) > MAX_PASSWORD:
        raise UsageError(f"密码太长: 至多 {MAX_PASSWORD} 个字符")
    if password.strip().lower() == name.strip().lower():
        raise UsageError("密码不能与用户名相同")
    return password


class Users:
    """The users of one archive's access store."""

    def __init__(self, store: AccessStore) -> None:
        self.store = store

    # -- reading ---------------------------------------------------------------------------

    def get(self, name: str) -> User | None:
        with self.store.read() as db:
            row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        return _user(row) if row else None

    def list(self) -> list[User]:
        with self.store.read() as db:
            return [_user(r) for r in db.execute("SELECT * FROM users ORDER BY role, name")]

    # -- changing --------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str, *, actor: Actor) -> User:
        name = check_name(name)
        check_role(role)
        hashed = _hash(check_password(password, name))
        now = self.store.now_iso()
        with self.store.write() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise UsageError(f"用户 {name} 已存在: 如需重设密码, 用 dangan users passwd {name}")
            db.execute(
                "INSERT INTO users (name, role, password, created_at, password_changed_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, role, hashed, now, now),
            )
            append(db, now, actor, "user_add", name, f"角色 {role_label(role)}")
        user = self.get(name)
        assert user is not None
        return user

    def _existing(self, db: sqlite3.Connection, name: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"没有用户 {name}: dangan users list 列出所有用户")
        return row

    def set_password(self, name: str, password: str, *, actor: Actor) -> None:
        """A new password (also lifts a lockout). *actor* the user themself or an admin."""
        hashed = _hash(check_password(password, name))
        now = self.store.now_iso()
        with self.store.write() as db:
            self._existing(db, name)
            db.execute(
                "UPDATE users SET password = ?, password_changed_at = ?, failed = 0, "
                "locked_until = NULL WHERE name = ?",
                (hashed, now, name),
            )
            action = "password_change" if actor.name == name else "user_passwd"
            append(db, now, actor, action, name)

    def change_own_password(self, name: str, old: str, new: str, *, actor: Actor) -> None:
        with self.store.read() as db:
            row = self._existing(db, name)
        if not _verify(row["password"], old):
            raise AuthenticationError("原密码不对: 密码未修改")
        if old == new:
            raise UsageError("新密码与原密码相同: 请换一个")
        self.set_password(name, new, actor=actor)

    def set_active(self, name: str, active: bool, *, actor: Actor) -> None:
        now = self.store.now_iso()
        with self.store.write() as db:
            row = self._existing(db, name)
            if not active and row["role"] == "admin" and row["active"]:
                others = db.execute(
                    "SELECT count(*) FROM users WHERE role = 'admin' AND active = 1 AND name != ?",
                    (name,),
                ).fetchone()[0]
                if not others:
                    raise UsageError(
                        f"{name} 是唯一在用的系统管理员, 停用后就无人能管理用户: "
                        "请先新建另一个系统管理员"
                    )
            db.execute("UPDATE users SET active = ? WHERE name = ?", (int(active), name))
            append(db, now, actor, "user_enable" if active else "user_disable", name)

    def unlock(self, name: str, *, actor: Actor) -> None:
        now = self.store.now_iso()
        with self.store.write() as db:
            self._existing(db, name)
            db.execute("UPDATE users SET failed = 0, locked_until = NULL WHERE name = ?", (name,))
            append(db, now, actor, "user_unlock", name)

    # -- signing in ------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, *, address: str) -> User:
        """The user, when *password* is theirs and the account is usable; else a refusal
        (logged) with the reason a person can act on."""
        name = name.strip()[:64]
        now = self.store.clock()
        at = now.isoformat(timespec="seconds")
        row = None
        if _NAME_RE.match(name):
            with self.store.read() as db:
                row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        anonymous = Actor(name, "", address)
        if row is None:
            _verify(_dummy(), password)  # the same time as for a real name
            self._refuse(at, anonymous, "login_failed", "用户名不存在")
            raise AuthenticationError("用户名或密码不对")
        user = _user(row)
        who = Actor(user.name, user.role, address)
        if user.locked_at(now):
            until = dt.datetime.fromisoformat(str(user.locked_until))
            self._refuse(at, who, "login_failed", "账户锁定中")
            raise AuthenticationError(_locked_message(until))
        good = _verify(row["password"], password)
        if not good:
            with self.store.write() as db:
                failed = db.execute(
                    "UPDATE users SET failed = failed + 1 WHERE name = ? RETURNING failed", (name,)
                ).fetchone()[0]
                if failed >= MAX_FAILED:
                    until = now + dt.timedelta(minutes=LOCK_MINUTES)
                    db.execute(
                        "UPDATE users SET failed = 0, locked_until = ? WHERE name = ?",
                        (until.isoformat(timespec="seconds"), name),
                    )
                    append(db, at, who, "locked", name, f"连续 {MAX_FAILED} 次密码错误")
                else:
                    append(db, at, who, "login_failed", name, f"密码错误 (第 {failed} 次)")
            if failed >= MAX_FAILED:
                raise AuthenticationError(_locked_message(until))
            left = MAX_FAILED - failed
            raise AuthenticationError(
                f"用户名或密码不对 (再错 {left} 次账户将锁定 {LOCK_MINUTES} 分钟)"
            )
        if not user.active:
            self._refuse(at, who, "login_failed", "账户已停用")
            raise AuthenticationError("该账户已停用: 如需使用, 请联系系统管理员")
        rehash = _HASHER.check_needs_rehash(row["password"])
        with self.store.write() as db:
            db.execute(
                "UPDATE users SET failed = 0, locked_until = NULL, last_login_at = ? WHERE name = ?",
                (at, name),
            )
            if rehash:
                db.execute("UPDATE users SET password = ? WHERE name = ?", (_hash(password), name))
            append(db, at, who, "login", name)
        fresh = self.get(name)
        assert fresh is not None
        return fresh

    def _refuse(self, at: str, actor: Actor, action: str, detail: str) -> None:
        with self.store.write() as db:
            append(db, at, actor, action, actor.name, detail)


@functools.cache
def _dummy() -> str:
    """A hash of no one's password, to spend on unknown names."""
    return _hash("dangan: a password nobody has")


def _hash(password: str) -> str:
    with _HASHING:
        return _HASHER.hash(password)


def _verify(hashed: str, password: str) -> bool:
    try:
        with _HASHING:
            return bool(_HASHER.verify(hashed, password))
    except (VerificationError, InvalidHashError):
        return False


def _locked_message(until: dt.datetime) -> str:
    return (
        f"连续 {MAX_FAILED} 次密码错误, 账户已锁定至 {until:%H:%M}; "
        "请稍后再试, 或请系统管理员解除锁定"
    )
