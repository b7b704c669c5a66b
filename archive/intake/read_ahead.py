"""Files read ahead of their turn to be filed; filing itself stays sequential and in order.

A file's preflight, hash, text and classification need nothing from the files before it, so
they are done ahead: by a thread (the next file is read, in PDFium's C code, while the last
one is written and fsynced) and, for a large run, in worker processes
(:class:`archive.core.ahead.AheadPool`), which put every core to work where one process
holds PDFium and the classifier to one core. Workers read text layers only: a file that
needs OCR (a scan, a PDF with a page without text) is left to the filing process, whose OCR
pool reads it as before, so that pools are never stacked. What a worker read is what this
process would have read: the classification's one part that asks the catalog (a case
number a seal covers, matched against the cases already filed) is finished here.

A worker that dies while reading (killed, or crashed by a hostile file) costs nothing: each
file it had is read again alone, in a process of its own; a file that kills that one too is
quarantined (``reader_crashed``), as is one that keeps a worker busy past a generous bound
(``reader_hung``). Both reasons are in Chinese, like every other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from archive.core import ahead
from archive.core.ahead import AheadPool, Lost
from archive.core.config import Archive
from archive.core.dockeys import DocKeys
from archive.core.errors import ArchiveError
from archive.core.names import decode_relpath, is_ignored
from archive.intake.classify import Classification, ContentClassifier
from archive.intake.pathkeys import keys_from_path
from archive.intake.preflight import Preflight, Rejection, preflight
from archive.records.copies_ahead import CopiesAhead, Prepared, discard
from archive.records.store import sha256_file
from indexers.extract import NO_OCR

# Below this many files a run is read by threads only: starting workers costs more.
PARALLEL_FROM = 64
# A worker reading one file (text layers only) longer than this is taken to hang.
READ_TIMEOUT = 120.0
READ_TIMEOUT_PER_MB = 2.0


class PageLike(Protocol):
    number: int
    text: str
    source: str
    rotation: int
    confidence: float | None
    error: str | None


class ExtractionLike(Protocol):
    """What an extractor returns (indexers.extract.Extraction satisfies it)."""

    pages: list[Any]
    searchable_pdf: bytes | None

    @property
    def text(self) -> str: ...


Extractor = Callable[[Path, Preflight], "ExtractionLike | None"]
# (keys from the path, full text, roster) → keys (updated) and findings.
Classifier = Callable[[DocKeys, str], tuple[DocKeys, list[dict[str, str]]]]


@dataclass
class Prefetch:
    """A file's preflight and text, read ahead of its turn to be filed."""

    checked: Preflight
    extraction: ExtractionLike | None
    seconds: float = 0.0  # spent reading ahead
    classified: tuple[DocKeys, list[dict[str, str]]] | None = None  # keys and findings
    # the content's SHA-256 as read ahead; the copy is checked against it when it is filed
    sha: str | None = None
    error: ArchiveError | None = None  # the extractor's own verdict, given on the main thread
    # read by a worker: the classification, for its part that asks the catalog
    content: Classification | None = None
    # the copy a worker made while hashing (its hash is ``sha``); None once it is staged
    prepared: Prepared | None = None


def path_keys(archive: Archive, parts: list[str]) -> DocKeys:
    """Keys from the inbox path: the kind folder, sub-folders and file name."""
    kind_folder = parts[0] if len(parts) > 1 else ""
    if kind_folder in archive.config.kinds:
        return keys_from_path(parts[1:], archive.kind_of(kind_folder), archive.config)
    return keys_from_path(parts, "other", archive.config)


def read_file(
    archive: Archive,
    path: Path,
    root: Path,
    extract: Callable[[Path, Preflight, str], ExtractionLike | None] | None,
    classifier: Classifier | ContentClassifier | None,
    *,
    in_worker: bool = False,
    copies: CopiesAhead | None = None,
) -> Prefetch | None:
    """Preflight, hash, read and classify one file ahead of its turn; ``None`` leaves it to
    the filing process (which then reports whatever went wrong)."""
    try:
        if is_ignored(path.name):
            return None
        parts = decode_relpath(path.relative_to(root))
        if parts is None:
            return None
        start = time.perf_counter()
        checked = preflight(path, archive.config, parts[-1])
        if checked.rejection is not None or extract is None:
            return Prefetch(checked, None, time.perf_counter() - start)
        prepared = None
        if copies is not None:  # copied while hashed: filing renames the copy
            try:
                sha, prepared = copies.prepare(path)
            except OSError:  # no room for it, say: filing copies the file itself
                sha = sha256_file(path)
        else:
            sha = sha256_file(path)  # hashlib runs without the GIL, beside the filing thread
        try:
            extraction = extract(path, checked, parts[-1])
        except ArchiveError as exc:  # unreadable, or OCR away: decided by the filing process
            if in_worker:
                discard(prepared)
                return None  # read there again: its verdict is not sent between processes
            return Prefetch(checked, None, time.perf_counter() - start, None, sha, exc)
        text = extraction.text if extraction else ""
        out = Prefetch(checked, extraction, 0.0, None, sha, prepared=prepared)
        if in_worker and isinstance(classifier, ContentClassifier):
            keys, findings, out.content = classifier.read(path_keys(archive, parts), text)
            out.classified = keys, findings
        elif classifier is not None:  # pure: done here, beside the filing thread's I/O
            out.classified = classifier(path_keys(archive, parts), text)
        out.seconds = time.perf_counter() - start
        return out
    except Exception:
        return None


class _NeedsOcr(Exception):
    """A file left to the filing process, whose OCR pool reads it."""


@dataclass
class WorkerReader:
    """What a worker process does with one (file, root): :func:`read_file` with text layers
    only; a file that needs OCR (when the run does OCR) is left to the filing process."""

    archive: Archive
    extractor: Any  # an extractor without OCR (pipeline.PoolExtractor.without_ocr())
    classifier: ContentClassifier | None
    ocr: bool  # the run OCRs pages without a text layer
    copies: CopiesAhead | None = None  # where a file read is copied as it is hashed

    def _extract(self, path: Path, checked: Preflight, _name: str) -> ExtractionLike | None:
        if self.ocr and checked.mime != "application/pdf":
            raise _NeedsOcr(path.name)  # a scan
        out = self.extractor(path, checked)
        if self.ocr and out is not None and any(p.error == NO_OCR for p in out.pages):
            raise _NeedsOcr(path.name)  # a page without a text layer
        return out

    def __call__(self, item: tuple[Path, Path]) -> Prefetch | None:
        path, root = item
        return read_file(
            self.archive,
            path,
            root,
            self._extract,
            self.classifier,
            in_worker=True,
            copies=self.copies,
        )


def _timeout_for(base: float) -> Callable[[tuple[Path, Path]], float]:
    def timeout(item: tuple[Path, Path]) -> float:
        try:
            size = item[0].stat().st_size
        except OSError:
            size = 0
        return base + READ_TIMEOUT_PER_MB * size / 1e6

    return timeout


class WorkerReading:
    """The files of one run read ahead in worker processes: ``get(path, root)`` is what
    :func:`read_file` gives, ``None`` (read it here), or a :class:`Prefetch` whose preflight
    rejects the file when a worker crashed or hung on it."""

    def __init__(
        self,
        reader: WorkerReader,
        todo: list[tuple[Path, Path]],
        workers: int,
        timeout: float = READ_TIMEOUT,
    ) -> None:
        self._copies = reader.copies
        self._pool: AheadPool[tuple[Path, Path], Prefetch | None] = AheadPool(
            reader,
            todo,
            workers,
            timeout=_timeout_for(timeout),
            retry_alone=True,
            restarts=3,
        )

    def pids(self) -> list[int]:
        return self._pool.pids()

    def get(self, path: Path, root: Path) -> Prefetch | None:
        try:
            return self._pool.get((path, root))
        except Lost as lost:
            if lost.hung:
                why = Rejection("reader_hung", f"超过 {lost.seconds or 0:.0f} 秒")
            else:
                why = Rejection("reader_crashed")
            return Prefetch(Preflight(None, rejection=why), None)

    def close(self) -> None:
        self._pool.close()
        if self._copies is not None:
            self._copies.close()  # with every copy the run did not use


def worker_reading(
    archive: Archive,
    extractor: Any,
    classifier: Any,
    todo: list[tuple[Path, Path]],
    workers: int | None,
    timeout: float = READ_TIMEOUT,
) -> WorkerReading | None:
    """Worker processes for this run, or ``None`` when threads will do: a small run, one
    core, or an extractor or classifier that cannot be handed to a worker."""
    count = ahead.default_workers(len(todo), PARALLEL_FROM) if workers is None else workers
    without_ocr = getattr(extractor, "without_ocr", None)
    if count <= 1 or without_ocr is None:
        return None
    if classifier is not None and not isinstance(classifier, ContentClassifier):
        return None
    reader = WorkerReader(
        archive,
        without_ocr(),
        classifier.without_catalog() if classifier is not None else None,
        bool(getattr(extractor, "ocr", False)),
        CopiesAhead.start(archive.state),
    )
    return WorkerReading(reader, todo, count, timeout)
