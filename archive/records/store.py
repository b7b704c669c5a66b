"""The records folder: dossier layout, atomic publishing, sidecars and the intent journal.

A record is its original file, byte for byte, plus ``<file>.json`` beside it (the sidecar:
metadata, text, events). A record exists exactly when its sidecar exists; the sidecar is
renamed into place last. Every publish is announced in ``.dangan/journal`` first so that a
crash at any instant can be finished or undone by :func:`recover`: :func:`stage` announces
it, :func:`commit` makes one or a batch of staged publishes records (a batch with one
entry and three syncfs barriers on Linux instead of five fsyncs per file).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.core.dockeys import DocKeys
from archive.core.names import safe_component
from archive.core.paths import PathRefused, inside, open_regular
from archive.records.copies_ahead import Identity, Prepared, copy_hashed

SIDECAR_SUFFIX = ".json"
SIDECAR_SCHEMA = 1
TRAY = "待归档"
TOP_FOLDERS = {
    "household": "许可证档案",
    "case": "处罚案卷",
    "meeting": "会议记录",
    "materials": "工作材料",
}
_CHUNK = 1024 * 1024
_SEQ = re.compile(r"^(\d{3,})_")


class ChecksumMismatch(Exception):
    """The copy did not hash to what the source hashed to (the source changed)."""


def sha256_file(path: Path) -> str:
    """The file's SHA-256; :class:`~archive.core.paths.NotRegularFile` for a pipe or device
    (never opened in a way that could block) or a link (never followed)."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


TMP_PREFIX = ".tmp-"


def write_bytes_atomic(path: Path, data: bytes, *, staging: Path | None = None) -> None:
    """Write ``data`` to ``path`` via a fsynced temporary file and a rename.

    The temporary file is written in ``staging`` when given (the archive's journal folder,
    on the same disk, which recovery sweeps clean after a crash), else beside ``path``; it
    is removed when the write fails (a full disk, for one).
    """
    folder = path.parent
    if staging is not None and staging.is_dir() and staging.stat().st_dev == folder.stat().st_dev:
        folder = staging
    tmp = folder / f"{TMP_PREFIX}{uuid.uuid4().hex}-{path.name}"
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def write_json_atomic(path: Path, data: dict[str, Any], *, staging: Path | None = None) -> None:
    raw = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
    write_bytes_atomic(path, raw, staging=staging)


class SidecarDamaged(ValueError):
    """A sidecar that is not a whole JSON object with the record's SHA-256 (cut short, for one)."""


def read_sidecar(path: Path) -> dict[str, Any]:
    """A record's sidecar; :class:`SidecarDamaged` when it is cut short or not a sidecar."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SidecarDamaged(f"{path.name}: 不是 UTF-8 文本") from exc
    except json.JSONDecodeError as exc:
        raise SidecarDamaged(f"{path.name}: 内容不完整或不是 JSON (第{exc.lineno}行)") from exc
    if not isinstance(data, dict) or not isinstance(data.get("sha256"), str):
        raise SidecarDamaged(f"{path.name}: 缺少 sha256")
    return data


def sidecar_of(record: Path) -> Path:
    return record.with_name(record.name + SIDECAR_SUFFIX)


def iter_sidecars(records: Path) -> Iterator[Path]:
    """Every sidecar under ``records`` (hidden folders and temporaries skipped), sorted."""
    for folder, dirs, files in os.walk(records):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(SIDECAR_SUFFIX) and not name.startswith("."):
                yield Path(folder) / name


# ---------------------------------------------------------------- layout


def dossier_folder(
    records: Path, keys: DocKeys, households: HouseholdFolders | None = None
) -> tuple[str, str, Path]:
    """(dossier kind, dossier key, folder) for a document; unresolved ones go to the tray.
    ``households``: the household folders listed once for a batch (see
    :class:`HouseholdFolders`) instead of a look into the folder for each document."""
    if not keys.resolved:
        return "tray", TRAY, records / TRAY
    if keys.dossier_kind == "household":
        assert keys.licence_no is not None
        if households is not None:
            folder = households.folder(keys.licence_no, keys.retailer)
        else:
            folder = household_folder(records, keys.licence_no, keys.retailer)
        return "household", keys.licence_no, folder
    if keys.dossier_kind == "case":
        assert keys.case_no is not None
        return "case", keys.case_no, records / TOP_FOLDERS["case"] / safe_component(keys.case_no)
    if keys.dossier_kind == "other":
        key = f"{TOP_FOLDERS['materials']}/{keys.year}"
        return "materials", key, records / TOP_FOLDERS["materials"] / str(keys.year)
    assert keys.meeting_type is not None and keys.year is not None
    key = meeting_key(keys.meeting_type, keys.year)
    folder = records / TOP_FOLDERS["meeting"] / safe_component(keys.meeting_type) / str(keys.year)
    return "meeting", key, folder


def meeting_key(meeting_type: str, year: int | str) -> str:
    """The key of a meeting's dossier of one year: ``<会议名称>/<年>``."""
    return f"{meeting_type}/{year}"


def also_in(kind: str, key: str, keys: dict[str, Any]) -> list[tuple[str, str]]:
    """The dossiers a record of dossier (``kind``, ``key``) with sidecar ``keys`` belongs to
    besides its own, as (kind, key).

    A record is filed once (its bytes live in one folder; the same bytes are never filed
    twice). Minutes of a case meeting (案审会, 重大案件集体讨论 …) belong to their meeting's
    dossier and to every case they name (``keys.cases``): filed in the meeting's folder, they
    are listed in those cases' dossiers too; dropped into a case's folder, they are listed in
    the other cases' dossiers and in their meeting's. The dossiers list them in their 卷内目录
    and their checklists count them, by this cross-reference.
    """
    cases = keys.get("cases") or ()
    refs = [("case", str(case)) for case in cases]
    if cases and keys.get("meeting_type") and keys.get("year"):
        refs.append(("meeting", meeting_key(str(keys["meeting_type"]), keys["year"])))
    return [ref for ref in dict.fromkeys(refs) if ref != (kind, key)]


# (top folder, licence) → the household's folder as last found (checked before it is used)
_HOUSEHOLD_FOLDERS: dict[tuple[Path, str], Path] = {}


def household_folder(records: Path, licence: str, name: str | None) -> Path:
    """The household's folder: the existing one for this licence, else ``<licence>_<name>``."""
    top = records / TOP_FOLDERS["household"]
    known = _HOUSEHOLD_FOLDERS.get((top, licence))
    if known is not None and known.is_dir():  # still there under that name
        return known
    if top.is_dir():
        with os.scandir(top) as entries:  # names first: a county has thousands of households
            for entry in entries:
                if entry.name[:12] == licence and entry.is_dir():
                    _HOUSEHOLD_FOLDERS[(top, licence)] = top / entry.name
                    return top / entry.name
    return top / (f"{licence}_{safe_component(name)}" if name else licence)


class HouseholdFolders:
    """The household folders of ``records``, listed once: for a run of filing under the
    writer lock, when nothing but the run itself adds a household folder. A county has
    thousands of households; looking through them for every document filed made a batch
    of new households quadratic. A folder the run chooses is remembered for the next
    document of the same licence."""

    def __init__(self, records: Path) -> None:
        self.top = records / TOP_FOLDERS["household"]
        self._names: dict[str, str] = {}
        if self.top.is_dir():
            with os.scandir(self.top) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    if entry.is_dir():
                        self._names.setdefault(entry.name[:12], entry.name)

    def folder(self, licence: str, name: str | None) -> Path:
        """The household's folder: the existing one for this licence, else
        ``<licence>_<name>`` (remembered for the run)."""
        known = self._names.get(licence)
        if known is None:
            known = f"{licence}_{safe_component(name)}" if name else licence
            self._names[licence] = known
        return self.top / known


def next_record_name(folder: Path, label: str, extension: str, taken: Iterable[str] = ()) -> str:
    """``NNN_<label><ext>``: the next sequence number in the folder (its 卷内 order), after
    the folder's names and ``taken`` (names staged for it but not renamed into place yet)."""
    highest = 0
    names = [entry.name for entry in folder.iterdir()] if folder.is_dir() else []
    for name in [*names, *taken]:
        match = _SEQ.match(name)
        if match:
            highest = max(highest, int(match.group(1)))
    return f"{highest + 1:03d}_{safe_component(label)}{extension}"


# ---------------------------------------------------------------- publishing


@dataclass
class Derivative:
    """A file derived from the original and kept beside it (e.g. the searchable PDF)."""

    suffix: str  # appended to the record's stem, e.g. ".ocr.pdf"
    data: bytes


def _copy_verified(
    source: Path, target: Path, expected: str, *, sync: bool = True
) -> Identity | None:
    """Copy ``source`` to ``target``, hashing what is copied: the copy is refused
    (:class:`ChecksumMismatch`) unless it is the content hashed when the file was read.
    Returns the source's identity when its times can vouch that a later change would show
    (:func:`~archive.records.copies_ahead.unchanged_since`), else ``None``.

    What was written is not read back: it would come from the page cache, the very memory
    it was just copied from, and prove nothing; ``dangan verify`` re-reads the records."""
    sha, identity = copy_hashed(source, target, sync=sync)
    if sha != expected:
        target.unlink()
        raise ChecksumMismatch(f"{source}: 复制时内容发生变化")
    return identity


def _take_prepared(prepared: Prepared, target: Path, *, sync: bool) -> bool:
    """Rename a copy made ahead to ``target``; False when it cannot be (another disk)."""
    try:
        os.replace(prepared.path, target)
    except OSError:
        return False
    if sync:
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return True


def derivative_path(record: Path, suffix: str) -> Path:
    return record.with_name(record.stem + suffix)


@dataclass
class Staged:
    """A publish announced in the journal, its copies not yet made records."""

    journal: Path
    sha: str
    source: Path
    record: Path
    entry: dict[str, Any]
    sidecar: bytes
    derivatives: list[Derivative]
    moves: list[tuple[Path, Path]]  # (temporary, final): derivatives, original, sidecar last
    journal_file: Path | None = None  # its own entry, or its batch's; None until announced
    # the source as copied, when its status can tell whether it changed since (else None)
    source_identity: Identity | None = None
    prepared: Prepared | None = None  # the copy made ahead, when a reading worker made it


def _syncfs() -> Any:
    """Linux's syncfs(2): one barrier for every file and folder written on a file system."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.syncfs
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int]
    return func


_SYNCFS = _syncfs()


def barrier(folder: Path) -> bool:
    """Make everything written on ``folder``'s file system durable; False where the system
    has no syncfs (the caller then fsyncs file by file)."""
    if _SYNCFS is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            import ctypes

            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(folder))
    finally:
        os.close(fd)
    return True


def stage(
    journal: Path,
    source: Path,
    record: Path,
    sidecar: dict[str, Any],
    derivatives: list[Derivative],
    *,
    sync: bool = True,
    prepared: Prepared | None = None,
) -> Staged:
    """Announce a publish in the journal, fsynced (unless ``sync`` is False: :func:`commit`
    then announces the whole batch in one entry, durable before any copy exists).
    ``prepared``: a copy of ``source`` made ahead, whose hash is the sidecar's."""
    sha = str(sidecar["sha256"])
    tmp_tag = f".tmp-{uuid.uuid4().hex}"
    entry = {
        "sha256": sha,
        "source_hex": os.fsencode(source).hex(),
        "record": str(record),
        "derivatives": [str(derivative_path(record, d.suffix)) for d in derivatives],
        "tmp": tmp_tag,
    }
    side = json.dumps(sidecar, ensure_ascii=False, indent=1).encode("utf-8")
    item = Staged(journal, sha, source, record, entry, side, list(derivatives), [])
    item.prepared = prepared
    if sync:
        _announce(item)
    return item


def _announce(item: Staged) -> None:
    """The staged publish's own journal entry, fsynced."""
    item.journal_file = item.journal / f"{item.sha}.json"
    write_json_atomic(item.journal_file, item.entry, staging=item.journal)


def _announce_batch(batch: list[Staged]) -> None:
    """One journal entry for the whole batch (made durable by the caller's barrier)."""
    waiting = [item for item in batch if item.journal_file is None]
    if not waiting:
        return
    path = waiting[0].journal / f"batch-{uuid.uuid4().hex}.json"
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}")
    tmp.write_text(
        json.dumps({"batch": [item.entry for item in waiting]}, ensure_ascii=False),
        encoding="utf-8",
    )
    os.replace(tmp, path)
    for item in waiting:
        item.journal_file = path


def _write_copies(item: Staged, *, sync: bool) -> None:
    """The record's copies under temporary names beside it (fsynced each when ``sync``)."""
    item.record.parent.mkdir(parents=True, exist_ok=True)
    tag = item.entry["tmp"]
    for index, derived in enumerate(item.derivatives):
        dtmp = item.record.with_name(f"{tag}-{index}{derived.suffix}")
        _write(dtmp, derived.data, sync=sync)
        item.moves.append((dtmp, derivative_path(item.record, derived.suffix)))
    tmp = item.record.with_name(f"{tag}{item.record.suffix}")
    if item.prepared is not None and _take_prepared(item.prepared, tmp, sync=sync):
        item.source_identity = item.prepared.identity  # its hash is the staged one
    else:
        item.source_identity = _copy_verified(item.source, tmp, item.sha, sync=sync)
    item.moves.append((tmp, item.record))
    side_tmp = item.record.with_name(f"{tag}{SIDECAR_SUFFIX}")
    _write(side_tmp, item.sidecar, sync=sync)
    item.moves.append((side_tmp, sidecar_of(item.record)))


def _device(path: Path) -> int:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path.stat().st_dev


def _one_device(root: Path, batch: list[Staged]) -> bool:
    """Every journal entry and record folder on ``root``'s file system (one barrier serves)."""
    dev = _device(root)
    return all(
        _device(item.journal) == dev and _device(item.record.parent) == dev for item in batch
    )


def _write(path: Path, data: bytes, *, sync: bool) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        if sync:
            os.fsync(fh.fileno())


def commit(batch: list[Staged], root: Path) -> list[BaseException | None]:
    """Make staged publishes records. One file: fsync each copy, rename (the sidecar last:
    that makes it a record), fsync the folder. A batch, where the system has syncfs (Linux):
    one barrier (the journal entries), the copies, a barrier, the renames, a barrier:
    three flushes of ``root``'s file system for the whole batch instead of five per file.

    Returns, per staged publish, ``None`` or the error that undid it (the caller then keeps
    the source). The caller removes the sources and then drops the journal entries (:func:`journal_file_done`).
    """
    grouped = len(batch) > 1 and _SYNCFS is not None and _one_device(root, batch)
    if grouped:
        _announce_batch(batch)
        barrier(root)
    else:
        for item in batch:
            if item.journal_file is None:
                _announce(item)  # every entry its own, fsynced
    errors: list[BaseException | None] = [None] * len(batch)

    def undo(i: int, exc: BaseException) -> None:
        errors[i] = exc
        _undo(batch[i].entry)
        if batch[i].journal_file == batch[i].journal / f"{batch[i].sha}.json":
            journal_done(batch[i].journal, batch[i].sha)  # a batch's entry goes with the batch

    for i, item in enumerate(batch):
        try:
            _write_copies(item, sync=not grouped)
        except BaseException as exc:
            undo(i, exc)
            if not isinstance(exc, Exception):
                raise
    if grouped:
        barrier(root)
    folders: dict[Path, None] = {}
    for i, item in enumerate(batch):
        if errors[i] is not None:
            continue
        try:
            for tmp, final in item.moves:
                os.replace(tmp, final)
            folders[item.record.parent] = None
        except BaseException as exc:
            undo(i, exc)
            if not isinstance(exc, Exception):
                raise
    if not grouped or not barrier(root):
        for folder in folders:
            fsync_dir(folder)
    return errors


def journal_done(journal: Path, sha: str) -> None:
    journal_file_done(journal / f"{sha}.json")


def journal_file_done(path: Path) -> None:
    """Drop a journal entry (one publish's, or a batch's) once all it announced is done."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _undo(entry: dict[str, Any]) -> None:
    record = Path(entry["record"])
    if sidecar_of(record).exists():
        return
    for path in [record, *(Path(p) for p in entry["derivatives"])]:
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass
    if record.parent.is_dir():
        for leftover in record.parent.glob(f"{entry['tmp']}*"):
            leftover.unlink()


@dataclass
class Recovered:
    """What recovery found for one interrupted publish."""

    sha256: str
    source: Path
    record: Path
    completed: bool  # True: the record is whole (the source may still need removing)
    entry_file: Path  # the journal entry to drop once this is handled (shared by a batch)


def pending_entries(journal: Path) -> list[Path]:
    """The journal's entries: publishes a crash may have interrupted (temporaries excluded)."""
    if not journal.is_dir():
        return []
    return sorted(p for p in journal.glob("*.json") if not p.name.startswith("."))


def recover(journal: Path, records: Path | None = None) -> list[Recovered]:
    """Finish or undo every publish a crash interrupted. Idempotent. Call under the writer
    lock only (it removes the temporaries of writes staged in the journal folder).

    With ``records``, an entry naming a record outside that folder is not acted on (the
    path policy: nothing outside the archive is removed on the word of a file)."""
    found: list[Recovered] = []
    drop_torn_temporaries(journal)
    for path in pending_entries(journal):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = data.get("batch", [data]) if isinstance(data, dict) else []
        except (OSError, ValueError):
            path.unlink()  # a journal entry torn mid-write: nothing was staged yet
            continue
        acted = False
        for entry in entries:
            try:
                record = Path(entry["record"])
                if records is not None:  # not dangan's: nothing is removed on its word
                    inside(records, record)
                    for derived in entry["derivatives"]:
                        inside(records, derived)
                source = Path(os.fsdecode(bytes.fromhex(entry["source_hex"])))
                sha = str(entry["sha256"])
                tag = str(entry["tmp"])
            except (KeyError, TypeError, ValueError, PathRefused):
                continue
            complete = sidecar_of(record).exists()
            if complete:
                if record.parent.is_dir():
                    for leftover in record.parent.glob(f"{tag}*"):
                        leftover.unlink()
            else:
                _undo(entry)
            found.append(Recovered(sha, source, record, complete, path))
            acted = True
        if not acted:
            path.unlink()  # nothing in it dangan may act on
    return found


def drop_torn_temporaries(folder: Path) -> None:
    """Remove the temporaries of atomic writes a crash left in a journal folder (an entry or
    a sidecar being written when the process died: never renamed, so nothing refers to
    them). Call under the writer lock only."""
    if folder.is_dir():
        for leftover in folder.glob(f"{TMP_PREFIX}*"):
            leftover.unlink(missing_ok=True)


def append_event(
    record: Path, event: dict[str, Any], *, staging: Path | None = None
) -> dict[str, Any]:
    """Add an event to a record's sidecar (atomically) and return the new sidecar.

    ``staging``: the archive's journal folder, where the new sidecar is written before it
    replaces the old one (so a crash leaves no temporary among the records)."""
    side = sidecar_of(record)
    data = read_sidecar(side)
    data.setdefault("events", []).append(event)
    write_json_atomic(side, data, staging=staging)
    return data
