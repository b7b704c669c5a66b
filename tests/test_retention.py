"""鉴定销毁 and the DA/T 46 metadata export: destruction needs a due date, a reason and an
approver, removes the bytes, keeps the metadata and the 档号, and fills the 销毁清册."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from _archival import build_small_archive, invoke, invoke_json, sidecar
from openpyxl import load_workbook
from pypdf import PdfReader
from test_corrections import assert_continuous, round_trip

from archive.check.archive_check import check_archive
from archive.core.errors import UsageError

MINUTES = "records/会议记录/专销联动会议/2011/001_会议记录.pdf"


def test_appraise_destroy_and_register(tmp_path: Path) -> None:
    archive = build_small_archive(tmp_path / "档案库")
    sheet = invoke_json(archive, "edit", MINUTES, "--type", "签到表", "--reason", "实为签到表")
    assert invoke(archive, "appraise", "--as-of", "2021-12-31", "--json").stdout.strip() == ""
    due = invoke_json(archive, "appraise", "--as-of", "2022-01-01")
    assert due["record"] == sheet["record"] and due["retention"] == "定期10年"  # 2011 + 10
    # not yet due, or no approver: refused, nothing changed
    early = invoke(
        archive,
        "destroy",
        sheet["record"],
        "--reason",
        "到期",
        "--approver",
        "局长",
        "--as-of",
        "2021-06-01",
    )
    assert isinstance(early.exception, UsageError) and "未到保管期限" in str(early.exception)
    keep = "records/处罚案卷/潼烟罚〔2011〕12号/001_询问笔录.pdf"
    mixed = invoke(
        archive,
        "destroy",
        sheet["record"],
        keep,
        "--reason",
        "到期",
        "--approver",
        "局长",
        "--as-of",
        "2022-01-01",
    )
    assert isinstance(mixed.exception, UsageError) and (archive.root / sheet["record"]).exists()
    gone = invoke_json(
        archive,
        "destroy",
        sheet["record"],
        "--reason",
        "鉴定小组意见: 已无保存价值",
        "--approver",
        "王局长",
        "--by",
        "李档案员",
        "--as-of",
        "2022-01-01",
    )
    assert not (archive.root / sheet["record"]).exists()
    assert not list((archive.root / "records").rglob("*签到表.stamped.pdf"))
    kept = sidecar(archive, gone["record"])
    assert kept["status"] == "destroyed" and kept["destroyed"]["approver"] == "王局长"
    assert kept["archival"]["code"] == sheet["archival_code"]  # the number stays taken
    round_trip(archive)
    assert_continuous(archive)
    assert check_archive(archive).ok
    register = load_workbook(archive.root / "报告" / "销毁清册.xlsx").active
    assert register is not None
    values = [c.value for row in register.iter_rows() for c in row]
    assert sheet["archival_code"] in values and "王局长" in values and "李档案员" in values
    pdf_text = "".join(
        p.extract_text() for p in PdfReader(archive.root / "报告" / "销毁清册.pdf").pages
    )
    assert sheet["archival_code"] in pdf_text.replace(" ", "").replace("\n", "")


def test_metadata_export_has_the_core_elements(tmp_path: Path) -> None:
    archive = build_small_archive(tmp_path / "档案库")
    invoke_json(
        archive, "edit", MINUTES, "--type", "签到表", "--reason", "实为签到表", "--by", "李文书"
    )
    out = tmp_path / "元数据"
    done = invoke_json(archive, "export-metadata", "--out", str(out))
    assert done["files"] == 6
    xml = ET.parse(out / "J001-WS·2011-D10-HY-0001.xml").getroot()
    assert xml.get("标准") == "DA/T 46-2009"
    entity = xml.find("文件实体")
    assert entity is not None
    assert entity.findtext("档号") == "J001-WS·2011-D10-HY-0001"
    assert entity.findtext("档号构成/保管期限") == "定期10年"
    assert entity.findtext("档号构成/件号") == "1"
    assert entity.findtext("内容描述/文种") == "签到表"
    assert entity.find("数字摘要").get("算法") == "SHA-256"  # type: ignore[union-attr]
    acts = xml.findall("业务实体/业务")
    corrected = [a for a in acts if a.findtext("业务行为") == "更正"]
    assert corrected and corrected[0].findtext("行为依据") == "实为签到表"
    assert corrected[0].findtext("机构人员名称") == "李文书"
    names = [n.text for n in xml.findall("机构人员实体/机构人员/机构人员名称")]
    assert "李文书" in names and "潼关县烟草专卖局" in names
