"""Paths from data never lead outside the archive: metrics evidence, report names, a bag's
links and names, links inside a Word file converted for the packet. A folder beside the
archive, with a canary file in it, is watched (inotify) through every test."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import socketserver
import subprocess
import threading
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _hostile import CANARY_TEXT, Outside, dangan_bounded, within
from conftest import json_lines, run_dangan

from archive.access.log import AccessLog, LogFilter
from archive.access.store import AccessStore
from archive.core.config import Archive
from samples.badfiles import _pdf

YEAR = dt.date.today().year

# ------------------------------------------------------------------ metrics evidence


def _metrics(evidence: str) -> str:
    return (
        f"period: {YEAR}\nmetrics:\n"
        f"  - {{key: 市场净化率, value: 96, evidence: {json.dumps(evidence, ensure_ascii=False)}}}\n"
    )


def test_metrics_evidence_must_be_a_record_of_this_archive(
    archive_dir: Path, outside: Outside, tmp_path: Path
) -> None:
    for evidence in (
        str(outside.canary),
        "../outside/canary.txt",
        "records/../../outside/canary.txt",
    ):
        source = tmp_path / "自查.yaml"
        source.write_text(_metrics(evidence), encoding="utf-8")
        refused = within(dangan_bounded("metrics", "import", source, "--archive", archive_dir))
        assert refused.returncode == 8, refused.stdout
        assert "evidence" in refused.stderr and "不能引用档案库以外的文件" in refused.stderr
        assert not (archive_dir / "自查数据.yaml").exists()
    # written into the archive by hand, past the import: still never read, never packed
    (archive_dir / "自查数据.yaml").write_text(_metrics(str(outside.canary)), encoding="utf-8")
    scored = json.loads(run_dangan("score", "--json", "--archive", archive_dir).stdout)
    purification = [c for c in scored["criteria"] if any("市场净化率" in m for m in c["missing"])]
    assert purification and all(not c["evidence"] for c in purification)
    bag = tmp_path / "验收包"
    built = within(
        dangan_bounded("bundle", "--out", bag, "--archive", archive_dir, limit=300), 300, 1500
    )
    assert built.returncode == 0, built.stderr
    for path in bag.rglob("*"):
        if path.is_file():
            assert CANARY_TEXT.encode() not in path.read_bytes(), path
    outside.assert_untouched()


# ------------------------------------------------------------------ report names


@pytest.mark.parametrize("body", ["省局/市局检查组", "../../outside/检查组", "/tmp/检查组"])
def test_report_names_from_data_stay_in_the_reports_folder(
    archive_dir: Path, outside: Outside, body: str
) -> None:
    (archive_dir / "检查发现.yaml").write_text(
        "inspection:\n"
        f"  date: {YEAR}-01-24\n"
        f"  body: {json.dumps(body, ensure_ascii=False)}\n"
        f"  deadline: {YEAR}-03-31\n"
        "findings:\n"
        "  - {area: 班子建设, owner: 刘红霞, criterion: '1.1', problem: 三会一课记录不全}\n",
        encoding="utf-8",
    )
    before = {p for p in archive_dir.parent.rglob("*")}
    done = within(dangan_bounded(
        "report", "rectification", "--no-pdf", "--json", "--archive", archive_dir,
        "--as-of", f"{YEAR}-04-30",
    ))  # fmt: skip
    assert done.returncode == 0, done.stderr
    files = [Path(f) for f in json.loads(done.stdout)["files"]]
    reports = (archive_dir / "报告").resolve()
    assert files and all(f.resolve().parent == reports for f in files)
    assert all("检查组检查整改情况报告" in f.name for f in files)
    new = {p for p in archive_dir.parent.rglob("*") if ".dangan" not in p.parts} - before
    access = archive_dir / "access"  # the access log, which says what was generated
    new = {p for p in new if p != access and access not in p.parents}
    assert {p.resolve() for p in new} <= {reports, *(f.resolve() for f in files)}
    [made] = AccessLog(AccessStore.of(Archive(archive_dir))).query(LogFilter()).entries
    assert made.action == "generate" and all(f.name in made.detail for f in files)
    outside.assert_untouched()


# ------------------------------------------------------------------ bags


def _bag(folder: Path) -> Path:
    import bagit

    folder.mkdir(parents=True)
    (folder / "申请表.pdf").write_bytes(_pdf())
    (folder / "照片.txt").write_text("现场照片说明", encoding="utf-8")
    bagit.make_bag(str(folder), checksums=["sha256"])
    return folder


def _list_in_manifest(bag: Path, rel: str, digest: str) -> None:
    manifest = bag / "manifest-sha256.txt"
    manifest.write_text(
        manifest.read_text(encoding="utf-8") + f"{digest}  {rel}\n", encoding="utf-8"
    )
    tags = bag / "tagmanifest-sha256.txt"
    if tags.exists():
        tags.unlink()


def _verify(bag: Path) -> tuple[dict[str, object], float, float]:
    done = within(dangan_bounded("verify", bag, "--json"), memory_mb=300)
    assert done.returncode == 6, done.stderr
    return json.loads(done.stdout), done.seconds, done.peak_mb


def test_verify_never_follows_a_link_out_of_the_bag(tmp_path: Path, outside: Outside) -> None:
    bag = _bag(tmp_path / "包")
    digest = hashlib.sha256(CANARY_TEXT.encode()).hexdigest()
    (bag / "data" / "证据.txt").symlink_to(outside.canary)
    _list_in_manifest(bag, "data/证据.txt", digest)
    report, _s, _mb = _verify(bag)
    assert any("data/证据.txt" in e and "链接" in e for e in report["errors"])  # type: ignore[union-attr]
    outside.assert_untouched()


@pytest.mark.parametrize("special", ["dev_zero", "fifo", "dangling"])
def test_verify_lists_special_files_and_goes_on(
    tmp_path: Path, outside: Outside, special: str
) -> None:
    bag = _bag(tmp_path / "包")
    odd = bag / "data" / "大文件.bin"
    if special == "dev_zero":
        odd.symlink_to("/dev/zero")
    elif special == "fifo":
        os.mkfifo(odd)
    else:
        odd.symlink_to(tmp_path / "不存在")
    _list_in_manifest(bag, "data/大文件.bin", "0" * 64)
    (bag / "data" / "照片.txt").write_text("被改动了", encoding="utf-8")
    report, _seconds, peak = _verify(bag)
    assert any("data/大文件.bin" in e and "不是普通文件" in e for e in report["errors"])  # type: ignore[union-attr]
    assert report["changed"] == ["data/照片.txt"]  # the rest was still checked
    assert peak < 300
    outside.assert_untouched()


def _check_packet(packet: Path) -> dict[str, Any]:
    done = within(dangan_bounded("check", packet, "--json"), memory_mb=300)
    assert done.returncode == 6, done.stderr  # 不通过, said as an integrity problem
    assert "Traceback" not in done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return {item["code"]: item for item in report["items"]}


def test_check_never_opens_a_link_out_of_the_packet(tmp_path: Path, outside: Outside) -> None:
    """四性检测 of a packet folder: a file or folder linked out of it is never opened."""
    bag = _bag(tmp_path / "包")
    digest = hashlib.sha256(CANARY_TEXT.encode()).hexdigest()
    (bag / "data" / "证据.txt").symlink_to(outside.canary)
    (bag / "data" / "整户").symlink_to(outside.folder, target_is_directory=True)
    _list_in_manifest(bag, "data/证据.txt", digest)
    items = _check_packet(bag)
    assert any("data/证据.txt" in p["detail"] for p in items["GD-3-1"]["problems"])
    outside.assert_untouched()


def test_check_never_inflates_a_bomb_in_a_zipped_packet(tmp_path: Path, outside: Outside) -> None:
    """A zipped packet whose payload file inflates a thousandfold: reported, not unpacked."""
    bag = _bag(tmp_path / "包")
    packet = tmp_path / "包.zip"
    with zipfile.ZipFile(packet, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(bag.rglob("*")):
            if path.is_file():
                zf.write(path, f"包/{path.relative_to(bag).as_posix()}")
        with zf.open("包/data/炸弹.pdf", "w", force_zip64=True) as out:
            for _ in range(300):
                out.write(bytes(1024 * 1024))
    items = _check_packet(packet)
    bombs = [p for p in items["GD-3-4"]["problems"] if "压缩炸弹" in p["detail"]]
    assert [p["where"] for p in bombs] == ["包/data/炸弹.pdf"]
    assert items["GD-3-4"]["checked"] >= 2  # the other payload files were still opened
    outside.assert_untouched()


def test_verify_tells_apart_names_that_differ_only_in_normal_form(
    tmp_path: Path, outside: Outside
) -> None:
    folder = tmp_path / "包"
    folder.mkdir()
    nfc, nfd = unicodedata.normalize("NFC", "café.txt"), unicodedata.normalize("NFD", "café.txt")
    (folder / nfc).write_text("一", encoding="utf-8")
    (folder / nfd).write_text("二", encoding="utf-8")
    import bagit

    bagit.make_bag(str(folder), checksums=["sha256"])
    report, _s, _mb = _verify(folder)
    assert any("规范化" in e for e in report["errors"])  # type: ignore[union-attr]
    outside.assert_untouched()


def test_a_bag_rezipped_by_another_tool_is_named_as_such(tmp_path: Path, outside: Outside) -> None:
    zip_tool = shutil.which("zip")
    if zip_tool is None:
        pytest.skip("Info-ZIP zip is not installed")
    bag = tmp_path / "2011验收材料"
    bag.mkdir()
    for n in range(120):
        (bag / f"张三烟酒店_申请表{n:03d}.txt").write_text(f"第{n}份", encoding="utf-8")
    import bagit

    bagit.make_bag(str(bag), checksums=["sha256"])
    archive = tmp_path / "另存.zip"
    subprocess.run(
        [zip_tool, "-qr", str(archive), bag.name], cwd=tmp_path, check=True,
        env={**os.environ, "LANG": "C.UTF-8"},
    )  # fmt: skip
    report, _s, _mb = _verify(archive)
    assert report["missing"] == [] and report["unexpected"] == []
    assert report["changed"] == []
    [line] = report["errors"]  # type: ignore[misc]
    assert "压缩工具改变了文件名的编码" in line
    outside.assert_untouched()


# ------------------------------------------------------------------ LibreOffice


@pytest.fixture
def web_server() -> Iterator[tuple[int, list[str]]]:
    """A server on loopback that records every request made to it."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = socketserver.TCPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], hits
    server.shutdown()
    server.server_close()


def _docx_with_linked_pictures(path: Path, urls: list[str]) -> None:
    import docx
    from PIL import Image

    document = docx.Document()
    document.add_paragraph("企业文化建设规划")
    for _url in urls:
        picture = io.BytesIO()
        Image.new("RGB", (40, 40), "red").save(picture, "PNG")
        picture.seek(0)
        document.add_picture(picture)
    raw = io.BytesIO()
    document.save(raw)
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "word/document.xml":
                data = data.replace(b'r:embed="', b'r:link="')
            if info.filename == "word/_rels/document.xml.rels":
                for n, url in enumerate(urls, 1):
                    data = re.sub(
                        rf'Target="media/image{n}\.png"'.encode(),
                        f'Target="{url}" TargetMode="External"'.encode(),
                        data,
                    )
            zout.writestr(info, data)


def test_converting_a_word_file_for_the_packet_fetches_nothing(
    archive_dir: Path, outside: Outside, tmp_path: Path, web_server: tuple[int, list[str]]
) -> None:
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice is not installed")
    port, hits = web_server
    record = archive_dir / "inbox" / "其他" / f"{YEAR}年企业文化建设规划.docx"
    _docx_with_linked_pictures(
        record, [f"http://127.0.0.1:{port}/logo.png", outside.canary.as_uri()]
    )
    filed = json_lines(run_dangan("ingest", "--json", "--archive", archive_dir).stdout)
    assert [(o["outcome"], o["kind"]) for o in filed] == [("filed", "企业文化建设规划")]
    bag = tmp_path / "验收包"
    built = within(
        dangan_bounded("bundle", "--out", bag, "--json", "--archive", archive_dir, limit=300),
        300,
        1500,
    )
    assert built.returncode == 0, built.stderr
    packed = [p for p in (bag / "data").rglob("*.docx") if "企业文化建设规划" in p.name]
    assert packed, "the record is in the packet as it is"
    assert hits == [], "LibreOffice fetched a URL named in the document"
    outside.assert_untouched()
