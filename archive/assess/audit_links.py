"""Inspection findings linked to what answers them, for the rectification report (整改报告).

A finding the inspectors wrote down is answered by records filed after the inspection that
back the criterion it names (or, when it names none, any criterion of its area).  Its
status follows from those records and the criterion's score now:

* ``rectified`` 已整改 — material filed after the inspection and the criterion is met now;
* ``in_progress`` 整改中 — material filed after the inspection, the criterion not yet met
  (or not assessable by the program);
* ``open`` 未整改 — nothing filed since the inspection;
* ``manual`` 需人工确认 — nothing filed since, and the program cannot assess the criteria
  concerned (manual criteria, figures not given).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from archive.assess.findings import Finding
from archive.assess.score import MET, NA, ScoreReport
from archive.records.catalog import Catalog

LINK_LABELS = {
    "rectified": "已整改",
    "in_progress": "整改中",
    "open": "未整改",
    "manual": "需人工确认",
}


@dataclass
class FindingLink:
    """One inspection finding, the criteria it concerns and the records answering it."""

    finding: Finding
    criteria: list[str]
    records: list[str] = field(default_factory=list)  # "records/…" filed after the inspection
    status: str = "open"
    overdue: bool = False  # deadline passed on as_of and not rectified

    @property
    def status_label(self) -> str:
        return LINK_LABELS[self.status]

    def as_dict(self) -> dict[str, Any]:
        f = self.finding
        return {
            "area": f.area,
            "problem": f.problem,
            "owner": f.owner,
            "inspected_on": f.inspected_on.isoformat(),
            "deadline": f.deadline.isoformat(),
            "criterion": f.criterion,
            "criteria": self.criteria,
            "records": self.records,
            "status": self.status,
            "status_label": self.status_label,
            "overdue": self.overdue,
        }


def _filed_on(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def link_findings(
    findings: list[Finding], report: ScoreReport, catalog: Catalog
) -> list[FindingLink]:
    """Each finding with the criteria it concerns and the records filed after its
    inspection that back them (see the module docstring for the statuses)."""
    filed = {
        f"records/{path}": _filed_on(at or "")
        for path, at in catalog.db.execute("SELECT path, filed_at FROM records")
    }
    scores = {c.code: c for c in report.criteria}
    out = []
    for f in findings:
        if f.criterion and f.criterion in scores:
            codes = [f.criterion]
        else:
            codes = [c.code for c in report.criteria if c.area == f.area]
        after = f.inspected_until or f.inspected_on
        records: list[str] = []
        for code in codes:
            for path in scores[code].evidence:
                day = filed.get(path)
                if day is not None and day > after and path not in records:
                    records.append(path)
        link = FindingLink(f, codes, records)
        assessed = [scores[c] for c in codes if scores[c].status != NA]
        if not assessed and not records:
            link.status = "manual"
        elif records:
            met = bool(assessed) and all(s.status == MET for s in assessed)
            link.status = "rectified" if met and len(assessed) == len(codes) else "in_progress"
        link.overdue = link.status != "rectified" and report.as_of > f.deadline
        out.append(link)
    return out
