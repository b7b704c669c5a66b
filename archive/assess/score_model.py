"""The score's result: plain dataclasses the reports and the bundle consume as they are.

Computed by :func:`archive.assess.score.score_archive` (which re-exports these names).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from archive.assess.audit import AuditFinding

MET, PARTLY, UNMET, NA = "met", "partly_met", "not_met", "not_assessable"
STATUS_LABELS = {MET: "达标", PARTLY: "部分达标", UNMET: "未达标", NA: "无法评估"}


@dataclass
class CriterionScore:
    """One sub-item judged: plain data, so reports and the bundle can use it as it is."""

    code: str
    area: str
    item: str
    text: str
    possible: float
    earned: float
    status: str  # met | partly_met | not_met | not_assessable
    evidence: list[str] = field(default_factory=list)  # "records/…" paths backing it
    missing: list[str] = field(default_factory=list)  # what is missing, in Chinese
    findings: list[AuditFinding] = field(default_factory=list)
    scoring: str | None = None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "area": self.area,
            "item": self.item,
            "text": self.text,
            "scoring": self.scoring,
            "possible": self.possible,
            "earned": self.earned,
            "status": self.status,
            "status_label": self.status_label,
            "evidence": self.evidence,
            "missing": self.missing,
            "findings": [f.as_dict() for f in self.findings],
        }


@dataclass
class ScoreReport:
    standard: str
    sample: bool  # True when the shipped SAMPLE standard was used
    year: int
    as_of: dt.date
    criteria: list[CriterionScore]
    findings: list[AuditFinding]  # every audit finding, sorted (errors first)
    dossiers: dict[str, dict[str, int]] = field(default_factory=dict)  # kind → total/complete

    @property
    def total_possible(self) -> float:
        return round(sum(c.possible for c in self.criteria), 2)

    @property
    def total_earned(self) -> float:
        return round(sum(c.earned for c in self.criteria), 2)

    @property
    def assessable_possible(self) -> float:
        return round(sum(c.possible for c in self.criteria if c.status != NA), 2)

    @property
    def assessable_earned(self) -> float:
        return round(sum(c.earned for c in self.criteria if c.status != NA), 2)

    def by_area(self) -> dict[str, list[CriterionScore]]:
        out: dict[str, list[CriterionScore]] = {}
        for c in self.criteria:
            out.setdefault(c.area, []).append(c)
        return out

    def criterion(self, code: str) -> CriterionScore:
        for c in self.criteria:
            if c.code == code:
                return c
        raise KeyError(code)

    def as_dict(self) -> dict[str, Any]:
        return {
            "standard": self.standard,
            "sample_standard": self.sample,
            "year": self.year,
            "as_of": self.as_of.isoformat(),
            "total_possible": self.total_possible,
            "total_earned": self.total_earned,
            "assessable_possible": self.assessable_possible,
            "assessable_earned": self.assessable_earned,
            "counts": {s: sum(c.status == s for c in self.criteria) for s in STATUS_LABELS},
            "dossiers": self.dossiers,
            "criteria": [c.as_dict() for c in self.criteria],
        }
