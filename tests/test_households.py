"""``dangan households import``: GBK CSV and XLSX exports, all-or-nothing validation."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_dangan
from openpyxl import Workbook

from samples.badfiles import _jpeg
from samples.textpdf import make_households, write_roster_csv


def test_gbk_csv_roster_names_the_household_folders(archive_dir: Path, tmp_path: Path) -> None:
    households = make_households(20, seed=9)
    first = households[0]
    folder = archive_dir / "inbox" / "许可证" / first.licence_no
    folder.mkdir(parents=True)
    (folder / "申请表.jpg").write_bytes(_jpeg())
    assert run_dangan("ingest", "--archive", archive_dir).returncode == 0
    assert (archive_dir / "records" / "许可证档案" / first.licence_no).is_dir()

    roster = tmp_path / "名册.csv"
    write_roster_csv(roster, households, encoding="gbk")
    result = run_dangan("households", "import", roster, "--json", "--archive", archive_dir)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == 20
    renamed = archive_dir / "records" / "许可证档案" / f"{first.licence_no}_{first.name}"
    assert (renamed / "001_申请表.jpg").exists()
    shown = json.loads(run_dangan("show", first.name, "--json", "--archive", archive_dir).stdout)[0]
    assert shown["household"]["operator"] == first.operator
    assert shown["household"]["class"] == first.klass
    assert shown["documents"][0]["record"].startswith(
        f"records/许可证档案/{first.licence_no}_{first.name}/"
    )
    assert run_dangan("verify", "--archive", archive_dir).returncode == 0
    # Survives a rebuild: the roster is kept in the archive itself.
    run_dangan("reindex", "--archive", archive_dir)
    listed = json.loads(run_dangan("households", "list", "--json", "--archive", archive_dir).stdout)
    assert len(listed) == 20 and listed[0]["licence_no"].startswith("610522")


def test_xlsx_roster_with_numeric_cells_and_validity_range(
    archive_dir: Path, tmp_path: Path
) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "许可证号码", "字号名称", "经营者", "地址", "监管类别", "有效期限"])
    ws.append(
        [
            1,
            610522100123,
            "张三烟酒店",
            "张三",
            "城关镇东大街1号",
            "守法经营户",
            "2021年3月1日至2026年2月28日",
        ]
    )
    ws.append(
        [2, "610522100124", "李四便利店", "李四", "秦东镇", "重点监控户", "2020-01-01至2024-12-31"]
    )
    path = tmp_path / "名册.xlsx"
    wb.save(path)
    result = run_dangan("households", "import", path, "--archive", archive_dir)
    assert result.returncode == 0, result.stderr
    rows = json.loads(run_dangan("households", "list", "--json", "--archive", archive_dir).stdout)
    assert rows[0] == {
        "licence_no": "610522100123",
        "name": "张三烟酒店",
        "operator": "张三",
        "address": "城关镇东大街1号",
        "class": "守法经营户",
        "valid_from": "2021-03-01",
        "valid_to": "2026-02-28",
    }
    assert rows[1]["valid_to"] == "2024-12-31"


def test_bad_roster_reports_every_problem_and_imports_nothing(
    archive_dir: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good.csv"
    write_roster_csv(good, make_households(3, seed=1))
    assert run_dangan("households", "import", good, "--archive", archive_dir).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "许可证号,户名,类别,有效期起,有效期止\n"
        "61052210012,短号店,守法经营户,2021-01-01,2026-01-01\n"
        "110101100123,外县店,守法经营户,2021-01-01,2026-01-01\n"
        "610522100200,,普通户,2021-13-01,2020-01-01\n"
        "610522100201,正常店,守法经营户,2021-01-01,2026-01-01\n"
        "610522100201,重复店,守法经营户,2021-01-01,2026-01-01\n",
        encoding="utf-8",
    )
    result = run_dangan("households", "import", bad, "--archive", archive_dir)
    assert result.returncode == 8
    err = result.stderr
    for expected in (
        "第2行 许可证号",
        "第3行 许可证号",
        "第4行 户名",
        "第4行 类别",
        "第4行 有效期起",
        "第6行 许可证号: 应为不重复 (第5行已有)",
    ):
        assert expected in err, expected
    assert "6 处问题" in err
    rows = json.loads(run_dangan("households", "list", "--json", "--archive", archive_dir).stdout)
    assert len(rows) == 3  # the earlier roster is untouched
