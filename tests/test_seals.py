"""Seals on generated pages: found in colour and grey, lifted off the text, ring text read."""

from __future__ import annotations

import random

import numpy as np
import pytest

from archive.intake.seal_facts import body_of
from indexers.ocr import OcrEngine, to_array
from indexers.seals import GREY, RED, read_sealed_page, red_ink, separate, unroll
from samples._draw import Block, degrade, render_page, seal_image, stamp, turn

BUREAU = "潼关县烟草专卖局"
LINE = "许可证号:610522100210"


def _page(*, colour: bool, seals: int = 1, rotation: int = 0, seed: int = 3) -> np.ndarray:
    rng = random.Random(seed)
    blocks = [
        Block("烟草专卖零售许可证", "title"),
        Block(LINE),
        Block("企业名称:潼关县城关何红辉商行"),
    ]
    blocks += [Block("经营范围:卷烟零售、雪茄烟零售")] * 3 + [
        Block("发证日期:2010年7月3日", "right")
    ]
    img, placed = render_page(blocks, 200, color=True)
    line = placed[1]
    for n in range(seals):
        mask = seal_image(BUREAU if n == 0 else BUREAU + "稽查大队", 200, rng)
        if n == 0:  # its ring text across the licence number
            centre = (line.x + line.width * 0.7, line.y + line.size * 0.6 + 0.33 * mask.height)
        else:  # the second low on the right, over the date
            centre = (img.width * 0.72, line.y + 14 * line.size)
        img = stamp(img, mask, centre)
    if not colour:
        img = img.convert("L")
    img = degrade(img, rng, skew=0.4, blur=0.4, noise=5)
    return to_array(turn(img, rotation))


@pytest.mark.parametrize("colour", [True, False])
def test_a_seal_is_found_in_colour_and_in_grey(colour: bool) -> None:
    page = _page(colour=colour)
    before = page.copy()
    lifted, found = separate(page)
    assert len(found) == 1
    seal = found[0]
    assert seal.colour == (RED if colour else GREY)
    width = page.shape[1]
    assert abs(2 * seal.radius - 42 / 210 * width) < 0.02 * width  # a 42 mm seal on A4
    assert np.array_equal(page, before)  # the caller's page is never changed
    assert lifted is not page


def test_no_seal_no_change() -> None:
    page = _page(colour=True, seals=0)
    lifted, found = separate(page)
    assert found == [] and lifted is page
    grey = _page(colour=False, seals=0)
    lifted, found = separate(grey)
    assert found == [] and lifted is grey


def test_two_seals_on_one_page() -> None:
    _lifted, found = separate(_page(colour=True, seals=2))
    assert len(found) == 2


def test_lifting_leaves_black_text_and_takes_the_red() -> None:
    page = _page(colour=True)
    lifted, found = separate(page)
    seal = found[0]
    x0, y0, x1, y1 = seal.box
    before, after = page[y0:y1, x0:x1], lifted[y0:y1, x0:x1]
    assert red_ink(before).mean() > 0.05
    assert red_ink(after).mean() < 0.002
    black_before = (before.max(axis=2) < 80).sum()
    black_after = (after.max(axis=2) < 80).sum()
    assert black_after >= 0.9 * black_before  # the text under the seal is still there


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine()


@pytest.mark.parametrize(("colour", "rotation"), [(True, 0), (True, 90), (False, 180)])
def test_ring_text_and_key_are_read(engine: OcrEngine, colour: bool, rotation: int) -> None:
    page = _page(colour=colour, rotation=rotation)
    result = read_sealed_page(engine, page, True)
    assert result.rotation == rotation
    assert "610522100210" in result.text.replace(" ", "")
    assert len(result.seals) == 1
    seal = result.seals[0]
    if colour:
        assert body_of(seal.text, [BUREAU]) == BUREAU, seal
    else:  # in grey the text under the ring is grey-edged too: read, or said unread
        assert seal.text is None or body_of(seal.text, [BUREAU]) in (BUREAU, None), seal
    # on the upright page: left-middle of the licence line, high on the page
    assert 0.3 < seal.x < 0.9 and 0.05 < seal.y < 0.35, seal
    assert 0.17 < seal.diameter < 0.23


def test_unrolled_ring_reads_from_the_foot_whatever_the_turn(engine: OcrEngine) -> None:
    page = _page(colour=True)
    texts = []
    for quarter in range(4):
        turned = np.ascontiguousarray(np.rot90(page, quarter))
        _lifted, found = separate(turned)
        ((text, _score),) = engine.recognise([unroll(found[0])])
        texts.append(body_of(text, [BUREAU]))
    assert texts == [BUREAU] * 4


def test_body_of_a_ring_text() -> None:
    assert body_of("潼关县烟系专卖局", [BUREAU]) == BUREAU  # one character misread
    assert body_of("T0艺临清关县烟草专卖局", [BUREAU]) == BUREAU  # a scrap of text before it
    assert body_of("灌关县烟草专卖局稽查大队", [BUREAU]) == BUREAU + "稽查大队"
    assert body_of("灌关县烟草专卖局地，", [BUREAU]) == BUREAU  # one stray character after
    assert body_of("关草专鑫", [BUREAU]) is None
    assert body_of(None, [BUREAU]) is None
