"""Page quality: can a clerk (and an inspector) read this scan?

Per page: the effective resolution, a sharpness figure (variance of the Laplacian over the
ink, at 100 dpi), blank detection, skew from the OCR lines, and the mean OCR confidence,
combined into 清晰 / 不清晰 with the reasons in Chinese. Inspectors wrote down
"营业执照扫描件不能清晰显示": those pages must be caught at intake, before they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from indexers.ocr import OcrResult

# Thresholds, measured on generated A4 scans (docs/benchmarks.md, "OCR"). Sharpness against a
# Gaussian blur of the printed page, the same at 200 and 300 dpi: sigma 0.03 mm ~28,000,
# 0.1 mm ~13,000, 0.2 mm ~3,100, 0.3 mm ~900, 0.5 mm ~200. Clear scans read with mean
# confidence 0.97-0.99; a page blurred by 0.6 mm reads at about 0.85 with wrong characters.
MIN_DPI = 150.0
MIN_SHARPNESS = 1500.0
MIN_CONFIDENCE = 0.92
MAX_SKEW = 5.0
_BLANK_INK = 0.0003  # share of the page that is ink below which it is blank
_A4_LONG_IN = 297 / 25.4
_A4_SHORT_IN = 210 / 25.4

CLEAR = "清晰"
UNCLEAR = "不清晰"


@dataclass
class PageQuality:
    """How legible a scanned page is, and why not when it is not."""

    dpi: float | None  # effective resolution
    blur: float  # sharpness: variance of the Laplacian over the ink at 100 dpi; low = blurred
    blank: bool
    skew_degrees: float
    confidence: float | None  # mean OCR confidence, None when OCR did not run or read nothing
    verdict: str = CLEAR  # "清晰" or "不清晰"
    reasons: list[str] = field(default_factory=list)  # Chinese, empty when 清晰


def effective_dpi(width: int, height: int, meta_dpi: float | None) -> float | None:
    """The resolution the page was really captured at.

    The file's own dpi when it gives a plausible paper size; otherwise the resolution the
    pixels give if the image is a whole A4 page (phone photos often say 72 dpi).
    """
    long_px, short_px = max(width, height), min(width, height)
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
    if arr.ndim == 2:
        return arr
    return cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)


def _at_100dpi(gray: np.ndarray, dpi: float | None) -> np.ndarray:
    # unknown resolution: treat the page as A4
    d = dpi or max(gray.shape) / _A4_LONG_IN
    f = min(1.0, 100.0 / d)
    if f >= 1.0:
        return gray
    return cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)


def sharpness_and_ink(arr: np.ndarray, dpi: float | None) -> tuple[float, float]:
    """(variance of the Laplacian over the inked area at 100 dpi, share of the page inked)."""
    small = _at_100dpi(_gray(arr), dpi)
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
    sharp, ink = sharpness_and_ink(arr, pixel_dpi or dpi)
    blank = ink < _BLANK_INK
    confidence = ocr.confidence if ocr is not None else None
    q = PageQuality(
        dpi=dpi,
        blur=round(sharp, 1),
        blank=blank,
        skew_degrees=skew_of(ocr),
        confidence=None if confidence is None else round(confidence, 4),
    )
    reasons: list[str] = []
    if blank:
        reasons.append("空白页")
    else:
        if dpi is not None and dpi < MIN_DPI:
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
