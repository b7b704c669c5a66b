"""Preflight: decide what a dropped file is, by its content, before anything changes.

Every rejection carries a code a program can read and a sentence a clerk can act on.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

from archive.core.bounded import LimitExceeded, check_zip
from archive.core.config import ArchiveConfig
from archive.core.errors import ArchiveError
from archive.core.paths import NotRegularFile, describe_mode, open_regular
from indexers.textlayer import MAX_RENDER_DPI

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
    "name_control_chars": "文件名含有换行符或其他控制字符; 请重命名后放入",
    "not_regular": "这不是普通文件(管道、设备或套接字), 没有可归档的内容; 请放入文件本身",
    "too_many_pages": "页数超过上限; 请分卷扫描或拆分后放入",
    "page_too_large": "页面尺寸异常(远大于 A0 图纸), 按正常分辨率读取需要的像素超过上限; 请按实际纸张尺寸重新导出或扫描",
    "document_too_large": "全部页面的像素总量超过上限, 一次读取会占用过多内存; 请分卷扫描(每卷约 100 页)后放入",
    "zip_bomb": "压缩文件解压后过大(疑为压缩炸弹), 未读取; 请在 Word/Excel 中另存后重新放入",
    "hidden": "以点开头的隐藏文件或文件夹不归档 (可能是正在复制的临时文件); 如需归档, 请去掉名称开头的点",
    "folder_unreadable": "文件夹无法读取 (没有权限或已损坏), 其中的文件没有处理; 请检查文件夹权限",
    "unreadable": "没有读取该文件的权限或读取失败; 请检查文件权限",
    "symlink": "这是一个快捷方式/链接, 不是文件本身; 请放入原文件",
    "unreadable_content": "文件能打开, 但其中的页面无法读取; 请重新扫描或导出",
    "ocr_crash": "其中一页每次识别都使OCR工作进程中断(内存耗尽或崩溃), 已停止重试; 请检查该页后重新扫描",
    "duplicate": "内容与已归档文件完全相同, 未重复归档",
    "vanished": "处理过程中文件被移走或删除",
    "internal_error": "处理时发生内部错误; 文件已隔离保存, 请联系管理员",
    "reader_crashed": "读取此文件时读取进程异常退出, 单独重读仍是如此, 疑为严重损坏或恶意构造的文件; "
    "文件已隔离保存, 请用其他软件打开核对",
    "reader_hung": "读取此文件长时间没有完成, 疑为损坏或恶意构造的文件; 文件已隔离保存; "
    "若确是很大的文件, 可单独放入收件箱再处理一次",
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
    "name_control_chars": "文件名含控制字符",
    "not_regular": "不是普通文件",
    "too_many_pages": "页数过多",
    "page_too_large": "页面尺寸异常",
    "document_too_large": "像素总量过大",
    "zip_bomb": "解压后过大",
    "hidden": "隐藏文件",
    "folder_unreadable": "文件夹无法读取",
    "unreadable": "无法读取",
    "symlink": "快捷方式",
    "unreadable_content": "页面无法读取",
    "ocr_crash": "页面使OCR崩溃",
    "duplicate": "重复",
    "vanished": "处理中被移走",
    "internal_error": "内部错误",
    "reader_crashed": "读取进程崩溃",
    "reader_hung": "读取超时",
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


# A page's pixel budget is counted at the highest resolution pages are drawn at for OCR
RENDER_DPI = MAX_RENDER_DPI


def page_budget(
    pages: int, sizes_pt: list[tuple[float, float]], config: ArchiveConfig
) -> Rejection | None:
    """Decide, before anything is rendered, whether a document fits the budgets: at most
    ``max_pages`` pages, no page wider or taller than the pixel budget allows at
    :data:`RENDER_DPI`. ``sizes_pt``: the page sizes in points (1/72 inch) of the pages
    looked at (all of them, within the page budget)."""
    if pages > config.max_pages:
        return Rejection("too_many_pages", f"{pages} 页, 上限 {config.max_pages} 页")
    for number, (w_pt, h_pt) in enumerate(sizes_pt, 1):
        w_px, h_px = abs(w_pt) / 72 * RENDER_DPI, abs(h_pt) / 72 * RENDER_DPI
        if w_px * h_px > config.max_pixels:
            mm = f"{abs(w_pt) / 72 * 25.4:.0f}×{abs(h_pt) / 72 * 25.4:.0f} 毫米"
            return Rejection(
                "page_too_large",
                f"第{number}页 {mm}, 需 {w_px * h_px / 1e6:.0f} 百万像素, 上限 {config.max_pixels / 1e6:.0f}",
            )
    return None


def _check_pdf(path: Path, config: ArchiveConfig) -> Preflight:
    """Opened by the first of PDFium, qpdf's repair and poppler that can; refused only when
    none can, naming them (:func:`indexers.textlayer.open_pdf`); then held to the page and
    pixel budgets before any page is drawn."""
    from indexers.diagnostics import collecting
    from indexers.textlayer import PdfUnreadable, open_pdf

    result = Preflight("application/pdf")
    try:
        with collecting():
            opened = open_pdf(path, path.name, sizes_up_to=config.max_pages)
    except PdfUnreadable as exc:
        both = "均" if len(exc.tried) > 1 else ""
        result.rejection = Rejection(exc.code, f"{'、'.join(exc.tried)} {both}无法打开")
        return result
    over = page_budget(opened.pages, opened.sizes_pt, config)
    if over is not None:
        result.rejection = over
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


def _check_image(path: Path, mime: str, config: ArchiveConfig) -> Preflight:
    result = Preflight(mime)
    max_pixels = config.max_pixels
    try:
        with strict_images(max_pixels), Image.open(path) as img:
            # The budgets from the headers alone, before a single frame is decoded
            frames = getattr(img, "n_frames", 1)
            if frames > config.max_pages:
                result.rejection = Rejection(
                    "too_many_pages", f"{frames} 页, 上限 {config.max_pages} 页"
                )
                return result
            total = 0
            for index in range(frames):
                img.seek(index)
                width, height = img.size
                total += width * height
                if width * height > max_pixels:
                    result.rejection = Rejection(
                        "image_too_large", f"{width}×{height} 像素, 上限 {max_pixels}"
                    )
                    return result
            if total > config.max_document_pixels:
                result.rejection = Rejection(
                    "document_too_large",
                    f"{frames} 页共 {total / 1e6:.0f} 百万像素, "
                    f"上限 {config.max_document_pixels / 1e6:.0f} 百万",
                )
                return result
            for index in range(frames):
                img.seek(index)
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
        check_zip(path)  # the inflation budget, from the zip's table, before testzip inflates
    except LimitExceeded as exc:
        return Preflight(None, rejection=Rejection("zip_bomb", exc.message.split(": ", 1)[-1]))
    except ArchiveError:
        pass  # not a whole zip: said below
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


def not_regular(path: Path) -> Rejection | None:
    """A symbolic link, pipe, device or socket, told from its entry alone (never opened)."""
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode):
        return Rejection("symlink")
    if not stat.S_ISREG(mode):
        return Rejection("not_regular", describe_mode(mode))
    return None


def preflight(path: Path, config: ArchiveConfig, display_name: str | None = None) -> Preflight:
    """Inspect ``path`` by content; never modifies it. ``FileNotFoundError`` when it is gone."""
    name = display_name or path.name
    try:
        odd = not_regular(path)
        if odd is not None:
            return Preflight(None, rejection=odd)
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                return Preflight(None, rejection=Rejection("empty"))
            if size > config.max_file_bytes:
                limit = config.max_file_bytes // (1024 * 1024)
                return Preflight(
                    None, rejection=Rejection("too_large", f"{size // 1048576} MB > {limit} MB")
                )
            head = fh.read(4096)
    except FileNotFoundError:
        raise
    except NotRegularFile as exc:
        return Preflight(None, rejection=Rejection("not_regular", exc.message))
    except OSError as exc:
        return Preflight(
            None, rejection=Rejection("unreadable", exc.strerror or type(exc).__name__)
        )
    mime = sniff(head, name)
    result: Preflight
    if mime == "application/pdf":
        result = _check_pdf(path, config)
    elif mime in IMAGE_TYPES:
        result = _check_image(path, mime, config)
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
