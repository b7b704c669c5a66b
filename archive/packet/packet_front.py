"""The packet's front matter and stamp font: cover, catalogue, self-assessment table.

The cover and the self-assessment table are HTML rendered by weasyprint with the Noto
CJK fonts, together with one extra page holding every glyph the stamps and the
catalogue need: rendering them at once gives one font subset per face, which
:func:`load_glyphs` reads back (ToUnicode map → glyph codes, /W → advances). That font
is embedded once in the packet and shared by every page's stamp (:class:`Stamper`) and
by the catalogue, which is drawn directly (:func:`catalogue_page`) because its page
numbers are only known once every document has been counted.
"""

from __future__ import annotations

import datetime
import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pypdf.generic import (
    DictionaryObject,
    IndirectObject,
    NameObject,
)

from archive.packet.pdf_stream import A4
from archive.paperwork.glyphs import Glyphs, glyph_html
from archive.paperwork.stamp import upright_frame

if TYPE_CHECKING:
    from archive.packet.model import BundlePlan, EvidenceDoc

_SANS = "Noto Sans CJK SC"
_SERIF = "Noto Serif CJK SC"
_STAMP_PT = 7.5
_CN_DIGITS = "〇一二三四五六七八九"
_BREAK = ' style="page-break-before: always"'


@dataclass
class Slot:
    """One evidence document placed in the packet (area and criterion by index)."""

    area: int
    crit: int
    doc: EvidenceDoc
    pages: int
    first: int = 0


# --------------------------------------------------------------------------- front matter


def _cn_date(d: datetime.date) -> str:
    def num(n: int) -> str:
        if n < 10:
            return _CN_DIGITS[n]
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")

    year = "".join(_CN_DIGITS[int(ch)] for ch in str(d.year))
    return f"{year}年{num(d.month)}月{num(d.day)}日"


def _points(x: float) -> str:
    return f"{x:g}"


_CSS = f"""
@page {{ size: A4; margin: 20mm 18mm 18mm 18mm; }}
body {{ font-family: "{_SERIF}", "{_SANS}"; font-size: 10.5pt; line-height: 1.45; }}
h1 {{ font-family: "{_SANS}"; font-size: 18pt; text-align: center; margin: 0 0 8mm 0; }}
table {{ width: 100%; border-collapse: collapse; }}
th, td {{ border: 0.5pt solid #444; padding: 1.2mm 1.6mm; vertical-align: top; }}
th {{ font-family: "{_SANS}"; background: #eee; font-weight: normal; }}
td.n {{ text-align: right; white-space: nowrap; }}
tr.area td {{ font-family: "{_SANS}"; background: #f4f4f4; }}
tr.doc td.t {{ padding-left: 7mm; }}
.cover {{ text-align: center; }}
.cover .bureau {{ font-family: "{_SANS}"; font-size: 20pt; margin-top: 55mm; }}
.cover .title {{ font-family: "{_SANS}"; font-size: 30pt; margin-top: 14mm; letter-spacing: 2pt; }}
.cover .sub {{ font-size: 15pt; margin-top: 10mm; }}
.cover .date {{ font-size: 14pt; margin-top: 70mm; }}
"""


def _page(body: str) -> str:
    return f'<html lang="zh-CN"><head><style>{_CSS}</style></head><body>{body}</body></html>'


def _cover_html(plan: BundlePlan) -> str:
    e = html.escape
    return (
        '<div class="cover">'
        f'<div class="bureau">{e(plan.bureau)}</div>'
        f'<div class="title">{plan.year}年度考核验收材料</div>'
        '<div class="sub">创建优秀县级烟草专卖局</div>'
        f'<div class="date">{_cn_date(plan.date)}</div></div>'
    )


@dataclass(frozen=True)
class Row:
    """A catalogue line: level 0 area/section, 1 criterion, 2 document; page 0 = none."""

    level: int
    text: str
    page: int


def catalogue_rows(plan: BundlePlan, slots: list[Slot], table_page: int) -> list[Row]:
    by_crit: dict[tuple[int, int], list[Slot]] = {}
    for s in slots:
        by_crit.setdefault((s.area, s.crit), []).append(s)
    rows = [Row(0, "自评表", table_page)]
    for a, area in enumerate(plan.areas):
        first = next((s.first for s in slots if s.area == a), 0)
        rows.append(Row(0, area.name, first))
        for c, crit in enumerate(area.criteria):
            docs = by_crit.get((a, c), [])
            note = "" if docs else "（无材料）"
            rows.append(Row(1, f"{crit.code} {crit.title}{note}", docs[0].first if docs else 0))
            for s in docs:
                key = f"（{s.doc.key}）" if s.doc.key else ""
                code = f" {s.doc.code}" if s.doc.code else ""
                rows.append(Row(2, f"{s.doc.label}{key}{code}", s.first))
    return rows


def _table_html(plan: BundlePlan, slots: list[Slot]) -> str:
    e = html.escape
    counts: dict[tuple[int, int], int] = {}
    for s in slots:
        counts[(s.area, s.crit)] = counts.get((s.area, s.crit), 0) + 1
    rows: list[str] = []
    possible = claimed = 0.0
    for a, area in enumerate(plan.areas):
        rows.append(f'<tr class="area"><td colspan="6">{e(area.name)}</td></tr>')
        for c, crit in enumerate(area.criteria):
            possible += crit.points_possible
            claimed += crit.points_claimed
            rows.append(
                f"<tr><td>{e(crit.code)}</td><td>{e(crit.title)}</td>"
                f'<td class="n">{_points(crit.points_possible)}</td>'
                f'<td class="n">{_points(crit.points_claimed)}</td>'
                f"<td>{e(crit.status)}</td>"
                f'<td class="n">{counts.get((a, c), 0)}</td></tr>'
            )
    rows.append(
        f'<tr class="area"><td colspan="2">合计</td><td class="n">{_points(possible)}</td>'
        f'<td class="n">{_points(claimed)}</td><td></td><td class="n">{len(slots)}</td></tr>'
    )
    head = (
        '<thead><tr><th style="width:14mm">编号</th><th>评价内容</th>'
        '<th style="width:13mm">分值</th><th style="width:13mm">自评分</th>'
        '<th style="width:18mm">状态</th><th style="width:16mm">佐证(件)</th></tr></thead>'
    )
    title = f"<h1>{html.escape(plan.bureau)}{plan.year}年度自评表</h1>"
    return f"{title}<table>{head}<tbody>{''.join(rows)}</tbody></table>"


def _front_html(plan: BundlePlan, slots: list[Slot], chars: set[str]) -> str:
    """One HTML document: cover, self-assessment table, then a page holding every glyph
    the stamps and the catalogue need.

    Rendering them together gives one font subset per face, shared by the front matter,
    the stamps and the catalogue; the glyph page itself is not copied into the packet.
    Neither the cover nor the table prints page numbers, so one layout suffices.
    """
    parts = [_cover_html(plan), _table_html(plan, slots), glyph_html(chars)]
    bodies = [f'<section id="s{i}"{_BREAK if i else ""}>{p}</section>' for i, p in enumerate(parts)]
    return _page("".join(bodies))


def render_front(plan: BundlePlan, slots: list[Slot], chars: set[str]) -> tuple[bytes, list[int]]:
    """The front-matter PDF and the first page index of cover, table and glyph page."""
    import weasyprint  # heavy import, only when a packet is built

    doc = weasyprint.HTML(string=_front_html(plan, slots, chars)).render()
    starts: dict[str, int] = {}
    for n, page in enumerate(doc.pages):
        for anchor in page.anchors:
            starts.setdefault(anchor, n)
    return bytes(doc.write_pdf()), [starts["s0"], starts["s1"], starts["s2"]]


# --------------------------------------------------------------------------- stamping


def _fit(glyphs: Glyphs, text: str, size: float, room: float) -> str:
    if glyphs.width(text, size) <= room:
        return text
    while text and glyphs.width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


class Stamper:
    def __init__(self, glyphs: Glyphs, font_refs: list[IndirectObject], total: int) -> None:
        self.glyphs = glyphs
        self.total = total
        self.names = [NameObject(f"/DgStamp{i}") for i in range(len(font_refs))]
        self.refs = font_refs

    def add_fonts(self, fonts: DictionaryObject) -> None:
        for name, ref in zip(self.names, self.refs, strict=True):
            fonts[name] = ref

    def content(self, left: str, page: int, box: tuple[float, ...], rotate: int) -> bytes:
        x0, y0, x1, y1 = box[0], box[1], box[2], box[3]
        frame = upright_frame((x0, y0, x1, y1), rotate)
        cm = " ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in frame)
        w, h = (y1 - y0, x1 - x0) if rotate in (90, 270) else (x1 - x0, y1 - y0)
        size = _STAMP_PT if w >= 300 else _STAMP_PT * max(w, 120.0) / 300
        margin = min(24.0, w * 0.05)
        right = f"第{page}页/共{self.total}页"
        rw = self.glyphs.width(right, size)
        left = _fit(self.glyphs, left, size, max(w - 2 * margin - rw - size * 2, size))
        lw = self.glyphs.width(left, size)
        base = h - size * 1.6
        rx = w - margin - rw
        ops = [
            f"\nQ\nq {cm} cm 1 1 1 rg",
            f"{margin - 1.5:.2f} {base - size * 0.3:.2f} {lw + 3:.2f} {size * 1.35:.2f} re",
            f"{rx - 1.5:.2f} {base - size * 0.3:.2f} {rw + 3:.2f} {size * 1.35:.2f} re f",
            "0.05 0.15 0.55 rg BT",
        ]
        for x, text in ((margin, left), (rx, right)):
            ops.append(f"1 0 0 1 {x:.2f} {base:.2f} Tm")
            for font, codes in self.glyphs.runs(text):
                ops.append(f"{self.names[font]} {size:.2f} Tf <{codes.decode()}> Tj")
        ops.append("ET Q\n")
        return "\n".join(ops).encode()


# --------------------------------------------------------------------------- catalogue

CAT_ROWS = 32
_CAT_ROW_H = 20.0
_CAT_M = 51.0
CATALOGUE_GLYPHS = "目录（续）条目与材料页码—…　"


def catalogue_page(
    rows: list[Row], glyphs: Glyphs, names: list[NameObject], cont: bool
) -> tuple[bytes, list[tuple[float, float, float, float, int]]]:
    """Content stream of one catalogue page drawn with the shared font, and its links."""
    w, h = A4
    m, rh = _CAT_M, _CAT_ROW_H
    ops: list[str] = []

    def text(x: float, y: float, size: float, value: str) -> None:
        ops.append(f"BT 1 0 0 1 {x:.2f} {y:.2f} Tm")
        for font, codes in glyphs.runs(value):
            ops.append(f"{names[font]} {size:.2f} Tf <{codes.decode()}> Tj")
        ops.append("ET")

    title = "目　录（续）" if cont else "目　录"
    text((w - glyphs.width(title, 18)) / 2, h - 85, 18, title)
    y = h - 125
    ops.append(f"0.9 g {m:.2f} {y - 6:.2f} {w - 2 * m:.2f} {rh:.2f} re f 0 g")
    text(m + 4, y, 10.5, "条目与材料")
    text(w - m - 4 - glyphs.width("页码", 10.5), y, 10.5, "页码")
    links: list[tuple[float, float, float, float, int]] = []
    for row in rows:
        y -= rh
        size = 10.5 if row.level < 2 else 10.0
        if row.level == 0:
            ops.append(f"0.95 g {m:.2f} {y - 6:.2f} {w - 2 * m:.2f} {rh:.2f} re f 0 g")
        number = str(row.page) if row.page else "—"
        nw = glyphs.width(number, size)
        indent = (4.0, 16.0, 32.0)[row.level]
        text(m + indent, y, size, _fit(glyphs, row.text, size, w - 2 * m - indent - nw - 24))
        text(w - m - 4 - nw, y, size, number)
        ops.append(f"0.6 G 0.4 w {m:.2f} {y - 6:.2f} m {w - m:.2f} {y - 6:.2f} l S 0 G")
        if row.page:
            links.append((m, y - 6, w - m, y - 6 + rh, row.page))
    return "\n".join(ops).encode(), links
