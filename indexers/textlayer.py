"""PDF pages, read by engines made for the PDFs real offices produce.

PDFium (pypdfium2, the engine of Chromium's PDF viewer) opens the file, counts its pages,
gives each page's text layer and draws the pages that need OCR. A file PDFium refuses is
repaired by qpdf (pikepdf) in memory and opened again; a file both refuse is read by
poppler (``pdftotext``/``pdftoppm``) when it is installed. Only a file no reader opens is
refused, and the refusal names the readers that tried. The original bytes are never
changed: a repaired copy lives in memory, for reading and for the searchable copy.

A page's text layer is used when it is real: at least :data:`MIN_TEXT_CHARS` characters,
most of them characters a document can hold (not the private-use and control codes a font
without a Unicode map gives). Other pages are drawn for OCR; a page whose scan cannot be
decoded, or whose content stream is damaged, says so in ``error``.

PDFium is not thread-safe: every call into it holds :data:`PDFIUM_LOCK`, and every PDFium
object is closed inside the lock (never left to the garbage collector of another thread).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from archive.core.errors import ArchiveError

MIN_TEXT_CHARS = 10
MIN_REAL_SHARE = 0.8  # share of a text layer's characters that must be real text
RENDER_DPI = 200
MIN_RENDER_DPI, MAX_RENDER_DPI = 150, 300
POPPLER_TIMEOUT = 120.0
PDFIUM_LOCK = threading.RLock()

PDFIUM, QPDF, POPPLER = "PDFium", "qpdf", "poppler"

# Characters a text layer holds when its font has no Unicode map: controls, private use,
# replacement characters, unassigned noncharacters.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufffd\ufffe\uffff]")


class ExtractError(ArchiveError):
    """A whole document cannot be opened (corrupt, encrypted, not what its name says)."""


class PdfUnreadable(ExtractError):
    """No PDF reader opens the file; ``code`` says why (a preflight code), ``tried`` who tried."""

    def __init__(self, message: str, code: str, tried: list[str]) -> None:
        super().__init__(message)
        self.code = code
        self.tried = tried


@dataclass
class PdfPageSource:
    """One PDF page: its text layer, or its page image for OCR, or why neither could be had."""

    number: int  # 1-based
    text: str
    has_text: bool
    image: Image.Image | None = None
    dpi: float | None = None
    jpeg: bytes | None = None  # unused for PDF pages (the searchable copy overlays the original)
    width_pt: float = 0.0
    height_pt: float = 0.0
    error: str | None = None  # Chinese reason when the page could not be read
    empty: bool = False  # PDFium found nothing at all on the page


@dataclass
class OpenedPdf:
    """Which reader opened a PDF, and what it had to do."""

    pages: int
    reader: str  # PDFIUM | QPDF (PDFium on qpdf's repair) | POPPLER
    encrypted: bool = False  # opened without a password although encrypted (owner password only)
    repaired: bytes | None = None  # qpdf's repaired copy, when PDFium needed it
    notes: list[str] = field(default_factory=list)  # Chinese, for the sidecar's history
    # page sizes in points (1/72 inch) of the first pages, as many as asked for (PDFium only)
    sizes_pt: list[tuple[float, float]] = field(default_factory=list)


def is_real_text(text: str) -> bool:
    """Enough characters, most of them text (not the codes of a font without a Unicode map)."""
    chars = "".join(text.split())
    if len(chars) < MIN_TEXT_CHARS:
        return False
    bad = len(_NOT_TEXT.findall(chars))
    return (len(chars) - bad) / len(chars) >= MIN_REAL_SHARE


def clean_text(text: str) -> str:
    """PDFium's page text as plain lines (``\\r\\n`` → ``\\n``, no control codes)."""
    return _NOT_TEXT.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


# ---------------------------------------------------------------- opening


@contextmanager
def _pdfium_document(source: bytes | Path) -> Iterator[Any]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(source) if isinstance(source, Path) else source)
    try:
        yield doc
    finally:
        doc.close()


def qpdf_repair(data: bytes) -> bytes | None:
    """The file as qpdf reads it (cross-reference rebuilt, junk dropped), or ``None``."""
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data), attempt_recovery=True) as pdf:
            out = io.BytesIO()
            pdf.save(out)
            return out.getvalue()
    except pikepdf.PasswordError:
        raise
    except Exception:  # qpdf gives up on this file
        return None


def _poppler_pages(data: bytes) -> int | None:
    exe = shutil.which("pdfinfo")
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, "-"], input=data, capture_output=True, timeout=POPPLER_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(rb"^Pages:\s+(\d+)", proc.stdout, re.M)
    return int(match.group(1)) if proc.returncode == 0 and match else None


def _refusal(name: str, code: str, tried: list[str]) -> PdfUnreadable:
    who = "、".join(tried) + (" 均" if len(tried) > 1 else "")
    if code == "pdf_encrypted":
        text = f"{name}: PDF 设有打开密码 ({who}无法打开); 请去除密码后重新放入"
    elif code == "pdf_no_pages":
        text = f"{name}: PDF 中没有任何页面 ({who}未读到页面); 请检查扫描结果"
    elif code == "pdf_truncated":
        text = f"{name}: PDF 文件不完整, {who}无法打开; 请重新导出或扫描"
    else:
        text = f"{name}: PDF 文件已损坏, {who}无法打开; 请重新导出或扫描"
    return PdfUnreadable(text, code, tried)


def _page_sizes(doc: Any, up_to: int) -> list[tuple[float, float]]:
    return [tuple(doc.get_page_size(i)) for i in range(min(up_to, len(doc)))]


def open_pdf(source: bytes | Path, name: str, *, sizes_up_to: int = 0) -> OpenedPdf:
    """Open a PDF (its bytes, or its path: PDFium then reads only what it needs) with the
    first reader that can; raise :class:`PdfUnreadable` naming every reader that tried.
    ``sizes_up_to``: the sizes of that many first pages are read too (no page is drawn)."""
    import pypdfium2.raw as pdfium_c

    tried = [PDFIUM]
    failure = "format"
    with PDFIUM_LOCK:
        try:
            with _pdfium_document(source) as doc:
                pages = len(doc)
                encrypted = pdfium_c.FPDF_GetSecurityHandlerRevision(doc) >= 0
                sizes = _page_sizes(doc, sizes_up_to)
            if pages > 0:
                opened = OpenedPdf(pages, PDFIUM, encrypted=encrypted, sizes_pt=sizes)
                if encrypted:
                    opened.notes.append("PDF 只设了权限密码(无打开密码), 已按原样归档")
                return opened
            failure = "no_pages"
        except Exception:  # PdfiumError. Its reason is PDFium's *last* error, which may be
            pass  # another file's: whether a password is needed, qpdf says below
    data = source.read_bytes() if isinstance(source, Path) else source
    tried.append(QPDF)
    try:
        repaired = qpdf_repair(data)
    except Exception:  # pikepdf.PasswordError: the file needs a password to open
        raise _refusal(name, "pdf_encrypted", tried) from None
    if repaired is not None:
        with PDFIUM_LOCK:
            try:
                with _pdfium_document(repaired) as doc:
                    pages = len(doc)
                    sizes = _page_sizes(doc, sizes_up_to)
                if pages > 0:
                    return OpenedPdf(
                        pages,
                        QPDF,
                        repaired=repaired,
                        notes=[_repair_note(QPDF, data)],
                        sizes_pt=sizes,
                    )
            except Exception:
                pass
    if shutil.which("pdfinfo") is not None:
        tried.append(POPPLER)
        pages = _poppler_pages(data) or 0
        if pages > 0:
            return OpenedPdf(pages, POPPLER, notes=[_repair_note(POPPLER, data)])
    if b"%%EOF" not in data[-2048:]:
        raise _refusal(name, "pdf_truncated", tried)
    if failure == "no_pages" or repaired is not None:
        raise _refusal(name, "pdf_no_pages", tried)
    raise _refusal(name, "pdf_corrupt", tried)


def _repair_note(reader: str, data: bytes) -> str:
    what = "不完整(缺少文件结尾)" if b"%%EOF" not in data[-2048:] else "结构有损坏"
    by = "由 qpdf 修复后读取" if reader == QPDF else "由 poppler 读取"
    return f"PDF {what}, PDFium 无法直接打开, 已{by}; 原件按原样归档, 建议重新导出"


# ---------------------------------------------------------------- pages


def _render_dpi(page: Any) -> float:
    """The resolution to draw a page at: its largest image's own, within 150-300 dpi."""
    import pypdfium2.raw as pdfium_c

    best = 0.0
    area = 0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        try:
            meta = obj.get_metadata()
        except Exception:
            continue
        if meta.width * meta.height > area:
            area = meta.width * meta.height
            best = float(meta.horizontal_dpi or 0.0)
        obj.close()
    if best <= 0:
        return float(RENDER_DPI)
    return float(min(MAX_RENDER_DPI, max(MIN_RENDER_DPI, round(best))))


def _undecodable_images(page: Any) -> tuple[int, int]:
    """(image objects on the page, how many of them cannot be decoded)."""
    import pypdfium2.raw as pdfium_c

    total = broken = 0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        total += 1
        try:
            bitmap = obj.get_bitmap(render=False)
            bitmap.close()
        except Exception:
            broken += 1
        obj.close()
    return total, broken


def _damaged_streams(data: bytes) -> set[int]:
    """0-based pages whose content stream qpdf cannot decode."""
    import pikepdf

    bad: set[int] = set()
    try:
        with pikepdf.open(io.BytesIO(data), attempt_recovery=True) as pdf:
            for index, page in enumerate(pdf.pages):
                try:
                    if "/Contents" not in page.obj:
                        continue  # a page that draws nothing
                    contents = page.obj.get("/Contents")
                    streams = contents if isinstance(contents, pikepdf.Array) else [contents]
                    for stream in streams:
                        if not isinstance(stream, pikepdf.Stream):
                            raise ValueError("content stream missing")  # a lost object
                        stream.read_bytes()
                except Exception:
                    bad.add(index)
    except Exception:
        pass
    return bad


def _read_pdfium_page(doc: Any, index: int) -> PdfPageSource:
    import pypdfium2.raw as pdfium_c

    page = doc[index]
    try:
        w_pt, h_pt = page.get_size()
        textpage = page.get_textpage()
        try:
            raw = textpage.get_text_bounded()
        finally:
            textpage.close()
        src = PdfPageSource(index + 1, clean_text(raw), is_real_text(raw))
        src.width_pt, src.height_pt = float(w_pt), float(h_pt)
        if src.has_text:
            return src
        images, broken = _undecodable_images(page)
        if images and broken == images:
            src.error = f"第{index + 1}页的扫描图像已损坏, 无法解码"
            return src
        dpi = _render_dpi(page) if images else float(RENDER_DPI)
        bitmap = page.render(scale=dpi / 72.0, grayscale=True)
        try:
            src.image = bitmap.to_pil().copy()
        finally:
            bitmap.close()
        src.dpi = dpi
        src.empty = images == 0 and pdfium_c.FPDFPage_CountObjects(page) == 0
        return src
    finally:
        page.close()


def _read_poppler_page(data: bytes, number: int) -> PdfPageSource:
    src = PdfPageSource(number, "", False)
    pdftotext = shutil.which("pdftotext")
    if pdftotext is not None:
        try:
            proc = subprocess.run(
                [pdftotext, "-q", "-f", str(number), "-l", str(number), "-enc", "UTF-8", "-", "-"],
                input=data,
                capture_output=True,
                timeout=POPPLER_TIMEOUT,
                check=False,
            )
            text = proc.stdout.decode("utf-8", "replace")
            src.text, src.has_text = clean_text(text), is_real_text(text)
        except (OSError, subprocess.TimeoutExpired):
            pass
    if src.has_text:
        return src
    image = render_with_poppler(data, number, RENDER_DPI)
    if image is None:
        src.error = f"第{number}页无法读取(poppler 无法绘制该页)"
    else:
        src.image, src.dpi = image, float(RENDER_DPI)
    return src


def render_with_poppler(data: bytes, number: int, dpi: int = RENDER_DPI) -> Image.Image | None:
    exe = shutil.which("pdftoppm")
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, "-r", str(dpi), "-f", str(number), "-l", str(number), "-gray", "-png", "-"],
            input=data,
            capture_output=True,
            timeout=POPPLER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0 or not proc.stdout:
        return None
    img = Image.open(io.BytesIO(proc.stdout))
    img.load()
    return img


def read_pdf_range(data: bytes, opened: OpenedPdf, start: int, stop: int) -> list[PdfPageSource]:
    """Pages ``start`` to ``stop - 1`` (0-based) of a PDF :func:`open_pdf` opened."""
    out: list[PdfPageSource] = []
    if opened.reader == POPPLER:
        return [_read_poppler_page(data, index + 1) for index in range(start, stop)]
    source = opened.repaired or data
    with PDFIUM_LOCK, _pdfium_document(source) as doc:
        for index in range(start, stop):
            try:
                out.append(_read_pdfium_page(doc, index))
            except Exception as exc:  # one page PDFium cannot load: the others are read
                src = PdfPageSource(index + 1, "", False)
                src.error = f"第{index + 1}页无法读取 ({type(exc).__name__})"
                out.append(src)
    _blame_damaged_streams(out, data)  # the original: a repair drops lost objects
    if b"%%EOF" not in data[-2048:]:  # cut short: an empty page's content may be what was lost
        for page in out:
            if page.empty and page.error is None:
                page.image = None
                page.error = f"第{page.number}页没有内容(文件不完整, 可能在缺失的部分)"
    return out


def read_pdf_pages(path: Path, data: bytes | None = None) -> list[PdfPageSource]:
    """Every page of the PDF: its text layer, or its page image ready for OCR."""
    data = path.read_bytes() if data is None else data
    opened = open_pdf(data, path.name)
    return read_pdf_range(data, opened, 0, opened.pages)


def _blame_damaged_streams(pages: list[PdfPageSource], data: bytes) -> None:
    """A page PDFium found neither text nor images on: if its content stream is damaged, say
    so (its drawing would be blank and OCR would call a damaged page empty)."""
    suspects = [p for p in pages if p.empty and p.error is None]
    if not suspects:
        return
    damaged = _damaged_streams(data)
    for page in suspects:
        if page.number - 1 in damaged:
            page.image = None
            page.error = f"第{page.number}页的内容流已损坏, 文字无法读取"
