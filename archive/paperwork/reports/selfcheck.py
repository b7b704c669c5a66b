"""每月自查报告 (monthly self-check), compared with the month before.

What was checked and how much of it (dossiers audited, criteria assessed, documents filed
and dated this month), the problems found, how last month's problems were corrected, and
what changed since last month.

Each month's audit is kept as a snapshot, ``报告/自查快照/YYYY-MM.json`` under the archive
root, written when the report is generated (:func:`save_snapshot`). It is a record of what the
bureau found that month, not a cache: ``.dangan/`` (derived, rebuildable) is the wrong home for
it, and snapshots an older version wrote there are still read.  The previous month is read from its
snapshot; when there is none it is recomputed from the archive as of the last day of that
month, and the report says so (records filed later but dated earlier then count as if they
had been there).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from archive.assess.audit import ERROR, INFO
from archive.assess.figures import intake_figures
from archive.assess.score import ScoreReport
from archive.paperwork.officialdoc import (
    Attachment,
    Block,
    Heading,
    OfficialDocument,
    Paragraph,
    Table,
)
from archive.paperwork.reports.context import (
    Report,
    ReportContext,
    chinese_day,
    figure_sources,
    month_end,
)
from archive.records.store import write_json_atomic

LISTED = 200  # findings listed in the attachment table (all of them in the snapshot)
EXAMPLES = 5


SNAPSHOT_DIR = ("报告", "自查快照")
_LEGACY_DIR = (".dangan", "selfcheck")  # where snapshots were kept before 2026-11-22


def snapshot_path(root: Path, year: int, month: int) -> Path:
    return root.joinpath(*SNAPSHOT_DIR, f"{year}-{month:02d}.json")


def finding_key(f: dict[str, Any]) -> tuple[str, str, str, str]:
    """What identifies a finding from one month to the next."""
    return (f["code"], f.get("subject") or "", f.get("record") or "", f.get("message") or "")


def snapshot(score: ScoreReport, year: int, month: int, filed: int, dated: int) -> dict[str, Any]:
    return {
        "month": f"{year}-{month:02d}",
        "as_of": score.as_of.isoformat(),
        "standard": score.standard,
        "earned": score.assessable_earned,
        "possible": score.assessable_possible,
        "dossiers": score.dossiers,
        "filed": filed,
        "dated": dated,
        "findings": [f.as_dict() for f in score.findings if f.severity != INFO],
    }


def load_snapshot(root: Path, year: int, month: int) -> dict[str, Any] | None:
    path = snapshot_path(root, year, month)
    if not path.is_file():
        path = root.joinpath(*_LEGACY_DIR, path.name)
        if not path.is_file():
            return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a damaged snapshot is recomputed, as if absent
    return data


def save_snapshot(root: Path, data: dict[str, Any]) -> Path:
    year, month = (int(x) for x in data["month"].split("-"))
    path = snapshot_path(root, year, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data)
    return path


def _previous(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _dated(ctx: ReportContext, year: int, month: int) -> list[str]:
    prefix = f"{year}-{month:02d}-"
    return [
        f"records/{p}"
        for (p,) in ctx.catalog.db.execute(
            "SELECT path FROM records WHERE doc_date LIKE ? ORDER BY path", (prefix + "%",)
        )
    ]


def _month_state(ctx: ReportContext, year: int, month: int) -> tuple[ScoreReport, dict[str, Any]]:
    as_of = min(ctx.as_of, month_end(year, month))
    score = ctx.score(year, as_of)
    filed = intake_figures(ctx.catalog, year, month)[0]
    return score, snapshot(score, year, month, int(filed.value), len(_dated(ctx, year, month)))


def _group(findings: list[dict[str, Any]], examples: int = EXAMPLES) -> str:
    """ "缺少文书4项（…；…）；会议无记录1项（…）" with up to ``examples`` quoted per kind."""
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        by[f["label"]].append(f)
    parts = []
    for label, fs in by.items():
        quoted = "；".join(f"{f['subject']}：{f['message']}" for f in fs[:examples])
        more = "等" if len(fs) > examples else ""
        parts.append(f"{label}{len(fs)}项" + (f"（{quoted}{more}）" if quoted else ""))
    return ("；" if examples else "、").join(parts)


def _delta(now: float, before: float, unit: str) -> str:
    diff = round(now - before, 2)
    if diff == 0:
        return "与上月持平"
    return f"比上月{'增加' if diff > 0 else '减少'}{abs(diff):g}{unit}"


def build_selfcheck(ctx: ReportContext, month: int | None = None) -> Report:
    """The self-check report of ``month`` (default: the month of ``ctx.as_of``) of ctx.year."""
    year = ctx.year
    month = month or (ctx.as_of.month if ctx.as_of.year == year else 12)
    notes: list[str] = []
    score, now = _month_state(ctx, year, month)
    py, pm = _previous(year, month)
    before = load_snapshot(ctx.archive.root, py, pm)
    method = "上月自查记录"
    if before is None:
        _, before = _month_state(ctx, py, pm)
        method = f"按{chinese_day(month_end(py, pm))}的档案重新计算"
        notes.append(f"没有 {py}-{pm:02d} 的自查快照; 上月情况{method}")
    figures = {f.key: f for f in intake_figures(ctx.catalog, year, month)}
    period = f"{year}年{month}月"
    current = now["findings"]
    before_keys = {finding_key(f) for f in before["findings"]}
    now_keys = {finding_key(f) for f in current}
    resolved = [f for f in before["findings"] if finding_key(f) not in now_keys]
    carried = [f for f in current if finding_key(f) in before_keys]
    new = [f for f in current if finding_key(f) not in before_keys]
    errors = [f for f in current if f["severity"] == ERROR]
    hh, cases = score.dossiers.get("household", {}), score.dossiers.get("case", {})
    assessed = sum(c.status != "not_assessable" for c in score.criteria)
    intro = ctx.narrative.text("selfcheck.intro") or (
        f"按照创建优秀县级局工作要求，我局于{chinese_day(now_as_of(now))}对照{score.standard}，"
        f"对{period}创建工作和档案资料进行了自查。现将自查情况报告如下："
    )
    blocks: list[Block] = [Paragraph(intro), Heading(1, "自查的范围和数量")]
    blocks.append(
        Paragraph(
            f"本次自查逐户检查许可证档案{hh.get('total', 0)}户（材料齐全、有效的{hh.get('complete', 0)}户），"
            f"检查{year}年处罚案卷{cases.get('total', 0)}卷（材料齐全的{cases.get('complete', 0)}卷），"
            f"对照评分标准{len(score.criteria)}个评价子项逐项核对，其中可由档案核实的{assessed}项。"
            f"{period}归档文件{now['filed']}份，文件日期在本月的{now['dated']}份；"
            f"待归档（未能确定所属档案）{int(figures['tray'].value)}份，扫描不清晰{int(figures['illegible'].value)}份。"
        )
    )
    blocks.append(
        Paragraph(
            f"可由档案核实的评分子项共{now['possible']:g}分，自评得分{now['earned']:g}分，"
            f"{_delta(now['earned'], before['earned'], '分')}。"
        )
    )
    blocks.append(Heading(1, "发现的问题"))
    if current:
        blocks.append(
            Paragraph(
                f"本次自查共发现问题和待办事项{len(current)}项，其中问题{len(errors)}项、"
                f"待办{len(current) - len(errors)}项：{_group(current)}。详见附件。"
            )
        )
    else:
        blocks.append(Paragraph("本次自查未发现问题。"))
    blocks.append(Heading(1, "整改情况"))
    blocks.append(
        Paragraph(
            f"上月自查发现问题和待办事项{len(before['findings'])}项（{method}），"
            f"本月已整改{len(resolved)}项，仍未整改{len(carried)}项。"
        )
    )
    if resolved:
        blocks.append(Paragraph(_group(resolved) + "。", bold_lead="已整改："))
    if carried:
        blocks.append(Paragraph(_group(carried, 0) + "，详见附件。", bold_lead="仍未整改："))
    actions: dict[str, list[str]] = defaultdict(list)
    for f in current:
        actions[f["label"]].append(f["action"])
    for label, acts in actions.items():
        distinct = list(dict.fromkeys(acts))
        action = distinct[0] if len(distinct) == 1 else f"按自查问题清单逐项处理，如{distinct[0]}"
        blocks.append(Heading(3, f"{label}（{len(acts)}项）。", run_in=f"整改办法：{action}。"))
    blocks.append(Heading(1, "与上月相比"))
    hh_before = before.get("dossiers", {}).get("household", {})
    blocks.append(
        Paragraph(
            f"本月新发现问题和待办事项{len(new)}项，整改{len(resolved)}项，"
            f"问题总数{_delta(len(current), len(before['findings']), '项')}；"
            f"归档文件{_delta(now['filed'], before.get('filed', 0), '份')}；"
            f"材料齐全、有效的许可证档案{_delta(hh.get('complete', 0), hh_before.get('complete', 0), '户')}。"
            + (f"新发现：{_group(new)}。" if new else "")
        )
    )
    plans = ctx.narrative.blocks("selfcheck.plans", 3)
    if plans:
        blocks.append(Heading(1, "下一步工作"))
        blocks += plans
    rows = [
        [
            str(i),
            f["label"],
            f["subject"],
            f.get("record") or "",
            f.get("criterion") or "",
            f["action"],
        ]
        for i, f in enumerate(current[:LISTED], 1)
    ]
    if len(current) > LISTED:
        rows.append(["…", f"另有{len(current) - LISTED}项", "", "", "", "见 dangan audit --xlsx"])
    attachment = Attachment(
        f"{period}自查问题清单",
        [
            Table(
                ["序号", "问题", "所在档案", "文件", "评分子项", "整改办法"],
                rows or [["—", "无", "", "", "", ""]],
                widths=[0.8, 1.6, 2.4, 3, 1, 3],
                align=["center", "left", "left", "left", "center", "left"],
            )
        ],
    )
    document = OfficialDocument(
        title=ctx.narrative.text("selfcheck.title") or f"{ctx.bureau}\n{period}创建工作自查报告",
        issuer=ctx.bureau,
        date=ctx.date,
        blocks=blocks,
        doc_number=ctx.doc_number,
        header_org=f"{ctx.bureau}文件" if ctx.doc_number else None,
        addressee=ctx.narrative.addressee,
        attachments=[attachment],
        **ctx.marks("selfcheck"),
    )
    data: dict[str, Any] = {
        "month": now["month"],
        "previous": {"month": f"{py}-{pm:02d}", "method": method},
        "snapshot": now,
        "resolved": resolved,
        "carried": carried,
        "new": new,
    }
    return Report(
        "selfcheck", f"{period}自查报告", document, figures, figure_sources(figures), notes, data
    )


def now_as_of(snap: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(snap["as_of"])
