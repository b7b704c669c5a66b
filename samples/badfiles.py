"""Bad input of every kind clerks' scanners and shares produce, with the code dangan must give."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from PIL import Image
from pypdf import PdfWriter


def _pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _jpeg(size: tuple[int, int] = (600, 800), shade: int = 230) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", size, (shade, shade, shade))
    for x in range(0, size[0], 7):
        img.putpixel((x, x % size[1]), (0, 0, 0))
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _png(size: tuple[int, int] = (400, 300)) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, 200).save(buf, "PNG")
    return buf.getvalue()


def _encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt(user_password="1234", owner_password="abcd", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _bomb_png() -> bytes:
    """A few KB on disk, 40,000 × 40,000 pixels (1.6 billion) once decoded."""
    import struct
    import zlib

    width = height = 40_000
    row = b"\x00" + b"\x00" * (width // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def _corrupt_docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>" * 50)
        zf.writestr("word/document.xml", "<w:document/>" * 500)
    return buf.getvalue()[:300]


def _plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("扫描件1.jpg", _jpeg())
    return buf.getvalue()


def bad_inputs() -> dict[str, tuple[bytes, str]]:
    """file name → (content, the quarantine code dangan must give it)."""
    pdf = _pdf()
    jpeg = _jpeg()
    png = _png()
    corrupt_png = bytearray(png)
    corrupt_png[40:60] = b"\xff" * 20
    return {
        "空文件.pdf": (b"", "empty"),
        "传输中断.pdf": (pdf[: len(pdf) // 2], "pdf_truncated"),
        "乱码.pdf": (b"%PDF-1.4\n" + os.urandom(2000) + b"\n%%EOF\n", "pdf_corrupt"),
        "加密.pdf": (_encrypted_pdf(), "pdf_encrypted"),
        "零页.pdf": (_pdf(0), "pdf_no_pages"),
        "截断.jpg": (jpeg[: len(jpeg) // 2], "image_truncated"),
        "坏图.png": (bytes(corrupt_png), "image_corrupt"),
        "炸弹.png": (_bomb_png(), "image_too_large"),
        "程序.exe": (b"MZ\x90\x00" + os.urandom(500), "unsupported_type"),
        "网页伪装.pdf": (b"<!DOCTYPE html><html><body>not a pdf</body></html>", "unsupported_type"),
        "打包.zip": (_plain_zip(), "archive_file"),
        "压缩包.rar": (b"Rar!\x1a\x07\x00" + os.urandom(100), "archive_file"),
        "损坏.docx": (_corrupt_docx(), "office_corrupt"),
        "乱码文本.txt": (b"\x80\xff\xfe\x81" * 50, "text_unreadable"),
        "未知二进制.dat": (os.urandom(1000), "unsupported_type"),
    }


def write_bad_inputs(folder: Path) -> dict[str, str]:
    """Write every bad input into ``folder``; returns file name → expected code."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}
    for name, (data, code) in bad_inputs().items():
        (folder / name).write_bytes(data)
        expected[name] = code
    return expected
