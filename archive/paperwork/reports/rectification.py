"""整改情况报告 (rectification report) to the upper bureau, after an inspection.

Shape of the 2010 report in seed 001: when the inspection was and which notice followed;
一、组织领导 (the leading group from the narrative file, who owns which area); 二、整改情况,
per area: the problem as the inspectors wrote it → the measures (the bureau's words) → the
result, with the records filed since the inspection that prove it (linked by
:func:`archive.assess.audit_links.link_findings`); problems not yet rectified are said plainly;
特此报告.  附件1 is the checklist of every problem with its status and evidence.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from archive.assess.audit_links import FindingLink, link_findings
from archive.assess.findings import Finding
from archive.assess.score import PARTLY, UNMET
from archive.core.errors import NotFoundError
from archive.paperwork.officialdoc import (
    Attachment,
    Block,
    Heading,
    OfficialDocument,
    Paragraph,
    Table,
)
from archive.paperwork.reports.context import Report, ReportContext, chinese_day
from archive.paperwork.reports.narrative import canonical_area

CITED = 2  # records cited (by title) in the body per problem; paths in the attachment
LISTED = 5  # records listed per problem in the attachment (all of them in the CSV)


def inspections(findings: list[Finding]) -> dict[tuple[dt.date, str], list[Finding]]:
    """Findings grouped by inspection (date, inspecting body), oldest first."""
    out: dict[tuple[dt.date, str], list[Finding]] = defaultdict(list)
    for f in findings:
        out[(f.inspected_on, f.body)].append(f)
    return dict(sorted(out.items()))


def choose_inspection(
    findings: list[Finding], as_of: dt.date, inspection: dt.date | None = None
) -> list[Finding]:
    """The findings of the inspection on ``inspection`` (default: the latest one on or
    before ``as_of``)."""
    groups = inspections(findings)
    if not groups:
        raise NotFoundError(
            "档案库中没有检查发现的问题 (检查发现.yaml); 先用 dangan findings import 导入"
            "检查组反馈的问题清单, 再生成整改报告"
        )
    if inspection is not None:
        chosen = [fs for (day, _), fs in groups.items() if day == inspection]
        if not chosen:
            days = "、".join(sorted({d.isoformat() for d, _ in groups}))
            raise NotFoundError(f"检查发现.yaml 中没有 {inspection} 的检查; 已有: {days}")
        return [f for fs in chosen for f in fs]
    past = [k for k in groups if k[0] <= as_of] or list(groups)
    day = past[-1][0]
    return [f for (d, _), fs in groups.items() if d == day for f in fs]


def _span(f: Finding) -> str:
    start = chinese_day(f.inspected_on)
    end = f.inspected_until
    if end is None or end == f.inspected_on:
        return start
    if end.year == f.inspected_on.year:
        return f"{start}至{end.month}月{end.day}日"
    return f"{start}至{chinese_day(end)}"


def _result(ctx: ReportContext, link: FindingLink) -> str:
    """What became of one problem, in plain words, citing the records that prove it (their
    paths are listed in the attachment)."""
    f = link.finding
    cited = "".join(f"《{ctx.ref(r).title}》" for r in link.records[:CITED])
    if len(link.records) > CITED:
        cited += f"等{len(link.records)}份"
    overdue = f"已超过整改期限（{chinese_day(f.deadline)}）" if link.overdue else ""
    if link.status == "rectified":
        return f"已整改，检查后归档证明材料{cited}，对照评分标准已达标。"
    if link.status == "in_progress":
        missing = _missing(ctx, link)
        return f"整改中{'，' + overdue if overdue else ''}：检查后已归档{cited}，" + (
            f"尚缺{missing}。" if missing else "对照评分标准尚未达标。"
        )
    if link.status == "manual":
        return "需人工确认：本项不能由档案自动核实，请对照检查组意见现场核实。"
    return f"尚未整改{'，' + overdue if overdue else ''}，检查后没有归档相应的整改材料。"


def _missing(ctx: ReportContext, link: FindingLink) -> str:
    score = ctx.score()
    missing: list[str] = []
    for code in link.criteria:
        try:
            c = score.criterion(code)
        except KeyError:
            continue
        if c.status in (UNMET, PARTLY):
            missing += c.missing
    return "；".join(missing[:2]) + ("等" if len(missing) > 2 else "")


def _listed(ctx: ReportContext, record: str) -> str:
    ref = ctx.ref(record)
    return f"{ref.path}（{chinese_day(ref.filed_on)}归档）" if ref.filed_on else ref.path


def _owners_table(ctx: ReportContext, by_area: dict[str, list[FindingLink]]) -> Table:
    rows = []
    for area, links in by_area.items():
        owners = ctx.narrative.owner(area) or "、".join(
            dict.fromkeys(link.finding.owner for link in links)
        )
        deadline = max(link.finding.deadline for link in links)
        rows.append([area, owners, chinese_day(deadline)])
    return Table(
        ["整改方面", "责任人", "完成时限"], rows, caption="表1 整改工作分工", widths=[2, 2, 2]
    )


def build_rectification(ctx: ReportContext, inspection: dt.date | None = None) -> Report:
    """The rectification report on the chosen inspection's findings, as of ``ctx.as_of``."""
    story = ctx.narrative
    notes: list[str] = []
    chosen = choose_inspection(ctx.inputs.findings, ctx.as_of, inspection)
    links = link_findings(chosen, ctx.score(), ctx.catalog)
    first = chosen[0]
    body = first.body
    by_area: dict[str, list[FindingLink]] = defaultdict(list)
    for link in links:
        by_area[canonical_area(link.finding.area)].append(link)
    counts = {
        s: sum(link.status == s for link in links)
        for s in ("rectified", "in_progress", "open", "manual")
    }
    notice = f"，{first.notice}要求我局对检查发现的问题进行整改" if first.notice else ""
    intro = story.text("rectification.intro") or (
        f"{_span(first)}，{body}对我局创建优秀县级局工作进行了检查，指出了工作中存在的问题和不足{notice}。"
        "我局对照检查反馈的问题逐条制定整改措施、落实整改责任，相关资料、档案归档备查。"
        "现将整改情况报告如下："
    )
    blocks: list[Block] = [Paragraph(intro), Heading(1, "组织领导")]
    if story.leading_group:
        blocks += [
            e.block(2) if e.title else Paragraph(e.text, e.lead) for e in story.leading_group
        ]
    else:
        notes.append("报告素材.yaml 中没有 leading_group (整改领导小组); 组织领导一节只有分工表")
    blocks.append(Paragraph("整改工作分工如下表。"))
    blocks.append(_owners_table(ctx, by_area))
    blocks.append(Heading(1, "整改情况"))
    blocks.append(
        Paragraph(
            f"{body}共指出{len(by_area)}个方面{len(links)}个问题。截至{chinese_day(ctx.as_of)}，"
            f"已整改{counts['rectified']}个，整改中{counts['in_progress']}个，"
            f"尚未整改{counts['open']}个"
            + (f"，需人工确认{counts['manual']}个" if counts["manual"] else "")
            + "。具体情况如下："
        )
    )
    for area, area_links in by_area.items():
        blocks.append(Heading(2, f"{area}方面。"))
        numbered = len(area_links) > 1
        problems = "；".join(
            (f"{i}.{link.finding.problem}" if numbered else link.finding.problem).rstrip("。；;")
            for i, link in enumerate(area_links, 1)
        )
        blocks.append(Paragraph(problems + "。", bold_lead="存在问题："))
        measures = story.measures(area)
        if measures:
            blocks.append(Paragraph(measures, bold_lead="整改措施："))
        else:
            notes.append(f"报告素材.yaml 中没有 rectification.measures.{area} (整改措施)")
            blocks.append(
                Paragraph(
                    f"【待填写：{area}方面的整改措施（报告素材.yaml 的 rectification.measures）】",
                    bold_lead="整改措施：",
                )
            )
        results = "".join(
            (f"{i}.{_result(ctx, link)}" if numbered else _result(ctx, link))
            for i, link in enumerate(area_links, 1)
        )
        blocks.append(Paragraph(results, bold_lead="整改结果："))
    unresolved = [link for link in links if link.status in ("open", "in_progress")]
    if unresolved:
        blocks.append(Heading(1, "尚未完成整改的问题"))
        blocks.append(
            Paragraph(
                "以下问题尚未整改到位，我局将明确时限、落实到人，整改完成后另行报告："
                + "；".join(
                    f"{canonical_area(link.finding.area)}：{link.finding.problem.rstrip('。')}"
                    f"（{link.status_label}，责任人{link.finding.owner}）"
                    for link in unresolved
                )
                + "。"
            )
        )
    nxt = story.blocks("rectification.next", 3)
    if nxt:
        blocks.append(Heading(1, "下一步工作"))
        blocks += nxt
    checklist = Table(
        ["问题", "责任人", "整改结果", "证明材料（检查后归档）"],
        [
            [
                f"{canonical_area(link.finding.area)}：{link.finding.problem}",
                link.finding.owner,
                link.status_label + ("（逾期）" if link.overdue else ""),
                "\n".join(_listed(ctx, r) for r in link.records[:LISTED])
                + (f"\n……共{len(link.records)}份" if len(link.records) > LISTED else "")
                or "无",
            ]
            for link in links
        ],
        caption="表2 整改问题清单",
        widths=[3.2, 1.2, 1.4, 5.2],
    )
    title = story.text("rectification.title") or (
        f"关于{first.inspected_on.year}年{body}检查发现问题\n整改情况的报告"
    )
    document = OfficialDocument(
        title=title,
        issuer=ctx.bureau,
        date=ctx.date,
        blocks=blocks,
        doc_number=ctx.doc_number,
        addressee=story.addressee,
        closing="特此报告。",
        attachments=[Attachment("整改问题清单", [checklist])],
        header_org=f"{ctx.bureau}文件" if ctx.doc_number else None,
        **ctx.marks("rectification"),
    )
    if story.addressee is None:
        notes.append("报告素材.yaml 中没有 upper_bureau (主送机关); 报告未写主送机关")
    sources = [
        (f"{canonical_area(link.finding.area)}：{link.finding.problem}", link.status_label, r)
        for link in links
        for r in link.records or [""]
    ]
    data: dict[str, Any] = {
        "inspection": {
            "date": first.inspected_on.isoformat(),
            "body": body,
            "notice": first.notice,
        },
        "as_of": ctx.as_of.isoformat(),
        "counts": counts,
        "findings": [link.as_dict() for link in links],
    }
    name = f"{first.inspected_on.year}年{body}检查整改情况报告"
    return Report("rectification", name, document, {}, sources, notes, data)
