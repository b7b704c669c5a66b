"""Drawing helpers for the synthetic scan generator: fonts, page layout, seals, degradation.

Everything here is deterministic given the ``random.Random`` passed in, so a seed gives the
same bytes on every run (Pillow's JPEG encoder is deterministic too).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
SERIF = FONT_DIR / "NotoSerifCJK-Regular.ttc"
SANS_BOLD = FONT_DIR / "NotoSansCJK-Bold.ttc"
SERIF_BOLD = FONT_DIR / "NotoSerifCJK-Bold.ttc"
_SC_INDEX = 2  # "Noto … CJK SC" inside the collections

A4_MM = (210.0, 297.0)
MM_PER_INCH = 25.4


@dataclass(frozen=True)
class Placed:
    """A line as drawn: its text, top-left corner, font size and width, all in pixels."""

    text: str
    x: float
    y: float
    size: float
    width: float


@dataclass(frozen=True)
class Block:
    """One paragraph of the page: a title, a heading line or wrapped body text."""

    text: str
    kind: str = "body"  # "title" | "subtitle" | "body" | "right"


@lru_cache(maxsize=32)
def font(path: str, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size_px, index=_SC_INDEX)


def _px(mm: float, dpi: int) -> int:
    return round(mm / MM_PER_INCH * dpi)


def _wrap(text: str, fnt: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Wrap Chinese text by measured width (no spaces to break on)."""
    lines: list[str] = []
    current = ""
    for ch in text:
        trial = current + ch
        if current and fnt.getlength(trial) > width:
            lines.append(current)
            current = ch
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def render_page(
    blocks: list[Block], dpi: int, *, color: bool = False
) -> tuple[Image.Image, list[Placed]]:
    """Lay the blocks out on a clean A4 page; return the image and the lines drawn, in order."""
    w, h = _px(A4_MM[0], dpi), _px(A4_MM[1], dpi)
    img = Image.new("RGB" if color else "L", (w, h), "white")
    draw = ImageDraw.Draw(img)
    left, right, top = _px(25, dpi), w - _px(25, dpi), _px(28, dpi)
    body = font(str(SERIF), round(15 / 72 * dpi))  # 15 pt: office body text (四号≈14 pt)
    title = font(str(SANS_BOLD), round(21 / 72 * dpi))
    subtitle = font(str(SERIF_BOLD), round(17 / 72 * dpi))
    ink = (0, 0, 0) if color else 0
    y = top
    drawn: list[Placed] = []
    for block in blocks:
        fnt = {"title": title, "subtitle": subtitle}.get(block.kind, body)
        line_h = round(fnt.size * 1.75)
        if block.kind in ("title", "subtitle"):
            tw = fnt.getlength(block.text)
            draw.text(((w - tw) / 2, y), block.text, font=fnt, fill=ink)
            drawn.append(Placed(block.text, (w - tw) / 2, y, fnt.size, tw))
            y += round(line_h * (1.25 if block.kind == "title" else 1.0))
            continue
        if block.kind == "right":
            tw = fnt.getlength(block.text)
            draw.text((right - tw, y), block.text, font=fnt, fill=ink)
            drawn.append(Placed(block.text, right - tw, y, fnt.size, tw))
            y += line_h
            continue
        for line in _wrap(block.text, fnt, right - left):
            draw.text((left, y), line, font=fnt, fill=ink)
            drawn.append(Placed(line, left, y, fnt.size, fnt.getlength(line)))
            y += line_h
        if y > h - _px(25, dpi):
            break
    return img, drawn


SEAL_RED = (214, 30, 36)
SEAL_MM = 42.0  # a county body's round seal: 42 mm across, a star in the middle


def seal_image(
    text: str, dpi: int, rng: random.Random, *, diameter_mm: float = SEAL_MM
) -> Image.Image:
    """A round official seal (公章): ring, five-pointed star, ``text`` on the upper arc.

    Returned as an "L" coverage mask (255 = full ink), turned by a few degrees as a hand
    stamps it, with the uneven density of real seal ink.
    """
    d = _px(diameter_mm, dpi)
    seal = Image.new("L", (d, d), 0)
    sd = ImageDraw.Draw(seal)
    ring = max(3, d // 28)
    sd.ellipse((ring, ring, d - ring, d - ring), outline=255, width=ring)
    cx = cy = d / 2
    r_out, r_in = d * 0.16, d * 0.065
    pts = []
    for k in range(10):
        r = r_out if k % 2 == 0 else r_in
        a = -math.pi / 2 + k * math.pi / 5
        pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    sd.polygon(pts, fill=255)
    fnt = font(str(SANS_BOLD), max(8, round(d * 0.11)))
    n = len(text)
    span = math.radians(min(250.0, 24.0 * n + 20.0))
    for i, ch in enumerate(text):
        a = -math.pi / 2 - span / 2 + span * (i + 0.5) / n
        rad = d / 2 - ring * 2 - fnt.size * 0.7
        glyph = Image.new("L", (int(fnt.size * 2), int(fnt.size * 2)), 0)
        ImageDraw.Draw(glyph).text((fnt.size / 2, fnt.size / 2), ch, font=fnt, fill=255)
        glyph = glyph.rotate(-math.degrees(a) - 90, resample=Image.Resampling.BICUBIC)
        gx = cx + rad * math.cos(a) - glyph.width / 2
        gy = cy + rad * math.sin(a) - glyph.height / 2
        seal.paste(255, (round(gx), round(gy)), glyph)
    seal = seal.rotate(rng.uniform(-20, 20), resample=Image.Resampling.BICUBIC)
    density = np.asarray(seal, np.float32) / 255.0
    h = w = d
    cv2.setRNGSeed(rng.randrange(2**31))
    mottle = np.empty((max(1, h // 8), max(1, w // 8)), np.float32)
    cv2.randu(mottle, np.array([0.70]), np.array([0.95]))
    spread = cv2.resize(mottle, (w, h), interpolation=cv2.INTER_CUBIC)
    return Image.fromarray(np.clip(density * spread * 255.0, 0, 255).astype(np.uint8), "L")


def stamp(
    img: Image.Image,
    seal: Image.Image,
    centre: tuple[float, float],
    ink: tuple[int, int, int] = SEAL_RED,
) -> Image.Image:
    """Press ``seal`` (a coverage mask) on the page centred at ``centre``, as ink does.

    The ink multiplies the paper: black text under the seal stays black and the paper
    turns red, the way a real stamp over printed text looks in a scan. Returns an RGB page.
    """
    page = np.asarray(img.convert("RGB"), np.float32).copy()
    cover = np.asarray(seal, np.float32) / 255.0
    x0 = round(centre[0] - seal.width / 2)
    y0 = round(centre[1] - seal.height / 2)
    ph, pw = page.shape[:2]
    sx0, sy0 = max(0, -x0), max(0, -y0)
    x0c, y0c = max(0, x0), max(0, y0)
    x1c, y1c = min(pw, x0 + seal.width), min(ph, y0 + seal.height)
    if x1c <= x0c or y1c <= y0c:
        return Image.fromarray(page.astype(np.uint8), "RGB")
    c = cover[sy0 : sy0 + y1c - y0c, sx0 : sx0 + x1c - x0c, None]
    tint = np.asarray(ink, np.float32) / 255.0
    region = page[y0c:y1c, x0c:x1c]
    page[y0c:y1c, x0c:x1c] = region * (1.0 - c * (1.0 - tint))
    return Image.fromarray(np.clip(page, 0, 255).astype(np.uint8), "RGB")


def seal_spot(dpi: int, width: int, height: int, rng: random.Random) -> tuple[float, float]:
    """Where a clerk puts the seal by default: over the signature, low on the right."""
    d = _px(SEAL_MM, dpi)
    x = width - _px(25, dpi) - d / 2 - rng.randint(0, _px(10, dpi))
    y = height - _px(95, dpi) + d / 2 - rng.randint(0, _px(15, dpi))
    return x, y


def add_seal(img: Image.Image, text: str, dpi: int, rng: random.Random) -> Image.Image:
    """Stamp a red round official seal (公章) with its text on an arc, near the signature."""
    seal = seal_image(text, dpi, rng)
    return stamp(img, seal, seal_spot(dpi, img.width, img.height, rng))


def degrade(
    img: Image.Image,
    rng: random.Random,
    *,
    skew: float,
    blur: float,
    noise: float,
) -> Image.Image:
    """Make a clean render look like an office scan: skew, blur, speckle, grey paper."""
    arr = np.asarray(img)
    h, w = arr.shape[:2]
    fill = (255, 255, 255) if arr.ndim == 3 else 255
    m = cv2.getRotationMatrix2D((w / 2, h / 2), skew, 1.0)
    arr = cv2.warpAffine(arr, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=fill)
    if blur > 0:
        arr = cv2.GaussianBlur(arr, (0, 0), blur)
    gain = rng.uniform(0.93, 0.99)
    offset = rng.uniform(0, 6)
    work = arr.astype(np.int16)
    if noise > 0:
        cv2.setRNGSeed(rng.randrange(2**31))
        speckle = np.empty((h, w), np.int16)
        cv2.randn(speckle, np.array([0.0]), np.array([noise]))
        work += speckle[..., None] if work.ndim == 3 else speckle
    out = cv2.convertScaleAbs(work, alpha=gain, beta=offset)
    return Image.fromarray(out, mode=img.mode)


def make_near_blank(dpi: int, rng: random.Random) -> Image.Image:
    """A page that is almost empty: paper tone, a punch hole shadow, a few specks."""
    w, h = _px(A4_MM[0], dpi), _px(A4_MM[1], dpi)
    img = Image.new("L", (w, h), 246)
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rng.randrange(w), rng.randrange(h)
        draw.point((x, y), fill=rng.randint(120, 200))
    r = _px(3, dpi)
    cy = h // 2 + rng.randint(-r, r)
    draw.ellipse((_px(8, dpi) - r, cy - r, _px(8, dpi) + r, cy + r), fill=225)
    return img


def turn(img: Image.Image, degrees: int) -> Image.Image:
    """Turn the page counter-clockwise by 0/90/180/270 as a sideways scan would be."""
    ops = {
        90: Image.Transpose.ROTATE_90,
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_270,
    }
    return img.transpose(ops[degrees]) if degrees in ops else img
