"""Content-based filing on text: rules, document type, keys, roster names, path vs content.

Pure and fast: the texts are what the sample world prints on its pages (the same words the
scans carry), plus the slips OCR really makes (brackets, stray spaces, a wrong character).
The tray-refiling tests at the end run the real CLI on a real archive (text-layer PDFs, no OCR).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import json_lines, run_dangan
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.core.config import ArchiveConfig
from archive.core.dockeys import DocKeys
from archive.core.errors import ValidationError
from archive.intake.classify import Classification, apply_classification, classify_text
from archive.intake.pathkeys import keys_from_path
from archive.intake.roster_match import Roster
from archive.intake.rules import Rules, load_rules
from samples import _content

CONFIG = ArchiveConfig(area_codes=("610522",), case_prefixes=("潼烟罚",))


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


def page_text(doc: _content.Doc) -> str:
    return "\n\f\n".join("\n".join(block.text for block in page) for page in doc.pages)


def path_keys(path: str) -> DocKeys:
    """Keys as intake takes them from ``inbox/<kind folder>/…``."""
    kinds = {"许可证": "household", "案卷": "case", "会议记录": "meeting", "其他": "other"}
    parts = path.split("/")
    return keys_from_path(parts[1:], kinds[parts[0]], CONFIG)


# ---------------------------------------------------------------- the sample world


WORLD_TYPES = ("零售许可证", "申请表", "实地核查记录", "行政处罚决定书", "送达回证", "询问笔录")


@pytest.mark.parametrize("seed", range(6))
def test_every_sample_document_gives_its_type_and_keys(rules: Rules, seed: int) -> None:
    world = _content.World(random.Random(seed))
    for doc_type in WORLD_TYPES + _content.MEETINGS:
        doc = world.document(doc_type)
        c = classify_text(page_text(doc), rules, None, CONFIG)
        assert c.confident, (doc_type, c.scores)
        if doc.group == "meeting":
            assert c.doc_type == "会议纪要" if doc_type == "专销联动会议" else "会议记录"
            assert c.meeting_type == doc_type and c.meeting_confident
            assert c.meeting_date == dt.date.fromisoformat(doc.keys["meeting_date"])
            assert len(c.attendees) == 4 and c.host and c.topic
            continue
        assert c.doc_type == doc_type
        # a 送达回证 names the party, not the licence
        assert c.licence_no == (None if doc_type == "送达回证" else doc.keys["licence"])
        if "case" in doc.keys:
            assert c.case_no == doc.keys["case"].replace("第", "")
        if doc_type in ("零售许可证", "申请表", "实地核查记录"):
            assert c.retailer == doc.keys["name"]  # read next to 企业名称, no roster needed


def test_title_head_noun_decides_compound_titles(rules: Rules) -> None:
    cases = {
        "烟草专卖零售许可证申请表": "申请表",
        "烟草专卖零售许可证实地核查记录": "实地核查记录",
        "准予行政许可决定书": "准予许可决定书",
        "不予行政许可决定书": "不予许可决定书",
        "许可证延续申请表": "延续申请",
        "先行登记保存处理通知书": "先行登记保存处理通知书",
        "行政处罚事先告知书": "行政处罚事先告知书",
        "党员大会会议记录": "会议记录",
    }
    for title, expected in cases.items():
        c = classify_text(f"{title}\n编号:001\n经办人:张进明", rules, None, CONFIG)
        assert c.doc_type == expected, (title, c.scores)


def test_types_the_world_does_not_print(rules: Rules) -> None:
    texts = {
        "营业执照": "营业执照\n统一社会信用代码 92610522MA6Y123456\n名称 王强便利店\n类型 个体工商户\n"
        "经营者 王强\n经营场所 潼关县城关镇东大街12号\n登记机关 潼关县市场监督管理局",
        "身份证明": "居民身份证\n姓名 王强 性别 男 民族 汉\n出生 1975年3月2日\n住址 潼关县城关镇\n"
        "公民身份号码 610522197503021234",
        "立案报告表": "潼关县烟草专卖局\n立案报告表\n案由:涉嫌无证经营卷烟\n案件来源:举报\n"
        "简要案情:……\n承办人:张进明 李卫东\n负责人意见:同意立案",
        "先行登记保存通知书": "证据先行登记保存通知书\n潼烟存〔2011〕第3号\n对下列物品予以保存,"
        "保存期限为七日\n物品清单附后",
        "结案报告": "结案报告表\n案号:潼烟罚〔2011〕第12号\n处理结果:没收卷烟并处罚款\n执行情况:已执行",
    }
    for expected, text in texts.items():
        c = classify_text(text, rules, None, CONFIG)
        assert (c.doc_type, c.confident) == (expected, True), (expected, c.scores)


def test_a_bound_in_receipt_does_not_change_the_type(rules: Rules) -> None:
    doc = _content.World(random.Random(3)).document("行政处罚决定书")
    assert len(doc.pages) == 2  # the decision, then its 送达回证
    c = classify_text(page_text(doc), rules, None, CONFIG)
    assert c.doc_type == "行政处罚决定书" and c.confident
    assert "送达回证" in c.scores  # seen, but second


def test_a_licence_expiry_is_not_its_date(rules: Rules) -> None:
    """A licence with no 发证日期 line is dated by the start of its validity, not by an
    expiry years ahead (which 四性检测 would rightly report as a date in the future)."""
    text = (
        "烟草专卖零售许可证副本\n许可证号:610522100257\n企业名称:潼关县王卫便利店\n"
        "负责人:王卫\n经营地址:城关镇东街12号\n有效期限:2024-03-01 至 2029-02-28"
    )
    c = classify_text(text, rules, None, CONFIG)
    assert c.doc_type == "零售许可证" and c.date == dt.date(2024, 3, 1)
    signed = text + "\n核查时间:2024年3月5日"
    assert classify_text(signed, rules, None, CONFIG).date == dt.date(2024, 3, 5)
    noted = text.replace("有效期限:2024-03-01 至 2029-02-28", "有效期限:五年") + "\n2024年4月2日"
    assert classify_text(noted, rules, None, CONFIG).date == dt.date(2024, 4, 2)


def test_ocr_slips_in_title_and_numbers(rules: Rules) -> None:
    text = (
        "潼关县烟草专卖局\n行政处罚決定书\n潼烟罚 C2011] 第 12 号\n"
        "当事人:王卫 许可证号:610522100257\n经查,当事人于二〇一一年三月五日销售无标志卷烟,"
        "违反了规定。\n本局决定:没收违法销售的卷烟,并处罚款。\n二〇一一年三月八日"
    )
    c = classify_text(text, rules, None, CONFIG)
    assert c.doc_type == "行政处罚决定书" and c.confident
    assert c.case_no == "潼烟罚〔2011〕12号"
    assert c.licence_no == "610522100257"
    assert c.dates == [dt.date(2011, 3, 5), dt.date(2011, 3, 8)]
    assert c.date == dt.date(2011, 3, 8)  # the decision's own date, at its foot


@pytest.mark.parametrize(
    "written",
    [
        "潼烟罚〔2011〕第12号",
        "潼烟罚[2011]12号",
        "潼烟罚【2011】第12号",
        "潼烟罚［２０１１］第１２号",
        "潼烟罚（2011）12号",
        "潼 烟 罚 〔2011〕 第 12 号",
        "潼烟罚C2011]第12号",
        "潼烟罚2011第12号",
    ],
)
def test_case_numbers_in_every_spelling(rules: Rules, written: str) -> None:
    c = classify_text(f"送达回证\n案号:{written}\n受送达人:王卫", rules, None, CONFIG)
    assert c.case_no == "潼烟罚〔2011〕12号"


def test_licence_number_needs_the_county_area_code(rules: Rules) -> None:
    text = (
        "烟草专卖零售许可证\n许可证号:610523100257\n企业名称:王卫百货部\n发证机关:潼关县烟草专卖局"
    )
    assert classify_text(text, rules, None, CONFIG).licence_no is None
    good = text.replace("610523", "610522")
    assert classify_text(good, rules, None, CONFIG).licence_no == "610522100257"


def test_meeting_details(rules: Rules) -> None:
    text = (
        "支委会会议记录\n时间:二〇一一年十二月三十日\n主持人:郭胜利 \n"
        "出席人员:王建国、李卫东，陈红梅 张进明等\n议题:研究年终党建考核。\n会议内容:……"
    )
    c = classify_text(text, rules, None, CONFIG)
    assert c.meeting_type == "支部委员会"
    assert c.meeting_date == dt.date(2011, 12, 30)
    assert c.attendees == ["王建国", "李卫东", "陈红梅", "张进明"]
    assert c.host == "郭胜利"
    assert c.topic == "研究年终党建考核"


def test_empty_or_failed_ocr_decides_nothing(rules: Rules) -> None:
    for text in ("", "\n\f\n", "  . , ~ ", "口口"):
        c = classify_text(text, rules, None, CONFIG)
        assert c.empty and c.doc_type is None
        keys = path_keys("许可证/610522100257/营业执照.jpg")
        new, findings = apply_classification(keys, c, rules)
        assert findings == [] and new == keys
        # Named as a household paper but dropped under 其他/: the tray, not the work materials.
        new, findings = apply_classification(path_keys("其他/营业执照.jpg"), c, rules)
        assert (new.dossier_kind, new.resolved, findings) == ("household", False, [])
        new, _ = apply_classification(path_keys("其他/2011年自查报告.pdf"), c, rules)
        assert (new.dossier_kind, new.doc_type, new.resolved) == ("other", "自查报告", True)


_NOISE = st.text(
    alphabet=st.sampled_from(
        list(
            "许可证号企业名称案号潼烟罚〔〕[]第号年月日一二〇十:：、 \n\f0123456789会议记录纪要党员大会"
        )
    ),
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(before=_NOISE, after=_NOISE)
def test_any_text_is_classified_without_error_and_a_labelled_licence_is_found(
    before: str, after: str
) -> None:
    rules = load_rules()
    c = classify_text(before + after, rules, None, CONFIG)
    assert c.confident is False or c.doc_type is not None
    _, findings = apply_classification(path_keys("其他/扫描.jpg"), c, rules)
    assert all(f["code"] in ("title_mismatch", "key_mismatch") for f in findings)
    text = f"{before}\n许可证号:610522100347\n{after}"
    assert "610522100347" in classify_text(text, rules, None, CONFIG).licence_nos


# ---------------------------------------------------------------- roster names


def roster() -> Roster:
    return Roster.from_rows(
        [
            {"licence_no": "610522100347", "name": "潼关县秦东高芳芳烟酒商店"},
            {"licence_no": "610522100257", "name": "潼关县桐峪王卫百货部"},
            {"licence_no": "610522100111", "name": "王强便利店"},
            {"licence_no": "610522100112", "name": "王刚便利店"},
            {"licence_no": "610522100113", "name": "李四"},
        ]
    )


def test_retailer_matched_with_one_wrong_character(rules: Rules) -> None:
    # OCR read 潼 as 湿 and 副 as 国: two slips in a long name still match.
    text = "营业执照\n名称:湿关县桐峪王卫百货都\n经营者:王卫\n类型:个体工商户"
    c = classify_text(text, rules, roster(), CONFIG)
    assert c.retailer == "潼关县桐峪王卫百货部"
    assert c.retailer_licence == "610522100257"
    # Unlabelled, inside a sentence, one slip.
    text = "经查,当事人于2011年3月5日在其经营场所潼关县秦东高芳芳烟洒商店销售假烟"
    c = classify_text(text, rules, roster(), CONFIG)
    assert c.retailer == "潼关县秦东高芳芳烟酒商店"


def test_retailer_not_guessed_when_ambiguous_or_too_short(rules: Rules) -> None:
    # 王x便利店 with x unreadable is one slip from both 王强便利店 and 王刚便利店.
    c = classify_text("营业执照\n名称:王口便利店\n经营者:王口", rules, roster(), CONFIG)
    assert c.retailer_licence is None
    # A two-character name matches only exactly.
    c = classify_text("身份证明\n户名:李匹\n住址:潼关县", rules, roster(), CONFIG)
    assert c.retailer_licence is None
    c = classify_text("身份证明\n户名:李四\n住址:潼关县", rules, roster(), CONFIG)
    assert c.retailer_licence == "610522100113"


# ---------------------------------------------------------------- path vs content


def classified(
    path: str, text: str, rules: Rules, ros: Roster | None = None
) -> tuple[DocKeys, list[dict[str, str]]]:
    return apply_classification(path_keys(path), classify_text(text, rules, ros, CONFIG), rules)


LICENCE_TEXT = (
    "烟草专卖零售许可证\n许可证号:610522100347\n企业名称:潼关县秦东高芳芳烟酒商店\n负责人:高芳芳\n"
    "经营范围:卷烟零售\n有效期限:2011年5月4日至2016年5月4日\n发证机关:潼关县烟草专卖局\n"
    "发证日期:2011年5月4日"
)


def test_title_mismatch_is_flagged_and_content_type_kept(rules: Rules) -> None:
    keys, findings = classified("许可证/610522100347/营业执照.jpg", LICENCE_TEXT, rules)
    assert findings == [
        {"code": "title_mismatch", "message": "文件名为「营业执照」, 内容为「零售许可证」"}
    ]
    assert keys.doc_type == "零售许可证" and keys.licence_no == "610522100347"
    assert keys.source == "path"


def test_no_mismatch_for_same_or_equivalent_names(rules: Rules) -> None:
    for path in ("许可证/610522100347/零售许可证.jpg", "许可证/610522100347/许可证副本.jpg"):
        assert classified(path, LICENCE_TEXT, rules)[1] == []
    minutes = "支部委员会会议记录\n时间:2011年3月11日\n主持人:郭胜利\n参加人员:王建国、李卫东"
    for path in (
        "会议记录/支委会/2011-03-11 支委会纪要.jpg",
        "会议记录/支部委员会/2011-03-11 会议记录.pdf",
    ):
        keys, findings = classified(path, minutes, rules)
        assert findings == [] and keys.year == 2011


def test_meeting_named_as_another_meeting(rules: Rules) -> None:
    text = "创建工作例会会议记录\n时间:二〇一一年五月十四日\n主持人:赵文辉\n参加人员:王建国、李卫东"
    keys, findings = classified("会议记录/党员大会/2011-05-14 党员大会纪要.jpg", text, rules)
    assert findings == [
        {"code": "title_mismatch", "message": "文件名为「党员大会」, 内容为「创建工作例会」"}
    ]
    assert keys.meeting_type == "创建工作例会" and keys.date == dt.date(2011, 5, 14)
    assert keys.host == "赵文辉" and keys.attendees == ["王建国", "李卫东"]


def test_path_keys_win_and_disagreement_is_a_finding(rules: Rules) -> None:
    keys, findings = classified("许可证/610522100999/零售许可证.jpg", LICENCE_TEXT, rules)
    assert keys.licence_no == "610522100999"
    assert [f["code"] for f in findings] == ["key_mismatch"]
    assert "610522100999" in findings[0]["message"] and "610522100347" in findings[0]["message"]
    receipt = "送达回证\n案号:潼烟罚〔2011〕第13号\n送达文书:行政处罚决定书\n受送达人:王卫"
    keys, findings = classified("案卷/潼烟罚〔2011〕第12号/送达回证.jpg", receipt, rules)
    assert keys.case_no == "潼烟罚〔2011〕12号"
    assert [f["code"] for f in findings] == ["key_mismatch"]


def test_unknown_place_is_filed_by_content(rules: Rules) -> None:
    keys, findings = classified("其他/扫描0002.jpg", LICENCE_TEXT, rules)
    assert (keys.dossier_kind, keys.licence_no, keys.source) == (
        "household",
        "610522100347",
        "content",
    )
    assert keys.resolved and findings == []
    receipt = "送达回证\n案号:潼烟罚[2011]第12号\n受送达人:高芳芳(潼关县秦东高芳芳烟酒商店)\n许可证号:610522100347"
    keys, _ = classified("其他/扫描0003.jpg", receipt, rules)
    assert (keys.dossier_kind, keys.case_no) == ("case", "潼烟罚〔2011〕12号")
    minutes = "专销联动会议纪要\n时间:二〇一〇年十月一日\n主持人:李卫东"
    keys, _ = classified("其他/扫描0004.jpg", minutes, rules)
    assert (keys.dossier_kind, keys.meeting_type, keys.year) == ("meeting", "专销联动会议", 2010)
    # A household folder without a licence number in its path takes it from the text.
    keys, _ = classified("许可证/扫描0005.jpg", LICENCE_TEXT, rules)
    assert keys.resolved and keys.source == "content"


def test_work_materials_stay_work_materials(rules: Rules) -> None:
    text = (
        "潼关县烟草专卖局创建优秀县级局实施方案\n一、指导思想\n二、工作目标\n三、组织领导\n"
        "四、实施步骤:对零售户(许可证号:610522100347)开展回访\n五、工作要求"
    )
    keys, findings = classified("其他/扫描0007.pdf", text, rules)
    assert (keys.dossier_kind, keys.doc_type, keys.resolved) == ("other", "实施方案", True)
    assert findings == []


def test_roster_name_alone_files_a_household_paper(rules: Rules) -> None:
    text = "营业执照\n名称:潼关县秦东高芳芳烟洒商店\n经营者:高芳芳\n类型:个体工商户\n登记机关:潼关县市场监督管理局"
    keys, _ = classified("其他/扫描0006.jpg", text, rules)
    # No roster: nothing names the dossier. A household paper waits in the tray, not among
    # the work materials.
    assert (keys.dossier_kind, keys.doc_type, keys.resolved) == ("household", "营业执照", False)
    keys, _ = classified("其他/扫描0006.jpg", text, rules, roster())
    assert (keys.dossier_kind, keys.licence_no) == ("household", "610522100347")
    assert keys.retailer == "潼关县秦东高芳芳烟酒商店" and keys.source == "content"


def test_unsure_content_never_claims_a_mismatch(rules: Rules) -> None:
    vague = "许可证号:610522100347\n经营地址:潼关县城关镇"
    c = classify_text(vague, rules, None, CONFIG)
    assert not c.confident
    keys, findings = apply_classification(path_keys("许可证/610522100347/营业执照.jpg"), c, rules)
    assert findings == [] and keys.doc_type == "营业执照"


def test_classification_is_pure(rules: Rules) -> None:
    keys = path_keys("其他/扫描0002.jpg")
    before = keys.as_dict()
    apply_classification(keys, classify_text(LICENCE_TEXT, rules, None, CONFIG), rules)
    assert keys.as_dict() == before and keys.dossier_kind == "other"
    assert isinstance(classify_text(LICENCE_TEXT, rules, None, CONFIG), Classification)


# ---------------------------------------------------------------- the rules file


def test_bureau_rules_extend_and_replace_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        textwrap.dedent(
            """\
            min_margin: 2
            types:
              授权委托书:
                dossier: household
                titles: [授权委托书]
                keywords: [委托人, 受托人, 委托事项]
              营业执照:
                extend: true
                titles: [个体工商户营业执照]
              签到表:
                disabled: true
            meetings:
              安全生产例会:
                titles: [安全生产例会, 安全例会]
            """
        ),
        encoding="utf-8",
    )
    rules = load_rules(tmp_path)
    assert rules.min_margin == 2 and rules.min_score == 6  # one replaced, one kept
    assert "签到表" not in rules.types
    assert [p.source for p in rules.types["营业执照"].titles][-1] == "个体工商户营业执照"
    assert rules.types["营业执照"].keywords  # kept from the defaults
    c = classify_text(
        "授权委托书\n委托人:王强\n受托人:王刚\n委托事项:代为办理", rules, None, CONFIG
    )
    assert (c.doc_type, c.confident) == ("授权委托书", True)
    c = classify_text("安全例会记录\n时间:2012年1月5日\n主持人:张进明", rules, None, CONFIG)
    assert c.meeting_type == "安全生产例会"
    assert len(rules.sources) == 2


def test_bad_rules_file_reports_every_problem_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        textwrap.dedent(
            """\
            min_score: 很高
            weights:
              title: -1
              bonus: 3
            types:
              授权委托书:
                titles: []
              营业执照:
                dossier: shop
                keywords: ["re:(unclosed"]
            colour: red
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as err:
        load_rules(tmp_path)
    problems = {(p.row, p.field) for p in err.value.problems}
    assert problems == {
        (1, "min_score"),
        (3, "weights.title"),
        (4, "weights.bonus"),
        (7, "types.授权委托书.titles"),
        (9, "types.营业执照.dossier"),
        (10, "types.营业执照.keywords.0"),
        (11, "colour"),
    }
    assert str(tmp_path / "rules.yaml") in err.value.message


def test_new_type_needs_dossier_and_titles(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "types:\n  授权委托书:\n    keywords: [委托人]\n", encoding="utf-8"
    )
    with pytest.raises(ValidationError) as err:
        load_rules(tmp_path)
    assert {p.field for p in err.value.problems} == {
        "types.授权委托书.dossier",
        "types.授权委托书.titles",
    }


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("types:\n  营业执照: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_rules(tmp_path)
    assert err.value.problems[0].field == "YAML" and err.value.problems[0].row is not None


# ---------------------------------------------------------------- tray refiling (real CLI)


def _text_pdf(path: Path, title: str, lines: list[str]) -> None:
    from samples.textpdf import render_pages

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_pages([(title, lines)])[0])


BUSINESS_LICENCE = [
    "统一社会信用代码:92610522MA6Y12345X",
    "名称:潼关县秦东高芳芳烟酒商店",
    "类型:个体工商户",
    "经营者:高芳芳",
    "登记机关:潼关县市场监督管理局",
]


def _roster(path: Path) -> Path:
    path.write_text(
        "许可证号,企业名称,负责人\r\n610522100347,潼关县秦东高芳芳烟酒商店,高芳芳\r\n"
        "610522100257,潼关县桐峪王卫百货部,王卫\r\n",
        encoding="utf-8-sig",
    )
    return path


def _ingest_one(archive_dir: Path, title: str, lines: list[str]) -> dict[str, object]:
    _text_pdf(archive_dir / "inbox" / "其他" / "扫描0001.pdf", title, lines)
    result = run_dangan("ingest", "--json", "--archive", archive_dir)
    assert result.returncode == 0, result.stderr
    outcomes = json_lines(result.stdout)
    assert [o["outcome"] for o in outcomes] == ["unfiled"]
    assert str(outcomes[0]["record"]).startswith("records/待归档/")
    return outcomes[0]


def _sidecar(record: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(f"{record}.json").read_text(encoding="utf-8"))
    return data


def _snapshot(archive_dir: Path) -> str:
    from archive.records.catalog import Catalog

    with Catalog(archive_dir / ".dangan" / "catalog.sqlite") as catalog:
        return catalog.snapshot()


def test_tray_document_is_filed_once_the_roster_names_it(archive_dir: Path, tmp_path: Path) -> None:
    first = _ingest_one(archive_dir, "营业执照", BUSINESS_LICENCE)
    tray = archive_dir / str(first["record"])
    # Importing the roster refiles the tray: the 营业执照 names a known retailer.
    roster = _roster(tmp_path / "名册.csv")
    imported = run_dangan("households", "import", roster, "--archive", archive_dir)
    assert imported.returncode == 0, imported.stderr
    record = (
        archive_dir / "records/许可证档案/610522100347_潼关县秦东高芳芳烟酒商店/001_营业执照.pdf"
    )
    assert record.is_file() and not tray.exists() and not Path(f"{tray}.json").exists()
    side = _sidecar(record)
    assert side["dossier"] == {"kind": "household", "key": "610522100347"}
    assert side["keys"]["source"] == "content"
    assert side["events"][-2] == {
        "at": side["events"][-2]["at"],
        "event": "refiled",
        "detail": f"{first['record']} → records/{record.relative_to(archive_dir / 'records').as_posix()}",
    }
    assert side["events"][-1]["event"] == "numbered"  # filed into its dossier: its 档号 now
    assert side["archival"]["code"] in side["events"][-1]["detail"]
    shown = json.loads(
        run_dangan("show", "610522100347", "--json", "--archive", archive_dir).stdout
    )
    assert [d["doc_type"] for d in shown[0]["documents"]] == ["营业执照"]
    # Nothing left to do; the catalog equals a rebuild from the records alone.
    again = run_dangan("refile", "--archive", archive_dir)
    assert again.returncode == 0 and "移入档案 0 个, 待归档尚余 0 个" in again.stderr
    before = _snapshot(archive_dir)
    assert run_dangan("reindex", "--archive", archive_dir).returncode == 0
    assert _snapshot(archive_dir) == before


# Headed 照片说明（一）, dated, in a scan named 扫描0001: no plain title (the heading ends in a
# number), so it waits in the tray until the bureau's rules name the type.
PHOTO_NOTE = ["拍摄时间:2011年3月5日", "拍摄地点:潼关县城关镇东大街", "内容:开展卷烟打假宣传活动"]
PHOTO_RULES = "types:\n  照片说明:\n    dossier: other\n    titles: [照片说明]\n    keywords: [拍摄时间, 拍摄地点]\n"


def test_refile_command_after_the_bureau_adds_a_type(archive_dir: Path) -> None:
    first = _ingest_one(archive_dir, "照片说明（一）", PHOTO_NOTE)
    unchanged = run_dangan("refile", "--json", "--archive", archive_dir)
    assert unchanged.returncode == 0 and unchanged.stdout == ""
    (archive_dir / "rules.yaml").write_text(PHOTO_RULES, encoding="utf-8")
    result = run_dangan("refile", "--json", "--archive", archive_dir)
    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == [
        {
            "source": first["record"],
            "record": "records/工作材料/2011/001_照片说明.pdf",
            "dossier_kind": "materials",
            "dossier_key": "工作材料/2011",
            "doc_type": "照片说明",
            "keys_source": "content",
            "note": None,
        }
    ]
    before = _snapshot(archive_dir)
    assert run_dangan("reindex", "--archive", archive_dir).returncode == 0
    assert _snapshot(archive_dir) == before


def test_interrupted_refile_is_rolled_back_then_redone(
    archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archive.intake.refile as refile
    import archive.records.moves as moves
    from archive.core.config import Archive
    from archive.intake.classify import make_classifier
    from archive.records.catalog import Catalog
    from archive.records.moves import recover_moves

    first = _ingest_one(archive_dir, "照片说明（一）", PHOTO_NOTE)
    (archive_dir / "rules.yaml").write_text(PHOTO_RULES, encoding="utf-8")
    arc = Archive(archive_dir)
    real_write = moves.write_json_atomic

    def crash_on_new_sidecar(path: Path, data: dict[str, object], **kw: Any) -> None:
        if path.name.endswith(".pdf.json") and "工作材料" in str(path):
            raise OSError("power cut")
        real_write(path, data, **kw)

    monkeypatch.setattr(moves, "write_json_atomic", crash_on_new_sidecar)
    with Catalog(arc.catalog_path) as catalog, pytest.raises(OSError):
        refile.refile_tray(arc, catalog, make_classifier(arc, catalog))
    tray = archive_dir / str(first["record"])
    assert not tray.exists() and Path(f"{tray}.json").exists()  # half moved
    monkeypatch.setattr(moves, "write_json_atomic", real_write)
    with Catalog(arc.catalog_path) as catalog:
        assert recover_moves(arc, catalog) == 1
    assert tray.exists() and Path(f"{tray}.json").exists()  # back in the tray, whole
    assert not list((archive_dir / "records" / "工作材料").rglob("*.pdf"))
    moved = json_lines(run_dangan("refile", "--json", "--archive", archive_dir).stdout)
    assert [m["source"] for m in moved] == [first["record"]]
    assert (archive_dir / moved[0]["record"]).is_file()
