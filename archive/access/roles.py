"""The role table, in one place: which role may take which action (三员分立, simplified).

* 系统管理员 ``admin``: users and settings; does not read records;
* 档案员 ``clerk``: everything a clerk does with records;
* 查阅 ``reader``: leaders and inspectors, search and view only;
* 安全审计员 ``auditor``: reads the access log only.

Every web view starts with ``ensure_permission(user, action, resource)``; an action that is
not declared here is a programming error (:class:`UndeclaredAction`), not a silent allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from archive.core.errors import AuthenticationError, Forbidden

ROLES: dict[str, str] = {
    "admin": "系统管理员",
    "clerk": "档案员",
    "reader": "查阅",
    "auditor": "安全审计员",
}

_ALL = frozenset(ROLES)
_RECORDS = frozenset({"clerk", "reader"})


@dataclass(frozen=True)
class Action:
    """Something a user can do, with the roles allowed to do it."""

    name: str
    label: str  # what the user was refused, in words: "无权{label}"
    roles: frozenset[str]


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("home.view", "查看首页", _ALL),
        Action("account.password", "修改本人密码", _ALL),
        Action("record.search", "检索档案", _RECORDS),
        Action("record.view", "查阅档案", _RECORDS),
        Action("record.download", "下载档案文件", _RECORDS),
        Action("record.print", "打印卷内目录", _RECORDS),
        Action("quarantine.view", "查看隔离区", frozenset({"clerk"})),
        # The clerk's work (next: upload, filing, corrections, generating) is declared here
        # so that the table is whole; its pages check these actions.
        Action("record.upload", "上传文件", frozenset({"clerk"})),
        Action("record.correct", "更正档案", frozenset({"clerk"})),
        Action("report.generate", "生成材料", frozenset({"clerk"})),
        Action("quarantine.manage", "放行或删除隔离文件", frozenset({"clerk"})),
        Action("audit.view", "查看自查结果", frozenset({"clerk"})),
        Action("settings.import", "导入名册和评分标准", frozenset({"clerk"})),
        Action("log.view", "查看利用登记", frozenset({"auditor"})),
        Action("log.export", "导出利用登记", frozenset({"auditor"})),
        Action("users.view", "查看用户", frozenset({"admin"})),
        Action("users.manage", "管理用户", frozenset({"admin"})),
    )
}


class UndeclaredAction(ValueError):
    """A view asked about an action the role table does not declare (a bug, never data)."""


class Subject(Protocol):
    """Whoever asks: a signed-in user (``archive.access.users.User`` or the web's session)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


def role_label(role: str) -> str:
    return ROLES.get(role, role)


def allowed(role: str | None, action: str) -> bool:
    """May a user of *role* take *action*? (For menus; views call :func:`ensure_permission`.)"""
    if action not in ACTIONS:
        raise UndeclaredAction(
            f"未声明的操作 {action!r}: 请在 archive/access/roles.py 的 ACTIONS 中声明"
        )
    return role is not None and role in ACTIONS[action].roles


def ensure_permission(user: Subject | None, action: str, resource: str | None = None) -> None:
    """Raise unless *user* may take *action* (on *resource*, named in the refusal)."""
    if user is None:
        allowed(None, action)  # an undeclared action is refused even to nobody
        raise AuthenticationError("请先登录")
    if not allowed(user.role, action):
        what = ACTIONS[action].label + (f" {resource}" if resource else "")
        raise Forbidden(
            f"{user.name}（{role_label(user.role)}）无权{what}。"
            "如工作需要, 请系统管理员调整您的角色。"
        )
