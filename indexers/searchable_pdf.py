"""Searchable PDF: the scanned images with an invisible Chinese text layer on top.

Each page shows the scan as it was stored (a JPEG scan is embedded byte for byte) with
``/Rotate`` so a viewer shows it upright, and carries the OCR lines as invisible text (render
mode 3) along the lines where they were read, so a clerk can search, select and copy the
Chinese in any PDF reader. The invisible layer uses an embedded glyph-less CID font
(``Identity-H``, codes are UTF-16, ``ToUnicode`` maps them back), as tesseract and OCRmyPDF
do: no per-document font subsetting, a few hundred bytes per file.

The same small writer makes visible text pages (render mode 0) in an embedded subset of
Noto Sans CJK SC (CID-keyed CFF, ``CIDFontType0C``); the sample generator uses it for
"born-digital" PDFs. PDF 1.6 written by hand: no dependency beyond fontTools, which
weasyprint already brings.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from PIL import Image

from archive.core.errors import ArchiveError

FONT_PATH = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
_FONT_INDEX = 2  # Noto Sans CJK SC
_FONT_NAME = "NotoSansCJKsc-Regular"

Point = tuple[float, float]
Box = tuple[Point, Point, Point, Point]


class SearchablePdfError(ArchiveError):
    """The searchable PDF could not be made (font missing, image unreadable)."""


@dataclass(frozen=True)
class TextBox:
    """A line of text and where it sits on the page image.

    ``box`` holds four corners in image pixels (origin top-left, y down), clockwise from the
    line's top-left corner, as the OCR detector reports them.
    """

    text: str
    box: Box


@dataclass
class PdfPage:
    """One page to write: its pixel size and resolution, an optional image and text lines."""

    width_px: int
    height_px: int
    dpi: float
    jpeg: bytes | None = None  # DCT-encoded page image, drawn full page
    gray: bool = False
    texts: list[TextBox] = field(default_factory=list)
    visible: bool = False  # False: render mode 3 (invisible OCR layer)
    rotate: int = 0  # /Rotate: degrees clockwise a viewer turns the page to show it


def page_from_image(
    image: Image.Image,
    dpi: float | None,
    texts: Sequence[TextBox],
    *,
    original_jpeg: bytes | None = None,
    quality: int = 85,
    rotate: int = 0,
) -> PdfPage:
    """A page showing ``image`` with ``texts`` as an invisible layer.

    ``original_jpeg`` (the source file's bytes) is embedded as is when given, so an upright
    JPEG scan is not recompressed. Without a known resolution the page is fitted to A4 width.
    """
    w, h = image.size
    if not dpi or dpi <= 0:  # unknown resolution: take the page to be A4
        dpi = max(w, h) / (297 / 25.4)
    gray = image.mode in ("1", "L", "LA", "I", "I;16", "F")
    if original_jpeg is None:
        buf = io.BytesIO()
        image.convert("L" if gray else "RGB").save(buf, "JPEG", quality=quality, optimize=True)
        jpeg = buf.getvalue()
    else:
        jpeg = original_jpeg
    return PdfPage(w, h, float(dpi), jpeg=jpeg, gray=gray, texts=list(texts), rotate=rotate)


# --------------------------------------------------------------------------- font


@dataclass
class _Font:
    cff: bytes
    codes: dict[str, int]  # char -> CID
    widths: dict[int, int]  # CID -> advance (1/1000 em)
    bbox: tuple[int, int, int, int]
    tag: str


@lru_cache(maxsize=1)
def _font_bytes() -> bytes:
    try:
        return FONT_PATH.read_bytes()
    except OSError as exc:
        raise SearchablePdfError(
            f"找不到中文字体 {FONT_PATH}: 请安装 fonts-noto-cjk (apt-get install fonts-noto-cjk)"
        ) from exc


@lru_cache(maxsize=1)
def _cmap() -> dict[int, str]:
    from fontTools.ttLib import TTFont

    f = TTFont(io.BytesIO(_font_bytes()), fontNumber=_FONT_INDEX, lazy=True)
    return dict(f.getBestCmap())


def _subset_font(chars: set[str]) -> _Font:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    cmap = _cmap()
    usable = sorted(c for c in chars if ord(c) in cmap)
    f = TTFont(io.BytesIO(_font_bytes()), fontNumber=_FONT_INDEX)
    names = {c: cmap[ord(c)] for c in usable}
    advances = {c: f["hmtx"][names[c]][0] for c in usable}
    opts = subset.Options()
    opts.layout_features = []
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.desubroutinize = True
    opts.drop_tables += ["BASE", "GDEF", "GPOS", "GSUB", "VORG", "vhea", "vmtx"]
    sub = subset.Subsetter(opts)
    sub.populate(text="".join(usable))
    sub.subset(f)
    cff = f["CFF "].compile(f)
    codes: dict[str, int] = {}
    widths: dict[int, int] = {}
    for c in usable:
        name = names[c]
        cid = int(name[3:]) if name.startswith("cid") else 0
        if cid:
            codes[c] = cid
            widths[cid] = advances[c]
    head = f["head"]
    tag = "".join(chr(65 + (sum(map(ord, usable)) // 26**i) % 26) for i in range(6))
    return _Font(cff, codes, widths, (head.xMin, head.yMin, head.xMax, head.yMax), tag)


# --------------------------------------------------------------------------- writer


class _Writer:
    def __init__(self) -> None:
        self.objects: list[bytes | None] = []

    def reserve(self) -> int:
        self.objects.append(None)
        return len(self.objects)

    def put(self, num: int, body: bytes) -> None:
        self.objects[num - 1] = body

    def add(self, body: bytes) -> int:
        self.objects.append(body)
        return len(self.objects)

    def stream(self, dictionary: str, data: bytes, *, compress: bool = True) -> int:
        if compress:
            data = zlib.compress(data, 6)
            dictionary += " /Filter /FlateDecode"
        head = f"<< {dictionary} /Length {len(data)} >>\nstream\n".encode()
        return self.add(head + data + b"\nendstream")

    def finish(self, root: int, info: int) -> bytes:
        out = io.BytesIO()
        out.write(b"%PDF-1.6\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for i, body in enumerate(self.objects, start=1):
            assert body is not None
            offsets.append(out.tell())
            out.write(f"{i} 0 obj\n".encode() + body + b"\nendobj\n")
        xref = out.tell()
        out.write(f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode())
        for off in offsets:
            out.write(f"{off:010d} 00000 n \n".encode())
        trailer = f"trailer\n<< /Size {len(offsets) + 1} /Root {root} 0 R /Info {info} 0 R >>\n"
        out.write(f"{trailer}startxref\n{xref}\n%%EOF\n".encode())
        return out.getvalue()


# The opening of every ToUnicode CMap written here (Identity, two-byte codes).
_CMAP_HEAD = (
    "/CIDInit /ProcSet findresource begin",
    "12 dict begin",
    "begincmap",
    "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
    "/CMapName /Adobe-Identity-UCS def",
    "/CMapType 2 def",
    "1 begincodespacerange",
    "<0000> <FFFF>",
    "endcodespacerange",
)


def _tounicode(codes: dict[str, int]) -> bytes:
    pairs = sorted((cid, ch) for ch, cid in codes.items())
    seen: set[int] = set()
    lines = list(_CMAP_HEAD)
    unique = []
    for cid, ch in pairs:
        if cid not in seen:
            seen.add(cid)
            unique.append((cid, ch))
    for i in range(0, len(unique), 100):
        chunk = unique[i : i + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        for cid, ch in chunk:
            lines.append(f"<{cid:04X}> <{ch.encode('utf-16-be').hex().upper()}>")
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode()


def _font_objects(w: _Writer, font: _Font) -> int:
    file_num = w.stream("/Subtype /CIDFontType0C", font.cff)
    base = f"{font.tag}+{_FONT_NAME}"
    bbox = " ".join(str(v) for v in font.bbox)
    desc = w.add(
        f"<< /Type /FontDescriptor /FontName /{base} /Flags 4 /FontBBox [{bbox}] "
        f"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 733 /StemV 80 "
        f"/FontFile3 {file_num} 0 R >>".encode()
    )
    warr = " ".join(f"{cid} [{wd}]" for cid, wd in sorted(font.widths.items()) if wd != 1000)
    cid_font = w.add(
        f"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /{base} "
        f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        f"/FontDescriptor {desc} 0 R /DW 1000 /W [{warr}] >>".encode()
    )
    tounicode = w.stream("", _tounicode(font.codes))
    return w.add(
        f"<< /Type /Font /Subtype /Type0 /BaseFont /{base} /Encoding /Identity-H "
        f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {tounicode} 0 R >>".encode()
    )


def _dist(a: Point, b: Point) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


def _text_ops(page: PdfPage, font: _Font) -> list[str]:
    scale = 72.0 / page.dpi
    height_pt = page.height_px * scale
    ops: list[str] = []
    mode = 0 if page.visible else 3
    for tb in page.texts:
        glyphs = [font.codes[c] for c in tb.text if c in font.codes]
        if not glyphs:
            continue
        p0, p1, _p2, p3 = tb.box
        width = _dist(p0, p1) * scale
        height = _dist(p0, p3) * scale
        if width <= 0 or height <= 0:
            continue
        angle = -math.atan2(p1[1] - p0[1], p1[0] - p0[0])
        size = height * (1.0 if page.visible else 0.85)
        natural = sum(font.widths.get(g, 1000) for g in glyphs) / 1000 * size
        hscale = 100.0 if page.visible or natural <= 0 else 100.0 * width / natural
        # baseline: from the bottom-left corner, up by the descent share of the box
        drop = 0.12 if page.visible else 0.2
        bx = p3[0] + (p0[0] - p3[0]) * drop
        by = p3[1] + (p0[1] - p3[1]) * drop
        x, y = bx * scale, height_pt - by * scale
        cos, sin = math.cos(angle), math.sin(angle)
        hexs = "".join(f"{g:04X}" for g in glyphs)
        ops.append(
            f"BT {mode} Tr /F1 {size:.2f} Tf {hscale:.2f} Tz "
            f"{cos:.5f} {sin:.5f} {-sin:.5f} {cos:.5f} {x:.2f} {y:.2f} Tm <{hexs}> Tj ET"
        )
    return ops


@lru_cache(maxsize=1)
def _glyphless_ttf() -> bytes:
    """A TrueType font with one empty glyph: the invisible layer needs no outlines."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder([".notdef", "blank"])
    fb.setupCharacterMap({})
    empty = TTGlyphPen(None).glyph()
    fb.setupGlyf({".notdef": empty, "blank": TTGlyphPen(None).glyph()})
    fb.setupHorizontalMetrics({".notdef": (1000, 0), "blank": (1000, 0)})
    fb.setupHorizontalHeader(ascent=1000, descent=0)
    fb.setupNameTable({"familyName": "GlyphLessFont", "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=1000, sTypoDescender=0, usWinAscent=1000, usWinDescent=0)
    fb.setupPost()
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()


def _glyphless(chars: set[str]) -> _Font:
    codes = {c: ord(c) for c in chars if 0x20 <= ord(c) <= 0xFFFF}
    return _Font(b"", codes, {}, (0, 0, 1000, 1000), "")


def _glyphless_objects(w: _Writer) -> int:
    """Type0 / CIDFontType2 over the glyph-less font: codes are UTF-16 units, every CID
    draws the empty glyph, and ToUnicode maps each code to itself (what OCR layers of
    tesseract and OCRmyPDF do). Copy, search and pypdf get the Chinese back."""
    file_num = w.stream(f"/Length1 {len(_glyphless_ttf())}", _glyphless_ttf())
    desc = w.add(
        b"<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 5 "
        b"/FontBBox [0 0 1000 1000] /ItalicAngle 0 /Ascent 1000 /Descent 0 "
        b"/CapHeight 1000 /StemV 80 /FontFile2 " + f"{file_num} 0 R >>".encode()
    )
    cid_to_gid = w.stream("", b"\x00\x01" * 65536)
    cid_font = w.add(
        f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont "
        f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        f"/FontDescriptor {desc} 0 R /DW 1000 /CIDToGIDMap {cid_to_gid} 0 R >>".encode()
    )
    cmap = "\n".join(
        [
            *_CMAP_HEAD,
            "1 beginbfrange",
            "<0000> <FFFF> <0000>",
            "endbfrange",
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    )
    tounicode = w.stream("", cmap.encode())
    return w.add(
        f"<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H "
        f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {tounicode} 0 R >>".encode()
    )


def build_pdf(pages: Sequence[PdfPage], *, title: str = "") -> bytes:
    """Write the pages as one PDF (images full page, text layer over them).

    Visible text is set in an embedded subset of Noto Sans CJK SC; the invisible OCR layer
    uses a glyph-less CID font (tiny, and no per-document font subsetting).
    """
    shown = {c for p in pages if p.visible for t in p.texts for c in t.text}
    hidden = {c for p in pages if not p.visible for t in p.texts for c in t.text}
    w = _Writer()
    root = w.reserve()
    pages_num = w.reserve()
    noto = _subset_font(shown) if shown else None
    noto_num = _font_objects(w, noto) if noto else None
    ghost = _glyphless(hidden) if hidden else None
    ghost_num = _glyphless_objects(w) if ghost else None
    kids: list[int] = []
    for page in pages:
        scale = 72.0 / page.dpi
        wpt, hpt = page.width_px * scale, page.height_px * scale
        ops: list[str] = []
        resources: list[str] = []
        if page.jpeg is not None:
            cs = "/DeviceGray" if page.gray else "/DeviceRGB"
            img = w.stream(
                f"/Type /XObject /Subtype /Image /Width {page.width_px} "
                f"/Height {page.height_px} /ColorSpace {cs} /BitsPerComponent 8 "
                "/Filter /DCTDecode",
                page.jpeg,
                compress=False,
            )
            resources.append(f"/XObject << /Im0 {img} 0 R >>")
            ops.append(f"q {wpt:.3f} 0 0 {hpt:.3f} 0 0 cm /Im0 Do Q")
        font, font_num = (noto, noto_num) if page.visible else (ghost, ghost_num)
        if font is not None and font_num is not None and page.texts:
            resources.append(f"/Font << /F1 {font_num} 0 R >>")
            ops += _text_ops(page, font)
        content = w.stream("", "\n".join(ops).encode())
        res = " ".join(resources)
        kids.append(
            w.add(
                f"<< /Type /Page /Parent {pages_num} 0 R /MediaBox [0 0 {wpt:.3f} {hpt:.3f}] "
                f"/Resources << {res} >> /Contents {content} 0 R /Rotate {page.rotate % 360} >>".encode()
            )
        )
    kid_refs = " ".join(f"{k} 0 R" for k in kids)
    w.put(pages_num, f"<< /Type /Pages /Kids [{kid_refs}] /Count {len(kids)} >>".encode())
    w.put(root, f"<< /Type /Catalog /Pages {pages_num} 0 R >>".encode())
    info = w.add(
        f"<< /Producer (dangan) /Title <FEFF{title.encode('utf-16-be').hex()}> >>".encode()
    )
    return w.finish(root, info)


# --------------------------------------------------------------------------- OCR layers


def unturn_box(box: Sequence[Point], rotation: int, width: int, height: int) -> Box:
    """Map a box from the upright page back onto the scan as stored.

    ``rotation`` is how far the stored scan (``width`` x ``height`` pixels) was turned
    clockwise to read it. The corners keep their reading order, so text drawn along
    corner 0 → 1 runs the way the line reads.
    """
    r = rotation % 360
    out = []
    for u, v in box:
        if r == 90:
            out.append((v, height - u))
        elif r == 180:
            out.append((width - u, height - v))
        elif r == 270:
            out.append((width - v, u))
        else:
            out.append((u, v))
    return (out[0], out[1], out[2], out[3])


def overlay_pdf(original: bytes, layers: dict[int, tuple[list[TextBox], int, int, int]]) -> bytes:
    """Add invisible text to pages of an existing PDF, leaving the pages' content as it is.

    ``layers`` maps a 0-based page index to (boxes in the page image's pixels, image width,
    image height, rotation clockwise that shows the page upright). The page image is taken
    to fill the page, as scanners write it.
    """
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(original))
    writer = PdfWriter(clone_from=reader)
    overlays: list[PdfPage] = []
    order: list[int] = []
    for index, (boxes, w_px, h_px, _rot) in sorted(layers.items()):
        page = writer.pages[index]
        w_pt = float(page.mediabox.width)
        dpi = w_px / (w_pt / 72.0) if w_pt else 200.0
        overlays.append(PdfPage(w_px, h_px, dpi, texts=boxes))
        order.append(index)
    if not overlays:
        return original
    layer_pdf = PdfReader(io.BytesIO(build_pdf(overlays)))
    for k, index in enumerate(order):
        page = writer.pages[index]
        page.merge_page(layer_pdf.pages[k])
        rot = layers[index][3] % 360
        if rot:
            page.rotate(rot)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()
