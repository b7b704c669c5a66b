"""A shared font subset drawn by hand: glyph codes and advances read back from a PDF that
weasyprint rendered with every character needed (one subset per face, embedded once).

The packet's page stamps and catalogue (:mod:`archive.packet.packet_front`) and the 归档章
(:mod:`archive.paperwork.stamp`) draw their text with it: rendering thousands of small
pieces of text through weasyprint one by one would cost seconds each batch.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

SANS = "Noto Sans CJK SC"


@dataclass
class Glyphs:
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


def glyph_html(chars: set[str]) -> str:
    spaced = " ".join(html.escape(ch) for ch in sorted(chars) if ch not in " \t\r\n")
    style = (
        f"font-family: '{SANS}'; font-size: 8pt; font-variant-ligatures: none; "
        "font-kerning: none; word-break: break-all;"
    )
    return f'<p style="{style}">{spaced}</p>'


def load_glyphs(reader: PdfReader, first: int) -> tuple[Glyphs, list[IndirectObject]]:
    """Glyph codes of the Type0 fonts used on the glyph page(s) from ``first`` on."""
    glyphs = Glyphs()
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
