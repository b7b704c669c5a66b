"""The packet's plan as plain data: areas, criteria and the records that evidence them.

Built by :mod:`archive.packet.bundle_plan`, laid out and bagged by :mod:`archive.packet.bundle`,
merged into one PDF by :mod:`archive.packet.packet_pdf`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class EvidenceDoc:
    """One record that evidences a criterion."""

    source: Path  # the record file (original), copied into data/
    pdf: Path | None  # a PDF version to merge (text-layer or searchable); None → image pages
    label: str  # e.g. "申请表", shown in the outline and the catalogue
    key: str | None  # licence or case number for the stamp
    name: str  # clerk-readable file name inside the criterion folder
    code: str | None = None  # 档号 (DA/T 22), shown in the catalogue and the page stamps


@dataclass
class CriterionPlan:
    code: str
    title: str
    points_possible: float
    points_claimed: float
    status: str
    documents: list[EvidenceDoc] = field(default_factory=list)


@dataclass
class AreaPlan:
    name: str
    criteria: list[CriterionPlan] = field(default_factory=list)


@dataclass
class BundlePlan:
    bureau: str
    year: int
    date: datetime.date
    areas: list[AreaPlan] = field(default_factory=list)
    extra_files: list[tuple[Path, str]] = field(default_factory=list)  # (file, name in data/)
