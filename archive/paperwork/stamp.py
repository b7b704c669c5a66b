"""归档章 (DA/T 22-2015 5.4): the red archival stamp on the first page of a 件's archival copy.

The stamp is 45 × 16 mm, six cells of 15 × 8 mm: 全宗号 | 年度 | 件号 over 机构(问题) |
保管期限 | 页数 (机构 and 页数 are the standard's optional cells, filled where known). It goes
on the *archival copy* — a PDF beside the record, ``<stem>.stamped.pdf`` — never on the
original file, whose bytes stay as they were filed. The copy is made from the searchable
PDF when OCR made one, else from the record itself (a PDF, or an image turned into a page).

Placement: the first page is rendered (pdfium) as it is shown (its ``/Rotate`` applied) and
the stamp goes where a 45 × 16 mm box plus a 2 mm margin covers no ink, in the top band of
the page (top 30 %), right first, then centre, then left. When the top band has no such
place the page is made 20 mm taller at its top and the stamp goes on that new blank strip:
it never covers text, and the placement says so (``added_band``).

The stamps of a batch share one font subset rendered once by weasyprint (the paperwork
stage's CJK fonts, embedded and subset); each is drawn as a small page and laid onto the first
page of its copy with pypdf.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image
from pypdf import PageObject, PdfReader, PdfWriter, Transformation
from pypdf.generic import DictionaryObject, NameObject, RectangleObject, StreamObject

from archive.core.errors import ArchiveError
from archive.paperwork.glyphs import glyph_html, load_glyphs
from archive.paperwork.render_pdf import cjk_fonts, font_face_css

MM = 72 / 25.4
STAMP_W, STAMP_H = 45 * MM, 16 * MM
_MARGIN = 2 * MM  # blank kept around the stamp
_EDGE = 6 * MM  # never closer to the page's edge than this
_BAND = 20 * MM  # the strip added on top when the top band has no room
_TOP_SHARE = 0.30  # the "top band": this share of the page height
_DPI = 50.0
_INK = 140  # darker than this (0-255) is ink
_INK_SHARE = 0.002  # a box with no more than this share of ink pixels is blank
_RED_RGB = "0.83 0 0"


class StampError(ArchiveError):
    """A copy could not be stamped (its PDF unreadable)."""


@dataclass(frozen=True)
class StampFields:
    """What the 归档章 shows."""

    fonds: str
    year: int
    item: int
    retention: str
    org_name: str = ""
    pages: int | None = None

    @classmethod
    def from_sidecar(cls, side: dict[str, Any]) -> StampFields | None:
        data = side.get("archival")
        if not isinstance(data, dict):
            return None
        return cls(
            str(data.get("fonds") or ""),
            int(data["year"]),
            int(data["item"]),
            str(data["retention"]),
            str(data.get("org_name") or ""),
            side.get("pages") if isinstance(side.get("pages"), int) else None,
        )

    def cells(self) -> list[str]:
        """Top row 全宗号, 年度, 件号; bottom row 机构(问题), 保管期限, 页数."""
        return [
            self.fonds,
            str(self.year),
            str(self.item),
            self.org_name,
            self.retention,
            "" if self.pages is None else str(self.pages),
        ]


@dataclass(frozen=True)
class Placement:
    """Where a stamp went: upright page coordinates (pt, from the bottom left) of its lower
    left corner, and how the place was found."""

    x: float
    y: float
    how: str  # "blank" (a blank spot of the top band) | "added_band" (a strip added on top)

    def describe(self) -> str:
        if self.how == "blank":
            return "首页上端空白处"
        return "首页上端没有足够的空白, 已在页面顶部加出20毫米空白条盖章 (未遮盖内容)"


# --------------------------------------------------------------------------- drawing


class StampPainter:
    """Draws 归档章 as PDF pages with one shared font subset: weasyprint renders every
    character the batch needs once (:mod:`archive.paperwork.glyphs`), each stamp is then a
    few lines of PDF drawing operators — thousands of stamps in about a second."""

    def __init__(self, fields: Sequence[StampFields]) -> None:
        import logging

        import weasyprint

        logging.getLogger("weasyprint").setLevel(logging.ERROR)
        logging.getLogger("fontTools").setLevel(logging.ERROR)
        chars = set("0123456789") | {ch for f in fields for c in f.cells() for ch in c}
        page = (
            f'<html lang="zh-CN"><head><style>{font_face_css(cjk_fonts())}</style></head>'
            f"<body>{glyph_html(chars)}</body></html>"
        )
        self.reader = PdfReader(io.BytesIO(weasyprint.HTML(string=page).write_pdf()))
        self.glyphs, self.fonts = load_glyphs(self.reader, 0)
        missing = sorted(ch for ch in chars if ch not in self.glyphs.cmap and not ch.isspace())
        if missing:
            raise StampError(f"归档章缺少字形: {''.join(missing)}; 请安装 Noto CJK 字体")

    def page(self, fields: StampFields) -> PageObject:
        """One 45 × 16 mm page holding the stamp."""
        page = PageObject.create_blank_page(width=STAMP_W, height=STAMP_H)
        names = [NameObject(f"/DgSeal{i}") for i in range(len(self.fonts))]
        page[NameObject("/Resources")] = DictionaryObject(
            {
                NameObject("/Font"): DictionaryObject(dict(zip(names, self.fonts, strict=True))),
            }
        )
        w3, h2, line = STAMP_W / 3, STAMP_H / 2, 0.6
        ops = [f"q {_RED_RGB} RG {_RED_RGB} rg {line} w"]
        inset = line / 2
        ops.append(f"{inset:.2f} {inset:.2f} {STAMP_W - line:.2f} {STAMP_H - line:.2f} re S")
        ops.append(f"{inset:.2f} {h2:.2f} m {STAMP_W - inset:.2f} {h2:.2f} l S")
        for k in (1, 2):
            ops.append(f"{w3 * k:.2f} {inset:.2f} m {w3 * k:.2f} {STAMP_H - inset:.2f} l S")
        for n, text in enumerate(fields.cells()):
            if not text:
                continue
            col, row = n % 3, n // 3
            size = 8.0
            while size > 4 and self.glyphs.width(text, size) > w3 - 3:
                size -= 0.5
            x = col * w3 + (w3 - self.glyphs.width(text, size)) / 2
            y = (1 - row) * h2 + (h2 - size * 0.72) / 2
            ops.append(f"BT 1 0 0 1 {x:.2f} {y:.2f} Tm")
            for font, codes in self.glyphs.runs(text):
                ops.append(f"{names[font]} {size:.2f} Tf <{codes.decode()}> Tj")
            ops.append("ET")
        ops.append("Q")
        stream = StreamObject()
        stream.set_data("\n".join(ops).encode())
        page[NameObject("/Contents")] = stream
        return page


# --------------------------------------------------------------------------- placing


def upright_frame(box: tuple[float, float, float, float], rotate: int) -> tuple[float, ...]:
    """The matrix (a b c d e f) mapping upright page coordinates (as the page is shown, its
    ``/Rotate`` applied) to the page's user space, and nothing else."""
    x0, y0, x1, y1 = box
    if rotate == 90:
        return (0, 1, -1, 0, x1, y0)
    if rotate == 180:
        return (-1, 0, 0, -1, x1, y1)
    if rotate == 270:
        return (0, -1, 1, 0, x0, y1)
    return (1, 0, 0, 1, x0, y0)


def find_place(image: Image.Image, width: float, height: float) -> tuple[float, float] | None:
    """Lower-left corner (upright pt) of a blank spot for the stamp in the top band of the
    page ``image`` (as shown; ``width`` × ``height`` pt), right first; ``None`` if none."""
    import numpy as np

    gray = np.asarray(image.convert("L"))
    h, w = gray.shape
    sx, sy = w / width, h / height
    ink = (gray < _INK).astype(np.int32)
    table = np.zeros((h + 1, w + 1), dtype=np.int64)  # summed-area table
    table[1:, 1:] = ink.cumsum(0).cumsum(1)
    bw = int((STAMP_W + 2 * _MARGIN) * sx) + 1
    bh = int((STAMP_H + 2 * _MARGIN) * sy) + 1
    limit = max(1, int(bw * bh * _INK_SHARE))
    edge_x, edge_y = int((_EDGE - _MARGIN) * sx), int((_EDGE - _MARGIN) * sy)
    bottom = int(height * _TOP_SHARE * sy)
    step = max(1, int(MM * sy))
    lefts = [w - edge_x - bw, (w - bw) // 2, edge_x]
    for top in range(edge_y, max(edge_y, bottom - bh) + 1, step):
        for left in lefts:
            if left < 0 or top + bh > h:
                continue
            count = (
                table[top + bh, left + bw]
                - table[top, left + bw]
                - table[top + bh, left]
                + table[top, left]
            )
            if count <= limit:
                return left / sx + _MARGIN, height - (top / sy + _MARGIN) - STAMP_H
    return None


def _page_image(data: bytes) -> tuple[Image.Image, float, float]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[0]
        width, height = page.get_size()  # as shown (the page's rotation applied)
        image = page.render(scale=_DPI / 72, grayscale=True).to_pil()
        return image, float(width), float(height)
    finally:
        pdf.close()


def stamp_first_page(data: bytes, stamp: PageObject) -> tuple[bytes, Placement]:
    """``data`` (a PDF) with ``stamp`` laid on its first page (see module doc)."""
    try:
        image, width, height = _page_image(data)
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise StampError("PDF 有密码")
        writer = PdfWriter(clone_from=reader)
    except StampError:
        raise
    except Exception as exc:  # pdfium or pypdf could not read it
        raise StampError(f"无法读取 PDF 首页 ({exc})") from exc
    page = writer.pages[0]
    rotate = int(page.get("/Rotate", 0) or 0) % 360
    spot = find_place(image, width, height)
    width, height = float(width), float(height)
    if spot is not None:
        placement = Placement(spot[0], spot[1], "blank")
    else:
        _add_band(page, rotate)
        height += _BAND
        placement = Placement(
            width - _EDGE - STAMP_W, height - _BAND / 2 - STAMP_H / 2, "added_band"
        )
    box = page.mediabox
    a, b, c, d, e, f = upright_frame(
        (float(box.left), float(box.bottom), float(box.right), float(box.top)), rotate
    )
    x, y = placement.x, placement.y
    ctm = (a, b, c, d, a * x + c * y + e, b * x + d * y + f)
    page.merge_transformed_page(stamp, Transformation(ctm), over=True, expand=False)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), placement


def _add_band(page: PageObject, rotate: int) -> None:
    """Make the page ``_BAND`` taller at the top as it is shown."""
    box = page.mediabox
    x0, y0, x1, y1 = float(box.left), float(box.bottom), float(box.right), float(box.top)
    if rotate == 90:
        x0 -= _BAND
    elif rotate == 180:
        y0 -= _BAND
    elif rotate == 270:
        x1 += _BAND
    else:
        y1 += _BAND
    rect = RectangleObject((x0, y0, x1, y1))
    page[NameObject("/MediaBox")] = rect
    for name in ("/CropBox", "/TrimBox", "/BleedBox", "/ArtBox"):
        if name in page:
            page[NameObject(name)] = RectangleObject((x0, y0, x1, y1))
