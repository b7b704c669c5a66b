"""归档章 on the archival copy: in the blank top band, on a strip added when there is none,
upright on a turned page; the original never changes; the packet shows the stamped pages."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from _archival import build_small_archive, invoke, invoke_json, sidecar
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter

from archive.paperwork.stamp import MM, STAMP_H, StampFields, StampPainter, stamp_first_page
from indexers.searchable_pdf import build_pdf, page_from_image
from samples.bench_archive import mini_pdf

FIELDS = StampFields("J001", 2011, 12, "定期30年", "许可证", 3)
PNG_DIR = Path(tempfile.gettempdir()) / "dangan-test-stamp"  # look at them there


def _png(pdf: bytes, name: str, dpi: int = 60) -> Image.Image:
    """Render the first page with poppler (another reader than the one that placed it)."""
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    src = PNG_DIR / f"{name}.pdf"
    src.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(dpi),
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            src,
            PNG_DIR / name,
        ],
        check=True,
    )
    return Image.open(PNG_DIR / f"{name}.png").convert("RGB")


def _red(image: Image.Image) -> np.ndarray:
    a = np.asarray(image).astype(int)
    return (a[:, :, 0] > 150) & (a[:, :, 1] < 90) & (a[:, :, 2] < 90)


def _ink(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L")) < 100


@pytest.fixture(scope="module")
def painter() -> StampPainter:
    return StampPainter([FIELDS])


def test_stamp_goes_in_the_blank_top_band(painter: StampPainter) -> None:
    source = mini_pdf("烟草专卖零售许可证申请表", ["许可证号：610522100001"] * 20)
    before = _png(source, "blank-before")
    out, placement = stamp_first_page(source, painter.page(FIELDS))
    after = _png(out, "blank-after")
    assert placement.how == "blank"
    red = _red(after)
    ys, xs = np.nonzero(red)
    assert len(ys) > 100
    assert ys.max() < after.height * 0.3 and xs.min() > after.width / 2  # top right
    assert not (red & _ink(before)).any(), "the stamp covers text"
    assert (_ink(before) == (_ink(after) & ~red)).mean() > 0.999  # the page is otherwise as it was
    assert (
        PdfReader(io.BytesIO(out)).pages[0].mediabox
        == PdfReader(io.BytesIO(source)).pages[0].mediabox
    )


def _crowded_scan() -> bytes:
    """An A4 scan with writing right up to the top edge everywhere."""
    image = Image.new("L", (827, 1169), 255)
    draw = ImageDraw.Draw(image)
    for y in range(20, 1150, 28):
        for x in range(20, 800, 36):
            draw.rectangle((x, y, x + 24, y + 14), fill=0)
    buf = io.BytesIO()
    image.save(buf, "JPEG", dpi=(100, 100))
    data = buf.getvalue()
    return build_pdf([page_from_image(Image.open(io.BytesIO(data)), 100.0, [], original_jpeg=data)])


def test_no_blank_band_adds_a_strip_on_top(painter: StampPainter) -> None:
    source = _crowded_scan()
    out, placement = stamp_first_page(source, painter.page(FIELDS))
    assert placement.how == "added_band"
    assert "没有足够的空白" in placement.describe()
    old = PdfReader(io.BytesIO(source)).pages[0].mediabox
    new = PdfReader(io.BytesIO(out)).pages[0].mediabox
    assert float(new.height) == pytest.approx(float(old.height) + 20 * MM)
    image = _png(out, "crowded-after")
    red = _red(image)
    ys, _ = np.nonzero(red)
    band = image.height * (20 * MM) / float(new.height)
    assert ys.max() < band and ys.min() > 0, "the stamp sits on the added strip"
    # the scan below the strip is untouched: nothing red there
    assert not red[int(band) + 1 :].any()


def test_turned_page_is_stamped_upright_at_its_shown_top(painter: StampPainter) -> None:
    writer = PdfWriter()
    writer.add_page(
        PdfReader(io.BytesIO(mini_pdf("实地核查记录", ["核查时间：2011-03-09"] * 5))).pages[0]
    )
    writer.pages[0].rotate(90)
    buf = io.BytesIO()
    writer.write(buf)
    out, placement = stamp_first_page(buf.getvalue(), painter.page(FIELDS))
    assert placement.how == "blank"
    image = _png(out, "turned-after")  # poppler shows the page turned, as a reader would
    assert image.width > image.height  # shown landscape
    ys, xs = np.nonzero(_red(image))
    assert ys.max() < image.height * 0.3
    box_h = ys.max() - ys.min()
    box_w = xs.max() - xs.min()
    assert box_w > 2 * box_h, "the stamp reads upright (45 mm wide, 16 mm high) as shown"
    assert box_h == pytest.approx(STAMP_H / 72 * 60, rel=0.2)


def test_archive_copies_are_stamped_and_the_original_kept(tmp_path: Path) -> None:
    archive = build_small_archive(tmp_path / "档案库")
    rel = "records/会议记录/专销联动会议/2011/001_会议记录.pdf"
    original = hashlib.sha256((archive.root / rel).read_bytes()).hexdigest()
    report = invoke_json(archive, "stamp")
    assert len(report["stamped"]) == 6 and report["failed"] == []
    side = sidecar(archive, rel)
    copy = archive.root / report["stamped"][0]["copy"]
    assert side["derivatives"]["archival_pdf"].endswith(".stamped.pdf")
    assert (
        side["stamp"]["code"] == side["archival"]["code"]
        and side["events"][-1]["event"] == "stamped"
    )
    assert hashlib.sha256((archive.root / rel).read_bytes()).hexdigest() == original
    assert copy.is_file()
    assert invoke(archive, "verify").exception is None  # copies are derivatives, not strays
    assert invoke_json(archive, "stamp")["current"] == 6  # nothing to do twice
    # a correction that changes the 档号 makes the copy stale; stamp refreshes it
    invoke_json(archive, "edit", rel, "--type", "签到表", "--reason", "实为签到表")
    again = invoke_json(archive, "stamp")
    assert [s["record"] for s in again["stamped"]] == [rel.replace("会议记录.pdf", "签到表.pdf")]
    image = _png((archive.root / again["stamped"][0]["copy"]).read_bytes(), "archive-copy", 100)
    assert _red(image).sum() > 200


def test_the_packet_shows_the_stamped_copies(tmp_path: Path) -> None:
    archive = build_small_archive(tmp_path / "档案库")
    out = tmp_path / "验收包"
    done = invoke_json(
        archive, "bundle", "--year", "2011", "--out", str(out), "--pin-date", "2011-12-20"
    )
    assert done["stamped"] >= 1 and done["not_stamped"] == []
    packet = out / "data" / "验收材料.pdf"
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "30", "-png", packet, PNG_DIR / "packet"], check=True)
    stamped_pages = [
        p
        for p in sorted(PNG_DIR.glob("packet-*.png"))
        if _red(Image.open(p).convert("RGB")).sum() > 50
    ]
    assert len(stamped_pages) == done["stamped"]  # each stamped document's first page
    assert "J001-WS·2011" in "".join(page.extract_text() for page in PdfReader(packet).pages[:4])
