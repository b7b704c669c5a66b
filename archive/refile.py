"""Refiling the unresolved tray: documents whose text now names their dossier move there.

A document lands in ``records/待归档/`` when neither its path nor its text said where it
belongs. Later a roster import (a retailer's name now known), edited rules or a better
classifier can resolve it: :func:`refile_tray` re-reads every tray record's keys (its inbox
path and its sidecar text, exactly as intake did) and moves the resolvable ones into their
dossier under the next ``NNN_`` name.

Crash safety: each move is announced in ``.dangan/refile/<sha256>.json`` first; then the
derivatives and the original are renamed, then the new sidecar is written (from then on the
record exists at its new place), then the old sidecar is removed and the catalog updated.
:func:`recover_refiles` (called at the start of every :func:`refile_tray`) rolls a move
forward when the new sidecar exists and back otherwise. Run within ``archive.writer_lock()``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.catalog import Catalog
from archive.classify import Classifier
from archive.config import Archive
from archive.intake import Clock, local_now
from archive.names import safe_component
from archive.pathkeys import DocKeys, keys_from_path
from archive.store import (
    SIDECAR_SUFFIX,
    TRAY,
    dossier_folder,
    fsync_dir,
    next_record_name,
    read_sidecar,
    sidecar_of,
    write_json_atomic,
)

# Findings the classifier owns: recomputed on refiling (others, e.g. illegible, are kept).
CLASSIFIER_CODES = ("title_mismatch", "key_mismatch")


@dataclass
class Moved:
    """One tray record filed into its dossier."""

    source: str  # records/待归档/…
    record: str  # records/<dossier>/NNN_…
    dossier_kind: str
    dossier_key: str
    doc_type: str | None
    keys_source: str  # path | content

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _journal_dir(archive: Archive) -> Path:
    return archive.state / "refile"


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


def _derivative_names(side: dict[str, Any]) -> dict[str, str]:
    derived = side.get("derivatives") or {}
    return {k: str(v) for k, v in derived.items() if isinstance(v, str)}


def _plan(
    archive: Archive, record: Path, side: dict[str, Any], keys: DocKeys
) -> tuple[Path, list[tuple[Path, Path]], dict[str, str]]:
    """Target record, (old, new) renames with the original last, and new derivative names."""
    _, _, folder = dossier_folder(archive.records, keys)
    label = keys.doc_type or safe_component(Path(str(side.get("original_name", record.name))).stem)
    target = folder / next_record_name(folder, label, record.suffix)
    moves: list[tuple[Path, Path]] = []
    renamed: dict[str, str] = {}
    for role, name in _derivative_names(side).items():
        if not name.startswith(record.stem):
            continue
        new_name = target.stem + name[len(record.stem) :]
        if (record.parent / name).exists():
            moves.append((record.parent / name, folder / new_name))
        renamed[role] = new_name
    moves.append((record, target))
    return target, moves, renamed


def _rel(archive: Archive, path: Path) -> str:
    return path.relative_to(archive.records).as_posix()


def refile_one(
    archive: Archive,
    catalog: Catalog,
    record: Path,
    classifier: Classifier,
    *,
    clock: Clock = local_now,
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
    kind, key, folder = dossier_folder(archive.records, keys)
    target, moves, renamed = _plan(archive, record, side, keys)
    for _, new in moves:
        if new.exists() or sidecar_of(new).exists():
            return None  # never overwrite; next_record_name makes this a stale-state guard
    old_rel, new_rel = _rel(archive, record), _rel(archive, target)
    kept = [f for f in side.get("findings", []) if f.get("code") not in CLASSIFIER_CODES]
    new_side = {
        **side,
        "doc_type": keys.doc_type,
        "dossier": {"kind": kind, "key": key},
        "keys": {**keys.as_dict(), "source": keys.source},
        "findings": [*findings, *kept],
        "events": [
            *side.get("events", []),
            {
                "at": clock().isoformat(),
                "event": "refiled",
                "detail": f"records/{old_rel} → records/{new_rel}",
            },
        ],
    }
    if renamed:
        new_side["derivatives"] = {**_derivative_names(side), **renamed}
    journal = _journal_dir(archive)
    journal.mkdir(parents=True, exist_ok=True)
    entry_path = journal / f"{side['sha256']}.json"
    write_json_atomic(
        entry_path,
        {
            "old": old_rel,
            "new": new_rel,
            "moves": [[_rel(archive, a), _rel(archive, b)] for a, b in moves],
        },
    )
    folder.mkdir(parents=True, exist_ok=True)
    for old, new in moves:
        os.rename(old, new)
    write_json_atomic(sidecar_of(target), new_side)  # from here on, the record is there
    fsync_dir(folder)
    side_path.unlink()
    fsync_dir(record.parent)
    catalog.upsert(new_rel, new_side)  # same record id: replaces the tray row
    entry_path.unlink()
    moved = Moved(
        source=f"records/{old_rel}",
        record=f"records/{new_rel}",
        dossier_kind=kind,
        dossier_key=key,
        doc_type=keys.doc_type,
        keys_source=keys.source,
    )
    return moved, new_side


def recover_refiles(archive: Archive, catalog: Catalog) -> int:
    """Finish (new sidecar written) or undo (not written) every move a crash interrupted."""
    journal = _journal_dir(archive)
    if not journal.is_dir():
        return 0
    count = 0
    for entry_path in sorted(journal.glob("*.json")):
        try:
            entry = json.loads(entry_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            entry_path.unlink()  # torn before any rename: nothing moved
            continue
        records = archive.records
        old, new = records / entry["old"], records / entry["new"]
        moves = [(records / a, records / b) for a, b in entry["moves"]]
        if sidecar_of(new).exists():
            for a, b in moves:
                if a.exists() and not b.exists():
                    os.rename(a, b)
            if sidecar_of(old).exists():
                sidecar_of(old).unlink()
            catalog.upsert(entry["new"], read_sidecar(sidecar_of(new)))
        else:
            for a, b in reversed(moves):
                if b.exists() and not a.exists():
                    a.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(b, a)
        entry_path.unlink()
        count += 1
    return count


def refile_tray(
    archive: Archive,
    catalog: Catalog,
    classifier: Classifier,
    *,
    clock: Clock = local_now,
    on_moved: Callable[[str, dict[str, Any]], None] | None = None,
) -> list[Moved]:
    """Move every tray record whose keys now resolve into its dossier (see module doc).

    ``on_moved(new relative path, sidecar)`` is called after each move (e.g. to update the
    search index, which keys documents by record id but shows their path).
    """
    recover_refiles(archive, catalog)
    moved: list[Moved] = []
    for record in tray_records(archive):
        done = refile_one(archive, catalog, record, classifier, clock=clock)
        if done is None:
            continue
        moved.append(done[0])
        if on_moved is not None:
            on_moved(done[0].record[len("records/") :], done[1])
    return moved
