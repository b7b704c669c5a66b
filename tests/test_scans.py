"""The sample scan generator: realistic files, complete and honest ground truth."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from samples.scans import FORMAT_EXT, PLAN_NAMES, generate_scans, load_manifest


@pytest.fixture(scope="module")
def flat(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    out = tmp_path_factory.mktemp("flat")
    return out, generate_scans(out, seed=7)


def test_default_set_covers_every_type_format_and_condition(flat: tuple[Path, list]) -> None:
    out, truths = flat
    assert len(truths) == len(PLAN_NAMES)
    types = {t.doc_type for t in truths}
    for wanted in (
        "零售许可证",
        "申请表",
        "实地核查记录",
        "行政处罚决定书",
        "送达回证",
        "询问笔录",
    ):
        assert wanted in types
    assert {"专销联动会议", "党员大会", "支部委员会"} <= types
    assert set(FORMAT_EXT) == {t.format for t in truths}
    assert {0, 90, 180, 270} <= {p.rotation for t in truths for p in t.pages}
    conditions = {p.condition for t in truths for p in t.pages}
    assert {"clear", "heavy_blur", "low_res", "blank", "text"} <= conditions
    assert any(t.mismatch and t.filename_type != t.doc_type for t in truths)
    for t in truths:
        assert (out / t.path).is_file()
        assert t.pages, t.path
        if t.doc_type != "空白页":
            assert all(p.lines for p in t.pages), t.path


def test_keys_are_printed_on_the_page(flat: tuple[Path, list]) -> None:
    _out, truths = flat
    for t in truths:
        text = "".join(t.lines)
        if "licence" in t.keys:
            assert re.fullmatch(r"610522\d{6}", t.keys["licence"])
            if t.doc_type != "送达回证":
                assert t.keys["licence"] in text
        if "case" in t.keys:
            assert re.fullmatch(r"潼烟罚〔20\d\d〕第\d+号", t.keys["case"])
            assert t.keys["case"] in text
        if "meeting_date" in t.keys:
            y, m, d = (int(x) for x in t.keys["meeting_date"].split("-"))
            from samples._content import cn_date

            assert f"{y}年{m}月{d}日" in text or cn_date(y, m, d) in text


def test_resolution_and_formats_are_what_the_truth_says(flat: tuple[Path, list]) -> None:
    out, truths = flat
    for t in truths:
        if t.format in ("jpeg", "png"):
            img = Image.open(out / t.path)
            page = t.pages[0]
            assert page.dpi is not None
            assert round(img.info["dpi"][0]) == page.dpi
            if page.condition == "low_res":
                assert page.dpi < 100 and not page.readable
            else:
                assert 200 <= page.dpi <= 300
            long_in = max(img.size) / page.dpi
            assert 11.5 < long_in < 11.9  # A4
        if t.format == "tiff":
            img = Image.open(out / t.path)
            assert getattr(img, "n_frames", 1) == len(t.pages) >= 2
        if t.format == "pdf-text":
            reader = PdfReader(out / t.path)
            assert t.pages[0].lines[0] in reader.pages[0].extract_text()
        if t.format == "pdf-mixed":
            reader = PdfReader(out / t.path)
            assert len(reader.pages) == 2
            assert t.pages[0].lines[0] in reader.pages[0].extract_text()
            assert reader.pages[1].extract_text().strip() == ""
            assert [p.scanned for p in t.pages] == [False, True]


def test_manifest_round_trips(flat: tuple[Path, list]) -> None:
    out, truths = flat
    again = load_manifest(out)
    assert [(t.path, t.keys, t.lines, t.rotation, t.readable) for t in again] == [
        (t.path, t.keys, t.lines, t.rotation, t.readable) for t in truths
    ]


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = generate_scans(tmp_path / "a", seed=3, pick=[0, 5])
    b = generate_scans(tmp_path / "b", seed=3, pick=[0, 5])
    for ta, tb in zip(a, b, strict=True):
        assert (tmp_path / "a" / ta.path).read_bytes() == (tmp_path / "b" / tb.path).read_bytes()
    c = generate_scans(tmp_path / "c", seed=4, pick=[0])
    assert (tmp_path / "c" / c[0].path).read_bytes() != (tmp_path / "a" / a[0].path).read_bytes()


def test_inbox_layout_files_by_kind_and_key(tmp_path: Path) -> None:
    truths = generate_scans(tmp_path, seed=1, layout="inbox")
    paths = [t.path for t in truths]
    assert all(p.startswith("inbox/") for p in paths)
    lic = [t for t in truths if t.path.startswith("inbox/许可证/")]
    assert lic and all(t.path.split("/")[2] == t.keys["licence"] for t in lic)
    cases = [t for t in truths if t.path.startswith("inbox/案卷/")]
    assert cases and all(t.path.split("/")[2] == t.keys["case"] for t in cases)
    meetings = [t for t in truths if t.path.startswith("inbox/会议记录/")]
    assert meetings
    for t in meetings:
        kind, name = t.path.split("/")[2:4]
        assert kind == t.filename_type
        assert name.startswith(t.keys["meeting_date"] + " ")
    other = [t for t in truths if t.path.startswith("inbox/其他/")]
    assert any(re.fullmatch(r"inbox/其他/扫描\d{4}\.\w+", t.path) and t.keys for t in other)
    mismatched = [t for t in truths if t.mismatch]
    assert mismatched
    for t in mismatched:
        assert t.filename_type in t.path and t.doc_type != t.filename_type
    assert len(set(paths)) == len(paths)


def test_count_cycles_with_fresh_content(tmp_path: Path) -> None:
    truths = generate_scans(tmp_path, seed=2, count=len(PLAN_NAMES) + 2)
    assert len(truths) == len(PLAN_NAMES) + 2
    assert truths[0].doc_type == truths[len(PLAN_NAMES)].doc_type
    assert truths[0].lines != truths[len(PLAN_NAMES)].lines


def test_penalty_decision_scan_carries_a_red_seal(flat: tuple[Path, list]) -> None:
    out, truths = flat
    t = next(t for t in truths if t.doc_type == "行政处罚决定书" and t.format == "pdf-image")
    reader = PdfReader(out / t.path)
    img = reader.pages[0].images[0].image
    assert img is not None
    rgb = np.asarray(img.convert("RGB").reduce(8)).astype(int)
    red = int(((rgb[..., 0] > 150) & (rgb[..., 1] < 110) & (rgb[..., 2] < 110)).sum())
    assert red > 50
    assert io.BytesIO(reader.pages[0].images[0].data).getbuffer().nbytes > 0
