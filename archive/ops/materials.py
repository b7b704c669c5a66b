"""The materials a clerk generates in the background (:mod:`archive.ops.jobs`): the three
reports (.docx and .pdf) and the acceptance packet (a zipped BagIt bag).

:func:`material_work` turns a kind and its period into the job's work; the web app's 材料
page starts it with :meth:`archive.ops.jobs.Jobs.start`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from archive.assess.audit_inputs import load_inputs
from archive.core.config import Archive
from archive.core.errors import UsageError
from archive.ops.jobs import JobResult, Progress, Work
from archive.packet.make import make_packet
from archive.paperwork.reports.build import build_report, open_context, write_report
from archive.paperwork.reports.context import month_end

#: kind → what the clerk calls it.
MATERIALS: dict[str, str] = {
    "summary": "工作总结",
    "rectification": "整改情况报告",
    "selfcheck": "每月自查报告",
    "packet": "考核验收材料包",
}

PACKET_NAME = "验收材料"


def period(year: int, month: int | None, today: dt.date) -> dt.date:
    """The day the material is as of: today, but no later than the end of the period."""
    if not 1990 <= year <= 2100:
        raise UsageError(f"年度 {year}: 应为四位年份, 如 2024")
    if month is not None and not 1 <= month <= 12:
        raise UsageError(f"月份 {month}: 应为 1 到 12")
    end = month_end(year, month) if month else dt.date(year, 12, 31)
    return min(today, end)


def material_label(kind: str, year: int, month: int | None) -> str:
    if kind not in MATERIALS:
        raise UsageError(f"未知的材料 {kind!r}: 应为 {'、'.join(MATERIALS.values())}")
    when = f"{year}年{month}月" if month and kind in ("summary", "selfcheck") else f"{year}年"
    return f"{when}{MATERIALS[kind]}"


def material_work(
    archive: Archive, kind: str, year: int, month: int | None, as_of: dt.date
) -> Work:
    """The work of one material (see module doc); it writes into the job's folder."""
    material_label(kind, year, month)  # an unknown kind is refused before a job starts
    if kind == "packet":

        def packet(folder: Path, progress: Progress) -> JobResult:
            inputs = load_inputs(archive)
            made = make_packet(
                archive,
                inputs,
                year,
                as_of,
                folder / PACKET_NAME,
                zip_output=True,
                progress=lambda stage, done, total: progress(done, total, stage),
            )
            notes = [inputs.sample_note] if inputs.sample_note else []
            if made.data["without_documents"]:
                notes.append("无佐证材料的子项: " + "、".join(made.data["without_documents"]))
            return JobResult([made.bag], notes)

        return packet

    def report(folder: Path, progress: Progress) -> JobResult:
        progress(0, 2, "汇总档案")
        with open_context(archive, year=year, as_of=as_of) as ctx:
            options = {} if kind == "rectification" else {"month": month}
            built = build_report(kind, ctx, **options)
            progress(1, 2, "排版 .docx 和 .pdf")
        paths = write_report(built, folder)
        if kind == "selfcheck":
            from archive.paperwork.reports.selfcheck import save_snapshot

            save_snapshot(archive.root, built.data["snapshot"])
        notes = list(built.notes)
        if ctx.inputs.sample_note:
            notes.insert(0, ctx.inputs.sample_note)
        return JobResult(paths, notes)

    return report
