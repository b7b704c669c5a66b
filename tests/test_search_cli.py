"""``dangan search`` end to end: the index follows intake, roster renames and rebuilds."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_dangan

from samples.textpdf import make_households, render_pages, write_roster_csv


def _search(archive: Path, *query: str) -> dict:
    result = run_dangan("search", *query, "--json", "--archive", archive)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _drop_case(archive: Path) -> None:
    folder = archive / "inbox" / "案卷" / "潼烟罚〔2011〕第12号"
    folder.mkdir(parents=True)
    [decision] = render_pages(
        [
            (
                "行政处罚决定书",
                [
                    "当事人：淳于葳蕤，经营地址：潼关县秦东镇吊桥村",
                    "查获“中华”牌卷烟共计120条",
                    "本局决定：没收上述卷烟。潼烟罚〔2011〕第12号",
                ],
            )
        ]
    )
    (folder / "行政处罚决定书.pdf").write_bytes(decision)


def test_search_finds_names_keys_and_case_forms(archive_dir: Path) -> None:
    _drop_case(archive_dir)
    assert run_dangan("ingest", "--archive", archive_dir).returncode == 0
    # A name no dictionary knows, by any two characters of it.
    for part in ("淳于葳蕤", "葳蕤", "淳于"):
        hits = _search(archive_dir, part)["hits"]
        assert [h["record"] for h in hits] == [
            "records/处罚案卷/潼烟罚〔2011〕12号/001_行政处罚决定书.pdf"
        ], part
        assert "【" in hits[0]["snippet"]
    for written in ("案号:潼烟罚[2011]12号", "潼烟罚【2011】第12号", "2011 12"):
        assert _search(archive_dir, written)["total"] == 1, written
    assert _search(archive_dir, "吊桥村", "中华")["total"] == 1
    assert _search(archive_dir, "类型:行政处罚决定书", "日期:2011")["total"] == 0  # no date in it
    missing = run_dangan("search", "不存在的名字", "--archive", archive_dir)
    assert missing.returncode == 0 and "没有找到" in missing.stdout


def test_index_follows_roster_renames_and_rebuilds(archive_dir: Path, tmp_path: Path) -> None:
    households = make_households(5, seed=11)
    h = households[0]
    folder = archive_dir / "inbox" / "许可证" / h.licence_no
    folder.mkdir(parents=True)
    [pdf] = render_pages(
        [("烟草专卖零售许可证申请表", [f"许可证号：{h.licence_no}", f"负责人：{h.operator}"])]
    )
    (folder / "申请表.pdf").write_bytes(pdf)
    assert run_dangan("ingest", "--archive", archive_dir).returncode == 0
    by_digits = _search(archive_dir, f"许可证号:{h.licence_no[-5:]}")
    assert by_digits["hits"][0]["record"] == f"records/许可证档案/{h.licence_no}/001_申请表.pdf"

    roster = tmp_path / "名册.csv"
    write_roster_csv(roster, households)
    assert run_dangan("households", "import", roster, "--archive", archive_dir).returncode == 0
    renamed = f"records/许可证档案/{h.licence_no}_{h.name}/001_申请表.pdf"
    assert _search(archive_dir, h.licence_no)["hits"][0]["record"] == renamed
    assert _search(archive_dir, f"户名:{h.name}")["hits"][0]["record"] == renamed
    assert _search(archive_dir, "类别:" + h.klass)["total"] == 1

    # An interrupted rebuild resumes; a deleted index is rebuilt; answers stay the same.
    state = archive_dir / ".dangan"
    (state / "index.rebuilding").touch()
    assert run_dangan("reindex", "--archive", archive_dir).returncode == 0
    assert not (state / "index.rebuilding").exists()
    import shutil

    shutil.rmtree(state / "index")
    assert _search(archive_dir, h.licence_no)["hits"][0]["record"] == renamed
