"""`dangan bundle` end to end: a year filed by the real intake, scored, packed into a bag.

Real components throughout: `dangan ingest` files the generated year, the score engine
judges it, python-docx/openpyxl/weasyprint write the companion documents, the Library
of Congress validator (bagit.py) judges the bag, poppler renders the merged PDF and
LibreOffice opens the self-assessment table.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_dangan
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader
from test_score import AS_OF, YEAR, ingest_year

from archive.assess.audit_inputs import load_inputs
from archive.core.config import Archive
from samples.bench_archive import YearInbox, current_households

BAGIT_PY = Path(sys.executable).parent / "bagit.py"
PIN = "2012-01-05"
_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed")
    return exe


def _state(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        p.relative_to(folder).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _photo_scan(path: Path, licence_no: str) -> None:
    """A photographed business licence (JPEG, no text layer): becomes image pages."""
    im = Image.new("L", (1240, 1754), 250)
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(_FONT, 48, index=2)
    draw.text((150, 200), "营业执照", fill=0, font=font)
    draw.text((150, 320), f"统一社会信用代码 {licence_no}", fill=30, font=font)
    draw.rectangle((100, 150, 1140, 1600), outline=0, width=6)
    im.save(path, "JPEG", dpi=(150, 150), quality=80)


@dataclass
class Built:
    archive: Path
    bag: Path
    out: dict[str, Any]
    before: dict[str, tuple[str, int]]
    photo: str  # the household whose 营业执照 is a JPEG (its shop name)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("bundle_cli")
    households = current_households(2, YEAR, seed=21)
    photo = households[0]

    def plant(inbox: Path, made: YearInbox) -> None:
        folder = inbox / "许可证" / f"{photo.licence_no}_{photo.name}"
        (folder / "营业执照.pdf").unlink()
        _photo_scan(folder / "营业执照.jpg", photo.licence_no)

    archive, _ = ingest_year(root / "档案库", households, 1, plant)
    before = _state(archive / "records")
    bag = root / "out" / "2011验收材料"
    result = run_dangan(
        "bundle", "--as-of", AS_OF, "--out", bag, "--pin-date", PIN, "--json", "--archive", archive
    )
    assert result.returncode == 0, result.stderr
    return Built(archive, bag, json.loads(result.stdout), before, photo.name)


def _payload_dirs(bag: Path) -> list[Path]:
    return sorted(p for p in (bag / "data").iterdir() if p.is_dir())


# --------------------------------------------------------------------------- the bag


def test_library_of_congress_validator_accepts_the_bag(built: Built) -> None:
    done = subprocess.run(
        [sys.executable, str(BAGIT_PY), "--validate", str(built.bag)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "is valid" in done.stderr


def test_verify_passes_then_fails_with_exit_6_after_one_byte_changes(
    built: Built, tmp_path: Path
) -> None:
    ok = run_dangan("verify", built.bag)
    assert ok.returncode == 0, ok.stderr
    assert "校验通过" in ok.stdout
    copy = tmp_path / "copy"
    shutil.copytree(built.bag, copy)
    victim = next(p for p in sorted((copy / "data").rglob("*.pdf")) if p.parent != copy / "data")
    data = bytearray(victim.read_bytes())
    data[200] ^= 0x01
    victim.write_bytes(bytes(data))
    bad = run_dangan("verify", copy)
    assert bad.returncode == 6
    rel = victim.relative_to(copy).as_posix()
    assert f"内容被改动: {rel}" in bad.stdout
    assert "验收包校验未通过" in bad.stderr


def test_data_folders_follow_the_standard_and_name_records_readably(built: Built) -> None:
    standard = load_inputs(Archive(built.archive)).standard
    areas = _payload_dirs(built.bag)
    assert [p.name for p in areas] == [f"{i:02d} {a.name}" for i, a in enumerate(standard.areas, 1)]
    for area_dir, area in zip(areas, standard.areas, strict=True):
        codes = [p.name.split(" ", 1)[0] for p in area_dir.iterdir()]
        natural = sorted(codes, key=lambda c: [int(n) for n in c.split(".")])
        assert natural == [c.code for c in area.criteria if c.code in codes]  # standard order
    names = {p.name for p in (built.bag / "data").rglob("*") if p.is_file()}
    assert {"验收材料.pdf", "自评表.docx", "缺项清单.xlsx", "缺项清单.pdf"} <= names
    # the photographed licence is copied as it is, named by shop and type
    assert any(n.endswith(f"{built.photo}_营业执照.jpg") for n in names)
    data = built.bag / "data"
    copies = [p for p in data.rglob("*") if p.is_file() and len(p.relative_to(data).parts) == 3]
    assert len(copies) == built.out["documents"]  # area / criterion / record


def _outline(reader: PdfReader, items: list[Any]) -> list[tuple[str, int, list[Any]]]:
    out: list[tuple[str, int, list[Any]]] = []
    i = 0
    while i < len(items):
        item = items[i]
        children: list[Any] = []
        if i + 1 < len(items) and isinstance(items[i + 1], list):
            children = _outline(reader, items[i + 1])
            i += 1
        page = reader.get_destination_page_number(item)
        assert page is not None, item.title
        out.append((item.title, page, children))
        i += 1
    return out


def test_outline_mirrors_the_standard_down_to_each_document(built: Built) -> None:
    standard = load_inputs(Archive(built.archive)).standard
    reader = PdfReader(built.bag / "data" / "验收材料.pdf")
    assert len(reader.pages) == built.out["pages"]
    tree = _outline(reader, reader.outline)
    assert [t[0] for t in tree[:3]] == ["封面", "目录", "自评表"]
    assert [t[0] for t in tree[3:]] == [a.name for a in standard.areas]
    for (_title, _page, crits), area_dir, area in zip(
        tree[3:], _payload_dirs(built.bag), standard.areas, strict=True
    ):
        assert [c[0].split(" ", 1)[0] for c in crits] == [c.code for c in area.criteria]
        folders = {p.name.split(" ", 1)[0]: p for p in area_dir.iterdir()}
        for title, page, docs in crits:
            code = title.split(" ", 1)[0]
            files = sorted(folders[code].iterdir()) if code in folders else []
            assert len(docs) == len(files), title
            if not files:
                assert title.endswith("（无材料）"), title
            pages = [d[1] for d in docs]
            assert pages == sorted(pages) and (not docs or page == pages[0])
    household = next(c for t in tree[3:] for c in t[2] if any(built.photo in d[0] for d in c[2]))
    photo_doc = next(d for d in household[2] if d[0].startswith(f"{built.photo} 营业执照"))
    page = reader.pages[photo_doc[1]]
    assert "/XObject" in page["/Resources"]  # the JPEG became an image page
    assert "营业执照" in page.extract_text()  # its stamp names the document


def test_first_page_renders_as_the_cover(built: Built, tmp_path: Path) -> None:
    pdftoppm = _tool("pdftoppm")
    subprocess.run(
        [pdftoppm, "-r", "40", "-f", "1", "-l", "1", "-png", built.bag / "data" / "验收材料.pdf",
         tmp_path / "p"],
        check=True,
    )  # fmt: skip
    (png,) = tmp_path.glob("p*.png")
    page = np.asarray(Image.open(png).convert("L"))
    h, w = page.shape
    assert abs(h / w - 297 / 210) < 0.02  # A4 portrait
    ink = page < 128
    assert ink[h // 5 : h // 2].sum() > 500  # bureau and title in the upper half
    cover = PdfReader(built.bag / "data" / "验收材料.pdf").pages[0].extract_text()
    assert "潼关县烟草专卖局" in cover and f"{YEAR}年度考核验收材料" in cover


def test_self_assessment_docx_opens_in_libreoffice_with_the_score(
    built: Built, tmp_path: Path
) -> None:
    soffice = _tool("soffice")
    pdftotext = _tool("pdftotext")
    subprocess.run(
        [soffice, f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}", "--headless",
         "--convert-to", "pdf", "--outdir", tmp_path, built.bag / "data" / "自评表.docx"],
        capture_output=True, check=True, timeout=300,
    )  # fmt: skip
    pdf = tmp_path / "自评表.pdf"
    assert pdf.is_file()
    text = subprocess.run([pdftotext, pdf, "-"], capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())
    score = run_dangan("score", "--json", "--as-of", AS_OF, "--archive", built.archive)
    total = json.loads(score.stdout)
    assert f"自评得分{total['total_earned']:g}分" in flat
    assert f"满分{total['total_possible']:g}分" in flat
    for c in total["criteria"]:
        assert c["code"] in flat
    assert built.out["total_earned"] == total["total_earned"]


def test_gaps_list_names_what_is_missing(built: Built) -> None:
    score = run_dangan("score", "--json", "--as-of", AS_OF, "--archive", built.archive)
    short = [c for c in json.loads(score.stdout)["criteria"] if c["status"] != "met"]
    assert short  # the sample standard has criteria only a person can judge
    text = "".join(
        "".join(p.extract_text().split())
        for p in PdfReader(built.bag / "data" / "缺项清单.pdf").pages
    )
    for c in short:
        assert c["code"] in text
        assert "".join(c["missing"][0].split())[:12] in text


def test_pin_date_gives_identical_manifests(built: Built, tmp_path: Path) -> None:
    again = tmp_path / "again"
    result = run_dangan(
        "bundle", "--as-of", AS_OF, "--out", again, "--pin-date", PIN, "--archive", built.archive
    )
    assert result.returncode == 0, result.stderr
    assert f"已生成验收包: {again}" in result.stdout
    for name in ("manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha256.txt"):
        assert (again / name).read_bytes() == (built.bag / name).read_bytes(), name


def test_building_never_touches_the_records(built: Built) -> None:
    assert _state(built.archive / "records") == built.before


def test_existing_target_is_refused_then_zip_is_verified(built: Built, tmp_path: Path) -> None:
    refused = run_dangan(
        "bundle",
        "--as-of",
        AS_OF,
        "--out",
        built.bag,
        "--pin-date",
        PIN,
        "--archive",
        built.archive,
    )
    assert refused.returncode == 2
    assert "目标已存在" in refused.stderr and "--force" in refused.stderr
    zipped = run_dangan(
        "bundle", "--as-of", AS_OF, "--out", tmp_path / "z", "--zip", "--json",
        "--pin-date", PIN, "--archive", built.archive,
    )  # fmt: skip
    assert zipped.returncode == 0, zipped.stderr
    bag = Path(json.loads(zipped.stdout)["bag"])
    assert bag == tmp_path / "z.zip" and bag.is_file()
    checked = run_dangan("verify", bag)
    assert checked.returncode == 0, checked.stdout + checked.stderr
