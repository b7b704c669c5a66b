"""Dossier checklists: the shipped defaults, matching filed documents, and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.assess.checklists import (
    APPLICATION_TYPES,
    DEFAULT_PATH,
    Requirement,
    check_checklists,
    load_checklists,
)
from archive.core.errors import NotFoundError, ValidationError

NEW_LICENCE_DOSSIER = [
    "烟草专卖零售许可证申请表",
    "身份证复印件",
    "营业执照",
    "实地核查记录",
    "准予行政许可决定书",
    "零售许可证副本",
    "送达回证",
]

CASE_FILE = [
    "立案报告表",
    "现场笔录",
    "询问笔录",
    "行政处罚事先告知书",
    "行政处罚决定书",
    "送达回证",
    "结案报告",
]


def test_defaults_cover_every_application_type_and_the_case_file() -> None:
    c = load_checklists()
    assert set(c.household) == set(APPLICATION_TYPES)
    new = [r.name for r in c.household_requirements("新办")]
    assert new == [
        "申请表",
        "身份证明",
        "营业执照/经营场所证明",
        "实地核查记录",
        "准予许可决定书",
        "零售许可证（副本/复印件）",
        "送达回证",
    ]
    case = [r.name for r in c.case_requirements()]
    assert case == [
        "立案报告表",
        "检查笔录/现场笔录",
        "询问笔录",
        "行政处罚事先告知书",
        "行政处罚决定书",
        "送达回证",
        "结案报告",
    ]
    assert [r.name for r in c.meeting_fields] == [
        "日期",
        "参会人员",
        "议题",
        "主持人签字",
        "记录人",
    ]
    assert "专销联动会议" in c.meeting_types


def test_a_complete_new_licence_dossier_lacks_nothing() -> None:
    c = load_checklists()
    assert c.missing_household(["新办"], NEW_LICENCE_DOSSIER) == []
    assert c.is_complete_household(["新办"], NEW_LICENCE_DOSSIER)


def test_missing_documents_are_named_per_application() -> None:
    c = load_checklists()
    docs = [d for d in NEW_LICENCE_DOSSIER if d != "送达回证"] + ["变更申请表", "送达回证"]
    docs.remove("营业执照")
    missing = [(app, r.name) for app, r in c.missing_household(["新办", "变更"], docs)]
    assert missing == [
        ("新办", "营业执照/经营场所证明"),
        ("变更", "变更事项证明材料"),
        ("变更", "准予变更决定书"),
    ]


def test_either_of_the_alternatives_satisfies_a_requirement() -> None:
    c = load_checklists()
    premises = next(r for r in c.household_requirements("新办") if r.name.startswith("营业执照"))
    assert premises.satisfied_by(["经营场所证明"])
    assert premises.satisfied_by(["营业执照"])
    assert not premises.satisfied_by(["身份证复印件"])


def test_matching_ignores_widths_and_refuses_other_application_types() -> None:
    req = Requirement("申请表", ("申请表",))
    assert req.matches("烟草专卖零售许可证申请表")
    assert not req.matches("变更申请表")
    assert not req.matches("注销申请表")
    ledger = Requirement("案件登记台帐", ("案件登记台帐",))
    assert ledger.matches("案件登记台账")
    assert ledger.matches("《案件登记 台帐》")
    licence = Requirement("零售许可证(副本)", ("零售许可证(副本)",))
    assert licence.matches("零售许可证【副本】")


def test_goods_held_adds_the_preservation_notice() -> None:
    c = load_checklists()
    assert c.missing_case(CASE_FILE) == []
    missing = [r.name for r in c.missing_case(CASE_FILE, conditions=["goods_held"])]
    assert missing == ["先行登记保存通知书", "先行登记保存处理决定书"]
    assert c.missing_case([*CASE_FILE, "证据先行登记保存通知书", "先行登记保存处理决定书"],
                          conditions=["goods_held"]) == []  # fmt: skip


def test_meeting_record_fields() -> None:
    c = load_checklists()
    record = {"会议时间": "2011年3月1日", "出席人员": "张三、李四", "议题": " ", "主持人": "王五"}
    assert [r.name for r in c.missing_meeting_fields(record)] == ["议题", "记录人"]
    assert c.missing_meeting_fields(["日期", "参会人员", "会议内容", "签字", "记录人"]) == []


def test_unknown_application_type_says_how_to_add_it() -> None:
    with pytest.raises(NotFoundError, match=r"checklists\.yaml"):
        load_checklists().household_requirements("转让")


BAD = """\
conditions:
  goods_held: 先行登记保存
household:
  新办:
    - 申请表
    - 申请表
    - name: 营业执照
      when: 下雨
    - {any_of: [身份证]}
  转让:
    - 转让协议
case:
  一般程序:
    - {name: 询问笔录, also: 5}
colour: red
"""


def test_every_problem_of_a_bad_checklist_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "checklists.yaml"
    path.write_text(BAD, encoding="utf-8")
    problems = check_checklists(path)
    fields = {(p.row, p.field) for p in problems}
    assert (6, "household.新办[1]") in fields  # duplicate
    assert (7, "household.新办[2].when") in fields  # unknown condition
    assert (9, "household.新办[3].name") in fields  # no name
    assert (10, "household.转让") in fields  # unknown application type
    assert (14, "case.一般程序[0].also") in fields
    assert (15, "colour") in fields
    assert (1, "meeting") in fields
    with pytest.raises(ValidationError) as err:
        load_checklists(path)
    assert len(err.value.problems) == len(problems) == 7


def test_defaults_file_is_clean() -> None:
    assert check_checklists(DEFAULT_PATH) == []


def test_every_meeting_of_the_sample_standard_is_a_known_meeting_type() -> None:
    from archive.assess.criteria import load_standard
    from samples.criteria.make_tables import SAMPLE_STANDARD

    std = load_standard(SAMPLE_STANDARD)
    meetings = {e.meeting for c in std.criteria for e in c.evidence if e.kind == "meeting"}
    assert meetings <= set(load_checklists().meeting_types)
    dossiers = {e.dossier for c in std.criteria for e in c.evidence if e.kind == "dossier_rate"}
    assert dossiers <= {"household", "case", "meeting"}


def test_the_checklists_say_which_documents_must_bear_a_seal() -> None:
    lists = load_checklists()
    for sealed in ("行政处罚决定书", "当场行政处罚决定书", "烟草专卖零售许可证", "送达回证"):
        req = lists.seal_required([sealed])
        assert req is not None, sealed
    assert lists.seal_required(["行政处罚决定书"]).name == "行政处罚决定书"  # type: ignore[union-attr]
    for unsealed in ("询问笔录", "烟草专卖零售许可证申请表", "实地核查记录", "会议记录"):
        assert lists.seal_required([unsealed]) is None, unsealed


def test_a_checklist_without_sealed_checks_no_seals_and_a_bad_one_says_where(
    tmp_path: Path,
) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    before = text[: text.index("\nsealed:")]
    old = tmp_path / "old.yaml"
    old.write_text(before, encoding="utf-8")
    assert load_checklists(old).sealed == []
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        before + "\nsealed:\n  - name: 行政处罚决定书\n    stamp: 红\n", encoding="utf-8"
    )
    problems = check_checklists(bad)
    assert [p.field for p in problems] == ["sealed[0].stamp"]
