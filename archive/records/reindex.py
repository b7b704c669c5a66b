"""Rebuild the catalog from the records folder alone (and the roster, and quarantine notes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from archive.core.config import Archive
from archive.records.catalog import Catalog
from archive.records.households import load_roster
from archive.records.moves import recover_moves
from archive.records.store import SIDECAR_SUFFIX, iter_sidecars, read_sidecar


@dataclass
class ReindexReport:
    records: int = 0
    households: int = 0
    quarantined: int = 0
    problems: list[str] = field(default_factory=list)


def reindex_catalog(
    archive: Archive,
    catalog: Catalog,
    progress: Callable[[int, int], None] | None = None,
) -> ReindexReport:
    """Empty the catalog and fill it again from ``records/``, ``roster.csv`` and ``quarantine/``."""
    report = ReindexReport()
    recover_moves(archive, catalog)  # finish or undo a move between dossiers first
    catalog.clear()
    sidecars = list(iter_sidecars(archive.records))
    for index, side_path in enumerate(sidecars, 1):
        record = side_path.with_name(side_path.name[: -len(SIDECAR_SUFFIX)])
        rel = record.relative_to(archive.records).as_posix()
        try:
            side = read_sidecar(side_path)
            if not record.exists() and side.get("status") != "destroyed":
                report.problems.append(f"records/{rel}: 说明文件存在但原件缺失")
            catalog.upsert(rel, side, commit=False)
            report.records += 1
        except (OSError, ValueError, KeyError) as exc:
            report.problems.append(f"records/{rel}{SIDECAR_SUFFIX}: 说明文件无法读取 ({exc})")
        if index % 500 == 0:
            catalog.commit()
        if progress is not None:
            progress(index, len(sidecars))
    catalog.commit()
    if archive.roster_path.exists():
        report.households = catalog.replace_households(load_roster(archive.roster_path))
    for why in sorted(archive.quarantine.rglob("*.why.json")):
        target = why.with_name(why.name[: -len(".why.json")])
        try:
            data = json.loads(why.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            report.problems.append(f"{why}: 隔离说明无法读取 ({exc})")
            continue
        if target.exists():
            catalog.add_quarantine(target.relative_to(archive.root).as_posix(), data)
            report.quarantined += 1
    return report


def open_catalog(archive: Archive) -> Catalog:
    """The archive's catalog, refilled from ``records/`` when it was of another version."""
    catalog = Catalog(archive.catalog_path)
    if catalog.rebuilt:
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
