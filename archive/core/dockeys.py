"""What is known of a document's place in the archive: its dossier and its keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DocKeys:
    """What is known of a document's place in the archive."""

    dossier_kind: str  # household | case | meeting | other
    licence_no: str | None = None
    retailer: str | None = None
    case_no: str | None = None
    meeting_type: str | None = None
    date: dt.date | None = None
    year: int | None = None
    doc_type: str | None = None
    source: str = "path"  # where the keys came from: path | content
    attendees: list[str] = field(default_factory=list)  # meetings: 参加人员
    host: str | None = None  # meetings: 主持人
    topic: str | None = None  # meetings: 议题
    notes: list[str] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        """Whether the document can be filed into a dossier (not the tray)."""
        if self.dossier_kind == "household":
            return self.licence_no is not None
        if self.dossier_kind == "case":
            return self.case_no is not None
        if self.dossier_kind == "meeting":
            return self.meeting_type is not None and self.year is not None
        # Work materials (实施方案, 自查报告, 照片 …): filed by type and year once the type is known.
        return self.doc_type is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "licence_no": self.licence_no,
            "retailer": self.retailer,
            "case_no": self.case_no,
            "meeting_type": self.meeting_type,
            "date": self.date.isoformat() if self.date else None,
            "year": self.year,
            "attendees": self.attendees or None,
            "host": self.host,
            "topic": self.topic,
        }
