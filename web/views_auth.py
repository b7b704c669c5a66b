"""Signing in and out, and changing one's own password."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from archive.core.errors import AuthenticationError, UsageError
from web.context import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    actor,
    address,
    app_parts,
    checked_form,
    new_login_token,
    render,
    require,
    viewer,
)


def safe_next(target: str) -> str:
    """Where to go after signing in: a path on this site only (no //host, no scheme)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, status: int = 200, message: str = "", name: str = "") -> Response:
    token = new_login_token()
    web = app_parts(request)
    notice = ""
    if request.query_params.get("expired") == "1":
        notice = f"长时间 ({web.settings.idle_minutes:g} 分钟) 未操作, 已自动退出, 请重新登录。"
    elif request.query_params.get("bye") == "1":
        notice = "已退出。"
    response = render(
        request,
        "login.html",
        http_status=status,
        csrf_token=token,
        message=message,
        notice=notice,
        name=name,
        next=safe_next(request.query_params.get("next", "/")),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=web.settings.secure_cookies,
        path=web.urls("login"),
    )
    return response


def login_form(request: Request) -> Response:
    if viewer(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next", "/")), status_code=303)
    return _login_page(request)


async def login(request: Request) -> Response:
    form = await checked_form(request, None)
    web = app_parts(request)
    name = str(form.get("name", ""))
    try:
        user = await run_in_threadpool(
            web.users.authenticate, name, str(form.get("password", "")), address=address(request)
        )
    except AuthenticationError as exc:
        return _login_page(request, 401, exc.message, name)
    token, _ = await run_in_threadpool(web.sessions.create, user.name, address(request))
    response = RedirectResponse(safe_next(str(form.get("next", "/"))), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=web.settings.secure_cookies,
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path=web.urls("login"))
    return response


async def logout(request: Request) -> Response:
    who = require(request, "home.view")
    await checked_form(request, who)
    web = app_parts(request)
    web.sessions.end(who.token)
    web.log.record(actor(request, who), "logout", who.name)
    response = RedirectResponse(web.urls("login", query={"bye": 1}), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def password_form(request: Request) -> Response:
    require(request, "account.password")
    return render(request, "password.html", message="", done=False)


async def password(request: Request) -> Response:
    who = require(request, "account.password")
    form = await checked_form(request, who)
    web = app_parts(request)
    new = str(form.get("new", ""))
    try:
        if new != str(form.get("again", "")):
            raise UsageError("两次输入的新密码不一致")
        await run_in_threadpool(
            web.users.change_own_password,
            who.name,
            str(form.get("old", "")),
            new,
            actor=actor(request, who),
        )
    except (UsageError, AuthenticationError) as exc:
        return render(request, "password.html", http_status=400, message=exc.message, done=False)
    return render(request, "password.html", message="", done=True)
