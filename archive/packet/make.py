"""Make the acceptance packet (验收材料) end to end: score the year, stamp copies of the
evidence, plan the packet and build the bag. ``dangan bundle`` and the web app's 材料 page
both call :func:`make_packet`."""

from __future__ import annotations

import datetime as dt
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.assess.audit_inputs import AuditInputs
from archive.assess.score import score_with
from archive.core.config import Archive
from archive.packet.bundle import build_bundle
from archive.packet.bundle_plan import describe, plan_from_score
from archive.paperwork.stamp_copies import stamp_into
from archive.records.reindex import open_catalog

#: (stage name, done, total): the stamping, then the packet's documents.
StageProgress = Callable[[str, int, int], None]


@dataclass
class PacketMade:
    bag: Path
    data: dict[str, Any]  # what ``dangan bundle --json`` prints


def bag_info(bag: Path) -> dict[str, str]:
    """bag-info.txt of the bag just built (a folder or a zip holding one)."""
    if bag.is_dir():
        text = (bag / "bag-info.txt").read_text(encoding="utf-8")
    else:
        with zipfile.ZipFile(bag) as zf:
            name = next(n for n in zf.namelist() if n.endswith("/bag-info.txt"))
            text = zf.read(name).decode("utf-8")
    info: dict[str, str] = {}
    for line in text.splitlines():
        if ":" in line and not line[:1].isspace():
            key, value = line.split(":", 1)
            info[key.strip()] = value.strip()
    return info


def _size(bag: Path) -> int:
    if bag.is_file():
        return bag.stat().st_size
    return sum(p.stat().st_size for p in bag.rglob("*") if p.is_file())


def make_packet(
    archive: Archive,
    inputs: AuditInputs,
    year: int,
    day: dt.date,
    out: Path,
    *,
    zip_output: bool = False,
    pin_date: dt.date | None = None,
    force: bool = False,
    progress: StageProgress | None = None,
) -> PacketMade:
    """Build the packet of *year* (as of *day*) at *out* (``out.zip`` with *zip_output*).
    The records are only read: stamped copies are made in a scratch folder."""

    def stage(name: str) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, total: progress(name, done, total)

    with tempfile.TemporaryDirectory(prefix="dangan-bundle-") as work:
        with open_catalog(archive) as catalog:
            report = score_with(archive, catalog, inputs, year, day)
            evidence = sorted(
                {r.removeprefix("records/") for c in report.criteria for r in c.evidence}
            )
            stamped, not_stamped = stamp_into(
                archive, catalog, evidence, Path(work) / "stamped", progress=stage("归档章")
            )
            plan = plan_from_score(
                archive,
                catalog,
                report,
                bureau=archive.config.bureau,
                year=year,
                date=pin_date or dt.date.today(),
                workdir=Path(work),
                note=inputs.sample_note,
                stamped=stamped,
            )
        bag = build_bundle(
            plan,
            out,
            zip_output=zip_output,
            pin_date=pin_date,
            progress=stage("生成验收材料"),
            force=force,
        )
    info = bag_info(bag)
    counts = describe(plan)
    data: dict[str, Any] = {
        "bag": str(bag),
        "zip": zip_output,
        "pages": int(info.get("Packet-Pages", "0")),
        "documents": counts["documents"],
        "criteria": counts["criteria"],
        "without_documents": counts["without_documents"],
        "size": _size(bag),
        "year": year,
        "as_of": day.isoformat(),
        "total_earned": report.total_earned,
        "total_possible": report.total_possible,
        "stamped": len(stamped),
        "not_stamped": not_stamped,
    }
    return PacketMade(bag, data)
