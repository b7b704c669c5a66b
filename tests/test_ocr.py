"""OCR on generated scans with the real engine: types, keys, rotation, per-page failures."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from archive.core.keys import find_case_numbers, find_licence_numbers, normalize_case_number
from indexers.extract import Extraction, extract_document
from indexers.ocr import OcrPool, to_array, turn
from indexers.seals import read_sealed_page
from indexers.searchable_pdf import build_pdf, page_from_image
from samples._content import cn_date
from samples.scans import ScanTruth, generate_scans

# positions in the default sample set (samples.scans.PLAN_NAMES)
_PICK = [0, 2, 4, 5, 6, 7, 9, 16]


@pytest.fixture(scope="module")
def pool() -> Iterator[OcrPool]:
    with OcrPool(workers=1) as p:
        yield p


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ScanTruth]]:
    out = tmp_path_factory.mktemp("scans")
    return out, generate_scans(out, seed=11, pick=_PICK)


@pytest.fixture(scope="module")
def extracted(
    scans: tuple[Path, list[ScanTruth]], pool: OcrPool
) -> dict[str, tuple[ScanTruth, Extraction]]:
    out, truths = scans
    return {t.path: (t, extract_document(out / t.path, t.mime, ocr=pool)) for t in truths}


_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}  # ：，（） → :,()
_PREFIXES = ("潼烟罚",)  # the bureau's case prefix, as dangan.toml gives it


def _flat(text: str) -> str:
    """Spaces out, full-width ASCII folded; line breaks kept (keys must not run across them)."""
    return "\n".join("".join(line.split()) for line in text.translate(_FULLWIDTH).splitlines())


@pytest.mark.slow
def test_every_sample_type_gives_its_type_and_keys(
    extracted: dict[str, tuple[ScanTruth, Extraction]],
) -> None:
    for path, (truth, ex) in extracted.items():
        text = _flat(ex.text)
        assert truth.doc_type in text, (path, text[:200])
        if truth.doc_type in ("零售许可证", "申请表", "实地核查记录"):
            assert truth.keys["licence"] in find_licence_numbers(text), path
        if "case" in truth.keys:
            assert normalize_case_number(truth.keys["case"]) in find_case_numbers(
                text, _PREFIXES
            ), path
        if "meeting_date" in truth.keys:
            y, m, d = (int(x) for x in truth.keys["meeting_date"].split("-"))
            assert f"{y}年{m}月{d}日" in text or cn_date(y, m, d) in text, (path, text[:200])
        assert ex.legible, path


@pytest.mark.slow
def test_sideways_and_upside_down_scans_are_read_upright(
    extracted: dict[str, tuple[ScanTruth, Extraction]],
) -> None:
    rotations = set()
    for path, (truth, ex) in extracted.items():
        for page, page_truth in zip(ex.pages, truth.pages, strict=True):
            if page.source == "ocr":
                assert page.rotation == page_truth.rotation, path
                rotations.add(page.rotation)
                # lines come back whole and in order, not scrambled
                first = _flat(page_truth.lines[0])
                assert first in "".join(_flat(page.text).splitlines()[:2]), path
    assert rotations == {0, 90, 180, 270}


@pytest.mark.slow
def test_every_quarter_turn_reads_upright_and_in_order(
    scans: tuple[Path, list[ScanTruth]], pool: OcrPool
) -> None:
    out, truths = scans
    licence = next(t for t in truths if t.doc_type == "零售许可证" and t.rotation == 0)
    arr = to_array(Image.open(out / licence.path))
    engine = pool.engine()
    # the licence bears a red seal: read as intake reads it, the seal lifted off first
    upright = read_sealed_page(engine, arr, True)
    for degrees in (0, 90, 180, 270):
        # turning the page anticlockwise by d means it must be turned clockwise by d to read
        sideways = turn(arr, (360 - degrees) % 360)
        result = read_sealed_page(engine, sideways, True)
        assert result.rotation == degrees
        assert (result.width, result.height) == (upright.width, upright.height)
        assert _flat(result.text) == _flat(upright.text)
        # boxes land where the same lines sit on the upright page, within a few pixels
        first = min(result.lines, key=lambda ln: (ln.box[0][1], ln.box[0][0]))
        same = next(ln for ln in upright.lines if ln.text == first.text)
        assert abs(first.box[0][0] - same.box[0][0]) < 15
        assert abs(first.box[0][1] - same.box[0][1]) < 15


@pytest.mark.slow
def test_a_single_long_line_is_not_turned_over(pool: OcrPool) -> None:
    """A strip with one long line (a label, a receipt cut): the line classifier alone is
    unsure of it; the page must still come back the right way up, upright or turned over."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 28)
    line = "潼关县烟草专卖局零售许可证610522100123号"
    strip = Image.new("L", (1800, 44), 255)
    ImageDraw.Draw(strip).text((8, 4), line * 2, font=font, fill=0)
    engine = pool.engine()
    for degrees in (0, 180):
        result = engine.read(strip.rotate(degrees, expand=True))
        assert result.rotation == degrees
        assert _flat(result.text).startswith(line)


@pytest.mark.slow
def test_tiny_blank_and_extreme_pages_read_without_error(pool: OcrPool) -> None:
    """A 1-pixel image, a blank page, a hair-thin strip: nothing to read, no crash."""
    engine = pool.engine()
    for size in ((1, 1), (20, 20), (2480, 3508), (3000, 12), (12, 3000)):
        result = engine.read(Image.new("L", size, 255))
        assert result.lines == [] and result.rotation == 0
        assert (result.width, result.height) == size


@pytest.mark.slow
def test_multipage_tiff_and_mixed_pdf_report_each_page(
    extracted: dict[str, tuple[ScanTruth, Extraction]],
) -> None:
    tiff = next(v for v in extracted.values() if v[0].format == "tiff")
    assert [p.source for p in tiff[1].pages] == ["ocr", "ocr"]
    assert [p.number for p in tiff[1].pages] == [1, 2]
    mixed = next(v for v in extracted.values() if v[0].format == "pdf-mixed")
    truth, ex = mixed
    assert [p.source for p in ex.pages] == ["text", "ocr"]
    assert ex.pages[0].quality is None and ex.pages[1].quality is not None
    assert truth.pages[0].lines[0] in ex.pages[0].text
    assert "送达回证" in ex.pages[1].text
    assert "\f" in ex.text


def test_text_layer_pdf_needs_no_ocr(tmp_path: Path) -> None:
    (truth,) = generate_scans(tmp_path, seed=1, pick=[8])
    ex = extract_document(tmp_path / truth.path, truth.mime, ocr=None)
    assert [p.source for p in ex.pages] == ["text"]
    assert truth.keys["meeting_type"] in ex.text
    assert ex.searchable_pdf is None and ex.legible


def test_without_ocr_scanned_pages_say_so(tmp_path: Path) -> None:
    (truth,) = generate_scans(tmp_path, seed=1, pick=[0])
    ex = extract_document(tmp_path / truth.path, truth.mime, ocr=None)
    (page,) = ex.pages
    assert page.source == "none" and page.error == "未启用OCR"
    assert page.quality is not None and page.quality.dpi == truth.pages[0].dpi
    assert page.quality.confidence is None
    assert ex.legible  # resolution, sharpness and ink still judged without OCR


def _three_page_pdf_with_a_broken_middle(src: Path) -> bytes:
    img = Image.open(src).convert("L")
    img = img.resize((img.width // 2, img.height // 2))
    pages = []
    for _ in range(3):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        pages.append(page_from_image(img, 100, [], original_jpeg=buf.getvalue()))
    pages[1].jpeg = b"\xff\xd8\xff\xe0 this is not a JPEG any more"
    return build_pdf(pages)


@pytest.mark.slow
def test_a_corrupt_page_fails_alone(
    scans: tuple[Path, list[ScanTruth]], pool: OcrPool, tmp_path: Path
) -> None:
    out, truths = scans
    licence = next(t for t in truths if t.doc_type == "零售许可证")
    pdf = tmp_path / "三页.pdf"
    pdf.write_bytes(_three_page_pdf_with_a_broken_middle(out / licence.path))
    ex = extract_document(pdf, "application/pdf", ocr=pool)
    assert [p.source for p in ex.pages] == ["ocr", "none", "ocr"]
    assert ex.pages[1].error and "第2页" in ex.pages[1].error
    assert ex.pages[0].error is None and ex.pages[2].error is None
    assert licence.keys["licence"] in _flat(ex.pages[2].text)
    assert not ex.legible


def test_a_corrupt_tiff_frame_fails_alone(tmp_path: Path) -> None:
    frames = [Image.effect_noise((400, 560), 60) for _ in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw")
    data = bytearray(buf.getvalue())
    probe = Image.open(io.BytesIO(bytes(data)))
    probe.seek(1)
    offset = probe.tag_v2[273][0]  # type: ignore[attr-defined]  # StripOffsets of the second frame
    data[offset : offset + 64] = b"\xff" * 64  # destroy its LZW data
    path = tmp_path / "扫描.tif"
    path.write_bytes(bytes(data))
    ex = extract_document(path, "image/tiff", ocr=None)
    assert len(ex.pages) == 3
    assert ex.pages[1].source == "none" and ex.pages[1].error and "第2页" in ex.pages[1].error
    assert ex.pages[0].error == "未启用OCR" and ex.pages[2].error == "未启用OCR"


@pytest.mark.slow
def test_process_pool_reads_in_workers_and_reports_progress(
    scans: tuple[Path, list[ScanTruth]],
) -> None:
    out, truths = scans
    licence = next(t for t in truths if t.doc_type == "零售许可证")
    img = Image.open(out / licence.path)
    small = img.resize((img.width // 2, img.height // 2))
    seen: list[tuple[int, int]] = []
    with OcrPool(workers=2) as pool:
        results = pool.read_many(
            [small, turn(to_array(small), 180)], progress=lambda d, t: seen.append((d, t))
        )
        again = pool.read(small)  # the pool stays usable between batches
    assert seen[-1] == (2, 2) and len(seen) == 2
    for res in results:
        assert not isinstance(res, BaseException)
        assert licence.keys["licence"] in _flat(res.text)
    assert [r.rotation for r in results if not isinstance(r, BaseException)] == [0, 180]
    assert licence.keys["licence"] in _flat(again.text)
