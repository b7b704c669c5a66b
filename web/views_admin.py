"""The admin's users page and the auditor's access log (利用登记)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from archive.access.log import LOG_ACTIONS, LogFilter
from archive.access.roles import ROLES
from archive.core.errors import NotFoundError, UsageError
from archive.paperwork.access_xlsx import MAX_ROWS, access_log_xlsx, describe
from web.context import actor, app_parts, checked_form, render, require

LOG_PAGE = 50


DONE = {
    "add": "已新建用户",
    "passwd": "已重设密码 (其已登录的会话已结束):",
    "disable": "已停用 (其已登录的会话已结束):",
    "enable": "已启用",
    "unlock": "已解除锁定:",
}


def users(request: Request) -> Response:
    require(request, "users.view")
    p = request.query_params
    done = f"{DONE[p['done']]} {p.get('name', '')[:32]}" if p.get("done") in DONE else ""
    return _users_page(request, done=done)


def _users_page(request: Request, status: int = 200, message: str = "", done: str = "") -> Response:
    web = app_parts(request)
    now = web.users.store.clock()
    return render(
        request,
        "users.html",
        http_status=status,
        users=web.users.list(),
        roles=ROLES,
        message=message,
        done=done,
        now=now,
    )


async def user_action(request: Request) -> Response:
    """Add a user, or change one: a new password, disable, enable, unlock."""
    who = require(request, "users.manage")
    form = await checked_form(request, who)
    web = app_parts(request)
    by = actor(request, who)
    what = str(form.get("do", ""))
    name = str(form.get("name", "")).strip()
    try:
        if what == "add":
            if str(form.get("password", "")) != str(form.get("again", "")):
                raise UsageError("两次输入的密码不一致")
            await run_in_threadpool(
                web.users.add, name, str(form.get("role", "")), str(form.get("password", "")),
                actor=by,
            )  # fmt: skip
        elif what == "passwd":
            await run_in_threadpool(
                web.users.set_password, name, str(form.get("password", "")), actor=by
            )
            web.sessions.end_user(name)
        elif what in ("disable", "enable"):
            web.users.set_active(name, what == "enable", actor=by)
            if what == "disable":
                web.sessions.end_user(name)
        elif what == "unlock":
            web.users.unlock(name, actor=by)
        else:
            raise UsageError("不支持的操作")
    except (UsageError, NotFoundError) as exc:
        return _users_page(request, 400, exc.message)
    return RedirectResponse(web.urls("users", query={"done": what, "name": name}), status_code=303)


def _date(value: str, what: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"{what}“{value[:20]}”应为日期, 如 2024-05-01") from exc


def _filter(request: Request) -> LogFilter:
    p = request.query_params
    return LogFilter(
        user=p.get("user", "")[:64],
        action=p.get("action", ""),
        since=_date(p.get("since", ""), "起始日期"),
        until=_date(p.get("until", ""), "截止日期"),
        text=p.get("text", "")[:100],
        address=p.get("address", "")[:64],
    )


def log(request: Request) -> Response:
    who = require(request, "log.view")
    web = app_parts(request)
    message = ""
    try:
        f = _filter(request)
        page_no = max(1, int(request.query_params.get("page", "1") or 1))
        page = web.log.query(f, offset=(page_no - 1) * LOG_PAGE, limit=LOG_PAGE)
    except (UsageError, ValueError) as exc:
        message = exc.message if isinstance(exc, UsageError) else "页码应为数字"
        f, page_no = LogFilter(), 1
        page = web.log.query(f, limit=LOG_PAGE)
    check = web.log.check(full=request.query_params.get("verify") == "full")
    web.log.record(actor(request, who), "log_view", "利用登记", describe(f))
    pages = max(1, -(-page.total // LOG_PAGE))
    return render(
        request,
        "log.html",
        http_status=400 if message else 200,
        f=f,
        page=page,
        page_no=page_no,
        pages=pages,
        actions=LOG_ACTIONS,
        names=web.log.users(),
        check=check,
        message=message,
        query={k: v for k, v in request.query_params.items() if k not in ("page", "verify")},
    )


def log_export(request: Request) -> Response:
    who = require(request, "log.export")
    web = app_parts(request)
    f = _filter(request)
    entries = web.log.query(f, limit=MAX_ROWS).entries
    check = web.log.check(full=True)  # a document handed on: the whole chain, every time
    verdict = "登记完整, 未被改动" if check.ok else "；".join(check.problems)
    data = access_log_xlsx(entries, bureau=web.archive.config.bureau, f=f, check=verdict)
    web.log.record(
        actor(request, who), "log_export", "利用登记", f"{len(entries)} 条；{describe(f)}"
    )
    name = f"利用登记_{web.users.store.clock():%Y%m%d-%H%M}.xlsx"
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "private, no-store",
        },
    )
