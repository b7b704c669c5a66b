"""Keys in Chinese text: licence numbers, case numbers and dates.

Pure functions, no I/O. Built for what clerks and OCR actually produce: full-width
digits, every bracket style (〔〕 [] 【】 ［］ （）), a stray ``第`` or none, and dates
written in Arabic or Chinese numerals. A key is only what the document states: digits are
never joined across spaces or line breaks (``32 4294967296`` is two numbers, not a licence),
and a licence number needs its label (``许可证号：``) or the bureau's area code.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Province-level prefixes of the administrative division codes (GB/T 2260).
_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)

_FULLWIDTH = {0xFF10 + i: 0x30 + i for i in range(10)}
_FULLWIDTH.update({0xFF21 + i: 0x41 + i for i in range(26)})
_FULLWIDTH.update({0xFF41 + i: 0x61 + i for i in range(26)})
_FULLWIDTH.update({0x3000: 0x20, 0xFF0D: 0x2D, 0xFF0E: 0x2E, 0xFF0F: 0x2F, 0xFF1A: 0x3A})


_HAS_FULLWIDTH = re.compile("[" + "".join(map(chr, sorted(_FULLWIDTH))) + "]")


def to_halfwidth(text: str) -> str:
    """Full-width digits, Latin letters, space and ``-./:`` to their ASCII forms."""
    if _HAS_FULLWIDTH.search(text) is None:  # most lines: no table look-up for each character
        return text
    return text.translate(_FULLWIDTH)


# ---------------------------------------------------------------- licence numbers

# The labels a licence number is written after (rules.yaml may give a bureau's own).
LICENCE_LABELS = ("许可证号", "许可证编号", "许可证号码", "证号")
_LICENCE_TOKEN = re.compile(r"(?<![0-9])([0-9]{12})(?![0-9])")


def is_valid_licence(number: str, area_codes: Sequence[str] = ()) -> bool:
    """A licence number is 12 ASCII digits starting with a real area code.

    With ``area_codes`` (the bureau's county codes from dangan.toml) the number must start
    with one of them; otherwise its first two digits must be a province code.
    """
    if len(number) != 12 or not number.isascii() or not number.isdigit():
        return False
    if area_codes:
        return any(number.startswith(code) for code in area_codes)
    return number[:2] in _PROVINCES


def _label_regex(labels: Sequence[str]) -> re.Pattern[str]:
    alts = "|".join(re.escape(x) for x in sorted(labels, key=len, reverse=True))
    return re.compile(rf"(?:{alts})[ \t]*(?:[:：][ \t]*)?([0-9]{{12}})(?![0-9])")


_DEFAULT_LABEL_RE = _label_regex(LICENCE_LABELS)


def find_licence_numbers(
    text: str,
    area_codes: Sequence[str] = (),
    *,
    labels: Sequence[str] = LICENCE_LABELS,
    labelled: bool = False,
) -> list[str]:
    """Every distinct licence number ``text`` states, labelled ones first, in order.

    A number is 12 digits written together. It counts when it follows one of ``labels``
    (``许可证号：610522100123``), when ``area_codes`` are configured and it starts with one
    of them, or anywhere when the whole ``text`` is the value of a licence label
    (``labelled``, e.g. a folder under the inbox's 许可证/). Without area codes a number
    must start with a province code.
    """
    half = to_halfwidth(text)
    hits: list[tuple[int, str]] = []
    regex = _DEFAULT_LABEL_RE if tuple(labels) == LICENCE_LABELS else _label_regex(labels)
    if labels:
        hits += [(-1, m.group(1)) for m in regex.finditer(half)]
    if labelled or area_codes:
        hits += [(m.start(), m.group(1)) for m in _LICENCE_TOKEN.finditer(half)]
    found: list[str] = []
    for _, number in sorted(hits, key=lambda hit: hit[0]):
        if is_valid_licence(number, area_codes) and number not in found:
            found.append(number)
    return found


def infer_area_codes(licences: Iterable[str], min_share: float = 0.01) -> tuple[str, ...]:
    """The county codes (first six digits) of a roster's licence numbers, most used first.

    Prefixes held by fewer than ``min_share`` of the numbers (typing slips) are left out.
    """
    counts: dict[str, int] = {}
    valid = [n for n in licences if is_valid_licence(n)]
    for number in valid:
        counts[number[:6]] = counts.get(number[:6], 0) + 1
    floor = max(1, round(min_share * len(valid)))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(code for code, n in ranked if n >= floor)


# ---------------------------------------------------------------- case numbers

_OPEN = "〔[【［（(﹝〖{<《"
_CLOSE = "〕]】］）)﹞〗}>》"
_GENERIC_PREFIX = r"[\u4e00-\u9fff]{1,2}烟[\u4e00-\u9fff]{0,3}"
# Characters that begin a sentence rather than a document-number prefix.
_LEADING_NOISE = (
    "根据照按依见的和及经对在以为即与同将由把向从于是了号文局县市省区书表告录证令单函知"
)
# Year and serial are digits written together (never joined across a space). OCR now and
# then reads one bracket as two (``〔[2010]``): up to two are taken on each side.
_CASE_TAIL = (
    r"\s*[" + re.escape(_OPEN) + r"]{0,2}\s*((?:19|20)[0-9]{2})(?![0-9])\s*"
    r"[" + re.escape(_CLOSE) + r"]{0,2}\s*第?\s*(?<![0-9])([0-9]{1,5})\s*号"
)


@dataclass(frozen=True)
class CaseNumber:
    """A parsed case (or document) number such as ``潼烟罚〔2011〕12号``."""

    prefix: str
    year: str
    serial: str

    def __str__(self) -> str:
        return f"{self.prefix}〔{self.year}〕{self.serial}号"


def _case_regex(prefixes: Sequence[str]) -> re.Pattern[str]:
    if prefixes:
        alts = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
        head = f"({alts})"
    else:
        head = f"({_GENERIC_PREFIX})"
    return re.compile(head + _CASE_TAIL)


_GENERIC_CASE_RE = _case_regex(())


def _parse_case_matches(text: str, prefixes: Sequence[str]) -> list[CaseNumber]:
    pattern = _case_regex(prefixes) if prefixes else _GENERIC_CASE_RE
    out: list[CaseNumber] = []
    for m in pattern.finditer(to_halfwidth(text)):
        prefix = m.group(1)
        if not prefixes:
            prefix = prefix.lstrip(_LEADING_NOISE) or prefix
            if "烟" not in prefix:
                continue
        year = re.sub(r"\s", "", m.group(2))
        serial = str(int(re.sub(r"\s", "", m.group(3))))
        out.append(CaseNumber(prefix, year, serial))
    return out


def parse_case_number(text: str, prefixes: Sequence[str] = ()) -> CaseNumber | None:
    """The first case number in ``text``, parsed; ``None`` when there is none."""
    found = _parse_case_matches(text, prefixes)
    return found[0] if found else None


def normalize_case_number(text: str, prefixes: Sequence[str] = ()) -> str | None:
    """The canonical form ``潼烟罚〔2011〕12号`` of a case number however it was written."""
    parsed = parse_case_number(text, prefixes)
    return str(parsed) if parsed else None


def find_case_numbers(text: str, prefixes: Sequence[str] = ()) -> list[str]:
    """Every distinct case number in ``text``, canonical, in order of first appearance."""
    seen: list[str] = []
    for case in _parse_case_matches(text, prefixes):
        if str(case) not in seen:
            seen.append(str(case))
    return seen


# ---------------------------------------------------------------- dates

_CN_DIGITS = {
    "〇": 0,
    "○": 0,
    "零": 0,
    "O": 0,
    "o": 0,
    "0": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUM = "〇○零Oo0一二两三四五六七八九十"


def chinese_to_int(text: str) -> int | None:
    """``二〇一一`` → 2011, ``十二`` → 12, ``二十一`` → 21, ``三十`` → 30; Arabic passes through."""
    text = to_halfwidth(text.strip())
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if "十" in text:
        head, _, tail = text.partition("十")
        tens = _CN_DIGITS.get(head, -1) if head else 1
        ones = _CN_DIGITS.get(tail, -1) if tail else 0
        if tens < 0 or ones < 0 or len(head) > 1 or len(tail) > 1:
            return None
        return tens * 10 + ones
    digits = [_CN_DIGITS.get(ch, -1) for ch in text]
    if any(d < 0 for d in digits):
        return None
    value = 0
    for d in digits:
        value = value * 10 + d
    return value


_DATE_PATTERNS = (
    re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]"),
    re.compile(r"(?<![0-9])((?:19|20)\d{2})[-./](\d{1,2})[-./](\d{1,2})(?![0-9])"),
    re.compile(
        f"([{_CN_NUM}]{{4}})\\s*年\\s*([{_CN_NUM}]{{1,3}})\\s*月\\s*([{_CN_NUM}]{{1,3}})\\s*[日号]"
    ),
)
_MONTH_PATTERNS = (
    re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月(?!\s*\d)"),
    re.compile(f"([{_CN_NUM}]{{4}})\\s*年\\s*([{_CN_NUM}]{{1,3}})\\s*月(?!\\s*[{_CN_NUM}])"),
    re.compile(r"(?<![0-9])((?:19|20)\d{2})[-.](\d{1,2})(?![0-9./-])"),
)


def _make_date(y: str, m: str, d: str) -> _dt.date | None:
    year, month, day = chinese_to_int(y), chinese_to_int(m), chinese_to_int(d)
    if year is None or month is None or day is None:
        return None
    try:
        return _dt.date(year, month, day)
    except ValueError:
        return None


def find_dates(text: str) -> list[_dt.date]:
    """Every valid full date in ``text``, in order of appearance (Arabic or Chinese numerals)."""
    text = to_halfwidth(text)
    hits: list[tuple[int, _dt.date]] = []
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            date = _make_date(m.group(1), m.group(2), m.group(3))
            if date is not None:
                hits.append((m.start(), date))
    hits.sort(key=lambda item: item[0])
    return [date for _, date in hits]


def find_months(text: str) -> list[tuple[int, int]]:
    """Every ``(year, month)`` written without a day (``2011年3月``, ``二〇一一年三月``, ``2011-03``)."""
    text = to_halfwidth(text)
    out: list[tuple[int, tuple[int, int]]] = []
    for pattern in _MONTH_PATTERNS:
        for m in pattern.finditer(text):
            year, month = chinese_to_int(m.group(1)), chinese_to_int(m.group(2))
            if year and month and 1 <= month <= 12 and 1900 < year < 2100:
                out.append((m.start(), (year, month)))
    out.sort(key=lambda item: item[0])
    return [ym for _, ym in out]


def first_date(texts: Iterable[str]) -> _dt.date | None:
    """The first full date found in any of ``texts``, tried in order."""
    for text in texts:
        dates = find_dates(text)
        if dates:
            return dates[0]
    return None
