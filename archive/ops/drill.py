"""The drill: the monthly proof that the second copy can really be used.

The newest snapshot is restored whole into a temporary folder; there every record is
hashed against its sidecar (``verify``), the catalog and the search index are rebuilt from
the records (``reindex``), and the records are compared, path and SHA-256, with the live
archive's files (hashed afresh, so a record damaged in the live archive shows too). The report is kept in the archive (``报告/备份演练/``, so it is itself backed up)
for an inspector or an IT auditor, and the temporary folder is removed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archive.core.clock import Clock, local_now
from archive.core.config import Archive
from archive.ops.backup import backup_lock
from archive.ops.backup_config import BackupSettings, save_state
from archive.ops.restore import restore_archive
from archive.records.catalog import Catalog
from archive.records.fixity import verify_records
from archive.records.store import (
    SIDECAR_SUFFIX,
    iter_sidecars,
    read_sidecar,
    sha256_file,
    write_bytes_atomic,
)

REPORT_DIR = ("报告", "备份演练")


@dataclass
class DrillReport:
    at: str
    target: str
    snapshot: str
    snapshot_time: str
    seconds: float
    restored_records: int  # records in the restored archive (rebuilt catalog)
    indexed: int  # records in the rebuilt search index
    verified: int  # restored records whose bytes match their sidecar
    live_records: int
    same: int  # records identical (path and SHA-256) in the backup and the live archive
    changed: list[str] = field(default_factory=list)  # same path, the live file hashes otherwise
    only_backup: list[str] = field(default_factory=list)  # gone from the live archive since
    only_live: list[str] = field(default_factory=list)  # filed since the snapshot
    problems: list[str] = field(default_factory=list)  # verify and reindex findings
    report_path: str | None = None

    @property
    def ok(self) -> bool:
        """The backup restores whole and clean, and agrees with the live archive on every
        record both hold (later filings and deletions are listed, not failures)."""
        return (
            not self.problems
            and not self.changed
            and self.verified == self.restored_records
            and self.indexed == self.restored_records
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def lines(self) -> list[str]:
        """The report in words, as the CLI prints it and the kept .txt holds it."""
        out = [
            f"备份恢复演练  {self.at[:19].replace('T', ' ')}",
            f"备份库: {self.target}",
            f"快照: {self.snapshot} ({self.snapshot_time[:19].replace('T', ' ')})",
            f"用时: {self.seconds:.1f} 秒",
            f"恢复出的档案: {self.restored_records:,} 份; 逐份校验一致 {self.verified:,} 份; "
            f"重建检索索引 {self.indexed:,} 份",
            f"现有档案库: {self.live_records:,} 份; 与备份完全一致 {self.same:,} 份",
        ]
        for title, items in (
            ("内容不一致 (现有文件的 SHA-256 与备份不同, 可按档案号从备份恢复)", self.changed),
            ("备份中有、现有档案库中已没有", self.only_backup),
            ("快照之后新归档 (下次备份时补上)", self.only_live),
            ("校验或重建发现的问题", self.problems),
        ):
            if items:
                out.append(f"{title}: {len(items)}")
                out += [f"  {item}" for item in items[:20]]
                if len(items) > 20:
                    out.append(f"  … 另有 {len(items) - 20} 项")
        out.append("结论: " + ("通过, 备份可用" if self.ok else "未通过, 请处理上述问题"))
        return out


def _records(archive: Archive, *, hash_files: bool) -> dict[str, str]:
    """records/… path → SHA-256 of every record (its sidecar names it): the file's own hash
    when ``hash_files``, else what the sidecar says."""
    out = {}
    for side in iter_sidecars(archive.records):
        record = side.with_name(side.name[: -len(SIDECAR_SUFFIX)])
        rel = record.relative_to(archive.root).as_posix()
        try:
            data = read_sidecar(side)
            if data.get("status") == "destroyed":
                continue  # destroyed with approval: only its metadata is kept
            out[rel] = sha256_file(record) if hash_files else str(data["sha256"])
        except (OSError, ValueError, KeyError):
            out[rel] = "?"
    return out


def run_drill(
    archive: Archive,
    settings: BackupSettings,
    password: str,
    *,
    snapshot: str | None = None,
    work: Path | None = None,
    clock: Clock = local_now,
) -> DrillReport:
    """Restore, verify, reindex, compare; keep the report in the archive and remember it."""
    started = clock()
    base = work or archive.state
    base.mkdir(parents=True, exist_ok=True)
    folder = base / f"drill-{uuid.uuid4().hex[:8]}"
    with backup_lock(archive):
        try:
            restored = restore_archive(
                settings,
                password,
                folder / "档案库",
                snapshot=snapshot,
                archive=archive,
                verify=False,  # verify_records below hashes every record once
            )
            copy = Archive(folder / "档案库")
            with Catalog(copy.catalog_path) as catalog:
                fixity = verify_records(copy, catalog)
            backup_records = _records(copy, hash_files=False)  # verified equal just above
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    live = _records(archive, hash_files=True)
    problems = list(restored.problems)
    problems += [f"{m['record']}: {m['problem']}" for m in restored.mismatched]
    problems += [f"{m['record']}: 校验不一致" for m in fixity.changed]
    problems += [f"{m['record']}: 原件缺失" for m in fixity.missing]
    problems += [f"{p}: 未登记的文件" for p in fixity.unexpected]
    report = DrillReport(
        at=started.isoformat(),
        target=restored.target,
        snapshot=restored.snapshot,
        snapshot_time=restored.snapshot_time,
        seconds=round((clock() - started).total_seconds(), 1),
        restored_records=restored.records,
        indexed=restored.indexed,
        verified=fixity.checked - len(fixity.changed),
        live_records=len(live),
        same=sum(1 for p, sha in backup_records.items() if live.get(p) == sha),
        changed=sorted(p for p, sha in backup_records.items() if p in live and live[p] != sha),
        only_backup=sorted(set(backup_records) - set(live)),
        only_live=sorted(set(live) - set(backup_records)),
        problems=problems,
    )
    report.report_path = _keep(archive, report, started)
    save_state(
        archive,
        last_drill={
            "at": report.at,
            "ok": report.ok,
            "snapshot": report.snapshot,
            "records": report.restored_records,
            "report": report.report_path,
        },
    )
    return report


def _keep(archive: Archive, report: DrillReport, at: dt.datetime) -> str:
    folder = archive.root.joinpath(*REPORT_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    stem = at.strftime("%Y-%m-%d_%H%M%S")
    write_bytes_atomic(
        folder / f"{stem}.json",
        json.dumps(report.as_dict(), ensure_ascii=False, indent=1).encode("utf-8"),
    )
    text = folder / f"{stem}.txt"
    write_bytes_atomic(text, ("\n".join(report.lines()) + "\n").encode("utf-8"))
    return text.relative_to(archive.root).as_posix()
