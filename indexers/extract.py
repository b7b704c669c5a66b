"""Text for every document: the one call the intake pipeline makes.

``extract_document(path, mime, ocr=pool)`` gives every page's text with where it came from
(text layer, OCR, or nothing and why), the page's quality verdict, and for scanned input a
searchable PDF (the scans with an invisible Chinese text layer). One bad page never fails the
document: it is recorded on its page (``source="none"``, ``error`` in Chinese) and listed in
:attr:`Extraction.unread`. A PDF is read :data:`CHUNK_PAGES` pages at a time (drawn, read,
measured, released), so a 400-page scan never holds 400 page images at once; ``progress``
hears of every page. What the libraries warned about while reading is in ``warnings``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from indexers.diagnostics import collecting
from indexers.quality import CLEAR, PageQuality, assess, effective_dpi
from indexers.searchable_pdf import (
    TextBox,
    build_pdf,
    overlay_pdf,
    page_from_image,
    unturn_box,
)
from indexers.textlayer import (
    ExtractError,
    OpenedPdf,
    open_pdf,
    qpdf_repair,
    read_pdf_range,
)

if TYPE_CHECKING:  # the OCR stack (numpy, OpenCV, the engines) is loaded for a scan only
    import numpy as np

    from indexers.ocr import OcrReader, OcrResult

__all__ = [
    "ExtractError",
    "Extraction",
    "PageQuality",
    "PageText",
    "extract_document",
]

MIMES = ("application/pdf", "image/jpeg", "image/png", "image/tiff")
NO_OCR = "未启用OCR"
CHUNK_PAGES = 8  # PDF pages drawn and read at a time
Image.MAX_IMAGE_PIXELS = 200_000_000  # A0 at 600 dpi; guards against decompression bombs


@dataclass
class PageText:
    """One page's text and where it came from."""

    number: int  # 1-based
    text: str
    source: str  # "text" (text layer) | "ocr" | "none" (failed)
    rotation: int  # degrees clockwise the page was turned to read it (0/90/180/270)
    confidence: float | None
    quality: PageQuality | None  # None for text-layer pages
    error: str | None  # Chinese reason when this page failed
    # the page's official seals (indexers.seals.Seal.as_dict); None: not looked for
    seals: list[dict[str, object]] | None = None


@dataclass
class Extraction:
    """Every page of one document, and the searchable PDF when it was scanned."""

    pages: list[PageText]
    searchable_pdf: bytes | None  # only for scanned input (images / image pages)
    notes: list[str] = field(default_factory=list)  # how the file was opened (repaired …)
    warnings: list[str] = field(default_factory=list)  # what the libraries warned about
    warning_count: int = 0

    @property
    def text(self) -> str:
        return "\n\f\n".join(p.text for p in self.pages)

    @property
    def unread(self) -> list[PageText]:
        """Pages whose text could not be read at all (not pages merely left for OCR)."""
        return [p for p in self.pages if p.source == "none" and p.error and p.error != NO_OCR]

    @property
    def legible(self) -> bool:
        """Every scanned page judged 清晰 and none failed (text-layer pages are legible).

        Without OCR the verdict rests on resolution, sharpness and blankness alone.
        """
        for p in self.pages:
            if p.source == "text":
                continue
            if p.quality is None or p.quality.verdict != CLEAR:
                return False
            if p.source == "none" and p.error != NO_OCR:
                return False
        return True


@dataclass
class _Scan:
    number: int
    image: Image.Image | None
    dpi: float | None
    jpeg: bytes | None = None  # original JPEG bytes, embedded as is in the searchable PDF
    error: str | None = None
    pdf_index: int | None = None  # page index inside the source PDF
    result: OcrResult | None = None
    arr: np.ndarray | None = field(default=None, repr=False)  # at most MAX_SIDE pixels
    scale: float = 1.0  # arr pixels per image pixel
    seals: list[dict[str, object]] | None = None


def _meta_dpi(img: Image.Image) -> float | None:
    dpi = img.info.get("dpi")
    try:
        return float(dpi[0]) if dpi and float(dpi[0]) > 1 else None
    except (TypeError, ValueError, IndexError):
        return None


def _image_scans(path: Path, data: bytes, mime: str) -> list[_Scan]:
    try:
        img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as exc:
        raise ExtractError(f"{path.name}: 图像文件已损坏或格式不支持 ({exc}); 请重新扫描") from exc
    scans: list[_Scan] = []
    if mime == "image/tiff":
        try:
            frames = getattr(img, "n_frames", 1)
        except Exception:
            frames = 1
        for i in range(frames):
            try:
                img.seek(i)
                frame = img.copy()
                frame.load()
                d = _meta_dpi(img)
                scans.append(_Scan(i + 1, frame, effective_dpi(frame.width, frame.height, d)))
            except Exception as exc:
                reason = f"第{i + 1}页图像已损坏, 无法解码 ({type(exc).__name__})"
                scans.append(_Scan(i + 1, None, None, error=reason))
        return scans
    try:
        img.load()
    except Exception as exc:
        return [_Scan(1, None, None, error=f"图像已损坏, 无法解码 ({type(exc).__name__})")]
    jpeg = data if mime == "image/jpeg" and img.mode in ("L", "RGB") else None
    return [_Scan(1, img, effective_dpi(img.width, img.height, _meta_dpi(img)), jpeg=jpeg)]


def _boxes(result: OcrResult, width: int, height: int) -> list[TextBox]:
    return [
        TextBox(ln.text, unturn_box(ln.box, result.rotation, width, height)) for ln in result.lines
    ]


def _searchable_from_images(scans: list[_Scan]) -> bytes | None:
    pages = []
    for s in scans:
        if s.image is None:
            continue
        boxes = _boxes(s.result, s.image.width, s.image.height) if s.result else []
        rotate = s.result.rotation if s.result else 0
        pages.append(page_from_image(s.image, s.dpi, boxes, original_jpeg=s.jpeg, rotate=rotate))
    return build_pdf(pages) if pages else None


def extract_document(
    path: Path,
    mime: str,
    *,
    ocr: OcrReader | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Extraction:
    """Read every page of ``path`` (``mime`` decided from its content by the caller).

    Raises :class:`ExtractError` when the file as a whole cannot be opened, or not one of its
    pages can be read; a page that cannot be read is recorded on its own page and the others
    are still read.
    """
    if mime not in MIMES:
        raise ExtractError(f"{path.name}: 不支持的文件类型 {mime}; 支持 PDF、JPEG、PNG、TIFF")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractError(f"{path.name}: 无法读取文件 ({exc})") from exc
    with collecting() as said:
        if mime == "application/pdf":
            out = _extract_pdf(path, data, ocr, progress)
        else:
            out = _extract_images(path, data, mime, ocr, progress)
    out.warnings, out.warning_count = said.messages, said.count
    if out.pages and len(out.unread) == len(out.pages):
        reasons = "; ".join(p.error or "" for p in out.unread[:3])
        raise ExtractError(f"{path.name}: 没有一页能读取 ({reasons})")
    return out


def _extract_images(
    path: Path,
    data: bytes,
    mime: str,
    ocr: OcrReader | None,
    progress: Callable[[int, int], None] | None,
) -> Extraction:
    scans = _image_scans(path, data, mime)
    pages = _read_scans(scans, ocr, progress, 0, len(scans))
    searchable = _searchable_from_images(scans) if scans and ocr is not None else None
    return Extraction([pages[n] for n in sorted(pages)], searchable)


def _extract_pdf(
    path: Path,
    data: bytes,
    ocr: OcrReader | None,
    progress: Callable[[int, int], None] | None,
) -> Extraction:
    opened = open_pdf(data, path.name)
    total = opened.pages
    pages: dict[int, PageText] = {}
    layers: dict[int, tuple[list[TextBox], int, int, int]] = {}
    for start in range(0, total, CHUNK_PAGES):
        scans: list[_Scan] = []
        for src in read_pdf_range(data, opened, start, min(total, start + CHUNK_PAGES)):
            if src.has_text:
                pages[src.number] = PageText(src.number, src.text, "text", 0, None, None, None)
                continue
            dpi = src.dpi
            if src.image is not None:
                dpi = effective_dpi(src.image.width, src.image.height, src.dpi)
            scans.append(_Scan(src.number, src.image, dpi, None, src.error, src.number - 1))
        if progress is not None:
            progress(len(pages), total)
        pages.update(_read_scans(scans, ocr, progress, len(pages), total))
        for s in scans:
            if s.result is not None and s.image is not None and s.pdf_index is not None:
                w, h = s.image.size
                layers[s.pdf_index] = (_boxes(s.result, w, h), w, h, s.result.rotation)
            s.image = None  # release the page's pixels before drawing the next pages
    searchable = _overlay(data, opened, layers) if layers else None
    return Extraction([pages[n] for n in sorted(pages)], searchable, notes=list(opened.notes))


def _overlay(
    data: bytes, opened: OpenedPdf, layers: dict[int, tuple[list[TextBox], int, int, int]]
) -> bytes | None:
    """The searchable copy: the original with invisible text; on qpdf's repair when pypdf
    cannot take the original as it is."""
    for source in (data, opened.repaired):
        if source is None:
            continue
        try:
            return overlay_pdf(source, layers)
        except Exception:  # pypdf refuses this file: try the repaired copy
            continue
    repaired = qpdf_repair(data) if opened.repaired is None else None
    if repaired is not None:
        try:
            return overlay_pdf(repaired, layers)
        except Exception:
            return None
    return None


def _read_scans(
    scans: list[_Scan],
    ocr: OcrReader | None,
    progress: Callable[[int, int], None] | None,
    done: int,
    total: int,
) -> dict[int, PageText]:
    """OCR and measure the scanned pages; ``progress`` counts on from ``done`` of ``total``."""
    from indexers.ocr import MAX_SIDE, scaled, shrink, to_array
    from indexers.seals import read_sealed_page

    readable = [s for s in scans if s.image is not None]
    for s in readable:
        assert s.image is not None
        # OCR reads at most MAX_SIDE pixels anyway: shrink once here, ship less to workers
        s.arr, s.scale = shrink(to_array(s.image), MAX_SIDE)
    if ocr is not None and readable:
        tick = None if progress is None else (lambda k, _n: progress(done + k, total))
        results = ocr.read_many(
            [s.arr for s in readable if s.arr is not None],
            progress=tick,
            reader=read_sealed_page,  # seals lifted off before reading, their ring text read
        )
        for s, res in zip(readable, results, strict=True):
            if isinstance(res, BaseException):
                s.error = f"OCR识别失败 ({type(res).__name__}: {res})"
            else:
                assert s.image is not None
                w, h = s.image.size
                if res.rotation in (90, 270):
                    w, h = h, w
                s.result = scaled(res, 1.0 / s.scale, w, h)
                s.seals = [seal.as_dict() for seal in getattr(res, "seals", ())]
    pages: dict[int, PageText] = {}
    for s in scans:
        if s.image is None or s.arr is None:
            pages[s.number] = PageText(
                s.number, "", "none", 0, None, None, s.error or "页面无法读取"
            )
            continue
        pixel_dpi = s.dpi * s.scale if s.dpi else None
        quality = assess(s.arr, s.dpi, s.result, ocr_ran=ocr is not None, pixel_dpi=pixel_dpi)
        s.arr = None  # free the pixels early; the searchable copy needs only the boxes
        if s.result is None:
            err = s.error or NO_OCR
            pages[s.number] = PageText(s.number, "", "none", 0, None, quality, err)
            continue
        r = s.result
        pages[s.number] = PageText(
            s.number, r.text, "ocr", r.rotation, r.confidence, quality, None, s.seals
        )
    return pages
