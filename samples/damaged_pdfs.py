"""Odd and damaged PDFs of the kinds real offices produce, each with the text it still holds.

Every generator returns the bytes of one PDF. The damage is made on a real Chinese text-layer
PDF (weasyprint, the same fonts as the documents dangan writes), so a reader that opens the
file can be checked for the text it should find:

- ``junk_before_header``: a scanner driver's bytes before ``%PDF-`` (PDF readers look for the
  header within the first 1,024 bytes);
- ``empty_user_password``: encrypted with an owner password only: anyone may open it;
- ``broken_xref``: every offset in the cross-reference table wrong; readers that rebuild the
  table by scanning the objects (poppler, PDFium, qpdf) still open it;
- ``undecodable_image``: page 2 is a scan whose JPEG data is noise;
- ``damaged_content``: page 2's compressed content stream is cut in the middle;
- ``long_text_layer``: 30 pages of real text layer;
- ``unopenable``: ``%PDF-`` followed by noise: no reader opens it.
"""

from __future__ import annotations

import io
import random
import re
import zlib
from collections.abc import Callable, Sequence

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
)

# The line every readable page of these PDFs carries, with its page number.
MARK = "许可证号：610522100{page:03d} 第{page}页 烟草专卖零售许可证申请表"


def page_lines(page: int) -> list[str]:
    return [
        MARK.format(page=page),
        "企业名称：潼关县城关镇东大街王强便利店",
        "经营地址：潼关县城关镇东大街一百二十号",
    ]


def text_pdf(pages: int, first: int = 1) -> bytes:
    """A text-layer PDF of ``pages`` A4 pages, each carrying :func:`page_lines`."""
    from samples.textpdf import render_pages

    singles = render_pages([(f"申请表第{n}页", page_lines(n)) for n in range(first, first + pages)])
    if len(singles) == 1:
        return singles[0]
    writer = PdfWriter()
    for data in singles:
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
    return _written(writer)


def _written(writer: PdfWriter) -> bytes:
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def junk_before_header(junk: bytes = b"\x00\x00SCANNER-DRIVER v2.1\r\n" * 8) -> bytes:
    return junk + text_pdf(1)


def empty_user_password() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(1))))
    writer.encrypt(user_password="", owner_password="bureau-owner", algorithm="AES-128")
    return _written(writer)


def broken_xref(data: bytes | None = None) -> bytes:
    """Every cross-reference offset off by 7, and ``startxref`` pointing into the void."""
    data = text_pdf(2) if data is None else data
    start = data.rindex(b"\nxref") + 1
    end = data.index(b"trailer", start)

    def shift(m: re.Match[bytes]) -> bytes:
        return b"%010d" % (int(m.group(1)) + 7) + m.group(2)

    table = re.sub(rb"(\d{10})( \d{5} n)", shift, data[start:end])
    data = data[:start] + table + data[end:]
    tail = data.rindex(b"startxref")
    return data[:tail] + b"startxref\n999999\n%%EOF\n"


def _scan_page(writer: PdfWriter, jpeg: bytes, size: tuple[int, int]) -> None:
    page = writer.add_blank_page(595, 842)
    image = StreamObject()
    image[NameObject("/Type")] = NameObject("/XObject")
    image[NameObject("/Subtype")] = NameObject("/Image")
    image[NameObject("/Width")] = NumberObject(size[0])
    image[NameObject("/Height")] = NumberObject(size[1])
    image[NameObject("/ColorSpace")] = NameObject("/DeviceGray")
    image[NameObject("/BitsPerComponent")] = NumberObject(8)
    image[NameObject("/Filter")] = NameObject("/DCTDecode")
    image.set_data(jpeg)
    ref = writer._add_object(image)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): ref})}
    )
    content = DecodedStreamObject()
    content.set_data(b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    page[NameObject("/Contents")] = writer._add_object(content)


def undecodable_image() -> bytes:
    """Page 1 text; page 2 a 'scan' whose JPEG stream is noise."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(1))))
    noise = random.Random(7).randbytes(40_000)
    _scan_page(writer, b"\xff\xd8\xff\xe0" + noise, (1654, 2339))
    return _written(writer)


def scanned_broken_xref(jpeg: bytes, size: tuple[int, int]) -> bytes:
    """A one-page scan (``jpeg``, grey, ``size`` pixels, A4) whose cross-reference is broken."""
    writer = PdfWriter()
    _scan_page(writer, jpeg, size)
    return broken_xref(_written(writer))


def damaged_content() -> bytes:
    """Pages 1 and 3 intact; page 2's compressed content stream cut short and filled with noise."""
    reader = PdfReader(io.BytesIO(text_pdf(3)))
    writer = PdfWriter(clone_from=reader)
    page = writer.pages[1]
    contents = page.get_contents()
    assert contents is not None
    raw = zlib.compress(contents.get_data())
    broken = raw[: len(raw) // 3] + random.Random(3).randbytes(len(raw) // 2)
    stream = StreamObject()
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    stream.set_data(broken)
    stream._data = broken  # keep the damaged bytes as they are
    page[NameObject("/Contents")] = ArrayObject([writer._add_object(stream)])
    return _written(writer)


def long_text_layer(pages: int = 30) -> bytes:
    return text_pdf(pages)


def unopenable() -> bytes:
    return b"%PDF-1.7\n" + random.Random(11).randbytes(3000) + b"\n%%EOF\n"


# name → (generator, readable page numbers whose MARK must be found, pages that cannot be read)
KINDS: dict[str, tuple[Callable[[], bytes], Sequence[int], Sequence[int]]] = {
    "junk_before_header": (junk_before_header, (1,), ()),
    "empty_user_password": (empty_user_password, (1,), ()),
    "broken_xref": (broken_xref, (1, 2), ()),
    "undecodable_image": (undecodable_image, (1,), (2,)),
    "damaged_content": (damaged_content, (1, 3), (2,)),
    "long_text_layer": (long_text_layer, tuple(range(1, 31)), ()),
}


def damaged_set() -> dict[str, bytes]:
    """Every kind above, by file name (``<kind>.pdf``)."""
    return {f"{name}.pdf": make() for name, (make, _, _) in KINDS.items()}
