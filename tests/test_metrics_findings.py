"""The bureau's metrics file and the inspection findings file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook

from archive.assess.audit_inputs import SAMPLE_STANDARD
from archive.assess.criteria import load_standard
from archive.assess.findings import (
    check_findings,
    load_findings,
    parse_date,
    write_findings_xlsx,
)
from archive.assess.metrics import (
    check_metrics,
    load_metrics,
    missing_metrics,
    normalise_period,
    write_metrics_template,
)
from archive.core.errors import ValidationError

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "criteria"
SEED_001 = Path("/work/shared/seeds/001_ee90457598df00c9.txt")


@pytest.fixture(scope="module")
def standard():  # type: ignore[no-untyped-def]
    return load_standard(SAMPLE_STANDARD)


# ------------------------------------------------------------------------- metrics


def test_sample_metrics_cover_every_figure_the_sample_standard_needs(standard) -> None:  # type: ignore[no-untyped-def]
    metrics = load_metrics(SAMPLES / "metrics.yaml", standard=standard)
    assert missing_metrics(standard, metrics, "2011") == []
    assert all(m.evidence for m in metrics.metrics)
    assert metrics.bureau == "样例县烟草专卖局"


def test_values_are_computed_from_numerator_and_denominator() -> None:
    metrics = load_metrics(SAMPLES / "metrics.yaml")
    primary = metrics.get("技能鉴定初级通过率", "2011")
    assert primary is not None and primary.value == 80.0 and primary.unit == "%"
    cases = metrics.get("行政执法案卷评查优秀率", "2011")
    assert cases is not None and cases.value == pytest.approx(92.86)
    quarterly = metrics.get("集中整治次数", "2011")  # a year finds its quarter
    assert quarterly is not None and quarterly.period == "2011-Q1"
    assert metrics.get("市场净化率", "2012") is None


BAD_METRICS = """\
period: "2011"
metrics:
  - key: 市场净化率
    value: 95%
    evidence: a.pdf
  - key: 净化度
    value: 1
    evidence: b.pdf
  - key: 技能鉴定初级通过率
    value: 120
    evidence: c.pdf
  - key: 人均培训课时
    value: 40
    unit: 小时
    evidence: d.pdf
  - key: 案件移送率
    value: 100
  - key: 技能鉴定中级通过率
    value: 90
    numerator: 3
    denominator: 4
    evidence: e.pdf
  - key: 执法资格考试通过率
    value: 100
    period: 去年
    evidence: f.pdf
  - key: 市场净化率
    value: 96
    evidence: g.pdf
  - key: 市场净化率
    value: 97
    evidence: h.pdf
    colour: red
"""


def test_every_problem_of_a_metrics_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "metrics.yaml"
    path.write_text(BAD_METRICS, encoding="utf-8")
    problems = check_metrics(path)
    got = {(p.row, p.field) for p in problems}
    assert got == {
        (3, "value"),  # 95% is not a number
        (6, "key"),  # unknown figure
        (9, "value"),  # 120% is not a rate
        (12, "unit"),  # 小时 instead of 课时
        (16, "evidence"),  # no proof
        (18, "value"),  # 90 but 3/4 = 75
        (23, "period"),  # 去年
        (30, "key"),  # 市场净化率 2011 twice (rows 27 and 30)
        (33, "colour"),  # unknown field
    }
    with pytest.raises(ValidationError) as err:
        load_metrics(path)
    assert len(err.value.problems) == len(problems)


def test_evidence_files_must_exist_under_the_archive(tmp_path: Path) -> None:
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "测算表.xlsx").write_bytes(b"x")
    path = tmp_path / "metrics.yaml"
    path.write_text(
        "period: 2011\nmetrics:\n"
        "  - {key: 市场净化率, value: 96, evidence: records/测算表.xlsx}\n"
        "  - {key: 案件移送率, value: 100, evidence: records/移送记录.pdf}\n"
        "  - {key: 宣传活动次数, value: 2, evidence: 'REC-2011-0042'}\n",
        encoding="utf-8",
    )
    problems = check_metrics(path, evidence_root=tmp_path)
    assert [(p.row, p.field, p.found) for p in problems] == [
        (4, "evidence", "records/移送记录.pdf")
    ]


def test_metrics_named_by_the_standard_are_accepted_with_a_unit(tmp_path: Path) -> None:
    std_path = tmp_path / "std.yaml"
    std_path.write_text(
        "name: 某标准\nareas:\n  - code: '1'\n    name: 市场监管\n    points: 2\n    criteria:\n"
        "      - code: '1.1'\n        text: 农网电子结算率达到85%\n        points: 2\n"
        "        evidence: [{kind: metric, metric: 农网电子结算率, threshold: 85}]\n",
        encoding="utf-8",
    )
    std = load_standard(std_path)
    path = tmp_path / "metrics.yaml"
    path.write_text(
        "period: 2011\nmetrics:\n  - {key: 农网电子结算率, value: 86, evidence: x.pdf}\n",
        encoding="utf-8",
    )
    assert [p.field for p in check_metrics(path)] == ["key"]
    assert [p.field for p in check_metrics(path, standard=std)] == ["unit"]
    path.write_text(
        "period: 2011\nmetrics:\n"
        "  - {key: 农网电子结算率, value: 86, unit: '%', evidence: x.pdf}\n",
        encoding="utf-8",
    )
    assert load_metrics(path, standard=std).metrics[0].value == 86


def test_excel_template_round_trip(tmp_path: Path, standard) -> None:  # type: ignore[no-untyped-def]
    from archive.assess.metrics import metrics_used

    keys = metrics_used(standard)
    path = write_metrics_template(tmp_path / "指标.xlsx", "2011", keys)
    blank = check_metrics(path)
    assert {p.field for p in blank} == {"value", "evidence"}
    assert len(blank) == 2 * len(keys)
    wb = load_workbook(path)
    ws = wb.active
    assert ws is not None
    for r in range(2, ws.max_row + 1):
        ws.cell(r, 2, 100)
        ws.cell(r, 5, f"records/证明{r}.pdf")
    ws.cell(2, 4, "2011年第一季度")
    wb.save(path)
    metrics = load_metrics(path)
    assert [m.key for m in metrics.metrics] == keys
    assert metrics.metrics[0].period == "2011-Q1"
    assert metrics.metrics[0].row == 2


@pytest.mark.parametrize(
    ("raw", "period"),
    [
        ("2011", "2011"),
        (2011, "2011"),
        ("2011年度", "2011"),
        ("2011-Q3", "2011-Q3"),
        ("2011年第三季度", "2011-Q3"),
        ("2011年3月", "2011-03"),
        ("２０１１年十二月", "2011-12"),
        ("2011-13", None),
        ("去年", None),
    ],
)
def test_periods(raw: object, period: str | None) -> None:
    assert normalise_period(raw) == period


# ------------------------------------------------------------------------ findings


def test_sample_findings_quote_the_2010_report(standard) -> None:  # type: ignore[no-untyped-def]
    findings = load_findings(SAMPLES / "findings.yaml", standard)
    assert len(findings) == 22
    assert {f.area for f in findings} == {
        "班子建设", "企业文化", "队伍建设", "内部监管", "市场监管", "证件管理",
    }  # fmt: skip
    f = findings[0]
    assert (f.inspected_on, f.inspected_until) == (dt.date(2010, 1, 24), dt.date(2010, 1, 26))
    assert f.body == "省局考核验收组" and f.notice and "整改通知" in f.notice
    problems = [f.problem for f in findings]
    assert "行政处罚案卷电子卷宗、部分案卷缺附件" in problems
    assert "个别行政许可电子卷宗中工商营业执照上传附件中不能清晰显示" in problems
    assert "附件标题与实际内容不符" in problems
    owners = {f.area: f.owner for f in findings}
    assert owners["内部监管"] == "贺志峰" and owners["证件管理"] == "高凤生"
    for f in findings:
        if f.criterion:
            assert standard.criterion(f.criterion).area == f.area


@pytest.mark.skipif(not SEED_001.exists(), reason="seed 001 is not on this machine")
def test_sample_findings_are_verbatim_from_seed_001() -> None:
    seed = SEED_001.read_text(encoding="utf-8")
    for f in load_findings(SAMPLES / "findings.yaml"):
        assert f.problem in seed, f.problem
        assert f.notice is not None and f.notice in seed


def test_findings_excel_round_trip(tmp_path: Path, standard) -> None:  # type: ignore[no-untyped-def]
    findings = load_findings(SAMPLES / "findings.yaml", standard)
    path = write_findings_xlsx(tmp_path / "整改问题.xlsx", findings)
    again = load_findings(path, standard)
    assert [
        (f.inspected_on, f.area, f.problem, f.owner, f.deadline, f.criterion) for f in again
    ] == [(f.inspected_on, f.area, f.problem, f.owner, f.deadline, f.criterion) for f in findings]
    assert again[0].row == 2


BAD_FINDINGS = """\
inspection:
  date: 2010-01-24
  body: 省局考核验收组
  deadline: 2010-03-31
findings:
  - {area: 班子建设, owner: 刘红霞, problem: 三会一课不规范}
  - {area: 班子建设, owner: 刘红霞, problem: 三会一课不规范}
  - {area: 后勤, owner: 张三, problem: 车辆未登记}
  - {area: 证件管理, problem: 附件标题与实际内容不符}
  - {area: 证件管理, owner: 高凤生, problem: 营业执照不清晰, deadline: 2009-12-31}
  - {area: 证件管理, owner: 高凤生, problem: 无证户档案, criterion: "9.9"}
  - {area: 证件管理, owner: 高凤生, problem: 预警附件, criterion: "4.5"}
  - {area: 市场监管, owner: 闫凤翔, problem: "", date: 二〇一〇年十三月一日}
"""


def test_every_problem_of_a_findings_file_is_reported(tmp_path: Path, standard) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "findings.yaml"
    path.write_text(BAD_FINDINGS, encoding="utf-8")
    got = {(p.row, p.field) for p in check_findings(path, standard)}
    assert got == {
        (7, "problem"),  # duplicate of row 6
        (8, "area"),  # 后勤 is no area of the standard
        (9, "owner"),
        (10, "deadline"),  # before the inspection
        (11, "criterion"),  # no such sub-item
        (12, "criterion"),  # 4.5 belongs to 内部监管
        (13, "problem"),
        (13, "date"),  # month 13
    }


def test_findings_without_a_standard_accept_the_seed_area_names(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(
        "findings:\n  - {date: 2010年1月24日, body: 市局, area: 内管工作, owner: 贺志峰,"
        " problem: 营销备案不完整, deadline: 二〇一〇年三月三十一日}\n",
        encoding="utf-8",
    )
    (f,) = load_findings(path)
    assert f.area == "内部监管" and f.deadline == dt.date(2010, 3, 31)


@pytest.mark.parametrize(
    ("raw", "date"),
    [
        ("2010-01-24", dt.date(2010, 1, 24)),
        ("2010/1/24", dt.date(2010, 1, 24)),
        ("2010年3月22日", dt.date(2010, 3, 22)),
        ("二〇一〇年一月二十四日", dt.date(2010, 1, 24)),
        ("二〇一〇年十二月三十一日", dt.date(2010, 12, 31)),
        (dt.datetime(2010, 1, 24, 9, 30), dt.date(2010, 1, 24)),
        ("2010年2月30日", None),
        ("下周", None),
    ],
)
def test_parse_date(raw: object, date: dt.date | None) -> None:
    assert parse_date(raw) == date
