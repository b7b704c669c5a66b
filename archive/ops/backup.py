"""A second copy: a consistent restic snapshot of the archive, taken while it is in use.

What is backed up: everything in the archive's folder except ``.dangan/`` (the catalog, the
search index and other caches ``dangan reindex`` rebuilds). So records, sidecars,
quarantine, the inbox, the bureau's files, users and the access log are in, also files the
web app adds at the top level later, without code changes here.

Consistency without stopping anything: restic reads a hard-link mirror of the archive made
under the writer lock in about a second (:mod:`archive.ops.mirror`).

Only one backup, check, restore or drill runs at a time (``.dangan/backup.lock``); restic
inherits that lock, so a dangan killed mid-backup does not let a second run start while its
restic still writes.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archive.core.clock import Clock, local_now
from archive.core.config import Archive, try_lock
from archive.core.errors import BackupError, LockedError
from archive.ops.backup_config import (
    BackupSettings,
    archive_id,
    host_tag,
    password_warnings,
    save_state,
)
from archive.ops.mirror import STAGE, sync_mirror
from archive.ops.restic import (
    Entry,
    Restic,
    Snapshot,
    TargetGone,
    explain,
    is_remote,
    looks_like_repository,
)
from archive.records.store import SIDECAR_SUFFIX, read_sidecar, sha256_file

TAG = "dangan"
LOCK_NAME = "backup.lock"
_PACK_ROOM = 32 * 1024 * 1024  # restic writes pack files of 16 MiB
_RESTIC_DIRS = {"data", "index", "snapshots", "locks"}  # never "keys", never "config"


class ForeignTarget(BackupError):
    """The target holds something that is not this archive's repository."""


@dataclass
class BackupResult:
    target: str
    snapshot: str
    at: str
    initialized: bool  # the repository was created by this run
    files: int
    files_new: int
    files_changed: int
    files_unmodified: int
    data_added: int
    total_bytes: int
    seconds: float
    locked_seconds: float  # how long filing had to wait: the writer lock was held this long
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- one at a time


@contextlib.contextmanager
def backup_lock(archive: Archive) -> Iterator[int]:
    """Hold ``.dangan/backup.lock`` (without waiting); yields its fd for restic to inherit."""
    archive.state.mkdir(parents=True, exist_ok=True)
    path = archive.state / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not try_lock(fd):
            who = path.read_text(encoding="utf-8", errors="replace").strip()
            raise LockedError(
                f"{archive.root}: 另一个备份、检查、恢复或演练正在进行 ({who or '未知进程'}); "
                "请等待其结束后重试"
            )
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        yield fd
    finally:
        os.close(fd)


# ---------------------------------------------------------------- the repository


def _same_disk(archive: Archive, target: Path) -> bool:
    probe = target
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe.stat().st_dev == archive.root.stat().st_dev


def _check_local_target(
    archive: Archive, settings: BackupSettings, target: Path, *, writing: bool
) -> None:
    if target.resolve().is_relative_to(archive.root):
        raise BackupError(
            f"备份目标 {target} 在档案库里面; 请选档案库以外的文件夹 (最好在另一块磁盘上)"
        )
    if archive.root.is_relative_to(target.resolve()):
        raise BackupError(f"备份目标 {target} 包含了档案库本身; 请选档案库以外的文件夹")
    if writing and not settings.same_disk and _same_disk(archive, target):
        raise BackupError(
            f"备份目标 {target} 与档案库在同一块磁盘上: 磁盘损坏或电脑被盗时两份会一起丢失。"
            "请选另一块硬盘、U 盘或网络共享上的文件夹 (若 U 盘未插好, 该路径会落在本机磁盘上); "
            "确需放在本机, 在 dangan.toml 的 [backup] 中写 same_disk = true"
        )


def open_repository(
    archive: Archive | None,
    settings: BackupSettings,
    password: str,
    *,
    create: bool = False,
) -> tuple[Restic, bool]:
    """The engine on the target's repository; with ``create``, a new one where there is none.
    Returns (engine, created). A target holding anything else is refused, never written."""
    target = settings.target
    if not target:
        raise BackupError(
            "没有指定备份目标: 请给出目标文件夹, 或在 dangan.toml 的 [backup] 中写 target"
        )
    cache = archive.state / "backup-cache" if archive is not None else None
    if is_remote(target):
        engine = Restic(target, password, cache_dir=cache, options=settings.options)
        if engine.exists():
            return engine, False
        if not create:
            raise BackupError(f"{target} 没有备份库; 请检查地址")
        engine.init()
        return engine, True
    folder = Path(target)
    if archive is not None:
        _check_local_target(archive, settings, folder, writing=create)
    engine = Restic(str(folder), password, cache_dir=cache, options=settings.options)
    if looks_like_repository(folder):
        if not engine.exists():
            raise ForeignTarget(f"{folder} 看起来是备份库但无法打开; 请检查该文件夹是否完整")
        return engine, False
    if folder.is_dir() and any(folder.iterdir()):
        names = sorted(p.name for p in folder.iterdir())[:5]
        raise ForeignTarget(
            f"备份目标 {folder} 不是空文件夹, 也不是 dangan (restic) 的备份库 "
            f"(里面有: {', '.join(names)} …); 为免覆盖别人的文件, 请选一个空文件夹或新文件夹"
        )
    if not create:
        raise BackupError(f"{folder} 没有备份库; 请检查路径 (U 盘/移动硬盘是否已插好)")
    if not folder.parent.is_dir():
        raise BackupError(
            f"备份目标的上级文件夹 {folder.parent} 不存在; 请检查 U 盘/移动硬盘/网络共享是否已连接"
        )
    folder.mkdir(exist_ok=True)
    engine.init()
    return engine, True


def _still_there(engine: Restic) -> None:
    """A local repository that vanished while restic wrote (a drive unplugged, its folder
    moved) makes restic recreate the folders it writes into and report success. Then the
    snapshot went nowhere: say so, and remove the empty shell restic left."""
    if is_remote(engine.repo):
        return
    folder = Path(engine.repo)
    if looks_like_repository(folder):
        return
    if folder.is_dir() and {p.name for p in folder.iterdir()} <= _RESTIC_DIRS:
        shutil.rmtree(folder)
    raise TargetGone(
        f"备份失败: 备份目标 {folder} 在备份过程中不可用了 (备份库已不在原处)。"
        "请检查 U 盘/移动硬盘是否拔出、网络共享是否断开, 重新连接后重试; "
        "已有的备份不受影响, 下次备份会补上这次没有写完的部分"
    )


def _why_failed(engine: Restic, exc: BackupError) -> BackupError:
    """restic 0.14 sometimes crashes (a Go panic) instead of saying the disk is full: a
    local target with less room left than one pack file is full, whatever restic said."""
    if type(exc) is not BackupError or is_remote(engine.repo):
        return exc
    try:
        free = shutil.disk_usage(engine.repo).free
    except OSError:
        return exc
    if free < _PACK_ROOM:
        return explain("no space left on device", engine.repo, "备份")
    return exc


def our_snapshots(engine: Restic, host: str) -> list[Snapshot]:
    """This archive's snapshots, oldest first; refuses a repository that holds only others'."""
    snaps = engine.snapshots()
    ours = [s for s in snaps if s.host == host and TAG in s.tags]
    if snaps and not ours:
        hosts = sorted({s.host for s in snaps})
        raise ForeignTarget(
            f"备份库 {engine.repo} 属于另一个档案库或另一个程序 (快照来自 {', '.join(hosts[:3])}), "
            f"不是本档案库 ({host}) 的; 请换一个目标, 不要把两个档案库备份到同一个备份库"
        )
    return ours


def pick_snapshot(snaps: list[Snapshot], wanted: str | None, repo: str) -> Snapshot:
    """The snapshot asked for by (a prefix of) its id, else the newest."""
    if not snaps:
        raise BackupError(f"备份库 {repo} 中还没有本档案库的快照; 请先做一次备份")
    if wanted is None:
        return snaps[-1]
    found = [s for s in snaps if s.id.startswith(wanted.lower())]
    if len(found) != 1:
        raise BackupError(
            f"备份库 {repo} 中{'没有' if not found else '有多个'}编号以 {wanted} 开头的快照; "
            "请用快照列表中的编号"
        )
    return found[0]


# ---------------------------------------------------------------- backup


def run_backup(
    archive: Archive,
    settings: BackupSettings,
    password: str,
    *,
    clock: Clock = local_now,
    lock_wait: float = 600.0,
    progress: Callable[[int, int], None] | None = None,
) -> BackupResult:
    """Take a snapshot of the archive into the target's repository (created when the target is
    an empty or new folder). Records the outcome for ``dangan status``."""
    warnings = password_warnings(archive, settings)
    started = clock()
    try:
        with backup_lock(archive) as lock_fd:
            engine, created = open_repository(archive, settings, password, create=True)
            host = host_tag(archive_id(archive, create=True) or "")
            our_snapshots(engine, host)
            stage = archive.state / STAGE
            t0 = time.monotonic()
            with archive.writer_lock(lock_wait):
                sync_mirror(archive, stage)
            locked = time.monotonic() - t0
            try:
                summary = engine.backup(
                    stage, host=host, tags=[TAG], keep_fds=[lock_fd], progress=progress
                )
            except BackupError as exc:
                raise _why_failed(engine, exc) from exc
            _still_there(engine)
    except BackupError as exc:
        save_state(
            archive,
            last_failure={
                "at": started.isoformat(),
                "target": settings.target,
                "error": exc.message,
            },
        )
        raise
    result = BackupResult(
        target=engine.repo,
        snapshot=summary.snapshot_id,
        at=started.isoformat(),
        initialized=created,
        files=summary.total_files,
        files_new=summary.files_new,
        files_changed=summary.files_changed,
        files_unmodified=summary.files_unmodified,
        data_added=summary.data_added,
        total_bytes=summary.total_bytes,
        seconds=round(summary.seconds, 2),
        locked_seconds=round(locked, 2),
        warnings=warnings,
    )
    save_state(
        archive,
        last_backup={
            "at": result.at,
            "target": result.target,
            "snapshot": result.snapshot,
            "files": result.files,
            "data_added": result.data_added,
        },
    )
    return result


# ---------------------------------------------------------------- check


@dataclass
class CheckResult:
    target: str
    snapshot: str
    at: str
    engine_ok: bool
    engine_report: str
    read_data: str | None
    sampled: list[str] = field(default_factory=list)
    mismatched: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.engine_ok and not self.mismatched

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def record_entries(entries: list[Entry]) -> list[str]:
    """Snapshot paths (``/records/…``) of the records in a listing: files with a sidecar."""
    files = {e.path for e in entries if e.type == "file"}
    return sorted(
        p
        for p in files
        if p.startswith("/records/")
        and not p.endswith(SIDECAR_SUFFIX)
        and p + SIDECAR_SUFFIX in files
        and not Path(p).name.startswith(".")
    )


def compare_with_sidecars(root: Path, paths: list[str]) -> list[dict[str, str]]:
    """Restored records (``/records/…`` under ``root``) whose bytes differ from their sidecar."""
    bad = []
    for snap_path in paths:
        record = root / snap_path.lstrip("/")
        side = record.with_name(record.name + SIDECAR_SUFFIX)
        try:
            data = read_sidecar(side)
            expected = str(data["sha256"])
        except (OSError, ValueError, KeyError) as exc:
            bad.append({"record": snap_path, "problem": f"说明文件无法读取 ({exc})"})
            continue
        if data.get("status") == "destroyed":
            continue  # destroyed with approval: only its metadata is kept
        if not record.is_file():
            bad.append({"record": snap_path, "problem": "未能恢复"})
        elif sha256_file(record) != expected:
            bad.append({"record": snap_path, "problem": "内容与说明文件中的 SHA-256 不符"})
    return bad


def _problems(report: str) -> str:
    """The lines of restic's check report that name a problem (its progress lines dropped)."""
    lines = [ln.strip() for ln in report.splitlines() if ln.strip()]
    bad = [ln for ln in lines if "error" in ln.lower() or "fatal" in ln.lower()]
    return " / ".join((bad or lines)[-8:])


def check_backup(
    archive: Archive,
    settings: BackupSettings,
    password: str,
    *,
    sample: int = 20,
    read_data: str | None = "5%",
    seed: int | None = None,
    clock: Clock = local_now,
) -> CheckResult:
    """restic's own check (structure, and ``read_data`` of the pack files re-read), then a
    random sample of records of the newest snapshot restored and compared with their sidecars'
    SHA-256."""
    at = clock().isoformat()
    with backup_lock(archive):
        engine, _ = open_repository(archive, settings, password)
        ident = archive_id(archive)
        snaps = our_snapshots(engine, host_tag(ident)) if ident else []
        snap = pick_snapshot(snaps, None, engine.repo)
        engine_ok, report = engine.check(read_data)
        records = record_entries(engine.ls(snap.id))
        chosen = random.Random(seed).sample(records, min(sample, len(records)))
        work = archive.state / f"check-{uuid.uuid4().hex[:8]}"
        try:
            if chosen:
                includes = [p for r in chosen for p in (r, r + SIDECAR_SUFFIX)]
                engine.restore(snap.id, work, includes)
            bad = compare_with_sidecars(work, chosen)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    result = CheckResult(
        target=engine.repo,
        snapshot=snap.short_id,
        at=at,
        engine_ok=engine_ok,
        engine_report=_problems(report) if not engine_ok else "",
        read_data=read_data,
        sampled=chosen,
        mismatched=bad,
    )
    save_state(
        archive,
        last_check={"at": at, "ok": result.ok, "snapshot": snap.short_id, "sampled": len(chosen)},
    )
    return result
