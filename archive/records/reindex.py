"""Rebuild the catalog from the records folder alone (and the roster, and quarantine notes)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.core.config import Archive
from archive.core.errors import ArchiveError
from archive.records.catalog import Catalog
from archive.records.households import load_roster
from archive.records.moves import recover_moves
from archive.records.store import (
    SIDECAR_SCHEMA,
    SIDECAR_SUFFIX,
    TOP_FOLDERS,
    TRAY,
    iter_sidecars,
    read_sidecar,
    sha256_file,
    write_bytes_atomic,
)


@dataclass
class ReindexReport:
    records: int = 0
    households: int = 0
    quarantined: int = 0
    problems: list[str] = field(default_factory=list)


def pending_marker(archive: Archive) -> Path:
    """Present while a rebuild of the catalog is under way: a rebuild killed early is found
    by it and finished by the next :func:`open_catalog`."""
    return archive.state / "reindex.pending"


def reindex_catalog(
    archive: Archive,
    catalog: Catalog,
    progress: Callable[[int, int], None] | None = None,
) -> ReindexReport:
    """Empty the catalog and fill it again from ``records/``, ``roster.csv`` and ``quarantine/``.

    One transaction: until it commits, every reader sees the catalog as it was, and a
    rebuild killed half-way leaves it as it was. The marker file says a rebuild was asked
    for and not finished; :func:`open_catalog` then runs it again.

    A record whose sidecar is cut short or damaged keeps its place: its row is carried
    over from the catalog as it was (or made from the file itself), with a
    ``sidecar_damaged`` finding, and the damage is listed in the report."""
    report = ReindexReport()
    marker = pending_marker(archive)
    write_bytes_atomic(marker, b"reindex\n")
    recover_moves(archive, catalog)  # finish or undo a move between dossiers first
    sidecars = list(iter_sidecars(archive.records))
    salvage = _DamagedSidecars(catalog)
    try:
        catalog.clear(commit=False)
        for index, side_path in enumerate(sidecars, 1):
            record = side_path.with_name(side_path.name[: -len(SIDECAR_SUFFIX)])
            rel = record.relative_to(archive.records).as_posix()
            try:
                side = read_sidecar(side_path)
            except (OSError, ValueError) as exc:
                side = salvage.sidecar(rel, record, exc)
                report.problems.append(
                    f"records/{rel}{SIDECAR_SUFFIX}: 说明文件损坏 ({exc}), 已按原有目录信息保留该档案"
                )
            if not record.exists() and side.get("status") != "destroyed":
                report.problems.append(f"records/{rel}: 说明文件存在但原件缺失")
            try:
                catalog.upsert(rel, side, commit=False)
                report.records += 1
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                report.problems.append(f"records/{rel}{SIDECAR_SUFFIX}: 说明文件内容不全 ({exc})")
            if progress is not None:
                progress(index, len(sidecars))
        if archive.roster_path.exists():
            rows = load_roster(archive.roster_path)
            report.households = catalog.replace_households(rows, commit=False)
        for why in sorted(archive.quarantine.rglob("*.why.json")):
            target = why.with_name(why.name[: -len(".why.json")])
            try:
                data = json.loads(why.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                report.problems.append(f"{why}: 隔离说明无法读取 ({exc})")
                continue
            if target.exists():
                catalog.add_quarantine(
                    target.relative_to(archive.root).as_posix(), data, commit=False
                )
                report.quarantined += 1
        catalog.commit()
    except BaseException:
        catalog.rollback()
        raise
    finally:
        salvage.close()
    marker.unlink(missing_ok=True)
    return report


class _DamagedSidecars:
    """What the catalog knew of records whose sidecar can no longer be read: a second
    connection holds a read snapshot taken before the rebuild empties the tables (WAL)."""

    def __init__(self, catalog: Catalog) -> None:
        self.old = sqlite3.connect(catalog.path, timeout=30.0)
        self.old.row_factory = sqlite3.Row
        self.old.execute("BEGIN")
        self.old.execute("SELECT count(*) FROM records").fetchone()  # pins the snapshot

    def close(self) -> None:
        self.old.close()

    def sidecar(self, rel: str, record: Path, exc: BaseException) -> dict[str, Any]:
        finding = {
            "code": "sidecar_damaged",
            "message": (
                f"说明文件 {record.name}{SIDECAR_SUFFIX} 不完整或已损坏 ({exc}); 档案原件仍在, "
                "已按目录库原有信息保留; 请从备份恢复该说明文件, 并运行 dangan verify 核对"
            ),
        }
        row = self.old.execute("SELECT * FROM records WHERE path = ?", (rel,)).fetchone()
        if row is not None:
            return {**sidecar_from_row(self.old, row), "findings": [finding]}
        return {**_sidecar_from_file(rel, record), "findings": [finding]}


def sidecar_from_row(db: sqlite3.Connection, row: Any) -> dict[str, Any]:
    """A sidecar rebuilt from a record's catalog row, its events and its 档号."""
    keys = json.loads(row["meta"] or "{}")
    keys.pop("seals", None)  # a fact of the pages, not a key
    pages = [{"number": n, "text": text} for n, text in enumerate(row["text"].split("\n\f\n"), 1)]
    legible = None if row["legible"] is None else bool(row["legible"])
    events = db.execute(
        "SELECT at, event, detail, actor, reason FROM events WHERE record_id = ? ORDER BY seq",
        (row["record_id"],),
    )
    side: dict[str, Any] = {
        "schema": SIDECAR_SCHEMA,
        "sha256": row["record_id"],
        "size": row["size"],
        "mime": row["mime"],
        "pages": row["pages"],
        "original_name": row["original_name"],
        "source": row["source"],
        "title": row["title"],
        "doc_type": row["doc_type"],
        "claimed_type": row["claimed_type"],
        "dossier": {"kind": row["dossier_kind"], "key": row["dossier_key"]},
        "keys": keys,
        "text": {"pages": pages, "legible": legible},
        "status": row["status"],
        "events": [{k: v for k, v in dict(e).items() if v != ""} for e in events],
    }
    numbers = db.execute(
        "SELECT fonds, year, retention, org, item, code, state FROM numbers WHERE record_id = ?",
        (row["record_id"],),
    ).fetchall()
    for number in numbers:
        data = {k: number[k] for k in ("fonds", "year", "retention", "org", "item", "code")}
        if number["state"] == "vacated":
            side.setdefault("archival_history", []).append(data)
        else:
            side["archival"] = data
    return side


def _sidecar_from_file(rel: str, record: Path) -> dict[str, Any]:
    """The least a catalog row needs, from the record's bytes and its place in records/."""
    parts = rel.split("/")
    kinds = {folder: kind for kind, folder in TOP_FOLDERS.items()}
    kind = kinds.get(parts[0], "tray")
    key = "/".join(parts[1:-1]) if kind != "household" else parts[1][:12]
    if kind == "materials":
        key = f"{TOP_FOLDERS['materials']}/{key}"
    try:
        sha, size = sha256_file(record), record.stat().st_size
    except (OSError, ArchiveError):
        sha, size = hashlib.sha256(rel.encode("utf-8")).hexdigest(), 0
    return {
        "schema": SIDECAR_SCHEMA,
        "sha256": sha,
        "size": size,
        "original_name": record.name,
        "title": record.stem,
        "dossier": {"kind": kind, "key": key or TRAY},
        "keys": {},
        "events": [],
    }


def open_catalog(archive: Archive) -> Catalog:
    """The archive's catalog, refilled from ``records/`` when it was of another version or
    when a rebuild was interrupted."""
    catalog = Catalog(archive.catalog_path)
    if catalog.rebuilt or pending_marker(archive).exists():
        try:
            reindex_catalog(archive, catalog)
        except BaseException:
            catalog.close()
            raise
    return catalog


def orphans(records: Path) -> list[Path]:
    """Files in the records with no sidecar (not records: left by hand or by a crash)."""
    found = []
    for path in sorted(records.rglob("*")):
        if not path.is_file() or path.name.endswith(SIDECAR_SUFFIX) or path.name.startswith("."):
            continue
        if any(part.startswith(".") for part in path.relative_to(records).parts):
            continue
        if ".ocr." in path.name or ".stamped." in path.name:  # derivatives of a record
            continue
        if not path.with_name(path.name + SIDECAR_SUFFIX).exists():
            found.append(path)
    return found
