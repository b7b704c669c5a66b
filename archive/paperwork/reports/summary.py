"""工作汇报/总结 (campaign summary), with figures from the archive.

Shape of the 2011 汇报 in seed 001: 一、开展情况 (the leading group, the bureau's own
paragraphs, the figures), 二、存在的不足 (drafted from the audit's open findings and the
inspection problems not yet rectified, then the bureau's own), 三、采取的举措, 四、下一步
工作计划.  附件1 lists, for each figure, the records it was computed from (the first
:data:`LISTED` of each; all of them in ``<name>_数据来源.csv``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from archive.assess.audit import (
    ERROR,
    INFO,
    ArchiveView,
    AuditFinding,
    check_cases,
    check_households,
)
from archive.assess.figures import CLASSES, Figure, compute_figures
from archive.assess.score import PARTLY, UNMET, ScoreReport
from archive.paperwork.officialdoc import (
    Attachment,
    Block,
    Heading,
    OfficialDocument,
    Paragraph,
    Table,
)
from archive.paperwork.reports.context import (
    SOURCES_SUFFIX,
    Report,
    ReportContext,
    figure_sources,
    month_end,
    number_text,
)

LISTED = 20  # records listed per figure in the appendix (all of them go to the CSV)
EXAMPLES = 3  # examples quoted per kind of problem under 二、存在的不足
PLACEHOLDER = "【待填写：{what}（报告素材.yaml 的 {key}）】"
_SOURCE_LABELS = {
    "roster": "零售户名册（roster.csv）",
    "catalog": "档案目录",
    "metrics": "自查数据（自查数据.yaml）及其证明材料",
}


def dossier_figures(ctx: ReportContext) -> list[Figure]:
    """Household dossiers and case files that hold every checklist document, are legible and
    (households) within their licence term, as the audit judges them on ``ctx.as_of``."""
    view = ArchiveView.load(ctx.catalog)
    checklists = ctx.inputs.checklists
    out = []
    for key, label, unit, checks in (
        (
            "dossiers_complete",
            "许可证档案完整",
            "户",
            check_households(view, checklists, ctx.as_of, None),
        ),
        ("cases_complete", "处罚案卷完整", "卷", check_cases(view, checklists, ctx.year, None)),
    ):
        done = [d for d in checks if d.records and d.complete]
        folders = sorted({f"records/{d.records[0].path.rsplit('/', 1)[0]}" for d in done})
        out.append(
            Figure(
                key, label, len(done), unit, "catalog", folders, f"共{len(checks)}{unit}接受检查"
            )
        )
    return out


def summary_figures(ctx: ReportContext, month: int | None = None) -> dict[str, Figure]:
    """Every figure the summary states, keyed as :func:`archive.assess.figures.compute_figures`."""
    figures = compute_figures(
        ctx.catalog,
        year=ctx.year,
        month=month,
        metrics=ctx.inputs.metrics,
        meeting_types=ctx.meeting_types(),
    )
    extra = {f.key: f for f in dossier_figures(ctx)}
    ordered: dict[str, Figure] = {}
    for key, f in figures.items():
        if key in ("filed", "tray", "illegible"):  # the self-check's business, not the summary's
            continue
        if key.startswith("class:"):
            klass = key.removeprefix("class:")
            f.records = [
                f"roster.csv：{h['licence_no']} {h['name']}"
                for h in ctx.catalog.households()
                if h["class"] == klass
            ]
        if key.startswith("metric:"):
            f.records = [_resolve(ctx, r) for r in f.records]
        ordered[key] = f
        if key == "dossiers":
            ordered["dossiers_complete"] = extra["dossiers_complete"]
        elif key == "seized":
            ordered["cases_complete"] = extra["cases_complete"]
    for key, f in extra.items():
        ordered.setdefault(key, f)
    return ordered


def _resolve(ctx: ReportContext, evidence: str) -> str:
    """A metric's evidence as a records/ path when it is given by record id (SHA-256)."""
    if len(evidence) == 64 and all(c in "0123456789abcdef" for c in evidence.lower()):
        row = ctx.catalog.by_sha(evidence.lower())
        if row is not None:
            return f"records/{row['path']}"
    return evidence


# ------------------------------------------------------------------------------ text


def _period(ctx: ReportContext, month: int | None) -> str:
    return f"{ctx.year}年{month}月" if month else f"{ctx.year}年"


def figures_paragraph(figures: dict[str, Figure], period: str) -> str:
    """The figures in a sentence or three, as a clerk writes them."""
    g = figures.get
    parts = []
    if (hh := g("households")) is not None:
        classes = "、".join(
            f"{k}{number_text(f.value)}户" for k in CLASSES if (f := g(f"class:{k}")) is not None
        )
        text = f"辖区持证卷烟零售户{number_text(hh.value)}户" + (
            f"，其中{classes}" if classes else ""
        )
        if (d := g("dossiers")) is not None:
            text += f"；按照“一户一档”要求建立许可证档案{number_text(d.value)}户"
            if (c := g("dossiers_complete")) is not None:
                text += f"，其中材料齐全、有效的{number_text(c.value)}户"
        parts.append(text + "。")
    if (cases := g("cases")) is not None:
        text = f"{period}共查办涉烟违法案件{number_text(cases.value)}起"
        if (s := g("seized")) is not None:
            text += f"，查获违法卷烟{number_text(s.value)}条"
        parts.append(text + "。")
    meetings = [f for k, f in figures.items() if k.startswith("meeting:") and f.value]
    if meetings:
        parts.append(
            "召开"
            + "、".join(f"{f.label}{number_text(f.value)}次" for f in meetings)
            + "，均有会议记录。"
        )
    metrics = [f for k, f in figures.items() if k.startswith("metric:")]
    if metrics:
        parts.append(
            "；".join(
                f"{f.label}{f.text}" + (f"（{f.note.split(';')[0]}）" if "/" in f.note else "")
                for f in metrics
            )
            + "。"
        )
    return "".join(parts)


def figures_table(figures: dict[str, Figure], period: str) -> Table:
    rows = [[f.label, number_text(f.value), f.unit] for f in figures.values()]
    return Table(
        columns=["项目", "数量", "单位"],
        rows=rows,
        caption=f"表1 {period}主要工作数字",
        widths=[4, 1.5, 1],
        align=["left", "right", "center"],
    )


def _criterion_areas(score: ScoreReport) -> dict[str, str]:
    return {c.code: c.area for c in score.criteria}


def open_problems(score: ScoreReport) -> dict[str, list[AuditFinding]]:
    """Findings still to be dealt with (errors and warnings), by area of the standard."""
    areas = _criterion_areas(score)
    out: dict[str, list[AuditFinding]] = defaultdict(list)
    for f in score.findings:
        if f.severity == INFO:
            continue
        out[areas.get(f.criterion or "", "档案管理")].append(f)
    return dict(out)


def _clause(findings: list[AuditFinding]) -> str:
    """ "许可证档案缺少文书3项（…；…；…等）" for findings of one code."""
    first = findings[0]
    examples = "；".join(f"{f.subject}：{f.message}" for f in findings[:EXAMPLES])
    more = "等" if len(findings) > EXAMPLES else ""
    return f"{first.label}{len(findings)}项（{examples}{more}）"


def shortcoming_blocks(ctx: ReportContext, score: ScoreReport) -> list[Block]:
    """二、存在的不足: one run-in heading per area, drafted from the audit."""
    blocks: list[Block] = []
    problems = open_problems(score)
    order = [c.area for c in score.criteria]
    for area in sorted(problems, key=lambda a: (order.index(a) if a in order else len(order), a)):
        by_code: dict[str, list[AuditFinding]] = defaultdict(list)
        for f in problems[area]:
            by_code[f.code].append(f)
        errors = sum(f.severity == ERROR for f in problems[area])
        lead = f"{area}方面还存在问题。" if errors else f"{area}方面还有待办事项。"
        blocks.append(
            Heading(3, lead, run_in="；".join(_clause(v) for v in by_code.values()) + "。")
        )
    quiet = [
        c for c in score.criteria if c.status in (UNMET, PARTLY) and not c.findings and c.missing
    ]
    for c in quiet:
        blocks.append(
            Heading(
                3,
                f"{c.area}“{c.text}”{c.status_label}。",
                run_in="；".join(c.missing) + "。",
            )
        )
    if score.sample:
        blocks.append(
            Paragraph(
                "以上问题按内置样例评分标准查找，导入本省考核验收评分标准后应重新生成本报告。"
            )
        )
    return blocks


def plan_blocks(score: ScoreReport) -> list[Block]:
    """下一步: what the audit says to do, one line per kind of problem."""
    actions: dict[str, list[AuditFinding]] = defaultdict(list)
    for f in score.findings:
        if f.severity != INFO:
            actions[f.code].append(f)
    out: list[Block] = []
    for found in actions.values():
        first = found[0]
        distinct = list(dict.fromkeys(f.action for f in found))
        action = distinct[0] if len(distinct) == 1 else f"按自查问题清单逐项处理，如{distinct[0]}"
        out.append(Heading(3, f"整改{first.label}问题（{len(found)}项）。", run_in=action + "。"))
    return out


def _appendix(figures: dict[str, Figure], name: str) -> list[Block]:
    blocks: list[Block] = [
        Paragraph(
            "本报告中的数字均由档案管理系统从档案目录、零售户名册和本局自查数据计算得出，"
            f"下列档案记录为各数字的依据；完整清单见同名文件“{name}{SOURCES_SUFFIX}”。"
        )
    ]
    for f in figures.values():
        source = _SOURCE_LABELS.get(f.source, f.source)
        note = f"；{f.note}" if f.note else ""
        if len(f.records) == 1 and f.records[0] not in source:
            note += f"；依据：{f.records[0]}"
        blocks.append(Heading(3, f"{f.label}：{f.text}。", run_in=f"来源：{source}{note}。"))
        if len(f.records) <= 1:
            continue
        rows = [[str(i), r] for i, r in enumerate(f.records[:LISTED], 1)]
        if len(f.records) > LISTED:
            rows.append(["…", f"另有{len(f.records) - LISTED}项，见{name}{SOURCES_SUFFIX}"])
        if rows:
            blocks.append(
                Table(["序号", "依据的档案记录"], rows, widths=[1, 9], align=["center", "left"])
            )
    return blocks


def build_summary(ctx: ReportContext, month: int | None = None) -> Report:
    """The campaign summary for ``ctx.year`` (or one month of it)."""
    story = ctx.narrative
    period = _period(ctx, month)
    as_of = min(ctx.as_of, month_end(ctx.year, month)) if month else ctx.as_of
    score = ctx.score(ctx.year, as_of)
    figures = summary_figures(ctx, month)
    notes: list[str] = []
    name = f"{period}工作总结"
    title = story.text("summary.title") or f"{ctx.bureau}\n{period}创建优秀县级局工作总结"

    def mine(key: str, what: str, level: int = 2) -> list[Block]:
        blocks = story.blocks(key, level)
        if not blocks:
            notes.append(f"报告素材.yaml 中没有 {key} ({what}); 报告中留有【待填写】")
            return [Paragraph(PLACEHOLDER.format(what=what, key=key))]
        return blocks

    intro = story.text("summary.intro") or (
        f"{period}，我局按照创建优秀县级烟草专卖局的工作安排，对照考核验收评分标准逐项落实各项工作。"
        f"现将{period}工作情况总结如下："
    )
    blocks: list[Block] = [Paragraph(intro), Heading(1, "开展情况")]
    if story.leading_group:
        blocks.append(
            Heading(2, "加强组织领导。", run_in="".join(e.text for e in story.leading_group))
        )
    else:
        notes.append("报告素材.yaml 中没有 leading_group (领导小组); 开展情况中未写组织领导")
    blocks += story.blocks("summary.progress", 2)
    blocks.append(Heading(2, "主要工作完成情况。", run_in=figures_paragraph(figures, period)))
    blocks.append(figures_table(figures, period))
    earned, possible = score.assessable_earned, score.assessable_possible
    if possible:
        blocks.append(
            Paragraph(
                f"对照{score.standard}自查，可由档案核实的评分子项共{possible:g}分，"
                f"自评得分{earned:g}分。"
            )
        )
    blocks.append(Heading(1, "存在的不足"))
    drafted = shortcoming_blocks(ctx, score)
    blocks += drafted
    blocks += story.blocks("summary.shortcomings", 3)
    if not drafted and not story.entries("summary.shortcomings"):
        blocks.append(Paragraph("经自查，档案中未发现需要整改的问题。"))
    if drafted and score.sample:
        blocks.append(
            Paragraph(
                "以上问题按内置样例评分标准查找，导入本省考核验收评分标准后应重新生成本报告。"
            )
        )
    blocks.append(Heading(1, "采取的举措"))
    blocks += mine("summary.measures", "本局采取的举措")
    blocks.append(Heading(1, "下一步工作计划"))
    plans = story.blocks("summary.plans", 3) + plan_blocks(score)
    blocks += plans or mine("summary.plans", "下一步工作计划")
    document = OfficialDocument(
        title=title,
        issuer=ctx.bureau,
        date=ctx.date,
        blocks=blocks,
        doc_number=ctx.doc_number,
        header_org=f"{ctx.bureau}文件" if ctx.doc_number else None,
        addressee=story.addressee,
        attachments=[Attachment("主要数字及其依据的档案记录", _appendix(figures, name))],
        **ctx.marks("summary"),
    )
    if story.addressee is None:
        notes.append("报告素材.yaml 中没有 upper_bureau (主送机关); 报告未写主送机关")
    data: dict[str, Any] = {
        "year": ctx.year,
        "month": month,
        "as_of": as_of.isoformat(),
        "score": {"earned": earned, "possible": possible},
        "open_findings": [f.as_dict() for fs in open_problems(score).values() for f in fs],
    }
    return Report("summary", name, document, figures, figure_sources(figures), notes, data)
