"""The access log (利用登记) as an Excel workbook for the auditor, in the audit list's style."""

from __future__ import annotations

import io

from archive.access.log import LogEntry, LogFilter
from archive.access.roles import role_label
from archive.paperwork.audit_xlsx import finish_sheet, sheet_head

HEADERS = ("序号", "时间", "用户", "角色", "事项", "对象", "说明", "地址")
WIDTHS = (8, 20, 16, 12, 16, 60, 40, 16)
MAX_ROWS = 200_000  # one sheet; narrow the filter for more


def describe(f: LogFilter) -> str:
    parts = [
        f"用户 {f.user}" if f.user else "",
        f"事项 {f.action}" if f.action else "",
        f"自 {f.since}" if f.since else "",
        f"至 {f.until}" if f.until else "",
        f"含“{f.text}”" if f.text else "",
        f"地址 {f.address}" if f.address else "",
    ]
    return "筛选: " + ("，".join(p for p in parts if p) or "全部")


def access_log_xlsx(entries: list[LogEntry], *, bureau: str, f: LogFilter, check: str) -> bytes:
    """The workbook's bytes: a title, the filter and chain check, one row per entry."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "利用登记"
    head = sheet_head(ws, f"{bureau} 档案利用登记", f"{describe(f)}；{check}", HEADERS)
    for e in entries[:MAX_ROWS]:
        ws.append(
            [
                e.seq,
                e.at.replace("T", " ")[:19],
                e.user,
                role_label(e.role) if e.role else "",
                e.action_label,
                e.target,
                e.detail,
                e.address,
            ]
        )
    finish_sheet(ws, head, WIDTHS, {6, 7})
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
