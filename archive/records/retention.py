"""鉴定与销毁: records past their 保管期限, and destroying them with a reason and an approver.

:func:`appraise` lists the filed records whose 定期 保管期限 has run out (年度 + 30 or 10
years, counted to the end of that year; 永久 never does). :func:`destroy_record` removes a
record's bytes (the original and its derivatives) and keeps its metadata: the sidecar moves
to ``records/已销毁/`` marked ``destroyed`` with who destroyed it, who approved it, why and
when, and keeps its 档号 (so the 件号 stay continuous and are never given again). The
销毁清册 is made from those sidecars (:mod:`archive.paperwork.destruction_register`).

Crash safety: the sidecar is moved first (the crash-safe move; from then on the record is
destroyed in the archive's eyes), the bytes are removed after; a crash in between leaves
bytes that :func:`finish_destructions` removes at the next destruction. Call within
``archive.writer_lock()``.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.core.clock import Clock, local_now
from archive.core.config import Archive
from archive.core.errors import UsageError
from archive.records.catalog import Catalog
from archive.records.corrections import Corrected, carry_out, start_correction
from archive.records.moves import plan_move_to, record_rel
from archive.records.numbering import archival_of, retention_expiry
from archive.records.store import read_sidecar, sidecar_of

DESTROYED = "已销毁"


@dataclass
class Due:
    """A record whose 保管期限 has run out."""

    record: str
    archival_code: str
    retention: str
    year: int
    expired_end_of: int  # the last year it had to be kept
    title: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def appraise(archive: Archive, catalog: Catalog, as_of: dt.date) -> list[Due]:
    """Filed records whose 保管期限 ended before ``as_of`` (see module doc)."""
    due = []
    for row in catalog.records("status = 'filed' AND archival_code IS NOT NULL"):
        side = read_sidecar(sidecar_of(archive.records / row["path"]))
        number = archival_of(side)
        if number is None:
            continue
        last = retention_expiry(number)
        if last is not None and last < as_of.year:
            due.append(
                Due(
                    f"records/{row['path']}",
                    number.code,
                    number.retention,
                    number.year,
                    last,
                    str(row["title"]),
                )
            )
    return sorted(due, key=lambda d: d.archival_code)


def finish_destructions(archive: Archive) -> int:
    """Remove the bytes a crash left behind a destroyed record's sidecar."""
    folder = archive.records / DESTROYED
    count = 0
    if not folder.is_dir():
        return 0
    for side_path in folder.glob("*.json"):
        if side_path.name.startswith("."):
            continue
        record = side_path.with_name(side_path.name[: -len(".json")])
        side = read_sidecar(side_path)
        if side.get("status") != "destroyed":
            continue
        for path in [record, *_derived(record, side)]:
            if path.exists():
                path.unlink()
                count += 1
    return count


def _derived(record: Path, side: dict[str, Any]) -> list[Path]:
    names = (side.get("derivatives") or {}).values()
    return [record.with_name(n) for n in names if isinstance(n, str) and "/" not in n]


def destroy_record(
    archive: Archive,
    catalog: Catalog,
    ref: str,
    *,
    actor: str,
    reason: str,
    approver: str,
    as_of: dt.date,
    clock: Clock = local_now,
) -> Corrected:
    """Destroy one record past its 保管期限 (see module doc)."""
    if not approver.strip():
        raise UsageError("销毁须写明批准人 (--approver)")
    finish_destructions(archive)
    record, side = start_correction(archive, catalog, ref, actor, reason)
    number = archival_of(side)
    last = retention_expiry(number) if number is not None else None
    if number is None or last is None or last >= as_of.year:
        keep = "永久保存" if number is not None and last is None else f"须保存至 {last} 年底"
        raise UsageError(
            f"{ref}: 未到保管期限 ({number.retention if number else '未编档号'}, {keep}), 不能销毁; "
            "dangan appraise 列出可以销毁的文件"
        )
    at = clock().isoformat()
    label = record.stem.split("_", 1)[-1]
    plan = plan_move_to(record, side, "destroyed", DESTROYED, archive.records / DESTROYED, label)
    new_side = copy.deepcopy(side)
    new_side["status"] = "destroyed"
    new_side["destroyed"] = {
        "at": at,
        "by": actor,
        "approver": approver,
        "reason": reason,
        "from": f"records/{record_rel(archive, record)}",
        "dossier": side.get("dossier"),
        "retention": number.retention,
        "kept_until": last,
    }
    done = carry_out(
        archive,
        catalog,
        record,
        side,
        plan,
        new_side,
        op="destroyed",
        detail=f"销毁 (批准人 {approver}); 元数据与档号 {number.code} 保留",
        actor=actor,
        reason=reason,
        at=at,
        policy=None,
    )
    finish_destructions(archive)
    return done


def destroyed_sidecars(archive: Archive) -> list[dict[str, Any]]:
    """Every destroyed record's metadata, oldest destruction first (the 销毁清册's rows)."""
    folder = archive.records / DESTROYED
    sides = []
    if folder.is_dir():
        for side_path in sorted(folder.glob("*.json")):
            if not side_path.name.startswith("."):
                side = read_sidecar(side_path)
                if side.get("status") == "destroyed":
                    sides.append(side)
    return sorted(
        sides, key=lambda s: (s["destroyed"]["at"], s.get("archival", {}).get("code", ""))
    )


def destroy_records(
    archive: Archive,
    catalog: Catalog,
    refs: list[str],
    *,
    actor: str,
    reason: str,
    approver: str,
    as_of: dt.date,
    clock: Clock = local_now,
) -> list[Corrected]:
    """Destroy several records, all or none: every one is checked to be past its 保管期限
    before the first is touched."""
    from archive.records.corrections import locate

    due = {d.record for d in appraise(archive, catalog, as_of)}
    for ref in refs:
        record, _ = locate(archive, catalog, ref)
        if f"records/{record_rel(archive, record)}" not in due:
            raise UsageError(
                f"{ref}: 未到保管期限或已不在档, 不能销毁; 未销毁任何文件 "
                "(dangan appraise 列出可以销毁的文件)"
            )
    return [
        destroy_record(
            archive,
            catalog,
            ref,
            actor=actor,
            reason=reason,
            approver=approver,
            as_of=as_of,
            clock=clock,
        )
        for ref in refs
    ]
