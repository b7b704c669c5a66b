"""Figures only the bureau knows (指标文件): pass rates, training hours, purification rate.

The bureau fills in a YAML file or the Excel template this module writes; every figure
carries its period and the evidence that proves it (a record id or a file path), because
no figure in a report is typed in by the program.  Loading validates the whole file and
raises :class:`ValidationError` with every problem at once.

Rates are in percent (``80`` means 80%).  Periods are ``2011``, ``2011-Q1`` or ``2011-03``
(``2011年``, ``2011年第一季度``, ``2011年3月`` are accepted and normalised).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.assess.criteria import Standard
from archive.core.bounded import read_xlsx_rows
from archive.core.cells import append_row
from archive.core.errors import ConfigError, Problem, ValidationError
from archive.core.paths import PathRefused, inside
from archive.core.yaml_lines import LineDict, key_line, line_of, load_yaml_lines, number


@dataclass(frozen=True)
class MetricDef:
    """One figure the standard may ask for, and the words it goes by in criteria text."""

    key: str
    unit: str
    area: str
    aliases: tuple[str, ...] = ()
    description: str = ""


CATALOGUE: tuple[MetricDef, ...] = (
    MetricDef(
        "技能鉴定初级通过率",
        "%",
        "队伍建设",
        ("初级合格率", "初级通过率", "初级人员合格率"),
        "专卖管理员职业技能鉴定（初级）通过人数/参加人数",
    ),
    MetricDef(
        "技能鉴定中级通过率",
        "%",
        "队伍建设",
        ("中级合格率", "中级通过率"),
        "专卖管理员职业技能鉴定（中级）通过人数/参加人数",
    ),
    MetricDef(
        "技能鉴定高级通过率",
        "%",
        "队伍建设",
        ("高级合格率", "高级通过率"),
        "专卖管理员职业技能鉴定（高级）通过人数/参加人数",
    ),
    MetricDef(
        "人均培训课时",
        "课时",
        "队伍建设",
        ("培训时间", "培训课时", "培训学时"),
        "全年培训总课时/专卖人员数",
    ),
    MetricDef(
        "执法资格考试通过率",
        "%",
        "队伍建设",
        ("执法考试合格率", "执法考试通过率", "执法资格考试合格率"),
        "参加全省专卖人员执法考试的合格率",
    ),
    MetricDef(
        "行政执法案卷评查优秀率",
        "%",
        "队伍建设",
        ("行政执法案卷评查优秀率", "执法案卷评查优秀率", "处罚案卷评查优秀率"),
        "行政执法（处罚）案卷评查优秀数/评查数",
    ),
    MetricDef(
        "行政许可案卷评查优秀率",
        "%",
        "队伍建设",
        ("许可案卷评查优秀率",),
        "行政许可案卷评查优秀数/评查数",
    ),
    MetricDef(
        "内管专职人员占比",
        "%",
        "内部监管",
        ("内管专职人员", "专职人员"),
        "内管专职人员（不含负责人）/全部专卖人员",
    ),
    MetricDef("市场净化率", "%", "市场监管", ("净化率",), "按省局口径测算的卷烟市场净化率"),
    MetricDef("案件移送率", "%", "市场监管", ("移送率",), "应移送涉烟刑事案件中已移送的比例"),
    MetricDef("宣传活动次数", "次", "市场监管", ("宣传活动",), "法律法规及真假烟识别专题宣传活动"),
    MetricDef("集中整治次数", "次", "市场监管", ("集中整治",), "市场集中整治行动次数"),
    MetricDef("双证上岗率", "%", "队伍建设", ("双证",), "持执法证和技能鉴定证上岗的专卖人员比例"),
)

_BY_KEY = {m.key: m for m in CATALOGUE}


def metric_def(key: str) -> MetricDef | None:
    return _BY_KEY.get(key)


def find_metric(text: str) -> MetricDef | None:
    """The catalogue figure a piece of criteria wording talks about (longest name wins)."""
    best: tuple[int, MetricDef] | None = None
    for m in CATALOGUE:
        for name in (m.key, *m.aliases):
            if name in text and (best is None or len(name) > best[0]):
                best = (len(name), m)
    return best[1] if best else None


@dataclass
class Metric:
    key: str
    value: float
    unit: str
    period: str
    evidence: str
    numerator: float | None = None
    denominator: float | None = None
    note: str | None = None
    row: int | None = None


@dataclass
class Metrics:
    bureau: str | None
    metrics: list[Metric] = field(default_factory=list)

    def get(self, key: str, period: str | None = None) -> Metric | None:
        """The figure for ``key`` in ``period`` (a year also finds its latest sub-period)."""
        hits = [m for m in self.metrics if m.key == key]
        if period is not None:
            exact = [m for m in hits if m.period == period]
            if exact:
                return exact[0]
            hits = [m for m in hits if m.period.startswith(period + "-")]
        return sorted(hits, key=lambda m: m.period)[-1] if hits else None


# --------------------------------------------------------------------------- periods

_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
_CN_DIGITS |= {"八": 8, "九": 9, "十": 10, "十一": 11, "十二": 12}


def normalise_period(value: Any) -> str | None:
    """``2011`` / ``2011-Q1`` / ``2011-03`` from the forms clerks write; None if not a period."""
    if isinstance(value, bool) or value is None:
        return None
    s = str(value).strip().translate(str.maketrans("０１２３４５６７８９－", "0123456789-"))
    s = s.replace(" ", "")
    m = re.fullmatch(r"(\d{4})(?:年|年度)?", s)
    if m:
        return m.group(1)
    m = re.fullmatch(r"(\d{4})(?:-|年)?(?:Q|q|第)?([1-4一二三四])(?:季度|季)?", s)
    if m and ("Q" in s.upper() or "季" in s):
        q = m.group(2)
        return f"{m.group(1)}-Q{_CN_DIGITS.get(q, q)}"
    m = re.fullmatch(r"(\d{4})(?:-|年|/|\.)(\d{1,2}|[一二三四五六七八九十]{1,2})月?", s)
    if m:
        month = m.group(2)
        n = int(month) if month.isdigit() else _CN_DIGITS.get(month, 0)
        if 1 <= n <= 12:
            return f"{m.group(1)}-{n:02d}"
    return None


# ---------------------------------------------------------------------------- loading

_YAML_FIELDS = {
    "key",
    "value",
    "unit",
    "period",
    "evidence",
    "numerator",
    "denominator",
    "note",
}
_XLSX_HEADERS = {
    "指标": "key",
    "指标名称": "key",
    "数值": "value",
    "值": "value",
    "单位": "unit",
    "期间": "period",
    "统计期间": "period",
    "证据": "evidence",
    "证明材料": "evidence",
    "分子": "numerator",
    "分母": "denominator",
    "说明": "note",
    "备注": "note",
}
TEMPLATE_HEADERS = ("指标", "数值", "单位", "期间", "证据", "分子", "分母", "说明")


def _rows_from_yaml(path: Path) -> tuple[str | None, list[LineDict], list[Problem]]:
    data = load_yaml_lines(path)
    problems: list[Problem] = []
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), list):
        return None, [], [Problem(None, "metrics", "metrics: 指标列表", type(data).__name__)]
    default_period = data.get("period")
    rows = []
    for raw in data["metrics"]:
        if not isinstance(raw, dict):
            problems.append(Problem(line_of(data), "metrics", "指标（映射）", str(raw)))
            continue
        for k in raw:
            if k not in _YAML_FIELDS:
                problems.append(
                    Problem(
                        key_line(raw, k), str(k), "已知字段: " + "/".join(sorted(_YAML_FIELDS)), k
                    )
                )
        row = LineDict(raw)
        row.line = line_of(raw)
        if row.get("period") is None and default_period is not None:
            row["period"] = default_period
        rows.append(row)
    bureau = data.get("bureau")
    return (str(bureau) if bureau else None), rows, problems


def _rows_from_xlsx(path: Path) -> tuple[str | None, list[LineDict], list[Problem]]:
    grid = read_xlsx_rows(path)
    header_at = None
    columns: dict[int, str] = {}
    for r, cells in enumerate(grid[:10]):
        cols = {
            i: _XLSX_HEADERS[str(v).strip()]
            for i, v in enumerate(cells)
            if v is not None and str(v).strip() in _XLSX_HEADERS
        }
        if "key" in cols.values() and "value" in cols.values():
            header_at, columns = r, cols
            break
    if header_at is None:
        return None, [], [Problem(None, "表头", "含“指标”“数值”列的表头", "未找到")]
    rows = []
    for r in range(header_at + 1, len(grid)):
        cells = grid[r]
        row = LineDict(
            {
                name: cells[i]
                for i, name in columns.items()
                if i < len(cells) and cells[i] not in (None, "")
            }
        )
        row.line = r + 1
        if row:
            rows.append(row)
    return None, rows, []


def check_metrics(
    path: Path, evidence_root: Path | None = None, standard: Standard | None = None
) -> list[Problem]:
    """Every problem of a metrics file (.yaml or .xlsx); rows are lines or sheet rows."""
    try:
        _load(Path(path), evidence_root, standard)
    except ValidationError as exc:
        return exc.problems
    return []


def load_metrics(
    path: Path, evidence_root: Path | None = None, standard: Standard | None = None
) -> Metrics:
    """Load a metrics file; raises ValidationError listing every problem.

    With ``evidence_root`` (the archive folder), evidence that looks like a file path
    must exist under it.  With ``standard``, the metrics it names are accepted even when
    the catalogue does not know them (their unit must then be written in the file).
    """
    return _load(Path(path), evidence_root, standard)


def _load(path: Path, evidence_root: Path | None, standard: Standard | None) -> Metrics:
    extra = set(metrics_used(standard)) if standard is not None else set()
    if path.suffix.lower() == ".xlsx":
        bureau, rows, problems = _rows_from_xlsx(path)
    else:
        bureau, rows, problems = _rows_from_yaml(path)
    metrics: list[Metric] = []
    seen: dict[tuple[str, str], int | None] = {}
    for raw in rows:
        m = _metric(raw, problems, evidence_root, extra)
        if m is None:
            continue
        if (m.key, m.period) in seen:
            problems.append(
                Problem(m.row, "key", f"每个期间一条（第{seen[(m.key, m.period)]}行已有）", m.key)
            )
        seen[(m.key, m.period)] = m.row
        metrics.append(m)
    if problems:
        raise ValidationError(str(path), problems)
    return Metrics(bureau, metrics)


def _metric(
    raw: dict[str, Any], problems: list[Problem], root: Path | None, extra: set[str]
) -> Metric | None:
    row = line_of(raw)
    before = len(problems)

    def bad(fld: str, expected: str, found: Any) -> None:
        problems.append(Problem(row, fld, expected, "" if found is None else str(found)))

    key = str(raw.get("key") or "").strip()
    mdef = metric_def(key)
    if not key:
        bad("key", "指标名称", "缺少")
    elif mdef is None and key not in extra:
        bad("key", "已知指标之一: " + "、".join(_BY_KEY), key)
    num, den = raw.get("numerator"), raw.get("denominator")
    numerator = number(num) if num is not None else None
    denominator = number(den) if den is not None else None
    if num is not None and numerator is None:
        bad("numerator", "数字", num)
    if den is not None and (denominator is None or denominator <= 0):
        bad("denominator", "大于0的数字", den)
    value = number(raw.get("value")) if raw.get("value") is not None else None
    if raw.get("value") is not None and value is None:
        bad("value", "数字（百分数写 80，不写 80%）", raw.get("value"))
    ratio = None
    if numerator is not None and denominator:
        ratio = numerator / denominator * 100
    if value is None and raw.get("value") is None:
        if ratio is not None:
            value = round(ratio, 2)
        else:
            bad("value", "数值（或分子+分母）", "缺少")
    elif value is not None and ratio is not None and abs(value - ratio) > 0.05:
        bad("value", f"分子/分母 = {ratio:.2f}", value)
    unit = str(raw.get("unit") or (mdef.unit if mdef else "")).strip()
    if mdef is not None and unit != mdef.unit:
        bad("unit", mdef.unit, unit)
    elif mdef is None and key in extra and not unit:
        bad("unit", "单位（指标目录外的指标须写明，如 %、次、课时）", "缺少")
    if value is not None and unit == "%" and not 0 <= value <= 100:
        bad("value", "0–100 之间的百分数", value)
    if value is not None and value < 0:
        bad("value", "非负数", value)
    period = normalise_period(raw.get("period"))
    if period is None:
        bad("period", "期间，如 2011、2011-Q1、2011-03", raw.get("period") or "缺少")
    evidence = str(raw.get("evidence") or "").strip()
    if not evidence:
        bad("evidence", "证明材料（记录编号或文件路径）", "缺少")
    elif root is not None and _looks_like_path(evidence):
        _check_evidence_path(root, evidence, bad)
    if len(problems) > before or value is None or period is None:
        return None
    return Metric(
        key, value, unit, period, evidence, numerator, denominator,
        str(raw["note"]).strip() if raw.get("note") else None, row,
    )  # fmt: skip


def _check_evidence_path(root: Path, evidence: str, bad: Any) -> None:
    """A path given as evidence names a record of the archive under ``root``: inside its
    ``records/`` (the path policy) and present."""
    records = root / "records"
    try:
        path = inside(records, evidence.replace("\\", "/").removeprefix("records/"))
    except PathRefused:
        bad("evidence", f"档案库 {records} 中的档案 (不能引用档案库以外的文件)", evidence)
        return
    if not path.is_file():
        bad("evidence", f"{records} 下存在的档案文件", evidence)


def _looks_like_path(s: str) -> bool:
    return "/" in s or "\\" in s or bool(re.search(r"\.[A-Za-z0-9]{2,5}$", s))


def metrics_used(standard: Standard) -> list[str]:
    """The metric keys a standard refers to, in its order."""
    keys: list[str] = []
    for c in standard.criteria:
        for ev in c.evidence:
            if ev.kind == "metric" and ev.metric and ev.metric not in keys:
                keys.append(ev.metric)
    return keys


def missing_metrics(standard: Standard, metrics: Metrics, period: str) -> list[str]:
    """Metric keys the standard needs that the file has no figure for in ``period``."""
    return [k for k in metrics_used(standard) if metrics.get(k, period) is None]


def write_metrics_template(
    path: Path, period: str, keys: Iterable[str] | None = None, bureau: str = ""
) -> Path:
    """Write the Excel template the bureau fills in: one row per figure, values blank."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.datavalidation import DataValidation

    wanted = list(keys) if keys is not None else list(_BY_KEY)
    unknown = [k for k in wanted if k not in _BY_KEY]
    if unknown:
        raise ConfigError("未知指标: " + "、".join(unknown) + "；请使用指标目录中的名称。")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "指标"
    append_row(ws, TEMPLATE_HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for k in wanted:
        d = _BY_KEY[k]
        append_row(ws, [k, None, d.unit, period, None, None, None, d.description])
    for col, width in zip("ABCDEFGH", (24, 10, 8, 10, 40, 8, 8, 40), strict=True):
        ws.column_dimensions[col].width = width
    dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0")
    dv.error = "请填写数字，百分数写 80 而不是 80%"
    ws.add_data_validation(dv)
    dv.add(f"B2:B{len(wanted) + 1}")
    for row in ws.iter_rows(min_row=2):
        row[4].alignment = Alignment(wrap_text=True)
    ws.freeze_panes = "A2"
    if bureau:
        wb.properties.title = f"{bureau} 指标文件 {period}"
    path = Path(path)
    wb.save(path)
    return path
