"""Keys from where a clerk dropped a file: kind folder, sub-folders and file name."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from archive.config import ArchiveConfig
from archive.doctypes import (
    CASE_TYPES,
    HOUSEHOLD_TYPES,
    MEETING_DOC_TYPES,
    canonical_meeting,
    type_from_name,
)
from archive.keys import find_case_numbers, find_dates, find_licence_numbers, find_months

_SEPARATORS = " _-—·.、，,（）()"


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


def _retailer_from(part: str, licence: str) -> str | None:
    rest = part.replace(licence, " ").strip(_SEPARATORS)
    rest = re.sub(r"^(许可证|证号|号)[:：]?", "", rest).strip(_SEPARATORS)
    return rest if rest and not rest.isdigit() else None


def keys_from_path(parts: list[str], kind: str, config: ArchiveConfig) -> DocKeys:
    """Keys from an inbox-relative path's decoded parts (kind folder excluded)."""
    keys = DocKeys(dossier_kind=kind)
    dirs, name = parts[:-1], parts[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    ordered = [*dirs, stem]
    for part in ordered:
        numbers = find_licence_numbers(part, config.area_codes)
        if numbers and keys.licence_no is None:
            keys.licence_no = numbers[0]
            keys.retailer = _retailer_from(part, numbers[0]) if part in dirs else None
        cases = find_case_numbers(part, config.case_prefixes)
        if cases and keys.case_no is None:
            keys.case_no = cases[0]
        for meeting in sorted(config.meeting_types, key=len, reverse=True):
            if meeting in part and keys.meeting_type is None:
                keys.meeting_type = meeting
        dates = find_dates(part)
        if dates:
            keys.date = dates[-1]
        elif keys.date is None:
            months = find_months(part)
            if months:
                keys.year = months[0][0]
        if re.fullmatch(r"(19|20)\d{2}年?", part.strip()):
            keys.year = int(part.strip()[:4])
    keys.meeting_type = canonical_meeting(keys.meeting_type)
    if keys.date is not None:
        keys.year = keys.date.year
    if kind == "household" and keys.licence_no is None and dirs:
        keys.notes.append("路径中没有有效的12位许可证号")
    if kind == "other":
        # An "other" file whose path names a key is filed by that key.
        if keys.licence_no:
            keys.dossier_kind = "household"
        elif keys.case_no:
            keys.dossier_kind = "case"
        elif keys.meeting_type and keys.year:
            keys.dossier_kind = "meeting"
    keys.doc_type = type_from_name(stem)
    if keys.dossier_kind == "other" and keys.doc_type is not None:
        # A household, case or meeting paper whose key is unknown waits in the tray, not
        # among the work materials.
        for kind_name, types in (
            ("household", HOUSEHOLD_TYPES),
            ("case", CASE_TYPES),
            ("meeting", MEETING_DOC_TYPES),
        ):
            if keys.doc_type in types:
                keys.dossier_kind = kind_name
                break
    if keys.doc_type is None and kind == "meeting" and keys.meeting_type:
        keys.doc_type = "会议记录"
    return keys
