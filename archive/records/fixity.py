"""Fixity: re-hash every record and report what changed or went missing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archive.core.config import Archive
from archive.records.catalog import Catalog
from archive.records.reindex import orphans
from archive.records.store import append_event, sha256_file


@dataclass
class FixityReport:
    checked: int = 0
    changed: list[dict[str, str]] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.unexpected)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "changed": self.changed,
            "missing": self.missing,
            "unexpected": self.unexpected,
        }


def verify_records(
    archive: Archive,
    catalog: Catalog,
    *,
    record_event: bool = False,
    clock_iso: Callable[[], str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FixityReport:
    """Hash every catalogued record against its recorded SHA-256; list files nobody filed."""
    report = FixityReport()
    rows = catalog.records()
    for index, row in enumerate(rows, 1):
        if row["status"] == "destroyed":  # destroyed with approval: only its metadata is kept
            continue
        path = archive.records / row["path"]
        item = {"record": f"records/{row['path']}", "sha256": row["record_id"]}
        if not path.exists():
            report.missing.append(item)
        else:
            actual = sha256_file(path)
            report.checked += 1
            if actual != row["record_id"]:
                report.changed.append({**item, "actual": actual})
            elif record_event and clock_iso is not None:
                side = append_event(
                    path, {"at": clock_iso(), "event": "verified", "detail": "sha256 一致"}
                )
                catalog.upsert(row["path"], side, commit=False)
        if progress is not None:
            progress(index, len(rows))
    catalog.commit()
    report.unexpected = [
        f"records/{p.relative_to(archive.records).as_posix()}" for p in orphans(archive.records)
    ]
    return report
