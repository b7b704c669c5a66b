"""Import the bureau's scoring standard from the Word or Excel table it arrives as.

A bureau receives its 考核验收评分标准 as a table: 项目 / 子项 / 评分标准 / 分值 (the
names vary: 考核项目 / 考核内容 / 评分标准 / 标准分 …), the area column merged across the
rows of its area, numbering such as ``一、`` ``（一）`` ``1.1`` ``1、`` in the cells.
:func:`import_criteria` turns it into the YAML-shaped dict of :mod:`archive.assess.criteria`;
evidence rules are inferred only from wording that says it plainly (每月召开…会议,
一户一档, 达到95%以上 …) and everything else is marked ``manual``.

:func:`check_table` reports every bad row at once; rows are the table's own rows
(1-based, header included) for .docx and the sheet's row numbers for .xlsx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.assess.criteria import check_standard_data, dump_standard, standard_from_dict
from archive.assess.evidence_infer import infer_evidence, plain_number
from archive.core.bounded import LimitExceeded, check_size, check_zip, open_docx
from archive.core.errors import ConfigError, Problem, ValidationError
from archive.core.yaml_lines import load_yaml_lines, number

# ------------------------------------------------------------------------ reading


@dataclass
class _Table:
    title_candidates: list[str]
    rows: list[tuple[int, list[str]]]  # (row number as the clerk sees it, cell texts)


def _clean(text: Any) -> str:
    """Cell text: lines joined (Word/Excel line breaks inside a cell), spaces trimmed."""
    if text is None:
        return ""
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    lines = [ln.strip() for ln in str(text).replace("\r", "\n").split("\n")]
    return "".join(ln for ln in lines if ln).replace("\u3000", " ").strip()


_MAX_TABLE_ROWS = 5_000  # a standard has tens of rows, a long one a few hundred
_MAX_TABLE_COLUMNS = 100


def _read_docx(path: Path) -> _Table:
    from docx.oxml.ns import qn

    document = open_docx(path)
    titles: list[str] = []
    for child in document.element.body.iterchildren():
        if child.tag == qn("w:tbl"):
            break
        if child.tag == qn("w:p"):
            text = _clean("".join(t.text or "" for t in child.iter(qn("w:t"))))
            if text:
                titles.append(text)
    best: _Table | None = None
    for table in document.tables:
        rows = []
        for r, row in enumerate(table.rows, start=1):
            cells = [""] * row.grid_cols_before + [_clean(c.text) for c in row.cells]
            rows.append((r, cells))
        candidate = _Table(titles, rows)
        if _find_header(candidate) is not None:
            return candidate
        best = best or candidate
    if best is None:
        raise ConfigError(f"{path}: 文档中没有表格；评分标准应是一张 项目/子项/评分标准/分值 表。")
    return best


def _read_xlsx(path: Path) -> _Table:
    from openpyxl import load_workbook

    check_size(path, what="Excel 文件")
    check_zip(path, what="Excel 文件")
    try:
        wb = load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a bad file
        raise ConfigError(
            f"{path}: 无法作为 Excel 文件打开（{type(exc).__name__}），请用 Excel 另存为 .xlsx。"
        ) from exc
    first: _Table | None = None
    for ws in wb.worksheets:
        if ws.max_row > _MAX_TABLE_ROWS or ws.max_column > _MAX_TABLE_COLUMNS:
            wb.close()
            raise LimitExceeded(
                f"{path}: 工作表“{ws.title}”有 {ws.max_row} 行 {ws.max_column} 列, 评分标准表"
                f"不应超过 {_MAX_TABLE_ROWS} 行 {_MAX_TABLE_COLUMNS} 列; 请删除多余的行列后再导入"
            )
        values: dict[tuple[int, int], Any] = {}
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    values[(cell.row, cell.column)] = cell.value
        for rng in ws.merged_cells.ranges:
            top = values.get((rng.min_row, rng.min_col))
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    values[(r, c)] = top
        width = ws.max_column
        rows = [
            (r, [_clean(values.get((r, c))) for c in range(1, width + 1)])
            for r in range(1, ws.max_row + 1)
        ]
        table = _Table([], rows)
        if _find_header(table) is not None:
            wb.close()
            return table
        first = first or table
    wb.close()
    assert first is not None
    return first


IMPORT_NOTE = "由 Word/Excel 评分标准表导入；证据规则按文字自动推断，标为 manual 的子项请人工补充。"

# ------------------------------------------------------------------------ header

_HEADERS: dict[str, tuple[str, ...]] = {
    "number": ("序号", "编号", "代码", "序"),
    "area": ("项目", "考核项目", "评价项目", "一级指标", "考核类别", "类别", "评价类别"),
    "item": ("考核要素", "评价要素", "二级指标", "分项", "考核要点"),
    "text": (
        "子项", "考核内容", "评价子项", "考核子项", "评价内容", "三级指标", "内容",
        "考核标准", "评价标准", "考核细则", "工作标准",
    ),
    "scoring": (
        "评分标准", "评分办法", "评分细则", "扣分标准", "计分方法", "评分方法", "考核办法",
        "评分说明", "计分标准",
    ),
    "points": ("分值", "标准分", "分数", "满分", "标准分值", "应得分", "权重", "配分"),
}  # fmt: skip


def _header_key(text: str) -> str | None:
    t = re.sub(r"[（(][^）)]*[）)]", "", text).replace(" ", "")
    for key, names in _HEADERS.items():
        if t in names:
            return key
    return None


def _find_header(table: _Table) -> tuple[int, dict[str, int]] | None:
    for idx, (_r, cells) in enumerate(table.rows[:8]):
        cols: dict[str, int] = {}
        for c, text in enumerate(cells):
            key = _header_key(text)
            if key == "text" and "text" in cols and "scoring" not in cols:
                key = "scoring"  # 评价子项 | 评价标准: the second wording column scores
            if key and key not in cols:
                cols[key] = c
        if "text" in cols and "points" in cols:
            return idx, cols
    return None


# ------------------------------------------------------------------------ numbering

_CN_NUM = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_HALF = str.maketrans("０１２３４５６７８９．（）", "0123456789.()")


def _cn_int(s: str) -> int | None:
    """一 … 九十九 as an int."""
    if s.isdigit():
        return int(s)
    if not s or any(ch not in _CN_NUM and ch != "十" for ch in s):
        return None
    if "十" not in s:
        return _CN_NUM[s] if len(s) == 1 else None
    tens, _, ones = s.partition("十")
    return (_CN_NUM.get(tens, 0) if tens else 1) * 10 + (_CN_NUM.get(ones, 0) if ones else 0)


_NUMBERING = re.compile(
    r"^\s*(?:"
    r"(?P<dotted>\d+(?:\.\d+)+)\.?(?![\d%％])"
    r"|[(（](?P<paren>\d+|[一二三四五六七八九十]+)[)）]"
    r"|(?P<lead>\d+|[一二三四五六七八九十]+)(?:[、.．]|\s)(?![\d%％])"
    r"|(?P<circled>[" + _CIRCLED + r"])"
    r")\s*"
)


def _split_numbering(text: str) -> tuple[str | None, str]:
    """(``"1.1"`` or ``"3"`` or None, the text without its numbering)."""
    t = text.translate(_HALF)
    m = _NUMBERING.match(t)
    if not m:
        return None, text.strip()
    rest = text[m.end() :].strip()
    if m.group("dotted"):
        return m.group("dotted"), rest
    raw = m.group("paren") or m.group("lead")
    if raw:
        n = _cn_int(raw)
        return (str(n) if n is not None else None), rest
    return str(_CIRCLED.index(m.group("circled")) + 1), rest


_POINTS_IN_NAME = re.compile(r"[(（]?\s*(\d+(?:\.\d+)?)\s*分\s*[)）]?\s*$")


def _split_points(text: str) -> tuple[str, str | None]:
    """``班子建设（12分）`` → (``班子建设``, ``"12"``)."""
    t = text.translate(_HALF)
    m = _POINTS_IN_NAME.search(t)
    if not m or m.start() == 0:
        return text.strip(), None
    return text[: m.start()].strip(), m.group(1)


# ------------------------------------------------------------------------ building


@dataclass
class _AreaAcc:
    code: str
    name: str
    points: str | None
    row: int
    raw: str = ""
    items: dict[str, _ItemAcc] = field(default_factory=dict)

    def count(self) -> int:
        return sum(len(i.criteria) for i in self.items.values())


@dataclass
class _ItemAcc:
    code: str
    name: str
    points: str | None
    row: int
    criteria: list[dict[str, Any]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    bad_points: bool = False


def _is_total(text: str) -> bool:
    t = text.replace(" ", "")
    return t.startswith(("合计", "总计", "总分", "合 计"))


def _build(table: _Table, source: str) -> tuple[dict[str, Any], list[Problem]]:
    problems: list[Problem] = []

    def bad(row: int | None, fld: str, expected: str, found: Any) -> None:
        problems.append(Problem(row, fld, expected, "" if found is None else str(found)))

    header = _find_header(table)
    if header is None:
        first = " | ".join(c for c in (table.rows[0][1] if table.rows else []) if c)
        bad(
            None,
            "表头",
            "含 项目/子项/评分标准/分值（或 考核项目/考核内容/评分标准/标准分）的表头",
            first,
        )
        return {}, problems
    hidx, cols = header
    if "scoring" not in cols:
        bad(table.rows[hidx][0], "表头", "评分标准 列（评分标准/评分办法/扣分标准）", "缺少")
    titles = list(table.title_candidates) + [
        next(c for c in cells if c) for _r, cells in table.rows[:hidx] if any(cells)
    ]
    name = next((t for t in reversed(titles) if "标准" in t or "细则" in t), None)
    name = name or (titles[-1] if titles else Path(source).stem)

    def cell(cells: list[str], key: str) -> str:
        i = cols.get(key)
        return cells[i] if i is not None and i < len(cells) else ""

    areas: dict[str, _AreaAcc] = {}
    current: _AreaAcc | None = None
    item_name = ""
    declared_total: tuple[int, str] | None = None
    codes: dict[str, int] = {}
    header_cells = table.rows[hidx][1]
    for r, cells in table.rows[hidx + 1 :]:
        if not any(cells) or cells == header_cells:  # blank, or the header repeated
            continue
        nonempty = {c for c in cells if c}
        first = next(c for c in cells if c)
        if _is_total(first):
            pts = cell(cells, "points") or next((c for c in cells if number(c) is not None), "")
            declared_total = (r, pts)
            continue
        section = len(nonempty) == 1 and number(first) is None
        area_text = first if section else cell(cells, "area")
        if area_text and (current is None or area_text != current.raw):
            num, rest = _split_numbering(area_text)
            aname, apoints = _split_points(rest)
            code = num if num and "." not in num else str(len(areas) + 1)
            if not aname:
                bad(r, "项目", "考核项目名称", area_text)
            current = areas.setdefault(aname, _AreaAcc(code, aname, apoints, r))
            current.raw = area_text
            item_name = ""
        if section:
            continue
        if current is None:
            bad(r, "项目", "考核项目名称（第一行不能为空）", "空")
            continue
        raw_item = cell(cells, "item")
        if raw_item and raw_item != area_text:
            item_name = raw_item
        _item_num, item_rest = _split_numbering(item_name) if item_name else (None, "")
        iname, ipoints = _split_points(item_rest) if item_name else ("", None)
        if iname not in current.items:
            letter = chr(ord("A") + len(current.items))
            icode = f"{current.code}.{letter}" if iname else current.code
            current.items[iname] = _ItemAcc(icode, iname, ipoints, r)
        item = current.items[iname]
        raw_text = cell(cells, "text")
        num, text = _split_numbering(raw_text)
        own = cell(cells, "number")
        if own:
            num = _split_numbering(own + " ")[0] or own
        if not text:
            bad(r, "子项", "子项内容", raw_text or "空")
        if num is None:
            code = f"{current.code}.{current.count() + 1}"
        elif "." in num:
            code = num
        else:
            code = f"{current.code}.{num}"
        if code in codes:
            bad(r, "编号", f"唯一编号（第{codes[code]}行已用）", code)
        else:
            codes[code] = r
        scoring = cell(cells, "scoring")
        if "scoring" in cols and not scoring:
            bad(r, "评分标准", "评分标准文字", "空")
        raw_points = cell(cells, "points")
        points = number(raw_points)
        if points is None or points <= 0:
            bad(r, "分值", "大于0的数字", raw_points or "空")
            item.bad_points = True  # its sums are not checked: the row is reported already
        crit: dict[str, Any] = {
            "code": code,
            "text": text,
            "points": plain_number(str(points or 0)),
        }
        if scoring:
            crit["scoring"] = scoring
        crit["evidence"] = infer_evidence(text, scoring)
        item.criteria.append(crit)
        item.rows.append(r)

    out_areas = []
    grand = 0.0
    any_bad = False
    for area in areas.values():
        named = [i for i in area.items.values() if i.name]
        if named and len(named) != len(area.items):
            bad(area.row, "分组", f"“{area.name}”的子项要么都有分组，要么都没有", "部分有")
        sub = sum(c["points"] for i in area.items.values() for c in i.criteria)
        grand += sub
        unsure = any(i.bad_points for i in area.items.values())
        any_bad = any_bad or unsure
        declared = number(area.points) if area.points else sub
        if declared is not None and not unsure and abs(declared - sub) > 0.005:
            bad(
                area.row,
                "项目分值",
                f"“{area.name}”子项分值之和 {plain_number(str(sub))}",
                area.points,
            )
        entry: dict[str, Any] = {
            "code": area.code,
            "name": area.name,
            "points": plain_number(str(declared)),
        }
        if named:
            items = []
            for it in area.items.values():
                idict: dict[str, Any] = {"code": it.code, "name": it.name}
                isub = sum(c["points"] for c in it.criteria)
                if it.points is not None:
                    ip = number(it.points) or 0.0
                    if not it.bad_points and abs(ip - isub) > 0.005:
                        bad(
                            it.row,
                            "分组分值",
                            f"“{it.name}”子项分值之和 {plain_number(str(isub))}",
                            it.points,
                        )
                    idict["points"] = plain_number(str(ip))
                idict["criteria"] = it.criteria
                items.append(idict)
            entry["items"] = items
        else:
            entry["criteria"] = [c for i in area.items.values() for c in i.criteria]
        out_areas.append(entry)
    data: dict[str, Any] = {"name": name, "sample": False, "note": IMPORT_NOTE}
    if declared_total is not None:
        total = number(declared_total[1])
        if total is None:
            bad(declared_total[0], "合计", "数字", declared_total[1] or "空")
        else:
            if not any_bad and abs(total - grand) > 0.005:
                bad(
                    declared_total[0],
                    "合计",
                    f"各项目分值之和 {plain_number(str(grand))}",
                    declared_total[1],
                )
            data["total"] = plain_number(str(total))
    data["areas"] = out_areas
    if not out_areas and not problems:
        bad(None, "表格", "至少一行子项", "无")
    return data, problems


def _read(path: Path) -> _Table:
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return _read_docx(path)
    if suffix == ".xlsx":
        return _read_xlsx(path)
    raise ConfigError(
        f"{path}: 只能导入 .docx 或 .xlsx 表格；.doc/.xls 请先用 Word/Excel 另存为新格式。"
    )


def check_table(path: Path) -> list[Problem]:
    """Every problem of a criteria table, row by row (empty when it imports cleanly)."""
    path = Path(path)
    try:
        table = _read(path)
    except ConfigError as exc:
        return [Problem(None, "文件", "可打开的 .docx/.xlsx 评分标准表", exc.message)]
    data, problems = _build(table, path.name)
    if not problems:
        problems = check_standard_data(data)
    return problems


def import_criteria(path: Path) -> dict[str, Any]:
    """The YAML-shaped standard from a .docx/.xlsx table; raises ValidationError listing
    every bad row (and ConfigError when the file cannot be opened)."""
    path = Path(path)
    data, problems = _build(_read(path), path.name)
    if not problems:
        problems = check_standard_data(data)
    if problems:
        raise ValidationError(str(path), problems)
    return data


def import_to_yaml(path: Path) -> str:
    """The imported standard as YAML text, ready to save as the bureau's criteria file."""
    return dump_standard(standard_from_dict(import_criteria(path), str(path)))


def check_criteria(path: Path) -> list[Problem]:
    """Every problem of a criteria file: YAML (rows are lines) or a .docx/.xlsx table
    (rows are table rows).  Never raises for content problems."""
    p = Path(path)
    if p.suffix.lower() in (".docx", ".xlsx"):
        return check_table(p)
    try:
        data = load_yaml_lines(p)
    except ConfigError as exc:
        return [Problem(None, "文件", "可读取的 UTF-8 YAML", exc.message)]
    return check_standard_data(data)


__all__ = ["check_criteria", "check_table", "import_criteria", "import_to_yaml", "infer_evidence"]
