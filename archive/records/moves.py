"""Moving a record between dossiers, crash-safe: the record keeps its bytes and its id.

A move renames the record's derivatives and original into the new dossier under the next
``NNN_`` name, writes the new sidecar there (from then on the record exists at its new
place), removes the old sidecar and updates the catalog. Each move is announced in
``.dangan/refile/<sha256>.json`` first; :func:`recover_moves` rolls a move forward when the
new sidecar exists and back otherwise. Run within ``archive.writer_lock()``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.core.config import Archive
from archive.core.dockeys import DocKeys
from archive.core.names import safe_component
from archive.core.paths import PathRefused, child, inside
from archive.records.catalog import Catalog
from archive.records.store import (
    dossier_folder,
    drop_torn_temporaries,
    fsync_dir,
    next_record_name,
    read_sidecar,
    sidecar_of,
    write_json_atomic,
)


@dataclass
class MovePlan:
    """Where a record goes: the target, the renames (original last), new derivative names."""

    kind: str  # the new dossier's kind
    key: str  # the new dossier's key
    folder: Path
    target: Path
    renames: list[tuple[Path, Path]]
    derivatives: dict[str, str]

    @property
    def blocked(self) -> bool:
        """A target is taken (never overwrite; ``next_record_name`` makes this a stale guard)."""
        return any(
            old != new and (new.exists() or sidecar_of(new).exists()) for old, new in self.renames
        )

    @property
    def in_place(self) -> bool:
        """The record keeps its path (only its sidecar changes)."""
        return self.renames[-1][0] == self.target


def journal_dir(archive: Archive) -> Path:
    return archive.state / "refile"


def derivative_names(side: dict[str, Any]) -> dict[str, str]:
    derived = side.get("derivatives") or {}
    return {k: str(v) for k, v in derived.items() if isinstance(v, str)}


def plan_move(
    archive: Archive, record: Path, side: dict[str, Any], keys: DocKeys, *, keep_seq: bool = False
) -> MovePlan:
    """The move of ``record`` into the dossier ``keys`` names (nothing is touched yet).

    ``keep_seq``: a record that stays in its folder keeps its ``NNN_`` place (a relabel)."""
    kind, key, folder = dossier_folder(archive.records, keys)
    label = keys.doc_type or safe_component(Path(str(side.get("original_name", record.name))).stem)
    return plan_move_to(record, side, kind, key, folder, label, keep_seq=keep_seq)


def plan_move_to(
    record: Path,
    side: dict[str, Any],
    kind: str,
    key: str,
    folder: Path,
    label: str,
    *,
    keep_seq: bool = False,
) -> MovePlan:
    """The move of ``record`` into ``folder`` as ``NNN_<label>`` (the folder's next number, or
    its own when ``keep_seq`` and it stays in its folder)."""
    seq = record.name.split("_", 1)[0]
    if keep_seq and folder == record.parent and seq.isdigit():
        target = folder / f"{seq}_{safe_component(label)}{record.suffix}"
    else:
        target = folder / next_record_name(folder, label, record.suffix)
    renames: list[tuple[Path, Path]] = []
    renamed: dict[str, str] = {}
    for role, name in derivative_names(side).items():
        if not name.startswith(record.stem):
            continue
        try:  # a name from the sidecar: a file beside the record, never elsewhere
            here, there = (
                child(record.parent, name),
                child(folder, target.stem + name[len(record.stem) :]),
            )
        except PathRefused:
            continue
        if here.name != name:
            continue
        if here.exists():
            renames.append((here, there))
        renamed[role] = there.name
    renames.append((record, target))
    return MovePlan(kind, key, folder, target, renames, renamed)


def record_rel(archive: Archive, path: Path) -> str:
    """A path under ``records/``, relative to it, as the catalog keys it."""
    return path.relative_to(archive.records).as_posix()


def move_record(
    archive: Archive,
    catalog: Catalog,
    record: Path,
    plan: MovePlan,
    new_side: dict[str, Any],
) -> dict[str, Any]:
    """Carry out ``plan``: journal, renames, new sidecar, old sidecar gone, catalog row.

    Returns the sidecar as written at the new place."""
    if plan.derivatives:
        new_side = {**new_side, "derivatives": {**derivative_names(new_side), **plan.derivatives}}
    old_rel, new_rel = record_rel(archive, record), record_rel(archive, plan.target)
    journal = journal_dir(archive)
    journal.mkdir(parents=True, exist_ok=True)
    entry_path = journal / f"{new_side['sha256']}.json"
    write_json_atomic(
        entry_path,
        {
            "old": old_rel,
            "new": new_rel,
            "moves": [[record_rel(archive, a), record_rel(archive, b)] for a, b in plan.renames],
        },
    )
    plan.folder.mkdir(parents=True, exist_ok=True)
    for old, new in plan.renames:
        if old != new:
            os.rename(old, new)
    # from here on, the record is there
    write_json_atomic(sidecar_of(plan.target), new_side, staging=journal)
    fsync_dir(plan.folder)
    if plan.target != record:
        sidecar_of(record).unlink()
        fsync_dir(record.parent)
    catalog.upsert(new_rel, new_side)  # same record id: replaces the old row
    entry_path.unlink()
    return new_side


def recover_moves(archive: Archive, catalog: Catalog) -> int:
    """Finish (new sidecar written) or undo (not written) every move a crash interrupted."""
    journal = journal_dir(archive)
    if not journal.is_dir():
        return 0
    drop_torn_temporaries(journal)
    count = 0
    for entry_path in sorted(journal.glob("*.json")):
        try:
            entry = json.loads(entry_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            entry_path.unlink()  # torn before any rename: nothing moved
            continue
        records = archive.records
        try:  # the journal names paths under records/ only (the path policy)
            old, new = inside(records, entry["old"]), inside(records, entry["new"])
            moves = [(inside(records, a), inside(records, b)) for a, b in entry["moves"]]
        except (PathRefused, KeyError, TypeError, ValueError):
            entry_path.unlink()  # not an entry dangan wrote: nothing of it is acted on
            continue
        if sidecar_of(new).exists():
            for a, b in moves:
                if a != b and a.exists() and not b.exists():
                    os.rename(a, b)
            if old != new and sidecar_of(old).exists():
                sidecar_of(old).unlink()
            catalog.upsert(entry["new"], read_sidecar(sidecar_of(new)))
        else:
            for a, b in reversed(moves):
                if a != b and b.exists() and not a.exists():
                    a.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(b, a)
        for side in {sidecar_of(old), sidecar_of(new)}:  # a sidecar write torn by the crash
            if side.parent.is_dir():
                for torn in side.parent.glob(f".tmp-*-{side.name}"):
                    torn.unlink(missing_ok=True)
        entry_path.unlink()
        count += 1
    return count
