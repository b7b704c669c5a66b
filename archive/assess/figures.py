"""Figures for the reports, each computed from the catalog with the records behind it.

No figure is typed in by the program: counts come from the catalog and roster; figures the
archive cannot know (training hours, pass rates) come from the bureau's metrics file with the
evidence it names.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from archive.assess.metrics import Metrics
from archive.records.catalog import Catalog

CLASSES = ("守法经营户", "非重点监控户", "重点监控户")
_SEIZED = re.compile(
    r"(?:卷烟|香烟|烟草制品|各类烟)[^。\n；;]{0,40}?(?:共计|合计|计)?\s*([0-9]+(?:\.[0-9]+)?)\s*条"
)
_CASE_DOCS_FOR_QUANTITY = ("行政处罚决定书", "先行登记保存通知书", "结案报告", "立案报告表")


@dataclass
class Figure:
    """A number in a report and where it came from."""

    key: str
    label: str
    value: float | int
    unit: str
    source: str  # catalog | roster | metrics
    records: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def text(self) -> str:
        value = self.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return f"{value}{self.unit}"

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "text": self.text}


def _in_period(date: str | None, year: int, month: int | None) -> bool:
    if not date:
        return False
    if month is None:
        return date.startswith(f"{year}-")
    return date.startswith(f"{year}-{month:02d}-")


def seized_quantity(text: str) -> float | None:
    """Cigarettes seized (条) stated in a case document's text; the largest figure wins."""
    amounts = [float(m.group(1)) for m in _SEIZED.finditer(text)]
    return max(amounts) if amounts else None


def _rec(path: str) -> str:
    return f"records/{path}"


def case_figures(catalog: Catalog, year: int, month: int | None = None) -> list[Figure]:
    """Cases handled in the period and cigarettes seized, case by case."""
    cases: dict[str, list[Any]] = defaultdict(list)
    for row in catalog.records("dossier_kind = 'case'"):
        cases[row["dossier_key"]].append(row)
    handled: list[str] = []
    seized_total = 0.0
    seized_records: list[str] = []
    for case_no, rows in sorted(cases.items()):
        in_year = f"〔{year}〕" in case_no
        dated = [r for r in rows if _in_period(r["doc_date"], year, month)]
        if (month is None and not (in_year or dated)) or (month is not None and not dated):
            continue
        handled.append(case_no)
        amounts = []
        for row in rows:
            if row["doc_type"] in _CASE_DOCS_FOR_QUANTITY and row["text"]:
                amount = seized_quantity(row["text"])
                if amount is not None:
                    amounts.append((amount, row["path"]))
        if amounts:
            amount, path = max(amounts)
            seized_total += amount
            seized_records.append(_rec(path))
    folders = sorted({_rec(r["path"].rsplit("/", 1)[0]) for c in handled for r in cases[c]})
    return [
        Figure("cases", "查办案件", len(handled), "起", "catalog", folders),
        Figure(
            "seized",
            "查获卷烟",
            round(seized_total, 1),
            "条",
            "catalog",
            seized_records,
            "取自各案行政处罚决定书/先行登记保存通知书中的数量",
        ),
    ]


def household_figures(catalog: Catalog) -> list[Figure]:
    """Households on the roster, by class, and how many have a dossier in the records."""
    roster = catalog.households()
    out = [Figure("households", "持证零售户", len(roster), "户", "roster", ["roster.csv"])]
    for klass in CLASSES:
        count = sum(1 for h in roster if h["class"] == klass)
        out.append(Figure(f"class:{klass}", klass, count, "户", "roster", ["roster.csv"]))
    folders = sorted(
        {_rec(r["path"].rsplit("/", 1)[0]) for r in catalog.records("dossier_kind = 'household'")}
    )
    out.append(Figure("dossiers", "已建许可证档案", len(folders), "户", "catalog", folders))
    return out


def meeting_figures(
    catalog: Catalog, year: int, month: int | None, types: Iterable[str]
) -> list[Figure]:
    """Meetings held in the period, by type: distinct meeting dates with minutes filed."""
    out = []
    for meeting in types:
        rows = [
            r
            for r in catalog.records("dossier_kind = 'meeting' AND meeting_type = ?", (meeting,))
            if _in_period(r["doc_date"], year, month)
        ]
        dates = sorted({r["doc_date"] for r in rows})
        if rows or meeting in ("专销联动会议", "党员大会", "支部委员会", "党课"):
            out.append(
                Figure(
                    f"meeting:{meeting}",
                    meeting,
                    len(dates),
                    "次",
                    "catalog",
                    [_rec(r["path"]) for r in rows],
                )
            )
    return out


def intake_figures(catalog: Catalog, year: int, month: int | None) -> list[Figure]:
    """Documents filed in the period, those still unresolved, and pages not clearly legible."""
    prefix = f"{year}-{month:02d}" if month else f"{year}-"
    filed = catalog.records("filed_at LIKE ?", (prefix + "%",))
    tray = catalog.records("dossier_kind = 'tray'")
    illegible = catalog.records("legible = 0")
    return [
        Figure(
            "filed", "本期归档文件", len(filed), "份", "catalog", [_rec(r["path"]) for r in filed]
        ),
        Figure(
            "tray",
            "待归档(未能确定所属档案)",
            len(tray),
            "份",
            "catalog",
            [_rec(r["path"]) for r in tray],
        ),
        Figure(
            "illegible",
            "扫描不清晰",
            len(illegible),
            "份",
            "catalog",
            [_rec(r["path"]) for r in illegible],
        ),
    ]


def metric_figures(metrics: Metrics | None, period: str) -> list[Figure]:
    """Figures the bureau reports itself, each with its evidence."""
    if metrics is None:
        return []
    out = []
    for metric in metrics.metrics:
        if metric.period == period or metric.period.startswith(period + "-"):
            note = metric.note or ""
            if metric.numerator is not None and metric.denominator is not None:
                note = f"{metric.numerator:g}/{metric.denominator:g}" + (
                    f"; {note}" if note else ""
                )
            out.append(
                Figure(
                    f"metric:{metric.key}",
                    metric.key,
                    metric.value,
                    metric.unit,
                    "metrics",
                    [metric.evidence],
                    note,
                )
            )
    return out


def compute_figures(
    catalog: Catalog,
    *,
    year: int,
    month: int | None = None,
    metrics: Metrics | None = None,
    meeting_types: Iterable[str] = (
        "专销联动会议",
        "党员大会",
        "支部委员会",
        "党课",
        "联席会议",
        "听证会",
        "创建工作例会",
    ),
) -> dict[str, Figure]:
    """Every figure the reports use, keyed by :attr:`Figure.key`."""
    period = f"{year}-{month:02d}" if month else str(year)
    figures = [
        *household_figures(catalog),
        *case_figures(catalog, year, month),
        *meeting_figures(catalog, year, month, meeting_types),
        *intake_figures(catalog, year, month),
        *metric_figures(metrics, period),
    ]
    return {f.key: f for f in figures}
