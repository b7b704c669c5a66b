"""材料, 自查 and 导入: the reports and the packet generated in the background, the audit
grouped by criterion with its score table and Excel list, and the bureau's files imported
(roster, scoring standard, metrics, inspection findings) with every bad row on the page."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from archive.access.log import Actor
from archive.assess.audit_inputs import (
    import_criteria_file,
    import_findings_file,
    import_metrics_file,
    load_inputs,
)
from archive.assess.score import ScoreReport, score_with
from archive.core.errors import ArchiveError, UsageError, ValidationError
from archive.intake.pipeline import import_roster
from archive.ops.jobs import JobResult, Progress, Work
from archive.ops.materials import MATERIALS, material_label, material_work, period
from archive.paperwork.audit_xlsx import write_audit_xlsx
from archive.records.reindex import open_catalog
from web.context import Web, actor, app_parts, checked_form, render, require
from web.errors import status_of
from web.work import checked_upload_form, download_headers, drop_staged, jobs, staged_file

IMPORTS = {
    "roster": "名册 (零售户花名册 CSV/XLSX)",
    "criteria": "评分标准 (Word/Excel/YAML)",
    "metrics": "自查数据 (Excel/YAML)",
    "findings": "检查发现的问题 (Excel/YAML)",
}


def _year(text: str | None, today: dt.date) -> int:
    if not text:
        return today.year
    if not text.strip().isdigit():
        raise UsageError(f"年度“{text}”应为四位数字, 如 {today.year}")
    return int(text)


# --------------------------------------------------------------------------- 材料


def materials(request: Request, status: int = 200, message: str = "") -> Response:
    require(request, "report.generate")
    listed = jobs(request).list()
    running = next((j for j in listed if j.running), None)
    today = dt.date.today()
    return render(
        request,
        "materials.html",
        http_status=status,
        jobs=listed,
        running=running,
        kinds=MATERIALS,
        year=today.year,
        message=message,
    )


def _logged(web: Web, who: Actor, label: str, work: Work) -> Work:
    """The work, its end written to the access log (its start is logged by the page)."""

    def run(folder: Path, progress: Progress) -> JobResult:
        try:
            result = work(folder, progress)
        except ArchiveError as exc:
            web.log.record(who, "generate_failed", label, exc.message)
            raise
        except Exception as exc:
            web.log.record(who, "generate_failed", label, repr(exc)[:200])
            raise
        names = "、".join(p.name for p in result.files)
        web.log.record(who, "generate", label, f"完成: {names}")
        return result

    return run


async def start_material(request: Request) -> Response:
    who = require(request, "report.generate")
    form = await checked_form(request, who)
    web = app_parts(request)
    kind = str(form.get("kind", ""))
    today = dt.date.today()
    try:
        year = _year(str(form.get("year", "")), today)
        month_text = str(form.get("month", "")).strip()
        month = int(month_text) if month_text.isdigit() else None
        label = material_label(kind, year, month)
        as_of = period(year, month, today)
        work = material_work(web.archive, kind, year, month, as_of)
        by = actor(request, who)
        params = {"year": year, "month": month, "as_of": as_of.isoformat()}
        job = await run_in_threadpool(
            jobs(request).start, kind, label, params, _logged(web, by, label, work),
            started_by=who.name,
        )  # fmt: skip
    except ArchiveError as exc:
        return await run_in_threadpool(materials, request, status_of(exc)[0], exc.message)
    web.log.record(by, "generate", label, f"开始 (任务 {job.id})")
    return RedirectResponse(web.urls("materials"), status_code=303)


def material_file(request: Request) -> Response:
    job_id, n = request.path_params["job"], request.path_params["n"]
    who = require(request, "report.generate", job_id)
    web = app_parts(request)
    path = jobs(request).file(job_id, n)
    web.log.record(
        actor(request, who), "download", path.relative_to(web.archive.root).as_posix(), "生成的材料"
    )
    return FileResponse(
        path,
        media_type="application/octet-stream",
        headers=download_headers(path.name),
    )


# --------------------------------------------------------------------------- 自查


def _score(request: Request, year: int) -> tuple[ScoreReport, Any]:
    web = app_parts(request)
    inputs = load_inputs(web.archive)
    as_of = period(year, None, dt.date.today())
    with open_catalog(web.archive) as catalog:
        return score_with(web.archive, catalog, inputs, year, as_of), inputs


def _record_ids(request: Request, report: ScoreReport) -> dict[str, str]:
    """records/… path → record id, for the links of the findings."""
    paths = {f.record.removeprefix("records/") for f in report.findings if f.record}
    if not paths:
        return {}
    with app_parts(request).reader.catalog() as catalog:
        return {
            f"records/{r['path']}": r["record_id"]
            for p in paths
            for r in catalog.records("path = ?", (p,))
        }


def audit(request: Request) -> Response:
    who = require(request, "audit.view")
    web = app_parts(request)
    year = _year(request.query_params.get("year"), dt.date.today())
    report, inputs = _score(request, year)
    loose = [f for f in report.findings if not f.criterion]
    web.log.record(actor(request, who), "view_audit", f"{year}年", f"{len(report.findings)} 条问题")
    return render(
        request,
        "audit.html",
        report=report,
        loose=loose,
        ids=_record_ids(request, report),
        note=inputs.sample_note,
        year=year,
    )


def audit_xlsx(request: Request) -> Response:
    who = require(request, "audit.view")
    web = app_parts(request)
    year = _year(request.query_params.get("year"), dt.date.today())
    report, inputs = _score(request, year)
    with tempfile.TemporaryDirectory(prefix="dangan-audit-") as folder:
        path = write_audit_xlsx(
            Path(folder) / "自查问题清单.xlsx",
            report.findings,
            report,
            title=f"{report.standard} 档案自查问题清单（{report.year}年，截至{report.as_of}）",
            note=inputs.sample_note,
        )
        data = path.read_bytes()
    name = f"自查问题清单_{year}.xlsx"
    web.log.record(actor(request, who), "download", name, f"{len(report.findings)} 条问题")
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=download_headers(name),
    )


# --------------------------------------------------------------------------- 导入


def imports(
    request: Request, status: int = 200, message: str = "", problems: list[str] | None = None,
    done: str = "",
) -> Response:  # fmt: skip
    require(request, "settings.import")
    web = app_parts(request)
    inputs = load_inputs(web.archive)
    with web.reader.catalog() as catalog:
        households = len(catalog.households())
    return render(
        request,
        "imports.html",
        http_status=status,
        kinds=IMPORTS,
        households=households,
        standard=inputs.standard.name,
        sample=inputs.sample,
        message=message,
        problems=problems or [],
        done=done or request.query_params.get("done", "")[:200],
    )


def _import(web: Web, kind: str, file: Path) -> str:
    archive = web.archive
    if kind == "roster":
        return f"已导入名册: {import_roster(archive, file)} 户"
    if kind == "criteria":
        target = import_criteria_file(archive, file)
        std = load_inputs(archive, criteria=target).standard
        return f"已导入评分标准 {std.name}: {len(std.criteria)} 个子项, {std.points:g} 分"
    standard = load_inputs(archive).standard
    if kind == "metrics":
        _, count = import_metrics_file(archive, file, standard)
        return f"已导入自查数据: {count} 个指标"
    _, count = import_findings_file(archive, file, standard)
    return f"已导入检查发现: {count} 条"


async def import_file(request: Request) -> Response:
    who = require(request, "settings.import")
    web = app_parts(request)
    form = await checked_upload_form(request, who, 50 * 1048576)
    kind = str(form.get("kind", ""))
    staged: Path | None = None
    try:
        if kind not in IMPORTS:
            raise UsageError("请选择要导入的内容")
        staged = await staged_file(web.archive, form)
        text = await run_in_threadpool(_import, web, kind, staged)
    except ValidationError as exc:
        problems = [str(p) for p in exc.problems]
        web.log.record(actor(request, who), "import", IMPORTS.get(kind, kind),
                       f"未导入: {len(problems)} 处问题")  # fmt: skip
        message = f"{staged.name if staged else ''}: {len(problems)} 处问题, 未导入任何内容:"
        return await run_in_threadpool(imports, request, 422, message, problems)
    except ArchiveError as exc:
        web.log.record(
            actor(request, who), "import", IMPORTS.get(kind, kind), f"未导入: {exc.message}"
        )
        return await run_in_threadpool(imports, request, status_of(exc)[0], exc.message)
    finally:
        if staged is not None:
            drop_staged(staged)
    web.log.record(actor(request, who), "import", IMPORTS[kind], text)
    return RedirectResponse(web.urls("imports", query={"done": text}), status_code=303)


def routes() -> list[Route]:
    """This module's routes (built once the app's URL convertors are registered)."""
    return [
        Route("/materials", materials, methods=["GET"], name="materials"),
        Route("/materials", start_material, methods=["POST"], name="materials_post"),
        Route("/materials/{job}/{n:int}", material_file, methods=["GET"], name="material_file"),
        Route("/audit", audit, methods=["GET"], name="audit"),
        Route("/audit.xlsx", audit_xlsx, methods=["GET"], name="audit_xlsx"),
        Route("/imports", imports, methods=["GET"], name="imports"),
        Route("/imports", import_file, methods=["POST"], name="imports_post"),
    ]
