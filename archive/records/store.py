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
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced temporary file and a rename."""
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    write_bytes_atomic(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))


def read_sidecar(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
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
    with source.open("rb") as src, target.open("wb") as dst:
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
    write_json_atomic(journal / f"{sha}.json", entry)
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


def recover(journal: Path) -> list[Recovered]:
    """Finish or undo every publish a crash interrupted. Idempotent."""
    found: list[Recovered] = []
    if not journal.is_dir():
        return found
    drop_torn_temporaries(journal)
    for path in sorted(journal.glob("*.json")):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            path.unlink()  # a journal entry torn mid-write: nothing was staged yet
            continue
        record = Path(entry["record"])
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
    """Remove the temporaries of atomic writes a crash left in a journal folder (the entry
    they would have become was never announced, so nothing depends on them)."""
    for leftover in folder.glob(".tmp-*"):
        leftover.unlink(missing_ok=True)


def append_event(record: Path, event: dict[str, Any]) -> dict[str, Any]:
    """Add an event to a record's sidecar (atomically) and return the new sidecar."""
    side = sidecar_of(record)
    data = read_sidecar(side)
    data.setdefault("events", []).append(event)
    write_json_atomic(side, data)
    return data
