"""Keys a seal hides in part: recovered when exactly one candidate fits, else the tray."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import json_lines, run_dangan

from archive.core.config import Archive
from archive.core.dockeys import DocKeys
from archive.intake.classify import make_classifier
from archive.intake.key_recovery import (
    CaseReading,
    partial_cases,
    partial_licences,
    recover_case,
    recover_licence,
)
from archive.records.catalog import Catalog
from indexers.searchable_pdf import PdfPage, TextBox, build_pdf

ROSTER = ["610522100210", "610522100083", "610522100718", "610522100989"]


@pytest.mark.parametrize(
    ("value", "reading"),
    [
        ("61052210010", "61052210010"),  # one digit dropped
        ("6105221001", "6105221001"),  # two dropped
        ("6105221OO2■0 企业名称", "6105221002?0"),  # look-alikes read as digits
        ("610522100■10", "610522100?10"),  # a mark for a digit
        ("61052210021", "61052210021"),
    ],
)
def test_partial_licence_readings(value: str, reading: str) -> None:
    assert partial_licences([value]) == [reading]


@pytest.mark.parametrize(
    "value",
    [
        "610522100210",  # complete: not a partial reading
        "610522",  # far too short: nothing to recover from
        "61052210",  # four digits lost
        "潼关县城关镇",
    ],
)
def test_no_partial_reading(value: str) -> None:
    assert partial_licences([value]) == []


def test_one_roster_number_fits_a_dropped_digit() -> None:
    found = recover_licence(["61052210010"], ROSTER, ("610522",))
    assert found is not None and found.key == "610522100210"
    assert "61052210010" in found.note and "610522100210" in found.note


def test_several_fit_and_the_page_names_none_of_them_goes_to_the_tray() -> None:
    roster = [*ROSTER, "610522101010", "610522100110"]
    found = recover_licence(["61052210010"], roster, ("610522",))
    assert found is not None and found.key is None
    assert found.candidates == ["610522100110", "610522100210", "610522101010"]
    assert "3个候选" in found.note and "610522101010" in found.note


def test_the_retailer_named_on_the_page_picks_among_candidates() -> None:
    roster = [*ROSTER, "610522101010"]
    found = recover_licence(["61052210010"], roster, ("610522",), named="610522100210")
    assert found is not None and found.key == "610522100210"


def test_a_name_that_contradicts_the_only_candidate_is_not_trusted() -> None:
    found = recover_licence(["61052210010"], ROSTER, ("610522",), named="610522100989")
    assert found is not None and found.key is None


def test_area_code_fills_digits_hidden_in_it_without_a_roster() -> None:
    found = recover_licence(["61?522100777"], [], ("610522",))
    assert found is not None and found.key == "610522100777"
    # hidden digits in the serial: the area code cannot tell them
    found = recover_licence(["6105221007?7"], [], ("610522",))
    assert found is not None and found.key is None and found.candidates == []


def test_partial_case_readings() -> None:
    prefixes = ("潼烟罚",)
    assert partial_cases(["潼烟罚 2012]"], prefixes) == [CaseReading("潼烟罚", "2012", None)]
    assert partial_cases(["潼烟罚【2011！第40号"], prefixes) == [
        CaseReading("潼烟罚", "2011", "40")
    ]
    assert partial_cases(["潼烟巴〔2011〕第4?号"], prefixes) == [CaseReading("潼烟罚", "2011", "4")]
    assert partial_cases(["经营地址:潼关县城关镇"], prefixes) == []


def test_case_recovery_against_the_archive() -> None:
    known = ["潼烟罚〔2012〕53号", "潼烟罚〔2012〕17号", "潼烟罚〔2011〕40号"]
    prefixes = ("潼烟罚",)
    serial_lost = [CaseReading("潼烟罚", "2012", None)]
    found = recover_case(serial_lost, known, prefixes)
    assert found is not None and found.key is None
    assert found.candidates == ["潼烟罚〔2012〕17号", "潼烟罚〔2012〕53号"]
    linked = recover_case(serial_lost, known, prefixes, linked=["潼烟罚〔2012〕53号"])
    assert linked is not None and linked.key == "潼烟罚〔2012〕53号"
    one = recover_case([CaseReading("潼烟罚", "2011", None)], known, prefixes)
    assert one is not None and one.key == "潼烟罚〔2011〕40号"
    whole = recover_case([CaseReading("潼烟罚", "2011", "40")], [], prefixes)
    assert whole is not None and whole.key == "潼烟罚〔2011〕40号"


def _text_pdf(lines: list[str]) -> bytes:
    boxes = [
        TextBox(
            line,
            ((100, 100 + 80 * i), (1400, 100 + 80 * i), (1400, 150 + 80 * i), (100, 150 + 80 * i)),
        )
        for i, line in enumerate(lines)
    ]
    return build_pdf([PdfPage(1654, 2339, 200, texts=boxes, visible=True)])


def _decision(case_line: str, licence: str, name: str) -> list[str]:
    return [
        "潼关县烟草专卖局",
        "行政处罚决定书",
        case_line,
        f"当事人:王强  许可证号:{licence}",
        f"经查,当事人在其经营场所{name}销售无标志外国卷烟12.5条。",
        "依据有关规定,本局决定:没收违法销售的卷烟,并处罚款。",
        "2012年3月8日",
    ]


def test_classifier_files_by_the_one_case_and_trays_the_ambiguous(archive_dir: Path) -> None:
    """Through the intake door: cases in the archive first, then decisions whose serial the
    seal hid. The one whose licence links it to one case is filed there; the one that fits
    two cases waits in the tray with the reading and both candidates as its reason."""
    inbox = archive_dir / "inbox" / "案卷"
    for case, licence in (
        ("潼烟罚〔2012〕第17号", "610522100989"),
        ("潼烟罚〔2012〕第53号", "610522100832"),
    ):
        folder = inbox / case
        folder.mkdir(parents=True)
        (folder / "询问笔录.pdf").write_bytes(
            _text_pdf(["询问笔录", f"案号:{case}", f"问:你的许可证号是多少?答:{licence}。"])
        )
    result = run_dangan("ingest", "--json", "--archive", archive_dir)
    assert result.returncode == 0, result.stderr
    (inbox / "扫描0001.pdf").write_bytes(
        _text_pdf(_decision("潼烟罚 2012]", "610522100832", "潼关县安乐杨杰卫烟酒商店"))
    )
    (inbox / "扫描0002.pdf").write_bytes(
        _text_pdf(_decision("潼烟罚 2012]", "610522100555", "潼关县秦东某商行"))
    )
    result = run_dangan("ingest", "--json", "--archive", archive_dir)
    assert result.returncode == 0, result.stderr
    out = {o["source"]: o for o in json_lines(result.stdout)}
    filed = out["inbox/案卷/扫描0001.pdf"]
    assert filed["outcome"] == "filed" and filed["keys"]["case_no"] == "潼烟罚〔2012〕53号"
    tray = out["inbox/案卷/扫描0002.pdf"]
    assert tray["outcome"] == "unfiled" and tray["record"].startswith("records/待归档/")
    assert "读到「潼烟罚〔2012〕?号」" in tray["reason"]
    assert "潼烟罚〔2012〕17号" in tray["reason"] and "潼烟罚〔2012〕53号" in tray["reason"]


def test_classifier_hook_recovers_a_licence_from_the_roster(archive_dir: Path) -> None:
    archive = Archive(archive_dir)
    with Catalog(archive.catalog_path) as catalog:
        catalog.replace_households(
            {
                "licence_no": n,
                "name": f"潼关县城关第{i}商行",
                **dict.fromkeys(("operator", "address", "class", "valid_from", "valid_to")),
            }
            for i, n in enumerate(ROSTER)
        )
        classify = make_classifier(archive, catalog)
        text = "烟草专卖零售许可证实地核查记录\n许可证号:61052210010\n核查时间:2010年7月3日\n核查结论:符合发证条件。"
        keys, findings = classify(DocKeys(dossier_kind="household"), text)
    assert keys.licence_no == "610522100210" and keys.resolved
    assert [f["code"] for f in findings] == ["key_recovered"]
