"""Meeting records of every kind: the series they belong to, the day held, the case dossiers
they belong to as well, what they must show, and every door that lists them.

The pure tests read names, days and the sample world's minutes; the archive tests run the
real CLI on a real archive with the sample generator's minutes as text-layer PDFs (no OCR),
and one test scans a set of minutes and files it through the real OCR engine.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import json_lines, make_archive, run_dangan
from pypdf import PdfReader

from archive.core.config import Archive, ArchiveConfig
from archive.core.meetings import meeting_date, normalise_meeting_name
from archive.intake.classify import apply_classification, classify_text
from archive.intake.pathkeys import keys_from_path
from archive.intake.rules import Rules, load_rules
from archive.records.catalog import Catalog
from archive.records.corrections import meeting_folder
from archive.records.dossier import find_dossiers, record_detail
from archive.records.reader import ArchiveReader
from samples.bench_archive import CASE_DOCS, case_files, mini_pdf
from samples.minutes import Minutes, minutes_doc, sample_minutes, unconfigured, write_minutes
from samples.scans import scan_document

CONFIG = ArchiveConfig(bureau="潼关县烟草专卖局", area_codes=("610522",), case_prefixes=("潼烟罚",))
MINUTES = sample_minutes(2021)


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


def text_of(m: Minutes) -> str:
    return "\n".join([m.heading, *m.lines()])


def classified(path: str, text: str, rules: Rules) -> tuple[Any, list[dict[str, str]]]:
    kinds = {"会议记录": "meeting", "其他": "other", "案卷": "case"}
    parts = path.split("/")
    keys = keys_from_path(parts[1:], kinds[parts[0]], CONFIG)
    return apply_classification(keys, classify_text(text, rules, None, CONFIG), rules)


# ---------------------------------------------------------------- names and days


@pytest.mark.parametrize(
    ("written", "series"),
    [
        ("2021年第一季度依法行政工作推进会会议记录", "依法行政工作推进会"),
        ("潼关县烟草专卖局2021年度工作总结表彰大会会议纪要", "年度工作总结表彰大会"),
        ("2021年工作总结表彰大会", "工作总结表彰大会"),
        ("二〇二二年第三次局务会议纪要", "局务会议"),
        ("2022年上半年安全生产工作会议", "安全生产工作会议"),
        ("安全生产例会（3月份）", "安全生产例会"),
        ("第3期业务培训会签到表", "业务培训会"),
        ("2021年12月廉政教育会", "廉政教育会"),
        ("中共潼关县烟草专卖局党支部委员会会议记录", "党支部委员会"),
        ("专销联动会议会议记录", "专销联动会议"),
    ],
)
def test_a_name_loses_what_belongs_to_one_sitting(written: str, series: str) -> None:
    assert normalise_meeting_name(written, "潼关县烟草专卖局") == series


def test_a_heading_that_names_no_meeting_gives_no_name() -> None:
    for written in ("会议记录", "会议纪要", "2021年会议记录", "  ", "第3次", "会议" * 30):
        assert normalise_meeting_name(written) is None, written


def test_a_hostile_name_stays_a_folder_inside_the_meetings(rules: Rules) -> None:
    text = '会议记录\n会议名称：../../..\\<script>安全例会?*"|\n时间：2022年3月1日\n主持人：张进明'
    keys, _ = classified("会议记录/扫描0001.pdf", text, rules)
    assert keys.meeting_type == "script安全例会" and keys.year == 2022
    keys, _ = classified("会议记录/../../扫描0001.pdf", "", rules)
    assert keys.meeting_type is None


@pytest.mark.parametrize(
    ("variant", "configured"),
    [
        ("支委会议", "支部委员会"),
        ("支部委员会会议", "支部委员会"),
        ("党支部委员会", "支部委员会"),
        ("支委会", "支部委员会"),
        ("全体党员大会", "党员大会"),
        ("案件审理委员会会议", "案审会"),
        ("打假打私联席会议", "联席会议"),
        ("依法行政工作推进会", None),
    ],
)
def test_close_variants_map_to_the_configured_type(
    rules: Rules, variant: str, configured: str | None
) -> None:
    assert rules.canonical_meeting(variant) == configured


@pytest.mark.parametrize(
    ("value", "fallback", "held"),
    [
        ("2021年12月22日上午9:00", None, dt.date(2021, 12, 22)),
        ("二〇二一年十二月二十二日下午3时", None, dt.date(2021, 12, 22)),
        ("二〇二一年12月22日", None, dt.date(2021, 12, 22)),  # numerals mixed
        ("2021年12月22日至24日", None, dt.date(2021, 12, 22)),
        ("2022年1月15日上午9:00—11:30", None, dt.date(2022, 1, 15)),
        ("2021 年 12 月 22 日（星期三）", None, dt.date(2021, 12, 22)),
        ("2021.12.22 14:30", None, dt.date(2021, 12, 22)),
        ("2021/12/22", None, dt.date(2021, 12, 22)),
        ("2021年12月22曰", None, dt.date(2021, 12, 22)),  # OCR reads 日 as 曰
        ("12月22日下午", 2021, dt.date(2021, 12, 22)),
        ("十二月二十二日至二十三日", 2021, dt.date(2021, 12, 22)),
        ("12月22日下午", None, None),  # no year anywhere: not a date
        ("2021年第四季度", 2021, None),
    ],
)
def test_the_day_held_from_the_time_line(
    value: str, fallback: int | None, held: dt.date | None
) -> None:
    assert meeting_date(value, fallback) == held


# ---------------------------------------------------------------- the minutes' own words


def test_every_sample_minutes_gives_its_series_day_and_people(rules: Rules) -> None:
    assert len({m.series for m in unconfigured(MINUTES)}) >= 5
    for m in MINUTES:
        c = classify_text(text_of(m), rules, None, CONFIG)
        assert (c.meeting_type, c.meeting_date) == (m.series, m.held), m.written
        assert (c.host, c.recorder) == (m.host, m.recorder)
        assert c.attendees == list(m.attendees) and c.topic


def test_the_day_held_wins_over_the_year_in_the_name(rules: Rules) -> None:
    text = (
        "会议记录\n会议名称：2021年第四季度依法行政工作推进会\n时间：二〇二二年一月十日上午\n"
        "主持人：张进明\n记录人：陈红梅\n参加人员：王建国、李卫东\n议题：总结第四季度工作"
    )
    for path in (
        "会议记录/扫描0001.pdf",
        "会议记录/2021年12月份依法行政工作推进会/扫描0001.pdf",  # the month names the sitting
        "其他/扫描0001.pdf",
    ):
        keys, findings = classified(path, text, rules)
        assert (keys.meeting_type, keys.date, keys.year) == (
            "依法行政工作推进会",
            dt.date(2022, 1, 10),
            2022,
        ), path
        assert findings == [] and keys.resolved


def test_a_year_folder_wins_but_the_disagreement_is_a_finding(rules: Rules) -> None:
    text = "依法行政工作推进会会议记录\n时间：2022年1月10日\n主持人：张进明"
    keys, findings = classified("会议记录/依法行政工作推进会/2021/扫描0001.pdf", text, rules)
    assert keys.year == 2021 and keys.date == dt.date(2022, 1, 10)
    assert [f["code"] for f in findings] == ["key_mismatch"]
    assert "2021" in findings[0]["message"] and "2022" in findings[0]["message"]


def test_the_folder_names_the_meeting_when_the_text_does_not(rules: Rules) -> None:
    text = "会议记录\n时间：2022年6月2日\n地点：局会议室\n主持人：张进明\n记录人：赵文辉"
    keys, findings = classified("会议记录/局长办公会议/扫描0001.pdf", text, rules)
    assert (keys.meeting_type, keys.year, keys.resolved) == ("局长办公会议", 2022, True)
    keys, _ = classified("会议记录/局长办公会议/2022-06-02 会议记录.pdf", "", rules)
    assert (keys.meeting_type, keys.year) == ("局长办公会议", 2022)  # no text at all
    for scanner_name in ("会议记录/会议扫描0001.pdf", "会议记录/2022/会议扫描件.jpg"):
        keys, findings = classified(scanner_name, text, rules)
        assert keys.meeting_type is None and findings == [], scanner_name
    # a content name that completes the folder's is the same meeting
    named = "依法行政工作推进会会议记录\n时间：2021年12月22日\n主持人：张进明"
    keys, findings = classified("会议记录/推进会/扫描0002.pdf", named, rules)
    assert keys.meeting_type == "依法行政工作推进会" and findings == []


def test_work_logs_headed_record_are_not_minutes(rules: Rules) -> None:
    for heading in ("2011年培训记录", "业务学习记录", "党员教育培训记录"):
        keys, _ = classified("其他/2011/扫描.pdf", f"{heading}\n2011年度\n潼关县烟草专卖局", rules)
        assert keys.dossier_kind == "other" and keys.meeting_type is None, heading
    keys, _ = classified("其他/扫描.pdf", "业务培训会会议记录\n时间：2011年5月4日", rules)
    assert (keys.dossier_kind, keys.meeting_type) == ("meeting", "业务培训会")


def test_minutes_naming_no_meeting_wait_in_the_tray_saying_why(rules: Rules) -> None:
    text = "会议记录\n时间：2021年3月1日\n地点：局会议室\n主持人：张进明\n记录人：陈红梅"
    keys, _ = classified("其他/扫描0001.pdf", text, rules)
    assert keys.dossier_kind == "meeting" and not keys.resolved
    assert any("会议名称" in note for note in keys.notes)


def test_case_meeting_minutes_name_their_cases(rules: Rules) -> None:
    review = next(m for m in MINUTES if m.series == "案审会")
    keys, _ = classified("会议记录/扫描0001.pdf", text_of(review), rules)
    assert keys.cases == ["潼烟罚〔2021〕12号", "潼烟罚〔2021〕15号"]
    other = next(m for m in MINUTES if m.series == "依法行政工作推进会")
    text = text_of(other) + "\n会议通报了潼烟罚〔2021〕第12号案件的办理情况。"
    keys, _ = classified("会议记录/扫描0002.pdf", text, rules)
    assert keys.cases == []  # a meeting that mentions a case is not part of its file


@pytest.mark.parametrize(
    ("ref", "folder"),
    [
        ("records/会议记录/局长办公会议", ("局长办公会议", None)),
        ("会议记录/局长办公会议/2022/", ("局长办公会议", 2022)),
        ("records/会议记录/局长办公会议/2022/001_会议记录.pdf", None),  # a record
        ("records/会议记录/../处罚案卷", None),
        ("records/处罚案卷/潼烟罚〔2021〕12号", None),
        ("records/会议记录/局长办公会议/二〇二二", None),
        ("WS·2022-Y-HY-0005", None),
    ],
)
def test_a_meeting_folder_is_told_from_a_record(ref: str, folder: Any) -> None:
    assert meeting_folder(ref) == folder


# ---------------------------------------------------------------- a real archive


def dangan_json(*args: str | Path) -> Any:
    result = run_dangan(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


HEARING = (*CASE_DOCS[:3], "听证通知书", "听证笔录", *CASE_DOCS[3:])


def filed_archive(root: Path) -> tuple[Path, dict[str, Minutes], list[dict[str, Any]]]:
    """An archive holding the sample minutes and three case files of 2021: 第12号 (plain),
    第15号 and 第20号 (a hearing was held: a major case)."""
    archive = make_archive(root / "档案库")
    inbox = archive / "inbox"
    written = write_minutes(inbox, MINUTES)
    case_files(inbox, 2021, 12)
    case_files(inbox, 2021, 15, HEARING)
    case_files(inbox, 2021, 20, HEARING)
    result = run_dangan("ingest", "--json", "--archive", archive)
    assert result.returncode == 0, result.stderr
    by_source = {f"inbox/{path.relative_to(inbox).as_posix()}": m for path, m in written.items()}
    return archive, by_source, json_lines(result.stdout)


@pytest.fixture(scope="module")
def filed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Minutes]]:
    archive, by_source, outcomes = filed_archive(tmp_path_factory.mktemp("minutes"))
    seen = {o["source"]: o for o in outcomes}
    for source in by_source:
        assert seen[source]["outcome"] == "filed", seen[source]
    return archive, by_source


def test_minutes_of_every_kind_are_filed_under_their_name_and_year(
    filed: tuple[Path, dict[str, Minutes]],
) -> None:
    archive, by_source = filed
    for source, m in by_source.items():
        side = _sidecar_of(archive, source)
        assert side["dossier"] == {"kind": "meeting", "key": m.dossier}, source
        assert side["keys"]["date"] == m.held.isoformat()
        assert side["findings"] == [], (source, side["findings"])
        assert (archive / "records" / "会议记录" / m.series / str(m.year)).is_dir()
    assert not (archive / "records" / "待归档").exists()


def _sidecar_of(archive: Path, source: str) -> dict[str, Any]:
    for side in (archive / "records" / "会议记录").rglob("*.pdf.json"):
        data: dict[str, Any] = json.loads(side.read_text(encoding="utf-8"))
        if data["source"] == source:
            return data
    raise AssertionError(f"{source} is not filed among the minutes")


def test_show_lists_a_series_and_a_case_lists_its_minutes(
    filed: tuple[Path, dict[str, Minutes]],
) -> None:
    archive, _ = filed
    for key in ("依法行政工作推进会/2021", "2021年第一季度依法行政工作推进会/2021"):
        [dossier] = dangan_json("show", key, "--archive", archive)
        assert dossier["dossier"] == "依法行政工作推进会/2021" and dossier["kind"] == "meeting"
        assert dossier["folder"] == "records/会议记录/依法行政工作推进会/2021"
        assert [d["date"] for d in dossier["documents"]] == ["2021-12-22"]
    [support] = dangan_json("show", "支委会议/2022", "--archive", archive)
    assert support["dossier"] == "支部委员会/2022"
    every_year = dangan_json("show", "年度工作总结表彰大会", "--archive", archive)
    assert [d["dossier"] for d in every_year] == ["年度工作总结表彰大会/2022"]

    [case] = dangan_json("show", "潼烟罚[2021]第15号", "--archive", archive)
    assert case["dossier"] == "潼烟罚〔2021〕15号" and case["kind"] == "case"
    types = [d["doc_type"] for d in case["documents"]]
    assert types.index("案审会记录") < types.index("行政处罚事先告知书")
    assert "重大案件集体讨论记录" in types
    crossed = [d for d in case["documents"] if d.get("cross_reference")]
    assert {d["filed_in"] for d in crossed} == {
        "会议记录 案审会/2021",
        "会议记录 重大案件集体讨论/2021",
    }
    assert all(d["record"].startswith("records/会议记录/") for d in crossed)
    text = run_dangan("show", "潼烟罚〔2021〕15号", "--archive", archive).stdout
    assert "[参见: 存于会议记录 案审会/2021]" in text


def test_one_listing_serves_the_command_line_and_the_web(
    filed: tuple[Path, dict[str, Minutes]],
) -> None:
    """``find_dossiers`` lists a case with the minutes that discussed it (参见: unnumbered,
    where they are filed); the web's reader gives the same dossiers from a server's
    read-only catalog, ``dangan show --json`` prints exactly them, and the minutes' own record
    names the cases that list it."""
    archive, _ = filed
    canonical = load_rules(archive).canonical_meeting
    with Catalog(Archive(archive).catalog_path, readonly=True) as catalog:
        [case] = find_dossiers(catalog, "潼烟罚[2021]第15号", canonical)
        assert (
            case.key == "潼烟罚〔2021〕15号"
            and case.folder == "records/处罚案卷/潼烟罚〔2021〕15号"
        )
        assert {d.filed_in_key for d in case.see_also} == {"案审会/2021", "重大案件集体讨论/2021"}
        assert {d.filed_in for d in case.see_also} == {
            "会议记录 案审会/2021",
            "会议记录 重大案件集体讨论/2021",
        }
        assert [d.number for d in case.see_also] == [0, 0]
        assert [d.number for d in case.filed] == list(range(1, len(HEARING) + 1))
        assert case.pages == sum(d.pages or 0 for d in case.filed)
        assert case.summary == f"{len(HEARING)} 份文件, 参见 2 份"
        minutes = record_detail(catalog, case.see_also[0].record_id)
        assert ("case", "潼烟罚〔2021〕15号") in minutes.listed_in
        assert minutes.entry.number == 1 and minutes.dossier_kind == "meeting"
    web = ArchiveReader(Archive(archive), canonical=canonical)
    assert [d.as_dict() for d in web.dossiers("潼烟罚〔2021〕15号")] == [case.as_dict()]
    [support] = web.dossiers("支委会议/2022")  # a name as a clerk writes it
    assert support.key == "支部委员会/2022"
    assert dangan_json("show", "潼烟罚〔2021〕15号", "--archive", archive) == [case.as_dict()]


def test_the_case_catalogue_names_its_minutes_in_the_note_sheet(
    filed: tuple[Path, dict[str, Minutes]], tmp_path: Path
) -> None:
    archive, _ = filed
    made = dangan_json(
        "catalogue", "--dossier", "潼烟罚〔2021〕15号", "--out", tmp_path, "--archive", archive
    )
    assert made["entries"] == len(HEARING)  # its own 件; the minutes are kept elsewhere
    text = "".join(p.extract_text() for p in PdfReader(made["pdf"]).pages).replace(" ", "")
    assert "潼烟罚〔2021〕15号" in text and "备考表" in text
    assert "互见:案审会记录" in text and "存于会议记录案审会/2021" in text
    assert "互见:重大案件集体讨论记录" in text


def test_a_series_catalogue_takes_the_name_as_the_clerk_writes_it(
    filed: tuple[Path, dict[str, Minutes]], tmp_path: Path
) -> None:
    archive, _ = filed
    for key, dossier in (
        ("依法行政工作推进会/2021", "依法行政工作推进会/2021"),
        ("支委会议/2022", "支部委员会/2022"),
    ):
        made = dangan_json("catalogue", "--dossier", key, "--out", tmp_path, "--archive", archive)
        assert made["entries"] == 1, key
        text = "".join(p.extract_text() for p in PdfReader(made["pdf"]).pages).replace(" ", "")
        assert f"档案{dossier}共1件" in text, text
        assert "互见" not in text  # minutes are kept in their own series


def test_status_offers_the_names_not_configured(filed: tuple[Path, dict[str, Minutes]]) -> None:
    archive, _ = filed
    status = dangan_json("status", "--archive", archive)
    expected = {m.series: 1 for m in unconfigured(MINUTES)}
    assert status["meetings_unconfigured"] == expected
    steps = "\n".join(status["next_steps"])
    assert f"{len(expected)} 种会议不在会议类型中" in steps and "rules.yaml" in steps
    text = run_dangan("status", "--archive", archive).stdout
    assert "未配置的会议" in text and "依法行政工作推进会 1" in text
    adopted = archive / "rules.yaml"
    adopted.write_text(
        "meetings:\n  依法行政工作推进会:\n    titles: [依法行政工作推进会, 依法行政推进会]\n",
        encoding="utf-8",
    )
    try:
        status = dangan_json("status", "--archive", archive)
        assert "依法行政工作推进会" not in status["meetings_unconfigured"]
        assert len(status["meetings_unconfigured"]) == len(expected) - 1
    finally:
        adopted.unlink()


def test_search_by_meeting_name_host_attendee_and_case(
    filed: tuple[Path, dict[str, Minutes]],
) -> None:
    archive, _ = filed

    def found(*query: str) -> set[str]:
        data = dangan_json("search", *query, "--archive", archive)
        return {h["dossier"] for h in data["hits"]}

    assert found("会议:依法行政工作推进会") == {"依法行政工作推进会/2021"}
    assert found("会议:推进会") == {"依法行政工作推进会/2021"}
    assert found("全体干部职工") == {"年度工作总结表彰大会/2022"}  # the attendees
    assert "局长办公会议/2022" in found("赵文辉", "会议:局长办公")  # its recorder
    assert found("郭胜利", "日期:2022-04") == {"廉政教育会/2022"}  # its host
    case = found("案号:潼烟罚〔2021〕15号")
    assert {"案审会/2021", "重大案件集体讨论/2021", "潼烟罚〔2021〕15号"} <= case
    assert "案审会/2021" in found("档案:潼烟罚〔2021〕12号")


def test_audit_flags_what_minutes_lack_and_counts_them_in_their_cases(
    filed: tuple[Path, dict[str, Minutes]],
) -> None:
    archive, _ = filed
    audit = dangan_json(
        "audit", "--year", "2022", "--as-of", "2022-12-31", "--no-fixity", "--archive", archive
    )
    lacking = [f for f in audit["findings"] if f["code"] == "meeting_incomplete"]
    assert [(f["subject"], f["severity"]) for f in lacking] == [
        ("会议记录 廉政教育会/2022", "error")
    ]
    assert "参会人员" in lacking[0]["message"] and lacking[0]["record"].startswith(
        "records/会议记录/廉政教育会/2022/"
    )
    audit = dangan_json(
        "audit", "--year", "2021", "--as-of", "2021-12-31", "--no-fixity", "--archive", archive
    )
    missing = {
        (f["subject"], f["message"]) for f in audit["findings"] if f["code"] == "missing_document"
    }
    assert missing == {("处罚案卷 潼烟罚〔2021〕20号", "一般程序案卷缺少“案件集体讨论记录”")}


def test_reindex_rebuilds_series_and_cross_references(
    filed: tuple[Path, dict[str, Minutes]], tmp_path: Path
) -> None:
    archive, _ = filed
    copy = tmp_path / "副本"
    shutil.copytree(archive, copy)
    before = dangan_json("show", "潼烟罚〔2021〕15号", "--archive", copy)
    shutil.rmtree(copy / ".dangan")
    assert dangan_json("reindex", "--archive", copy)["records"] > len(MINUTES)
    assert dangan_json("show", "潼烟罚〔2021〕15号", "--archive", copy) == before
    hits = dangan_json("search", "案号:潼烟罚〔2021〕12号", "--archive", copy)["hits"]
    assert "案审会/2021" in {h["dossier"] for h in hits}
    status = dangan_json("status", "--archive", copy)
    assert status["meetings_unconfigured"] == {m.series: 1 for m in unconfigured(MINUTES)}


def test_a_copy_in_the_case_folder_is_a_duplicate_and_the_case_keeps_its_listing(
    tmp_path: Path,
) -> None:
    archive, by_source, _ = filed_archive(tmp_path)
    review = next(s for s, m in by_source.items() if m.series == "案审会")
    original = _sidecar_of(archive, review)
    copy = archive / "inbox" / "案卷" / "潼烟罚〔2021〕第12号" / "案审会记录.pdf"
    shutil.copy(archive / "records" / "会议记录" / "案审会" / "2021" / "001_会议记录.pdf", copy)
    [outcome] = json_lines(run_dangan("ingest", "--json", "--archive", archive).stdout)
    assert outcome["outcome"] == "duplicate"
    assert outcome["record"] == "records/会议记录/案审会/2021/001_会议记录.pdf"
    [case] = dangan_json("show", "潼烟罚〔2021〕12号", "--archive", archive)
    listed = [d for d in case["documents"] if d["sha256"] == original["sha256"]]
    assert len(listed) == 1 and listed[0]["cross_reference"]


def test_minutes_dropped_in_a_case_folder_stay_there_and_are_listed_in_their_series(
    tmp_path: Path,
) -> None:
    archive, _, _ = filed_archive(tmp_path)
    lines = [
        "时间：2021年11月5日",
        "主持人：张进明",
        "参加人员：郭胜利、李卫东",
        "记录人：陈红梅",
        "议题：审理潼烟罚〔2021〕第20号、潼烟罚〔2021〕第12号案件",
    ]
    folder = archive / "inbox" / "案卷" / "潼烟罚〔2021〕第20号"
    (folder / "扫描0100.pdf").write_bytes(mini_pdf("案审会会议记录", lines))
    [outcome] = json_lines(run_dangan("ingest", "--json", "--archive", archive).stdout)
    assert outcome["outcome"] == "filed"
    assert outcome["record"].startswith("records/处罚案卷/潼烟罚〔2021〕20号/")
    [series] = dangan_json("show", "案审会/2021", "--archive", archive)
    refs = [d for d in series["documents"] if d.get("cross_reference")]
    assert [d["record"] for d in refs] == [outcome["record"]]
    [other] = dangan_json("show", "潼烟罚〔2021〕12号", "--archive", archive)
    assert outcome["record"] in {d["record"] for d in other["documents"]}
    audit = dangan_json(
        "audit", "--year", "2021", "--as-of", "2021-12-31", "--no-fixity", "--archive", archive
    )
    assert not [f for f in audit["findings"] if f["code"] == "missing_document"]


# ---------------------------------------------------------------- corrections and adoption


def _copy_of(filed: tuple[Path, dict[str, Minutes]], tmp_path: Path) -> Path:
    copy = tmp_path / "副本"
    shutil.copytree(filed[0], copy)
    return copy


def _in_series(archive: Path, dossier: str) -> list[str]:
    return [
        d["record"]
        for g in dangan_json("show", dossier, "--archive", archive)
        for d in g["documents"]
        if not d.get("cross_reference")
    ]


def test_a_name_adopted_into_a_type_tells_how_to_move_what_was_filed(
    filed: tuple[Path, dict[str, Minutes]], tmp_path: Path
) -> None:
    archive = _copy_of(filed, tmp_path)
    lines = ["时间：2021年11月3日", "主持人：张进明", "参加人员：郭胜利、李卫东", "记录人：陈红梅",
             "议题：研究年终考核"]  # fmt: skip
    scan = archive / "inbox" / "会议记录" / "扫描0200.pdf"
    scan.write_bytes(mini_pdf("2021年第9次局长办公会议会议记录", lines))
    [outcome] = json_lines(run_dangan("ingest", "--json", "--archive", archive).stdout)
    assert outcome["record"].startswith("records/会议记录/局长办公会议/2021/")
    (archive / "rules.yaml").write_text(
        "meetings:\n  局务会:\n    titles: [局务会议, 局务会, 局长办公会议]\n", encoding="utf-8"
    )
    status = dangan_json("status", "--archive", archive)
    assert "局长办公会议" not in status["meetings_unconfigured"]
    folder = "records/会议记录/局长办公会议"
    assert status["meetings_to_move"] == [
        {"name": "局长办公会议", "type": "局务会", "records": 2, "folder": folder}
    ]
    [step] = [s for s in status["next_steps"] if "局长办公会议" in s]
    command = step[step.index("dangan move") :].split()
    assert command[:4] == ["dangan", "move", folder, "局务会"]

    before = sorted(p.relative_to(archive) for p in (archive / "records").rglob("*"))
    wrong = run_dangan("move", folder, "局务会/2022", "--reason", "x", "--archive", archive)
    assert wrong.returncode == 2 and "不是 2022 年的记录" in wrong.stderr, wrong.stderr
    assert sorted(p.relative_to(archive) for p in (archive / "records").rglob("*")) == before

    result = run_dangan(*command[1:], "--archive", archive)  # the command as status gives it
    assert result.returncode == 0, result.stderr
    assert dangan_json("status", "--archive", archive)["meetings_to_move"] == []
    for year in (2021, 2022):  # each into the year it was held
        [moved] = _in_series(archive, f"局务会/{year}")
        assert moved.startswith(f"records/会议记录/局务会/{year}/")
        assert _in_series(archive, f"局长办公会议/{year}") == [moved]  # the old name finds it
        history = dangan_json("history", moved, "--archive", archive)
        assert history["events"][-1]["reason"] == "并入局务会"
    assert not list((archive / "records" / "会议记录" / "局长办公会议").rglob("*.pdf"))
    again = run_dangan(*command[1:], "--archive", archive)
    assert again.returncode == 7 and "没有已归档的会议记录" in again.stderr


def test_minutes_move_into_a_series_named_as_minutes_name_it(
    filed: tuple[Path, dict[str, Minutes]], tmp_path: Path
) -> None:
    archive = _copy_of(filed, tmp_path)
    training = "records/会议记录/业务培训会/2022/001_会议记录.pdf"
    for target, lands in (
        ("2022年廉政教育会/2022", "廉政教育会/2022"),  # a series filed under its own name
        ("支委会议/2022", "支部委员会/2022"),  # a variant of a configured type
        ("案件审理委员会会议/2022", "案审会/2022"),  # a type of the rules, no record that year
    ):
        done = dangan_json("move", training, target, "--reason", "归错会议", "--archive", archive)
        assert done["record"].startswith(f"records/会议记录/{lands}/"), (target, done)
        training = done["record"]
    before = sorted(p.relative_to(archive) for p in (archive / "records").rglob("*"))
    for target, code, says in (
        ("廉正教育会/2022", 7, "没有“廉正教育会”这种会议"),  # a slip of the pen: no such series
        ("../../会议记录/2022", 2, "不是档案的写法"),
    ):
        result = run_dangan("move", training, target, "--reason", "x", "--archive", archive)
        assert result.returncode == code and says in result.stderr, result.stderr
    assert sorted(p.relative_to(archive) for p in (archive / "records").rglob("*")) == before


def test_edit_names_the_meeting_as_intake_does(
    filed: tuple[Path, dict[str, Minutes]], tmp_path: Path
) -> None:
    archive = _copy_of(filed, tmp_path)
    record = "records/会议记录/廉政教育会/2022/001_会议记录.pdf"
    done = dangan_json(
        "edit", record, "--meeting", "2022年第3期业务培训会", "--reason", "x", "--archive", archive
    )
    assert done["record"].startswith("records/会议记录/业务培训会/2022/")
    assert "会议 廉政教育会 → 业务培训会" in done["detail"]
    result = run_dangan(
        "edit", done["record"], "--meeting", "会议记录", "--reason", "x", "--archive", archive
    )
    assert result.returncode == 2 and "不是会议的名称" in result.stderr


# ---------------------------------------------------------------- a real scan


@pytest.mark.slow
def test_a_scanned_set_of_minutes_of_a_new_kind_is_filed_by_ocr(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "档案库", ocr=True)
    m = MINUTES[0]  # 2021年第一季度依法行政工作推进会, held 二〇二一年十二月二十二日
    scan = archive / "inbox" / "会议记录" / "扫描0001.jpg"
    scan.write_bytes(scan_document(minutes_doc(m), random.Random(7)))
    [outcome] = json_lines(run_dangan("ingest", "--json", "--archive", archive).stdout)
    assert outcome["outcome"] == "filed", outcome
    assert outcome["record"].startswith("records/会议记录/依法行政工作推进会/2021/")
    assert outcome["keys"]["date"] == "2021-12-22"
    assert outcome["keys"]["host"] == m.host and outcome["keys"]["recorder"] == m.recorder
