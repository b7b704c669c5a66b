"""销毁清册: every destroyed record (its 档号, 题名, 年度, 保管期限, who destroyed it, who
approved it, why, when), as XLSX and PDF, made from the destroyed records' kept metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archive.core.cells import append_row
from archive.paperwork.audit_xlsx import finish_sheet, sheet_head
from archive.paperwork.officialdoc import OfficialDocument, Paragraph, Table
from archive.paperwork.render_docx import write_atomically
from archive.paperwork.render_pdf import render_pdf

COLUMNS = (
    "序号",
    "档号",
    "题名",
    "年度",
    "保管期限",
    "页数",
    "销毁原因",
    "批准人",
    "经办人",
    "销毁日期",
)
WIDTHS = (6, 30, 36, 7, 10, 6, 30, 10, 10, 12)


def register_rows(sides: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for n, side in enumerate(sides, 1):
        gone = side["destroyed"]
        archival = side.get("archival") or {}
        rows.append(
            [
                str(n),
                str(archival.get("code") or ""),
                str(side.get("title") or side.get("doc_type") or ""),
                str(archival.get("year") or ""),
                str(archival.get("retention") or ""),
                str(side.get("pages") or ""),
                str(gone.get("reason") or ""),
                str(gone.get("approver") or ""),
                str(gone.get("by") or ""),
                str(gone.get("at") or "")[:10],
            ]
        )
    return rows


def write_register(sides: list[dict[str, Any]], bureau: str, folder: Path) -> tuple[Path, Path]:
    """Write 销毁清册.xlsx and 销毁清册.pdf into ``folder``."""
    import datetime as dt

    from openpyxl import Workbook

    rows = register_rows(sides)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "销毁清册"
    head = sheet_head(ws, f"{bureau} 档案销毁清册  共{len(rows)}件", None, COLUMNS)
    for row in rows:
        append_row(ws, row)
    finish_sheet(ws, head, WIDTHS, {3, 7})
    xlsx = folder / "销毁清册.xlsx"
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(xlsx, lambda tmp: wb.save(tmp))
    doc = OfficialDocument(
        title=f"{bureau}\n档案销毁清册",
        issuer=bureau,
        date=dt.date.today(),
        blocks=[
            Paragraph(
                f"以下{len(rows)}件档案已到保管期限, 经鉴定并批准后销毁。销毁后原件不再保存, "
                "其元数据与档号保留在档案库 records/已销毁/ 中, 档号不再使用。"
            ),
            Table(
                list(COLUMNS),
                rows or [["", "", "(无)", "", "", "", "", "", "", ""]],
                widths=[0.8, 3.2, 3.2, 1.0, 1.4, 0.8, 3.0, 1.2, 1.2, 1.6],
                align=[
                    "center",
                    "left",
                    "left",
                    "center",
                    "center",
                    "center",
                    "left",
                    "center",
                    "center",
                    "center",
                ],
            ),
        ],
    )
    pdf = render_pdf(doc, folder / "销毁清册.pdf")
    return xlsx, pdf
