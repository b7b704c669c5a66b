"""PDF pages: keep the text layer where there is one, find the scan where there is not.

A page counts as typed (text layer) when pypdf extracts at least :data:`MIN_TEXT_CHARS`
non-blank characters from it; otherwise its largest image is the scan to OCR. Pages whose
image pypdf cannot decode are rendered with poppler's ``pdftoppm`` when it is installed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from archive.core.errors import ArchiveError

MIN_TEXT_CHARS = 10
RENDER_DPI = 200


class ExtractError(ArchiveError):
    """A whole document cannot be opened (corrupt, encrypted, not what its name says)."""


@dataclass
class PdfPageSource:
    """One PDF page: its text layer, or its scan, or why neither could be had."""

    number: int  # 1-based
    text: str
    has_text: bool
    image: Image.Image | None = None
    dpi: float | None = None
    jpeg: bytes | None = None  # the embedded JPEG stream when the scan is a plain JPEG
    width_pt: float = 0.0
    height_pt: float = 0.0
    error: str | None = None  # Chinese reason when the page could not be read


def open_pdf(data: bytes, name: str) -> PdfReader:
    """Open a PDF, or raise :class:`ExtractError` naming the file and what to do."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractError(f"{name}: PDF已加密, 请去除密码后重新扫描或导出")
        _ = len(reader.pages)
    except ExtractError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError, TypeError) as exc:
        raise ExtractError(f"{name}: PDF文件已损坏, 无法打开 ({exc}); 请重新扫描或导出") from exc
    return reader


def _page_text(page: object) -> str:
    try:
        return str(page.extract_text() or "")  # type: ignore[attr-defined]
    except Exception:  # a broken content stream: treat as no text layer
        return ""


def _largest_image(page: object) -> tuple[Image.Image, bytes | None, int, int] | None:
    best = None
    best_area = 0
    for img in page.images:  # type: ignore[attr-defined]
        pil = img.image
        if pil is None:
            continue
        area = pil.width * pil.height
        if area > best_area:
            best_area = area
            raw = img.data if (img.name or "").lower().endswith((".jpg", ".jpeg")) else None
            best = (pil, raw, pil.width, pil.height)
    return best


def _render(data: bytes, number: int, dpi: int = RENDER_DPI) -> Image.Image | None:
    exe = shutil.which("pdftoppm")
    if exe is None:
        return None
    proc = subprocess.run(
        [exe, "-r", str(dpi), "-f", str(number), "-l", str(number), "-gray", "-png", "-"],
        input=data,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout:
        return None
    img = Image.open(io.BytesIO(proc.stdout))
    img.load()
    return img


def read_pdf_pages(path: Path, data: bytes | None = None) -> list[PdfPageSource]:
    """Every page of the PDF: its text layer, or its scan image ready for OCR."""
    data = path.read_bytes() if data is None else data
    reader = open_pdf(data, path.name)
    out: list[PdfPageSource] = []
    for i, page in enumerate(reader.pages, start=1):
        try:
            box = page.mediabox
            w_pt, h_pt = float(box.width), float(box.height)
        except Exception:
            w_pt, h_pt = 595.0, 842.0
        text = _page_text(page)
        src = PdfPageSource(i, text, len("".join(text.split())) >= MIN_TEXT_CHARS)
        src.width_pt, src.height_pt = w_pt, h_pt
        if src.has_text:
            out.append(src)
            continue
        try:
            found = _largest_image(page)
            if found is not None:
                src.image, src.jpeg, px_w, _px_h = found
                src.image.load()
                src.dpi = round(px_w / (w_pt / 72.0), 1) if w_pt else None
        except NotImplementedError:  # a filter pypdf cannot decode (JBIG2…): let poppler draw it
            src.image = None
        except Exception as exc:
            src.image = None
            src.error = f"第{i}页图像已损坏, 无法解码 ({type(exc).__name__})"
        if src.image is None:
            rendered = _render(data, i)
            if rendered is not None and src.error is None:
                src.image, src.dpi = rendered, float(RENDER_DPI)
            elif src.error is None:
                src.error = f"第{i}页既无文字层也无可识别的图像"
        out.append(src)
    return out
