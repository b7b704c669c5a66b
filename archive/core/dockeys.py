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
    # The year was only implied by a month in a name (2021年12月份例会): the day a meeting's
    # minutes say it was held wins over it.
    year_implied: bool = False
    doc_type: str | None = None
    source: str = "path"  # where the keys came from: path | content
    attendees: list[str] = field(default_factory=list)  # meetings: 参加人员
    host: str | None = None  # meetings: 主持人
    topic: str | None = None  # meetings: 议题
    recorder: str | None = None  # meetings: 记录人
    # Minutes of a case meeting (案审会 …): the cases they name, whose dossiers list them too.
    cases: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The file's name as the clerk wrote it (no extension): a work material's title and year
    # may be read from it (archive.intake.worktype).
    name: str | None = None
    # How a work material's type was decided when the rules name none (类型按文件名确定 …).
    type_note: str | None = None

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
            "recorder": self.recorder,
            "cases": self.cases or None,
        }
