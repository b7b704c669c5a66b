"""The merged acceptance-evidence PDF (验收材料.pdf) of a bundle.

Layout: a cover, a catalogue with page numbers, the self-assessment table, then every
criterion's evidence in the standard's order. The outline runs area → criterion →
document and every page carries a header stamp (criterion, licence or case number,
``第x页/共y页``).

Memory stays bounded however large the packet is: the output is written by a small
streaming PDF writer built on pypdf's object model. Each source page's objects are
copied straight to the output file (object numbers remapped), the source is closed
and nothing but the cross-reference offsets is kept. The stamp is a few content-stream
operators appended to each page and drawn with one subset CJK font that is embedded
once and shared by every page (the subset is produced by weasyprint from exactly the
characters the stamps need; its ToUnicode map gives the glyph codes).

The front matter (cover, catalogue, table) is HTML rendered by weasyprint with the
Noto CJK fonts. Page numbers in the catalogue need the page counts first: a counting
pass reads only the page trees, then the front matter is rendered until its own
length is stable.
"""

from __future__ import annotations

import datetime
import hashlib
import html
import io
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from PIL import Image, ImageOps
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NullObject,
    NumberObject,
    PdfObject,
    StreamObject,
    TextStringObject,
)

from archive.errors import IntegrityError, Problem, ValidationError

if TYPE_CHECKING:
    from archive.bundle import BundlePlan, EvidenceDoc

_SANS = "Noto Sans CJK SC"
_SERIF = "Noto Serif CJK SC"
_STAMP_PT = 7.5
_FANOUT = 64
_TRIM_BYTES = 16 << 20  # sources larger than this drop pypdf's object cache page by page
_PDF_SUFFIXES = {".pdf"}
_KEEP_PAGE_KEYS = (
    "/MediaBox",
    "/CropBox",
    "/BleedBox",
    "/TrimBox",
    "/ArtBox",
    "/Rotate",
    "/UserUnit",
    "/Group",
)
_DROP_ANNOT_KEYS = {"/P", "/Parent", "/Popup", "/IRT", "/Dest", "/A", "/AA", "/StructParent"}
_DROP_ANNOT_TYPES = {"/Link", "/Popup"}
_CN_DIGITS = "〇一二三四五六七八九"
_BREAK = ' style="page-break-before: always"'
FRONT_SECTIONS = ("封面", "目录", "自评表")


class PacketChangedError(IntegrityError):
    """An evidence file changed between the counting pass and the merge."""


@dataclass(frozen=True)
class PacketSummary:
    """What was written: total pages, front-matter pages, each document's first page."""

    pages: int
    front_pages: int
    first_pages: list[int]


@dataclass
class _Slot:
    """One evidence document placed in the packet."""

    area: int
    crit: int
    doc: EvidenceDoc
    pages: int
    first: int = 0


# --------------------------------------------------------------------------- counting


def _is_pdf(doc: EvidenceDoc) -> Path | None:
    if doc.pdf is not None:
        return doc.pdf
    return doc.source if doc.source.suffix.lower() in _PDF_SUFFIXES else None


def _open_pdf(path: Path) -> PdfReader:
    reader = PdfReader(path, strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        raise PyPdfError("有打开密码")
    return reader


def count_pages(doc: EvidenceDoc) -> int:
    """Pages the document will take in the packet (PDF pages or image frames)."""
    pdf = _is_pdf(doc)
    if pdf is not None:
        return len(_open_pdf(pdf).pages)
    with Image.open(doc.source) as im:
        return int(getattr(im, "n_frames", 1))


def _count_all(plan: BundlePlan) -> list[_Slot]:
    slots: list[_Slot] = []
    problems: list[Problem] = []
    for a, area in enumerate(plan.areas):
        for c, crit in enumerate(area.criteria):
            for doc in crit.documents:
                try:
                    n = count_pages(doc)
                    if n < 1:
                        raise ValueError("没有页面")
                except (OSError, ValueError, PyPdfError, Image.DecompressionBombError) as exc:
                    shown = _is_pdf(doc) or doc.source
                    problems.append(Problem(None, str(shown), "可读的PDF或图片", f"{exc}"))
                    continue
                slots.append(_Slot(a, c, doc, n))
    if problems:
        raise ValidationError("验收材料.pdf 的佐证文件 (请修复或换成可读的文件)", problems)
    return slots


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
class _Row:
    """A catalogue line: level 0 area/section, 1 criterion, 2 document; page 0 = none."""

    level: int
    text: str
    page: int


def _catalogue_rows(plan: BundlePlan, slots: list[_Slot], table_page: int) -> list[_Row]:
    by_crit: dict[tuple[int, int], list[_Slot]] = {}
    for s in slots:
        by_crit.setdefault((s.area, s.crit), []).append(s)
    rows = [_Row(0, "自评表", table_page)]
    for a, area in enumerate(plan.areas):
        first = next((s.first for s in slots if s.area == a), 0)
        rows.append(_Row(0, area.name, first))
        for c, crit in enumerate(area.criteria):
            docs = by_crit.get((a, c), [])
            note = "" if docs else "（无材料）"
            rows.append(_Row(1, f"{crit.code} {crit.title}{note}", docs[0].first if docs else 0))
            for s in docs:
                key = f"（{s.doc.key}）" if s.doc.key else ""
                rows.append(_Row(2, f"{s.doc.label}{key}", s.first))
    return rows


def _table_html(plan: BundlePlan, slots: list[_Slot]) -> str:
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


def _front_html(plan: BundlePlan, slots: list[_Slot], chars: set[str]) -> str:
    """One HTML document: cover, self-assessment table, then a page holding every glyph
    the stamps and the catalogue need.

    Rendering them together gives one font subset per face, shared by the front matter,
    the stamps and the catalogue; the glyph page itself is not copied into the packet.
    Neither the cover nor the table prints page numbers, so one layout suffices.
    """
    parts = [_cover_html(plan), _table_html(plan, slots), _glyph_html(chars)]
    bodies = [f'<section id="s{i}"{_BREAK if i else ""}>{p}</section>' for i, p in enumerate(parts)]
    return _page("".join(bodies))


def _render_front(plan: BundlePlan, slots: list[_Slot], chars: set[str]) -> tuple[bytes, list[int]]:
    """The front-matter PDF and the first page index of cover, table and glyph page."""
    import weasyprint  # heavy import, only when a packet is built

    doc = weasyprint.HTML(string=_front_html(plan, slots, chars)).render()
    starts: dict[str, int] = {}
    for n, page in enumerate(doc.pages):
        for anchor in page.anchors:
            starts.setdefault(anchor, n)
    return bytes(doc.write_pdf()), [starts["s0"], starts["s1"], starts["s2"]]


# --------------------------------------------------------------------------- stamp font


@dataclass
class _Glyphs:
    """Glyph codes of the shared stamp font(s): char → (font index, CID, advance/1000)."""

    cmap: dict[str, tuple[int, int, float]] = field(default_factory=dict)

    def runs(self, text: str) -> Iterator[tuple[int, bytes]]:
        """(font index, hex code string) runs for the text; unknown characters become '?'."""
        cur, buf = -1, list[str]()
        for ch in text:
            font, cid, _ = self.cmap.get(ch) or self.cmap.get("?", (0, 0, 0.5))
            if font != cur and buf:
                yield cur, "".join(buf).encode()
                buf = []
            cur = font
            buf.append(f"{cid:04x}")
        if buf:
            yield cur, "".join(buf).encode()

    def width(self, text: str, size: float) -> float:
        return sum(self.cmap.get(ch, (0, 0, 0.5))[2] for ch in text) * size


_BFCHAR = re.compile(rb"beginbfchar(.*?)endbfchar", re.S)
_BFRANGE = re.compile(rb"beginbfrange(.*?)endbfrange", re.S)
_HEX = re.compile(rb"<([0-9a-fA-F]+)>")
_SUBSET_TAG = re.compile(r"^/[A-Z]{6}\+")


def _to_unicode(data: bytes) -> dict[int, str]:
    out: dict[int, str] = {}
    for block in _BFCHAR.findall(data):
        vals = _HEX.findall(block)
        for code, uni in zip(vals[::2], vals[1::2], strict=False):
            out[int(code, 16)] = bytes.fromhex(uni.decode()).decode("utf-16-be", "replace")
    for block in _BFRANGE.findall(data):
        for line in block.splitlines():
            vals = _HEX.findall(line)
            if len(vals) == 3 and b"[" not in line:
                lo, hi, start = int(vals[0], 16), int(vals[1], 16), int(vals[2], 16)
                for i in range(hi - lo + 1):
                    out[lo + i] = chr(start + i)
    return out


def _widths(desc: DictionaryObject) -> tuple[dict[int, float], float]:
    default = float(desc.get("/DW", 1000))
    arr = desc.get("/W")
    out: dict[int, float] = {}
    if arr is None:
        return out, default
    items = list(arr.get_object())
    i = 0
    while i < len(items):
        first = int(items[i])
        nxt = items[i + 1].get_object() if hasattr(items[i + 1], "get_object") else items[i + 1]
        if isinstance(nxt, list):
            for j, w in enumerate(nxt):
                out[first + j] = float(w)
            i += 2
        else:
            for cid in range(first, int(nxt) + 1):
                out[cid] = float(items[i + 2])
            i += 3
    return out, default


def _glyph_html(chars: set[str]) -> str:
    spaced = " ".join(html.escape(ch) for ch in sorted(chars) if ch not in " \t\r\n")
    style = (
        f"font-family: '{_SANS}'; font-size: 8pt; font-variant-ligatures: none; "
        "font-kerning: none; word-break: break-all;"
    )
    return f'<p style="{style}">{spaced}</p>'


def _load_glyphs(reader: PdfReader, first: int) -> tuple[_Glyphs, list[IndirectObject]]:
    """Glyph codes of the Type0 fonts used on the glyph page(s) from ``first`` on."""
    glyphs = _Glyphs()
    refs: list[IndirectObject] = []
    seen: set[int] = set()
    for page in reader.pages[first:]:
        res = cast(DictionaryObject, page["/Resources"].get_object())
        fonts = res.get("/Font")
        if fonts is None:
            continue
        for ref in cast(DictionaryObject, fonts.get_object()).values():
            if not isinstance(ref, IndirectObject) or ref.idnum in seen:
                continue
            seen.add(ref.idnum)
            font = cast(DictionaryObject, ref.get_object())
            if font.get("/Subtype") != "/Type0" or "/ToUnicode" not in font:
                continue
            desc = cast(
                DictionaryObject, cast(ArrayObject, font["/DescendantFonts"])[0].get_object()
            )
            widths, default = _widths(desc)
            idx = len(refs)
            refs.append(ref)
            cmap = cast(StreamObject, font["/ToUnicode"].get_object()).get_data()
            for cid, text in _to_unicode(cmap).items():
                if len(text) == 1 and text not in glyphs.cmap:
                    glyphs.cmap[text] = (idx, cid, widths.get(cid, default) / 1000.0)
    return glyphs, refs


# --------------------------------------------------------------------------- streaming writer


class _Out:
    """Append-only PDF object writer: objects go straight to the file, only offsets stay."""

    def __init__(self, dest: BinaryIO) -> None:
        self._dest = dest
        self._buf = bytearray()
        self._pos = 0
        self._offsets: list[int] = [0]
        self._raw(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def _raw(self, data: bytes) -> None:
        self._pos += len(data)
        if len(data) >= 1 << 16:  # image data: no copy through the buffer
            if self._buf:
                self._dest.write(bytes(self._buf))
                self._buf.clear()
            self._dest.write(data)
            return
        self._buf += data
        if len(self._buf) >= 1 << 20:
            self._dest.write(bytes(self._buf))
            self._buf.clear()

    def alloc(self) -> int:
        self._offsets.append(-1)
        return len(self._offsets) - 1

    def obj(self, num: int, value: PdfObject) -> None:
        sink = io.BytesIO()
        value.write_to_stream(sink)
        self._offsets[num] = self._pos
        self._raw(b"%d 0 obj\n%s\nendobj\n" % (num, sink.getvalue()))

    def stream(self, num: int, head: DictionaryObject, data: bytes) -> None:
        head[NameObject("/Length")] = NumberObject(len(data))
        sink = io.BytesIO()
        head.write_to_stream(sink)
        self._offsets[num] = self._pos
        self._raw(b"%d 0 obj\n%s\nstream\n" % (num, sink.getvalue()))
        self._raw(data)
        self._raw(b"\nendstream\nendobj\n")

    def new_stream(self, data: bytes, **entries: PdfObject) -> IndirectObject:
        num = self.alloc()
        head = DictionaryObject({NameObject("/" + k): v for k, v in entries.items()})
        self.stream(num, head, data)
        return _ref(num)

    def finish(self, root: int, info: int, doc_id: bytes) -> None:
        for num, off in enumerate(self._offsets):
            if num and off < 0:  # allocated, never filled: a null keeps the xref whole
                self.obj(num, NullObject())
        xref_at = self._pos
        lines = [b"xref\n0 %d\n0000000000 65535 f \n" % len(self._offsets)]
        lines += [b"%010d 00000 n \n" % off for off in self._offsets[1:]]
        self._raw(b"".join(lines))
        hexid = doc_id.hex().encode()
        self._raw(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] >>\n"
            b"startxref\n%d\n%%%%EOF\n" % (len(self._offsets), root, info, hexid, hexid, xref_at)
        )
        self._dest.write(bytes(self._buf))
        self._buf.clear()


def _ref(num: int) -> IndirectObject:
    return IndirectObject(num, 0, None)


class _Copier:
    """Copies objects of one source reader into the output, each object once."""

    def __init__(self, out: _Out, reader: PdfReader, seq: int) -> None:
        self.out = out
        self.reader = reader
        self.seq = seq
        self._map: dict[tuple[int, int], int] = {}
        self._pending: list[tuple[IndirectObject, int]] = []

    def ref(self, ind: IndirectObject) -> PdfObject:
        key = (ind.idnum, ind.generation)
        num = self._map.get(key)
        if num is None:
            target = ind.get_object()
            if isinstance(target, DictionaryObject) and target.get("/Type") in ("/Page", "/Pages"):
                num = 0  # a reference back into the source's page tree: cut it
            else:
                num = self.out.alloc()
                self._pending.append((ind, num))
            self._map[key] = num
        return _ref(num) if num else NullObject()

    def value(self, obj: PdfObject) -> PdfObject:
        if isinstance(obj, IndirectObject):
            return self.ref(obj)
        if isinstance(obj, StreamObject):  # a direct stream: only as a top-level object
            return NullObject()
        if isinstance(obj, DictionaryObject):
            copy = DictionaryObject({NameObject(k): self.value(v) for k, v in obj.items()})
            for key in ("/BaseFont", "/FontName"):
                name = copy.get(key)
                if isinstance(name, NameObject) and _SUBSET_TAG.match(name):
                    copy[NameObject(key)] = NameObject("/" + self._tag(name[1:7]) + name[7:])
            return copy
        if isinstance(obj, ArrayObject):
            return ArrayObject(self.value(v) for v in obj)
        return obj

    def _tag(self, tag: str) -> str:
        """A subset tag unique in the output: weasyprint reuses one tag for every subset."""
        digest = hashlib.md5(f"{self.seq}:{tag}".encode(), usedforsecurity=False).digest()
        return "".join(chr(65 + b % 26) for b in digest[:6])

    def flush(self) -> None:
        while self._pending:
            ind, num = self._pending.pop()
            obj = ind.get_object()
            if isinstance(obj, StreamObject):
                head = DictionaryObject(
                    {NameObject(k): self.value(v) for k, v in obj.items() if k != "/Length"}
                )
                self.out.stream(num, head, obj._data)
            else:
                self.out.obj(num, self.value(obj) if obj is not None else NullObject())


# --------------------------------------------------------------------------- stamping


def _frame(box: tuple[float, float, float, float], rotate: int) -> tuple[str, float, float]:
    """cm operator mapping upright page coordinates to user space, and the upright size."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if rotate == 90:
        return f"0 1 -1 0 {x1:.3f} {y0:.3f}", h, w
    if rotate == 180:
        return f"-1 0 0 -1 {x1:.3f} {y1:.3f}", w, h
    if rotate == 270:
        return f"0 -1 1 0 {x0:.3f} {y1:.3f}", h, w
    return f"1 0 0 1 {x0:.3f} {y0:.3f}", w, h


def _fit(glyphs: _Glyphs, text: str, size: float, room: float) -> str:
    if glyphs.width(text, size) <= room:
        return text
    while text and glyphs.width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


class _Stamper:
    def __init__(self, glyphs: _Glyphs, font_refs: list[IndirectObject], total: int) -> None:
        self.glyphs = glyphs
        self.total = total
        self.names = [NameObject(f"/DgStamp{i}") for i in range(len(font_refs))]
        self.refs = font_refs

    def add_fonts(self, fonts: DictionaryObject) -> None:
        for name, ref in zip(self.names, self.refs, strict=True):
            fonts[name] = ref

    def content(self, left: str, page: int, box: tuple[float, ...], rotate: int) -> bytes:
        cm, w, h = _frame((box[0], box[1], box[2], box[3]), rotate)
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

_A4 = (595.28, 841.89)
_CAT_ROWS = 32
_CAT_ROW_H = 20.0
_CAT_M = 51.0
CATALOGUE_GLYPHS = "目录（续）条目与材料页码—…　"


def _catalogue_page(
    rows: list[_Row], glyphs: _Glyphs, names: list[NameObject], cont: bool
) -> tuple[bytes, list[tuple[float, float, float, float, int]]]:
    """Content stream of one catalogue page drawn with the shared font, and its links."""
    w, h = _A4
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


# --------------------------------------------------------------------------- pages


class _Packet:
    """The output's pages: stamped copies of source pages and image pages, in order."""

    stamper: _Stamper

    def __init__(self, out: _Out, total: int) -> None:
        self.out = out
        self.q_ref = out.new_stream(b"q\n")
        self.nodes = [out.alloc() for _ in range((total + _FANOUT - 1) // _FANOUT)]
        self.page_nums = [out.alloc() for _ in range(total)]  # links may point forward
        self.kids: list[int] = []
        self.sources = 0

    def _page_dict(
        self, box: tuple[float, ...], rotate: int, left: str, body: list[PdfObject]
    ) -> DictionaryObject:
        """A page whose contents are ``q``, the page's own streams, ``Q`` and the stamp."""
        page_no = len(self.kids) + 1
        stamp = self.out.new_stream(self.stamper.content(left, page_no, box, rotate))
        return DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Page"),
                NameObject("/Parent"): _ref(self.nodes[len(self.kids) // _FANOUT]),
                NameObject("/Contents"): ArrayObject([self.q_ref, *body, stamp]),
            }
        )

    def _emit(self, page: DictionaryObject) -> int:
        if len(self.kids) >= len(self.page_nums):
            raise PacketChangedError(
                "生成验收材料期间有佐证文件被改动 (页数比清点时多)；请等扫描归档结束后重新生成"
            )
        num = self.page_nums[len(self.kids)]
        self.out.obj(num, page)
        self.kids.append(num)
        return num

    def copier(self, reader: PdfReader) -> _Copier:
        self.sources += 1
        return _Copier(self.out, reader, self.sources)

    def add_pdf(
        self,
        reader: PdfReader,
        left: str,
        *,
        trim_cache: bool = False,
        copier: _Copier | None = None,
        pages: range | None = None,
    ) -> int:
        """Copy the reader's pages (all, or ``pages``), stamped; returns the first page's
        object number."""
        first = 0
        copier = copier or self.copier(reader)
        for index in pages if pages is not None else range(len(reader.pages)):
            src = reader.pages[index]
            box = tuple(float(v) for v in src.cropbox)
            rotate = int(src.rotation or 0) % 360
            contents = src.get("/Contents")
            body: list[PdfObject] = []
            if isinstance(contents, IndirectObject) and isinstance(
                contents.get_object(), ArrayObject
            ):
                contents = contents.get_object()
            if isinstance(contents, ArrayObject):
                body = [copier.value(c) for c in contents]
            elif contents is not None:
                body = [copier.value(contents)]
            page = self._page_dict(box, rotate, left, body)
            for key in _KEEP_PAGE_KEYS:
                if key in src:
                    page[NameObject(key)] = copier.value(src[key])
            res = src.get("/Resources")
            res = res.get_object() if res is not None else DictionaryObject()
            new_res = DictionaryObject(
                {NameObject(k): copier.value(v) for k, v in res.items() if k != "/Font"}
            )
            fonts = res.get("/Font")
            new_fonts = DictionaryObject()
            if fonts is not None:
                new_fonts.update(
                    {NameObject(k): copier.value(v) for k, v in fonts.get_object().items()}
                )
            self.stamper.add_fonts(new_fonts)
            new_res[NameObject("/Font")] = new_fonts
            page[NameObject("/Resources")] = new_res
            annots = self._annots(src, copier)
            if annots:
                page[NameObject("/Annots")] = annots
            num = self._emit(page)
            copier.flush()
            first = first or num
            if trim_cache:
                reader.resolved_objects.clear()
        return first

    def _annots(self, src: DictionaryObject, copier: _Copier) -> ArrayObject:
        kept = ArrayObject()
        raw = src.get("/Annots")
        for item in raw.get_object() if raw is not None else []:
            annot = item.get_object()
            if (
                not isinstance(annot, DictionaryObject)
                or annot.get("/Subtype") in _DROP_ANNOT_TYPES
            ):
                continue
            clean = DictionaryObject(
                {
                    NameObject(k): copier.value(v)
                    for k, v in annot.items()
                    if k not in _DROP_ANNOT_KEYS
                }
            )
            num = self.out.alloc()
            self.out.obj(num, clean)
            kept.append(_ref(num))
        return kept

    def add_drawn(
        self, content: bytes, links: list[tuple[float, float, float, float, int]], left: str
    ) -> int:
        """An A4 page drawn by dangan itself (the catalogue), with links to pages."""
        page = self._page_dict((0.0, 0.0, *_A4), 0, left, [self.out.new_stream(content)])
        page[NameObject("/MediaBox")] = ArrayObject(FloatObject(v) for v in (0, 0, *_A4))
        fonts = DictionaryObject()
        self.stamper.add_fonts(fonts)
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
        annots = ArrayObject()
        for x0, y0, x1, y1, target in links:
            link = DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Annot"),
                    NameObject("/Subtype"): NameObject("/Link"),
                    NameObject("/Rect"): ArrayObject(
                        FloatObject(round(v, 2)) for v in (x0, y0, x1, y1)
                    ),
                    NameObject("/Border"): ArrayObject([NumberObject(0)] * 3),
                    NameObject("/Dest"): ArrayObject(
                        [_ref(self.page_nums[target - 1]), NameObject("/Fit")]
                    ),
                }
            )
            num = self.out.alloc()
            self.out.obj(num, link)
            annots.append(_ref(num))
        if annots:
            page[NameObject("/Annots")] = annots
        return self._emit(page)

    def add_image(self, path: Path, left: str) -> int:
        first = 0
        for head, data, w, h in _image_frames(path):
            img = self.out.alloc()
            self.out.stream(img, head, data)
            draw = self.out.new_stream(f"q {w:.3f} 0 0 {h:.3f} 0 0 cm /Im0 Do Q".encode())
            page = self._page_dict((0.0, 0.0, w, h), 0, left, [draw])
            page[NameObject("/MediaBox")] = ArrayObject(
                [
                    NumberObject(0),
                    NumberObject(0),
                    FloatObject(round(w, 3)),
                    FloatObject(round(h, 3)),
                ]
            )
            fonts = DictionaryObject()
            self.stamper.add_fonts(fonts)
            page[NameObject("/Resources")] = DictionaryObject(
                {
                    NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): _ref(img)}),
                    NameObject("/Font"): fonts,
                }
            )
            num = self._emit(page)
            first = first or num
        return first

    def write_tree(self, root_pages: int) -> None:
        for i, node in enumerate(self.nodes):
            kids = self.kids[i * _FANOUT : (i + 1) * _FANOUT]
            self.out.obj(
                node,
                DictionaryObject(
                    {
                        NameObject("/Type"): NameObject("/Pages"),
                        NameObject("/Parent"): _ref(root_pages),
                        NameObject("/Kids"): ArrayObject(_ref(k) for k in kids),
                        NameObject("/Count"): NumberObject(len(kids)),
                    }
                ),
            )
        self.out.obj(
            root_pages,
            DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Pages"),
                    NameObject("/Kids"): ArrayObject(_ref(n) for n in self.nodes),
                    NameObject("/Count"): NumberObject(len(self.kids)),
                }
            ),
        )


def _image_frames(path: Path) -> Iterator[tuple[DictionaryObject, bytes, float, float]]:
    """Image XObject header, data and page size in points, one per frame."""
    with Image.open(path) as im:
        frames = int(getattr(im, "n_frames", 1))
        orient = im.getexif().get(0x0112, 1)
        for i in range(frames):
            im.seek(i)
            dpi = im.info.get("dpi", (200, 200))
            try:
                xd, yd = float(dpi[0]) or 200.0, float(dpi[1]) or 200.0
            except (TypeError, ValueError, IndexError):
                xd = yd = 200.0
            raw_jpeg = im.format == "JPEG" and frames == 1 and orient in (1, None)
            if raw_jpeg and im.mode in ("L", "RGB"):
                frame: Image.Image = im
                data = path.read_bytes()
                space, bits, filt = (
                    ("/DeviceGray" if im.mode == "L" else "/DeviceRGB"),
                    8,
                    "/DCTDecode",
                )
            else:
                frame = ImageOps.exif_transpose(im) if orient not in (1, None) else im.copy()
                if frame.mode not in ("1", "L", "RGB"):
                    if "A" in frame.mode or frame.mode == "P":
                        rgba = frame.convert("RGBA")
                        frame = Image.new("RGB", rgba.size, "white")
                        frame.paste(rgba, mask=rgba.getchannel("A"))
                    else:
                        frame = frame.convert("RGB")
                space = "/DeviceRGB" if frame.mode == "RGB" else "/DeviceGray"
                bits = 1 if frame.mode == "1" else 8
                data, filt = zlib.compress(frame.tobytes(), 6), "/FlateDecode"
                if orient in (5, 6, 7, 8):
                    xd, yd = yd, xd
            pw, ph = frame.width / xd * 72.0, frame.height / yd * 72.0
            longest = max(pw, ph)
            if longest > 1000.0 or longest < 150.0:  # no or silly DPI: fit to A4
                scale = 842.0 / longest
                pw, ph = pw * scale, ph * scale
            head = DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/XObject"),
                    NameObject("/Subtype"): NameObject("/Image"),
                    NameObject("/Width"): NumberObject(frame.width),
                    NameObject("/Height"): NumberObject(frame.height),
                    NameObject("/ColorSpace"): NameObject(space),
                    NameObject("/BitsPerComponent"): NumberObject(bits),
                    NameObject("/Filter"): NameObject(filt),
                }
            )
            yield head, data, pw, ph


# --------------------------------------------------------------------------- outline


@dataclass
class _Mark:
    title: str
    page: int
    children: list[_Mark] = field(default_factory=list)
    open: bool = False


def _write_outline(out: _Out, marks: list[_Mark]) -> int:
    root = out.alloc()
    nums = [out.alloc() for _ in marks]

    def visible(m: _Mark) -> int:
        return len(m.children) + sum(visible(c) for c in m.children) if m.open else 0

    def level(parent: int, items: list[_Mark], numbers: list[int]) -> None:
        for i, (m, num) in enumerate(zip(items, numbers, strict=True)):
            kids = [out.alloc() for _ in m.children]
            entry = DictionaryObject(
                {
                    NameObject("/Title"): TextStringObject(m.title),
                    NameObject("/Parent"): _ref(parent),
                    NameObject("/Dest"): ArrayObject([_ref(m.page), NameObject("/Fit")]),
                }
            )
            if i:
                entry[NameObject("/Prev")] = _ref(numbers[i - 1])
            if i + 1 < len(numbers):
                entry[NameObject("/Next")] = _ref(numbers[i + 1])
            if kids:
                entry[NameObject("/First")] = _ref(kids[0])
                entry[NameObject("/Last")] = _ref(kids[-1])
                count = visible(m) if m.open else -len(kids)
                entry[NameObject("/Count")] = NumberObject(count)
            out.obj(num, entry)
            level(num, m.children, kids)

    level(root, marks, nums)
    head = DictionaryObject({NameObject("/Type"): NameObject("/Outlines")})
    if nums:
        head[NameObject("/First")] = _ref(nums[0])
        head[NameObject("/Last")] = _ref(nums[-1])
        head[NameObject("/Count")] = NumberObject(len(marks) + sum(visible(m) for m in marks))
    out.obj(root, head)
    return root


# --------------------------------------------------------------------------- entry point


def _stamp_left(plan: BundlePlan, slot: _Slot) -> str:
    crit = plan.areas[slot.area].criteria[slot.crit]
    parts = [f"{crit.code} {crit.title}", slot.doc.label]
    if slot.doc.key:
        parts.append(slot.doc.key)
    return " · ".join(p for p in parts if p)


def _pdf_date(when: datetime.datetime) -> str:
    off = when.utcoffset() or datetime.timedelta(0)
    mins = int(off.total_seconds() // 60)
    sign = "+" if mins >= 0 else "-"
    hh, mm = divmod(abs(mins), 60)
    return f"D:{when:%Y%m%d%H%M%S}{sign}{hh:02d}'{mm:02d}'"


def write_packet_pdf(
    plan: BundlePlan,
    dest: BinaryIO,
    *,
    created: datetime.datetime,
    tick: Callable[[], None] | None = None,
) -> PacketSummary:
    """Write the merged packet to ``dest`` (a binary file opened for writing).

    ``created`` becomes /CreationDate; the /ID is derived from the plan and that date,
    so the same archive and date give byte-identical output. ``tick`` is called after
    each evidence document. Raises :class:`ValidationError` listing every unreadable
    evidence file before anything is written.
    """
    slots = _count_all(plan)
    title = f"{plan.bureau}{plan.year}年度考核验收材料"
    lefts = [_stamp_left(plan, s) for s in slots]
    rows = _catalogue_rows(plan, slots, 0)
    chars = set("".join(lefts) + "".join(r.text for r in rows) + title + "".join(FRONT_SECTIONS))
    chars |= set(CATALOGUE_GLYPHS + "0123456789第页共/·?")
    front_pdf, starts = _render_front(plan, slots, chars)
    front = PdfReader(io.BytesIO(front_pdf))
    glyphs, font_src = _load_glyphs(front, starts[2])

    n_cover, n_table = starts[1] - starts[0], starts[2] - starts[1]
    n_cat = max(1, -(-len(rows) // _CAT_ROWS))
    table_page = n_cover + n_cat + 1
    page = table_page + n_table
    for s in slots:
        s.first = page
        page += s.pages
    total = page - 1
    rows = _catalogue_rows(plan, slots, table_page)

    out = _Out(dest)
    catalog, pages_root, info = out.alloc(), out.alloc(), out.alloc()
    packet = _Packet(out, total)
    front_copier = packet.copier(front)
    font_refs = [front_copier.ref(r) for r in font_src]
    front_copier.flush()
    stamper = _Stamper(glyphs, [r for r in font_refs if isinstance(r, IndirectObject)], total)
    packet.stamper = stamper

    cover = packet.add_pdf(
        front, f"{title} · 封面", copier=front_copier, pages=range(starts[0], starts[1])
    )
    cat_first = 0
    for k in range(n_cat):
        content, links = _catalogue_page(
            rows[k * _CAT_ROWS : (k + 1) * _CAT_ROWS], glyphs, stamper.names, k > 0
        )
        num = packet.add_drawn(content, links, f"{title} · 目录")
        cat_first = cat_first or num
    table = packet.add_pdf(
        front, f"{title} · 自评表", copier=front_copier, pages=range(starts[1], starts[2])
    )
    marks = [_Mark("封面", cover), _Mark("目录", cat_first), _Mark("自评表", table)]
    del front, front_copier

    area_marks: dict[int, _Mark] = {}
    crit_marks: dict[tuple[int, int], _Mark] = {}
    for a, area in enumerate(plan.areas):
        area_marks[a] = _Mark(area.name, 0, open=True)
        for c, crit in enumerate(area.criteria):
            crit_marks[(a, c)] = _Mark(f"{crit.code} {crit.title}", 0)
            area_marks[a].children.append(crit_marks[(a, c)])

    for slot, left in zip(slots, lefts, strict=True):
        pdf = _is_pdf(slot.doc)
        if pdf is not None:
            reader = _open_pdf(pdf)
            big = pdf.stat().st_size > _TRIM_BYTES
            first = packet.add_pdf(reader, left, trim_cache=big)
            del reader
        else:
            first = packet.add_image(slot.doc.source, left)
        label = slot.doc.label + (f"（{slot.doc.key}）" if slot.doc.key else "")
        crit_marks[(slot.area, slot.crit)].children.append(_Mark(label, first))
        if tick is not None:
            tick()

    for am in area_marks.values():
        for cm in am.children:
            if cm.children:
                cm.page = cm.children[0].page
            else:
                cm.page = table
                cm.title += "（无材料）"
        am.page = next((m.page for m in am.children if m.children), table)
        marks.append(am)

    if len(packet.kids) != total:
        raise PacketChangedError(
            "生成验收材料期间有佐证文件被改动 (页数比清点时少)；请等扫描归档结束后重新生成"
        )
    packet.write_tree(pages_root)
    outline = _write_outline(out, marks)
    out.obj(
        catalog,
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Catalog"),
                NameObject("/Pages"): _ref(pages_root),
                NameObject("/Outlines"): _ref(outline),
                NameObject("/PageMode"): NameObject("/UseOutlines"),
                NameObject("/Lang"): TextStringObject("zh-CN"),
            }
        ),
    )
    stamp = _pdf_date(created)
    out.obj(
        info,
        DictionaryObject(
            {
                NameObject("/Title"): TextStringObject(title),
                NameObject("/Author"): TextStringObject(plan.bureau),
                NameObject("/Creator"): TextStringObject("dangan"),
                NameObject("/Producer"): TextStringObject("dangan packet writer (pypdf objects)"),
                NameObject("/CreationDate"): TextStringObject(stamp),
                NameObject("/ModDate"): TextStringObject(stamp),
            }
        ),
    )
    seed = "\n".join(
        [title, stamp, str(total)]
        + [f"{s.doc.source.name}|{s.doc.label}|{s.doc.key}|{s.pages}" for s in slots]
    )
    out.finish(catalog, info, hashlib.md5(seed.encode(), usedforsecurity=False).digest())
    first_pages = [s.first for s in slots]
    front_pages = n_cover + n_cat + n_table
    return PacketSummary(pages=total, front_pages=front_pages, first_pages=first_pages)
