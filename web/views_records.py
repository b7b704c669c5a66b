"""Finding and reading: the home page, search, dossiers, documents, pages and files."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from archive.access.roles import allowed
from archive.core.errors import NotFoundError, UsageError
from archive.ops.backup_config import backup_rows
from archive.ops.status import archive_status, next_step_items, quarantine_label
from archive.records.finder import SearchRequest
from archive.records.reader import RecordFile, destroyed
from archive.records.store import TRAY
from web.context import actor, app_parts, render, require

PER_PAGE = (20, 50, 100)
#: Lines of a 卷内目录 on one screen (the tray may hold thousands; the print view has all).
DOSSIER_PAGE = 100
#: Steps of ``dangan status`` that have a page here, and the action that page needs (the
#: other steps say which command to run).
STEP_PAGES = {"tray": "record.view", "quarantine": "quarantine.view"}


def home(request: Request) -> Response:
    who = require(request, "home.view")
    web = app_parts(request)
    status = archive_status(web.archive)
    links = {"tray": web.urls("dossier", key=TRAY), "quarantine": web.urls("quarantine")}
    steps = []
    for step in next_step_items(status):
        needs = STEP_PAGES.get(step.code)
        link = links[step.code] if needs and allowed(who.role, needs) else None
        steps.append((step.text, link))
    return render(
        request,
        "home.html",
        status=status,
        steps=steps,
        backup=backup_rows(status.backup),
        quarantine_label=quarantine_label,
        reads_records=allowed(who.role, "record.view"),
    )


def _int(value: str | None, default: int | None, what: str) -> int | None:
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError as exc:
        raise UsageError(f"{what}“{value}”应为数字") from exc


def search(request: Request) -> Response:
    who = require(request, "record.search")
    web = app_parts(request)
    p = request.query_params
    message = ""
    result = None
    try:
        per_page = _int(p.get("n"), 20, "每页条数") or 20
        req = SearchRequest(
            q=p.get("q", "")[:500],
            doc_type=p.get("type", "")[:50],
            household_class=p.get("class", ""),
            year=_int(p.get("year"), None, "年份"),
            kind=p.get("kind", ""),
            retailer=p.get("retailer", "")[:50],
            page=_int(p.get("page"), 1, "页码") or 1,
            per_page=per_page if per_page in PER_PAGE else 20,
        )
        if not req.empty:
            result = web.reader.search(req)
            web.log.record(
                actor(request, who), "search", req.q, _filters_text(req) + f" 共 {result.total} 条"
            )
    except UsageError as exc:
        req = SearchRequest(q=p.get("q", "")[:500])
        message = exc.message
    return render(
        request,
        "search.html",
        http_status=400 if message else 200,
        req=req,
        result=result,
        message=message,
        options=web.reader.filter_options(),
        rebuilding=web.reader.index_rebuilding,
        per_page_choices=PER_PAGE,
    )


def _filters_text(req: SearchRequest) -> str:
    parts = [
        f"类型:{req.doc_type}" if req.doc_type else "",
        f"类别:{req.household_class}" if req.household_class else "",
        f"年份:{req.year}" if req.year else "",
        f"种类:{req.kind}" if req.kind else "",
        f"零售户:{req.retailer}" if req.retailer else "",
        f"第{req.page}页" if req.page > 1 else "",
    ]
    return " ".join(x for x in parts if x)


def suggest(request: Request) -> Response:
    require(request, "record.search")
    hints = app_parts(request).reader.suggest(request.query_params.get("q", "")[:50])
    return JSONResponse(
        [{"licence_no": h.licence_no, "name": h.name, "operator": h.operator} for h in hints]
    )


def dossier(request: Request) -> Response:
    key = request.path_params["key"]
    who = require(request, "record.view", key)
    web = app_parts(request)
    found = web.reader.dossiers(key)
    if len(found) == 1 and found[0].key != key and not found[0].apart:
        # a name or number that names one dossier
        return RedirectResponse(web.urls("dossier", key=found[0].key), status_code=303)
    number = _int(request.query_params.get("page"), 1, "页码") or 1
    largest = max(len(d.documents) for d in found)
    pages = max(1, -(-largest // DOSSIER_PAGE))
    if not 1 <= number <= pages:
        raise NotFoundError(f"档案“{key}”的卷内目录共 {pages} 页, 没有第 {number} 页")
    shown = slice((number - 1) * DOSSIER_PAGE, number * DOSSIER_PAGE)
    for d in found:
        where = f"; 第 {number} 页" if pages > 1 else ""
        web.log.record(actor(request, who), "view_dossier", d.key, f"{d.summary}{where}")
    return render(
        request, "dossier.html", dossiers=found, key=key, shown=shown, page=number, pages=pages
    )


def print_catalogue(request: Request) -> Response:
    key = request.path_params["key"]
    who = require(request, "record.print", key)
    web = app_parts(request)
    found = [d for d in web.reader.dossiers(key) if d.key == key and not d.apart]
    if not found:
        return RedirectResponse(web.urls("dossier", key=key), status_code=303)
    web.log.record(actor(request, who), "print", key, f"卷内目录 {found[0].summary}")
    printed_at = web.users.store.clock().strftime("%Y年%m月%d日 %H:%M")
    return render(request, "print.html", dossier=found[0], printed_at=printed_at)


def record(request: Request) -> Response:
    sha = request.path_params["sha"]
    who = require(request, "record.view", sha)
    web = app_parts(request)
    detail = web.reader.record(sha)
    searchable = None if detail.entry.status == "destroyed" else web.reader.searchable(sha)
    web.log.record(actor(request, who), "view_record", detail.entry.record, detail.dossier_key)
    return render(request, "record.html", detail=detail, searchable=searchable is not None)


def page(request: Request) -> Response:
    sha, number = request.path_params["sha"], request.path_params["n"]
    who = require(request, "record.view", sha)
    web = app_parts(request)
    detail = web.reader.record(sha)
    if detail.entry.status == "destroyed":
        raise destroyed(detail.entry.archival_code or detail.entry.title)
    pages = detail.entry.pages or 1
    if not 1 <= number <= pages:
        raise NotFoundError(f"{detail.entry.title} 共 {pages} 页, 没有第 {number} 页")
    web.log.record(
        actor(request, who), "view_page", detail.entry.record, f"第 {number} 页 / 共 {pages} 页"
    )
    return render(request, "page.html", detail=detail, number=number, pages=pages)


def _image(request: Request, size: str) -> Response:
    sha, number = request.path_params["sha"], request.path_params["n"]
    require(request, "record.view", sha)
    path = app_parts(request).reader.preview(sha, number, size)
    return FileResponse(
        path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


def thumb(request: Request) -> Response:
    return _image(request, "thumb")


def image(request: Request) -> Response:
    return _image(request, "page")


def _send(file: RecordFile) -> Response:
    disposition = "inline" if file.inline else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(file.filename)}",
        "Cache-Control": "private, no-store",
    }
    media = file.media_type if file.inline else "application/octet-stream"
    return FileResponse(file.path, media_type=media, headers=headers)


def _shown(records: Path, file: RecordFile) -> str:
    return "records/" + file.path.relative_to(records.resolve()).as_posix()


def original(request: Request) -> Response:
    sha = request.path_params["sha"]
    who = require(request, "record.download", sha)
    web = app_parts(request)
    file = web.reader.original(sha)
    web.log.record(actor(request, who), "download", _shown(web.archive.records, file), "原件")
    return _send(file)


def searchable(request: Request) -> Response:
    sha = request.path_params["sha"]
    who = require(request, "record.download", sha)
    web = app_parts(request)
    file = web.reader.searchable(sha)
    if file is None:
        raise NotFoundError(
            "这份文件没有单独的可检索 PDF (原件已有文字层, 或未做文字识别): 请打开原件"
        )
    web.log.record(actor(request, who), "download", _shown(web.archive.records, file), "可检索PDF")
    return _send(file)


def quarantine(request: Request) -> Response:
    who = require(request, "quarantine.view")
    web = app_parts(request)
    with web.reader.catalog() as catalog:
        rows = [dict(r) for r in catalog.quarantined()]
    web.log.record(actor(request, who), "view_quarantine", "quarantine/", f"{len(rows)} 个文件")
    return render(request, "quarantine.html", rows=rows, label=quarantine_label)
