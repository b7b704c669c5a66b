"""What a meeting record must show, checked record by record.

The checklists (``meeting.fields`` of ``checklists.yaml``) name what every set of minutes must
show: the date, the attendees, the topic, the host's and the recorder's names. Intake read
those from the minutes' own lines (``参加人员：…``, ``主持人：…``, ``记录人：…``, ``议题：…``)
into the record's keys, so a label left blank counts as missing; the date counts when the
text holds one (a date in the file name is not the minutes showing it). A field the bureau
adds that intake does not read (``地点`` …) counts when its label is followed by a value.

Records without text (a scan not yet read) are not judged; a sign-in sheet is not minutes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from archive.assess.audit import ERROR, ArchiveView, AuditFinding, RecordInfo
from archive.assess.checklists import Checklists, Requirement
from archive.core.doctypes import normalise_doc_type
from archive.core.meetings import dates_in
from archive.records.catalog import Catalog

# What intake reads of minutes (the sidecar's keys) and the names a checklist gives each.
_FACTS: dict[str, tuple[str, ...]] = {
    "date": ("日期", "时间", "会议时间", "召开时间", "会议日期"),
    "attendees": (
        "参会人员",
        "参加人员",
        "出席人员",
        "到会人员",
        "列席人员",
        "参加人",
        "出席人",
        "出席",
    ),
    "topic": ("议题", "会议议题", "会议主题", "主题", "会议内容", "内容"),
    "host": ("主持人", "主持人签字", "主持"),
    "recorder": ("记录人", "记录人签字", "记录员"),
}
_NOT_MINUTES = ("签到表", "照片")


def _fact_of(req: Requirement) -> str | None:
    accepted = {normalise_doc_type(a) for a in req.accepted}
    for fact, names in _FACTS.items():
        if accepted & set(names):
            return fact
    return None


def _labelled(text: str, labels: tuple[str, ...]) -> bool:
    """Whether one of ``labels`` stands in ``text`` followed by a value on its line."""
    return any(
        re.search(re.escape(label) + r"[ \t\u3000]*[:：]?[ \t\u3000]*[^\s:：]", text)
        for label in labels
    )


def missing_fields(keys: Mapping[str, Any], text: str, checklists: Checklists) -> list[Requirement]:
    """What the minutes with sidecar ``keys`` and ``text`` do not show, in checklist order."""
    out = []
    for req in checklists.meeting_fields:
        fact = _fact_of(req)
        if fact == "date":
            shown = bool(dates_in(text))
        elif fact is not None and fact in keys:
            value = keys.get(fact)
            shown = bool(value) and any(
                str(v).strip() for v in (value if isinstance(value, list) else [value])
            )
        else:  # a field intake does not read, or a record filed before it read this one
            shown = _labelled(text, req.accepted)
        if not shown:
            out.append(req)
    return out


def is_minutes(r: RecordInfo) -> bool:
    return r.dossier_kind == "meeting" and r.doc_type not in _NOT_MINUTES


def minutes_facts(catalog: Catalog) -> dict[str, tuple[dict[str, Any], str]]:
    """(keys, text) of every record filed as a meeting's, by path."""
    return {
        path: (json.loads(meta or "{}"), text or "")
        for path, meta, text in catalog.db.execute(
            "SELECT path, meta, text FROM records WHERE dossier_kind = 'meeting'"
        )
    }


def meeting_findings(
    view: ArchiveView,
    catalog: Catalog,
    checklists: Checklists,
    year: int,
    criterion_of: Mapping[str, str],
    default_criterion: str | None = None,
) -> list[AuditFinding]:
    """A finding for every set of minutes of ``year`` (or of no known year) that does not
    show what the checklists require, naming what is missing."""
    facts = minutes_facts(catalog)
    out = []
    for r in view.records:
        if not is_minutes(r) or r.when()[0] not in (year, None):
            continue
        keys, text = facts.get(r.path, ({}, ""))
        if not text.strip():
            continue
        lacking = missing_fields(keys, text, checklists)
        if not lacking:
            continue
        names = "、".join(q.name for q in lacking)
        meeting = r.meeting_type or "会议"
        out.append(
            AuditFinding(
                "meeting_incomplete",
                ERROR,
                f"会议记录 {r.dossier_key}",
                r.ref,
                criterion_of.get(r.path, default_criterion),
                f"{meeting}记录（{r.doc_date or '日期不明'}）缺少：{names}",
                f"在原记录上补写{names}，主持人、记录人签字后重新扫描，放入 inbox/会议记录/"
                f"{meeting}/，再把本件移出档案",
            )
        )
    return out
