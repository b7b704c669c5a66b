"""Every error rendered in one place: an ArchiveError subclass → a status and a page worded
for a person (never a traceback, never a command-line flag as the only hint)."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from archive.access.roles import ACTIONS, role_label
from archive.core.errors import (
    ArchiveError,
    AuthenticationError,
    Forbidden,
    LockedError,
    NotFoundError,
    UsageError,
    ValidationError,
)
from archive.records.catalog import CatalogUnavailable
from archive.records.previews import PreviewError
from indexers.search import SearchIndexError
from web.context import CsrfRefused, actor, app_parts, render, viewer

_log = logging.getLogger("dangan.web")

#: (error class, status, title), most specific first.
STATUSES: tuple[tuple[type[ArchiveError], int, str], ...] = (
    (AuthenticationError, 401, "请先登录"),
    (Forbidden, 403, "无权访问"),
    (NotFoundError, 404, "找不到"),
    (ValidationError, 422, "内容有误"),
    (PreviewError, 422, "无法预览"),
    (UsageError, 400, "请求有误"),
    (LockedError, 409, "正忙"),
    (CatalogUnavailable, 503, "目录库需要重建"),
    (SearchIndexError, 503, "检索索引需要重建"),
)
_HTTP_TITLES = {404: "找不到", 405: "不支持的操作", 400: "请求有误"}
_HTTP_MESSAGES = {
    404: "没有这个页面。请检查地址, 或从首页重新进入。",
    405: "这个地址不接受这种请求。请从页面上的按钮操作。",
}


def status_of(exc: ArchiveError) -> tuple[int, str]:
    for kind, status, title in STATUSES:
        if isinstance(exc, kind):
            return status, title
    return 500, "出错了"


def archive_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ArchiveError)
    status, title = status_of(exc)
    web = app_parts(request)
    if isinstance(exc, AuthenticationError) and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        expired = 1 if getattr(request.state, "expired", False) else None
        login = web.urls("login", query={"next": target, "expired": expired})
        return RedirectResponse(login, status_code=303)
    if isinstance(exc, Forbidden):
        who = viewer(request)
        action = ACTIONS.get(getattr(request.state, "action", ""))
        if who is not None:
            what = action.label if action else exc.message
            if isinstance(exc, CsrfRefused):
                what += ": 表单令牌无效 (页面过期, 或来自别的网站)"
            web.log.record(actor(request, who), "forbidden", request.url.path, what)
    problems = exc.problems if isinstance(exc, ValidationError) else []
    return render(
        request,
        "error.html",
        http_status=status,
        title=title,
        message=exc.message,
        problems=[str(p) for p in problems],
        code=status,
        role=role_label(who.role) if (who := getattr(request.state, "viewer", None)) else "",
    )


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    return render(
        request,
        "error.html",
        http_status=status,
        title=_HTTP_TITLES.get(status, "请求有误"),
        message=_HTTP_MESSAGES.get(status, str(exc.detail)),
        problems=[],
        code=status,
        role="",
    )


def server_error(request: Request, exc: Exception) -> Response:
    _log.exception("未处理的错误: %s %s", request.method, request.url.path, exc_info=exc)
    return render(
        request,
        "error.html",
        http_status=500,
        title="服务器出错了",
        message="服务器处理这个请求时出错。请稍后重试; 如果一再出现, 请告诉系统管理员 (详情在服务器日志中)。",
        problems=[],
        code=500,
        role="",
    )
