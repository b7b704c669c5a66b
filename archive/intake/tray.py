"""The tray (待归档): what intake could not place, placed by a clerk.

:func:`suggestions` reads a tray document's text for the dossiers it may belong to (a
licence number or a case number the archive knows, a retailer the roster names);
:func:`assign` files it into the dossier the clerk chose, with a type, as one correction with
who and why. Two clerks may pick the same document at once: the writer lock puts them in
turn, and the second is told plainly who filed it where (:class:`AlreadyAssigned`), never
given a second move.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archive.core.clock import Clock, local_now
from archive.core.config import Archive
from archive.core.errors import UsageError
from archive.core.keys import is_valid_licence, normalize_case_number, to_halfwidth
from archive.records.catalog import Catalog
from archive.records.corrections import (
    Changes,
    Corrected,
    StateError,
    edit_record,
    guard_state,
    locate,
    move_to_dossier,
    parse_dossier,
    recover_moves,
)
from archive.records.numbering import NumberingPolicy

_DIGITS = re.compile(r"(?<!\d)\d{12}(?!\d)")
_CASE = re.compile(r"[\u4e00-\u9fff]{1,6}[〔\[【(（]\s*\d{4}\s*[〕\]】)）]\s*第?\s*\d{1,5}\s*号")
_MIN_NAME = 3  # shorter retailer names match too much ordinary text


class AlreadyAssigned(StateError):
    """Another clerk filed this tray document first."""


@dataclass(frozen=True)
class Suggestion:
    dossier: str  # what :func:`assign` takes: a licence number, a case number
    label: str  # e.g. 3303…  鑫垚便民店
    why: str  # e.g. 正文中的许可证号


def suggestions(
    archive: Archive, catalog: Catalog, side: dict[str, Any], limit: int = 8
) -> list[Suggestion]:
    """Dossiers the document's text points at, most telling first (see module doc)."""
    text = to_halfwidth(_text_of(side))
    found: dict[str, Suggestion] = {}

    def add(key: str, label: str, why: str) -> None:
        if key not in found:
            found[key] = Suggestion(key, label, why)

    for number in _DIGITS.findall(text):
        row = catalog.household(number)
        if row is not None:
            add(number, f"{number}  {row['name']}", "正文中的许可证号")
        elif catalog.records("dossier_key = ? AND status = 'filed'", (number,)):
            add(number, number, "正文中的许可证号")
        elif is_valid_licence(number, archive.config.area_codes):
            add(number, number, "正文中的许可证号 (名册和档案中都没有)")
    known_cases = set(catalog.case_numbers())
    for match in _CASE.findall(text):
        case = normalize_case_number(match, archive.config.case_prefixes)
        if case is not None and case in known_cases:
            add(case, case, "正文中的案号")
    compact = re.sub(r"\s+", "", text)
    for row in catalog.households():
        name = str(row["name"] or "")
        if len(name) >= _MIN_NAME and name in compact:
            add(str(row["licence_no"]), f"{row['licence_no']}  {name}", "正文提到的零售户")
    return list(found.values())[:limit]


def _text_of(side: dict[str, Any]) -> str:
    pages = (side.get("text") or {}).get("pages") or []
    return "\n".join(str(p.get("text") or "") for p in pages)


def _placed_by(side: dict[str, Any]) -> str:
    for event in reversed(side.get("events") or []):
        if event.get("by"):
            when = str(event.get("at", ""))[:16].replace("T", " ")
            return f"已由 {event['by']} 于 {when} "
    return "已"


def assign(
    archive: Archive,
    catalog: Catalog,
    record_id: str,
    dossier: str,
    *,
    doc_type: str | None,
    actor: str,
    reason: str,
    type_dossiers: Mapping[str, tuple[str, ...]],
    policy: NumberingPolicy | None = None,
    clock: Clock = local_now,
) -> list[Corrected]:
    """File the tray document *record_id* into *dossier* (a licence number, a case number,
    ``会议类型/年份`` or ``工作材料/年份``) as *doc_type*. Call within the writer lock."""
    recover_moves(archive, catalog)
    _, side = locate(archive, catalog, record_id)
    guard_state(side, record_id)
    placed = side.get("dossier") or {}
    if placed.get("kind") != "tray":
        raise AlreadyAssigned(
            f"这份文件{_placed_by(side)}归入档案 {placed.get('key', '?')}, 不在待归档中了; "
            "不必再归档 (如归错了, 请在该档案中更正)"
        )
    dest = parse_dossier(archive, dossier)
    if doc_type:
        kinds = type_dossiers.get(doc_type)
        if kinds is None:
            raise UsageError(f"“{doc_type}”不是已知的文书类型; 请从列表中选择")
        if dest.dossier_kind not in kinds:
            raise UsageError(f"“{doc_type}”不归入这类档案 ({dossier}); 请换一个类型或档案")
    done = [
        move_to_dossier(
            archive,
            catalog,
            record_id,
            dossier,
            actor=actor,
            reason=reason,
            policy=policy,
            clock=clock,
        )
    ]
    if doc_type and doc_type != side.get("doc_type"):
        done.append(
            edit_record(
                archive,
                catalog,
                record_id,
                Changes(doc_type=doc_type),
                actor=actor,
                reason=reason,
                type_dossiers=type_dossiers,
                policy=policy,
                clock=clock,
            )
        )
    return done
