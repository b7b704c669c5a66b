"""Copies of inbox files made ahead of their turn, by the processes that read them.

A large ingest reads its files in worker processes (:mod:`archive.intake.read_ahead`).
Each worker reading a file also copies it here, hashing the bytes as it writes them: the
copy *is* the content that was hashed. When the file's turn comes, the filing process
renames the copy into the record's folder instead of copying and hashing the file again
(:func:`archive.records.store.commit`), so the one process that files in order does less.

The folder is ``.dangan/ahead/<run>/``, on the archive's disk (a rename is then all a
record costs). The run holds an advisory lock on it while it lives; a copy its run did not
use is removed when the run ends, and the folder of a run that was killed is removed by the
next one (:func:`sweep`), never one whose run is still going (a backlog run files one file
per holding of the writer lock, so another process may recover the archive meanwhile).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from archive.core.paths import open_regular

_CHUNK = 1024 * 1024
_LOCK = "run.lock"

# A file last changed at least this long before it was copied has a change time that any
# later write would move: file times tick at the kernel's coarse clock (a few milliseconds),
# so a write in the same tick as the last one could leave them as they were.
STILL_FOR = 2.0


@dataclass(frozen=True)
class Identity:
    """What a file's status says about its content: the same file, the same size, not
    written since (modification and change times; the change time cannot be set back)."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Identity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def unchanged_since(path: Path, identity: Identity | None) -> bool:
    """True when ``path`` is, by its status, still the file ``identity`` was taken of (the
    caller hashes it when this says False: ``None`` means its times could not vouch)."""
    if identity is None:
        return False
    try:
        return Identity.of(os.lstat(path)) == identity
    except OSError:
        return False


def copy_hashed(source: Path, target: Path, *, sync: bool) -> tuple[str, Identity | None]:
    """Copy ``source`` to ``target`` (fsynced when ``sync``), hashing what is written.
    Returns the SHA-256 of the copy and the source's identity when its times can vouch that
    a later change would show (:func:`unchanged_since`), else ``None``."""
    digest = hashlib.sha256()
    started = time.time()
    with open_regular(source) as src, target.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
        dst.flush()
        if sync:
            os.fsync(dst.fileno())
        st = os.fstat(src.fileno())
    vouches = st.st_ctime_ns <= (started - STILL_FOR) * 1e9
    return digest.hexdigest(), Identity.of(st) if vouches else None


@dataclass(frozen=True)
class Prepared:
    """A copy made ahead: where it waits, and the source's identity when it was copied."""

    path: Path
    identity: Identity | None


class CopiesAhead:
    """One run's folder of copies made ahead (see the module). Picklable: a worker process
    gets the folder's path; the lock stays with the run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None

    @classmethod
    def start(cls, state: Path) -> CopiesAhead | None:
        """A new run's folder under ``state`` (``.dangan``), locked; ``None`` when it cannot
        be made (the run then copies each file when it files it)."""
        sweep(state)
        folder = state / "ahead" / uuid.uuid4().hex
        try:
            folder.mkdir(parents=True)
            fd = os.open(folder / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
            return None
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new: nobody else can hold it
        out = cls(folder)
        out._fd = fd
        return out

    def __getstate__(self) -> dict[str, object]:
        return {"folder": self.folder, "_fd": None}

    def prepare(self, source: Path) -> tuple[str, Prepared | None]:
        """The SHA-256 of ``source`` and its copy here; ``(sha, None)`` when the copy could
        not be written (a full disk: the filing process then copies, and says so)."""
        target = self.folder / f"{uuid.uuid4().hex}.copy"
        try:
            sha, identity = copy_hashed(source, target, sync=False)
        except OSError:
            target.unlink(missing_ok=True)
            raise
        return sha, Prepared(target, identity)

    def close(self) -> None:
        """Remove the folder with every copy the run did not use."""
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def discard(prepared: Prepared | None) -> None:
    """Remove a copy that was not used (the file was set aside, or was a duplicate)."""
    if prepared is not None:
        prepared.path.unlink(missing_ok=True)


def sweep(state: Path) -> None:
    """Remove the folders of runs that ended without removing them (killed): those whose
    lock nobody holds."""
    base = state / "ahead"
    try:
        folders = list(base.iterdir())
    except OSError:
        return
    for folder in folders:
        try:
            fd = os.open(folder / _LOCK, os.O_RDWR)
        except FileNotFoundError:  # killed before its lock existed (or not a run's)
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its run is going on
        finally:
            os.close(fd)  # closing drops the lock taken, if any
        shutil.rmtree(folder, ignore_errors=True)
