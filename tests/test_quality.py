"""Page quality: blurred, low-resolution and blank scans are flagged 不清晰 with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from indexers.extract import Extraction, extract_document
from indexers.ocr import OcrLine, OcrPool, OcrResult
from indexers.quality import (
    CLEAR,
    MIN_CONFIDENCE,
    MIN_LINE_PX,
    UNCLEAR,
    assess,
    effective_dpi,
    skew_of,
)
from samples._draw import SERIF, font
from samples.scans import ScanTruth, generate_scans

# heavy blur, 60 dpi, near blank, clear (samples.scans.PLAN_NAMES)
_PICK = [10, 11, 12, 14]


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ScanTruth]]:
    out = tmp_path_factory.mktemp("quality")
    return out, generate_scans(out, seed=5, pick=_PICK)


@pytest.fixture(scope="module")
def graded(
    scans: tuple[Path, list[ScanTruth]],
) -> Iterator[dict[str, tuple[ScanTruth, Extraction]]]:
    out, truths = scans
    with OcrPool(workers=1) as pool:
        yield {
            t.pages[0].condition: (t, extract_document(out / t.path, t.mime, ocr=pool))
            for t in truths
        }


@pytest.mark.slow
def test_clear_scan_is_clear(graded: dict[str, tuple[ScanTruth, Extraction]]) -> None:
    _truth, ex = graded["clear"]
    q = ex.pages[0].quality
    assert q is not None
    assert q.verdict == CLEAR and q.reasons == []
    assert q.confidence is not None and q.confidence > 0.92
    assert ex.legible


@pytest.mark.slow
def test_heavily_blurred_scan_is_flagged_blurred(
    graded: dict[str, tuple[ScanTruth, Extraction]],
) -> None:
    _truth, ex = graded["heavy_blur"]
    q = ex.pages[0].quality
    assert q is not None and q.verdict == UNCLEAR
    assert "图像模糊" in q.reasons
    assert not ex.legible
    clear = graded["clear"][1].pages[0].quality
    assert clear is not None and q.blur < clear.blur / 10


@pytest.mark.slow
def test_low_resolution_scan_names_its_line_height(
    graded: dict[str, tuple[ScanTruth, Extraction]],
) -> None:
    _truth, ex = graded["low_res"]  # 60 dpi: lines 16-17 pixels tall
    q = ex.pages[0].quality
    assert q is not None and q.verdict == UNCLEAR
    assert q.line_px is not None and q.line_px < MIN_LINE_PX
    [reason] = q.reasons
    assert reason.startswith("分辨率过低(字高1") and f"应不少于{MIN_LINE_PX:.0f}" in reason


@pytest.mark.slow
def test_a_photo_whose_metadata_says_72_dpi_but_reads_well_is_clear(
    scans: tuple[Path, list[ScanTruth]], tmp_path: Path
) -> None:
    """A phone photo of an A4 page, 1000 px wide, that says 72 dpi (a 14-inch page)."""
    folder, truths = scans
    truth = next(t for t in truths if t.pages[0].condition == "clear")
    page = Image.open(folder / truth.path).convert("L")
    photo = page.resize((1000, round(page.height * 1000 / page.width)), Image.Resampling.LANCZOS)
    path = tmp_path / "手机拍照.jpg"
    photo.save(path, "JPEG", quality=85, dpi=(72, 72))
    with OcrPool(workers=1) as pool:
        ex = extract_document(path, "image/jpeg", ocr=pool)
    q = ex.pages[0].quality
    assert q is not None and q.verdict == CLEAR, q.reasons
    assert q.confidence is not None and q.confidence > MIN_CONFIDENCE
    assert q.line_px is not None and q.line_px >= MIN_LINE_PX
    assert ex.legible


@pytest.mark.slow
def test_a_page_with_one_short_line_read_well_is_not_blank(tmp_path: Path) -> None:
    """Little ink, but OCR reads it at high confidence: 空白页 only with no ink and no text."""
    dpi = 200
    page = Image.new("L", (1654, 2339), 250)
    ImageDraw.Draw(page).text((700, 1100), "同意", fill=20, font=font(str(SERIF), 44))
    path = tmp_path / "批示.png"
    page.save(path, dpi=(dpi, dpi))
    with OcrPool(workers=1) as pool:
        ex = extract_document(path, "image/png", ocr=pool)
    q = ex.pages[0].quality
    assert ex.pages[0].text.strip() == "同意"
    assert q is not None and not q.blank and "空白页" not in q.reasons


@pytest.mark.slow
def test_near_blank_page_is_blank(graded: dict[str, tuple[ScanTruth, Extraction]]) -> None:
    _truth, ex = graded["blank"]
    q = ex.pages[0].quality
    assert q is not None and q.blank and q.reasons == ["空白页"] and q.verdict == UNCLEAR


def test_blank_without_ocr() -> None:
    paper = np.full((3508 // 4, 2480 // 4), 245, np.uint8)
    q = assess(paper, 75.0, None, ocr_ran=False)
    assert q.blank and q.reasons == ["空白页"]


def test_effective_dpi() -> None:
    assert effective_dpi(2480, 3508, 300) == 300
    assert effective_dpi(496, 701, 60) == 60
    # a phone photo that claims 72 dpi but holds a whole A4 page
    assert effective_dpi(3000, 4243, 72) == pytest.approx(363, abs=1)
    # 72 and 96 are what cameras write when they know nothing: the pixels decide
    assert effective_dpi(1000, 1414, 72) == pytest.approx(121, abs=1)
    assert effective_dpi(1366, 768, 96) is None
    assert effective_dpi(1654, 2339, None) == pytest.approx(200, abs=1)
    assert effective_dpi(1000, 1000, None) is None


def _line(text: str, x: float, y: float, w: float, h: float, degrees: float) -> OcrLine:
    a = np.radians(-degrees)
    dx, dy = np.cos(a), np.sin(a)
    p0 = (x, y)
    p1 = (x + w * dx, y + w * dy)
    p3 = (x - h * dy, y + h * dx)
    p2 = (p1[0] - h * dy, p1[1] + h * dx)
    return OcrLine(text, (p0, p1, p2, p3), 0.99)


def test_skew_from_the_lines_and_its_reason() -> None:
    lines = [_line("许可证号:610522100123", 100, 100 + 80 * i, 900, 50, 7.0) for i in range(6)]
    result = OcrResult(lines, 0, 2480, 3508, 0.0)
    assert skew_of(result) == pytest.approx(7.0, abs=0.01)
    page = np.asarray(Image.effect_noise((1240, 1754), 90).convert("L"))
    q = assess(page, 150, result)
    assert "页面倾斜(7.0°)" in q.reasons and q.verdict == UNCLEAR
