"""The clerk's intake pages: 上传 (files and folders streamed into an inbox kind and filed at
once), 待归档 (tray documents assigned to a dossier and a type) and the quarantine's actions
(release after the fix, delete with a reason). Every action is role-checked here and
written to the access log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from archive.core.errors import ArchiveError, NotFoundError, UsageError
from archive.intake import quarantine as quarantined
from archive.intake.intake import Outcome
from archive.intake.pipeline import after_batch, numbering_policy
from archive.intake.preflight import LABELS
from archive.intake.refile import text_of
from archive.intake.rules import load_rules
from archive.intake.tray import AlreadyAssigned, assign, suggestions
from archive.intake.upload import (
    Staging,
    check_size,
    clear_stale_uploads,
    file_upload,
    upload_path,
)
from archive.records.corrections import type_dossiers_from
from archive.records.search_sync import sync_index
from archive.records.store import TRAY, read_sidecar, sidecar_of
from archive.records.tray_reasons import tray_reason
from web.context import Viewer, actor, app_parts, checked_form, render, require
from web.errors import status_of
from web.work import check_token, download_headers, intake, settler, writing

OUTCOMES = {
    "filed": "已归档",
    "unfiled": "待归档",
    "duplicate": "重复, 未归档",
    "quarantined": "已隔离",
    "skipped": "未处理",
}
_IMAGES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


# --------------------------------------------------------------------------- 上传


def upload_page(request: Request) -> Response:
    require(request, "record.upload")
    config = app_parts(request).archive.config
    return render(request, "upload.html", kinds=list(config.kinds), limit=config.max_file_bytes)


def _result(request: Request, name: str, out: Outcome) -> dict[str, Any]:
    urls = app_parts(request).urls
    href = ""
    if out.outcome in ("filed", "unfiled") and out.sha256:
        href = urls("record", sha=out.sha256)
    elif out.record and out.record.startswith("quarantine/"):
        href = urls("quarantine_item", query={"path": out.record})
    return {
        "name": name,
        "outcome": out.outcome,
        "label": OUTCOMES.get(out.outcome, out.outcome),
        "reason": out.reason or "",
        "record": out.record or "",
        "code": out.archival_code or "",
        "href": href,
    }


def _refused(request: Request, who: Viewer, name: str, exc: ArchiveError) -> JSONResponse:
    web = app_parts(request)
    web.log.record(actor(request, who), "upload_refused", name, exc.message)
    status, _ = status_of(exc)
    return JSONResponse({"name": name, "error": exc.message}, status_code=status)


async def upload_file(request: Request) -> Response:
    """One file, its bytes as the request body (streamed to disk), its inbox kind and
    relative path in the query; answers how it was filed, as JSON."""
    who = require(request, "record.upload")
    check_token(request, who)
    web = app_parts(request)
    archive = web.archive
    kind = request.query_params.get("kind", "")
    name = request.query_params.get("path", "")[:500]
    length_text = request.headers.get("content-length", "")
    length = int(length_text) if length_text.isdigit() else None
    try:
        parts = upload_path(archive, kind, name)
        check_size(archive, length)
    except ArchiveError as exc:
        return _refused(request, who, name, exc)
    clear_stale_uploads(archive)
    staging = Staging(archive)
    try:
        async for chunk in request.stream():
            staging.write(chunk)
        staged = staging.finish(length)
    except ClientDisconnect:
        staging.abort()
        web.log.record(actor(request, who), "upload_refused", name, "上传中断, 未归档")
        return Response(status_code=400)
    except ArchiveError as exc:
        staging.abort()
        return _refused(request, who, name, exc)
    except BaseException:
        staging.abort()
        raise

    def file_it() -> Outcome:
        try:
            with writing(archive, who, f"上传 {parts[-1]}") as catalog:
                return file_upload(archive, intake(request, catalog), staged, parts)
        finally:
            staged.unlink(missing_ok=True)  # gone once filed; removed when filing failed

    try:
        out = await run_in_threadpool(file_it)
    except ArchiveError as exc:
        return _refused(request, who, name, exc)
    settler(request).poke()
    detail = OUTCOMES.get(out.outcome, out.outcome) + (f": {out.reason}" if out.reason else "")
    web.log.record(actor(request, who), "upload", out.record or out.source, f"{name} {detail}")
    return JSONResponse(_result(request, name, out))


async def upload_done(request: Request) -> Response:
    """The page's batch is done: refile the tray and update the search index now."""
    who = require(request, "record.upload")
    check_token(request, who)
    await run_in_threadpool(settler(request).now, who)
    return JSONResponse({"done": True})


# --------------------------------------------------------------------------- 待归档


def _tray_items(request: Request) -> list[dict[str, Any]]:
    web = app_parts(request)
    try:
        [tray] = [d for d in web.reader.dossiers(TRAY) if d.key == TRAY]
    except (NotFoundError, ValueError):
        return []
    items = []
    with web.reader.catalog() as catalog:
        for doc in tray.documents:
            path = web.archive.records / doc.path
            try:
                side = read_sidecar(sidecar_of(path))
            except (OSError, ValueError):
                continue
            items.append(
                {
                    "doc": doc,
                    "source": side.get("source", ""),
                    "hints": suggestions(web.archive, catalog, side),
                    "why": tray_reason(
                        side.get("doc_type"),
                        (side.get("keys") or {}).get("meeting_type"),
                        str(side.get("source", "")),
                        text_of(side)[:2000],
                        kinds=web.archive.config.kinds,
                        bureau=web.archive.config.bureau,
                    ),
                }
            )
    return items


def tray(request: Request, status: int = 200, message: str = "", done: str = "") -> Response:
    who = require(request, "record.correct")
    web = app_parts(request)
    items = _tray_items(request)
    web.log.record(actor(request, who), "view_dossier", TRAY, f"{len(items)} 份文件")
    p = request.query_params
    return render(
        request,
        "tray.html",
        http_status=status,
        items=items,
        types=sorted(load_rules(web.archive.root).types),
        message=message,
        done=done or p.get("done", "")[:200],
    )


async def tray_assign(request: Request) -> Response:
    who = require(request, "record.correct")
    form = await checked_form(request, who)
    web = app_parts(request)
    sha = str(form.get("record", ""))
    typed = str(form.get("dossier_text", "")).strip()  # typed in wins over a suggestion picked
    dossier = typed or str(form.get("dossier", "")).strip()
    doc_type = str(form.get("type", "")).strip() or None
    reason = str(form.get("reason", "")).strip()

    def do() -> list[Any]:
        if not sha or not dossier:
            raise UsageError("请选择要归档的文件, 并选定或填写所属档案")
        types = type_dossiers_from(load_rules(web.archive.root).types)
        with writing(web.archive, who, "归档待归档文件") as catalog:
            done = assign(
                web.archive, catalog, sha, dossier, doc_type=doc_type, actor=who.name,
                reason=reason, type_dossiers=types, policy=numbering_policy(web.archive),
            )  # fmt: skip
            sync_index(web.archive, catalog, changed=[sha])
            return done

    try:
        done = await run_in_threadpool(do)
    except AlreadyAssigned as exc:
        web.log.record(actor(request, who), "assign", sha, f"未归档: {exc.message}")
        return await run_in_threadpool(tray, request, 409, exc.message)
    except ArchiveError as exc:
        if status_of(exc)[0] not in (400, 404, 409):
            raise
        return await run_in_threadpool(tray, request, status_of(exc)[0], exc.message)
    last = done[-1]
    web.log.record(actor(request, who), "assign", last.record, f"归入 {dossier}; 原因: {reason}")
    target = web.urls("tray", query={"done": f"已归档: {last.record}"})
    return RedirectResponse(target, status_code=303)


# --------------------------------------------------------------------------- 隔离区


def quarantine_item(request: Request) -> Response:
    rel = request.query_params.get("path", "")
    who = require(request, "quarantine.view", rel)
    web = app_parts(request)
    item = quarantined.find(web.archive, rel)
    web.log.record(actor(request, who), "view_quarantine", item.rel, item.why.get("reason", ""))
    suffix = item.path.suffix.lower()
    return render(
        request,
        "quarantine_item.html",
        item=item,
        label=LABELS.get(str(item.why.get("code")), str(item.why.get("code"))),
        image=suffix in _IMAGES,
        pdf=suffix == ".pdf",
        size=item.path.stat().st_size,
    )


def quarantine_file(request: Request) -> Response:
    """The quarantined file itself: an image shown, a PDF opened by the browser's viewer,
    anything else offered as a download (never as a page)."""
    rel = request.query_params.get("path", "")
    who = require(request, "quarantine.view", rel)
    web = app_parts(request)
    item = quarantined.find(web.archive, rel)
    web.log.record(actor(request, who), "download", item.rel, "隔离文件")
    suffix = item.path.suffix.lower()
    media = _IMAGES.get(suffix) or ("application/pdf" if suffix == ".pdf" else None)
    return FileResponse(
        item.path,
        media_type=media or "application/octet-stream",
        headers=download_headers(item.path.name, inline=media is not None),
    )


async def quarantine_action(request: Request) -> Response:
    who = require(request, "quarantine.manage")
    form = await checked_form(request, who)
    web = app_parts(request)
    rel = str(form.get("path", ""))
    what = str(form.get("do", ""))
    reason = str(form.get("reason", "")).strip()

    def do() -> tuple[str, str, str]:
        with writing(web.archive, who, "处理隔离文件") as catalog:
            if what == "release":
                out = quarantined.release(web.archive, catalog, intake(request, catalog), rel)
                after_batch(web.archive, catalog, changed=[out.sha256] if out.sha256 else [])
                result = _result(request, Path(rel).name, out)
                text = f"{result['label']}" + (f": {out.reason}" if out.reason else "")
                return "quarantine_release", text, result["href"]
            if what == "delete":
                gone = quarantined.delete(web.archive, catalog, rel, actor=who.name, reason=reason)
                return (
                    "quarantine_delete",
                    f"已删除 ({gone.why.get('reason', '')}); 原因: {reason}",
                    "",
                )
            raise UsageError("不支持的操作")

    action, text, href = await run_in_threadpool(do)
    web.log.record(actor(request, who), action, rel, text)
    return render(request, "quarantine_done.html", file=rel, text=text, href=href)


def routes() -> list[Route]:
    """This module's routes (built once the app's URL convertors are registered)."""
    return [
        Route("/upload", upload_page, methods=["GET"], name="upload"),
        Route("/upload/file", upload_file, methods=["POST"], name="upload_file"),
        Route("/upload/done", upload_done, methods=["POST"], name="upload_done"),
        Route("/tray", tray, methods=["GET"], name="tray"),
        Route("/tray", tray_assign, methods=["POST"], name="tray_post"),
        Route("/quarantine/item", quarantine_item, methods=["GET"], name="quarantine_item"),
        Route("/quarantine/file", quarantine_file, methods=["GET"], name="quarantine_file"),
        Route("/quarantine/item", quarantine_action, methods=["POST"], name="quarantine_post"),
    ]
