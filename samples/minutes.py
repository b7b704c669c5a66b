"""Minutes of the meetings a bureau really holds, most of them not in the shipped rules.

A real county bureau minutes dozens of kinds of meetings (工作推进会, 安全生产会议, 廉政教育会,
培训会, 局长办公会, 表彰大会, 案审会 …). :func:`sample_minutes` gives one set of each of several
kinds, written the ways clerks write them: the name on a ``会议名称`` line or only in the heading,
carrying a year, a quarter or a sitting's number that are not part of the series' name; the day
in Arabic or Chinese numerals, with 上午/下午 and clock times, as a range of days, in one case a
year later than the year in the meeting's name; case numbers in a case-review meeting; one set
without its attendees. Each :class:`Minutes` carries its truth (the series, the day held).

:func:`write_minutes` drops them into an inbox as small text-layer PDFs;
:func:`minutes_doc` gives the page for :func:`samples.scans.scan_document` (a real scan).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from samples._content import Doc, cn_date
from samples._draw import Block
from samples.bench_archive import mini_pdf

_ROOM = "局三楼会议室"


@dataclass(frozen=True)
class Minutes:
    """One set of minutes and what the archive must make of it."""

    written: str  # the meeting's name as the minutes write it
    series: str  # the series it is filed under (records/会议记录/<series>/<year>/)
    held: dt.date
    when: str  # the value of its 时间 line
    host: str
    recorder: str
    attendees: tuple[str, ...]  # empty: the minutes do not say who attended
    topic: str
    heading: str  # the first line
    name_line: bool = True  # a 会议名称 line (else the heading alone names it)
    cases: tuple[str, ...] = ()  # case numbers discussed (a case-review meeting)
    place: str = "会议记录"  # inbox folder: 会议记录 | 会议记录/<written> | 其他
    configured: bool = False  # the series is a type of the shipped rules
    body: tuple[str, ...] = field(default=())

    @property
    def year(self) -> int:
        return self.held.year

    @property
    def dossier(self) -> str:
        return f"{self.series}/{self.year}"

    def lines(self) -> list[str]:
        """The minutes' lines after the heading."""
        out = [f"会议名称：{self.written}"] if self.name_line else []
        out += [f"时间：{self.when}", f"地点：{_ROOM}", f"主持人：{self.host}"]
        if self.attendees:
            out.append(f"参加人员：{'、'.join(self.attendees)}")
        out += [f"记录人：{self.recorder}", f"议题：{self.topic}", *self.body]
        return out


def _cn(day: dt.date) -> str:
    return cn_date(day.year, day.month, day.day)


def sample_minutes(case_year: int = 2021, serials: tuple[int, int] = (12, 15)) -> list[Minutes]:
    """Minutes of six kinds of meeting not in the shipped rules, a variant name of a
    configured one, and two case-review meetings naming the cases ``serials`` of
    ``case_year`` (both in the first, the second in the other)."""
    cases = tuple(f"潼烟罚〔{case_year}〕第{n}号" for n in serials)
    staff = ("张进明", "郭胜利", "李卫东", "王建国", "刘志强", "陈红梅", "杨海涛", "赵文辉")
    d = dt.date
    return [
        Minutes(
            "2021年第一季度依法行政工作推进会",
            "依法行政工作推进会",
            d(2021, 12, 22),
            f"{_cn(d(2021, 12, 22))}下午3时",
            staff[0],
            staff[5],
            staff[1:5],
            "通报依法行政工作进展，部署行政执法“三项制度”落实",
            "会议记录",
        ),
        Minutes(
            "2021年度工作总结表彰大会",
            "年度工作总结表彰大会",
            d(2022, 1, 15),
            "2022年1月15日上午9:00—11:30",
            staff[1],
            staff[6],
            ("全体干部职工",),
            "总结2021年工作，表彰先进集体和先进个人",
            "潼关县烟草专卖局2021年度工作总结表彰大会会议纪要",
            name_line=False,
            place="会议记录/2021年度工作总结表彰大会",
        ),
        Minutes(
            "2022年安全生产工作会议",
            "安全生产工作会议",
            d(2022, 3, 8),
            "2022年3月8日至9日",
            staff[0],
            staff[7],
            staff[2:6],
            "部署安全生产大检查，落实消防安全责任",
            "会议记录",
        ),
        Minutes(
            "廉政教育会",
            "廉政教育会",
            d(2022, 4, 12),
            f"{_cn(d(2022, 4, 12))}上午",
            staff[1],
            staff[5],
            (),  # nobody wrote down who attended
            "观看警示教育片，学习廉洁从业若干规定",
            "廉政教育会会议记录",
            name_line=False,
            place="其他",
        ),
        Minutes(
            "第3期业务培训会",
            "业务培训会",
            d(2022, 5, 20),
            "2022.5.20 14:30",
            staff[2],
            staff[6],
            staff[3:8],
            "卷烟真伪鉴别与案件证据固定",
            "会议记录",
        ),
        Minutes(
            "2022年第5次局长办公会议",
            "局长办公会议",
            d(2022, 6, 2),
            "二〇二二年六月二日（星期四）下午",
            staff[0],
            staff[7],
            staff[1:4],
            "研究零售终端建设经费安排",
            "会议记录",
            place="会议记录/局长办公会议",
        ),
        Minutes(
            "党支部委员会会议",
            "支部委员会",
            d(2022, 7, 6),
            "2022年7月6日",
            staff[1],
            staff[4],
            staff[2:5],
            "研究七月党建工作安排",
            "会议记录",
            configured=True,
        ),
        Minutes(
            f"{case_year}年第二季度案审会",
            "案审会",
            d(case_year, 6, 3),
            f"{case_year}年6月3日",
            staff[0],
            staff[5],
            staff[1:5],
            f"审理{cases[0]}、{cases[1]}案件",
            "案审会会议记录",
            name_line=False,
            cases=cases,
            configured=True,
            body=("会议决定：同意承办人提出的处理意见。",),
        ),
        Minutes(
            "重大案件集体讨论",
            "重大案件集体讨论",
            d(case_year, 9, 14),
            _cn(d(case_year, 9, 14)),
            staff[0],
            staff[6],
            staff[1:4],
            f"讨论{cases[1]}案件的处罚意见",
            "重大案件集体讨论记录",
            name_line=False,
            cases=cases[1:],
            configured=True,
        ),
    ]


def unconfigured(minutes: Sequence[Minutes]) -> list[Minutes]:
    return [m for m in minutes if not m.configured]


def write_minutes(inbox: Path, minutes: Sequence[Minutes]) -> dict[Path, Minutes]:
    """Each set as a one-page text-layer PDF under ``inbox/<place>/``, named as a scanner
    names it (the name says nothing of the meeting unless the folder does)."""
    out: dict[Path, Minutes] = {}
    for index, m in enumerate(minutes, 1):
        path = inbox / m.place / f"会议扫描{index:04d}.pdf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(mini_pdf(m.heading, m.lines()))
        out[path] = m
    return out


def minutes_doc(m: Minutes) -> Doc:
    """The minutes as a page the scan generator draws."""
    blocks = [Block(m.heading, "title"), *(Block(line) for line in m.lines())]
    keys = {"meeting_type": m.series, "meeting_date": m.held.isoformat()}
    return Doc(m.series, m.series, "meeting", keys, [blocks])
