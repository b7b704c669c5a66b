"""Refiling the unresolved tray: documents whose text now names their dossier move there.

A document lands in ``records/待归档/`` when neither its path nor its text said where it
belongs. Later a roster import (a retailer's name now known), edited rules or a better
classifier can resolve it: :func:`refile_tray` re-reads every tray record's keys (its inbox
path and its sidecar text, exactly as intake did) and moves the resolvable ones into their
dossier under the next ``NNN_`` name.

Each move is a crash-safe :func:`archive.records.moves.move_record`; interrupted moves are
finished or undone by :func:`archive.records.moves.recover_moves` at the start of every
:func:`refile_tray` (and every reindex). Run within ``archive.writer_lock()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.core.clock import Clock, local_now
from archive.core.config import Archive
from archive.core.dockeys import DocKeys
from archive.intake.classify import Classifier
from archive.intake.pathkeys import keys_from_path
from archive.records.catalog import Catalog
from archive.records.moves import move_record, plan_move, record_rel, recover_moves
from archive.records.numbering import NumberingPolicy, numbered
from archive.records.store import SIDECAR_SUFFIX, TRAY, read_sidecar, sidecar_of

# Findings the classifier owns: recomputed on refiling (others, e.g. illegible, are kept).
CLASSIFIER_CODES = ("title_mismatch", "key_mismatch", "key_recovered")


@dataclass
class Moved:
    """One tray record filed into its dossier."""

    source: str  # records/待归档/…
    record: str  # records/<dossier>/NNN_…
    dossier_kind: str
    dossier_key: str
    doc_type: str | None
    keys_source: str  # path | content
    note: str | None = None  # how the type was decided (a work material typed by its title)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def tray_records(archive: Archive) -> list[Path]:
    """The records (originals with a sidecar) now in the tray, sorted."""
    tray = archive.records / TRAY
    if not tray.is_dir():
        return []
    out = []
    for side in sorted(tray.glob("*" + SIDECAR_SUFFIX)):
        if side.name.startswith("."):
            continue
        record = side.with_name(side.name[: -len(SIDECAR_SUFFIX)])
        if record.is_file():
            out.append(record)
    return out


def path_keys_of(archive: Archive, side: dict[str, Any]) -> DocKeys:
    """The keys intake took from the record's inbox path (as it would take them today)."""
    source = str(side.get("source", ""))
    if source.startswith("inbox/"):
        parts = source[len("inbox/") :].split("/")
    else:
        parts = [str(side.get("original_name") or Path(source).name)]
    folder = parts[0] if len(parts) > 1 else ""
    if folder in archive.config.kinds:
        return keys_from_path(parts[1:], archive.kind_of(folder), archive.config)
    return keys_from_path(parts, "other", archive.config)


def text_of(side: dict[str, Any]) -> str:
    """The record's full text as extraction gave it (pages separated by form feeds)."""
    pages = side.get("text", {}).get("pages", [])
    return "\n\f\n".join(str(p.get("text", "")) for p in pages)


def _filed_year(side: dict[str, Any]) -> int | None:
    for event in side.get("events", []):
        if event.get("event") == "filed" and str(event.get("at", ""))[:4].isdigit():
            return int(str(event["at"])[:4])
    return None


def refile_one(
    archive: Archive,
    catalog: Catalog,
    record: Path,
    classifier: Classifier,
    *,
    clock: Clock = local_now,
    numbering: NumberingPolicy | None = None,
) -> tuple[Moved, dict[str, Any]] | None:
    """Move one tray record into its dossier if its keys now resolve; else ``None``."""
    side_path = sidecar_of(record)
    side = read_sidecar(side_path)
    keys, findings = classifier(path_keys_of(archive, side), text_of(side))
    if not keys.resolved:
        return None
    if keys.dossier_kind == "household" and keys.licence_no:
        roster = catalog.household(keys.licence_no)
        if roster is not None:
            keys.retailer = roster["name"]
    if keys.dossier_kind == "other" and keys.year is None:
        keys.year = _filed_year(side) or clock().year  # work materials: the year filed
    plan = plan_move(archive, record, side, keys)
    if plan.blocked:
        return None
    old_rel, new_rel = record_rel(archive, record), record_rel(archive, plan.target)
    kept = [f for f in side.get("findings", []) if f.get("code") not in CLASSIFIER_CODES]
    new_side = {
        **side,
        "doc_type": keys.doc_type,
        "dossier": {"kind": plan.kind, "key": plan.key},
        "keys": {**keys.as_dict(), "source": keys.source},
        "findings": [*findings, *kept],
        "events": [
            *side.get("events", []),
            *(
                [{"at": clock().isoformat(), "event": "typed", "detail": keys.type_note}]
                if keys.type_note
                else []
            ),
            {
                "at": clock().isoformat(),
                "event": "refiled",
                "detail": f"records/{old_rel} → records/{new_rel}",
            },
        ],
    }
    if numbering is not None:
        new_side = numbered(catalog, new_side, numbering, at=clock().isoformat())
    written = move_record(archive, catalog, record, plan, new_side)
    moved = Moved(
        source=f"records/{old_rel}",
        record=f"records/{new_rel}",
        dossier_kind=plan.kind,
        dossier_key=plan.key,
        doc_type=keys.doc_type,
        keys_source=keys.source,
        note=keys.type_note,
    )
    return moved, written


def refile_tray(
    archive: Archive,
    catalog: Catalog,
    classifier: Classifier,
    *,
    clock: Clock = local_now,
    on_moved: Callable[[str, dict[str, Any]], None] | None = None,
    numbering: NumberingPolicy | None = None,
) -> list[Moved]:
    """Move every tray record whose keys now resolve into its dossier (see module doc).

    ``on_moved(new relative path, sidecar)`` is called after each move (e.g. to update the
    search index, which keys documents by record id but shows their path).
    """
    recover_moves(archive, catalog)
    moved: list[Moved] = []
    for record in tray_records(archive):
        done = refile_one(archive, catalog, record, classifier, clock=clock, numbering=numbering)
        if done is None:
            continue
        moved.append(done[0])
        if on_moved is not None:
            on_moved(done[0].record[len("records/") :], done[1])
    return moved
