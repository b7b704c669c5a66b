"""Searchable PDF: scans with an invisible Chinese text layer that pypdf and poppler read."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from archive.core.keys import find_case_numbers, find_licence_numbers, normalize_case_number
from indexers.extract import Extraction, extract_document
from indexers.ocr import OcrPool
from indexers.searchable_pdf import PdfPage, TextBox, build_pdf, page_from_image
from samples.scans import ScanTruth, generate_scans

# penalty decision as an image-only PDF (2 pages, red seal), minutes PNG turned 270°,
# licence JPEG (samples.scans.PLAN_NAMES)
_PICK = [3, 7, 0]

needs_poppler = pytest.mark.skipif(shutil.which("pdffonts") is None, reason="poppler-utils")


def _pdffonts(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "f.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout


def _renders(pdf: bytes, tmp_path: Path) -> list[Image.Image]:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(path), str(tmp_path / "r")], check=True)
    return [Image.open(p) for p in sorted(tmp_path.glob("r-*.png"))]


@pytest.fixture(scope="module")
def made(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[ScanTruth, Extraction]]]:
    out = tmp_path_factory.mktemp("searchable")
    truths = generate_scans(out, seed=3, pick=_PICK)
    with OcrPool(workers=1) as pool:
        yield {t.format: (t, extract_document(out / t.path, t.mime, ocr=pool)) for t in truths}


def _text(pdf: bytes) -> str:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return "\n".join("".join(line.split()) for p in pages for line in p.extract_text().splitlines())


@needs_poppler
def test_text_pages_embed_a_chinese_subset_font(tmp_path: Path) -> None:
    line = "潼烟罚〔2011〕第12号 许可证号:610522100123 企业名称:潼关县城关王强便利店"
    box = ((100.0, 100.0), (1500.0, 100.0), (1500.0, 150.0), (100.0, 150.0))
    pdf = build_pdf([PdfPage(1654, 2339, 200, texts=[TextBox(line, box)], visible=True)])
    assert "".join(line.split()) in _text(pdf)
    fonts = _pdffonts(pdf, tmp_path)
    assert "NotoSansCJKsc" in fonts and "CID Type 0C" in fonts
    row = next(r for r in fonts.splitlines() if "NotoSansCJKsc" in r)
    assert row.split()[-5:-2] == ["yes", "yes", "yes"]  # embedded, subset, ToUnicode


@needs_poppler
def test_invisible_layer_over_an_image_is_found_but_not_drawn(tmp_path: Path) -> None:
    img = Image.new("L", (827, 1169), 255)
    box = ((80.0, 80.0), (700.0, 80.0), (700.0, 120.0), (80.0, 120.0))
    pdf = build_pdf([page_from_image(img, 100, [TextBox("行政处罚决定书", box)])])
    assert "行政处罚决定书" in _text(pdf)
    assert "GlyphLessFont" in _pdffonts(pdf, tmp_path)
    (page,) = _renders(pdf, tmp_path)
    assert int(np.asarray(page.convert("L")).min()) > 200  # nothing visible was painted


@pytest.mark.slow
@needs_poppler
def test_scanned_jpeg_becomes_searchable(
    made: dict[str, tuple[ScanTruth, Extraction]], tmp_path: Path
) -> None:
    truth, ex = made["jpeg"]
    assert ex.searchable_pdf is not None
    text = _text(ex.searchable_pdf)
    assert truth.keys["licence"] in find_licence_numbers(text)
    assert truth.keys["name"] in text
    fonts = _pdffonts(ex.searchable_pdf, tmp_path)
    row = next(r for r in fonts.splitlines() if r.startswith("GlyphLessFont"))
    assert "Identity-H" in row and row.split()[-3] == "yes"  # ToUnicode: copy gives Chinese
    (page,) = _renders(ex.searchable_pdf, tmp_path)
    assert page.height > page.width  # portrait A4
    # the scan is embedded as the JPEG it was, not recompressed
    reader = PdfReader(io.BytesIO(ex.searchable_pdf))
    assert reader.pages[0].images[0].data[:2] == b"\xff\xd8"


@pytest.mark.slow
@needs_poppler
def test_sideways_scan_is_shown_upright_and_searchable(
    made: dict[str, tuple[ScanTruth, Extraction]], tmp_path: Path
) -> None:
    truth, ex = made["png"]
    assert truth.rotation == 270 and ex.pages[0].rotation == 270
    assert ex.searchable_pdf is not None
    text = _text(ex.searchable_pdf)
    assert truth.keys["meeting_type"] in text
    (page,) = _renders(ex.searchable_pdf, tmp_path)
    assert page.height > page.width  # turned upright for the reader


@pytest.mark.slow
@needs_poppler
def test_image_only_pdf_gets_a_text_layer_on_every_page(
    made: dict[str, tuple[ScanTruth, Extraction]], tmp_path: Path
) -> None:
    truth, ex = made["pdf-image"]
    assert ex.searchable_pdf is not None
    reader = PdfReader(io.BytesIO(ex.searchable_pdf))
    assert len(reader.pages) == 2
    first = "\n".join("".join(ln.split()) for ln in reader.pages[0].extract_text().splitlines())
    assert normalize_case_number(truth.keys["case"]) in find_case_numbers(first, ("潼烟罚",))
    assert "行政处罚决定书" in first
    assert "送达回证" in "".join(reader.pages[1].extract_text().split())
    assert len(_renders(ex.searchable_pdf, tmp_path)) == 2
