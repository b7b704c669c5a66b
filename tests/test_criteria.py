"""The scoring standard as data: the sample, YAML validation, and the Word/Excel importer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from archive.assess.criteria import (
    EVIDENCE_KINDS,
    dump_standard,
    load_standard,
    standard_from_dict,
)
from archive.assess.criteria_import import (
    check_criteria,
    check_table,
    import_criteria,
    infer_evidence,
)
from archive.assess.metrics import CATALOGUE
from archive.core.errors import ConfigError, ValidationError
from samples.criteria.make_tables import (
    SAMPLE_STANDARD,
    make_tables,
    standard_rows,
    write_docx,
    write_grid_docx,
    write_grid_xlsx,
    write_xlsx,
)

AREAS = [
    "班子建设",
    "企业文化",
    "队伍建设",
    "内部监管",
    "市场监管",
    "证件管理",
    "基础设施与制度建设",
]


@pytest.fixture(scope="module")
def sample():  # type: ignore[no-untyped-def]
    return load_standard(SAMPLE_STANDARD)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_tables(tmp_path_factory.mktemp("tables"))


# ------------------------------------------------------------------------ sample


def test_sample_standard_has_the_national_shape(sample) -> None:  # type: ignore[no-untyped-def]
    assert sample.sample is True
    assert "样例" in sample.name
    assert [a.name for a in sample.areas] == AREAS
    assert len(sample.criteria) == 34
    assert sample.points == 100
    for area in sample.areas:
        assert sum(c.points for c in area.criteria) == area.points


def test_sample_evidence_is_all_of_known_kinds(sample) -> None:  # type: ignore[no-untyped-def]
    kinds = {e.kind for c in sample.criteria for e in c.evidence}
    assert kinds <= set(EVIDENCE_KINDS)
    assert kinds == set(EVIDENCE_KINDS), "the sample shows every kind of evidence"
    catalogue = {m.key for m in CATALOGUE}
    for c in sample.criteria:
        assert c.evidence, c.code
        for e in c.evidence:
            if e.kind == "metric":
                assert e.metric in catalogue and e.threshold is not None and e.op == ">="


def test_sample_uses_the_thresholds_of_the_2011_plan(sample) -> None:  # type: ignore[no-untyped-def]
    thresholds = {
        e.metric: e.threshold for c in sample.criteria for e in c.evidence if e.kind == "metric"
    }
    assert thresholds["技能鉴定初级通过率"] == 80
    assert thresholds["技能鉴定中级通过率"] == 70
    assert thresholds["技能鉴定高级通过率"] == 60
    assert thresholds["人均培训课时"] == 40
    assert thresholds["市场净化率"] == 95
    assert thresholds["内管专职人员占比"] == 10
    meetings = {
        e.meeting: (e.every, e.min_per_year)
        for c in sample.criteria
        for e in c.evidence
        if e.kind == "meeting"
    }
    assert meetings["专销联动会议"] == ("month", None)
    assert meetings["党员大会"] == ("quarter", None)
    assert meetings["支委会"] == ("month", None)
    assert meetings["听证会"] == (None, 1)


def test_dump_round_trips(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = dump_standard(sample)
    assert "班子建设" in text and "\\u" not in text  # readable Chinese, not escapes
    path = tmp_path / "std.yaml"
    path.write_text(text, encoding="utf-8")
    again = load_standard(path)
    assert again == sample
    assert dump_standard(again) == text


def test_codes_stay_strings_as_written(tmp_path: Path) -> None:
    path = tmp_path / "std.yaml"
    path.write_text(
        "name: 测试标准\nareas:\n"
        "  - code: 1\n    name: 班子建设\n    points: 2\n    criteria:\n"
        "      - {code: 1.10, text: 每月召开支委会, points: 1, evidence: manual}\n"
        "      - {code: 1.1, text: 党课, points: 1, evidence: manual}\n",
        encoding="utf-8",
    )
    std = load_standard(path)
    assert [c.code for c in std.criteria] == ["1.10", "1.1"]
    assert std.areas[0].code == "1"


BAD_YAML = """\
name: 坏标准
total: 50
areas:
  - code: "1"
    name: 班子建设
    points: 10
    criteria:
      - code: "1.1"
        text: 党员大会每季度召开一次
        points: 十分
        evidence: manual
      - code: "1.1"
        text: ""
        points: 3
        evidence:
          - {kind: photos}
      - code: "1.3"
        text: 专销联动会议
        points: 3
        evidence:
          - {kind: meeting, meeting: 专销联动会议}
          - {kind: metric, metric: 市场净化率, threshold: 95, op: ">>"}
        colour: red
"""


def test_every_problem_of_a_bad_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_YAML, encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_standard(path)
    found = {(p.row, p.field.rsplit(".", 1)[-1]) for p in err.value.problems}
    assert (8, "points") in found  # 十分 is not a number
    assert (12, "code") in found  # duplicate 1.1
    assert (12, "text") in found  # missing wording
    assert (16, "kind") in found  # unknown evidence kind
    assert (21, "every") in found  # meeting without a frequency
    assert (22, "op") in found  # unknown operator
    assert (23, "colour") in found  # unknown field, on its own line
    assert (4, "points") in found  # sub-items do not add up to the area's 10
    assert (1, "total") in found  # areas do not add up to 50
    assert str(path) in str(err.value) and "第8行" in str(err.value)
    assert len(check_criteria(path)) == len(err.value.problems)


def test_broken_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nareas:\n  - code: 1\n   name: y\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_standard(path)
    assert str(path) in str(err.value) and "第4行" in str(err.value)


# ------------------------------------------------------------------------ importer


def test_docx_and_xlsx_import_to_the_same_yaml(tables: tuple[Path, Path]) -> None:
    docx_path, xlsx_path = tables
    from_docx = import_criteria(docx_path)
    from_xlsx = import_criteria(xlsx_path)
    assert from_docx == from_xlsx
    assert dump_standard(standard_from_dict(from_docx)) == dump_standard(
        standard_from_dict(from_xlsx)
    )


def test_imported_table_matches_the_standard_it_was_printed_from(  # type: ignore[no-untyped-def]
    sample, tables: tuple[Path, Path]
) -> None:
    std = standard_from_dict(import_criteria(tables[0]))
    assert std.name == sample.name and std.sample is False and std.total == 100
    assert [(a.code, a.name, a.points) for a in std.areas] == [
        (a.code, a.name, a.points) for a in sample.areas
    ]
    got = [(c.code, c.area, c.item, c.text, c.points, c.scoring) for c in std.criteria]
    want = [(c.code, c.area, c.item, c.text, c.points, c.scoring) for c in sample.criteria]
    assert got == want
    assert [(i.name, i.points) for i in std.areas[0].items] == [("三会一课", 8), ("民主管理", 4)]


def test_imported_evidence_is_inferred_only_from_plain_wording(tables: tuple[Path, Path]) -> None:
    std = standard_from_dict(import_criteria(tables[1]))
    ev = {c.code: c.evidence for c in std.criteria}
    assert [(e.kind, e.meeting, e.every) for e in ev["4.4"]] == [
        ("meeting", "专销联动会议", "month")
    ]
    assert [(e.kind, e.meeting, e.every) for e in ev["1.1"]] == [("meeting", "党员大会", "quarter")]
    assert [(e.kind, e.dossier) for e in ev["6.3"]] == [("dossier_rate", "household")]
    assert [(e.metric, e.op, e.threshold) for e in ev["5.3"]] == [("市场净化率", ">=", 95)]
    assert [(e.metric, e.threshold) for e in ev["3.6"]] == [
        ("行政执法案卷评查优秀率", 90),
        ("行政许可案卷评查优秀率", 90),
    ]
    assert [e.kind for e in ev["2.2"]] == ["manual"]  # 照片等资料: nothing safe to infer
    manual = sum(1 for c in std.criteria if [e.kind for e in c.evidence] == ["manual"])
    assert 0 < manual < 34


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "每月召开专销联动会议",
            [{"kind": "meeting", "meeting": "专销联动会议", "every": "month"}],
        ),
        (
            "党员大会每季度召开一次",
            [{"kind": "meeting", "meeting": "党员大会", "every": "quarter"}],
        ),
        (
            "每年至少召开两次打假协作会",
            [{"kind": "meeting", "meeting": "打假协作会", "min_per_year": 2}],
        ),
        (
            "市场净化率达到95%以上",
            [{"kind": "metric", "metric": "市场净化率", "op": ">=", "threshold": 95}],
        ),
        ("投诉率≤5%", [{"kind": "metric", "metric": "投诉率", "op": "<=", "threshold": 5}]),
        ("专卖人员档案一人一档，专柜保存", "manual"),
    ],
)
def test_infer_evidence(text: str, expected: object) -> None:
    assert infer_evidence(text) == expected


def test_malformed_table_is_reported_row_by_row(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = standard_rows(sample)
    rows[2] = dataclasses.replace(rows[2], points="若干")  # table row 4
    rows[4] = dataclasses.replace(rows[4], text="")  # table row 6
    rows[6] = dataclasses.replace(rows[6], number=rows[5].number)  # row 8 repeats row 7's code
    rows[7] = dataclasses.replace(rows[7], scoring="")  # row 9
    rows[10] = dataclasses.replace(rows[10], points="5")  # 队伍建设 no longer sums to 18
    docx_path = write_docx(tmp_path / "坏.docx", "评分标准", rows, total="100")
    xlsx_path = write_xlsx(tmp_path / "坏.xlsx", "评分标准", rows, total="100")
    first_of_area_3 = next(i for i, r in enumerate(rows) if "队伍建设" in r.area) + 2
    item_3b = next(i for i, r in enumerate(rows) if r.item.startswith("培训与考评")) + 2
    expected_docx = {
        (4, "分值"),  # not a number: its area's sums are not checked again
        (6, "子项"),
        (8, "编号"),
        (9, "评分标准"),
        (first_of_area_3, "项目分值"),
        (item_3b, "分组分值"),
    }
    got_docx = {(p.row, p.field) for p in check_table(docx_path)}
    assert got_docx == expected_docx
    got_xlsx = {(p.row, p.field) for p in check_table(xlsx_path)}  # one title row above
    assert got_xlsx == {(r + 1, f) for r, f in expected_docx}
    with pytest.raises(ValidationError) as err:
        import_criteria(docx_path)
    assert len(err.value.problems) == len(expected_docx)
    assert "第4行 分值" in str(err.value) and "若干" in str(err.value)
    assert check_criteria(docx_path) == check_table(docx_path)


def test_other_header_names_and_numbering_styles(tmp_path: Path) -> None:
    grid = [
        ["项目", "子项", "评分标准", "分值"],
        [
            "（一）班子建设（5分）",
            "1、每月召开一次专销联动会议，有会议记录",
            "每缺一次扣0.5分",
            "3",
        ],
        ["", "2、党课每季度一次", "缺一次扣0.5分", "2"],
        ["（二）证件管理", "（1）许可证档案一户一档，规范完整", "按完整率计分", "4"],
        ["", "（2）办证流程上墙公示", "未公示不得分", "１"],
    ]
    merges = [(1, 0, 2, 0), (3, 0, 4, 0)]
    d = import_criteria(write_grid_docx(tmp_path / "a.docx", "某省考核验收评分细则", grid, merges))
    x = import_criteria(write_grid_xlsx(tmp_path / "a.xlsx", "某省考核验收评分细则", grid, merges))
    assert d == x
    std = standard_from_dict(d)
    assert std.name == "某省考核验收评分细则"
    assert [(a.code, a.name, a.points) for a in std.areas] == [
        ("1", "班子建设", 5),
        ("2", "证件管理", 5),
    ]
    assert [c.code for c in std.criteria] == ["1.1", "1.2", "2.1", "2.2"]
    assert std.criteria[0].text == "每月召开一次专销联动会议，有会议记录"
    assert std.criteria[3].points == 1  # full-width digit


def test_blank_continuation_cells_and_a_repeated_header(tmp_path: Path) -> None:
    grid = [
        ["评价项目", "评价子项", "评价标准", "分值"],
        ["市场监管", "市场净化率达到95%", "未达到不得分", "3"],
        ["评价项目", "评价子项", "评价标准", "分值"],
        ["", "案件移送率100%", "未达到不得分", "2"],
    ]
    std = standard_from_dict(import_criteria(write_grid_xlsx(tmp_path / "b.xlsx", "", grid)))
    assert [(c.code, c.area, c.scoring) for c in std.criteria] == [
        ("1.1", "市场监管", "未达到不得分"),
        ("1.2", "市场监管", "未达到不得分"),
    ]
    assert std.areas[0].points == 5


def test_section_rows_instead_of_an_area_column(tmp_path: Path) -> None:
    grid = [
        ["序号", "考核内容", "评分办法", "标准分"],
        ["一、市场监管（3分）", "", "", ""],
        ["1", "市场净化率达到95%", "未达到不得分", "3"],
        ["二、证件管理（2分）", "", "", ""],
        ["1", "每季度至少一次协调工商部门查处无证经营", "缺一次扣0.5分", "2"],
        ["合计", "", "", "6"],
    ]
    merges = [(1, 0, 1, 3), (3, 0, 3, 3), (5, 0, 5, 2)]
    path = write_grid_docx(tmp_path / "s.docx", "", grid, merges)
    assert [(p.row, p.field, p.found) for p in check_table(path)] == [(6, "合计", "6")]
    grid[5][3] = "5"
    std = standard_from_dict(import_criteria(write_grid_docx(path, "", grid, merges)))
    assert [(a.name, a.points) for a in std.areas] == [("市场监管", 3), ("证件管理", 2)]
    assert [c.code for c in std.criteria] == ["1.1", "2.1"]
    assert std.total == 5


def test_files_that_are_not_criteria_tables(tmp_path: Path) -> None:
    no_header = write_grid_xlsx(tmp_path / "x.xlsx", "", [["姓名", "电话"], ["张三", "123"]])
    problems = check_table(no_header)
    assert [p.field for p in problems] == ["表头"]
    old = tmp_path / "评分标准.doc"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ConfigError, match="另存为"):
        import_criteria(old)
    fake = tmp_path / "fake.docx"
    fake.write_text("not a zip", encoding="utf-8")
    assert check_table(fake)[0].field == "文件"
