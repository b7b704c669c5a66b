"""Keys from where a clerk dropped a file: kind folder, sub-folders and file name."""

from __future__ import annotations

import re

from archive.core.config import ArchiveConfig
from archive.core.dockeys import DocKeys
from archive.core.doctypes import (
    CASE_TYPES,
    HOUSEHOLD_TYPES,
    MEETING_DOC_TYPES,
    canonical_meeting,
    type_from_name,
)
from archive.core.keys import find_case_numbers, find_dates, find_licence_numbers, find_months
from archive.core.meetings import looks_like_meeting, normalise_meeting_name

_SEPARATORS = " _-—·.、，,（）()"
# A day written in a file name: 2021-12-22, 2021.12.22, 2021年12月22日, 20211222.
_DAY_IN_NAME = re.compile(
    r"(?<![0-9])(?:19|20)\d{2}(?:[-._年]\d{1,2}[-._月]\d{1,2}日?|(?:0[1-9]|1[0-2])[0-3]\d)(?![0-9])"
)


def _retailer_from(part: str, licence: str) -> str | None:
    rest = part.replace(licence, " ").strip(_SEPARATORS)
    rest = re.sub(r"^(许可证|证号|号)[:：]?", "", rest).strip(_SEPARATORS)
    return rest if rest and not rest.isdigit() else None


def meeting_in_path(dirs: list[str], stem: str, bureau: str | None = None) -> str | None:
    """The meeting a clerk named in the path under 会议记录/: the first folder that names one
    (``依法行政工作推进会/``), else the file name (``依法行政工作推进会 2021-12-22.pdf``), its
    year, quarter, day and record words dropped; None when no part looks like a meeting."""
    for part in [*dirs, stem]:
        name = normalise_meeting_name(_DAY_IN_NAME.sub(" ", part), bureau)
        if name and looks_like_meeting(name):
            return name
    return None


def keys_from_path(parts: list[str], kind: str, config: ArchiveConfig) -> DocKeys:
    """Keys from an inbox-relative path's decoded parts (kind folder excluded)."""
    dirs, name = parts[:-1], parts[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    keys = DocKeys(dossier_kind=kind, name=stem)
    ordered = [*dirs, stem]
    for part in ordered:
        # inside the inbox's household folder, the folder names are licence-number labels
        numbers = find_licence_numbers(part, config.area_codes, labelled=kind == "household")
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
                keys.year_implied = True
        if re.fullmatch(r"(19|20)\d{2}年?", part.strip()):
            keys.year = int(part.strip()[:4])
            keys.year_implied = False
    if keys.meeting_type is None and kind == "meeting":
        keys.meeting_type = meeting_in_path(dirs, stem, config.bureau)
    keys.meeting_type = canonical_meeting(keys.meeting_type)
    if keys.date is not None:
        keys.year = keys.date.year
        keys.year_implied = False
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
