"""归档文件目录, 卷内目录 and 备考表 (DA/T 22-2015), as PDF (A4 landscape) and XLSX.

The 归档文件目录 of a year lists every 件 numbered in that year, group by group (保管期限 ·
机构(问题)), in 件号 order, with the columns 序号, 档号, 文号, 责任者, 题名, 日期, 密级, 页数,
备注. A number is never left out: a withdrawn 件 is listed with its number and the reason, a
destroyed one with its register entry, a number vacated by a correction with the number
that replaced it — so the 件号 of each group can be read through without a gap.

The 卷内目录 of a dossier uses the same columns for the documents filed in it, and is followed
by its 备考表 (documents and pages, what was withdrawn or corrected, by whom, the check).

Both come from the catalog (a cache of the records: ``dangan reindex`` rebuilds it); the PDF
is laid out by weasyprint with the paperwork stage's CJK fonts, the workbook by openpyxl with
the audit workbook's formatting.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.core.cells import append_row
from archive.core.config import Archive
from archive.core.errors import NotFoundError
from archive.intake.rules import rules_for_reading
from archive.paperwork.audit_xlsx import finish_sheet, sheet_head
from archive.paperwork.render_docx import write_atomically
from archive.paperwork.render_pdf import cjk_fonts, font_face_css
from archive.records.catalog import Catalog
from archive.records.dossier import find_dossiers

COLUMNS = ("序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注")
WIDTHS_MM = (12, 52, 34, 34, 72, 20, 12, 12, 29)
XLSX_WIDTHS = (6, 30, 20, 20, 46, 11, 6, 6, 30)
RETENTION_ORDER = {"永久": 0, "定期30年": 1, "定期10年": 2}
# Documents a retailer hands in: the retailer is their 责任者 (the bureau is, for the rest).
_FROM_RETAILER = (
    "申请表", "身份证明", "营业执照", "经营场所证明", "变更申请", "延续申请", "停业申请", "歇业申请",
)  # fmt: skip
_CASE_NUMBERED = ("行政处罚决定书", "行政处罚事先告知书", "案件移送书", "先行登记保存通知书")


@dataclass
class Entry:
    """One line of a catalogue."""

    code: str
    item: int
    doc_number: str
    author: str
    title: str
    date: str  # YYYYMMDD
    secrecy: str
    pages: str
    note: str
    record: str
    group: tuple[str, str]  # (保管期限, 机构(问题) name)

    def cells(self, n: int) -> list[str]:
        return [
            str(n),
            self.code,
            self.doc_number,
            self.author,
            self.title,
            self.date,
            self.secrecy,
            self.pages,
            self.note,
        ]


@dataclass
class Catalogue:
    title: str
    bureau: str
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # 备考表 lines (dossier catalogues)
    subtitle: str = ""

    def groups(self) -> list[tuple[tuple[str, str], list[Entry]]]:
        out: dict[tuple[str, str], list[Entry]] = {}
        for e in self.entries:
            out.setdefault(e.group, []).append(e)
        return list(out.items())


def _title(row: Any, bureau: str) -> str:
    title = str(row["title"] or row["doc_type"] or row["original_name"])
    who = row["retailer"] or row["licence_no"]
    if row["dossier_kind"] == "household" and who and str(who) not in title:
        return f"{who}{row['doc_type'] or title}"
    if (
        row["dossier_kind"] == "meeting"
        and row["meeting_type"]
        and row["meeting_type"] not in title
    ):
        return f"{row['meeting_type']}{row['doc_type'] or title}"
    if row["case_no"] and row["doc_type"] and row["doc_type"] not in title:
        return f"{row['case_no']} {row['doc_type']}"
    return title


def _entry(row: Any, number: Any, bureau: str) -> Entry:
    author = bureau
    if row["doc_type"] in _FROM_RETAILER and (row["retailer"] or row["licence_no"]):
        author = str(row["retailer"] or row["licence_no"])
    date = str(row["doc_date"] or "").replace("-", "")
    doc_number = str(row["case_no"] or "") if row["doc_type"] in _CASE_NUMBERED else ""
    state = number["state"]
    note = ""
    if state == "vacated":
        note = f"已改号为 {row['archival_code'] or '—'}"
    elif state == "withdrawn" or row["status"] == "withdrawn":
        note = "已撤出"
    elif state == "destroyed":
        note = "已销毁, 见销毁清册"
    return Entry(
        code=str(number["code"]),
        item=int(number["item"]),
        doc_number=doc_number,
        author=author,
        title=_title(row, bureau),
        date=date,
        secrecy="",  # 密级: the bureau's evidence files are not classified
        pages="" if row["pages"] is None else str(row["pages"]),
        note=note,
        record=f"records/{row['path']}",
        group=(str(number["retention"]), str(number["org"])),
    )


def year_catalogue(archive: Archive, catalog: Catalog, year: int) -> Catalogue:
    """The 归档文件目录 of ``year`` (see module doc)."""
    config = archive.config
    names = {config.org_codes[k]: v for k, v in config.org_names.items() if k in config.org_codes}
    rows = catalog.db.execute(
        "SELECT n.fonds, n.year, n.retention, n.org, n.item, n.code, n.state, r.* "
        "FROM numbers n JOIN records r ON r.record_id = n.record_id WHERE n.year = ?",
        (year,),
    ).fetchall()
    if not rows:
        raise NotFoundError(
            f"{year}年没有已编档号的文件; 先归档, 或运行 dangan number 给旧文件编号"
        )
    entries = []
    for row in rows:
        entry = _entry(row, row, config.bureau)
        entry.group = (str(row["retention"]), names.get(str(row["org"]), str(row["org"])))
        entries.append(entry)
    entries.sort(key=lambda e: (RETENTION_ORDER.get(e.group[0], 9), e.group[1], e.item))
    fonds = f"全宗号 {config.fonds}  " if config.fonds else ""
    return Catalogue(
        title="归档文件目录",
        bureau=config.bureau,
        entries=entries,
        subtitle=f"{fonds}{config.bureau}  {year}年度  共{len(entries)}件",
    )


def dossier_catalogue(archive: Archive, catalog: Catalog, key: str) -> Catalogue:
    """A dossier's 卷内目录 and 备考表 (``key``: licence, case, ``会议/年`` or a retailer).

    The 件 filed in the dossier are listed; those filed in another dossier that belong to this
    one too (minutes of a case meeting in a case's dossier) are named in the 备考表 as 互见,
    with their 档号 and where they are kept, as the dossier lists them (records.dossier)."""
    found = find_dossiers(catalog, key, rules_for_reading(archive.root).canonical_meeting)
    groups = [d for d in found if not d.apart]
    if not groups:
        raise NotFoundError(f"没有找到档案 {key!r}; 可用许可证号、户名、案号或 “会议类型/年份”")
    listed = (catalog.by_sha(d.record_id) for d in groups[0].filed)
    rows = [row for row in listed if row is not None]
    out_of_it = [d for g in found if g.kind == "withdrawn" for d in g.documents]
    seen = [
        f"互见: {d.doc_type or d.title} {d.date or ''} 档号 "
        f"{d.archival_code or '(未编档号)'}, 存于{d.filed_in} ({d.record})。"
        for d in groups[0].see_also
    ]
    config = archive.config
    entries = []
    for row in rows:
        number = {
            "code": row["archival_code"] or "(未编档号)",
            "item": 0,
            "state": "current",
            "retention": row["retention"] or "",
            "org": "",
        }
        entry = _entry(row, number, config.bureau)
        entry.group = ("", "")
        entries.append(entry)
    entries.sort(key=lambda e: e.record)
    withdrawn = len(out_of_it)
    corrections = catalog.db.execute(
        "SELECT event, actor, reason, at FROM events WHERE record_id IN "
        f"({','.join('?' for _ in rows)}) AND actor != '' ORDER BY at",
        [r["record_id"] for r in rows],
    ).fetchall()
    pages = sum(int(r["pages"] or 0) for r in rows)
    people = sorted({c["actor"] for c in corrections})
    notes = [
        f"本卷共 {len(rows)} 件, {pages} 页。",
        f"撤出 {withdrawn} 件 (原件与说明存于 records/已撤出/, 档号保留)。",
        f"更正 {len(corrections)} 次"
        + (f", 经办人: {'、'.join(people)}。" if people else "。")
        + "每次更正的时间、经办人和原因见各件历史 (dangan history)。",
        *seen,
        f"立卷人: ____________    检查人: ____________    立卷时间: {dt.date.today():%Y年%m月%d日}",
    ]
    dossier = groups[0].key
    return Catalogue(
        title="卷内目录",
        bureau=config.bureau,
        entries=entries,
        notes=notes,
        subtitle=f"{config.bureau}  档案 {dossier}  共{len(rows)}件",
    )


# --------------------------------------------------------------------------- writing


def _html(cat: Catalogue) -> str:
    e = html.escape
    cols = "".join(f'<col style="width:{w}mm">' for w in WIDTHS_MM)
    head = "<tr>" + "".join(f"<th>{e(c)}</th>" for c in COLUMNS) + "</tr>"
    parts = []
    n = 0
    for (retention, org), entries in cat.groups():
        if retention or org:
            parts.append(f'<tr class="group"><td colspan="9">{e(retention)} · {e(org)}</td></tr>')
        for entry in entries:
            n += 1
            cells = entry.cells(n)
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
    notes = ""
    if cat.notes:
        lines = "".join(f"<p>{e(line)}</p>" for line in cat.notes)
        notes = f'<section class="note"><h1>备考表</h1>{lines}</section>'
    css = f"""
{font_face_css(cjk_fonts())}
@page {{ size: A4 landscape; margin: 16mm 12mm 14mm 12mm;
  @bottom-center {{ content: "第 " counter(page) " 页 共 " counter(pages) " 页";
    font-family: "GwSong"; font-size: 9pt; }} }}
body {{ font-family: "GwSong"; font-size: 9pt; }}
h1 {{ font-family: "GwHei"; font-size: 18pt; text-align: center; margin: 0 0 2mm 0;
      letter-spacing: 6pt; font-weight: normal; }}
.sub {{ text-align: center; font-size: 10.5pt; margin: 0 0 4mm 0; }}
table {{ width: 100%; border-collapse: collapse; table-layout: fixed; }}
thead {{ display: table-header-group; }}
th {{ font-family: "GwHei"; font-weight: normal; font-size: 9.5pt; border: 0.6pt solid #000;
      padding: 1.2mm 1mm; }}
td {{ border: 0.5pt solid #000; padding: 1mm; vertical-align: top; word-break: break-all; }}
tr {{ page-break-inside: avoid; }}
tr.group td {{ font-family: "GwHei"; background: #eee; }}
td:nth-child(1), td:nth-child(6), td:nth-child(7), td:nth-child(8) {{ text-align: center; }}
.note {{ page-break-before: always; font-size: 12pt; line-height: 2.2; }}
.note p {{ margin: 0 0 2mm 0; }}
"""
    return (
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><style>{css}</style>'
        f'</head><body><h1>{e(cat.title)}</h1><p class="sub">{e(cat.subtitle)}</p>'
        f"<table><colgroup>{cols}</colgroup><thead>{head}</thead><tbody>{''.join(parts)}"
        f"</tbody></table>{notes}</body></html>"
    )


def write_catalogue_pdf(cat: Catalogue, out: Path) -> Path:
    import logging

    import weasyprint

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    page = weasyprint.HTML(string=_html(cat))
    write_atomically(out, lambda tmp: page.write_pdf(str(tmp)))
    return out


def write_catalogue_xlsx(cat: Catalogue, out: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = cat.title
    head = sheet_head(ws, f"{cat.title}  {cat.subtitle}", None, COLUMNS)
    n = 0
    for (retention, org), entries in cat.groups():
        if retention or org:
            append_row(ws, [f"{retention} · {org}"])
            ws.cell(ws.max_row, 1).font = Font(bold=True)
        for entry in entries:
            n += 1
            append_row(ws, entry.cells(n))
    finish_sheet(ws, head, XLSX_WIDTHS, {5, 9})
    if cat.notes:
        ns = wb.create_sheet("备考表")
        append_row(ns, ["备考表"])
        ns.cell(1, 1).font = Font(bold=True, size=14)
        for line in cat.notes:
            append_row(ns, [line])
        ns.column_dimensions["A"].width = 100
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, lambda tmp: wb.save(tmp))
    return out
