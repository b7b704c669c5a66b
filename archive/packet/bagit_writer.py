"""Write a BagIt bag (RFC 8493) file by file, hashing while the bytes go by.

Payload files are copied (or streamed) into ``data/`` and their SHA-256 and SHA-512
digests are computed on the way in, so nothing is read twice. :meth:`BagWriter.finish`
writes ``bagit.txt``, ``bag-info.txt`` (with ``Payload-Oxum`` and ``Bagging-Date``),
the payload manifests and the tag manifests, sorted so that the same payload and the
same date give byte-identical tag files. Every file is fsynced; directories too.

The writer only ever reads its sources: records are opened read-only.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from archive.core.errors import ArchiveError

ALGORITHMS: tuple[str, ...] = ("sha256", "sha512")
BAGIT_VERSION = "1.0"
SOFTWARE_AGENT = "dangan 0.1.0"
_CHUNK = 1 << 20


class BagWriteError(ArchiveError):
    """A bag could not be written (disk full, name clash, bad payload path)."""


@dataclass(frozen=True)
class PayloadEntry:
    """A payload file written into the bag: its path under ``data/`` and digests."""

    path: str
    size: int
    digests: dict[str, str]


def encode_manifest_path(path: str) -> str:
    """RFC 8493 §2.1.3: percent-encode only CR, LF and % in manifest paths."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open directories; NTFS journals the rename anyway
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_POOL: ThreadPoolExecutor | None = None
_PARALLEL_MIN = 1 << 16


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=len(ALGORITHMS), thread_name_prefix="bag-hash")
    return _POOL


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)  # Windows needs write
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MultiHasher:
    """Several digests of one byte stream; large chunks are hashed in parallel threads.

    hashlib and file writes release the GIL, so SHA-256 and SHA-512 together cost about
    as much as SHA-512 alone on a machine with a spare core.
    """

    def __init__(self, algorithms: Sequence[str]) -> None:
        self.algorithms = tuple(algorithms)
        self._hashes = [hashlib.new(a) for a in self.algorithms]

    def update(self, data: bytes, alongside: Callable[[], object] | None = None) -> None:
        """Hash ``data``; ``alongside`` (a file write, say) runs while the threads hash."""
        if len(data) >= _PARALLEL_MIN and len(self._hashes) > 1:
            pending = [_pool().submit(h.update, data) for h in self._hashes]
            if alongside is not None:
                alongside()
            for job in pending:
                job.result()
            return
        if alongside is not None:
            alongside()
        for h in self._hashes:
            h.update(data)

    def hexdigests(self) -> dict[str, str]:
        return {a: h.hexdigest() for a, h in zip(self.algorithms, self._hashes, strict=True)}


class _HashingFile:
    """A write-only file that hashes everything written (see :class:`MultiHasher`)."""

    def __init__(self, path: Path, algorithms: Sequence[str]) -> None:
        self.path = path
        self._fh = open(path, "xb")  # noqa: SIM115 - closed in close()
        self.hasher = MultiHasher(algorithms)
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hasher.update(data, alongside=lambda: self._fh.write(data))
        self.size += len(data)
        return len(data)

    def close(self) -> None:
        self._fh.close()  # fsynced in BagWriter.finish, after the kernel had time to write

    def abort(self) -> None:
        self._fh.close()


class BagWriter:
    """Build a bag in ``root`` (which must not exist yet)."""

    def __init__(self, root: Path, algorithms: Sequence[str] = ALGORITHMS) -> None:
        self.root = root
        self.algorithms = tuple(algorithms)
        self.entries: dict[str, PayloadEntry] = {}
        self._unsynced: list[Path] = []
        self._lock = threading.Lock()  # payload may be written from two threads
        self._dirs: set[Path] = set()
        try:
            root.mkdir(parents=False, exist_ok=False)
            (root / "data").mkdir()
        except OSError as exc:
            raise BagWriteError(f"无法创建验收包目录 {root}: {exc}；请检查磁盘和权限") from exc
        self._dirs.update({root, root / "data"})

    def _target(self, relpath: str) -> Path:
        parts = relpath.split("/")
        if not relpath or any(p in ("", ".", "..") for p in parts) or "\\" in relpath:
            raise BagWriteError(f"验收包内路径不合法: {relpath!r}；请给出 data/ 下的相对路径")
        if relpath in self.entries:
            raise BagWriteError(f"验收包内文件重名: data/{relpath}；请给每份材料一个不同的名字")
        target = self.root / "data" / Path(*parts)
        parent = target.parent
        with self._lock:
            if parent not in self._dirs:
                parent.mkdir(parents=True, exist_ok=True)
                self._dirs.update(p for p in [parent, *parent.parents] if self.root in p.parents)
        return target

    @contextmanager
    def open_payload(self, relpath: str) -> Iterator[BinaryIO]:
        """Stream a new payload file ``data/<relpath>``; hashed and fsynced on close."""
        target = self._target(relpath)
        fh = _HashingFile(target, self.algorithms)
        try:
            yield fh  # type: ignore[misc]  # duck-typed BinaryIO (write only)
        except BaseException:
            fh.abort()
            raise
        fh.close()
        entry = PayloadEntry(relpath, fh.size, fh.hasher.hexdigests())
        with self._lock:
            self._unsynced.append(target)
            self.entries[relpath] = entry

    def add_file(self, source: Path, relpath: str) -> PayloadEntry:
        """Copy ``source`` (opened read-only, never modified) to ``data/<relpath>``."""
        with open(source, "rb") as src, self.open_payload(relpath) as dst:
            while chunk := src.read(_CHUNK):
                dst.write(chunk)
        return self.entries[relpath]

    def _write_tag(self, name: str, text: str) -> None:
        path = self.root / name
        with open(path, "xb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())

    def finish(self, info: Sequence[tuple[str, str]], bagging_date: datetime.date) -> None:
        """Write bagit.txt, bag-info.txt, manifests and tag manifests; fsync the tree."""
        for path in self._unsynced:
            _fsync_file(path)
        self._unsynced.clear()
        octets = sum(e.size for e in self.entries.values())
        fields = [*info]
        fields += [
            ("Bagging-Date", bagging_date.isoformat()),
            ("Bag-Software-Agent", SOFTWARE_AGENT),
            ("Payload-Oxum", f"{octets}.{len(self.entries)}"),
        ]
        tags = {
            "bagit.txt": f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n",
            "bag-info.txt": "".join(f"{k}: {_one_line(v)}\n" for k, v in fields),
        }
        ordered = sorted(self.entries)
        for alg in self.algorithms:
            lines = [
                f"{self.entries[p].digests[alg]}  {encode_manifest_path('data/' + p)}\n"
                for p in ordered
            ]
            tags[f"manifest-{alg}.txt"] = "".join(lines)
        for name, text in tags.items():
            self._write_tag(name, text)
        for alg in self.algorithms:
            lines = [
                f"{hashlib.new(alg, tags[name].encode('utf-8')).hexdigest()}  {name}\n"
                for name in sorted(tags)
            ]
            self._write_tag(f"tagmanifest-{alg}.txt", "".join(lines))
        for d in sorted(self._dirs, key=lambda p: len(p.parts), reverse=True):
            _fsync_dir(d)


def _one_line(value: str) -> str:
    return " ".join(value.split())
