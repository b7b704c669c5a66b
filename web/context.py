"""What every view needs: the app's parts, the signed-in user, permission, CSRF, rendering.

A view's first line is ``viewer = require(request, "action", resource)``: it finds the
session (or raises :class:`AuthenticationError`, which sends a browser to the sign-in page)
and checks the role table (or raises :class:`Forbidden`, a 403 page, logged). A view that
takes a form reads it with :func:`checked_form`, which refuses a missing or wrong CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse

from archive.access.log import AccessLog, Actor
from archive.access.roles import ensure_permission, role_label
from archive.access.users import Users
from archive.core.config import Archive
from archive.core.errors import Forbidden
from archive.records.reader import ArchiveReader
from web.render import Asset, Urls
from web.sessions import SessionStore

SESSION_COOKIE = "dangan_session"
LOGIN_COOKIE = "dangan_login"  # the CSRF token of the sign-in form (double submit)
MAX_FORM_BYTES = 64 * 1024


class CsrfRefused(Forbidden):
    """A form arrived without this session's token: sent from another site, or a stale page."""


@dataclass
class Settings:
    idle_minutes: float = 30.0
    absolute_hours: float = 12.0
    secure_cookies: bool = False  # set when served over HTTPS


@dataclass
class Web:
    """The parts of one running app (``request.app.state.web``)."""

    archive: Archive
    reader: ArchiveReader
    users: Users
    log: AccessLog
    sessions: SessionStore
    settings: Settings
    env: Any  # jinja2.Environment
    assets: dict[str, Asset]
    urls: Urls = field(init=False)


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of this request."""

    name: str
    role: str
    csrf: str
    token: str

    @property
    def role_label(self) -> str:
        return role_label(self.role)


def app_parts(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def address(request: Request) -> str:
    return request.client.host if request.client else ""


def viewer(request: Request) -> Viewer | None:
    """The signed-in user, found once per request; None when nobody (or the session ended,
    or the account was disabled since)."""
    if hasattr(request.state, "viewer"):
        found: Viewer | None = request.state.viewer
        return found
    web = app_parts(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    session, expired = web.sessions.load(token)
    request.state.expired = expired
    found = None
    if session is not None:
        user = web.users.get(session.user)
        if user is not None and user.active:
            found = Viewer(user.name, user.role, session.csrf, token)
        else:
            web.sessions.end(token)
    request.state.viewer = found
    return found


def require(request: Request, action: str, resource: str | None = None) -> Viewer:
    """The signed-in user, allowed to take *action*; else the refusal (see module doc)."""
    request.state.action = action
    request.state.resource = resource
    found = viewer(request)
    ensure_permission(found, action, resource)
    assert found is not None
    return found


def actor(request: Request, who: Viewer) -> Actor:
    return Actor(who.name, who.role, address(request))


async def checked_form(request: Request, who: Viewer | None) -> FormData:
    """The posted form, once its CSRF token is this session's (or, signing in, the one the
    sign-in page set in its cookie)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise CsrfRefused("表单过大, 已拒绝")
    form = await request.form(max_files=0, max_fields=50)
    sent = str(form.get("csrf_token", ""))
    expected = who.csrf if who is not None else request.cookies.get(LOGIN_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfRefused("页面已过期或来自别处 (缺少有效的表单令牌): 请刷新页面后重新提交")
    return form


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def render(request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    web = app_parts(request)
    who = getattr(request.state, "viewer", None)
    html = web.env.get_template(template).render(
        url=web.urls,
        viewer=who,
        bureau=web.archive.config.bureau,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=http_status)
