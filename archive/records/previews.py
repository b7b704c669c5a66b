"""Pictures of a record's pages for a browser: a thumbnail or a page view, as JPEG.

PDF pages are drawn by poppler's ``pdftoppm`` (with ``poppler-data`` for Chinese fonts a
PDF names without embedding them), images by Pillow (each frame of a multi-page TIFF is a
page). Every drawing has budgets decided before it starts: the sizes are fixed
(:data:`WIDTHS`), a PDF page gets :data:`RENDER_SECONDS`, an image at most Pillow's
decompression-bomb limit. Pictures are derived data, cached under ``.dangan/previews``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from archive.core.errors import ArchiveError

WIDTHS = {"thumb": 240, "page": 1100}
RENDER_SECONDS = 60
_PDF = "application/pdf"
# Two drawings at a time: the machine is small and a page of thumbnails asks for many.
_SLOTS = threading.BoundedSemaphore(2)


class PreviewError(ArchiveError):
    """A page cannot be drawn (damaged, too large, or not a page at all)."""

    exit_code = 6


def can_preview(mime: str) -> bool:
    return mime == _PDF or mime.startswith("image/")


def preview(source: Path, mime: str, page: int, size: str, cache: Path) -> Path:
    """The cached JPEG of *page* (1-based) of *source* at *size* (a key of :data:`WIDTHS`);
    drawn on first use. *cache* names the file; it is written atomically."""
    width = WIDTHS[size]
    if cache.is_file():
        return cache
    if not can_preview(mime):
        raise PreviewError(f"{source.name}: 这种文件 ({mime}) 不能预览; 请下载原件查看")
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".tmp-{uuid.uuid4().hex}.jpg")
    try:
        with _SLOTS:
            if mime == _PDF:
                _draw_pdf(source, page, width, tmp)
            else:
                _draw_image(source, page, width, tmp)
        os.replace(tmp, cache)
    finally:
        tmp.unlink(missing_ok=True)
    return cache


def _draw_pdf(source: Path, page: int, width: int, out: Path) -> None:
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise PreviewError("未安装 pdftoppm (Debian 软件包 poppler-utils), 无法预览 PDF 页面")
    with tempfile.TemporaryDirectory(prefix="dangan-preview-") as work:
        prefix = Path(work) / "page"
        try:
            proc = subprocess.run(
                [exe, "-f", str(page), "-l", str(page), "-scale-to-x", str(width),
                 "-scale-to-y", "-1", "-jpeg", "-jpegopt", "quality=82", "-singlefile",
                 str(source), str(prefix)],
                capture_output=True,
                timeout=RENDER_SECONDS,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise PreviewError(
                f"{source.name} 第{page}页 {RENDER_SECONDS} 秒内未能画出; 请下载原件查看"
            ) from exc
        drawn = prefix.with_suffix(".jpg")
        if proc.returncode != 0 or not drawn.is_file():
            reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
            raise PreviewError(
                f"{source.name} 第{page}页无法预览 ({reason[0][:120]}); 请下载原件查看"
            )
        shutil.move(str(drawn), out)


def _draw_image(source: Path, page: int, width: int, out: Path) -> None:
    try:
        with Image.open(source) as img:
            frames = getattr(img, "n_frames", 1)
            if page > frames:
                raise PreviewError(f"{source.name} 只有 {frames} 页, 没有第{page}页")
            img.seek(page - 1)
            img.draft("RGB", (width, width * 3))
            pic = img.convert("RGB")
            pic.thumbnail((width, width * 3))
            pic.save(out, "JPEG", quality=82)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, EOFError) as exc:
        raise PreviewError(f"{source.name} 第{page}页无法预览 ({exc}); 请下载原件查看") from exc
