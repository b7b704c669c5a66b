"""Fixity: re-hash every record in ``records/`` and report what changed, went missing or
broke, and where the catalog disagrees with the records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archive.core.config import Archive
from archive.core.errors import ArchiveError
from archive.records.catalog import Catalog
from archive.records.reindex import orphans
from archive.records.store import (
    SIDECAR_SUFFIX,
    append_event,
    iter_sidecars,
    read_sidecar,
    sha256_file,
)


@dataclass
class FixityReport:
    checked: int = 0
    changed: list[dict[str, str]] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    damaged: list[dict[str, str]] = field(default_factory=list)  # sidecars cut short or broken
    uncatalogued: list[str] = field(default_factory=list)  # records the catalog does not know

    @property
    def ok(self) -> bool:
        return not (
            self.changed or self.missing or self.unexpected or self.damaged or self.uncatalogued
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "changed": self.changed,
            "missing": self.missing,
            "unexpected": self.unexpected,
            "damaged": self.damaged,
            "uncatalogued": self.uncatalogued,
        }


def verify_records(
    archive: Archive,
    catalog: Catalog,
    *,
    record_event: bool = False,
    clock_iso: Callable[[], str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FixityReport:
    """Hash every record in ``records/`` against its sidecar; list what the catalog lists that
    is gone, what it does not list, damaged sidecars and files nobody filed.

    The records folder is walked itself: an empty or stale catalog can never make an
    archive look whole."""
    report = FixityReport()
    rows = {row["path"]: row["record_id"] for row in catalog.records()}
    destroyed = {row["path"] for row in catalog.records() if row["status"] == "destroyed"}
    sidecars = list(iter_sidecars(archive.records))
    seen: set[str] = set(destroyed)  # destroyed with approval: only its metadata is kept
    for index, side_path in enumerate(sidecars, 1):
        if progress is not None:
            progress(index, len(sidecars))
        path = side_path.with_name(side_path.name[: -len(SIDECAR_SUFFIX)])
        rel = path.relative_to(archive.records).as_posix()
        seen.add(rel)
        ref = f"records/{rel}"
        side: dict[str, Any] | None = None
        try:
            side = read_sidecar(side_path)
            expected: str | None = str(side["sha256"])
        except (OSError, ValueError) as exc:
            report.damaged.append({"record": ref, "reason": f"说明文件不完整或已损坏 ({exc})"})
            expected = rows.get(rel)
        if rel in destroyed or (side is not None and side.get("status") == "destroyed"):
            continue
        if not path.exists() and not path.is_symlink():
            report.missing.append({"record": ref, "sha256": expected or ""})
            continue
        try:
            actual = sha256_file(path)
        except (OSError, ArchiveError) as exc:
            actual = f"无法读取: {exc}"
        report.checked += 1
        if expected is not None and actual != expected:
            report.changed.append({"record": ref, "sha256": expected, "actual": actual})
        elif rel not in rows:
            report.uncatalogued.append(ref)
        elif record_event and clock_iso is not None and side is not None:
            side = append_event(
                path,
                {"at": clock_iso(), "event": "verified", "detail": "sha256 一致"},
                staging=archive.journal,
            )
            catalog.upsert(rel, side, commit=False)
    catalog.commit()
    for rel, sha in sorted(rows.items()):
        if rel not in seen:
            report.missing.append({"record": f"records/{rel}", "sha256": sha})
    report.unexpected = [
        f"records/{p.relative_to(archive.records).as_posix()}" for p in orphans(archive.records)
    ]
    return report
