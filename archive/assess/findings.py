"""Inspection findings (检查发现的问题): what the inspectors wrote down, who owns the fix,
and by when.

A findings file is YAML or Excel.  YAML may give the inspection once (date, body, notice,
deadline) and list the problems under it; Excel has one row per problem with the columns
检查日期 / 检查单位 / 通知 / 项目 / 问题 / 责任人 / 整改期限 / 评分标准编号.  The problem
text is kept exactly as the inspectors wrote it: the rectification report quotes it.
Loading validates the whole file and raises :class:`ValidationError` with every problem.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.assess.criteria import Standard
from archive.core.bounded import read_xlsx_rows
from archive.core.cells import append_row
from archive.core.errors import Problem, ValidationError
from archive.core.yaml_lines import LineDict, key_line, line_of, load_yaml_lines

DEFAULT_AREAS = (
    "班子建设",
    "企业文化",
    "队伍建设",
    "内部监管",
    "市场监管",
    "证件管理",
    "基础设施与制度建设",
)
AREA_ALIASES = {
    "内管工作": "内部监管",
    "专卖内管工作": "内部监管",
    "内管": "内部监管",
    "内部专卖管理监督": "内部监管",
    "企业文化建设": "企业文化",
    "文化建设": "企业文化",
    "基础设施": "基础设施与制度建设",
    "制度建设": "基础设施与制度建设",
    "基础设施和制度建设": "基础设施与制度建设",
}


@dataclass
class Finding:
    inspected_on: dt.date
    body: str
    area: str
    problem: str
    owner: str
    deadline: dt.date
    notice: str | None = None
    criterion: str | None = None
    inspected_until: dt.date | None = None
    row: int | None = None


# ----------------------------------------------------------------------------- dates

_CN_DIGIT = {"〇": "0", "○": "0", "零": "0", "一": "1", "二": "2", "三": "3", "四": "4"}
_CN_DIGIT |= {"五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}


def _cn_small(s: str) -> int | None:
    """一 … 三十一 (month/day)."""
    if s.isdigit():
        return int(s)
    if "十" in s:
        tens, _, ones = s.partition("十")
        t = int(_CN_DIGIT.get(tens, "x")) if tens else 1
        o = int(_CN_DIGIT.get(ones, "x")) if ones else 0
        return t * 10 + o
    return int(_CN_DIGIT[s]) if s in _CN_DIGIT else None


def parse_date(value: Any) -> dt.date | None:
    """A date from what clerks write: 2010-01-24, 2010/1/24, 2010年1月24日, 二〇一〇年一月二十四日,
    or an Excel/YAML date; None when it is not one."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    s = "".join(value.split()).translate(
        str.maketrans("０１２３４５６７８９－／．", "0123456789-/.")
    )
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", s)
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m = re.fullmatch(
            r"([〇○零一二三四五六七八九\d]{4})年([一二三四五六七八九十\d]{1,3})月([一二三四五六七八九十\d]{1,3})日?",
            s,
        )
        if not m:
            return None
        year = "".join(_CN_DIGIT.get(ch, ch) for ch in m.group(1))
        mo_, d_ = _cn_small(m.group(2)), _cn_small(m.group(3))
        if not year.isdigit() or mo_ is None or d_ is None:
            return None
        y, mo, d = int(year), mo_, d_
    try:
        return dt.date(y, mo, d)
    except ValueError:
        return None


# ---------------------------------------------------------------------------- reading

_XLSX_HEADERS = {
    "检查日期": "date",
    "日期": "date",
    "检查结束日期": "until",
    "检查单位": "body",
    "检查组": "body",
    "通知": "notice",
    "整改通知": "notice",
    "项目": "area",
    "考核项目": "area",
    "问题": "problem",
    "存在问题": "problem",
    "责任人": "owner",
    "整改责任人": "owner",
    "整改期限": "deadline",
    "期限": "deadline",
    "评分标准编号": "criterion",
    "子项编号": "criterion",
}
_FIELDS = frozenset(
    {"date", "until", "body", "notice", "area", "problem", "owner", "deadline", "criterion"}
)


def _rows_from_yaml(path: Path) -> tuple[list[LineDict], list[Problem]]:
    data = load_yaml_lines(path)
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        return [], [Problem(None, "findings", "findings: 问题列表", type(data).__name__)]
    problems: list[Problem] = []
    base = data.get("inspection") or {}
    if not isinstance(base, dict):
        problems.append(
            Problem(line_of(data), "inspection", "检查信息（date/body/notice/deadline）", str(base))
        )
        base = {}
    for key in base:
        if key not in _FIELDS:
            problems.append(
                Problem(
                    key_line(base, key), f"inspection.{key}", "/".join(sorted(_FIELDS)), str(key)
                )
            )
    rows = []
    for raw in data["findings"]:
        if not isinstance(raw, dict):
            problems.append(Problem(line_of(data), "findings", "问题（映射）", str(raw)))
            continue
        for key in raw:
            if key not in _FIELDS:
                problems.append(
                    Problem(key_line(raw, key), str(key), "/".join(sorted(_FIELDS)), str(key))
                )
        row = LineDict({**base, **raw})
        row.line = line_of(raw)
        rows.append(row)
    return rows, problems


def _rows_from_xlsx(path: Path) -> tuple[list[LineDict], list[Problem]]:
    grid = read_xlsx_rows(path)
    h = 0
    for h, cells in enumerate(grid[:10]):  # noqa: B007 - h is the header row after the loop
        cols = {
            i: _XLSX_HEADERS["".join(str(v).split())]
            for i, v in enumerate(cells)
            if v is not None and "".join(str(v).split()) in _XLSX_HEADERS
        }
        if "problem" in cols.values():
            break
    else:
        return [], [
            Problem(
                None,
                "表头",
                "含“问题”列的表头（检查日期/检查单位/项目/问题/责任人/整改期限）",
                "未找到",
            )
        ]
    rows = []
    for r in range(h + 1, len(grid)):
        row = LineDict(
            {
                name: (v.strip() if isinstance(v, str) else v)
                for i, name in cols.items()
                if i < len(grid[r]) and (v := grid[r][i]) not in (None, "")
            }
        )
        row.line = r + 1
        if row:
            rows.append(row)
    return rows, []


# ------------------------------------------------------------------------- validating


def _area(name: str, standard: Standard | None) -> str | None:
    names = [a.name for a in standard.areas] if standard else list(DEFAULT_AREAS)
    if name in names:
        return name
    alias = AREA_ALIASES.get(name)
    return alias if alias in names else None


def _finding(
    raw: dict[str, Any], standard: Standard | None, problems: list[Problem]
) -> Finding | None:
    row = line_of(raw)
    before = len(problems)

    def bad(fld: str, expected: str, found: Any) -> None:
        problems.append(Problem(row, fld, expected, "" if found is None else str(found)))

    def text(key: str) -> str:
        v = raw.get(key)
        return "" if v is None else str(v).strip()

    inspected = parse_date(raw.get("date"))
    if inspected is None:
        bad("date", "检查日期，如 2010-01-24 或 2010年1月24日", raw.get("date") or "缺少")
    until = parse_date(raw.get("until")) if raw.get("until") is not None else None
    if raw.get("until") is not None and until is None:
        bad("until", "检查结束日期", raw.get("until"))
    elif until and inspected and until < inspected:
        bad("until", f"不早于检查日期 {inspected}", until)
    body = text("body")
    if not body:
        bad("body", "检查单位（如 省局考核验收组）", "缺少")
    area_raw = text("area")
    area = _area(area_raw, standard) if area_raw else None
    if area is None:
        known = [a.name for a in standard.areas] if standard else list(DEFAULT_AREAS)
        bad("area", "评分标准中的项目: " + "、".join(known), area_raw or "缺少")
    problem = text("problem")
    if not problem:
        bad("problem", "检查组原文写的问题", "缺少")
    owner = text("owner")
    if not owner:
        bad("owner", "整改责任人", "缺少")
    deadline = parse_date(raw.get("deadline"))
    if deadline is None:
        bad("deadline", "整改期限（日期）", raw.get("deadline") or "缺少")
    elif inspected and deadline < inspected:
        bad("deadline", f"不早于检查日期 {inspected}", deadline)
    criterion = text("criterion") or None
    if criterion and standard is not None:
        try:
            crit = standard.criterion(criterion)
        except KeyError:
            bad("criterion", "评分标准中的子项编号", criterion)
        else:
            if area and crit.area != area:
                bad("criterion", f"“{area}”项目下的子项", f"{criterion}（属于{crit.area}）")
    if len(problems) > before:
        return None
    assert inspected is not None and deadline is not None and area is not None
    return Finding(
        inspected,
        body,
        area,
        problem,
        owner,
        deadline,
        text("notice") or None,
        criterion,
        until,
        row,
    )


def check_findings(path: Path, standard: Standard | None = None) -> list[Problem]:
    """Every problem of a findings file (empty when it loads)."""
    try:
        load_findings(path, standard)
    except ValidationError as exc:
        return exc.problems
    return []


def load_findings(path: Path, standard: Standard | None = None) -> list[Finding]:
    """Findings from a .yaml or .xlsx file; raises ValidationError listing every problem.

    With ``standard``, areas must be its areas and criterion codes must exist in it.
    """
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        rows, problems = _rows_from_xlsx(path)
    else:
        rows, problems = _rows_from_yaml(path)
    findings: list[Finding] = []
    seen: dict[tuple[str, str], int | None] = {}
    for raw in rows:
        f = _finding(raw, standard, problems)
        if f is None:
            continue
        key = (f.area, f.problem)
        if key in seen:
            problems.append(Problem(f.row, "problem", f"不重复（第{seen[key]}行已有）", f.problem))
        seen[key] = f.row
        findings.append(f)
    if not rows and not problems:
        problems.append(Problem(None, "findings", "至少一条问题", "无"))
    if problems:
        raise ValidationError(str(path), problems)
    return findings


XLSX_HEADERS = (
    "检查日期",
    "检查结束日期",
    "检查单位",
    "通知",
    "项目",
    "问题",
    "责任人",
    "整改期限",
    "评分标准编号",
)


def write_findings_xlsx(path: Path, findings: list[Finding]) -> Path:
    """The findings as the Excel sheet clerks keep (also the blank template when empty)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "整改问题"
    append_row(ws, XLSX_HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for f in findings:
        append_row(
            ws,
            [
                f.inspected_on,
                f.inspected_until,
                f.body,
                f.notice,
                f.area,
                f.problem,
                f.owner,
                f.deadline,
                f.criterion,
            ],
        )
    for row in ws.iter_rows(min_row=2):
        for idx in (0, 1, 7):
            row[idx].number_format = "yyyy-mm-dd"
    for col, width in zip("ABCDEFGHI", (12, 12, 16, 40, 12, 50, 10, 12, 12), strict=True):
        ws.column_dimensions[col].width = width
    path = Path(path)
    wb.save(path)
    return path
