"""The acceptance-evidence packet: BagIt bag, merged PDF, verification.

Real components throughout: weasyprint renders the records' text PDFs, Pillow writes the
scans and photos, the Library of Congress validator (bagit.py) judges the bags and
poppler/qpdf judge the PDF.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bagit
import openpyxl
import pytest
import weasyprint
from docx import Document
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter

from archive.core.errors import NotFoundError, ValidationError
from archive.packet.bag_verify import verify_bag
from archive.packet.bundle import PACKET_NAME, TargetExistsError, build_bundle
from archive.packet.model import AreaPlan, BundlePlan, CriterionPlan, EvidenceDoc

BAGIT_PY = Path(sys.executable).parent / "bagit.py"
PIN = datetime.date(2026, 11, 21)
BUREAU = "潼南县烟草专卖局"


# --------------------------------------------------------------------------- fixtures


def _text_pdf(path: Path, marker: str, pages: int = 1) -> Path:
    body = "".join(
        f'<p style="page-break-after: always">{marker} 第{i + 1}张 经营场所现场勘验记录</p>'
        for i in range(pages)
    )
    html = f"<html><body style=\"font-family: 'Noto Serif CJK SC'\">{body}</body></html>"
    weasyprint.HTML(string=html).write_pdf(path)
    return path


def _scan(path: Path, fmt: str, mode: str = "L", frames: int = 1) -> Path:
    images = []
    for i in range(frames):
        im = Image.new(mode, (620, 877), "white")
        draw = ImageDraw.Draw(im)
        draw.rectangle((40, 60 + i * 20, 560, 140), outline="black", width=3)
        images.append(im)
    kwargs: dict[str, object] = {"dpi": (75, 75)}
    if frames > 1:
        kwargs.update(save_all=True, append_images=images[1:])
    images[0].save(path, fmt, **kwargs)
    return path


def _rotated_pdf(path: Path, marker: str) -> Path:
    src = _text_pdf(path.with_suffix(".src.pdf"), marker)
    writer = PdfWriter(clone_from=src)
    writer.pages[0].rotate(90)
    writer.write(path)
    src.unlink()
    return path


def _extras(folder: Path) -> list[tuple[Path, str]]:
    doc = Document()
    doc.add_paragraph("自评表 合计 自评得分 17")
    doc.save(str(folder / "自评表.docx"))
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["条目", "缺项说明"])
    ws.append(["3.2", "合理布局听证会会议记录缺失"])
    wb.save(folder / "缺项清单.xlsx")
    _text_pdf(folder / "缺项清单.pdf", "缺项清单 3.2 合理布局听证会会议记录缺失")
    return [
        (folder / "自评表.docx", "自评表.docx"),
        (folder / "缺项清单.xlsx", "缺项清单.xlsx"),
        (folder / "缺项清单.pdf", "缺项清单.pdf"),
    ]


@dataclass
class Archive:
    root: Path
    records: Path
    plan: BundlePlan
    markers: dict[str, str]  # label -> text that appears on that document's first page


def _make_archive(root: Path) -> Archive:
    rec = root / "records"
    (rec / "许可证" / "500223100012 张三便利店").mkdir(parents=True)
    (rec / "会议记录").mkdir()
    (rec / "案卷").mkdir()
    lic = rec / "许可证" / "500223100012 张三便利店"
    markers = {
        "申请表": "甲申请表标记",
        "许可证正本": "乙许可证正本标记",
        "党员大会记录": "丙党员大会标记",
        "处罚决定书": "丁处罚决定书标记",
    }
    apply = _text_pdf(lic / "申请表.pdf", markers["申请表"], pages=2)
    photo = _scan(lic / "现场照片.jpg", "JPEG")
    licence = _rotated_pdf(lic / "许可证正本.pdf", markers["许可证正本"])
    minutes = _text_pdf(rec / "会议记录" / "2026-09-30 党员大会.pdf", markers["党员大会记录"], 3)
    scan_png = _scan(rec / "会议记录" / "签到表.png", "PNG", "RGBA")
    case_src = _scan(rec / "案卷" / "潼烟罚〔2026〕第12号.tif", "TIFF", "1", frames=2)
    case_pdf = _text_pdf(rec / "案卷" / "潼烟罚〔2026〕第12号.ocr.pdf", markers["处罚决定书"], 2)
    extras_dir = root / "audit"
    extras_dir.mkdir()
    plan = BundlePlan(
        bureau=BUREAU,
        year=2026,
        date=PIN,
        areas=[
            AreaPlan(
                "证件管理",
                [
                    CriterionPlan(
                        "3.1",
                        "许可证档案一户一档，规范完整统一",
                        10,
                        9,
                        "达标",
                        [
                            EvidenceDoc(apply, None, "申请表", "500223100012", "张三便利店 申请表"),
                            EvidenceDoc(photo, None, "现场照片", "500223100012", "张三便利店 照片"),
                            EvidenceDoc(
                                licence, None, "许可证正本", "500223100012", "张三便利店 许可证"
                            ),
                        ],
                    ),
                    CriterionPlan("3.2", "合理布局听证会会议记录", 5, 0, "缺项", []),
                ],
            ),
            AreaPlan(
                "班子建设",
                [
                    CriterionPlan(
                        "1.1",
                        "三会一课",
                        8,
                        8,
                        "达标",
                        [
                            EvidenceDoc(minutes, None, "党员大会记录", None, "2026年9月 党员大会"),
                            EvidenceDoc(scan_png, None, "签到表", None, "2026年9月 签到表"),
                        ],
                    )
                ],
            ),
            AreaPlan(
                "市场监管",
                [
                    CriterionPlan(
                        "5.6",
                        "案件移送率100%",
                        6,
                        6,
                        "达标",
                        [
                            EvidenceDoc(
                                case_src,
                                case_pdf,
                                "处罚决定书",
                                "潼烟罚〔2026〕第12号",
                                "潼烟罚〔2026〕第12号 决定书",
                            )
                        ],
                    )
                ],
            ),
        ],
        extra_files=_extras(extras_dir),
    )
    return Archive(root, rec, plan, markers)


def _tree_state(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        p.relative_to(folder).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Archive, Path, dict]]:
    root = tmp_path_factory.mktemp("bundle")
    archive = _make_archive(root)
    before = _tree_state(archive.records)
    calls: list[tuple[int, int]] = []
    out = build_bundle(
        archive.plan,
        root / "out" / "2026验收材料",
        pin_date=PIN,
        progress=lambda d, t: calls.append((d, t)),
    )
    yield archive, out, {"before": before, "calls": calls}


def _validate(bag: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BAGIT_PY), "--validate", str(bag)],
        capture_output=True,
        text=True,
        check=False,
    )


def _flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# --------------------------------------------------------------------------- the bag


def test_library_of_congress_validator_accepts_our_bag(built: tuple) -> None:
    _archive, bag, _ = built
    res = _validate(bag)
    assert res.returncode == 0, res.stderr
    assert "is valid" in res.stderr


def test_validator_rejects_a_bag_after_one_payload_byte_changes(
    built: tuple, tmp_path: Path
) -> None:
    _archive, bag, _ = built
    copy = Path(shutil.copytree(bag, tmp_path / "bag"))
    victim = next((copy / "data").rglob("*照片.jpg"))
    _flip_byte(victim)
    res = _validate(copy)
    assert res.returncode != 0
    assert "照片.jpg" in res.stderr
    report = verify_bag(copy)
    assert not report.ok
    assert report.changed == [victim.relative_to(copy).as_posix()]


def test_bag_holds_records_in_standard_order_with_readable_names(built: tuple) -> None:
    archive, bag, _ = built
    data = bag / "data"
    names = sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file())
    assert names == sorted(
        [
            "01 证件管理/3.1 许可证档案一户一档，规范完整统一/01 张三便利店 申请表.pdf",
            "01 证件管理/3.1 许可证档案一户一档，规范完整统一/02 张三便利店 照片.jpg",
            "01 证件管理/3.1 许可证档案一户一档，规范完整统一/03 张三便利店 许可证.pdf",
            "02 班子建设/1.1 三会一课/01 2026年9月 党员大会.pdf",
            "02 班子建设/1.1 三会一课/02 2026年9月 签到表.png",
            "03 市场监管/5.6 案件移送率100％/01 潼烟罚〔2026〕第12号 决定书.tif",
            PACKET_NAME,
            "自评表.docx",
            "缺项清单.xlsx",
            "缺项清单.pdf",
        ]
    )
    original = archive.plan.areas[0].criteria[0].documents[1].source
    copied = data / "01 证件管理/3.1 许可证档案一户一档，规范完整统一/02 张三便利店 照片.jpg"
    assert copied.read_bytes() == original.read_bytes()


def test_bag_info_names_bureau_year_date_and_oxum(built: tuple) -> None:
    _archive, bag, _ = built
    info = dict(
        line.split(": ", 1) for line in (bag / "bag-info.txt").read_text("utf-8").splitlines()
    )
    assert info["Source-Organization"] == BUREAU
    assert info["Assessment-Year"] == "2026"
    assert info["Bagging-Date"] == "2026-11-21"
    payload = [p for p in (bag / "data").rglob("*") if p.is_file()]
    assert info["Payload-Oxum"] == f"{sum(p.stat().st_size for p in payload)}.{len(payload)}"
    for alg in ("sha256", "sha512"):
        assert (bag / f"manifest-{alg}.txt").is_file()
        assert (bag / f"tagmanifest-{alg}.txt").is_file()


def test_building_never_touches_the_records(built: tuple) -> None:
    archive, _bag, state = built
    assert _tree_state(archive.records) == state["before"]


def test_progress_counts_every_step_to_the_end(built: tuple) -> None:
    _archive, _bag, state = built
    calls = state["calls"]
    assert calls[-1] == (2 * 6 + 3, 2 * 6 + 3)
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(set(done)) > 6


# --------------------------------------------------------------------------- verify


def test_verify_reports_changed_missing_and_unexpected_at_once(
    built: tuple, tmp_path: Path
) -> None:
    _archive, bag, _ = built
    assert verify_bag(bag).ok
    copy = Path(shutil.copytree(bag, tmp_path / "bag"))
    changed = next((copy / "data").rglob("*申请表.pdf"))
    gone = next((copy / "data").rglob("*签到表.png"))
    _flip_byte(changed, 300)
    gone.unlink()
    (copy / "data" / "02 班子建设" / "多出来的.txt").write_text("x", encoding="utf-8")
    info = copy / "bag-info.txt"
    info.write_text(info.read_text("utf-8").replace("2026-11-21", "2026-11-22"), "utf-8")

    report = verify_bag(copy)
    assert not report.ok
    assert report.changed == [changed.relative_to(copy).as_posix(), "bag-info.txt"]
    assert report.missing == [gone.relative_to(copy).as_posix()]
    assert report.unexpected == ["data/02 班子建设/多出来的.txt"]
    assert any("Payload-Oxum" in e for e in report.errors)
    assert len(report.lines()) == 4 + len(report.errors)


def test_verify_accepts_a_foreign_bag_made_by_the_bagit_library(tmp_path: Path) -> None:
    folder = tmp_path / "外来包"
    folder.mkdir()
    (folder / "会议记录 2026.txt").write_text("党员大会", encoding="utf-8")
    (folder / "子目录").mkdir()
    (folder / "子目录" / "照片.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    bagit.make_bag(str(folder), {"Source-Organization": "某县局"}, checksums=["sha256", "md5"])
    report = verify_bag(folder)
    assert report.ok, report.lines()
    assert report.algorithms == ["md5", "sha256"]
    (folder / "data" / "子目录" / "照片.jpg").write_bytes(b"changed")
    assert verify_bag(folder).changed == ["data/子目录/照片.jpg"]


def test_verify_reports_a_folder_that_is_not_a_bag(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a", encoding="utf-8")
    report = verify_bag(tmp_path)
    assert not report.ok
    assert any("bagit.txt" in e for e in report.errors)
    assert any("manifest" in e for e in report.errors)
    with pytest.raises(NotFoundError, match="找不到验收包"):
        verify_bag(tmp_path / "nowhere")


# --------------------------------------------------------------------------- the PDF


def _outline(reader: PdfReader, items: list, depth: int = 0) -> list:
    out: list = []
    for item in items:
        if isinstance(item, list):
            out[-1][2].extend(_outline(reader, item, depth + 1))
        else:
            page = reader.get_destination_page_number(item)
            assert page is not None
            out.append((item.title, page + 1, []))
    return out


def test_outline_mirrors_the_standard_and_points_at_each_document(built: tuple) -> None:
    archive, bag, _ = built
    reader = PdfReader(bag / "data" / PACKET_NAME)
    tree = _outline(reader, reader.outline)
    assert [t for t, _p, _k in tree] == [
        "封面",
        "目录",
        "自评表",
        "证件管理",
        "班子建设",
        "市场监管",
    ]
    areas = {t: kids for t, _p, kids in tree}
    assert [t for t, _p, _k in areas["证件管理"]] == [
        "3.1 许可证档案一户一档，规范完整统一",
        "3.2 合理布局听证会会议记录（无材料）",
    ]
    docs = areas["证件管理"][0][2]
    assert [t for t, _p, _k in docs] == [
        "申请表（500223100012）",
        "现场照片（500223100012）",
        "许可证正本（500223100012）",
    ]
    assert [t for t, _p, _k in areas["市场监管"][0][2]] == ["处罚决定书（潼烟罚〔2026〕第12号）"]
    for _area, _p, crits in tree[3:]:
        for _crit, _p2, documents in crits:
            for title, page, _ in documents:
                label = title.split("（")[0]
                if label in archive.markers:
                    text = reader.pages[page - 1].extract_text()
                    assert archive.markers[label] in text, (title, page)


def test_every_page_carries_its_stamp(built: tuple) -> None:
    _archive, bag, _ = built
    pdf = bag / "data" / PACKET_NAME
    reader = PdfReader(pdf)
    total = len(reader.pages)
    texts = [p.extract_text() for p in reader.pages]
    for i, text in enumerate(texts, 1):
        assert f"第{i}页/共{total}页" in text, i
    assert "封面" in texts[0] and "目录" in texts[1]
    case_pages = [t for t in texts if "丁处罚决定书标记" in t]
    assert len(case_pages) == 2
    assert all("5.6 案件移送率100%" in t and "潼烟罚〔2026〕第12号" in t for t in case_pages)
    # the stamp sits at the top of the page as the reader sees it, also on the /Rotate 90 page
    bbox = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = bbox.split("<page ")[1:]
    assert len(pages) == total
    for i, page in enumerate(pages, 1):
        word = re.search(rf'yMin="([\d.]+)"[^>]*>第{i}页/共{total}页<', page)
        assert word is not None, i
        assert float(word.group(1)) < 20.0, (i, word.group(1))


def test_catalogue_gives_the_page_each_document_starts_on(built: tuple) -> None:
    archive, bag, _ = built
    reader = PdfReader(bag / "data" / PACKET_NAME)
    catalogue = reader.pages[1].extract_text()
    assert "目　录" in catalogue and "?" not in catalogue
    for label, marker in archive.markers.items():
        page = next(i for i, p in enumerate(reader.pages, 1) if marker in p.extract_text())
        row = re.search(rf"^{label}.*\s(\d+)$", catalogue, re.M)
        assert row is not None, (label, catalogue)
        assert int(row.group(1)) == page, (label, catalogue)
    table = reader.pages[2].extract_text()
    assert "合理布局听证会会议记录" in table and "缺项" in table


def test_pdf_fonts_are_embedded_and_poppler_and_qpdf_accept_it(
    built: tuple, tmp_path: Path
) -> None:
    _archive, bag, _ = built
    pdf = str(bag / "data" / PACKET_NAME)
    fonts = subprocess.run(["pdffonts", pdf], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows
    assert all(re.search(r"\s(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$", r) for r in rows)
    assert all(r.split()[-5] == "yes" for r in rows), fonts  # the 'emb' column
    qpdf = subprocess.run(["qpdf", "--check", pdf], capture_output=True, text=True, check=False)
    assert qpdf.returncode == 0, qpdf.stdout + qpdf.stderr
    assert "No syntax or stream encoding errors" in qpdf.stdout
    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Pages:\s+13\b", info), info  # 3 front matter + 2+1+1 + 3+1 + 2
    assert f"Title:           {BUREAU}2026年度考核验收材料" in info
    subprocess.run(
        ["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-png", pdf, str(tmp_path / "p")],
        check=True,
    )
    cover = Image.open(next(tmp_path.glob("p*.png"))).convert("L")
    w, h = cover.size
    middle = cover.crop((w // 5, h // 4, 4 * w // 5, h // 2))
    darkest = middle.getextrema()[0]
    assert isinstance(darkest, int) and darkest < 100  # the bureau and title are drawn there


# --------------------------------------------------------------------------- build rules


def test_pin_date_makes_two_builds_byte_identical(built: tuple, tmp_path: Path) -> None:
    archive, bag, _ = built
    again = build_bundle(archive.plan, tmp_path / "again", pin_date=PIN)
    first = {p.relative_to(bag): p.read_bytes() for p in bag.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    differing = [str(k) for k in first if first[k] != second[k]]
    assert differing == []


def test_zip_output_is_a_valid_bag(built: tuple, tmp_path: Path) -> None:
    archive, _bag, _ = built
    target = build_bundle(archive.plan, tmp_path / "验收包", zip_output=True, pin_date=PIN)
    assert target == tmp_path / "验收包.zip"
    assert not (tmp_path / "验收包").exists()
    assert verify_bag(target).ok
    with zipfile.ZipFile(target) as zf:
        assert all(n.startswith("验收包/") for n in zf.namelist())
        zf.extractall(tmp_path / "x")
    assert _validate(tmp_path / "x" / "验收包").returncode == 0
    again = build_bundle(archive.plan, tmp_path / "again" / "验收包", zip_output=True, pin_date=PIN)
    assert again.read_bytes() == target.read_bytes()
    # a zip whose member was altered is reported, without unpacking it
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(target) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("签到表.png"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(item, data)
    report = verify_bag(tampered)
    assert [p.rsplit("/", 1)[-1] for p in report.changed] == ["02 2026年9月 签到表.png"]


def test_interrupted_build_leaves_no_bag_behind(built: tuple, tmp_path: Path) -> None:
    archive, _bag, _ = built

    class Boom(Exception):
        pass

    def stop(done: int, total: int) -> None:
        if done >= total // 2:  # while records are copied and the PDF merged
            raise Boom

    with pytest.raises(Boom):
        build_bundle(archive.plan, tmp_path / "bag", pin_date=PIN, progress=stop)
    assert os.listdir(tmp_path) == []


def test_half_build_of_a_killed_process_is_cleaned_up(built: tuple, tmp_path: Path) -> None:
    archive, _bag, _ = built
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f".bag.building-{dead.stdout.strip()}-0123abcd"
    (stale / "data").mkdir(parents=True)
    build_bundle(archive.plan, tmp_path / "bag", pin_date=PIN)
    assert sorted(os.listdir(tmp_path)) == ["bag"]


def test_existing_target_is_refused_unless_forced(built: tuple, tmp_path: Path) -> None:
    archive, _bag, _ = built
    target = tmp_path / "bag"
    target.mkdir()
    (target / "旧文件.txt").write_text("old", encoding="utf-8")
    with pytest.raises(TargetExistsError, match="--force") as err:
        build_bundle(archive.plan, target, pin_date=PIN)
    assert str(target) in str(err.value)
    assert err.value.exit_code == 2
    build_bundle(archive.plan, target, pin_date=PIN, force=True)
    assert not (target / "旧文件.txt").exists()
    assert verify_bag(target).ok
    assert sorted(os.listdir(tmp_path)) == ["bag"]


def test_missing_and_unreadable_evidence_are_all_named(built: tuple, tmp_path: Path) -> None:
    archive, _bag, _ = built
    crit = archive.plan.areas[1].criteria[0]
    broken = tmp_path / "坏文件.pdf"
    broken.write_bytes(b"this is not a pdf")
    plan = BundlePlan(
        BUREAU,
        2026,
        PIN,
        [
            AreaPlan(
                "班子建设",
                [
                    CriterionPlan(
                        "1.1",
                        "三会一课",
                        8,
                        0,
                        "缺项",
                        [
                            *crit.documents,
                            EvidenceDoc(tmp_path / "没有的.pdf", None, "甲", None, "甲"),
                            EvidenceDoc(tmp_path / "也没有.jpg", None, "乙", None, "乙"),
                        ],
                    )
                ],
            )
        ],
    )
    with pytest.raises(ValidationError) as err:
        build_bundle(plan, tmp_path / "bag")
    assert [p.field for p in err.value.problems] == [
        str(tmp_path / "没有的.pdf"),
        str(tmp_path / "也没有.jpg"),
    ]
    plan.areas[0].criteria[0].documents[-2:] = [EvidenceDoc(broken, None, "坏", None, "坏")]
    with pytest.raises(ValidationError) as err2:
        build_bundle(plan, tmp_path / "bag")
    assert str(broken) in str(err2.value)
    assert not (tmp_path / "bag").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["坏文件.pdf"]


def test_large_sources_are_streamed_page_by_page(
    built: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sources over the size threshold drop pypdf's cache after each page: same output."""
    import archive.packet.packet_pdf as packet_pdf

    archive, bag, _ = built
    monkeypatch.setattr(packet_pdf, "_TRIM_BYTES", 0)
    again = build_bundle(archive.plan, tmp_path / "trimmed", pin_date=PIN)
    pdf = again / "data" / PACKET_NAME
    assert pdf.read_bytes() == (bag / "data" / PACKET_NAME).read_bytes()
