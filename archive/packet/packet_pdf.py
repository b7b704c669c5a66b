"""The merged acceptance-evidence PDF (验收材料.pdf) of a bundle: the orchestrator.

Layout: a cover, a catalogue with page numbers, the self-assessment table, then every
criterion's evidence in the standard's order. The outline runs area → criterion →
document and every page carries a header stamp (criterion, licence or case number,
``第x页/共y页``).

Steps: a counting pass reads only the page trees (and image frame counts) and names
every unreadable file at once; the front matter and the stamp font come from
:mod:`archive.packet.packet_front`; the pages are written by the streaming writer of
:mod:`archive.packet.pdf_stream`, so memory stays bounded however large the packet is.
"""

from __future__ import annotations

import datetime
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from PIL import Image
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import (
    DictionaryObject,
    IndirectObject,
    NameObject,
    TextStringObject,
)

from archive.core.errors import Problem, ValidationError
from archive.packet.packet_front import (
    CAT_ROWS,
    CATALOGUE_GLYPHS,
    Slot,
    Stamper,
    catalogue_page,
    catalogue_rows,
    render_front,
)
from archive.packet.pdf_stream import (
    Mark,
    PacketChangedError,
    PacketPages,
    PdfOut,
    ref,
    write_outline,
)
from archive.paperwork.glyphs import load_glyphs

if TYPE_CHECKING:
    from archive.packet.model import BundlePlan, EvidenceDoc

__all__ = [
    "FRONT_SECTIONS",
    "PacketChangedError",
    "PacketSummary",
    "count_pages",
    "write_packet_pdf",
]

_TRIM_BYTES = 16 << 20  # sources larger than this drop pypdf's object cache page by page
_PDF_SUFFIXES = {".pdf"}
FRONT_SECTIONS = ("封面", "目录", "自评表")


@dataclass(frozen=True)
class PacketSummary:
    """What was written: total pages, front-matter pages, each document's first page."""

    pages: int
    front_pages: int
    first_pages: list[int]


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


def _count_all(plan: BundlePlan) -> list[Slot]:
    slots: list[Slot] = []
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
                slots.append(Slot(a, c, doc, n))
    if problems:
        raise ValidationError("验收材料.pdf 的佐证文件 (请修复或换成可读的文件)", problems)
    return slots


# --------------------------------------------------------------------------- entry point


def _stamp_left(plan: BundlePlan, slot: Slot) -> str:
    crit = plan.areas[slot.area].criteria[slot.crit]
    parts = [f"{crit.code} {crit.title}", slot.doc.label]
    if slot.doc.key:
        parts.append(slot.doc.key)
    if slot.doc.code:
        parts.append(slot.doc.code)
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
    rows = catalogue_rows(plan, slots, 0)
    chars = set("".join(lefts) + "".join(r.text for r in rows) + title + "".join(FRONT_SECTIONS))
    chars |= set(CATALOGUE_GLYPHS + "0123456789第页共/·?")
    front_pdf, starts = render_front(plan, slots, chars)
    front = PdfReader(io.BytesIO(front_pdf))
    glyphs, font_src = load_glyphs(front, starts[2])

    n_cover, n_table = starts[1] - starts[0], starts[2] - starts[1]
    n_cat = max(1, -(-len(rows) // CAT_ROWS))
    table_page = n_cover + n_cat + 1
    page = table_page + n_table
    for s in slots:
        s.first = page
        page += s.pages
    total = page - 1
    rows = catalogue_rows(plan, slots, table_page)

    out = PdfOut(dest)
    catalog, pages_root, info = out.alloc(), out.alloc(), out.alloc()
    packet = PacketPages(out, total)
    front_copier = packet.copier(front)
    font_refs = [front_copier.ref(r) for r in font_src]
    front_copier.flush()
    stamper = Stamper(glyphs, [r for r in font_refs if isinstance(r, IndirectObject)], total)
    packet.stamper = stamper

    cover = packet.add_pdf(
        front, f"{title} · 封面", copier=front_copier, pages=range(starts[0], starts[1])
    )
    cat_first = 0
    for k in range(n_cat):
        content, links = catalogue_page(
            rows[k * CAT_ROWS : (k + 1) * CAT_ROWS], glyphs, stamper.names, k > 0
        )
        num = packet.add_drawn(content, links, f"{title} · 目录")
        cat_first = cat_first or num
    table = packet.add_pdf(
        front, f"{title} · 自评表", copier=front_copier, pages=range(starts[1], starts[2])
    )
    marks = [Mark("封面", cover), Mark("目录", cat_first), Mark("自评表", table)]
    del front, front_copier

    area_marks: dict[int, Mark] = {}
    crit_marks: dict[tuple[int, int], Mark] = {}
    for a, area in enumerate(plan.areas):
        area_marks[a] = Mark(area.name, 0, open=True)
        for c, crit in enumerate(area.criteria):
            crit_marks[(a, c)] = Mark(f"{crit.code} {crit.title}", 0)
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
        crit_marks[(slot.area, slot.crit)].children.append(Mark(label, first))
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
    outline = write_outline(out, marks)
    out.obj(
        catalog,
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Catalog"),
                NameObject("/Pages"): ref(pages_root),
                NameObject("/Outlines"): ref(outline),
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
