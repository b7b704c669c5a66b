"""Getting the second copy back: a whole archive into an empty folder, or one dossier (or one
record) into the live archive.

Nothing is ever half-restored over live data:

- a whole archive is restored into a hidden folder beside the destination and renamed into
  place only when restic has finished; the destination must be empty or new;
- a dossier is restored into ``.dangan/`` first, compared file by file with the live archive,
  and only then moved in (the same file system: each file appears whole, by rename; sidecars
  last, as filing does). A live file that is newer than the backup's is replaced only when
  the caller says so; a live record whose bytes no longer match its own sidecar is damaged
  and is repaired without asking.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archive.core.config import CONFIG_NAME, Archive
from archive.core.errors import BackupError, NotFoundError
from archive.core.keys import normalize_case_number
from archive.ops.backup import (
    TAG,
    backup_lock,
    compare_with_sidecars,
    open_repository,
    our_snapshots,
    pick_snapshot,
    record_entries,
)
from archive.ops.backup_config import BackupSettings, archive_id, host_tag
from archive.ops.restic import Entry, Restic, Snapshot
from archive.records.catalog import Catalog
from archive.records.reindex import open_catalog, reindex_catalog
from archive.records.search_sync import rebuild_index, sync_index
from archive.records.store import (
    SIDECAR_SUFFIX,
    TOP_FOLDERS,
    TRAY,
    fsync_dir,
    read_sidecar,
    sha256_file,
)

_SPACE_MARGIN = 1.05


# ---------------------------------------------------------------- a whole archive


@dataclass
class RestoreResult:
    target: str
    snapshot: str
    snapshot_time: str
    to: str
    records: int
    mismatched: list[dict[str, str]] = field(default_factory=list)
    indexed: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def choose_snapshot(engine: Restic, ident: str | None, wanted: str | None) -> Snapshot:
    """The snapshot to restore: of this archive when its id is known, else of the only
    dangan archive in the repository; ``wanted`` picks one by (a prefix of) its id."""
    if ident is not None:
        return pick_snapshot(our_snapshots(engine, host_tag(ident)), wanted, engine.repo)
    snaps = [s for s in engine.snapshots() if TAG in s.tags]
    hosts = {s.host for s in snaps}
    if wanted is None and len(hosts) > 1:
        raise BackupError(
            f"备份库 {engine.repo} 中有 {len(hosts)} 个档案库的快照; 请指定要恢复的快照编号"
        )
    return pick_snapshot(snaps, wanted, engine.repo)


def _empty_destination(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise BackupError(f"恢复目标 {dest} 是一个文件, 不是文件夹")
    if dest.is_dir() and any(dest.iterdir()):
        names = sorted(p.name for p in dest.iterdir())[:5]
        raise BackupError(
            f"恢复目标 {dest} 不是空文件夹 (里面有: {', '.join(names)} …): "
            "为免与现有文件混在一起或覆盖它们, 整库恢复只能恢复到空文件夹或新文件夹; "
            "只想找回某一户/某一案, 请按档案号恢复到现有档案库"
        )


def _check_space(engine: Restic, snap: Snapshot, folder: Path) -> None:
    need = engine.restore_size(snap.id)
    free = shutil.disk_usage(folder).free
    if need * _SPACE_MARGIN > free:
        raise BackupError(
            f"{folder} 所在磁盘空间不足: 恢复需要约 {need / 1e6:,.0f} MB, 只剩 {free / 1e6:,.0f} MB; "
            "请换一个空间足够的位置"
        )


def restore_archive(
    settings: BackupSettings,
    password: str,
    dest: Path,
    *,
    snapshot: str | None = None,
    archive: Archive | None = None,
    verify: bool = True,
) -> RestoreResult:
    """Restore a snapshot as a whole archive at ``dest`` (empty or new), check every record
    against its sidecar (unless ``verify`` is off: the caller checks), and rebuild the
    catalog and the search index there. ``archive`` (the live one, when there is one) tells
    which archive's snapshots to take."""
    dest = dest.absolute()
    _empty_destination(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    engine, _ = open_repository(archive, settings, password)
    snap = choose_snapshot(engine, archive_id(archive) if archive else None, snapshot)
    _check_space(engine, snap, dest.parent)
    staging = dest.parent / f".{dest.name}.恢复中-{uuid.uuid4().hex[:8]}"
    try:
        engine.restore(snap.id, staging)
        if not (staging / CONFIG_NAME).is_file():
            raise BackupError(
                f"快照 {snap.short_id} 中没有 {CONFIG_NAME}, 不是 dangan 档案库的备份"
            )
        if dest.is_dir():
            for child in staging.iterdir():
                os.replace(child, dest / child.name)
            staging.rmdir()
        else:
            os.replace(staging, dest)
        fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    restored = Archive(dest)
    result = RestoreResult(
        target=engine.repo,
        snapshot=snap.short_id,
        snapshot_time=snap.time,
        to=str(dest),
        records=0,
    )
    if verify:
        paths = [f"/{p.relative_to(dest).as_posix()}" for p in _record_files(restored)]
        result.mismatched = compare_with_sidecars(dest, paths)
    with Catalog(restored.catalog_path) as catalog:
        report = reindex_catalog(restored, catalog)
        result.records, result.problems = report.records, report.problems
        result.indexed = rebuild_index(restored, catalog)
    return result


def _record_files(archive: Archive) -> list[Path]:
    from archive.records.store import iter_sidecars

    return [s.with_name(s.name[: -len(SIDECAR_SUFFIX)]) for s in iter_sidecars(archive.records)]


# ---------------------------------------------------------------- one dossier


def dossier_prefix(entries: list[Entry], key: str) -> str:
    """The snapshot path (``/records/…``) of a dossier or record named by ``key``: a licence
    number, a case number, a retailer's name, ``会议类型/年``, 待归档, or a path inside the
    archive (``records/…``)."""
    key = key.strip().strip("/")
    dirs = {e.path for e in entries if e.type == "dir"}
    files = {e.path for e in entries if e.type == "file"}
    if key.startswith("records/"):
        if "/" + key in dirs | files:
            return "/" + key
        raise NotFoundError(f"快照中没有 {key}")
    households = sorted(
        d
        for d in dirs
        if d.startswith(f"/records/{TOP_FOLDERS['household']}/") and d.count("/") == 3
    )
    for folder in households:
        name = folder.rsplit("/", 1)[1]
        if name[:12] == key or name[13:] == key:
            return folder
    case = normalize_case_number(key)
    if case:
        for folder in sorted(d for d in dirs if d.startswith(f"/records/{TOP_FOLDERS['case']}/")):
            if normalize_case_number(folder.rsplit("/", 1)[1]) == case:
                return folder
    for candidate in (f"/records/{TOP_FOLDERS['meeting']}/{key}", f"/records/{key}"):
        if candidate in dirs:
            return candidate
    raise NotFoundError(
        f"快照中找不到档案 {key!r}: 请用许可证号、案号、零售户名称、“会议类型/年份”、{TRAY}, "
        "或档案库内的路径 (records/…)"
    )


@dataclass
class FilePlan:
    path: str  # relative to the archive's folder, as it will be in the live archive
    action: str  # add | same | repair | replace | newer
    source: Path  # the restored copy under .dangan/

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "action": self.action}


ACTION_LABELS = {
    "add": "补回 (现有档案库中没有)",
    "same": "相同, 不动",
    "repair": "修复 (现有文件已损坏: 与其说明文件的 SHA-256 不符)",
    "replace": "替换 (现有文件比备份旧)",
    "newer": "现有文件比备份新",
    "elsewhere": "不恢复 (该档案现在在别处: 已移动、撤出或销毁)",
}


@dataclass
class DossierRestore:
    """What restoring a dossier would do; :meth:`apply` does it."""

    archive: Archive
    snapshot: Snapshot
    prefix: str
    files: list[FilePlan]
    applied: list[str] = field(default_factory=list)
    kept_newer: list[str] = field(default_factory=list)

    @property
    def newer(self) -> list[FilePlan]:
        return [f for f in self.files if f.action == "newer"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            out[f.action] = out.get(f.action, 0) + 1
        return out

    def apply(self, *, overwrite_newer: bool = False, lock_wait: float = 600.0) -> list[str]:
        """Move the restored files into the live archive, then update its catalog and index.
        Files newer in the live archive stay unless ``overwrite_newer``."""
        todo = [
            f for f in self.files if f.action in ("add", "repair", "replace")
            or (f.action == "newer" and overwrite_newer)
        ]  # fmt: skip
        self.kept_newer = [f.path for f in self.newer if not overwrite_newer]
        # originals and derivatives first, sidecars last: a sidecar makes a file a record
        todo.sort(key=lambda f: (f.path.endswith(SIDECAR_SUFFIX), f.path))
        root = self.archive.root
        with self.archive.writer_lock(lock_wait):
            touched: set[Path] = set()
            for item in todo:
                live = root / item.path
                live.parent.mkdir(parents=True, exist_ok=True)
                os.replace(item.source, live)
                touched.add(live.parent)
                self.applied.append(item.path)
            for folder in touched:
                fsync_dir(folder)
            sidecars = {
                f.path for f in self.files if f.path.endswith(SIDECAR_SUFFIX) and f.action != "same"
            } & set(self.applied)
            with open_catalog(self.archive) as catalog:
                changed = []
                for rel in sorted(sidecars):
                    side = read_sidecar(root / rel)
                    record_rel = rel[: -len(SIDECAR_SUFFIX)].removeprefix("records/")
                    catalog.upsert(record_rel, side, commit=False)
                    changed.append(str(side["sha256"]))
                catalog.commit()
                sync_index(self.archive, catalog, changed=changed)
        return self.applied


def _live_prefix(archive: Archive, prefix: str) -> str:
    """Where a snapshot's dossier lives now: a household folder renamed since (the retailer's
    name changed in the roster) is found by its licence number."""
    rel = prefix.lstrip("/")
    parts = rel.split("/")
    top = TOP_FOLDERS["household"]
    if len(parts) >= 3 and parts[0] == "records" and parts[1] == top:
        folder = archive.records / top
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.is_dir() and entry.name[:12] == parts[2][:12] and entry.name != parts[2]:
                    return "/".join(["records", top, entry.name, *parts[3:]])
    return rel


def _plan_file(archive: Archive, rel: str, source: Path, restored: set[Path]) -> FilePlan:
    live = archive.root / rel
    if not live.exists():
        return FilePlan(rel, "add", source)
    if live.stat().st_size == source.stat().st_size and sha256_file(live) == sha256_file(source):
        return FilePlan(rel, "same", source)
    side = live.with_name(live.name + SIDECAR_SUFFIX)
    backup_side = source.with_name(source.name + SIDECAR_SUFFIX)
    if backup_side in restored and side.is_file():
        try:
            expected = str(read_sidecar(side)["sha256"])
        except (OSError, ValueError, KeyError):
            expected = ""
        if expected and sha256_file(live) != expected:
            return FilePlan(rel, "repair", source)
    if live.stat().st_mtime > source.stat().st_mtime:
        return FilePlan(rel, "newer", source)
    return FilePlan(rel, "replace", source)


def _moved_since(
    archive: Archive, work: Path, restored: set[Path], live_prefix: str, prefix: str
) -> set[Path]:
    """Restored files of records that now live at another path (moved to another dossier,
    withdrawn, or destroyed with approval): bringing them back would file them twice or undo
    a destruction. Returns those records, their sidecars and derivatives."""
    skip: set[Path] = set()
    with Catalog(archive.catalog_path) as catalog:
        for side in sorted(p for p in restored if p.name.endswith(SIDECAR_SUFFIX)):
            record = side.with_name(side.name[: -len(SIDECAR_SUFFIX)])
            try:
                sha = str(read_sidecar(side)["sha256"])
            except (OSError, ValueError, KeyError):
                continue
            row = catalog.by_sha(sha)
            rel = record.relative_to(work).as_posix()
            live = (live_prefix + rel[len(prefix.lstrip("/")) :]).removeprefix("records/")
            if row is None or row["path"] == live:
                continue
            skip |= {side, record}
            skip |= {p for p in restored if p.parent == record.parent and p.name.startswith(
                (record.stem + ".ocr.", record.stem + ".stamped.")
            )}  # fmt: skip
    return skip


@contextlib.contextmanager
def dossier_restore(
    archive: Archive,
    settings: BackupSettings,
    password: str,
    key: str,
    *,
    snapshot: str | None = None,
) -> Iterator[DossierRestore]:
    """Restore a dossier (or one record with its sidecar) from a snapshot into ``.dangan/``
    and plan its return; nothing live changes until :meth:`DossierRestore.apply`."""
    with backup_lock(archive):
        engine, _ = open_repository(archive, settings, password)
        ident = archive_id(archive)
        if ident is None:
            raise BackupError(f"{archive.root}: 本档案库还没有备份过 (没有 .dangan-id)")
        snap = pick_snapshot(our_snapshots(engine, host_tag(ident)), snapshot, engine.repo)
        entries = engine.ls(snap.id)
        prefix = dossier_prefix(entries, key)
        wanted = [prefix]
        if prefix in record_entries(entries):
            wanted.append(prefix + SIDECAR_SUFFIX)  # a record comes with its sidecar
        work = archive.state / f"restore-{uuid.uuid4().hex[:8]}"
        try:
            engine.restore(snap.id, work, wanted)
            live_prefix = _live_prefix(archive, prefix)
            restored = {p for p in work.rglob("*") if p.is_file()}
            plans = []
            elsewhere = _moved_since(archive, work, restored, live_prefix, prefix)
            for source in sorted(restored):
                rel = source.relative_to(work).as_posix()
                rel = live_prefix + rel[len(prefix.lstrip("/")) :]
                if source in elsewhere:
                    plans.append(FilePlan(rel, "elsewhere", source))
                else:
                    plans.append(_plan_file(archive, rel, source, restored))
            yield DossierRestore(archive, snap, prefix, plans)
        finally:
            shutil.rmtree(work, ignore_errors=True)
