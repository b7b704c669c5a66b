"""The stamped archival copies kept beside the records: ``<stem>.stamped.pdf``.

:func:`stamp_records` gives every numbered record (or those named) a copy whose first page
carries its 归档章 (:mod:`archive.paperwork.stamp`), and refreshes a copy whose stamp no
longer matches the record's 档号 or page count (after a correction). The copy is a
derivative like the searchable PDF: written atomically first, then named in the sidecar
(``derivatives.archival_pdf``, with ``stamp``: the 档号 it shows and where it sits) together
with a ``stamped`` event; a crash between the two leaves a copy the sidecar does not name,
which the next run writes again. The original file is only read. Call within
``archive.writer_lock()``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from archive.core.clock import Clock, local_now
from archive.core.config import Archive
from archive.paperwork.stamp import StampError, StampFields, StampPainter, stamp_first_page
from archive.records.catalog import Catalog
from archive.records.store import (
    derivative_path,
    read_sidecar,
    sidecar_of,
    write_bytes_atomic,
    write_json_atomic,
)

STAMPED_SUFFIX = ".stamped.pdf"
_IMAGES = ("image/jpeg", "image/png", "image/tiff", "image/bmp")


@dataclass
class StampReport:
    stamped: list[dict[str, Any]] = field(default_factory=list)
    current: int = 0  # already carried an up-to-date stamp
    failed: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"stamped": self.stamped, "current": self.current, "failed": self.failed}


def stamped_copy(record: Path, side: dict[str, Any]) -> Path | None:
    """The record's stamped copy when it exists and shows the record's current 档号."""
    name = (side.get("derivatives") or {}).get("archival_pdf")
    stamp = side.get("stamp") or {}
    fields = StampFields.from_sidecar(side)
    if not isinstance(name, str) or "/" in name or "\\" in name or fields is None:
        return None
    path = record.with_name(name)
    if not path.is_file() or stamp.get("cells") != fields.cells():
        return None
    return path


def archival_source(record: Path, side: dict[str, Any]) -> bytes:
    """The PDF the archival copy is made from: the searchable PDF, the record itself when it
    is a PDF, or its image as one page."""
    name = (side.get("derivatives") or {}).get("searchable_pdf")
    if isinstance(name, str) and "/" not in name and record.with_name(name).is_file():
        return record.with_name(name).read_bytes()
    mime = side.get("mime")
    if mime == "application/pdf":
        return record.read_bytes()
    if mime in _IMAGES:
        from indexers.searchable_pdf import build_pdf, page_from_image

        data = record.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            dpi = im.info.get("dpi")
            page = page_from_image(
                im,
                float(dpi[0]) if dpi else None,
                [],
                original_jpeg=data if mime == "image/jpeg" and im.mode in ("RGB", "L") else None,
            )
        return build_pdf([page])
    raise StampError(f"{mime} 文件没有可盖章的版式副本")


def _todo(
    archive: Archive, catalog: Catalog, records: Iterable[str] | None, force: bool
) -> tuple[list[tuple[Path, dict[str, Any]]], int]:
    rows = (
        catalog.records("status = 'filed' AND archival_code IS NOT NULL")
        if records is None
        else [r for p in records for r in catalog.records("path = ?", (p,))]
    )
    todo, current = [], 0
    for row in rows:
        record = archive.records / row["path"]
        side = read_sidecar(sidecar_of(record))
        if StampFields.from_sidecar(side) is None or (side.get("status") or "filed") != "filed":
            continue
        if not force and stamped_copy(record, side) is not None:
            current += 1
            continue
        todo.append((record, side))
    return todo, current


def stamp_records(
    archive: Archive,
    catalog: Catalog,
    records: Iterable[str] | None = None,
    *,
    force: bool = False,
    clock: Clock = local_now,
    progress: Callable[[int, int], None] | None = None,
) -> StampReport:
    """Stamp the archival copy of every numbered record (or of ``records``, paths under
    records/) lacking an up-to-date one; ``force`` stamps them all again."""
    todo, current = _todo(archive, catalog, records, force)
    report = StampReport(current=current)
    if not todo:
        return report
    fields = [StampFields.from_sidecar(side) for _, side in todo]
    painter = StampPainter([f for f in fields if f is not None])
    for n, ((record, side), f) in enumerate(zip(todo, fields, strict=True), 1):
        assert f is not None
        rel = record.relative_to(archive.records).as_posix()
        try:
            data, placement = stamp_first_page(archival_source(record, side), painter.page(f))
        except (StampError, OSError, ValueError) as exc:
            report.failed.append({"record": f"records/{rel}", "reason": str(exc)})
            continue
        copy = derivative_path(record, STAMPED_SUFFIX)
        write_bytes_atomic(copy, data)
        at = clock().isoformat()
        code = side["archival"]["code"]
        new_side = {
            **side,
            "derivatives": {**(side.get("derivatives") or {}), "archival_pdf": copy.name},
            "stamp": {
                "code": code,
                "cells": f.cells(),
                "how": placement.how,
                "x": round(placement.x, 1),
                "y": round(placement.y, 1),
                "at": at,
            },
            "events": [
                *side.get("events", []),
                {
                    "at": at,
                    "event": "stamped",
                    "detail": f"归档章 (档号 {code}) 盖于归档副本 {copy.name}: {placement.describe()}",
                },
            ],
        }
        write_json_atomic(sidecar_of(record), new_side)
        catalog.upsert(rel, new_side, commit=False)
        report.stamped.append(
            {
                "record": f"records/{rel}",
                "copy": f"records/{copy.relative_to(archive.records).as_posix()}",
                "archival_code": code,
                "placement": placement.how,
                "note": placement.describe(),
            }
        )
        if progress is not None:
            progress(n, len(todo))
    catalog.commit()
    return report


def stamp_into(
    archive: Archive,
    catalog: Catalog,
    records: Iterable[str],
    folder: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[Path, Path], list[dict[str, str]]]:
    """Stamped copies, in ``folder``, of the numbered ``records`` that lack an up-to-date one
    in the archive — for a packet, which only reads the records: record → copy, failures."""
    todo, _ = _todo(archive, catalog, records, False)
    made: dict[Path, Path] = {}
    failed: list[dict[str, str]] = []
    if not todo:
        return made, failed
    folder.mkdir(parents=True, exist_ok=True)
    fields = [StampFields.from_sidecar(side) for _, side in todo]
    painter = StampPainter([f for f in fields if f is not None])
    for n, ((record, side), f) in enumerate(zip(todo, fields, strict=True), 1):
        assert f is not None
        try:
            data, _ = stamp_first_page(archival_source(record, side), painter.page(f))
        except (StampError, OSError, ValueError) as exc:
            rel = record.relative_to(archive.records).as_posix()
            failed.append({"record": f"records/{rel}", "reason": str(exc)})
            continue
        out = folder / f"{n:06d}.pdf"
        out.write_bytes(data)
        made[record] = out
        if progress is not None:
            progress(n, len(todo))
    return made, failed
