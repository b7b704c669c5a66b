"""四性检测 (DA/T 70): a clean archive passes; each planted defect is reported under its item;
a packet is checked the same way; ClamAV is used when it is there, and said so when not."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _archival import LICENCE_A, build_small_archive, invoke

from archive.check.archive_check import check_archive
from archive.check.packet_check import check_packet
from archive.core.config import Archive
from samples.badfiles import _encrypted_pdf, _jpeg

FOLDER = f"records/许可证档案/{LICENCE_A}_张三烟酒店"
FORM = f"{FOLDER}/001_申请表.pdf"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small_archive(tmp_path_factory.mktemp("check") / "档案库").root


@pytest.fixture
def arc(template: Path, tmp_path: Path) -> Archive:
    return Archive(Path(shutil.copytree(template, tmp_path / "档案库")))


def _side(arc: Archive, rel: str) -> dict[str, Any]:
    path = arc.root / (rel + ".json")
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def _write_side(arc: Archive, rel: str, side: dict[str, Any]) -> None:
    (arc.root / (rel + ".json")).write_text(json.dumps(side, ensure_ascii=False), "utf-8")


def _plant(arc: Archive, name: str, data: bytes, mime: str) -> str:
    """A record made by hand beside 001_申请表.pdf: its sidecar complete and numbered next."""
    rel = f"{FOLDER}/{name}"
    (arc.root / rel).write_bytes(data)
    side = copy.deepcopy(_side(arc, FORM))
    group = side["archival"]["code"][:-4]  # the next 件号 of its group, archive-wide
    held = [
        json.loads(p.read_text("utf-8")).get("archival") or {} for p in arc.records.rglob("*.json")
    ]
    item = max(h["item"] for h in held if h.get("code", "").startswith(group)) + 1
    side.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data), mime=mime, pages=1)
    side["archival"]["item"] = item
    side["archival"]["code"] = side["archival"]["code"][:-4] + f"{item:04d}"
    for event in side["events"]:
        if event["event"] == "filed":
            event["detail"] = rel.removeprefix("records/")
    _write_side(arc, rel, side)
    assert invoke(arc, "reindex").exception is None
    return rel


def _where(arc: Archive, code: str) -> list[str]:
    report = check_archive(arc)
    item = report.items[code]
    assert item.verdict == "不通过", (code, item.as_dict())
    return [p["where"] for p in item.problems]


def test_a_clean_archive_passes_every_item(arc: Archive) -> None:
    report = check_archive(arc)
    verdicts = {i.code: i.verdict for i in report.ordered()}
    assert all(v == "通过" for c, v in verdicts.items() if c not in ("GD-4-1", "GD-4-2")), verdicts
    assert report.ok
    if shutil.which("clamscan") is None:
        assert verdicts["GD-4-2"] == "未执行"
        assert "未安装 ClamAV" in (report.items["GD-4-2"].not_done or "")
    # through the CLI, with the report as a PDF
    pdf = arc.root / "四性检测.pdf"
    result = invoke(arc, "check", "--pdf", str(pdf))
    assert result.exception is None, result.exception
    line = next(x for x in result.output.splitlines() if x.strip().startswith("GD-2-6"))
    assert "通过" in line and "连续性元数据项检测 (件号)" in line
    assert pdf.read_bytes().startswith(b"%PDF")


def test_changed_byte(arc: Archive) -> None:
    path = arc.root / FORM
    data = bytearray(path.read_bytes())
    spot = data.index(b"Tj") - 3  # a hex digit of the shown text: the file still opens
    data[spot] = ord("A") if data[spot] != ord("A") else ord("B")
    path.write_bytes(bytes(data))
    assert FORM in _where(arc, "GD-1-1")


def test_sidecar_with_a_wrong_size(arc: Archive) -> None:
    side = _side(arc, FORM)
    side["size"] += 7
    _write_side(arc, FORM, side)
    assert FORM in _where(arc, "GD-1-10")
    assert _where(arc, "GD-2-2") == ["records/"]


def test_gap_in_the_item_numbers(arc: Archive) -> None:
    side = _side(arc, FORM)
    side["archival"]["item"] = 9
    side["archival"]["code"] = side["archival"]["code"][:-4] + "0009"
    _write_side(arc, FORM, side)
    report = check_archive(arc)
    gaps = report.items["GD-2-6"]
    assert gaps.verdict == "不通过"
    assert "件号不连续, 缺 1、" in gaps.problems[0]["detail"]
    assert report.items["GD-1-7"].verdict == "通过"  # the 档号 itself is well formed


def test_corrupt_image(arc: Archive) -> None:
    good = _jpeg()
    rel = _plant(arc, "009_身份证明.jpg", good[: len(good) // 2], "image/jpeg")
    assert rel in _where(arc, "GD-3-4")


def test_encrypted_pdf(arc: Archive) -> None:
    rel = _plant(arc, "009_营业执照.pdf", _encrypted_pdf(), "application/pdf")
    assert rel in _where(arc, "GD-3-8")
    assert check_archive(arc).items["GD-3-4"].verdict == "通过"  # encrypted, not unreadable


def test_file_without_sidecar(arc: Archive) -> None:
    stray = arc.root / FOLDER / "003_手放的.pdf"
    stray.write_bytes((arc.root / FORM).read_bytes()[:-10] + b"%%EOF\n")
    assert f"{FOLDER}/003_手放的.pdf" in _where(arc, "GD-2-3")


def test_sidecar_without_file(arc: Archive) -> None:
    (arc.root / FORM).unlink()
    assert FORM in _where(arc, "GD-2-7")
    result = invoke(arc, "check")
    assert "GD-2-7" in str(result.exception) and result.exception.exit_code == 6  # type: ignore[union-attr]


def test_packet_is_checked_item_by_item(arc: Archive, tmp_path: Path) -> None:
    out = tmp_path / "验收包"
    assert (
        invoke(
            arc, "bundle", "--year", "2011", "--out", str(out), "--pin-date", "2011-12-20"
        ).exception
        is None
    )
    report = check_packet(out)
    assert report.ok, [i.as_dict() for i in report.ordered() if i.verdict == "不通过"]
    evidence = next(p for p in (out / "data").rglob("*.pdf") if p.name != "验收材料.pdf")
    evidence.write_bytes(evidence.read_bytes() + b"\n% changed\n")
    (out / "data" / "多出来的.txt").write_text("x", "utf-8")
    report = check_packet(out)
    assert any(evidence.name in p["where"] for p in report.items["GD-1-1"].problems)
    assert any("多出来的.txt" in p["where"] for p in report.items["GD-2-11"].problems)


@pytest.mark.skipif(shutil.which("clamscan") is None, reason="ClamAV is not installed")
def test_clamav_finds_a_planted_signature(arc: Archive, tmp_path: Path) -> None:
    """A real clamscan run with a signature database made here (no internet for the
    official one): the MD5 signature of one record's bytes."""
    data = (arc.root / FORM).read_bytes()
    db = tmp_path / "dangan-test.hdb"
    db.write_text(f"{hashlib.md5(data).hexdigest()}:{len(data)}:Dangan.Test.Planted\n")
    report = check_archive(arc, clamav_database=db)
    scan = report.items["GD-4-2"]
    assert scan.verdict == "不通过", scan.as_dict()
    assert scan.problems[0]["detail"] == "发现病毒: Dangan.Test.Planted.UNOFFICIAL"
    assert report.items["GD-4-1"].verdict == "通过"
    # without any database clamscan cannot scan: said plainly, not passed
    done = subprocess.run(["clamscan", "--version"], capture_output=True, text=True)
    assert done.returncode == 0


def test_planted_records_break_nothing_else(arc: Archive) -> None:
    """The planting helper itself is sound: a whole, readable planted record passes."""
    _plant(arc, "009_身份证明.jpg", _jpeg(), "image/jpeg")
    report = check_archive(arc)
    assert report.ok, [i.as_dict() for i in report.ordered() if i.verdict == "不通过"]


def test_worker_processes_give_the_same_verdicts(arc: Archive) -> None:
    """Files opened in worker processes (a large archive's default) are judged exactly as in
    one process: the same items fail at the same places, in the same order."""
    good = _jpeg()
    _plant(arc, "009_身份证明.jpg", good[: len(good) // 2], "image/jpeg")
    _plant(arc, "010_营业执照.pdf", _encrypted_pdf(), "application/pdf")
    (arc.root / FORM).write_bytes((arc.root / FORM).read_bytes() + b"\n")

    def verdicts(workers: int) -> dict[str, Any]:
        report = check_archive(arc, workers=workers)
        return {code: (i.verdict, i.checked, i.problems) for code, i in report.items.items()}

    alone, pooled = verdicts(1), verdicts(2)
    assert pooled == alone
    assert {c for c, v in alone.items() if v[0] == "不通过"} >= {"GD-1-1", "GD-3-4", "GD-3-8"}


def test_a_killed_worker_does_not_stop_the_check(arc: Archive) -> None:
    """A worker that dies (killed, or crashed by a hostile file) costs no verdict: what it
    had not returned is opened in the checking process itself."""
    import os
    import signal

    from archive.check.content import probe
    from archive.check.probe_pool import ProbePool

    paths = sorted(p for p in arc.records.rglob("*.pdf") if ".stamped." not in p.name)
    assert len(paths) >= 4
    asked = paths * 200  # seconds of work: the workers are killed long before it is done
    with ProbePool(asked, workers=2) as pool:
        pids = pool.pids()
        assert pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        found = [pool.get(p) for p in paths]
        assert pool.pids() == []  # the broken pool was given up
    assert found == [probe(p) for p in paths]
