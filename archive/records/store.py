"""The records folder: dossier layout, atomic publishing, sidecars and the intent journal.

A record is its original file, byte for byte, plus ``<file>.json`` beside it (the sidecar:
metadata, text, events). A record exists exactly when its sidecar exists; the sidecar is
renamed into place last. Every publish is announced in ``.dangan/journal`` first so that a
crash at any instant can be finished or undone by :func:`recover`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.core.dockeys import DocKeys
from archive.core.names import safe_component
from archive.core.paths import PathRefused, inside, open_regular

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


def dossier_folder(records: Path, keys: DocKeys) -> tuple[str, str, Path]:
    """(dossier kind, dossier key, folder) for a document; unresolved ones go to the tray."""
    if not keys.resolved:
        return "tray", TRAY, records / TRAY
    if keys.dossier_kind == "household":
        assert keys.licence_no is not None
        return (
            "household",
            keys.licence_no,
            household_folder(records, keys.licence_no, keys.retailer),
        )
    if keys.dossier_kind == "case":
        assert keys.case_no is not None
        return "case", keys.case_no, records / TOP_FOLDERS["case"] / safe_component(keys.case_no)
    if keys.dossier_kind == "other":
        key = f"{TOP_FOLDERS['materials']}/{keys.year}"
        return "materials", key, records / TOP_FOLDERS["materials"] / str(keys.year)
    assert keys.meeting_type is not None and keys.year is not None
    key = f"{keys.meeting_type}/{keys.year}"
    folder = records / TOP_FOLDERS["meeting"] / safe_component(keys.meeting_type) / str(keys.year)
    return "meeting", key, folder


def household_folder(records: Path, licence: str, name: str | None) -> Path:
    """The household's folder: the existing one for this licence, else ``<licence>_<name>``."""
    top = records / TOP_FOLDERS["household"]
    if top.is_dir():
        for entry in top.iterdir():
            if entry.is_dir() and entry.name[:12] == licence:
                return entry
    return top / (f"{licence}_{safe_component(name)}" if name else licence)


def next_record_name(folder: Path, label: str, extension: str) -> str:
    """``NNN_<label><ext>``: the next sequence number in the folder (its 卷内 order)."""
    highest = 0
    if folder.is_dir():
        for entry in folder.iterdir():
            match = _SEQ.match(entry.name)
            if match:
                highest = max(highest, int(match.group(1)))
    return f"{highest + 1:03d}_{safe_component(label)}{extension}"


# ---------------------------------------------------------------- publishing


@dataclass
class Derivative:
    """A file derived from the original and kept beside it (e.g. the searchable PDF)."""

    suffix: str  # appended to the record's stem, e.g. ".ocr.pdf"
    data: bytes


def _copy_verified(source: Path, target: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with open_regular(source) as src, target.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    if digest.hexdigest() != expected:
        target.unlink()
        raise ChecksumMismatch(f"{source}: 复制时内容发生变化")
    if sha256_file(target) != expected:  # read back what the disk holds
        target.unlink()
        raise ChecksumMismatch(f"{target}: 写入后校验失败")


def derivative_path(record: Path, suffix: str) -> Path:
    return record.with_name(record.stem + suffix)


def publish(
    journal: Path,
    source: Path,
    record: Path,
    sidecar: dict[str, Any],
    derivatives: list[Derivative],
) -> None:
    """Copy ``source`` to ``record`` with its sidecar and derivatives, all or nothing.

    The caller removes the source afterwards and then calls :func:`journal_done`.
    """
    sha = str(sidecar["sha256"])
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp_tag = f".tmp-{uuid.uuid4().hex}"
    staged: list[tuple[Path, Path]] = []
    entry = {
        "sha256": sha,
        "source_hex": os.fsencode(source).hex(),
        "record": str(record),
        "derivatives": [str(derivative_path(record, d.suffix)) for d in derivatives],
        "tmp": tmp_tag,
    }
    write_json_atomic(journal / f"{sha}.json", entry, staging=journal)
    try:
        tmp = record.with_name(f"{tmp_tag}{record.suffix}")
        _copy_verified(source, tmp, sha)
        staged.append((tmp, record))
        for index, derived in enumerate(derivatives):
            dtmp = record.with_name(f"{tmp_tag}-{index}{derived.suffix}")
            dtmp.write_bytes(derived.data)
            staged.append((dtmp, derivative_path(record, derived.suffix)))
        side_tmp = record.with_name(f"{tmp_tag}{SIDECAR_SUFFIX}")
        side_tmp.write_text(json.dumps(sidecar, ensure_ascii=False, indent=1), encoding="utf-8")
        for path, _ in [*staged[1:], (side_tmp, side_tmp)]:
            with path.open("rb+") as fh:
                os.fsync(fh.fileno())
        # Derivatives, then the original, then the sidecar: the sidecar makes it a record.
        for tmp_path, final in [*staged[1:], staged[0]]:
            os.replace(tmp_path, final)
        os.replace(side_tmp, sidecar_of(record))
        fsync_dir(record.parent)
    except BaseException:
        _undo(entry)
        journal_done(journal, sha)
        raise


def journal_done(journal: Path, sha: str) -> None:
    try:
        (journal / f"{sha}.json").unlink()
    except FileNotFoundError:
        pass


def _undo(entry: dict[str, Any]) -> None:
    record = Path(entry["record"])
    if sidecar_of(record).exists():
        return
    for path in [record, *(Path(p) for p in entry["derivatives"])]:
        try:
            path.unlink()
        except FileNotFoundError:
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
            entry = json.loads(path.read_text(encoding="utf-8"))
            record = Path(entry["record"])
            if records is not None:
                inside(records, record)
                for derived in entry["derivatives"]:
                    inside(records, derived)
        except (OSError, ValueError, KeyError, TypeError, PathRefused):
            path.unlink()  # torn mid-write (nothing was staged yet), or not dangan's
            continue
        complete = sidecar_of(record).exists()
        if complete:
            if record.parent.is_dir():
                for leftover in record.parent.glob(f"{entry['tmp']}*"):
                    leftover.unlink()
        else:
            _undo(entry)
        source = Path(os.fsdecode(bytes.fromhex(entry["source_hex"])))
        found.append(Recovered(entry["sha256"], source, record, complete))
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
