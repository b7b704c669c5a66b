"""更正: the corrections of one record from its page — move to another dossier, change its
type, date or title, withdraw it, replace an unclear scan with a re-scan, split a scan of
several papers by pages. Each asks for a reason, calls the same library function as the CLI
(``dangan move|edit|withdraw|replace|split``), shows in the record's history and is written
to the access log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from archive.core.errors import ArchiveError, UsageError
from archive.intake.pipeline import numbering_policy
from archive.intake.rescan import page_parts, replace_scan, split_scan
from archive.intake.rules import load_rules
from archive.records.catalog import Catalog
from archive.records.corrections import (
    CORRECTIONS,
    Changes,
    Corrected,
    edit_record,
    move_to_dossier,
    type_dossiers_from,
    withdraw_record,
)
from archive.records.search_sync import sync_index
from web.context import Viewer, actor, app_parts, checked_form, render, require
from web.errors import status_of
from web.work import checked_upload_form, drop_staged, intake, staged_file, writing


def correct_page(
    request: Request, status: int = 200, message: str = "", form: FormData | None = None
) -> Response:
    sha = request.path_params["sha"]
    require(request, "record.correct", sha)
    web = app_parts(request)
    detail = web.reader.record(sha)
    return render(
        request,
        "correct.html",
        http_status=status,
        detail=detail,
        types=sorted(load_rules(web.archive.root).types),
        message=message,
        ops=CORRECTIONS,
        sent=dict(form or {}),
    )


def _run(
    request: Request, who: Viewer, what: str, act: Callable[[Catalog], list[Corrected]]
) -> list[Corrected]:
    web = app_parts(request)
    with writing(web.archive, who, f"更正档案 ({CORRECTIONS[what]})") as catalog:
        done = act(catalog)
        sync_index(web.archive, catalog, changed=[d.record_id for d in done])
        return done


async def correct(request: Request) -> Response:
    sha = request.path_params["sha"]
    who = require(request, "record.correct", sha)
    web = app_parts(request)
    archive = web.archive
    is_upload = request.headers.get("content-type", "").startswith("multipart/")
    if is_upload:
        form = await checked_upload_form(request, who, archive.config.max_file_bytes)
    else:
        form = await checked_form(request, who)
    what = str(form.get("do", ""))
    reason = str(form.get("reason", "")).strip()
    if what not in CORRECTIONS:
        raise UsageError("不支持的更正")
    rules = load_rules(archive.root)
    types = type_dossiers_from(rules.types)
    staged: Path | None = None

    def act(catalog: Catalog) -> list[Corrected]:
        policy = numbering_policy(archive)
        if what == "move":
            target = str(form.get("dossier", ""))
            return [
                move_to_dossier(
                    archive, catalog, sha, target, actor=who.name, reason=reason, policy=policy
                )
            ]
        if what == "edit":
            change = Changes(
                doc_type=str(form.get("type", "")).strip() or None,
                date=str(form.get("date", "")).strip() or None,
                title=str(form.get("title", "")).strip() or None,
            )
            done = edit_record(
                archive, catalog, sha, change, actor=who.name, reason=reason,
                type_dossiers=types, policy=policy,
            )  # fmt: skip
            return [done]
        if what == "withdraw":
            return [withdraw_record(archive, catalog, sha, actor=who.name, reason=reason)]
        if what == "split":
            parts = page_parts(str(form.get("ranges", "")), str(form.get("types", "")), types)
            return split_scan(
                archive, catalog, sha, parts, actor=who.name, reason=reason,
                intake=intake(request, catalog),
            )  # fmt: skip
        assert staged is not None
        return replace_scan(
            archive, catalog, sha, staged, actor=who.name, reason=reason,
            intake=intake(request, catalog),
        )  # fmt: skip

    try:
        if what == "replace":
            staged = await staged_file(archive, form)
        done = await run_in_threadpool(_run, request, who, what, act)
    except ArchiveError as exc:
        status = status_of(exc)[0]
        if status not in (400, 404, 409, 422):
            raise
        web.log.record(
            actor(request, who), "correct", sha, f"{CORRECTIONS[what]} 未完成: {exc.message}"
        )
        return await run_in_threadpool(correct_page, request, status, exc.message, form)
    finally:
        if staged is not None:
            drop_staged(staged)
    for item in done:
        web.log.record(
            actor(request, who),
            "correct",
            item.record,
            item.log_detail(what, reason),
        )
    return RedirectResponse(web.urls("record", sha=done[0].record_id), status_code=303)


def routes() -> list[Route]:
    """This module's routes (built once the app's URL convertors are registered)."""
    return [
        Route("/record/{sha:sha256}/correct", correct_page, methods=["GET"], name="correct"),
        Route("/record/{sha:sha256}/correct", correct, methods=["POST"], name="correct_post"),
    ]
