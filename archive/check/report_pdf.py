"""The 四性检测 report as a document (PDF through the paperwork stage's renderer)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from archive.check.items import FAIL, NATURES, CheckReport
from archive.paperwork.officialdoc import Heading, OfficialDocument, Paragraph, Table
from archive.paperwork.render_pdf import render_pdf

_SHOWN = 30  # problems listed per item in the document (all are in --json)


def report_document(report: CheckReport, bureau: str) -> OfficialDocument:
    items = report.ordered()
    failed = [i for i in items if i.verdict == FAIL]
    blocks: list[Heading | Paragraph | Table] = [
        Paragraph(
            f"依据 DA/T 70-2018《文书类电子档案检测一般要求》, 于{report.at[:16].replace('T', ' ')}"
            f"对{report.subject} {report.target} 进行真实性、完整性、可用性、安全性检测, 共"
            f"{len(items)}项: 通过{sum(i.verdict == '通过' for i in items)}项, 不通过{len(failed)}项, "
            f"未执行{sum(i.verdict == '未执行' for i in items)}项。"
        )
    ]
    for digit, nature in NATURES.items():
        rows = [
            [
                i.code,
                i.name,
                str(i.checked),
                i.verdict,
                i.not_done or (f"{i.problem_count}处" if i.problem_count else i.note or "—"),
            ]
            for i in items
            if i.code.split("-")[1] == digit
        ]
        blocks.append(Heading(1, f"{nature}检测"))
        blocks.append(
            Table(
                ["编号", "检测项目", "检测数", "结论", "说明"],
                rows,
                widths=[1.6, 5.0, 1.4, 1.4, 3.6],
                align=["center", "left", "right", "center", "left"],
            )
        )
    if failed:
        blocks.append(Heading(1, "不通过项目的问题"))
        for item in failed:
            shown = item.problems[:_SHOWN]
            more = (
                f" (共{item.problem_count}处, 此处列出{len(shown)}处)"
                if item.problem_count > len(shown)
                else ""
            )
            blocks.append(Paragraph(f"{item.code} {item.name}{more}:"))
            blocks.append(
                Table(
                    ["对象", "问题"],
                    [[p["where"], p["detail"]] for p in shown],
                    widths=[6.0, 7.0],
                    align=["left", "left"],
                )
            )
    return OfficialDocument(
        title=f"{report.subject}四性检测报告",
        issuer=bureau,
        date=dt.date.fromisoformat(report.at[:10]),
        blocks=blocks,
    )


def write_report_pdf(report: CheckReport, bureau: str, out: Path) -> Path:
    return render_pdf(report_document(report, bureau), out)
