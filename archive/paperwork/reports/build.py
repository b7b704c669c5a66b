"""Build a report by kind and write it out (.docx, .pdf and the figures' sources)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from archive.core.cells import csv_row
from archive.core.errors import UsageError
from archive.core.paths import child
from archive.paperwork.render_docx import render_docx, write_atomically
from archive.paperwork.render_pdf import render_pdf
from archive.paperwork.reports.context import (
    KINDS,
    SOURCES_SUFFIX,
    Report,
    ReportContext,
    open_context,
)

__all__ = ["build_report", "open_context", "write_report"]


def build_report(kind: str, ctx: ReportContext, **options: Any) -> Report:
    """Build one report: ``summary`` (month=), ``rectification`` (inspection=),
    ``selfcheck`` (month=)."""
    if kind == "summary":
        from archive.paperwork.reports.summary import build_summary

        return build_summary(ctx, **options)
    if kind == "rectification":
        from archive.paperwork.reports.rectification import build_rectification

        return build_rectification(ctx, **options)
    if kind == "selfcheck":
        from archive.paperwork.reports.selfcheck import build_selfcheck

        return build_selfcheck(ctx, **options)
    raise UsageError(f"未知的报告 {kind!r}: 应为 {'/'.join(KINDS)}")


def write_report(report: Report, out_dir: Path, *, pdf: bool = True) -> list[Path]:
    """Write ``<name>.docx``, ``<name>.pdf`` and, when the report states figures,
    ``<name>_数据来源.csv`` (every figure with every record behind it)."""
    out_dir = Path(out_dir)
    # The name comes from data (an inspection body, a year): one file name in out_dir,
    # whatever "/" or ".." it holds (the path policy)
    paths = [render_docx(report.document, child(out_dir, report.name, ".docx"))]
    if pdf:
        paths.append(render_pdf(report.document, child(out_dir, report.name, ".pdf")))
    if report.sources:
        target = child(out_dir, report.name, SOURCES_SUFFIX)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(["项目", "数值", "依据的档案记录"])
        writer.writerows(csv_row(row) for row in report.sources)
        data = ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8
        write_atomically(target, lambda tmp: tmp.write_bytes(data))
        paths.append(target)
    return paths
