"""Corrections round-trip: verify stays clean, reindex rebuilds the same catalog and index,
the history says who and why, 件号 stay continuous; bad input changes nothing."""

from __future__ import annotations

import getpass
import hashlib
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from _archival import CASE, LICENCE_A, LICENCE_B, build_small_archive, invoke, invoke_json, sidecar

from archive.core.config import Archive
from archive.core.errors import LockedError, NotFoundError, UsageError
from archive.records.corrections import StateError
from archive.records.finder import SearchRequest
from archive.records.fixity import verify_records
from archive.records.reindex import open_catalog, reindex_catalog
from archive.records.search_sync import rebuild_index, search_archive

MIXED = f"records/许可证档案/{LICENCE_B}_李四商店/001_申请表.pdf"
LICENCE_FORM = f"records/许可证档案/{LICENCE_A}_张三烟酒店/001_申请表.pdf"
MINUTES = "records/会议记录/专销联动会议/2011/001_会议记录.pdf"


@pytest.fixture
def small(tmp_path: Path) -> Archive:
    return build_small_archive(tmp_path / "档案库")


def tree(archive: Archive) -> dict[str, str]:
    """Every file under records/ and its SHA-256."""
    return {
        p.relative_to(archive.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(archive.records.rglob("*"))
        if p.is_file()
    }


ASKED = SearchRequest(q="许可证", per_page=100)


def round_trip(archive: Archive) -> None:
    """verify clean; reindex gives the same catalog and the same search answers."""
    with archive.writer_lock(), open_catalog(archive) as catalog:
        report = verify_records(archive, catalog)
        assert report.ok, report.as_dict()
        rebuild_index(archive, catalog)
        before = catalog.snapshot()
        hits = [(h.path, h.archival_code) for h in search_archive(archive, catalog, ASKED).hits]
        assert reindex_catalog(archive, catalog).problems == []
        assert catalog.snapshot() == before
        rebuild_index(archive, catalog)
        again = [(h.path, h.archival_code) for h in search_archive(archive, catalog, ASKED).hits]
        assert again == hits


def numbers(archive: Archive) -> dict[tuple[str, int, str, str], list[int]]:
    groups: dict[tuple[str, int, str, str], list[int]] = defaultdict(list)
    for side_path in archive.records.rglob("*.json"):
        side = __import__("json").loads(side_path.read_text("utf-8"))
        held = [side["archival"]] if side.get("archival") else []
        held += side.get("archival_history", [])
        for n in held:
            groups[(n["fonds"], n["year"], n["retention"], n["org"])].append(n["item"])
    return groups


def assert_continuous(archive: Archive) -> None:
    for group, items in numbers(archive).items():
        assert sorted(items) == list(range(1, len(items) + 1)), (group, items)


def test_every_correction_round_trips_with_who_and_why(small: Archive) -> None:
    round_trip(small)
    # split a scan of three papers into three records; the original is withdrawn
    done = invoke_json(
        small, "split", MIXED, "1,2,3", "--types", "申请表,实地核查记录,送达回证",
        "--reason", "一次扫了三份", "--by", "王会计",
    )  # fmt: skip
    parts = [d for d in done if d["op"] == "split_from"]
    assert [p["detail"] for p in parts] == ["第1-1页", "第2-2页", "第3-3页"]
    withdrawn = next(d for d in done if d["op"] == "withdrawn")
    old = sidecar(small, withdrawn["record"])
    assert old["status"] == "withdrawn" and old["withdrawn"]["by"] == "王会计"
    assert old["withdrawn"]["split_into"] == [p["record_id"] for p in parts]
    assert old["archival"]["code"] == withdrawn["archival_code"]  # keeps its number
    for p in parts:
        new = sidecar(small, p["record"])
        assert new["split_from"]["sha256"] == old["sha256"]
        assert new["events"][-2]["event"] == "split_from" and new["events"][-2]["by"] == "王会计"
    round_trip(small)
    assert_continuous(small)

    # edit: type within the dossier (relabelled in place, keeps its 件号)
    ed = invoke_json(
        small, "edit", f"records/许可证档案/{LICENCE_A}_张三烟酒店/002_营业执照.pdf",
        "--type", "身份证明", "--reason", "类型认错", "--by", "李文书",
    )  # fmt: skip
    assert ed["record"].endswith("/002_身份证明.pdf")
    side = sidecar(small, ed["record"])
    last = side["events"][-1]
    assert (last["event"], last["by"], last["reason"]) == ("corrected", "李文书", "类型认错")
    assert last["before"]["doc_type"] == "营业执照" and last["after"]["doc_type"] == "身份证明"
    round_trip(small)

    # edit: 会议记录 (永久) → 签到表 (定期10年): a new 件号 in the new group, the old kept
    code_before = sidecar(small, MINUTES)["archival"]["code"]
    ed = invoke_json(small, "edit", MINUTES, "--type", "签到表", "--reason", "实为签到表")
    side = sidecar(small, ed["record"])
    assert (
        side["archival"]["retention"] == "定期10年" and "-D10-HY-0001" in side["archival"]["code"]
    )
    assert side["archival_history"][0]["code"] == code_before
    round_trip(small)
    assert_continuous(small)

    # move into another household; then withdraw one
    mv = invoke_json(small, "move", LICENCE_FORM, LICENCE_B, "--reason", "归错户")
    assert f"{LICENCE_B}_李四商店/" in mv["record"]
    assert sidecar(small, mv["record"])["keys"]["licence_no"] == LICENCE_B
    wd = invoke_json(small, "withdraw", mv["record"], "--reason", "重复材料")
    assert wd["record"].startswith("records/已撤出/")
    round_trip(small)
    assert_continuous(small)

    # history through the CLI: every correction with who and why
    hist = invoke(small, "history", wd["record"])
    me = getpass.getuser()  # the CLI's actor when --by is not given: the OS user
    assert f"moved  [{me}]" in hist.output and "原因: 归错户" in hist.output
    assert f"withdrawn  [{me}]" in hist.output and "原因: 重复材料" in hist.output


def test_replace_files_the_rescan_and_withdraws_the_old(small: Archive, tmp_path: Path) -> None:
    from _archival import household_pdf

    rescan = tmp_path / "重扫.pdf"
    rescan.write_bytes(household_pdf(LICENCE_A, "张三烟酒店", "申请表", "2011-03-06"))
    done = invoke_json(small, "replace", LICENCE_FORM, str(rescan), "--reason", "原件模糊")
    new, old = done
    assert new["op"] == "replaces" and old["op"] == "withdrawn"
    new_side, old_side = sidecar(small, new["record"]), sidecar(small, old["record"])
    assert new_side["replaces"] == old_side["sha256"]
    assert old_side["withdrawn"]["replaced_by"] == [new_side["sha256"]]
    assert new_side["dossier"]["key"] == LICENCE_A
    assert rescan.exists()  # the clerk's file is copied, not taken
    round_trip(small)
    assert_continuous(small)


def test_bad_corrections_are_refused_and_change_nothing(small: Archive) -> None:
    before = tree(small)
    cases = [
        (("move", LICENCE_FORM, "610522100999", "--reason", "x"), NotFoundError, "没有这个档案"),
        (
            ("move", LICENCE_FORM, "潼烟罚〔2011〕99号", "--reason", "x"),
            NotFoundError,
            "没有这个档案",
        ),
        (("move", LICENCE_FORM, "乱写", "--reason", "x"), UsageError, "不是档案的写法"),
        (("split", MIXED, "1,2-5", "--reason", "x"), UsageError, "超出页数, 该文件共 3 页"),
        (("split", MIXED, "1,3", "--reason", "x"), UsageError, "第2页没有归入任何一段"),
        (("split", LICENCE_FORM, "1,2", "--reason", "x"), UsageError, "超出页数"),
        (
            ("edit", LICENCE_FORM, "--type", "火星文", "--reason", "x"),
            UsageError,
            "不是已知的文书类型",
        ),
        (("edit", LICENCE_FORM, "--date", "2011-13-40", "--reason", "x"), UsageError, "应为日期"),
        (("edit", LICENCE_FORM, "--reason", "x"), UsageError, "没有要更正的内容"),
        (("withdraw", "records/没有/这个.pdf", "--reason", "x"), NotFoundError, "没有这份档案"),
        (
            ("withdraw", "../../etc/passwd", "--reason", "x"),
            UsageError,
            "不在档案库的 records/ 之内",
        ),
        (("withdraw", LICENCE_FORM, "--reason", " "), UsageError, "须写明原因"),
    ]
    for args, kind, words in cases:
        result = invoke(small, *args)
        assert isinstance(result.exception, kind), (args, result.exception)
        assert words in str(result.exception), (args, str(result.exception))
        assert tree(small) == before, args
    # a record already withdrawn
    invoke_json(small, "withdraw", LICENCE_FORM, "--reason", "重复")
    after = tree(small)
    result = invoke(small, "withdraw", "records/已撤出/001_申请表.pdf", "--reason", "again")
    assert isinstance(result.exception, StateError) and "已撤出" in str(result.exception)
    assert tree(small) == after
    round_trip(small)


def test_a_second_process_correcting_at_the_same_time_is_refused(small: Archive) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path\n"
            "from archive.core.config import Archive\n"
            "with Archive(Path(sys.argv[1])).writer_lock():\n"
            "    print('held', flush=True); time.sleep(30)\n",
            str(small.root),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        before = tree(small)
        start = time.monotonic()
        result = invoke(small, "withdraw", LICENCE_FORM, "--reason", "x", "--wait", "0.5")
        assert isinstance(result.exception, LockedError)
        assert "另一个 dangan 进程正在写入" in str(result.exception)
        assert time.monotonic() - start < 20
        assert tree(small) == before
    finally:
        holder.kill()
        holder.wait()


def test_corrections_keep_case_and_tray_keys(small: Archive) -> None:
    case_doc = f"records/处罚案卷/{CASE}/001_询问笔录.pdf"
    ed = invoke_json(small, "edit", case_doc, "--date", "2011-04-01", "--reason", "日期录错")
    side = sidecar(small, ed["record"])
    assert side["keys"]["date"] == "2011-04-01" and side["keys"]["case_no"] == CASE
    assert side["archival"]["item"] == 1  # same year, same group: the number stays
    ed = invoke_json(small, "edit", ed["record"], "--date", "2012-01-05", "--reason", "年份录错")
    side = sidecar(small, ed["record"])
    assert side["archival"]["year"] == 2012 and side["archival_history"][-1]["year"] == 2011
    round_trip(small)
    assert_continuous(small)


def test_show_and_search_give_the_archival_code(small: Archive) -> None:
    shown = invoke_json(small, "show", LICENCE_A)
    codes = [d["archival_code"] for d in shown[0]["documents"]]
    assert codes == ["J001-WS·2011-D30-XK-0001", "J001-WS·2011-D30-XK-0002"]
    assert "J001-WS·2011-D30-XK-0001" in invoke(small, "show", LICENCE_A).output
    with small.writer_lock(), open_catalog(small) as catalog:
        rebuild_index(small, catalog)
    found = invoke_json(small, "search", "张三烟酒店")
    assert {h["archival_code"] for h in found["hits"]} == set(codes)
    assert "J001-WS·2011-D30-XK-0002" in invoke(small, "search", "张三烟酒店").output
