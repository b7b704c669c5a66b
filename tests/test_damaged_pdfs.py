"""Odd and damaged PDFs: each filed with the text it holds, or quarantined only when no
reader opens it; pages that cannot be read are named, flagged by audit and counted by status."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from conftest import json_lines, make_archive, run_dangan

from indexers.diagnostics import collecting
from indexers.extract import extract_document
from indexers.textlayer import ExtractError, PdfUnreadable, open_pdf, read_pdf_pages
from samples.damaged_pdfs import KINDS, MARK, damaged_set, unopenable


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("damaged")
    out = {}
    for name, data in damaged_set().items():
        (folder / name).write_bytes(data)
        out[name.removesuffix(".pdf")] = folder / name
    return out


def _marks(text: str) -> set[int]:
    """The page numbers whose MARK line is in ``text`` (spaces and line breaks ignored)."""
    flat = "".join(text.split())
    return {n for n in range(1, 31) if "".join(MARK.format(page=n).split()) in flat}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_reader_kind_gives_the_text_and_names_the_unread_pages(
    damaged: dict[str, Path], kind: str
) -> None:
    _make, readable, unread = KINDS[kind]
    pages = read_pdf_pages(damaged[kind])
    by_number = {p.number: p for p in pages}
    for number in readable:
        assert by_number[number].has_text, (kind, number)
        assert _marks(by_number[number].text) == {number}, (kind, number)
    for number in unread:
        page = by_number[number]
        assert not page.has_text and page.image is None
        assert page.error and f"第{number}页" in page.error, (kind, page.error)


def test_only_a_file_no_reader_opens_is_refused_and_the_refusal_names_them() -> None:
    with pytest.raises(PdfUnreadable) as refused:
        open_pdf(unopenable(), "乱码.pdf")
    assert refused.value.code == "pdf_corrupt"
    assert refused.value.tried == ["PDFium", "qpdf", "poppler"]
    assert "PDFium、qpdf、poppler 均无法打开" in refused.value.message


def test_an_empty_user_password_is_no_password(damaged: dict[str, Path]) -> None:
    opened = open_pdf(damaged["empty_user_password"].read_bytes(), "x.pdf")
    assert opened.encrypted and opened.pages == 1
    assert "权限密码" in opened.notes[0]


def test_a_long_text_layer_is_read_as_text_with_progress_per_page(
    damaged: dict[str, Path],
) -> None:
    from indexers.ocr import OcrPool

    seen: list[tuple[int, int]] = []
    with OcrPool(workers=1) as pool:  # OCR is there; the text layer makes it unnecessary
        ex = extract_document(
            damaged["long_text_layer"],
            "application/pdf",
            ocr=pool,
            progress=lambda done, total: seen.append((done, total)),
        )
    assert [p.source for p in ex.pages] == ["text"] * 30
    assert _marks(ex.text) == set(range(1, 31))
    assert seen[-1] == (30, 30) and len(seen) >= 4  # heard of while reading, not at the end
    assert ex.searchable_pdf is None and ex.unread == []


def test_library_warnings_are_collected_not_printed(
    damaged: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    from pypdf import PdfReader

    with collecting() as said:
        reader = PdfReader(io.BytesIO(damaged["broken_xref"].read_bytes()), strict=False)
        _ = [page.extract_text() for page in reader.pages]
    assert said.count > 0 and said.messages and said.messages[0].startswith("pypdf")
    out, err = capfd.readouterr()
    assert err == "" and out == ""


def test_ingest_files_each_damaged_pdf_with_its_text(tmp_path: Path) -> None:
    archive = make_archive(
        tmp_path / "档案库", ocr=True
    )  # OCR on: the text layers must make it unnecessary
    inbox = archive / "inbox" / "其他"
    files = {**damaged_set(), "乱码.pdf": unopenable()}
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    result = run_dangan("ingest", "--json", "--archive", archive)
    assert result.returncode == 0, result.stderr
    assert len(result.stderr.splitlines()) <= 3, result.stderr  # no flood of library warnings
    outcomes = {o["source"].rsplit("/", 1)[-1]: o for o in json_lines(result.stdout)}
    assert set(outcomes) == set(files)
    refused = outcomes.pop("乱码.pdf")
    assert (refused["outcome"], refused["code"]) == ("quarantined", "pdf_corrupt")
    assert "PDFium、qpdf、poppler 均无法打开" in refused["reason"]
    for name, outcome in outcomes.items():
        _make, readable, unread = KINDS[name.removesuffix(".pdf")]
        assert outcome["outcome"] in ("filed", "unfiled"), outcome
        assert isinstance(outcome["elapsed"], float)
        record = archive / outcome["record"]
        assert (
            hashlib.sha256(record.read_bytes()).hexdigest()
            == hashlib.sha256(files[name]).hexdigest()
        )  # the original bytes, whatever was repaired to read them
        side = json.loads(record.with_name(record.name + ".json").read_text(encoding="utf-8"))
        pages = {p["number"]: p for p in side["text"]["pages"]}
        assert {n for n in readable if pages[n]["source"] == "text"} == set(readable), name
        assert _marks("\n".join(p["text"] for p in pages.values())) == set(readable), name
        assert [u["number"] for u in side["text"]["unread_pages"]] == list(unread), name
        codes = {f["code"] for f in side["findings"]}
        if unread:
            assert side["text"]["legible"] is False and "unread_pages" in codes, name
        else:
            assert side["text"]["legible"] in (None, True) and "unread_pages" not in codes
    long = archive / outcomes["long_text_layer.pdf"]["record"]
    side = json.loads(long.with_name(long.name + ".json").read_text(encoding="utf-8"))
    assert {p["source"] for p in side["text"]["pages"]} == {"text"}  # 30 pages, no OCR

    status = json.loads(run_dangan("status", "--json", "--archive", archive).stdout)
    assert status["flagged"].get("unread_pages") == 2
    assert any("无法读取" in step for step in status["next_steps"])
    audit = run_dangan("audit", "--json", "--archive", archive)
    assert audit.returncode in (0, 1), audit.stderr
    flagged = {
        f["record"] for f in json.loads(audit.stdout)["findings"] if f["code"] == "unread_pages"
    }
    assert flagged == {
        outcomes["undecodable_image.pdf"]["record"],
        outcomes["damaged_content.pdf"]["record"],
    }


def test_an_internal_error_quarantines_the_file_under_its_own_name(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "档案库")
    (archive / "records").mkdir(exist_ok=True)
    (archive / "records" / "许可证档案").write_text("not a folder")  # filing must fail
    folder = archive / "inbox" / "许可证" / "610522100123"
    folder.mkdir(parents=True)
    (folder / "scan 2024-01 (final).pdf").write_bytes(damaged_set()["junk_before_header.pdf"])
    result = run_dangan("ingest", "--json", "--archive", archive)
    [outcome] = json_lines(result.stdout)
    assert (outcome["outcome"], outcome["code"]) == ("quarantined", "internal_error")
    assert outcome["record"].endswith("/scan 2024-01 (final).pdf"), outcome
    assert (archive / outcome["record"]).is_file()


@pytest.mark.slow
def test_library_warnings_reach_the_history_and_the_log_not_the_terminal(tmp_path: Path) -> None:
    """A scan with a broken xref: pypdf, writing the searchable copy, warns about it."""
    from PIL import Image, ImageDraw

    from samples._draw import SERIF, font
    from samples.damaged_pdfs import scanned_broken_xref

    page = Image.new("L", (1654, 2339), 250)
    draw = ImageDraw.Draw(page)
    draw.text((200, 300), "许可证号：610522100123", fill=20, font=font(str(SERIF), 60))
    draw.text((200, 420), "经营地址：潼关县城关镇东大街", fill=20, font=font(str(SERIF), 60))
    jpeg = io.BytesIO()
    page.save(jpeg, "JPEG", quality=85)
    archive = make_archive(tmp_path / "档案库", ocr=True)
    (archive / "inbox" / "其他" / "扫描.pdf").write_bytes(
        scanned_broken_xref(jpeg.getvalue(), page.size)
    )
    result = run_dangan("ingest", "--json", "--archive", archive)
    assert result.returncode == 0, result.stderr
    assert "pypdf" not in result.stderr and len(result.stderr.splitlines()) <= 3
    [outcome] = json_lines(result.stdout)
    record = archive / outcome["record"]
    side = json.loads(record.with_name(record.name + ".json").read_text(encoding="utf-8"))
    assert side["text"]["pages"][0]["source"] == "ocr"
    assert "610522100123" in side["text"]["pages"][0]["text"]
    warned = [e for e in side["events"] if e["event"] == "warnings"]
    assert warned and "pypdf" in warned[0]["detail"], side["events"]
    assert "pypdf" in (archive / ".dangan" / "dangan.log").read_text(encoding="utf-8")


def test_a_pdf_cut_short_that_readers_open_is_filed_and_flagged(tmp_path: Path) -> None:
    from archive.core.config import ArchiveConfig
    from archive.intake.preflight import preflight
    from samples.damaged_pdfs import text_pdf

    whole = text_pdf(2)
    cut = tmp_path / "传输中断.pdf"
    cut.write_bytes(whole[:-40])  # trailer and %%EOF lost; every page still there
    checked = preflight(cut, ArchiveConfig())
    assert checked.rejection is None and checked.pages == 2
    [finding] = checked.findings
    assert finding["code"] == "pdf_incomplete" and "2 页" in finding["message"]
    header_only = tmp_path / "只剩开头.pdf"
    header_only.write_bytes(whole[:120])
    refused = preflight(header_only, ArchiveConfig()).rejection
    assert refused is not None and refused.code == "pdf_truncated"
    assert "PDFium、qpdf、poppler 均无法打开" in refused.reason


def test_a_pdf_whose_every_page_lost_its_content_is_not_filed_as_blank(tmp_path: Path) -> None:
    """The first 300 bytes of a PDF: catalog and page objects, the content gone. qpdf opens
    it, but no page can be read: set aside (unreadable_content), not filed as blank."""
    damaged_stub = _stub_with_lost_content()
    page = read_pdf_pages(Path("x.pdf"), damaged_stub)[0]
    assert page.error is not None and "文件不完整" in page.error, page
    path = tmp_path / "扫描0001.pdf"
    path.write_bytes(damaged_stub)
    with pytest.raises(ExtractError, match="没有一页能读取"):
        extract_document(path, "application/pdf")


def _stub_with_lost_content() -> bytes:
    from samples.bench_archive import mini_pdf

    return mini_pdf("2011年实施方案", ["潼关县烟草专卖局"])[:300]
