"""Official seals (公章) on scanned pages: found, lifted off the text, and read.

A round seal stamped across a licence number or a case number puts its ring, its star and
the ring text over the digits, and the reader then loses them. In a colour scan the seal's
ink is red or magenta and trivially told from black: :func:`separate` finds the seals
(round blobs of red ink with a closed ring), and lifts their ink off the page by replacing
each red pixel with its own red channel, which for red ink is near the paper's brightness (and
is then made paper) and for black ink stays black, so the text under the seal comes back
whole. Red ink that is not a
seal is lifted only where it touches black text (a red signature across a line); a red
masthead standing on its own stays, because it is text to read.

In a greyscale scan the seal's ink is a mid grey between the paper and the text. A seal is
found the same way on the mid-grey pixels (a closed ring proves it), and inside it the pixels
lighter than half-way between seal grey and text black are turned to paper.

The ring text (the body that issued the seal) is unrolled from polar to a straight line,
starting in the gap at the foot of the seal wherever the seal was turned, and read by the
OCR engine's recogniser as one line. :func:`read_sealed_page` does all of it in the OCR
worker, for :meth:`indexers.ocr.OcrPool.read_many`; the page the caller keeps (the original
file and the searchable PDF's image) is never changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from indexers.ocr import OcrEngine, OcrResult, turn_boxes

RED = "红"
GREY = "灰"

_MIN_SEAL = 0.06  # a seal is at least this share of the page's short side across …
_MAX_SEAL = 0.40  # … and at most this
_RING_COVER = 0.80  # share of the ring's angles that must carry ink
_TEXT_BAND = (0.55, 0.87)  # ring text lies between these shares of the seal's radius
_UNROLL_HEIGHT = 48  # pixels: the recogniser reads lines 48 px high
_MIN_RING_TEXT_SCORE = 0.5
_MIN_PAGE = 200  # pixels: a strip or a thumbnail carries no seal worth finding


@dataclass(frozen=True)
class Seal:
    """One seal on a page: where (on the upright page, shares of its width and height),
    how big (diameter, share of the page width), its colour, and its ring text if read."""

    x: float
    y: float
    diameter: float
    colour: str  # 红 | 灰
    text: str | None = None
    score: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "x": round(self.x, 4),
            "y": round(self.y, 4),
            "diameter": round(self.diameter, 4),
            "colour": self.colour,
            "text": self.text,
            "score": None if self.score is None else round(self.score, 3),
        }


@dataclass(frozen=True)
class SealedResult(OcrResult):
    """What OCR read on a page with its seals lifted off, and the seals themselves."""

    seals: tuple[Seal, ...] = ()
    separate_seconds: float = 0.0  # finding and lifting the seals
    ring_seconds: float = 0.0  # reading the ring text


@dataclass(frozen=True)
class _Found:
    cx: float  # pixels on the page as given
    cy: float
    radius: float
    colour: str
    mask: np.ndarray  # the seal's ink on the page (bool, page-sized crop at box)
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the crop


# ---------------------------------------------------------------- ink masks


def red_ink(rgb: np.ndarray) -> np.ndarray:
    """Red and magenta ink (bool mask): red well above green, and bright enough.

    Red seal ink is about (215, 30, 35), magenta (200, 40, 160): both keep green far below
    red; black, grey and blue ink do not. Plain channel arithmetic, no colour conversion.
    """
    r = rgb[..., 0].astype(np.int16)
    g = rgb[..., 1].astype(np.int16)
    result: np.ndarray = (r - g >= 60) & (r >= 110)
    return result


def _paper(grey: np.ndarray) -> float:
    return float(np.percentile(grey[::4, ::4], 90))


def _mid_grey(grey: np.ndarray, paper: float) -> np.ndarray:
    """Pixels of a greyscale page as grey as a red seal scans: a third to 80% of the paper."""
    result: np.ndarray = (grey >= 0.30 * paper) & (grey <= 0.82 * paper)
    return result


# ---------------------------------------------------------------- finding seals


def _ring_cover(ink: np.ndarray, cx: float, cy: float, radius: float) -> float:
    """Share of 180 angles at which the band just inside ``radius`` carries ink."""
    angles = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    hits = np.zeros(angles.shape, bool)
    h, w = ink.shape
    for share in (0.80, 0.85, 0.90, 0.94, 0.98):
        xs = np.clip(np.round(cx + share * radius * np.cos(angles)).astype(int), 0, w - 1)
        ys = np.clip(np.round(cy + share * radius * np.sin(angles)).astype(int), 0, h - 1)
        hits |= ink[ys, xs]
    return float(hits.mean())


def _ring(
    ink: np.ndarray, support: np.ndarray, cx: float, cy: float, radius: float
) -> float | None:
    """The radius of the closed ring round (cx, cy) near ``radius``, or None if none.

    Closed: ink or black ink over it at 80% of the angles, and the seal's own ink at 60%
    (so that a circle drawn over a block of black text is no seal)."""
    best: tuple[float, float] | None = None
    for share in (0.9, 0.95, 1.0, 1.05, 1.1, 1.15):
        r = radius * share
        cover = _ring_cover(support, cx, cy, r)
        if cover >= _RING_COVER and (best is None or cover >= best[0]):
            best = (cover, r)
    if best is None or _ring_cover(ink, cx, cy, best[1]) < 0.6:
        return None
    return best[1]


def _circles(ink: np.ndarray, support: np.ndarray) -> list[tuple[float, float, float]]:
    """Round blobs of ``ink`` whose ring is closed (``support``: ink, or black ink over it,
    since a ring crossing a line of text is black there): (cx, cy, radius) of each."""
    short = min(ink.shape)
    lo, hi = _MIN_SEAL * short, _MAX_SEAL * short
    join = max(3, round(short * 0.012))  # bridges a ring cut by a line of text
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (join, join))
    closed = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    out: list[tuple[float, float, float]] = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if not (lo <= w <= hi and lo <= h <= hi) or not 0.6 <= w / h <= 1.6:
            continue
        if area < 0.04 * w * h:  # a ring alone covers about a tenth of its box
            continue
        ys, xs = np.nonzero(labels[y : y + h, x : x + w] == i)
        pts = np.stack([xs + x, ys + y], axis=1).astype(np.float32)
        (cx, cy), radius = cv2.minEnclosingCircle(pts)
        ring = _ring(ink, support, cx, cy, radius)
        if ring is not None:
            out.append((float(cx), float(cy), ring))
            continue
        # a blob grown by text beside it, or a ring cut short: look for the ring inside it
        out += _hough(ink, support, (x, y, w, h), 0.35 * max(w, h), 0.6 * max(w, h))[:1]
    return out


def _hough(
    ink: np.ndarray,
    support: np.ndarray,
    box: tuple[int, int, int, int],
    r_min: float,
    r_max: float,
) -> list[tuple[float, float, float]]:
    """Circles of ``r_min``–``r_max`` in ``box`` of ``ink`` (padded), whose ring is closed."""
    x, y, w, h = box
    pad = round(0.2 * max(w, h))
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(ink.shape[1], x + w + pad), min(ink.shape[0], y + h + pad)
    img = cv2.GaussianBlur(ink[y0:y1, x0:x1].astype(np.uint8) * 255, (0, 0), 2)
    found = cv2.HoughCircles(
        img,
        cv2.HOUGH_GRADIENT,
        dp=2,
        minDist=max(1.0, 2 * r_min),
        param1=100,
        param2=30,
        minRadius=max(1, int(r_min)),
        maxRadius=max(2, int(r_max)),
    )
    if found is None:
        return []
    out: list[tuple[float, float, float]] = []
    for cx, cy, r in found[0][:10]:
        ring = _ring(ink, support, float(cx) + x0, float(cy) + y0, float(r))
        if ring is not None and not any(abs(cx + x0 - a) + abs(cy + y0 - b) < r for a, b, _ in out):
            out.append((float(cx) + x0, float(cy) + y0, ring))
    return out


def _faint_circles(ink: np.ndarray, support: np.ndarray) -> list[tuple[float, float, float]]:
    """Rings too broken to make one blob (a faint seal in grey): circles by Hough's
    transform over the page, kept when their ring is closed. Tried only on a page with
    enough solid ink for a ring, since it costs several times what the blobs do."""
    short = min(ink.shape)
    if np.count_nonzero(ink) < 2 * np.pi * _MIN_SEAL * short * 0.5 * 2:
        return []
    h, w = ink.shape
    r_min, r_max = short * _MIN_SEAL / 2, short * _MAX_SEAL / 2
    return _hough(ink, support, (0, 0, w, h), r_min, r_max)


def _disc(h: int, w: int, cx: float, cy: float, radius: float) -> np.ndarray:
    yy, xx = np.ogrid[:h, :w]
    result: np.ndarray = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
    return result


def _box(cx: float, cy: float, radius: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    r = radius * 1.06
    x0, y0 = max(0, int(cx - r)), max(0, int(cy - r))
    return x0, y0, min(shape[1], int(np.ceil(cx + r)) + 1), min(shape[0], int(np.ceil(cy + r)) + 1)


# ---------------------------------------------------------------- lifting the ink


def separate(arr: np.ndarray) -> tuple[np.ndarray, list[_Found]]:
    """The page with its seals lifted off (a new array; ``arr`` is untouched), and the seals.

    Seals are looked for on the page at half size (a seal is large); the ink is lifted at
    full size. A page without seals and without red ink touching text comes back as the
    same object.
    """
    if min(arr.shape[:2]) < _MIN_PAGE:
        return arr, []
    if arr.ndim == 3:
        return _separate_colour(arr)
    return _separate_grey(arr)


def _separate_colour(rgb: np.ndarray) -> tuple[np.ndarray, list[_Found]]:
    small = rgb[::2, ::2]
    ink = red_ink(small)
    if int(np.count_nonzero(ink[::2, ::2])) < 20:
        return rgb, []
    paper = _paper(small[..., 1])
    dark = small.min(axis=2) < 0.35 * paper
    found: list[_Found] = []
    lift = np.zeros(rgb.shape[:2], bool)
    for cx, cy, radius in _circles(ink, ink | dark):
        cx, cy, radius = 2 * cx + 0.5, 2 * cy + 0.5, 2 * radius
        x0, y0, x1, y1 = _box(cx, cy, radius, rgb.shape)
        disc = _disc(y1 - y0, x1 - x0, cx - x0, cy - y0, radius * 1.04)
        mask = red_ink(rgb[y0:y1, x0:x1]) & disc
        lift[y0:y1, x0:x1] |= mask
        found.append(_Found(cx, cy, radius, RED, mask, (x0, y0, x1, y1)))
    seal_small = lift[::2, ::2]
    rest = ink & ~cv2.dilate(seal_small.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    if rest.any():  # red ink that is not a seal: lifted only where it touches black text
        _count, labels = cv2.connectedComponents(rest.astype(np.uint8), connectivity=8)
        near = cv2.dilate(dark.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        touching = np.unique(labels[rest & near])
        touching = touching[touching > 0]
        if touching.size:
            area = cv2.dilate(np.isin(labels, touching).astype(np.uint8), np.ones((3, 3), np.uint8))
            full = cv2.resize(area, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
            lift |= full.astype(bool) & red_ink(rgb)
    if not lift.any():
        return rgb, found
    lift = cv2.dilate(lift.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    out = rgb.copy()
    red = rgb[..., 0][lift]
    # seal ink leaves its red channel a little below the paper's: a faint ghost of the ring
    # text the reader would still read; what is not dark as text is paper
    red[red > 0.6 * paper] = np.uint8(min(255.0, paper))
    for c in range(3):
        out[..., c][lift] = red
    return out, found


def _separate_grey(grey: np.ndarray) -> tuple[np.ndarray, list[_Found]]:
    small = grey[::2, ::2]
    paper = _paper(small)
    mid = _mid_grey(small, paper)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    solid = cv2.morphologyEx(mid.astype(np.uint8), cv2.MORPH_OPEN, kernel).astype(bool)
    dark = small < 0.25 * paper
    circles = _circles(solid, solid | dark) or _faint_circles(solid, solid | dark)
    if not circles:
        return grey, []
    out = grey.copy()
    found: list[_Found] = []
    for cx, cy, radius in circles:
        cx, cy, radius = 2 * cx + 0.5, 2 * cy + 0.5, 2 * radius
        x0, y0, x1, y1 = _box(cx, cy, radius, grey.shape)
        disc = _disc(y1 - y0, x1 - x0, cx - x0, cy - y0, radius * 1.04)
        crop = out[y0:y1, x0:x1]
        smooth = cv2.medianBlur(grey[y0:y1, x0:x1], 3)
        # the seal's ink: mid grey, but not the grey edge round a black character
        near_black = cv2.dilate((smooth < 0.25 * paper).astype(np.uint8), np.ones((5, 5), np.uint8))
        mask = _mid_grey(smooth, paper) & disc & ~near_black.astype(bool)
        seal_level = float(np.median(smooth[mask])) if mask.any() else 0.45 * paper
        # between seal grey and black text (whose core is near 0): seal ink turns to paper
        crop[disc & (crop > 0.7 * seal_level)] = np.uint8(paper)
        found.append(_Found(cx, cy, radius, GREY, mask, (x0, y0, x1, y1)))
    return out, found


# ---------------------------------------------------------------- the ring text


def unroll(f: _Found) -> np.ndarray:
    """The ring text as one straight line, black on white, BGR, ``_UNROLL_HEIGHT`` high.

    The text runs clockwise round the top; the unrolling starts in the widest gap of the
    text band (the foot of the seal, wherever the seal was turned), with the outer edge of
    the band on top so that the characters stand upright.
    """
    cx, cy = f.cx - f.box[0], f.cy - f.box[1]
    outer = _outer_edge(f.mask, cx, cy, f.radius)
    r_in, r_out = (share * outer for share in _TEXT_BAND)
    steps = 720
    angles = np.linspace(0, 2 * np.pi, steps, endpoint=False)
    radii = np.linspace(r_in, r_out, 12)
    xs = np.clip(np.round(cx + np.outer(radii, np.cos(angles))).astype(int), 0, f.mask.shape[1] - 1)
    ys = np.clip(np.round(cy + np.outer(radii, np.sin(angles))).astype(int), 0, f.mask.shape[0] - 1)
    density = f.mask[ys, xs].mean(axis=0)
    density = np.convolve(
        np.concatenate([density[-4:], density, density[:4]]), np.ones(9) / 9, "valid"
    )
    profile = density > 0.25 * float(density.max(initial=0.0))
    start = _gap_middle(profile) * 2 * np.pi / steps
    mid_r = (r_in + r_out) / 2
    width = max(_UNROLL_HEIGHT, round(2 * np.pi * mid_r * _UNROLL_HEIGHT / (r_out - r_in)))
    theta = start + np.arange(width, dtype=np.float32) * (2 * np.pi / width)
    rad = r_out - np.arange(_UNROLL_HEIGHT, dtype=np.float32) * ((r_out - r_in) / _UNROLL_HEIGHT)
    map_x = (cx + rad[:, None] * np.cos(theta)[None, :]).astype(np.float32)
    map_y = (cy + rad[:, None] * np.sin(theta)[None, :]).astype(np.float32)
    ink = f.mask.astype(np.uint8) * 255
    line = cv2.remap(ink, map_x, map_y, cv2.INTER_LINEAR, borderValue=0)
    line = 255 - line
    return cv2.cvtColor(_trim(line), cv2.COLOR_GRAY2BGR)


def _outer_edge(mask: np.ndarray, cx: float, cy: float, radius: float) -> float:
    """The ring's outer edge: the farthest radius (0.8–1.2 × ``radius``) where at least half
    the angles carry ink. The ring text lies at fixed shares of it."""
    angles = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    h, w = mask.shape
    edge = radius
    for r in np.linspace(0.8 * radius, 1.2 * radius, 41):
        xs = np.round(cx + r * np.cos(angles)).astype(int)
        ys = np.round(cy + r * np.sin(angles)).astype(int)
        inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
        if inside.any() and mask[ys[inside], xs[inside]].sum() >= 0.5 * len(angles):
            edge = float(r)
    return edge


def _gap_middle(profile: np.ndarray) -> int:
    """Index of the middle of the longest run of False in a circular profile."""
    if profile.all() or not profile.any():
        return len(profile) // 4  # no gap: start at the foot (90° is straight down)
    doubled = np.concatenate([profile, profile])
    best_len = best_mid = run = 0
    for i, inked in enumerate(doubled):
        run = 0 if inked else run + 1
        if run > best_len:
            best_len, best_mid = run, i - run // 2
    return best_mid % len(profile)


def _trim(line: np.ndarray) -> np.ndarray:
    """The unrolled line without the blank run at both ends (plus a little margin)."""
    cols = np.nonzero((line < 128).any(axis=0))[0]
    if cols.size == 0:
        return line
    pad = line.shape[0] // 4
    return line[:, max(0, cols[0] - pad) : cols[-1] + pad + 1]


# ---------------------------------------------------------------- in the OCR worker


def _upright(x: float, y: float, rotation: int, h: int, w: int) -> tuple[float, float]:
    """A point of the page as given, on the page turned ``rotation`` degrees clockwise."""
    box = np.array([[x, y]] * 4, dtype=np.float64)
    p = turn_boxes([box], rotation, h, w)[0][0]
    return float(p[0]), float(p[1])


def read_sealed_page(engine: OcrEngine, arr: np.ndarray, orient: bool) -> SealedResult:
    """Read a page with its seals lifted off, and the seals' ring text (an OCR pool task)."""
    start = time.perf_counter()
    try:
        page, found = separate(arr)
    except (cv2.error, ValueError):  # lifting seals is a help to reading, never a bar to it
        page, found = arr, []
    lifted = time.perf_counter() - start
    result = engine.read(page, orient=orient)
    ring_start = time.perf_counter()
    reads = engine.recognise([unroll(f) for f in found]) if found else []
    h, w = arr.shape[:2]
    seals = []
    for f, (text, score) in zip(found, reads, strict=True):
        ux, uy = _upright(f.cx, f.cy, result.rotation, h, w)
        readable = score >= _MIN_RING_TEXT_SCORE and bool(text.strip())
        seals.append(
            Seal(
                ux / result.width,
                uy / result.height,
                2 * f.radius / result.width,
                f.colour,
                text.strip() if readable else None,
                float(score),
            )
        )
    ring = time.perf_counter() - ring_start
    return SealedResult(
        result.lines,
        result.rotation,
        result.width,
        result.height,
        time.perf_counter() - start,
        seals=tuple(sorted(seals, key=lambda s: (s.y, s.x))),
        separate_seconds=lifted,
        ring_seconds=ring,
    )
