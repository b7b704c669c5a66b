"""Why a document waits in the tray (待归档), in words a clerk can act on.

The tray holds what intake could not place, for different reasons: a household paper without
a licence number (不知属于哪一户), a case paper without its case number, minutes without their
meeting or year, and papers of the bureau's own whose name and text say neither what they are
(a scanner's ``扫描0001``) nor of which year. :func:`tray_reason` tells them apart from what the
catalog keeps of a record (its type, meeting, inbox path, name and text), so that
``dangan status``, the web app's 待归档 page and the audit say the real reason, not one for all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from archive.core.doctypes import CASE_TYPES, HOUSEHOLD_TYPES, MEETING_DOC_TYPES
from archive.core.keys import find_dates
from archive.core.titles import NO_YEAR, head_lines, name_work_material, year_written


@dataclass(frozen=True)
class TrayReason:
    code: str
    what: str  # why it waits, as the clerk reads it
    fix: str  # what to do


_PLACE = "或核对原件后在网页“待归档”页选定档案"
_BY_HAND = "核对原件后在网页“待归档”页选定档案和类型 (或 dangan move <文件> 工作材料/<年份>)"
REASONS = {
    r.code: r
    for r in (
        TrayReason(
            "household",
            "不知属于哪一户",
            "在文件名或文件夹名中写明许可证号, 或导入名册后运行 dangan refile, " + _PLACE,
        ),
        TrayReason("case", "不知属于哪一案", "在文件名或文件夹名中写明案号, " + _PLACE),
        TrayReason(
            "household_or_case", "不知属于哪一户或哪一案", "在文件名中写明许可证号或案号, " + _PLACE
        ),
        TrayReason(
            "meeting",
            "会议记录不知是什么会议或哪一年的",
            "放入 inbox/会议记录/<会议名称>/ 并在文件名中写明会议日期, " + _PLACE,
        ),
        TrayReason(
            "no_title",
            "不知是什么材料 (文件名是扫描仪默认的名称, 正文开头也没有标题)",
            _BY_HAND + "; 以后扫描时文件名写明年份和名称",
        ),
        TrayReason(
            "no_year",
            "工作材料不知是哪一年的 (文件名和正文都没有年份)",
            _BY_HAND + "; 以后文件名写明年份, 如 2024年岗位职责.pdf",
        ),
        TrayReason("work_material", "可按名称归入工作材料", "运行 dangan refile"),
    )
}


def tray_reason(
    doc_type: str | None,
    meeting_type: str | None,
    source: str,
    text: str = "",
    kinds: Mapping[str, str] | None = None,
    bureau: str | None = None,
    name: str | None = None,
) -> TrayReason:
    """Why a tray record waits: from its type, meeting, inbox path (``inbox/许可证/…``; the
    kind of its folder by ``kinds``, folder → kind), text and file name (without extension;
    by default the path's)."""
    parts = PurePosixPath(source).parts
    folder = parts[1] if len(parts) > 2 and parts[0] == "inbox" else ""
    kind = (kinds or {}).get(folder, "other")
    if kind in ("household", "case", "meeting"):
        return REASONS[kind]
    if doc_type in HOUSEHOLD_TYPES:
        return REASONS["household_or_case" if doc_type in CASE_TYPES else "household"]
    if doc_type in CASE_TYPES:
        return REASONS["case"]
    if doc_type in MEETING_DOC_TYPES or meeting_type:
        return REASONS["meeting"]
    if name is None:
        name = PurePosixPath(parts[-1]).stem if parts else ""
    dates = find_dates("\n".join(head_lines(text)))
    year = year_written(parts[1:-1]) or (dates[0].year if dates else None)
    typed = name_work_material(name, text, year, bureau=bureau)
    if typed.doc_type is not None:
        return REASONS["work_material"]
    return REASONS["no_year" if typed.missing == NO_YEAR else "no_title"]


def reason_counts(reasons: Iterable[TrayReason]) -> dict[str, int]:
    """Codes with their counts, most first (the order ``REASONS`` lists them among equals)."""
    order = list(REASONS)
    counts: dict[str, int] = {}
    for r in reasons:
        counts[r.code] = counts.get(r.code, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], order.index(kv[0]))))
