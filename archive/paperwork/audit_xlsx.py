"""The audit as the Excel workbook clerks work in: a findings sheet and a score sheet.

Real formatting, not a CSV in disguise: a title row, a bold shaded header frozen in place,
an autofilter over the table, column widths that fit Chinese text, wrapped long cells,
severity shading, landscape A4 printing fitted to the page width. Every cell from data is
text, never a formula (:func:`archive.core.cells.append_row`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archive.assess.audit import SEVERITY_LABELS, AuditFinding
from archive.assess.score import STATUS_LABELS, ScoreReport
from archive.core.cells import append_row

FINDING_HEADERS = ("序号", "级别", "类别", "评分子项", "对象", "文件", "说明", "处理办法", "代码")
FINDING_WIDTHS = (6, 6, 14, 9, 30, 48, 50, 50, 18)
SCORE_HEADERS = ("编号", "考核项目", "子项内容", "分值", "得分", "状况", "缺少什么", "证明材料")
SCORE_WIDTHS = (7, 14, 50, 7, 7, 10, 60, 12)
_FILLS = {"error": "FDE2E1", "warning": "FFF2CC", "info": "FFFFFF"}
_STATUS_FILLS = {
    "met": "E2EFDA",
    "partly_met": "FFF2CC",
    "not_met": "FDE2E1",
    "not_assessable": "EDEDED",
}


def sheet_head(ws: Any, title: str, note: str | None, headers: tuple[str, ...]) -> int:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    append_row(ws, [title])
    ws.cell(1, 1).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    row = 2
    if note:
        append_row(ws, [note])
        ws.cell(2, 1).font = Font(bold=True, color="C00000")
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(headers))
        row = 3
    append_row(ws, headers)
    thin = Side(style="thin", color="808080")
    for cell in ws[row]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="D9E1F2")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = Border(bottom=thin, top=thin, left=thin, right=thin)
    return row


def finish_sheet(ws: Any, header_row: int, widths: tuple[int, ...], wrap_cols: set[int]) -> None:
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter

    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    last = max(ws.max_row, header_row + 1)
    ws.freeze_panes = ws.cell(header_row + 1, 1)
    ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(widths))}{last}"
    for row in ws.iter_rows(min_row=header_row + 1):
        for cell in row:
            cell.alignment = Alignment(vertical="top", wrap_text=cell.column in wrap_cols)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def write_audit_xlsx(
    path: Path,
    findings: list[AuditFinding],
    report: ScoreReport | None = None,
    *,
    title: str = "档案自查问题清单",
    note: str | None = None,
) -> Path:
    """Write the findings (and, with ``report``, the score per criterion) to ``path``."""
    from openpyxl import Workbook
    from openpyxl.styles import PatternFill

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "问题清单"
    head = sheet_head(ws, title, note, FINDING_HEADERS)
    for i, f in enumerate(findings, 1):
        append_row(
            ws,
            [
                i,
                SEVERITY_LABELS.get(f.severity, f.severity),
                f.label,
                f.criterion or "",
                f.subject,
                f.record or "",
                f.message,
                f.action,
                f.code,
            ],
        )
        fill = _FILLS.get(f.severity)
        if fill and f.severity != "info":
            ws.cell(ws.max_row, 2).fill = PatternFill("solid", fgColor=fill)
    finish_sheet(ws, head, FINDING_WIDTHS, {5, 6, 7, 8})
    if report is not None:
        ss = wb.create_sheet("自评得分")
        total = (
            f"{report.standard}  {report.year}年自评  截至 {report.as_of}  "
            f"得分 {report.total_earned:g}/{report.total_possible:g}"
            f"（可评估部分 {report.assessable_earned:g}/{report.assessable_possible:g}）"
        )
        shead = sheet_head(ss, total, note, SCORE_HEADERS)
        for c in report.criteria:
            append_row(
                ss,
                [
                    c.code,
                    c.area,
                    c.text,
                    c.possible,
                    c.earned,
                    STATUS_LABELS[c.status],
                    "\n".join(c.missing[:30])
                    + (f"\n…等 {len(c.missing)} 项" if len(c.missing) > 30 else ""),
                    len(c.evidence),
                ],
            )
            ss.cell(ss.max_row, 6).fill = PatternFill("solid", fgColor=_STATUS_FILLS[c.status])
        append_row(ss, ["合计", "", "", report.total_possible, report.total_earned, "", "", ""])
        finish_sheet(ss, shead, SCORE_WIDTHS, {3, 7})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
