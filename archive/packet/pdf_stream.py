"""A streaming PDF writer for the acceptance-evidence packet, on pypdf's object model.

Memory stays bounded however large the packet is: each source page's objects are
copied straight to the output file (object numbers remapped, each object once), the
source is closed and nothing but the cross-reference offsets is kept.

- :class:`PdfOut` appends numbered objects and streams to a binary file and writes the
  cross-reference table and trailer at the end;
- :class:`Copier` copies the objects one source reader's pages refer to;
- :class:`PacketPages` builds the output's page tree: stamped copies of source pages,
  image pages (scans and photos turned into pages) and pages dangan draws itself;
- :func:`write_outline` writes the bookmarks (area → criterion → document).

What a page's stamp looks like is decided by the caller (a :class:`Stamp`): this module
only knows where the stamp's content stream and its fonts go.
"""

from __future__ import annotations

import hashlib
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from PIL import Image, ImageOps
from pypdf import PdfReader
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

from archive.core.errors import IntegrityError

A4 = (595.28, 841.89)  # points
_FANOUT = 64
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
_SUBSET_TAG = re.compile(r"^/[A-Z]{6}\+")


class PacketChangedError(IntegrityError):
    """An evidence file changed between the counting pass and the merge."""


class Stamp(Protocol):
    """What :class:`PacketPages` needs from the stamp: its drawing and its fonts."""

    def content(self, left: str, page: int, box: tuple[float, ...], rotate: int) -> bytes:
        """Content-stream operators drawn over page ``page`` (1-based), in ``box``."""
        ...

    def add_fonts(self, fonts: DictionaryObject) -> None:
        """Put the stamp's fonts into a page's /Font resources."""
        ...


# --------------------------------------------------------------------------- streaming writer


class PdfOut:
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
        return ref(num)

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


def ref(num: int) -> IndirectObject:
    return IndirectObject(num, 0, None)


class Copier:
    """Copies objects of one source reader into the output, each object once."""

    def __init__(self, out: PdfOut, reader: PdfReader, seq: int) -> None:
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
        return ref(num) if num else NullObject()

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


# --------------------------------------------------------------------------- pages


class PacketPages:
    """The output's pages: stamped copies of source pages and image pages, in order."""

    stamper: Stamp

    def __init__(self, out: PdfOut, total: int) -> None:
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
                NameObject("/Parent"): ref(self.nodes[len(self.kids) // _FANOUT]),
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

    def copier(self, reader: PdfReader) -> Copier:
        self.sources += 1
        return Copier(self.out, reader, self.sources)

    def add_pdf(
        self,
        reader: PdfReader,
        left: str,
        *,
        trim_cache: bool = False,
        copier: Copier | None = None,
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

    def _annots(self, src: DictionaryObject, copier: Copier) -> ArrayObject:
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
            kept.append(ref(num))
        return kept

    def add_drawn(
        self, content: bytes, links: list[tuple[float, float, float, float, int]], left: str
    ) -> int:
        """An A4 page drawn by dangan itself (the catalogue), with links to pages."""
        page = self._page_dict((0.0, 0.0, *A4), 0, left, [self.out.new_stream(content)])
        page[NameObject("/MediaBox")] = ArrayObject(FloatObject(v) for v in (0, 0, *A4))
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
                        [ref(self.page_nums[target - 1]), NameObject("/Fit")]
                    ),
                }
            )
            num = self.out.alloc()
            self.out.obj(num, link)
            annots.append(ref(num))
        if annots:
            page[NameObject("/Annots")] = annots
        return self._emit(page)

    def add_image(self, path: Path, left: str) -> int:
        first = 0
        for head, data, w, h in image_frames(path):
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
                    NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): ref(img)}),
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
                        NameObject("/Parent"): ref(root_pages),
                        NameObject("/Kids"): ArrayObject(ref(k) for k in kids),
                        NameObject("/Count"): NumberObject(len(kids)),
                    }
                ),
            )
        self.out.obj(
            root_pages,
            DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Pages"),
                    NameObject("/Kids"): ArrayObject(ref(n) for n in self.nodes),
                    NameObject("/Count"): NumberObject(len(self.kids)),
                }
            ),
        )


def image_frames(path: Path) -> Iterator[tuple[DictionaryObject, bytes, float, float]]:
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
class Mark:
    title: str
    page: int
    children: list[Mark] = field(default_factory=list)
    open: bool = False


def write_outline(out: PdfOut, marks: list[Mark]) -> int:
    root = out.alloc()
    nums = [out.alloc() for _ in marks]

    def visible(m: Mark) -> int:
        return len(m.children) + sum(visible(c) for c in m.children) if m.open else 0

    def level(parent: int, items: list[Mark], numbers: list[int]) -> None:
        for i, (m, num) in enumerate(zip(items, numbers, strict=True)):
            kids = [out.alloc() for _ in m.children]
            entry = DictionaryObject(
                {
                    NameObject("/Title"): TextStringObject(m.title),
                    NameObject("/Parent"): ref(parent),
                    NameObject("/Dest"): ArrayObject([ref(m.page), NameObject("/Fit")]),
                }
            )
            if i:
                entry[NameObject("/Prev")] = ref(numbers[i - 1])
            if i + 1 < len(numbers):
                entry[NameObject("/Next")] = ref(numbers[i + 1])
            if kids:
                entry[NameObject("/First")] = ref(kids[0])
                entry[NameObject("/Last")] = ref(kids[-1])
                count = visible(m) if m.open else -len(kids)
                entry[NameObject("/Count")] = NumberObject(count)
            out.obj(num, entry)
            level(num, m.children, kids)

    level(root, marks, nums)
    head = DictionaryObject({NameObject("/Type"): NameObject("/Outlines")})
    if nums:
        head[NameObject("/First")] = ref(nums[0])
        head[NameObject("/Last")] = ref(nums[-1])
        head[NameObject("/Count")] = NumberObject(len(marks) + sum(visible(m) for m in marks))
    out.obj(root, head)
    return root
