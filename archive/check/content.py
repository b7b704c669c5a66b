"""What a file really is, whether it opens and shows, and whether a virus scanner is at hand.

A PDF counts as readable when pdfium opens it and draws its first page; when pdfium refuses,
poppler (``pdftoppm``) is asked too, and only a file both refuse is reported unreadable (one
parser's opinion is not enough). Images must decode whole (Pillow). A PDF pdfium asks a
password for, and pypdf confirms has an open password, is reported as encrypted, not as
unreadable.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from archive.intake.preflight import sniff, strict_images

# GB/T 18894-2016: fixed-layout formats for documents (PDF, OFD), common image formats for
# photos and scans, MP4 for video. Word, Excel and text are not long-term formats.
LONG_TERM = {
    "application/pdf": "PDF",
    "application/ofd": "OFD",
    "image/jpeg": "JPEG",
    "image/tiff": "TIFF",
    "image/png": "PNG",
    "video/mp4": "MP4",
}
_RENDER_SCALE = 12 / 72


@dataclass
class Probe:
    """A file as its bytes say: type, pages, whether it is encrypted and opens."""

    mime: str | None
    pages: int | None = None
    encrypted: bool = False
    readable: bool = True
    error: str = ""


def sniff_file(path: Path) -> str | None:
    with path.open("rb") as fh:
        head = fh.read(2048)
    if head.startswith(b"PK\x03\x04"):
        name = path.name.lower()
        if name.endswith(".docx"):
            return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        if name.endswith(".xlsx"):
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if name.endswith(".ofd"):
            return "application/ofd"
    return sniff(head, path.name)


def _pdf_encrypted(path: Path) -> bool:
    from pypdf import PdfReader

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(str(path), strict=False)
            if not reader.is_encrypted:
                return False
            try:
                return not reader.decrypt("")
            except Exception:
                return True
    except Exception:
        return False  # not pypdf's to judge: the readability check decides


def _poppler_opens(path: Path) -> bool:
    exe = shutil.which("pdftoppm")
    if exe is None:
        return False
    with tempfile.TemporaryDirectory(prefix="dangan-check-") as tmp:
        try:
            done = subprocess.run(
                [exe, "-r", "10", "-f", "1", "-l", "1", "-png", str(path), f"{tmp}/p"],
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0 and any(Path(tmp).iterdir())


def probe(path: Path) -> Probe:
    """Type, pages and readability of ``path`` (see module doc)."""
    mime = sniff_file(path)
    result = Probe(mime)
    if mime == "application/pdf":
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(str(path))
            try:
                result.pages = len(pdf)
                if result.pages < 1:
                    raise ValueError("没有页面")
                pdf[0].render(scale=_RENDER_SCALE, grayscale=True)
            finally:
                pdf.close()
        except Exception as exc:
            if "password" in str(exc).lower() and _pdf_encrypted(path):
                return Probe(mime, encrypted=True, readable=False, error="PDF 设有打开密码")
            if not _poppler_opens(path):
                result.readable, result.error = False, f"PDF 无法打开或显示 ({exc})"
    elif mime in ("image/jpeg", "image/png", "image/tiff", "image/bmp"):
        try:
            with strict_images(), Image.open(path) as im:
                result.pages = int(getattr(im, "n_frames", 1))
                im.load()
        except Exception as exc:
            result.readable, result.error = False, f"图片无法解码 ({type(exc).__name__}: {exc})"
    elif mime is None:
        result.readable, result.error = False, "无法识别的文件格式"
    return result


@dataclass
class VirusScan:
    """The outcome of scanning some files: ``None`` fields when it was not performed."""

    performed: bool
    why_not: str = ""
    infected: list[tuple[str, str]] | None = None  # (file, signature)
    scanner: str = ""


def clamscan(paths: list[Path], database: Path | None = None) -> VirusScan:
    """Scan ``paths`` with ClamAV's ``clamscan`` (its own signature database, or
    ``database``); not performed, with the reason, when ClamAV or its signatures are missing."""
    exe = shutil.which("clamscan")
    if exe is None:
        return VirusScan(False, "本机未安装 ClamAV (clamscan), 未做病毒扫描")
    if not paths:
        return VirusScan(True, infected=[], scanner=exe)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(str(p) for p in paths))
        listing = fh.name
    cmd = [exe, "--no-summary", "--infected", f"--file-list={listing}"]
    if database is not None:
        cmd.append(f"--database={database}")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return VirusScan(False, f"clamscan 运行失败 ({exc}), 未做病毒扫描", scanner=exe)
    finally:
        Path(listing).unlink(missing_ok=True)
    if done.returncode == 2:  # an error, typically: no signature database
        reason = (done.stderr or done.stdout).strip().splitlines()
        detail = reason[-1] if reason else "错误"
        return VirusScan(
            False, f"clamscan 无法扫描 ({detail}); 多为缺少病毒库, 未做病毒扫描", scanner=exe
        )
    infected = []
    for line in done.stdout.splitlines():
        if line.endswith(" FOUND") and ": " in line:
            name, _, sig = line[: -len(" FOUND")].rpartition(": ")
            infected.append((name, sig))
    return VirusScan(True, infected=infected, scanner=exe)
