"""Page quality: can a clerk (and an inspector) read this scan?

Per page, measured on the pixels: the height of the text lines OCR found (a page is
legible when its characters have enough pixels, whatever dpi the file's metadata claims:
phone photos say 72 dpi and read perfectly), a sharpness figure (variance of the Laplacian
over the ink, with the page scaled so that its lines are as tall as 16 pt text at 100 dpi),
blank detection (no ink *and* no text read), skew from the OCR lines, and the mean OCR
confidence, combined into 清晰 / 不清晰 with the reasons in Chinese. Only when OCR did not run
does the resolution fall back to the effective dpi. Inspectors wrote down
"营业执照扫描件不能清晰显示": those pages must be caught at intake, before they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and OpenCV are loaded when a page is measured, not before
    import numpy as np

    from indexers.ocr import OcrResult

# Thresholds, measured on generated A4 scans (docs/benchmarks.md, "OCR"). Sharpness against a
# Gaussian blur of the printed page, the same at 200 and 300 dpi: sigma 0.03 mm ~28,000,
# 0.1 mm ~13,000, 0.2 mm ~3,100, 0.3 mm ~900, 0.5 mm ~200. Clear scans read with mean
# confidence 0.97-0.99; a page blurred by 0.6 mm reads at about 0.85 with wrong characters.
MIN_DPI = 150.0  # only when OCR did not run: no lines to measure
# Text lines (OCR boxes) at least this tall in the scan's own pixels. Measured: 16 pt text
# boxes are 65 px at 300 dpi, 29 px on a 1000 px-wide phone photo of an A4 page (reads at
# 0.997), 16.5 px at 60 dpi (reads with wrong characters); 10.5 pt text at 150 dpi gives ~22.
MIN_LINE_PX = 20.0
_NORM_LINE_PX = 22.0  # a 16 pt line at 100 dpi: the scale the sharpness thresholds were set at
MIN_SHARPNESS = 1500.0
MIN_CONFIDENCE = 0.92
MAX_SKEW = 5.0
_BLANK_INK = 0.0003  # share of the page that is ink below which it is blank
_DEFAULT_DPI = (72.0, 96.0)
_A4_LONG_IN = 297 / 25.4
_A4_SHORT_IN = 210 / 25.4

CLEAR = "清晰"
UNCLEAR = "不清晰"


@dataclass
class PageQuality:
    """How legible a scanned page is, and why not when it is not."""

    dpi: float | None  # effective resolution (for the record; the verdict uses line height)
    line_px: float | None  # median height of the text lines in the scan's pixels (OCR boxes)
    blur: float  # sharpness: variance of the Laplacian over the ink at 100 dpi; low = blurred
    blank: bool
    skew_degrees: float
    confidence: float | None  # mean OCR confidence, None when OCR did not run or read nothing
    verdict: str = CLEAR  # "清晰" or "不清晰"
    reasons: list[str] = field(default_factory=list)  # Chinese, empty when 清晰


def effective_dpi(width: int, height: int, meta_dpi: float | None) -> float | None:
    """The resolution the page was really captured at.

    The file's own dpi when it gives a plausible paper size (72 and 96, the defaults cameras
    and screen grabs write, say nothing); otherwise the resolution the pixels give if the
    image is a whole A4 page.
    """
    long_px, short_px = max(width, height), min(width, height)
    if meta_dpi in _DEFAULT_DPI:
        meta_dpi = None  # what cameras and screen grabs write when they know nothing
    if meta_dpi and meta_dpi > 1:
        long_in = long_px / meta_dpi
        if 3.0 <= long_in <= 17.5:
            return float(meta_dpi)
    if short_px == 0:
        return None
    ratio = long_px / short_px
    if abs(ratio - _A4_LONG_IN / _A4_SHORT_IN) < 0.25:
        return round(long_px / _A4_LONG_IN, 1)
    return None


def _gray(arr: np.ndarray) -> np.ndarray:
    import cv2

    if arr.ndim == 2:
        return arr
    return cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)


def _at_100dpi(gray: np.ndarray, dpi: float | None) -> np.ndarray:
    import cv2

    # unknown resolution: treat the page as A4
    d = dpi or max(gray.shape) / _A4_LONG_IN
    f = min(1.0, 100.0 / d)
    if f >= 1.0:
        return gray
    return cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)


def line_height(ocr: OcrResult | None) -> float | None:
    """Median height of the OCR text lines, in the pixels of the full-size upright page."""
    import numpy as np

    if ocr is None or not ocr.lines:
        return None
    return float(np.median([math.dist(ln.box[0], ln.box[3]) for ln in ocr.lines]))


def _normalised(gray: np.ndarray, dpi: float | None, line_px: float | None) -> np.ndarray:
    """The page scaled so that text lines are :data:`_NORM_LINE_PX` tall (by the measured
    lines when there are any, else as if it were 16 pt text at ``dpi``)."""
    import cv2

    if line_px is None or line_px <= 0:
        return _at_100dpi(gray, dpi)
    f = min(1.0, _NORM_LINE_PX / line_px)
    if f >= 1.0:
        return gray
    return cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)


def sharpness_and_ink(
    arr: np.ndarray, dpi: float | None, line_px: float | None = None
) -> tuple[float, float]:
    """(variance of the Laplacian over the inked area, normalised scale; share inked).

    ``line_px``: the text lines' height in ``arr``'s pixels, when OCR measured them."""
    import cv2
    import numpy as np

    small = _normalised(_gray(arr), dpi, line_px)
    background = float(np.median(small))
    ink = small < background - 60
    share = float(ink.mean())
    if share == 0.0:
        return 0.0, 0.0
    near = cv2.dilate(ink.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    lap = cv2.Laplacian(small, cv2.CV_64F)
    return float(lap[near].var()), share


def skew_of(ocr: OcrResult | None) -> float:
    """Median slope of the long text lines, degrees (positive: rising to the right)."""
    import numpy as np

    if ocr is None:
        return 0.0
    angles = []
    for ln in ocr.lines:
        (x0, y0), (x1, y1) = ln.box[0], ln.box[1]
        h = math.dist(ln.box[0], ln.box[3])
        if math.dist((x0, y0), (x1, y1)) > 3 * h:
            angles.append(-math.degrees(math.atan2(y1 - y0, x1 - x0)))
    return round(float(np.median(angles)), 2) if angles else 0.0


def assess(
    arr: np.ndarray,
    dpi: float | None,
    ocr: OcrResult | None,
    *,
    ocr_ran: bool = True,
    pixel_dpi: float | None = None,
) -> PageQuality:
    """Measure one page (upright or not, it does not matter) and give the verdict.

    ``dpi`` is the page's effective resolution as scanned; ``pixel_dpi`` the resolution of
    ``arr`` when it was shrunk before measuring (default: the same).
    """
    line_px = line_height(ocr)
    arr_line = None
    if line_px is not None and ocr is not None and max(ocr.width, ocr.height) > 0:
        arr_line = line_px * max(arr.shape[:2]) / max(ocr.width, ocr.height)
    sharp, ink = sharpness_and_ink(arr, pixel_dpi or dpi, arr_line)
    read_text = ocr is not None and any(ln.text.strip() for ln in ocr.lines)
    blank = ink < _BLANK_INK and not read_text
    confidence = ocr.confidence if ocr is not None else None
    q = PageQuality(
        dpi=dpi,
        line_px=None if line_px is None else round(line_px, 1),
        blur=round(sharp, 1),
        blank=blank,
        skew_degrees=skew_of(ocr),
        confidence=None if confidence is None else round(confidence, 4),
    )
    reasons: list[str] = []
    if blank:
        reasons.append("空白页")
    else:
        if line_px is not None:
            if line_px < MIN_LINE_PX:
                reasons.append(f"分辨率过低(字高{line_px:.0f}像素, 应不少于{MIN_LINE_PX:.0f})")
        elif dpi is not None and dpi < MIN_DPI and not read_text:
            reasons.append(f"分辨率过低({dpi:.0f}dpi)")
        if sharp < MIN_SHARPNESS:
            reasons.append("图像模糊")
        if ocr_ran and ocr is not None and not ocr.lines:
            reasons.append("未识别到文字")
        elif confidence is not None and confidence < MIN_CONFIDENCE:
            reasons.append(f"识别置信度低({confidence:.2f})")
        if abs(q.skew_degrees) > MAX_SKEW:
            reasons.append(f"页面倾斜({q.skew_degrees:.1f}°)")
    q.reasons = reasons
    q.verdict = UNCLEAR if reasons else CLEAR
    return q
