"""``dangan audit`` and the bureau-file commands (criteria, findings, metrics) end to end."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import run_dangan
from openpyxl import load_workbook
from test_score import AS_OF, Defective, complete, defective

from archive.assess.criteria import load_standard
from archive.assess.criteria_import import check_table
from archive.paperwork.audit_xlsx import FINDING_HEADERS
from samples.criteria.make_tables import (
    SAMPLE_STANDARD,
    make_tables,
    standard_rows,
    write_docx,
    write_xlsx,
)

__all__ = ["complete", "defective"]  # module-scoped fixtures shared with test_score
SAMPLE_FINDINGS = Path(__file__).resolve().parents[1] / "samples" / "criteria" / "findings.yaml"


def audit_json(archive: Path, *extra: str) -> dict[str, Any]:
    result = run_dangan("audit", "--json", "--as-of", AS_OF, "--archive", archive, *extra)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture
def scratch(complete: Path, tmp_path: Path) -> Path:
    """A copy of the complete archive a test may write bureau files into."""
    return Path(shutil.copytree(complete, tmp_path / "档案库"))


# ------------------------------------------------------------------------ audit


def test_audit_finds_every_kind_of_defect(defective: Defective) -> None:
    data = audit_json(defective.archive)
    assert data["sample_standard"] is True and data["year"] == 2011
    by: dict[str, list[dict[str, Any]]] = {}
    for f in data["findings"]:
        by.setdefault(f["code"], []).append(f)
    expected = {
        "missing_document": "5.8",
        "meeting_missing": "4.4",
        "evidence_missing": "7.3",
        "metric_below": "3.1",
        "metric_missing": "3.4",
        "illegible": "6.3",
        "title_mismatch": "6.3",
        "licence_expired": "6.3",
        "licence_expiring": None,
        "unresolved": None,
        "duplicate": None,
        "quarantined": None,
        "checksum_changed": "7.3",  # the changed record is the year's 实施方案
        "manual_check": "3.7",
    }
    for code, criterion in expected.items():
        assert code in by, code
        assert by[code][0]["criterion"] == criterion, (code, by[code])
        assert by[code][0]["label"] and by[code][0]["action"], code
    assert by["unresolved"][0]["record"].startswith("records/待归档/")
    assert "未命名扫描" in by["unresolved"][0]["message"]
    assert by["duplicate"][0]["subject"] == "inbox/其他/2011/重复.pdf"
    assert by["quarantined"][0]["subject"] == "inbox/其他/扫描0001.pdf"
    assert by["checksum_changed"][0]["record"] == defective.changed
    # Errors come first; counts add up.
    severities = [f["severity"] for f in data["findings"]]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert sum(data["counts"].values()) == len(data["findings"])


def test_no_fixity_skips_hashing(defective: Defective) -> None:
    data = audit_json(defective.archive, "--no-fixity")
    assert "checksum_changed" not in {f["code"] for f in data["findings"]}


def test_audit_table_has_chinese_headers(defective: Defective) -> None:
    result = run_dangan("audit", "--no-fixity", "--as-of", AS_OF, "--archive", defective.archive)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["级别", "类别", "子项", "对象", "说明", "→", "处理办法"]
    assert any(
        line.startswith("问题") and "会议无记录" in line and "2011年3月" in line for line in lines
    )
    assert "共 " in result.stderr and "问题 " in result.stderr


def test_audit_xlsx_is_a_formatted_sheet(defective: Defective, tmp_path: Path) -> None:
    out = tmp_path / "自查问题清单.xlsx"
    data = audit_json(defective.archive, "--xlsx", str(out))
    wb = load_workbook(out)
    assert wb.sheetnames == ["问题清单", "自评得分"]
    ws = wb["问题清单"]
    assert "样例" in str(ws["A2"].value)  # the sample-standard warning is on the sheet too
    assert [c.value for c in ws[3]] == list(FINDING_HEADERS)
    assert ws.freeze_panes == "A4"
    assert ws.auto_filter.ref == f"A3:I{3 + len(data['findings'])}"
    assert ws.column_dimensions["G"].width >= 40 and ws["A3"].font.b
    assert ws.max_row == 3 + len(data["findings"])
    assert [ws.cell(4 + i, 9).value for i in range(len(data["findings"]))] == [
        f["code"] for f in data["findings"]
    ]
    score = wb["自评得分"]
    assert score.freeze_panes == "A4" and score.auto_filter.ref.startswith("A3:")
    rows = {r[0]: r for r in score.iter_rows(min_row=4, values_only=True)}
    assert rows["4.4"][3:6] == (4, 3.5, "部分达标")
    assert rows["合计"][3] == 100


def test_bad_as_of_is_a_usage_error(defective: Defective) -> None:
    result = run_dangan("audit", "--as-of", "2011/13/40", "--archive", defective.archive)
    assert result.returncode == 2
    assert result.stderr.strip() == "错误: --as-of '2011/13/40': 应为日期, 如 2011-12-31"


# ------------------------------------------------------------------------ criteria


def _body(path: Path) -> str:
    return "".join(
        line
        for line in path.read_text(encoding="utf-8").splitlines(True)
        if not line.startswith("#")
    )


def test_criteria_import_from_docx_and_xlsx_gives_the_same_yaml(
    scratch: Path, tmp_path: Path
) -> None:
    docx_path, xlsx_path = make_tables(tmp_path / "tables")
    first = run_dangan("criteria", "import", docx_path, "--archive", scratch)
    assert first.returncode == 0, first.stderr
    assert "34 个子项" in first.stdout and "100 分" in first.stdout
    second = run_dangan(
        "criteria", "import", xlsx_path, "--out", tmp_path / "x.yaml", "--archive", scratch
    )
    assert second.returncode == 0, second.stderr
    target = scratch / "评分标准.yaml"
    assert _body(target) == _body(tmp_path / "x.yaml")
    std = load_standard(target)
    assert std.sample is False and len(std.criteria) == 34
    # From now on the audit uses the bureau's standard and says nothing about the sample.
    result = run_dangan("score", "--json", "--as-of", AS_OF, "--archive", scratch)
    assert result.returncode == 0 and "样例" not in result.stderr
    data = json.loads(result.stdout)
    assert data["sample_standard"] is False and data["standard_file"] == str(target)


def test_malformed_table_is_reported_row_by_row_and_nothing_written(
    scratch: Path, tmp_path: Path
) -> None:
    rows = standard_rows(load_standard(SAMPLE_STANDARD))
    rows[2] = dataclasses.replace(rows[2], points="若干")
    rows[4] = dataclasses.replace(rows[4], text="")
    rows[6] = dataclasses.replace(rows[6], number=rows[5].number)
    for path in (
        write_docx(tmp_path / "坏.docx", "评分标准", rows, "100"),
        write_xlsx(tmp_path / "坏.xlsx", "评分标准", rows, "100"),
    ):
        problems = check_table(path)
        assert len(problems) >= 3
        checked = run_dangan("criteria", "check", path)
        assert checked.returncode == 8
        for problem in problems:
            assert str(problem) in checked.stderr
        assert f"{len(problems)} 处问题" in checked.stderr
        imported = run_dangan("criteria", "import", path, "--archive", scratch)
        assert imported.returncode == 8 and str(problems[0]) in imported.stderr
        assert not (scratch / "评分标准.yaml").exists()
    good = run_dangan("criteria", "check", SAMPLE_STANDARD)
    assert good.returncode == 0 and "没有发现问题" in good.stdout


# ------------------------------------------------------------------------ findings


def test_findings_import_and_link_to_what_answers_them(scratch: Path, tmp_path: Path) -> None:
    result = run_dangan("findings", "import", SAMPLE_FINDINGS, "--archive", scratch)
    assert result.returncode == 0, result.stderr
    assert "已导入 22 条问题" in result.stdout and (scratch / "检查发现.yaml").is_file()
    listed = run_dangan("findings", "list", "--json", "--as-of", AS_OF, "--archive", scratch)
    assert listed.returncode == 0, listed.stderr
    links = {item["problem"]: item for item in json.loads(listed.stdout)}
    assert len(links) == 22
    meetings = links["“三会一课”制度及执行方面不规范"]
    assert meetings["criteria"] == ["1.1"] and meetings["status"] == "rectified"
    assert meetings["records"] and all("党员大会" in r for r in meetings["records"])
    staff = links["专卖人员档案不完整"]
    assert staff["criteria"] == ["3.7"] and staff["status"] == "manual" and staff["overdue"]
    unnamed = links["市管员工作日志未按时审批"]  # no criterion: the area's criteria
    assert unnamed["criteria"] == ["5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7", "5.8"]
    table = run_dangan("findings", "list", "--as-of", AS_OF, "--archive", scratch)
    assert table.stdout.splitlines()[0].split() == ["项目", "子项", "状态", "整改材料", "问题"]
    # A bad findings file is reported row by row; nothing is replaced.
    bad = tmp_path / "坏.yaml"
    bad.write_text(
        "findings:\n"
        "  - {date: 2010-01-24, body: 省局, area: 班子建设, problem: 甲, owner: 张, deadline: 2010-03-31, criterion: '9.9'}\n"
        "  - {date: 昨天, body: 省局, area: 无此项目, problem: 乙, owner: 张, deadline: 2010-03-31}\n",
        encoding="utf-8",
    )
    before = (scratch / "检查发现.yaml").read_bytes()
    failed = run_dangan("findings", "import", bad, "--archive", scratch)
    assert failed.returncode == 8
    assert "第2行 criterion" in failed.stderr and "第3行 date" in failed.stderr
    assert "第3行 area" in failed.stderr
    assert (scratch / "检查发现.yaml").read_bytes() == before


# ------------------------------------------------------------------------ metrics


def test_metrics_template_then_import(scratch: Path, tmp_path: Path) -> None:
    template = tmp_path / "自查数据.xlsx"
    made = run_dangan(
        "metrics", "template", "--out", template, "--year", "2011", "--archive", scratch
    )
    assert made.returncode == 0, made.stderr
    wb = load_workbook(template)
    ws = wb.active
    assert ws is not None
    keys = [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert "技能鉴定初级通过率" in keys and "市场净化率" in keys and len(keys) == 11
    evidence = next((scratch / "records" / "工作材料").rglob("*.pdf")).relative_to(scratch)
    for row in range(2, ws.max_row + 1):
        ws.cell(row, 2, 100 if ws.cell(row, 3).value == "%" else 50)
        ws.cell(row, 5, evidence.as_posix())
    wb.save(template)
    imported = run_dangan("metrics", "import", template, "--archive", scratch)
    assert imported.returncode == 0, imported.stderr
    assert "已导入 11 个指标" in imported.stdout
    data = json.loads(run_dangan("score", "--json", "--as-of", AS_OF, "--archive", scratch).stdout)
    c31 = next(c for c in data["criteria"] if c["code"] == "3.1")
    assert c31["status"] == "met" and c31["evidence"] == [evidence.as_posix()]
    # Evidence that is not in the archive: every such row reported, nothing imported.
    ws.cell(2, 5, "records/没有这个文件.pdf")
    ws.cell(3, 5, "records/也没有.pdf")
    wb.save(template)
    failed = run_dangan("metrics", "import", template, "--archive", scratch)
    assert failed.returncode == 8
    assert "第2行 evidence" in failed.stderr and "第3行 evidence" in failed.stderr
