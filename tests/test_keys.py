"""Key extraction from Chinese text as clerks and OCR write it."""

from __future__ import annotations

import datetime as dt

import pytest

from archive.core.config import ArchiveConfig
from archive.core.keys import (
    chinese_to_int,
    find_case_numbers,
    find_dates,
    find_licence_numbers,
    find_months,
    is_valid_licence,
    normalize_case_number,
)
from archive.intake.pathkeys import keys_from_path


@pytest.mark.parametrize(
    "written",
    [
        "潼烟罚〔2011〕第12号",
        "潼烟罚[2011]12号",
        "潼烟罚【2011】第 12 号",
        "潼烟罚［２０１１］第１２号",
        "潼烟罚(2011)第012号",
        "潼烟罚 2011 第12号",
        "根据潼烟罚〔2011〕12号决定书",
        "潼烟罚〔[2011]第12号",  # one bracket read as two (OpenVINO, an upside-down page)
        "潼烟罚〔2011〕]第12号",
    ],
)
def test_case_numbers_in_every_written_form(written: str) -> None:
    assert normalize_case_number(written) == "潼烟罚〔2011〕12号"


def test_case_numbers_with_configured_prefixes_and_document_numbers() -> None:
    text = "依据潼烟罚[2011]第12号和潼烟罚〔2011〕12号, 另见潼关县烟草专卖局潼烟专〔2024〕1号"
    assert find_case_numbers(text) == ["潼烟罚〔2011〕12号", "潼烟专〔2024〕1号"]
    assert find_case_numbers(text, prefixes=["潼烟罚"]) == ["潼烟罚〔2011〕12号"]
    assert normalize_case_number("没有案号的句子 2011年") is None


def test_licence_numbers_checked_and_found_with_ocr_noise() -> None:
    assert find_licence_numbers("证号：６１０５２２１００１２３，电话 13812345678") == [
        "610522100123"
    ]
    assert find_licence_numbers("6105221001234") == []  # 13 digits: not a licence
    assert find_licence_numbers("许可证号：991234567890") == []  # no such province


def test_digits_never_join_across_spaces() -> None:
    """An English manual's "32 4294967296" is two numbers; a licence number is written whole."""
    assert find_licence_numbers("2^32 = 32 4294967296 bytes") == []
    assert find_licence_numbers("许可证号 6105 2210 0124") == []
    assert find_licence_numbers("许可证号：61052 2100124", ["610522"]) == []
    assert find_case_numbers("潼烟罚〔20 11〕第1 2号") == []
    assert find_case_numbers("潼烟罚〔2011〕第1 2号") == []


def test_a_licence_number_needs_its_label_or_the_area_code() -> None:
    text = "Order 610522100123 shipped; 许可证号：610522100999; 证号 320101100001"
    # a new archive, no area codes: only what a label states
    assert find_licence_numbers(text) == ["610522100999", "320101100001"]
    # the bureau's area code: unlabelled numbers of this county count too
    assert find_licence_numbers(text, ["610522"]) == ["610522100999", "610522100123"]
    # a folder under inbox/许可证/ is itself the label
    assert find_licence_numbers("610522100123_张三烟酒店", labelled=True) == ["610522100123"]
    assert find_licence_numbers("610522100123_张三烟酒店") == []
    assert is_valid_licence("610522100123", ["610522"])
    assert not is_valid_licence("610523100123", ["610522"])
    assert not is_valid_licence("61052210012a")


def test_dates_in_arabic_and_chinese_numerals() -> None:
    text = "二〇一〇年三月二十二日召开; 2011年3月5日; 2011-03-06; 二○一一年十二月三十一日; 2011年2月30日"
    assert find_dates(text) == [
        dt.date(2010, 3, 22),
        dt.date(2011, 3, 5),
        dt.date(2011, 3, 6),
        dt.date(2011, 12, 31),
    ]
    assert find_months("2011年3月份专销联动会议纪要, 二〇一一年十月") == [(2011, 3), (2011, 10)]
    assert (
        chinese_to_int("二十一") == 21
        and chinese_to_int("十") == 10
        and chinese_to_int("二〇一一") == 2011
    )


def test_keys_from_inbox_paths() -> None:
    cfg = ArchiveConfig(area_codes=("610522",), case_prefixes=("潼烟罚",))
    k = keys_from_path(["610522100123_张三烟酒店", "营业执照副本.jpg"], "household", cfg)
    assert (k.licence_no, k.retailer, k.doc_type, k.resolved) == (
        "610522100123",
        "张三烟酒店",
        "营业执照",
        True,
    )
    k = keys_from_path(["潼烟罚[2011]第12号", "3 询问笔录.pdf"], "case", cfg)
    assert (k.case_no, k.doc_type) == ("潼烟罚〔2011〕12号", "询问笔录")
    k = keys_from_path(["专销联动会议", "2011", "三月会议纪要.jpg"], "meeting", cfg)
    assert (k.meeting_type, k.year, k.resolved) == ("专销联动会议", 2011, True)
    k = keys_from_path(["扫描0001.jpg"], "other", cfg)
    assert not k.resolved
    k = keys_from_path(["潼烟罚〔2011〕第7号 结案报告.pdf"], "other", cfg)
    assert (k.dossier_kind, k.case_no, k.doc_type) == ("case", "潼烟罚〔2011〕7号", "结案报告")
    k = keys_from_path(["61052210012", "申请表.jpg"], "household", cfg)
    assert not k.resolved and k.notes
