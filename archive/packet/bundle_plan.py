"""From the self-assessment score to the acceptance-evidence packet's plan.

:func:`plan_from_score` turns a :class:`~archive.assess.score.ScoreReport` into a
:class:`~archive.packet.bundle.BundlePlan`: areas and criteria in the standard's order, each
criterion's evidence records with the version to merge into ``验收材料.pdf`` (the
searchable ``.ocr.pdf`` beside a scan when there is one, the record itself when it is a
PDF, nothing for an image: the packet writer turns images into pages), a label and key
for the outline and the stamp, and a name a clerk can read in Explorer.

It also writes the packet's companion documents into ``workdir`` and lists them as the
plan's extra files:

- ``自评表.docx``: the self-assessment table as a GB/T 9704 document (criterion, points
  possible and claimed, status, evidence count, what is missing; subtotals and total);
- ``缺项清单.xlsx``: every audit finding and the score per criterion (the workbook of
  ``dangan audit --xlsx``);
- ``缺项清单.pdf``: the gaps as a document: criteria short of full marks with what they
  lack, then the findings with what to do.

Records that are neither PDF nor image (Word and Excel files, video, text) cannot be
merged as they are: Office files are converted with LibreOffice when it is installed
(safely: :mod:`archive.packet.office_convert`);
anything else gets one page in the packet naming the file, which is copied beside it.
Records are only read. With the same ``date`` the companion files are byte-identical
between two runs (zip entry times and document properties are pinned to ``date``).
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.assess.audit import SEVERITY_LABELS
from archive.assess.score import NA, STATUS_LABELS, CriterionScore, ScoreReport
from archive.core.config import Archive
from archive.core.paths import PathRefused, child, inside
from archive.packet.model import AreaPlan, BundlePlan, CriterionPlan, EvidenceDoc
from archive.packet.office_convert import convert_office
from archive.paperwork.officialdoc import Heading, OfficialDocument, Paragraph, Table
from archive.paperwork.stamp_copies import stamped_copy
from archive.records.catalog import Catalog
from archive.records.store import read_sidecar, sidecar_of

SELF_ASSESSMENT_NAME = "自评表.docx"
GAPS_XLSX_NAME = "缺项清单.xlsx"
GAPS_PDF_NAME = "缺项清单.pdf"
GAPS_PDF_MAX_FINDINGS = 300  # the PDF lists this many findings; the workbook lists all
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"}
_OFFICE_SUFFIXES = {".doc", ".docx", ".xls", ".xlsx"}
_CORE_DATES = re.compile(rb"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)")
_COLUMNS = (
    "path, dossier_kind, doc_type, title, licence_no, case_no, retailer, meeting_type, doc_date"
)


@dataclass(frozen=True)
class _Info:
    """What the catalog knows about one record, enough to name it."""

    kind: str
    doc_type: str | None
    title: str
    licence_no: str | None
    case_no: str | None
    retailer: str | None
    meeting: str | None
    date: str | None


def plan_from_score(
    archive: Archive,
    catalog: Catalog,
    report: ScoreReport,
    *,
    bureau: str,
    year: int,
    date: dt.date,
    workdir: Path | None = None,
    note: str | None = None,
    stamped: dict[Path, Path] | None = None,
) -> BundlePlan:
    """The packet's plan for ``report``; companion files are written into ``workdir``.

    ``stamped``: record → a copy stamped with its 归档章 for this packet (records without an
    up-to-date stamped copy of their own; see :func:`archive.paperwork.stamp_copies.stamp_into`).
    ``workdir`` must outlive :func:`archive.packet.bundle.build_bundle` (the files are copied
    then); without it a fresh temporary folder is made and left for the caller to
    remove (``plan.extra_files[0][0].parent``). ``note`` (e.g. the warning that the
    sample standard is in use) is printed at the head of the companion documents.
    """
    work = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="dangan-"))
    work.mkdir(parents=True, exist_ok=True)
    infos = _catalog_infos(catalog)
    households = {r["licence_no"]: r["name"] for r in catalog.households()}
    areas: list[AreaPlan] = []
    pending: list[tuple[EvidenceDoc, Path]] = []  # documents whose PDF is made here
    for area_name, scores in report.by_area().items():
        area = AreaPlan(area_name)
        for c in scores:
            docs: list[EvidenceDoc] = []
            for rel in c.evidence:
                info = infos.get(rel.removeprefix("records/"))
                checked = inside(archive.records, rel.removeprefix("records/"), what="证明材料")
                # the record as the rest of the archive names it (stamped copies are keyed so)
                source = archive.records / checked.relative_to(archive.records.resolve())
                doc = _evidence(source, info, households, stamped or {})
                if doc.pdf is None and doc.source.suffix.lower() not in _IMAGE_SUFFIXES:
                    pending.append((doc, source))
                docs.append(doc)
            area.criteria.append(
                CriterionPlan(c.code, _title(c), c.possible, c.earned, c.status_label, docs)
            )
        areas.append(area)
    _make_pdfs(pending, work / "converted")
    plan = BundlePlan(bureau=bureau, year=year, date=date, areas=areas)
    plan.extra_files = write_companions(plan, report, work, note=note)
    return plan


def write_companions(
    plan: BundlePlan, report: ScoreReport, folder: Path, *, note: str | None = None
) -> list[tuple[Path, str]]:
    """Write 自评表.docx, 缺项清单.xlsx and 缺项清单.pdf into ``folder``; (file, name) pairs."""
    from archive.paperwork.audit_xlsx import write_audit_xlsx
    from archive.paperwork.render_docx import render_docx
    from archive.paperwork.render_pdf import render_pdf

    folder.mkdir(parents=True, exist_ok=True)
    docx = render_docx(self_assessment_document(plan, report, note), folder / SELF_ASSESSMENT_NAME)
    _pin_zip(docx, plan.date)
    xlsx = write_audit_xlsx(
        folder / GAPS_XLSX_NAME,
        report.findings,
        report,
        title=f"{plan.bureau}{report.year}年度档案自查问题清单（截至{_cn_day(report.as_of)}）",
        note=note,
    )
    _pin_zip(xlsx, plan.date)
    pdf = render_pdf(gaps_document(plan, report, note), folder / GAPS_PDF_NAME)
    return [(docx, SELF_ASSESSMENT_NAME), (xlsx, GAPS_XLSX_NAME), (pdf, GAPS_PDF_NAME)]


# --------------------------------------------------------------------------- evidence


def _catalog_infos(catalog: Catalog) -> dict[str, _Info]:
    out: dict[str, _Info] = {}
    for r in catalog.db.execute(f"SELECT {_COLUMNS} FROM records"):
        out[r["path"]] = _Info(
            r["dossier_kind"],
            r["doc_type"],
            r["title"],
            r["licence_no"],
            r["case_no"],
            r["retailer"],
            r["meeting_type"],
            r["doc_date"],
        )
    return out


def _title(c: CriterionScore) -> str:
    return " ".join(c.text.split()) or c.item or c.code


def _searchable(source: Path) -> Path | None:
    """The record's searchable PDF derivative, when its sidecar names one that exists."""
    try:
        side = read_sidecar(sidecar_of(source))
    except (OSError, ValueError):
        return None
    derived = side.get("derivatives") or {}
    name = derived.get("searchable_pdf") if isinstance(derived, dict) else None
    if isinstance(name, str) and name:
        try:
            path = child(source.parent, name)
        except PathRefused:
            return None
        if path.name == name and path.is_file():
            return path
    return None


def _stamped(source: Path) -> tuple[Path | None, str | None]:
    """The record's stamped archival copy (when up to date) and its 档号."""
    try:
        side = read_sidecar(sidecar_of(source))
    except (OSError, ValueError):
        return None, None
    return stamped_copy(source, side), (side.get("archival") or {}).get("code")


def _evidence(
    source: Path, info: _Info | None, households: dict[str, str], stamped: dict[Path, Path]
) -> EvidenceDoc:
    suffix = source.suffix.lower()
    pdf, code = _stamped(source)  # the copy with its 归档章, when `dangan stamp` made it
    pdf = pdf or stamped.get(source)  # … or one stamped for this packet alone
    if pdf is None and suffix == ".pdf":
        pdf = source
    elif pdf is None and suffix in _IMAGE_SUFFIXES:
        pdf = _searchable(source)
    label, key, name = _names(source, info, households)
    return EvidenceDoc(source, pdf, label, key, name + suffix, code)


def _names(
    source: Path, info: _Info | None, households: dict[str, str]
) -> tuple[str, str | None, str]:
    """(outline label, stamp key, file name without extension) of one record."""
    stem = re.sub(r"^\d{3}_", "", source.stem)
    if info is None:
        return stem, None, stem
    kind = info.doc_type or info.title or stem
    title = info.title or kind
    if info.kind == "household" and info.licence_no:
        who = info.retailer or households.get(info.licence_no) or info.licence_no
        return f"{who} {kind}", info.licence_no, f"{who}_{kind}"
    if info.kind == "case" and info.case_no:
        return kind, info.case_no, f"{info.case_no}_{kind}"
    if info.kind == "meeting" and info.meeting:
        when = info.date or ""
        label = f"{kind}（{when}）" if when else kind
        return label, None, "_".join(p for p in (info.meeting, when, kind) if p)
    if info.doc_type and info.doc_type not in title:
        return title, info.case_no or info.licence_no, f"{title}_{info.doc_type}"
    return title, info.case_no or info.licence_no, title


def _make_pdfs(pending: list[tuple[EvidenceDoc, Path]], folder: Path) -> None:
    """A PDF for each record that is neither PDF nor image: LibreOffice, else a note page."""
    if not pending:
        return
    folder.mkdir(parents=True, exist_ok=True)
    office = [s for _d, s in pending if s.suffix.lower() in _OFFICE_SUFFIXES]
    converted = convert_office(office, folder / "office") if office else {}
    for n, (doc, source) in enumerate(pending, 1):
        made = converted.get(source)
        doc.pdf = made if made is not None else _note_page(doc, folder / f"{n:05d}.pdf")


def _note_page(doc: EvidenceDoc, out: Path) -> Path:
    """One page in the packet for a record that cannot be shown there (video, text…)."""
    import weasyprint  # heavy, and only needed for such records

    e = html.escape
    kind = doc.source.suffix.lstrip(".").upper() or "其他"
    lines = [
        f"本材料为 {e(kind)} 格式文件，无法合并进本册；原件已复制到验收包中本子项的文件夹。",
        f"验收包中的文件名：{e(doc.name)}",
        f"档案中的原件：{e(doc.source.name)}",
    ]
    if doc.key:
        lines.append(f"许可证号或案号：{e(doc.key)}")
    body = "".join(f"<p>{line}</p>" for line in lines)
    page = (
        '<html lang="zh-CN"><body style="font-family: \'Noto Serif CJK SC\'; font-size: 14pt">'
        f'<h1 style="font-size: 20pt">{e(doc.label)}</h1>{body}</body></html>'
    )
    weasyprint.HTML(string=page).write_pdf(out)
    return out


# --------------------------------------------------------------------------- documents


def _cn_day(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _short(items: list[str], limit: int = 3) -> str:
    text = "；".join(items[:limit])
    return text + (f" 等{len(items)}项" if len(items) > limit else "")


def _summary(report: ScoreReport) -> str:
    counts = {s: sum(c.status == s for c in report.criteria) for s in STATUS_LABELS}
    parts = "、".join(f"{STATUS_LABELS[s]}{n}项" for s, n in counts.items() if n)
    return (
        f"依据《{report.standard}》，对照{report.year}年度档案（截至{_cn_day(report.as_of)}），"
        f"共{len(report.criteria)}个评分子项：{parts}。自评得分{report.total_earned:g}分"
        f"（满分{report.total_possible:g}分；程序可评估的子项{report.assessable_earned:g}分，"
        f"满分{report.assessable_possible:g}分）。"
    )


def self_assessment_document(
    plan: BundlePlan, report: ScoreReport, note: str | None = None
) -> OfficialDocument:
    """自评表 as a GB/T 9704 document: one table per area of the standard, then the total."""
    blocks: list[Heading | Paragraph | Table] = []
    if note:
        blocks.append(Paragraph(note))
    blocks.append(Paragraph(_summary(report)))
    by_code = {c.code: c for c in report.criteria}
    docs_total = 0
    for area in plan.areas:
        rows: list[list[str]] = []
        possible = claimed = 0.0
        count = 0
        for crit in area.criteria:
            score = by_code.get(crit.code)
            missing = _short(score.missing) if score is not None else ""
            if score is not None and score.status == NA and not missing:
                missing = "需现场查看"
            rows.append(
                [
                    crit.code,
                    crit.title,
                    f"{crit.points_possible:g}",
                    f"{crit.points_claimed:g}",
                    crit.status,
                    str(len(crit.documents)),
                    missing or "—",
                ]
            )
            possible += crit.points_possible
            claimed += crit.points_claimed
            count += len(crit.documents)
        rows.append(["", "小计", f"{possible:g}", f"{claimed:g}", "", str(count), ""])
        docs_total += count
        blocks.append(Heading(1, area.name))
        blocks.append(
            Table(
                ["编号", "评价内容", "分值", "自评分", "状态", "佐证(件)", "缺少什么"],
                rows,
                widths=[1.2, 4.0, 1.4, 1.6, 1.6, 1.6, 3.2],
                align=["center", "left", "right", "right", "center", "right", "left"],
            )
        )
    blocks.append(Heading(1, "合计"))
    blocks.append(
        Paragraph(
            f"满分{report.total_possible:g}分，自评得分{report.total_earned:g}分；"
            f"佐证材料{docs_total}件，按评分标准顺序收入验收材料.pdf及各子项文件夹。"
        )
    )
    return OfficialDocument(
        title=f"{plan.bureau}\n{plan.year}年度考核验收自评表",
        issuer=plan.bureau,
        date=plan.date,
        blocks=blocks,
    )


def gaps_document(
    plan: BundlePlan, report: ScoreReport, note: str | None = None
) -> OfficialDocument:
    """缺项清单: the criteria short of full marks and what they lack, then the findings."""
    blocks: list[Heading | Paragraph | Table] = []
    if note:
        blocks.append(Paragraph(note))
    blocks.append(Paragraph(_summary(report)))
    short = [c for c in report.criteria if c.status != "met" or c.earned < c.possible]
    blocks.append(Heading(1, "缺项情况"))
    if short:
        blocks.append(
            Table(
                ["编号", "评价内容", "状况", "失分", "缺少什么"],
                [
                    [
                        c.code,
                        _title(c),
                        c.status_label,
                        f"{c.possible - c.earned:g}",
                        _short(c.missing, 8) or "—",
                    ]
                    for c in short
                ],
                widths=[1.2, 4.0, 1.6, 1.4, 4.8],
                align=["center", "left", "center", "right", "left"],
            )
        )
    else:
        blocks.append(Paragraph("所有评分子项均已达标，无缺项。"))
    blocks.append(Heading(1, "自查发现的问题"))
    findings = report.findings
    if findings:
        shown = findings[:GAPS_PDF_MAX_FINDINGS]
        if len(findings) > len(shown):
            blocks.append(
                Paragraph(
                    f"共{len(findings)}条，此处列出前{len(shown)}条（问题在前），"
                    f"全部见{GAPS_XLSX_NAME}。"
                )
            )
        blocks.append(
            Table(
                ["序号", "级别", "子项", "对象", "说明及处理办法"],
                [
                    [
                        str(i),
                        SEVERITY_LABELS.get(f.severity, f.severity),
                        f.criterion or "—",
                        f.subject,
                        f"{f.message}{'（' + f.record + '）' if f.record else ''}。处理：{f.action}",
                    ]
                    for i, f in enumerate(shown, 1)
                ],
                widths=[1.2, 1.4, 1.4, 3.0, 5.8],
                align=["center", "center", "center", "left", "left"],
            )
        )
    else:
        blocks.append(Paragraph("自查未发现问题。"))
    return OfficialDocument(
        title=f"{plan.bureau}\n{plan.year}年度考核验收缺项清单",
        issuer=plan.bureau,
        date=plan.date,
        blocks=blocks,
    )


# --------------------------------------------------------------------------- determinism


def _pin_zip(path: Path, when: dt.date) -> None:
    """Rewrite an Office file with every entry time and its document dates set to ``when``."""
    stamp = (max(when.year, 1980), when.month, when.day, 0, 0, 0)
    iso = f"{when.isoformat()}T00:00:00Z".encode()
    tmp = path.with_name(f".{path.name}.pin")
    entries: list[tuple[zipfile.ZipInfo, bytes]] = []
    with zipfile.ZipFile(path) as src:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "docProps/core.xml":
                data = _CORE_DATES.sub(lambda m: m.group(1) + iso + m.group(3), data)
            entries.append((info, data))
    with zipfile.ZipFile(tmp, "w") as dst:
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp)
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, data)
    os.replace(tmp, path)


def describe(plan: BundlePlan) -> dict[str, Any]:
    """Counts for the CLI: areas, criteria, documents, criteria without documents."""
    crits = [c for a in plan.areas for c in a.criteria]
    return {
        "areas": len(plan.areas),
        "criteria": len(crits),
        "documents": sum(len(c.documents) for c in crits),
        "without_documents": [c.code for c in crits if not c.documents],
    }
