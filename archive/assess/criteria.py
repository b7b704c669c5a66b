"""The bureau's scoring standard (考核验收评分标准) as data.

A standard is a YAML file the bureau owns: areas → items → sub-items (criteria), each
sub-item with its points, its wording, how it is scored and how it is evidenced.  The
evidence kinds are what the audit engine knows how to check:

``documents``
    documents of the listed types must exist: every type in ``doc_types`` at least
    ``min_count`` times per ``period`` (``year`` | ``quarter`` | ``month``).
``meeting``
    a meeting must recur with minutes: ``every`` month/quarter/year, or at least
    ``min_per_year`` times a year.
``dossier_rate``
    the share (percent) of dossiers of a kind (``household`` | ``case`` | ``meeting``)
    that hold every document their checklist requires must reach ``threshold``.
``metric``
    a figure only the bureau knows, read from the metrics file, compared to
    ``threshold`` with ``op`` (``>=`` | ``<=`` | ``==``).
``manual``
    a person looks at it; ``note`` says what to show.

Partial scoring, for the score engine: ``partial`` is ``none`` (all or nothing),
``proportional`` (points × achieved/threshold) or ``per_miss`` (``deduct`` points per
missing meeting/document/dossier, never below zero).

Thresholds that are rates are written in percent (``80`` means 80%).  Codes are strings.
Loading validates the whole file and raises :class:`ValidationError` with every problem,
each with the line of the YAML file it is on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.core.errors import Problem, ValidationError
from archive.core.yaml_lines import (
    FlowDict,
    LineDict,
    dump_yaml,
    key_line,
    line_of,
    load_yaml_lines,
    number,
)

EVIDENCE_KINDS = ("documents", "meeting", "dossier_rate", "metric", "manual")
PERIODS = ("year", "quarter", "month")
DOSSIERS = ("household", "case", "meeting")
OPS = (">=", "<=", "==")
PARTIALS = ("none", "proportional", "per_miss")

# Keys whose YAML scalars are kept exactly as written (``1.10`` stays "1.10", not 1.1).

_EVIDENCE_KEYS = frozenset(
    {
        "kind",
        "doc_types",
        "period",
        "min",
        "min_count",
        "meeting",
        "every",
        "min_per_year",
        "dossier",
        "metric",
        "threshold",
        "op",
        "partial",
        "deduct",
        "note",
    }
)
_CRITERION_KEYS = frozenset({"code", "text", "points", "scoring", "evidence"})
_ITEM_KEYS = frozenset({"code", "name", "points", "criteria"})
_AREA_KEYS = frozenset({"code", "name", "points", "items", "criteria"})
_STANDARD_KEYS = frozenset({"name", "sample", "note", "total", "areas"})


# ---------------------------------------------------------------------------- model


@dataclass
class Evidence:
    """How one sub-item is evidenced (see the module docstring for the kinds)."""

    kind: str
    doc_types: list[str] = field(default_factory=list)
    period: str | None = None
    min_count: int = 1
    meeting: str | None = None
    every: str | None = None
    min_per_year: int | None = None
    dossier: str | None = None
    metric: str | None = None
    threshold: float | None = None
    op: str | None = None
    partial: str | None = None
    deduct: float | None = None
    note: str | None = None


@dataclass
class Criterion:
    """One sub-item (评价子项) of the standard."""

    code: str
    area: str
    item: str
    text: str
    points: float
    evidence: list[Evidence]
    scoring: str | None = None


@dataclass
class Item:
    """A group of sub-items inside an area; ``name`` is empty when the table has none."""

    code: str
    name: str
    points: float | None
    criteria: list[Criterion]


@dataclass
class Area:
    """One evaluation item (评价项目) such as 班子建设."""

    code: str
    name: str
    points: float
    items: list[Item]

    @property
    def criteria(self) -> list[Criterion]:
        return [c for item in self.items for c in item.criteria]


@dataclass
class Standard:
    name: str
    sample: bool
    areas: list[Area]
    total: float | None = None
    note: str | None = None

    @property
    def criteria(self) -> list[Criterion]:
        return [c for area in self.areas for c in area.criteria]

    @property
    def points(self) -> float:
        return sum(a.points for a in self.areas)

    def criterion(self, code: str) -> Criterion:
        for c in self.criteria:
            if c.code == code:
                return c
        raise KeyError(code)


# ------------------------------------------------------------------------- parsing


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, row: int | None, fld: str, expected: str, found: Any) -> None:
        self.problems.append(Problem(row, fld, expected, "" if found is None else str(found)))

    def unknown_keys(self, obj: dict[str, Any], allowed: frozenset[str], where: str) -> None:
        for key in obj:
            if key not in allowed:
                self.add(
                    key_line(obj, key),
                    f"{where}.{key}",
                    "已知字段: " + "/".join(sorted(allowed)),
                    key,
                )


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _points(c: _Collector, obj: dict[str, Any], where: str, required: bool) -> float | None:
    raw = obj.get("points")
    if raw is None:
        if required:
            c.add(line_of(obj), f"{where}.points", "分值（数字）", "缺少")
        return None
    value = number(raw)
    if value is None or value < 0:
        c.add(line_of(obj), f"{where}.points", "非负数字分值", raw)
        return None
    return value


def _evidence(c: _Collector, raw: Any, row: int | None, where: str) -> Evidence | None:
    if isinstance(raw, str):
        if raw.strip() == "manual":
            return Evidence(kind="manual")
        c.add(row, where, "证据种类之一: " + "/".join(EVIDENCE_KINDS), raw)
        return None
    if not isinstance(raw, dict):
        c.add(row, where, "证据描述（映射）", raw)
        return None
    row = line_of(raw) or row
    c.unknown_keys(raw, _EVIDENCE_KEYS, where)
    kind = _text(raw.get("kind"))
    if not kind:
        kind = next(
            (
                k
                for key, k in (
                    ("doc_types", "documents"),
                    ("meeting", "meeting"),
                    ("dossier", "dossier_rate"),
                    ("metric", "metric"),
                )
                if key in raw
            ),
            "",
        )
    if kind not in EVIDENCE_KINDS:
        c.add(row, f"{where}.kind", "证据种类之一: " + "/".join(EVIDENCE_KINDS), kind or "缺少")
        return None
    ev = Evidence(kind=kind, note=_text(raw.get("note")) or None)
    before = len(c.problems)
    doc_types = raw.get("doc_types", [])
    if isinstance(doc_types, str):
        doc_types = [doc_types]
    if not isinstance(doc_types, list) or not all(_text(d) for d in doc_types):
        c.add(row, f"{where}.doc_types", "文档类型列表", doc_types)
    else:
        ev.doc_types = [_text(d) for d in doc_types]
    for key, allowed in (("period", PERIODS), ("every", PERIODS), ("dossier", DOSSIERS)):
        val = raw.get(key)
        if val is not None and val not in allowed:
            c.add(row, f"{where}.{key}", "/".join(allowed), val)
        elif val is not None:
            setattr(ev, key, str(val))
    for key in ("min", "min_count", "min_per_year"):
        if key in raw:
            val = raw[key]
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                c.add(row, f"{where}.{key}", "正整数", val)
            elif key == "min_per_year":
                ev.min_per_year = val
            else:
                ev.min_count = val
    ev.meeting = _text(raw.get("meeting")) or None
    ev.metric = _text(raw.get("metric")) or None
    for key in ("threshold", "deduct"):
        if raw.get(key) is not None:
            val = number(raw[key])
            if val is None or val < 0:
                c.add(row, f"{where}.{key}", "非负数字", raw[key])
            else:
                setattr(ev, key, val)
    op = raw.get("op")
    if op is not None and op not in OPS:
        c.add(row, f"{where}.op", "/".join(OPS), op)
    ev.op = op if op in OPS else None
    partial = raw.get("partial")
    if partial is not None and partial not in PARTIALS:
        c.add(row, f"{where}.partial", "/".join(PARTIALS), partial)
    ev.partial = partial if partial in PARTIALS else None
    # What each kind needs.
    if kind == "documents" and not ev.doc_types and "doc_types" not in raw:
        c.add(row, f"{where}.doc_types", "至少一种文档类型", "缺少")
    if kind == "meeting":
        if not ev.meeting:
            c.add(row, f"{where}.meeting", "会议名称", "缺少")
        if ev.every is None and ev.min_per_year is None and "every" not in raw:
            c.add(row, f"{where}.every", "every（month/quarter/year）或 min_per_year", "缺少")
    if kind == "dossier_rate":
        if ev.dossier is None and "dossier" not in raw:
            c.add(row, f"{where}.dossier", "/".join(DOSSIERS), "缺少")
        if ev.threshold is None and "threshold" not in raw:
            c.add(row, f"{where}.threshold", "完整率门槛（百分数）", "缺少")
    if kind == "metric":
        if not ev.metric:
            c.add(row, f"{where}.metric", "指标名称（见指标文件）", "缺少")
        if ev.threshold is None and "threshold" not in raw:
            c.add(row, f"{where}.threshold", "门槛数值", "缺少")
        ev.op = ev.op or ">="
    return ev if len(c.problems) == before else None


def _criterion(
    c: _Collector, raw: Any, area: str, item: str, where: str, codes: dict[str, int | None]
) -> Criterion | None:
    if not isinstance(raw, dict):
        c.add(None, where, "子项（映射：code/text/points/evidence）", raw)
        return None
    row = line_of(raw)
    c.unknown_keys(raw, _CRITERION_KEYS, where)
    code = _text(raw.get("code"))
    if not code:
        c.add(row, f"{where}.code", "子项编号", "缺少")
    elif code in codes:
        c.add(row, f"{where}.code", f"唯一编号（已在第{codes[code]}行使用）", code)
    else:
        codes[code] = row
    text = _text(raw.get("text"))
    if not text:
        c.add(row, f"{where}.text", "子项内容（评价标准的原文）", "缺少")
    points = _points(c, raw, where, required=True)
    if points is not None and points == 0:
        c.add(row, f"{where}.points", "大于0的分值", raw.get("points"))
    raw_ev = raw.get("evidence")
    evidence: list[Evidence] = []
    if raw_ev is None:
        c.add(row, f"{where}.evidence", "证据规则（或 manual）", "缺少")
    else:
        items = raw_ev if isinstance(raw_ev, list) else [raw_ev]
        if not items:
            c.add(row, f"{where}.evidence", "证据规则（或 manual）", "空列表")
        for i, e in enumerate(items):
            ev = _evidence(c, e, row, f"{where}.evidence[{i}]")
            if ev is not None:
                evidence.append(ev)
    scoring = _text(raw.get("scoring")) or None
    return Criterion(code, area, item, text, points or 0.0, evidence, scoring)


def _close(total: float, declared: float) -> bool:
    return abs(total - declared) < 0.005


def standard_from_dict(data: Any, source: str = "评分标准") -> Standard:
    """Build a :class:`Standard` from the YAML-shaped data; raises with every problem."""
    problems = check_standard_data(data)
    if problems:
        raise ValidationError(source, problems)
    std = _parse(data, _Collector())
    assert std is not None
    return std


def check_standard_data(data: Any) -> list[Problem]:
    """Every problem of YAML-shaped standard data (empty when it is valid)."""
    c = _Collector()
    _parse(data, c)
    return c.problems


def _parse(data: Any, c: _Collector) -> Standard | None:
    if not isinstance(data, dict):
        c.add(None, "文件", "以 name/areas 开头的评分标准", type(data).__name__)
        return None
    c.unknown_keys(data, _STANDARD_KEYS, "标准")
    name = _text(data.get("name"))
    if not name:
        c.add(line_of(data), "name", "评分标准名称", "缺少")
    sample = data.get("sample", False)
    if not isinstance(sample, bool):
        c.add(line_of(data), "sample", "true/false", sample)
        sample = False
    total = number(data["total"]) if data.get("total") is not None else None
    if data.get("total") is not None and (total is None or total < 0):
        c.add(line_of(data), "total", "非负数字总分", data.get("total"))
        total = None
    raw_areas = data.get("areas")
    if not isinstance(raw_areas, list) or not raw_areas:
        c.add(line_of(data), "areas", "考核项目列表", raw_areas)
        raw_areas = []
    areas: list[Area] = []
    codes: dict[str, int | None] = {}
    area_codes: dict[str, int | None] = {}
    for ai, raw_area in enumerate(raw_areas):
        area = _area(c, raw_area, f"areas[{ai}]", codes, area_codes)
        if area is not None:
            areas.append(area)
    if total is not None and areas and not _close(sum(a.points for a in areas), total):
        c.add(
            line_of(data),
            "total",
            f"各项目分值之和 {_fmt(sum(a.points for a in areas))}",
            _fmt(total),
        )
    return Standard(name, sample, areas, total, _text(data.get("note")) or None)


def _area(
    c: _Collector,
    raw: Any,
    where: str,
    codes: dict[str, int | None],
    area_codes: dict[str, int | None],
) -> Area | None:
    if not isinstance(raw, dict):
        c.add(None, where, "考核项目（映射）", raw)
        return None
    row = line_of(raw)
    c.unknown_keys(raw, _AREA_KEYS, where)
    code = _text(raw.get("code"))
    name = _text(raw.get("name"))
    if not code:
        c.add(row, f"{where}.code", "项目编号", "缺少")
    elif code in area_codes:
        c.add(row, f"{where}.code", f"唯一编号（已在第{area_codes[code]}行使用）", code)
    else:
        area_codes[code] = row
    if not name:
        c.add(row, f"{where}.name", "项目名称", "缺少")
    points = _points(c, raw, where, required=True)
    items: list[Item] = []
    if "items" in raw and "criteria" in raw:
        c.add(row, where, "items 或 criteria 二选一", "两者都有")
    if "criteria" in raw:
        raw_items: Any = [LineDict(code=code, name="", criteria=raw["criteria"])]
        raw_items[0].line = row
        direct = True
    else:
        raw_items = raw.get("items")
        direct = False
    if not isinstance(raw_items, list) or not raw_items:
        c.add(row, f"{where}.items", "子项列表（items 或 criteria）", "缺少")
        raw_items = []
    for ii, raw_item in enumerate(raw_items):
        iw = where if direct else f"{where}.items[{ii}]"
        item = _item(c, raw_item, name, iw, codes, direct)
        if item is not None:
            items.append(item)
    sub = sum(cr.points for it in items for cr in it.criteria)
    if points is not None and items and not _close(sub, points):
        c.add(row, f"{where}.points", f"子项分值之和 {_fmt(sub)}", _fmt(points))
    return Area(code, name, points or 0.0, items)


def _item(
    c: _Collector,
    raw: Any,
    area: str,
    where: str,
    codes: dict[str, int | None],
    direct: bool,
) -> Item | None:
    if not isinstance(raw, dict):
        c.add(None, where, "子项分组（映射）", raw)
        return None
    row = line_of(raw)
    if not direct:
        c.unknown_keys(raw, _ITEM_KEYS, where)
    name = _text(raw.get("name"))
    if not direct and not name:
        c.add(row, f"{where}.name", "分组名称", "缺少")
    points = _points(c, raw, where, required=False)
    raw_crit = raw.get("criteria")
    if not isinstance(raw_crit, list) or not raw_crit:
        c.add(row, f"{where}.criteria", "子项列表", "缺少")
        raw_crit = []
    crits = []
    for ci, rc in enumerate(raw_crit):
        cr = _criterion(c, rc, area, name, f"{where}.criteria[{ci}]", codes)
        if cr is not None:
            crits.append(cr)
    sub = sum(cr.points for cr in crits)
    if points is not None and crits and not _close(sub, points):
        c.add(row, f"{where}.points", f"子项分值之和 {_fmt(sub)}", _fmt(points))
    return Item(_text(raw.get("code")), name, points, crits)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# ---------------------------------------------------------------------- load / dump


def load_standard(path: Path) -> Standard:
    """Load and validate a criteria YAML; raises ValidationError listing every problem."""
    data = load_yaml_lines(Path(path))
    return standard_from_dict(data, str(path))


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def evidence_to_dict(ev: Evidence) -> dict[str, Any] | str:
    if ev.kind == "manual" and ev.note is None:
        return "manual"
    out: dict[str, Any] = FlowDict(kind=ev.kind)
    if ev.doc_types:
        out["doc_types"] = list(ev.doc_types)
    for key in ("period", "meeting", "every", "dossier", "metric", "op"):
        if getattr(ev, key) is not None:
            out[key] = getattr(ev, key)
    if ev.min_count != 1:
        out["min"] = ev.min_count
    if ev.min_per_year is not None:
        out["min_per_year"] = ev.min_per_year
    if ev.threshold is not None:
        out["threshold"] = _num(ev.threshold)
    if ev.partial is not None:
        out["partial"] = ev.partial
    if ev.deduct is not None:
        out["deduct"] = _num(ev.deduct)
    if ev.note is not None:
        out["note"] = ev.note
    return out


def _criterion_to_dict(cr: Criterion) -> dict[str, Any]:
    out: dict[str, Any] = {"code": cr.code, "text": cr.text, "points": _num(cr.points)}
    if cr.scoring:
        out["scoring"] = cr.scoring
    evs = [evidence_to_dict(e) for e in cr.evidence]
    out["evidence"] = "manual" if evs == ["manual"] else evs
    return out


def standard_to_dict(std: Standard) -> dict[str, Any]:
    out: dict[str, Any] = {"name": std.name, "sample": std.sample}
    if std.note:
        out["note"] = std.note
    if std.total is not None:
        out["total"] = _num(std.total)
    areas = []
    for a in std.areas:
        ad: dict[str, Any] = {"code": a.code, "name": a.name, "points": _num(a.points)}
        if len(a.items) == 1 and not a.items[0].name and a.items[0].points is None:
            ad["criteria"] = [_criterion_to_dict(c) for c in a.items[0].criteria]
        else:
            items = []
            for it in a.items:
                idict: dict[str, Any] = {"code": it.code, "name": it.name}
                if it.points is not None:
                    idict["points"] = _num(it.points)
                idict["criteria"] = [_criterion_to_dict(c) for c in it.criteria]
                items.append(idict)
            ad["items"] = items
        areas.append(ad)
    out["areas"] = areas
    return out


def dump_standard(std: Standard) -> str:
    """The standard as YAML; ``load_standard`` of the text gives an equal Standard."""
    return dump_yaml(standard_to_dict(std))
