"""Meetings as minutes name and date them: the series a record belongs to, and when it was held.

Pure functions, no I/O. A bureau holds dozens of kinds of meetings; the minutes name them on a
``会议名称`` line, in their heading (``依法行政工作推进会会议记录``) or in the folder a clerk drops
them into, and each spelling carries what belongs to one sitting, not to the series: the year
(``2021年``), the quarter (``第一季度``), the half year or month, the sitting's number (``第3次``),
the issuing bureau. :func:`normalise_meeting_name` drops those, so every sitting of a series
lands in one folder. :func:`meeting_date` reads the day a meeting was held from the value of its
``时间`` line however it is written: Arabic or Chinese numerals (mixed too), 上午/下午 and clock
times after the day, a range of days, a day without its year.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from archive.core.doctypes import canonical_meeting
from archive.core.keys import chinese_to_int, find_dates, to_halfwidth

# The rules' mapping of a meeting name to its configured type (None: it names none).
Canonical = Callable[[str], "str | None"]

# Characters a name keeps: CJK, Latin letters and digits, and a few joiners (·、-).
_DROP_CHARS = re.compile(r"[^\u4e00-\u9fff〇○0-9A-Za-z·、\-]")
_CN_YEAR = "〇○零O一二三四五六七八九"
_CN_SMALL = "一二三四五六七八九十"
# The issuing body in front of a name: 潼关县烟草专卖局, 中共某某县烟草专卖局, 某市烟草公司（营销部）.
_ISSUER = re.compile(
    r"^(?:中共)?(?:[\u4e00-\u9fff]{0,12}?(?:烟草专卖(?:分)?局|烟草(?:分)?公司|专卖局)"
    r"|[\u4e00-\u9fff]{1,6}[县市区]局(?!长))"
)
_YEAR = re.compile(
    rf"(?:(?<![0-9])(?:19|20)\d{{2}}(?![0-9])|[{_CN_YEAR}]{{4}}(?=年))(?:年(?!度)|(?=年度))?"
)
_PERIODS = re.compile(
    rf"第?[{_CN_SMALL[:4]}1-4]季度|[上下]半年|(?<![0-9{_CN_SMALL}])(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])月份?(?!度)"
    rf"|第[0-9{_CN_SMALL}百]+(?:次|期)"
)
# What follows the name in a heading: 会议记录, 纪要, 签到表 …
_RECORD_WORDS = re.compile(r"(?:记录本|记录|纪要|记要|笔记|签到表|签到册|签到簿)$")
_LEADING = re.compile(r"^(?:关于|召开|举行|开展|的|、|-|·)+")
_TRAILING = re.compile(r"(?:的|、|-|·)+$")
MAX_NAME = 40  # characters: the longest series names seen are about 20
# Names that say nothing about which meeting it was.
_GENERIC = frozenset({"会议", "会", "记录", "纪要", "会议记录", "会议纪要", "内容", "无", "略"})
# Endings of what is a meeting (a name read from a path or a heading must look like one).
_MEETING_ENDINGS = ("会", "会议", "课", "讨论", "研讨", "学习", "培训", "论证", "座谈", "例会")


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", to_halfwidth(text))


def normalise_meeting_name(raw: str | None, bureau: str | None = None) -> str | None:
    """The name of the meeting series ``raw`` names, or None when nothing meaningful is left.

    ``2021年第一季度依法行政工作推进会会议记录`` → ``依法行政工作推进会``;
    ``潼关县烟草专卖局2021年度工作总结表彰大会`` → ``年度工作总结表彰大会`` (年度 says "annual",
    the year only which one); ``支部委员会会议`` stays itself (mapping variants to configured
    types is the rules' business); ``安全生产例会（3月份）`` → ``安全生产例会``.
    """
    if not raw:
        return None
    name = _compact(raw)
    name = re.sub(r"[（(【\[][^）)】\]]*[）)】\]]$", "", name)  # a trailing (3月份), (扩大)
    name = _DROP_CHARS.sub("", name)
    name = without_issuer(name, bureau)
    previous = None
    while previous != name:
        previous = name
        name = _RECORD_WORDS.sub("", name)
        name = without_when(name)
        name = _LEADING.sub("", name)
        name = _TRAILING.sub("", name)
        # 推进会会议 → 推进会, 支部委员会会议 → 支部委员会, 专销联动会议会议 → 专销联动会议
        name = re.sub(r"(会|会议)会议$", r"\1", name)
    if not 2 <= len(name) <= MAX_NAME or name in _GENERIC or name.isdigit():
        return None  # nothing left, or a paragraph (OCR ran lines together), not a name
    return name


def without_issuer(name: str, bureau: str | None = None) -> str:
    """``name`` (compacted) without the issuing body in front: the bureau's own name, or any
    烟草专卖局 / 烟草公司 / 某县局 (``潼关县烟草专卖局2021年…`` → ``2021年…``)."""
    if bureau:
        name = name.removeprefix(_DROP_CHARS.sub("", _compact(bureau)))
    return _ISSUER.sub("", name)


def without_when(name: str) -> str:
    """``name`` without what says which sitting or issue it is: the year (年度 stays: it says
    "annual"), quarter, half year, month and 第N次/第N期."""
    return _PERIODS.sub("", _YEAR.sub("", name))


def meeting_series(
    raw: str | None, canonical: Canonical | None = None, bureau: str | None = None
) -> str | None:
    """The series a name as a clerk writes it is filed under: its configured type when the
    rules (``canonical``) map it to one, else its own normalised name
    (``2022年第3期业务培训会`` → ``业务培训会``, ``支委会议`` → ``支部委员会``)."""
    name = normalise_meeting_name(raw, bureau)
    if not name:
        return None
    return (canonical(name) if canonical else None) or canonical_meeting(name) or name


def looks_like_meeting(name: str) -> bool:
    """Whether a name (already normalised) names a meeting rather than some other paper:
    it ends as meetings do (会, 会议, 课, 讨论 …; not 会议扫描0001, 会议照片)."""
    return name.endswith(_MEETING_ENDINGS)


def name_year(raw: str | None) -> int | None:
    """The year a meeting's name carries (``2021年第一季度…`` → 2021), if any."""
    if not raw:
        return None
    match = _YEAR.search(_compact(raw))
    if match is None:
        return None
    digits = re.sub(r"\D", "", "".join(str(chinese_to_int(ch)) for ch in match.group(0)[:4]))
    year = int(digits) if len(digits) == 4 else None
    return year if year and 1900 < year < 2100 else None


# ---------------------------------------------------------------- when it was held

_CN_RUN_BEFORE = re.compile(
    rf"([{_CN_YEAR}]{{4}})(?=\s*年)|([{_CN_SMALL}〇零]{{1,3}})(?=\s*[月日号曰])"
)
_MONTH_DAY = re.compile(r"(?<![0-9])(1[0-2]|0?[1-9])\s*月\s*([12][0-9]|3[01]|0?[1-9])\s*[日号]")
_SLASHED = re.compile(r"(?<![0-9])((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})(?![0-9])")


def arabic_dates(text: str) -> str:
    """``二〇二一年十二月二十二日`` and mixed ``二〇二一年12月22日`` → ``2021年12月22日``; 曰 → 日."""
    text = to_halfwidth(text)

    def arabic(match: re.Match[str]) -> str:
        run = match.group(0)
        if match.group(1):
            return "".join(str(chinese_to_int(ch)) for ch in run)
        value = chinese_to_int(run)
        return str(value) if value is not None else run

    text = _CN_RUN_BEFORE.sub(arabic, text)
    text = re.sub(r"(?<=[0-9])\s*曰", "日", text)
    return _SLASHED.sub(r"\1-\2-\3", text)


def dates_in(text: str) -> list[dt.date]:
    """Every full date in ``text``, in order, whatever numerals wrote it."""
    return find_dates(arabic_dates(text))


def meeting_date(value: str, fallback_year: int | None = None) -> dt.date | None:
    """The day a meeting was held, from the value of its 时间 line.

    The first day written wins (``2021年12月22日至24日``, ``12月22日—23日``); what follows the day
    (``上午9:00``, ``（星期三）下午``) is ignored. A day without its year (``12月22日下午``) takes
    ``fallback_year``; without one it is not a date.
    """
    text = arabic_dates(value)
    full = find_dates(text)
    month_day = _MONTH_DAY.search(text)
    if full and (month_day is None or text.find(str(full[0].year)) <= month_day.start()):
        return full[0]
    if month_day is not None and fallback_year is not None:
        try:
            return dt.date(fallback_year, int(month_day.group(1)), int(month_day.group(2)))
        except ValueError:
            return None
    return full[0] if full else None
