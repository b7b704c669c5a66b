"""Preflight: decide what a dropped file is, by its content, before anything changes.

Every rejection carries a code a program can read and a sentence a clerk can act on.
"""

from __future__ import annotations

import contextlib
import io
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

from archive.core.config import ArchiveConfig

# mime → the extension a filed copy carries.
EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/tiff": ".tif",
    "image/bmp": ".bmp",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/msword": ".doc",
    "video/mp4": ".mp4",
    "text/plain": ".txt",
}
_EQUIVALENT_EXT = {".jpeg": ".jpg", ".jpe": ".jpg", ".tiff": ".tif", ".xls": ".doc"}
IMAGE_TYPES = ("image/jpeg", "image/png", "image/tiff", "image/bmp")

# code → the clerk's sentence (Chinese); details are appended.
REASONS = {
    "empty": "文件为空(0字节), 可能扫描或复制未完成; 请重新扫描后放入",
    "too_large": "文件超过大小上限; 请分卷扫描或降低分辨率后放入",
    "unsupported_type": "不是可归档的文件类型(支持 PDF、JPEG、PNG、TIFF、BMP、Word、Excel、MP4、文本)",
    "archive_file": "压缩包不能直接归档; 请解压后把其中文件放入收件箱",
    "pdf_truncated": "PDF 文件不完整(缺少文件结尾), 可能传输中断; 请重新导出或扫描",
    "pdf_corrupt": "PDF 文件已损坏, 无法读取; 请重新导出或扫描",
    "pdf_encrypted": "PDF 设有打开密码, 无法读取; 请去除密码后重新放入",
    "pdf_no_pages": "PDF 中没有任何页面; 请检查扫描结果",
    "image_truncated": "图片不完整(数据被截断), 可能传输中断; 请重新扫描",
    "image_corrupt": "图片已损坏, 无法解码; 请重新扫描",
    "image_too_large": "图片像素过多(解压后过大), 疑为异常文件; 请用正常分辨率(200-300dpi)重新扫描",
    "office_corrupt": "Office 文档已损坏或不完整; 请在 Word/Excel 中另存后重新放入",
    "text_unreadable": "文本文件编码无法识别(非 UTF-8/GBK); 请另存为 UTF-8 后放入",
    "name_undecodable": "文件名编码无法识别(非 UTF-8/GBK); 请重命名后放入",
    "unreadable": "没有读取该文件的权限或读取失败; 请检查文件权限",
    "symlink": "这是一个快捷方式/链接, 不是文件本身; 请放入原文件",
    "unreadable_content": "文件能打开, 但其中的页面无法读取; 请重新扫描或导出",
    "duplicate": "内容与已归档文件完全相同, 未重复归档",
    "vanished": "处理过程中文件被移走或删除",
    "internal_error": "处理时发生内部错误; 文件已隔离保存, 请联系管理员",
}

# The same reasons in a few characters, for counts and tables
LABELS = {
    "empty": "空文件",
    "too_large": "文件过大",
    "unsupported_type": "不支持的类型",
    "archive_file": "压缩包",
    "pdf_truncated": "PDF不完整",
    "pdf_corrupt": "PDF已损坏",
    "pdf_encrypted": "PDF有密码",
    "pdf_no_pages": "PDF无页面",
    "image_truncated": "图片不完整",
    "image_corrupt": "图片已损坏",
    "image_too_large": "图片像素过多",
    "office_corrupt": "Office文档损坏",
    "text_unreadable": "文本编码无法识别",
    "name_undecodable": "文件名编码无法识别",
    "unreadable": "无法读取",
    "symlink": "快捷方式",
    "unreadable_content": "页面无法读取",
    "duplicate": "重复",
    "vanished": "处理中被移走",
    "internal_error": "内部错误",
}
assert LABELS.keys() == REASONS.keys()


@dataclass(frozen=True)
class Rejection:
    """Why a file cannot be filed."""

    code: str
    detail: str = ""

    @property
    def reason(self) -> str:
        base = REASONS.get(self.code, self.code)
        return f"{base} ({self.detail})" if self.detail else base


@dataclass
class Preflight:
    """What the content says a file is."""

    mime: str | None
    pages: int | None = None
    text_layer: bool | None = None
    rejection: Rejection | None = None
    notes: list[str] = field(default_factory=list)
    findings: list[dict[str, str]] = field(default_factory=list)  # filed, with these findings

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.mime or "", ".bin")


def sniff(head: bytes, name: str = "") -> str | None:
    """The content type from a file's first bytes (never from its name, except plain text)."""
    if head.startswith(b"%PDF-") or b"%PDF-" in head:
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "image/tiff"
    if head.startswith(b"BM") and len(head) > 14:
        return "image/bmp"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/msword"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith((b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")):
        return "application/x-archive"
    if name.lower().endswith(".txt") and b"\x00" not in head:
        return "text/plain"
    return None


def _check_pdf(path: Path) -> Preflight:
    """Opened by the first of PDFium, qpdf's repair and poppler that can; refused only when
    none can, naming them (:func:`indexers.textlayer.open_pdf`)."""
    from indexers.diagnostics import collecting
    from indexers.textlayer import PdfUnreadable, open_pdf

    result = Preflight("application/pdf")
    try:
        with collecting():
            opened = open_pdf(path, path.name)
    except PdfUnreadable as exc:
        both = "均" if len(exc.tried) > 1 else ""
        result.rejection = Rejection(exc.code, f"{'、'.join(exc.tried)} {both}无法打开")
        return result
    result.pages = opened.pages
    result.notes.extend(opened.notes)
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 2048))
        complete = b"%%EOF" in fh.read()
    if not complete:  # cut short (a transfer broke off?): filed as read, and said so
        result.findings.append(
            {
                "code": "pdf_incomplete",
                "message": f"PDF 文件不完整(缺少文件结尾), 可能传输中断; 已按读到的 "
                f"{opened.pages} 页归档, 请核对页数, 不全则重新导出后放入收件箱",
            }
        )
    return result


@contextlib.contextmanager
def strict_images(max_pixels: int | None = None) -> Iterator[None]:
    """Pillow as a checker needs it: a truncated image raises (weasyprint, once imported,
    sets ``LOAD_TRUNCATED_IMAGES`` for the whole process, which would pass half a scan as
    whole), and an image above ``max_pixels`` raises instead of warning."""
    saved = ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    if max_pixels is not None:
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = saved


def _check_image(path: Path, mime: str, max_pixels: int) -> Preflight:
    result = Preflight(mime)
    try:
        with strict_images(max_pixels), Image.open(path) as img:
            frames = getattr(img, "n_frames", 1)
            for index in range(frames):
                img.seek(index)
                width, height = img.size
                if width * height > max_pixels:
                    result.rejection = Rejection(
                        "image_too_large", f"{width}×{height} 像素, 上限 {max_pixels}"
                    )
                    return result
                img.load()
            result.pages = frames
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        result.rejection = Rejection("image_too_large", str(exc)[:80])
    except OSError as exc:
        code = "image_truncated" if "truncated" in str(exc) else "image_corrupt"
        result.rejection = Rejection(code, str(exc)[:80])
    except (UnidentifiedImageError, ValueError, SyntaxError, EOFError) as exc:
        result.rejection = Rejection("image_corrupt", type(exc).__name__)
    return result


def _check_zip(path: Path) -> Preflight:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return Preflight(None, rejection=Rejection("office_corrupt", type(exc).__name__))
    if "[Content_Types].xml" not in names:
        return Preflight("application/zip", rejection=Rejection("archive_file"))
    if bad is not None:
        return Preflight(None, rejection=Rejection("office_corrupt", f"损坏的部件 {bad}"))
    if any(n.startswith("word/") for n in names):
        return Preflight("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    if any(n.startswith("xl/") for n in names):
        return Preflight("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Preflight(None, rejection=Rejection("unsupported_type", "未知的 Office 文档"))


def _check_text(data: bytes) -> Preflight:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            data.decode(encoding)
            return Preflight("text/plain", pages=1, text_layer=True)
        except UnicodeDecodeError:
            continue
    return Preflight("text/plain", rejection=Rejection("text_unreadable"))


def preflight(path: Path, config: ArchiveConfig, display_name: str | None = None) -> Preflight:
    """Inspect ``path`` by content; never modifies it."""
    name = display_name or path.name
    if path.is_symlink():
        return Preflight(None, rejection=Rejection("symlink"))
    try:
        size = path.stat().st_size
        if size == 0:
            return Preflight(None, rejection=Rejection("empty"))
        if size > config.max_file_bytes:
            limit = config.max_file_bytes // (1024 * 1024)
            return Preflight(
                None, rejection=Rejection("too_large", f"{size // 1048576} MB > {limit} MB")
            )
        with path.open("rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        return Preflight(None, rejection=Rejection("vanished"))
    except OSError as exc:
        return Preflight(
            None, rejection=Rejection("unreadable", exc.strerror or type(exc).__name__)
        )
    mime = sniff(head, name)
    result: Preflight
    if mime == "application/pdf":
        result = _check_pdf(path)
    elif mime in IMAGE_TYPES:
        result = _check_image(path, mime, config.max_pixels)
    elif mime == "application/zip":
        result = _check_zip(path)
    elif mime == "application/x-archive":
        result = Preflight(None, rejection=Rejection("archive_file"))
    elif mime == "text/plain":
        result = _check_text(path.read_bytes())
    elif mime in ("application/msword", "video/mp4"):
        result = Preflight(mime)
    else:
        result = Preflight(None, rejection=Rejection("unsupported_type", _describe(head)))
    ext = Path(name).suffix.lower()
    if result.mime and result.rejection is None and ext:
        expected = EXTENSIONS.get(result.mime, "")
        if _EQUIVALENT_EXT.get(ext, ext) != expected:
            result.notes.append(f"扩展名 {ext} 与内容({expected})不符, 已按内容归档为 {expected}")
    return result


def _describe(head: bytes) -> str:
    text = head[:64]
    if text.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        return "内容是网页(HTML)"
    if head.startswith(b"MZ"):
        return "内容是可执行程序"
    return "内容开头 " + io.BytesIO(text[:8]).getvalue().hex(" ")
