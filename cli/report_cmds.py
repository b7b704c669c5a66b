"""report summary | rectification | selfcheck: the documents, as .docx and .pdf."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from archive.core.errors import UsageError
from archive.ops.materials import material_label
from archive.paperwork.reports.build import build_report, open_context, write_report
from archive.paperwork.reports.context import month_end, parse_day, parse_month
from archive.paperwork.reports.narrative import split_names
from cli.access_log import log_action
from cli.common import CRITERIA_OPTION, METRICS_OPTION, archive_option, emit_json, open_archive

F = TypeVar("F", bound=Callable[..., Any])


def _options(func: F) -> F:
    for option in reversed(
        (
            click.option(
                "--year", type=int, default=None, help="年度 (默认: --month 或 --as-of 所在年)"
            ),
            click.option("--month", default=None, help="月份, YYYY-MM"),
            click.option(
                "--as-of",
                "as_of",
                default=None,
                help="自查以哪一天为准, YYYY-MM-DD (默认: 今天, 不晚于所选期间的最后一天)",
            ),
            click.option(
                "--date", "date", default=None, help="成文日期, YYYY-MM-DD (默认: 同 --as-of)"
            ),
            click.option(
                "--doc-number",
                default=None,
                help="发文字号: 序号 (用报告素材.yaml 的 doc_prefix) 或完整文号",
            ),
            click.option(
                "--signer",
                "signers",
                multiple=True,
                help="签发人 (上行文; 可多次给出, 或用、分隔; 默认: 报告素材.yaml 的 signers)",
            ),
            click.option(
                "--out",
                "out_dir",
                type=click.Path(file_okay=False, path_type=Path),
                default=None,
                help="输出目录 (默认: 档案库的 报告/)",
            ),
            click.option(
                "--narrative",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                default=None,
                help="报告素材 YAML (默认: 档案库的 报告素材.yaml)",
            ),
            CRITERIA_OPTION,
            METRICS_OPTION,
            click.option("--no-pdf", is_flag=True, help="只写 .docx"),
            click.option("--json", "as_json", is_flag=True, help="以 JSON 输出报告的数字和文件"),
        )
    ):
        func = option(func)
    return archive_option(func)


def _dates(
    year: int | None, month: str | None, as_of: str | None, date: str | None
) -> tuple[int, int | None, dt.date, dt.date | None]:
    """(year, month, as_of, document date) from the options; nothing reads the clock when
    --as-of is given."""
    if year is not None and not 1990 <= year <= 2100:
        raise UsageError(f"--year {year}: 应为四位年份, 如 2024")
    m_year, m = parse_month(month) if month else (None, None)
    if m_year is not None and year is not None and m_year != year:
        raise UsageError(f"--year {year} 与 --month {month} 不是同一年; 只写 --month 即可")
    y = m_year or year
    if as_of is not None:
        day = parse_day(as_of, "--as-of")
    else:
        day = dt.date.today()
        if y is not None:
            end = month_end(y, m) if m else dt.date(y, 12, 31)
            day = min(day, end)
    doc_date = parse_day(date, "--date") if date is not None else None
    return (y or day.year), m, day, doc_date


def _generate(kind: str, opts: dict[str, Any], **build: Any) -> None:
    y, m, as_of, doc_date = _dates(opts["year"], opts["month"], opts["as_of"], opts["date"])
    archive = open_archive(opts["archive_dir"])
    out_dir = opts["out_dir"] or archive.root / "报告"
    with open_context(
        archive,
        year=y,
        as_of=as_of,
        date=doc_date,
        doc_number=opts["doc_number"],
        signers=[name for value in opts["signers"] for name in split_names(value)],
        narrative=opts["narrative"],
        criteria=opts["criteria"],
        metrics=opts["metrics"],
    ) as ctx:
        if ctx.inputs.sample_note:
            click.echo(ctx.inputs.sample_note, err=True)
        if kind != "rectification":
            build["month"] = m
        report = build_report(kind, ctx, **build)
    paths = write_report(report, out_dir, pdf=not opts["no_pdf"])
    if kind == "selfcheck":
        from archive.paperwork.reports.selfcheck import save_snapshot

        paths.append(save_snapshot(archive.root, report.data["snapshot"]))
    made = "、".join(p.name for p in paths)
    log_action(archive, "generate", material_label(kind, y, m), f"完成: {made}")
    if opts["as_json"]:
        emit_json({**report.as_dict(), "files": [str(p) for p in paths]})
    else:
        for path in paths:
            click.echo(str(path))
    for note in report.notes:
        click.echo(f"提示: {note}", err=True)


@click.group()
def report() -> None:
    """生成报告 (.docx + .pdf): summary 工作总结, rectification 整改情况报告, selfcheck 每月自查报告。"""


@report.command()
@_options
def summary(**opts: Any) -> None:
    """工作汇报/总结: 开展情况(数字取自档案)、存在的不足(取自自查)、举措、下一步计划。"""
    _generate("summary", opts)


@report.command()
@_options
@click.option("--inspection", default=None, help="哪一次检查 (检查日期, 默认: 最近一次)")
def rectification(inspection: str | None, **opts: Any) -> None:
    """整改情况报告: 检查发现的问题 → 整改措施 → 整改结果及检查后归档的证明材料。"""
    day = parse_day(inspection, "--inspection") if inspection else None
    _generate("rectification", opts, inspection=day)


@report.command()
@_options
def selfcheck(**opts: Any) -> None:
    """每月自查报告: 检查范围、发现的问题、整改情况、与上月相比 (保存本月自查快照)。"""
    _generate("selfcheck", opts)


COMMANDS = [report]
