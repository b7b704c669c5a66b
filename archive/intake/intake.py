"""Intake: every dropped file ends filed in the records or in quarantine with a reason.

One file at a time, under the archive's writer lock: decode its name, preflight it by
content, hash it, skip it if its content is already filed, read its text, work out its
keys, publish it atomically, record it in the catalog, and only then remove it from the
inbox. Errors are caught at the per-file boundary only: one bad file never stops a batch.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import hashlib
import itertools
import os
import shutil
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.core.clock import Clock, local_now
from archive.core.config import Archive
from archive.core.dockeys import DocKeys
from archive.core.errors import ArchiveError, TryLater
from archive.core.names import decode_relpath, is_ignored, name_problem, safe_component
from archive.core.paths import NotRegularFile
from archive.intake.preflight import Preflight, Rejection, not_regular, preflight
from archive.intake.read_ahead import (
    READ_TIMEOUT,
    Classifier,
    ExtractionLike,
    Extractor,
    Prefetch,
    WorkerReading,
    path_keys,
    read_file,
    worker_reading,
)
from archive.intake.reading import reading_events, reading_findings, text_json
from archive.intake.seal_facts import name_seals
from archive.intake.sources import Source, check_sources, sources_of, walk_sources
from archive.records.catalog import Catalog
from archive.records.copies_ahead import discard, unchanged_since
from archive.records.copies_ahead import sweep as sweep_copies
from archive.records.numbering import NumberingPolicy, numbered
from archive.records.store import (
    SIDECAR_SCHEMA,
    ChecksumMismatch,
    Derivative,
    HouseholdFolders,
    Staged,
    barrier,
    commit,
    dossier_folder,
    journal_file_done,
    next_record_name,
    recover,
    sha256_file,
    sidecar_of,
    stage,
    write_json_atomic,
)

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class DiskFull(ArchiveError):
    """The archive's disk is full: filing stops, the files stay in the inbox."""

    exit_code = 16

    def __init__(self, message: str, done: list[Outcome] | None = None) -> None:
        super().__init__(message)
        self.done = done or []  # what was filed or set aside before the disk filled


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in _DISK_FULL
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


# Files filed together: their copies fsynced in one round, their folders once each.
BATCH = 32


@dataclass
class _Pending:
    """A file staged for filing, waiting for its batch's commit."""

    staged: Staged
    source: Path
    root: Path
    parts: list[str]
    from_inbox: bool
    sidecar: dict[str, Any]
    outcome: Outcome


@dataclass
class Outcome:
    """What happened to one source file (one JSON object of ``dangan ingest --json``)."""

    source: str
    outcome: str  # filed | unfiled | duplicate | quarantined | skipped | waiting
    sha256: str | None = None
    record: str | None = None
    kind: str | None = None
    keys: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    code: str | None = None
    archival_code: str | None = None  # 档号
    elapsed: float | None = None  # seconds spent on this file (reading, OCR, filing)
    pages: int | None = None  # pages of a filed document, as preflight counted them
    note: str | None = None  # how a filed document's type was decided, when worth saying

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Intake:
    """Files sources into an archive. Use within ``archive.writer_lock()``."""

    def __init__(
        self,
        archive: Archive,
        catalog: Catalog,
        *,
        clock: Clock = local_now,
        extractor: Extractor | None = None,
        classifier: Classifier | None = None,
        settle_seconds: float | None = None,
        on_filed: Callable[[str, dict[str, Any]], None] | None = None,
        prefetch: int = 1,
        numbering: NumberingPolicy | None = None,
        on_pages: Callable[[str, int, int], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        before_filing: Callable[[], object] | None = None,
        workers: int | None = None,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.archive = archive
        self.catalog = catalog
        self.clock = clock
        self.extractor = extractor
        self.classifier = classifier
        self.settle = archive.config.settle_seconds if settle_seconds is None else settle_seconds
        self.on_filed = on_filed
        self.prefetch = prefetch
        self.numbering = numbering  # None: documents are filed without a 档号
        self.on_pages = on_pages  # (file name, pages read, pages in all) within one document
        self.batch = 1  # files staged before their fsyncs are done together (run_files: more)
        self._pending: list[_Pending] = []
        self._real_folders: dict[Path, Path] = {}
        self._households: HouseholdFolders | None = None  # listed once a run (run_files)
        self.sleep = sleep
        self.before_filing = before_filing  # called when a run has files (e.g. a warm-up)
        # processes reading a large run ahead (None: one per core from PARALLEL_FROM files)
        self.workers = workers
        self.read_timeout = read_timeout  # seconds a worker may take on one file (and more)
        self._workers: WorkerReading | None = None
        self.recovered = self._recover()

    # ------------------------------------------------------------ recovery

    def _recover(self) -> int:
        """Finish or undo publishes a crash interrupted; drop stale quarantine notes and the
        copies a killed run made ahead."""
        count = 0
        sweep_copies(self.archive.state)
        recovered = recover(self.archive.journal, self.archive.records)
        for item in recovered:
            if not item.completed:  # undone: a row catalogued while it was staged goes too
                row = self.catalog.by_sha(item.sha256)
                if row is not None and row["path"] == self._rel(item.record):
                    self.catalog.delete(item.sha256)
                    self.catalog.commit()
            if item.completed:
                from archive.records.store import read_sidecar, sidecar_of

                side = read_sidecar(sidecar_of(item.record))
                self.catalog.upsert(self._rel(item.record), side)
                source = item.source
                if self._in_inbox(source) and _sha_or_none(source) == item.sha256:
                    source.unlink()
            count += 1
        for entry_file in dict.fromkeys(item.entry_file for item in recovered):
            journal_file_done(entry_file)  # a batch's entry only once all of it is handled
        return count

    # ------------------------------------------------------------ helpers

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.archive.records).as_posix()

    def _in_inbox(self, path: Path) -> bool:
        try:
            (self._real(path.parent) / path.name).relative_to(self._real(self.archive.inbox))
            return True
        except ValueError:
            return False

    def _real(self, folder: Path) -> Path:
        """``folder`` with symbolic links resolved; one lstat per folder not seen before."""
        known = self._real_folders.get(folder)
        if known is None:
            if folder.parent == folder or folder.is_symlink() or not folder.is_absolute():
                known = folder.resolve()
            else:
                known = self._real(folder.parent) / folder.name
            self._real_folders[folder] = known
        return known

    def _now(self) -> str:
        return self.clock().isoformat()

    def _event(self, name: str, detail: str = "") -> dict[str, str]:
        return {"at": self._now(), "event": name, "detail": detail}

    # ------------------------------------------------------------ sources

    def inbox_files(self, *, partial: bool = False, litter: bool = False) -> Iterator[Source]:
        """Every candidate in the inbox, and what is not taken with its reason, in order
        (part-files and litter too when asked: :func:`walk_sources`)."""
        yield from walk_sources(self.archive.inbox, partial=partial, litter=litter)

    def run(
        self,
        paths: Iterable[Path] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Outcome]:
        """Process the inbox (``paths=None``) or the given files and folders, once, as they
        are (files not settled yet are left; :func:`archive.intake.settling.ingest_inbox`
        waits for them).

        Files and folders given by hand are checked first (:func:`check_sources`): none may
        be the archive's own output. A full disk stops the run (:class:`DiskFull`)."""
        if paths is None:
            found = list(self.inbox_files())
        else:
            paths = list(paths)
            check_sources(self.archive.root, paths)
            found = list(sources_of(paths))
        outcomes = [self.not_taken(s) for s in found if s.skip is not None]
        todo = [(s.path, s.root) for s in found if s.skip is None]
        try:
            outcomes += self.run_files(todo, progress)
        except DiskFull as exc:
            exc.done = outcomes + exc.done
            raise
        return outcomes

    def run_files(
        self,
        todo: list[tuple[Path, Path]],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Outcome]:
        """Process (file, root) pairs in order; each outcome says how long its file took.
        A full disk stops the run (:class:`DiskFull`, with what was done before it)."""
        outcomes: list[Outcome] = []
        self.batch = BATCH
        self._households = HouseholdFolders(self.archive.records)
        try:
            for index, (_path, outcome) in enumerate(self._filed(todo), 1):
                if outcome is not None:
                    outcomes.append(outcome)
                if progress is not None:
                    progress(index, len(todo))
            self.commit_pending()
        except DiskFull as exc:
            self._commit_pending()  # what was staged before the disk filled, if it still fits
            exc.done = outcomes
            raise
        finally:
            self.batch = 1
            self._households = None
        return outcomes

    def not_taken(self, source: Source) -> Outcome:
        """The outcome of a source intake does not take (``source.skip`` says why)."""
        assert source.skip is not None
        shown = _display(source.path)
        if self._in_inbox(source.path):
            shown = "inbox/" + _display(source.path.relative_to(self.archive.inbox))
        return Outcome(shown, "skipped", reason=source.skip.reason, code=source.skip.code)

    def run_each(
        self,
        todo: list[tuple[Path, Path]],
        lock: Callable[[], contextlib.AbstractContextManager[Any]],
    ) -> Iterator[tuple[Path, Outcome | None]]:
        """File ``(file, root)`` pairs in order, yielding each outcome as soon as it is
        decided. ``lock`` is held around each filing only, not the reading ahead (a long
        backlog run lets the watcher file between two of its files), so each file is
        committed on its own before the lock is let go (no batch spans two holdings). A full
        disk stops it (:class:`DiskFull`)."""
        assert self.batch == 1 and not self._pending
        yield from self._filed(todo, lock)

    def _filed(
        self,
        todo: list[tuple[Path, Path]],
        lock: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
    ) -> Iterator[tuple[Path, Outcome | None]]:
        """Each file of ``todo`` with its outcome, read ahead and filed in order; an outcome
        says how long its file took (reading ahead included). A large run is read ahead in
        worker processes (:mod:`archive.intake.read_ahead`), started first: forked before any
        thread of this run."""
        if self.prefetch > 1 and len(todo) > 1:
            self._workers = worker_reading(
                self.archive,
                self.extractor,
                self.classifier,
                todo,
                self.workers,
                self.read_timeout,
            )
        try:
            if todo and self.before_filing is not None:
                self.before_filing()
            for path, root, pre in self._prefetched(todo):
                start = time.perf_counter()
                with lock() if lock is not None else contextlib.nullcontext():
                    outcome = self.process(path, root, pre)
                if pre is not None:
                    discard(pre.prepared)  # made ahead, not staged: set aside or a duplicate
                if outcome is not None:
                    ahead = pre.seconds if pre is not None else 0.0
                    outcome.elapsed = round(ahead + time.perf_counter() - start, 3)
                yield path, outcome
        finally:
            if self._workers is not None:
                self._workers.close()
                self._workers = None

    def _prefetched(
        self, todo: list[tuple[Path, Path]]
    ) -> Iterator[tuple[Path, Path, Prefetch | None]]:
        """The files in order, each with its preflight and text read ahead by ``prefetch``
        threads (so an OCR pool of N workers reads N documents at once); filing stays
        sequential and in order. Worker processes reading a run without OCR need no threads
        besides (:mod:`archive.intake.read_ahead`)."""
        if self.prefetch <= 1 or self.extractor is None or len(todo) < 2:
            for path, root in todo:
                yield path, root, None
            return
        if self._workers is not None and not getattr(self.extractor, "ocr", True):
            for path, root in todo:
                yield path, root, self._read_ahead(path, root)
            return
        with ThreadPoolExecutor(self.prefetch, thread_name_prefix="dangan-read") as pool:
            pending: deque[tuple[Path, Path, Future[Prefetch | None]]] = deque()
            upcoming = iter(todo)
            for path, root in itertools.islice(upcoming, self.prefetch + 1):
                pending.append((path, root, pool.submit(self._read_ahead, path, root)))
            while pending:
                path, root, future = pending.popleft()
                for nxt, nroot in itertools.islice(upcoming, 1):
                    pending.append((nxt, nroot, pool.submit(self._read_ahead, nxt, nroot)))
                yield path, root, future.result()

    def reader_pids(self) -> list[int]:
        """The worker processes reading this run ahead (none for a small run)."""
        return self._workers.pids() if self._workers is not None else []

    def _read_ahead(self, path: Path, root: Path) -> Prefetch | None:
        """Preflight and extract one file off the main thread (or take what a worker process
        read); ``None`` leaves it to the main thread (which then reports what went wrong)."""
        if self._workers is not None:
            done = self._workers.get(path, root)
            if done is not None:
                return done
        return read_file(self.archive, path, root, self._extract, self.classifier)

    def _path_keys(self, parts: list[str]) -> DocKeys:
        """Keys from the inbox path: the kind folder, sub-folders and file name."""
        return path_keys(self.archive, parts)

    def _extract(self, path: Path, checked: Preflight, name: str) -> ExtractionLike | None:
        assert self.extractor is not None
        if self.on_pages is None:
            return self.extractor(path, checked)
        on_pages = self.on_pages
        return self.extractor(  # type: ignore[call-arg]
            path, checked, progress=lambda done, total: on_pages(name, done, total)
        )

    def process(
        self,
        path: Path,
        root: Path,
        pre: Prefetch | None = None,
        *,
        forced: DocKeys | None = None,
        annotate: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Outcome | None:
        """File one source; ``None`` when it is litter or not yet settled.

        ``forced``: file it under these keys (a correction knows where it belongs) instead
        of what its path and text say; ``annotate`` adds to the sidecar before it is written.
        """
        if is_ignored(path.name):
            return None
        try:
            if self.settle > 0 and self._in_inbox(path):
                age = time.time() - path.lstat().st_mtime
                if age < self.settle:
                    return None
            return self._process(path, root, pre, forced, annotate)
        except (FileNotFoundError, ChecksumMismatch) as exc:
            return _left_in_place(str(path), exc)
        except DiskFull:  # a batch's commit found the disk full: stop, never quarantine
            raise
        except TryLater as exc:  # e.g. no OCR worker reachable: the file stays where it is
            return Outcome(_display(path), "skipped", reason=exc.message, code=exc.code)
        except Exception as exc:  # the per-file boundary: record, set aside, go on
            if _disk_full(exc):
                raise self._disk_full_error(exc) from exc
            try:
                parts = decode_relpath(path.relative_to(root))  # keep the file's own name
                return self._quarantine(
                    path, root, Rejection("internal_error", repr(exc)[:200]), None, parts
                )
            except Exception as again:  # leave it in the inbox, say why, go on
                if _disk_full(again):
                    raise self._disk_full_error(again) from again
                return Outcome(
                    _display(path),
                    "skipped",
                    reason=f"处理失败且无法隔离, 文件留在原处: {again!r}",
                    code="internal_error",
                )

    # ------------------------------------------------------------ one file

    def _process(
        self,
        path: Path,
        root: Path,
        pre: Prefetch | None = None,
        forced: DocKeys | None = None,
        annotate: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Outcome:
        rel = path.relative_to(root)
        parts = decode_relpath(rel)
        odd = not_regular(path)  # a pipe is never opened, whatever its name
        if odd is not None and odd.code != "symlink":
            if not self._in_inbox(path):  # nothing to copy: say so, leave it
                return Outcome(_display(path), "skipped", reason=odd.reason, code=odd.code)
            return self._quarantine(path, root, odd, None, parts)
        if parts is None:
            part = next(p for p in rel.parts if decode_relpath(Path(p)) is None)
            code = name_problem(part)
            detail = repr(part) if code == "name_control_chars" else os.fsencode(part).hex()
            return self._quarantine(path, root, Rejection(code, detail), None)
        display = parts[-1]
        checked = pre.checked if pre is not None else preflight(path, self.archive.config, display)
        if checked.rejection is not None:
            return self._quarantine(path, root, checked.rejection, None, parts)
        # read ahead, or now; a file changed since is caught when its copy is verified
        sha = pre.sha if pre is not None and pre.sha is not None else sha256_file(path)
        if any(p.staged.sha == sha for p in self._pending):
            self.commit_pending()  # the same content staged a moment ago: a duplicate now
        existing = self.catalog.by_sha(sha)
        if (
            existing is not None
            and not sidecar_of(self.archive.records / existing["path"]).is_file()
        ):
            # the catalog is a cache: a row whose record is not on disk (an archive from a
            # build that could commit a batch's rows before its files) is not a duplicate
            self.commit_pending()  # this commit must not carry the batch's rows
            self.catalog.delete(sha)
            self.catalog.commit()
            existing = None
        if existing is not None:
            return self._duplicate(path, root, sha, existing["path"], parts)
        from_inbox = self._in_inbox(path)
        keys = self._path_keys(parts)
        claimed = keys.doc_type
        try:
            if pre is not None and pre.error is not None:
                raise pre.error
            if pre is not None and pre.extraction is not None:
                extraction: ExtractionLike | None = pre.extraction
            else:
                extraction = self._extract(path, checked, display) if self.extractor else None
        except TryLater:
            raise
        except ArchiveError as exc:  # e.g. indexers' ExtractError: every page unreadable
            code = getattr(exc, "code", None) or "unreadable_content"
            return self._quarantine(path, root, Rejection(code, exc.message), sha, parts)
        findings: list[dict[str, str]] = []
        if forced is not None:
            keys = copy.deepcopy(forced)
        elif pre is not None and pre.classified is not None:
            keys, findings = pre.classified
            finish = getattr(self.classifier, "finish", None)
            if pre.content is not None and finish is not None:  # read by a worker
                keys, findings = finish(keys, findings, pre.content, _text(extraction))
        elif self.classifier is not None:
            keys, findings = self.classifier(keys, extraction.text if extraction else "")
        findings = list(findings)
        findings += checked.findings
        for note in checked.notes:
            if "扩展名" in note:
                findings.append({"code": "extension_mismatch", "message": note})
        pages_json = text_json(extraction)
        name_seals(pages_json["pages"], (self.archive.config.bureau,))
        findings += reading_findings(pages_json)
        if keys.dossier_kind == "household" and keys.licence_no:
            roster = self.catalog.household(keys.licence_no)
            if roster is not None:
                keys.retailer = roster["name"]
        if keys.dossier_kind == "other" and keys.year is None:
            keys.year = self.clock().year  # work materials without a year: the year they were filed
        dossier_kind, dossier_key, folder = dossier_folder(
            self.archive.records, keys, self._households
        )
        label = keys.doc_type or safe_component(Path(display).stem)
        staged_here = [
            p.staged.record.name for p in self._pending if p.staged.record.parent == folder
        ]
        record = folder / next_record_name(folder, label, checked.extension, staged_here)
        source_label = "inbox/" + "/".join(parts) if from_inbox else str(path)
        events = [
            self._event("received", source_label),
            self._event(
                "checked",
                f"{checked.mime}, {checked.pages or '?'} 页"
                + "".join(f"; {n}" for n in checked.notes),
            ),
            *[self._event(name, detail) for name, detail in reading_events(extraction)],
            *([self._event("typed", keys.type_note)] if keys.type_note else []),
            self._event("filed", self._rel(record)),
        ]
        sidecar: dict[str, Any] = {
            "schema": SIDECAR_SCHEMA,
            "sha256": sha,
            "size": path.stat().st_size,
            "mime": checked.mime,
            "pages": checked.pages,
            "original_name": display,
            "source": source_label,
            "title": Path(display).stem,
            "doc_type": keys.doc_type,
            "claimed_type": claimed,
            "dossier": {"kind": dossier_kind, "key": dossier_key},
            "keys": {**keys.as_dict(), "source": keys.source},
            "text": pages_json,
            "findings": findings,
            "events": events,
        }
        if annotate is not None:
            sidecar = annotate(sidecar)
        if self.numbering is not None:
            sidecar = numbered(self.catalog, sidecar, self.numbering, at=self._now())
        derivatives = []
        if extraction is not None and extraction.searchable_pdf:
            derivatives.append(Derivative(".ocr.pdf", extraction.searchable_pdf))
            sidecar["derivatives"] = {"searchable_pdf": record.stem + ".ocr.pdf"}
        outcome = Outcome(
            source=source_label,
            outcome="filed" if dossier_kind != "tray" else "unfiled",
            sha256=sha,
            record=f"records/{self._rel(record)}",
            archival_code=(sidecar.get("archival") or {}).get("code"),
            kind=keys.doc_type,
            keys={k: v for k, v in keys.as_dict().items() if v is not None},
            reason=None
            if dossier_kind != "tray"
            else "; ".join(keys.notes) or "未能确定所属档案(许可证号/案号/会议)",
            code=None if dossier_kind != "tray" else "unresolved",
            pages=checked.pages,
            note=keys.type_note if dossier_kind != "tray" else None,
        )
        prepared = None
        if pre is not None and pre.sha == sha:  # the copy made as it was read: taken over
            prepared, pre.prepared = pre.prepared, None
        staged = stage(
            self.archive.journal,
            path,
            record,
            sidecar,
            derivatives,
            sync=self.batch <= 1,
            prepared=prepared,
        )
        # catalogued now, uncommitted: the next file's 档号 (next_item) sees this one
        self.catalog.upsert(self._rel(record), sidecar, commit=False)
        self._pending.append(_Pending(staged, path, root, parts, from_inbox, sidecar, outcome))
        if len(self._pending) >= self.batch:
            self.commit_pending()
        return outcome

    def commit_pending(self) -> None:
        """Make the staged files records (one round of fsyncs for them all), catalog them,
        then remove their sources from the inbox (:mod:`archive.records.store`).
        :class:`DiskFull` when the disk filled: the files it stopped stay in the inbox."""
        full = self._commit_pending()
        if full is not None:
            raise self._disk_full_error(full) from full

    def _commit_pending(self) -> BaseException | None:
        """:meth:`commit_pending`, returning the disk-full error instead of raising it."""
        pending, self._pending = self._pending, []
        if not pending:
            return None
        errors = commit([p.staged for p in pending], self.archive.root)
        done = []
        full: BaseException | None = None
        for item, error in zip(pending, errors, strict=True):
            if error is None:
                done.append(item)
                continue
            # undone: set aside like any file that fails at its own boundary
            self.catalog.delete(item.staged.sha)
            self.catalog.commit()
            elapsed = item.outcome.elapsed
            if _disk_full(error):  # nothing is quarantined for want of room: it waits
                full = full or error
                instead = Outcome(
                    item.outcome.source,
                    "skipped",
                    reason="磁盘空间已满, 未归档, 文件留在收件箱; 清理磁盘后重新处理",
                    code="disk_full",
                )
            elif isinstance(error, (FileNotFoundError, ChecksumMismatch)):
                # changed or gone since it was read: left for the next run, as unbatched
                instead = _left_in_place(item.outcome.source, error)
            else:
                instead = self._set_aside(item, error)
            item.outcome.__dict__.update(instead.__dict__)
            item.outcome.elapsed = elapsed
        self.catalog.commit()
        inbox_folders: dict[Path, Path] = {}
        for item in done:
            if not item.from_inbox:
                continue
            # Only the bytes that were filed leave the inbox: a file replaced under the same
            # name since it was hashed stays for the next pass (recovery checks the same).
            # (by its status when that can tell; hashed again when it cannot)
            if unchanged_since(item.source, item.staged.source_identity):
                current: str | None = item.staged.sha
            else:
                current = _sha_or_none(item.source)
            if current == item.staged.sha:
                item.source.unlink()
                inbox_folders[item.source.parent] = item.source
            elif current is not None:
                item.outcome.reason = "; ".join(filter(None, [item.outcome.reason, _REPLACED]))
        if inbox_folders and not (len(pending) > 1 and barrier(self.archive.inbox)):
            for source in inbox_folders.values():
                _fsync_parent(source)
        for journal_file in dict.fromkeys(p.staged.journal_file for p in pending):
            if journal_file is not None:
                journal_file_done(journal_file)
        for item in done:
            if self.on_filed is not None:
                self.on_filed(self._rel(item.staged.record), item.sidecar)
        return full

    def _disk_full_error(self, exc: BaseException) -> DiskFull:
        try:
            free = shutil.disk_usage(self.archive.root).free
        except OSError:
            free = 0
        return DiskFull(
            f"{self.archive.root} 所在磁盘空间已满 (剩余 {free // 1048576} MB): 已停止归档, "
            "尚未处理的文件仍在收件箱中, 已归档的不受影响; 请清理磁盘空间后重新运行 dangan ingest"
            f" ({exc})"
        )

    # ------------------------------------------------------------ set aside

    def _set_aside(self, item: _Pending, error: BaseException) -> Outcome:
        """A staged file its batch could not file: quarantined under its own name, or left
        in place with the reason when even that fails."""
        try:
            rejection = Rejection("internal_error", repr(error)[:200])
            return self._quarantine(item.source, item.root, rejection, item.staged.sha, item.parts)
        except Exception as again:
            return Outcome(
                _display(item.source),
                "skipped",
                reason=f"处理失败且无法隔离, 文件留在原处: {again!r}",
                code="internal_error",
            )

    def _quarantine_target(self, name: str) -> Path:
        folder = self.archive.quarantine / self.clock().date().isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        stem, suffix, n = target.stem, target.suffix, 2
        while target.exists() or target.with_name(target.name + ".why.json").exists():
            target = folder / f"{stem} ({n}){suffix}"
            n += 1
        return target

    def _quarantine(
        self,
        path: Path,
        root: Path,
        rejection: Rejection,
        sha: str | None,
        parts: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Outcome:
        # The catalog commits below: the staged files go first, or a crash after this commit
        # would leave rows for files that never became records
        self.commit_pending()
        from_inbox = self._in_inbox(path)
        if parts is None:
            digest = sha or _quick_hash(path)
            suffix = os.path.splitext(os.fsencode(path.name))[1].decode("ascii", "replace")
            name = f"文件名无法识别_{digest[:12]}" + (
                f".{safe_component(suffix[1:])}" if suffix else ""
            )
            shown = os.fsencode(path.relative_to(root)).decode("utf-8", "backslashreplace")
        else:
            name = safe_component(parts[-1])
            shown = "/".join(parts)
        source_label = f"inbox/{shown}" if from_inbox else str(path)
        target = self._quarantine_target(name)
        why: dict[str, Any] = {
            "code": rejection.code,
            "reason": rejection.reason,
            "source": source_label,
            "at": self._now(),
            "sha256": sha,
            **(extra or {}),
        }
        why_path = target.with_name(target.name + ".why.json")
        write_json_atomic(why_path, why, staging=self.archive.journal)
        try:
            if from_inbox:
                os.replace(path, target)
                _fsync_parent(path)
            else:
                shutil.copy2(path, target, follow_symlinks=False)
        except BaseException:
            why_path.unlink(missing_ok=True)  # no reason without its file
            raise
        self.catalog.add_quarantine(target.relative_to(self.archive.root).as_posix(), why)
        return Outcome(
            source=source_label,
            outcome="quarantined",
            sha256=sha,
            record=target.relative_to(self.archive.root).as_posix(),
            reason=rejection.reason,
            code=rejection.code,
        )

    def _duplicate(
        self, path: Path, root: Path, sha: str, existing: str, parts: list[str]
    ) -> Outcome:
        from archive.records.store import append_event

        self.commit_pending()  # before the catalog commits below (see _quarantine)
        source_label = ("inbox/" + "/".join(parts)) if self._in_inbox(path) else str(path)
        record = self.archive.records / existing
        side = append_event(
            record, self._event("duplicate", source_label), staging=self.archive.journal
        )
        self.catalog.upsert(existing, side)
        if self._in_inbox(path):
            out = self._quarantine(
                path,
                root,
                Rejection("duplicate", f"已归档为 records/{existing}"),
                sha,
                parts,
                {"existing_record": f"records/{existing}"},
            )
            out.outcome = "duplicate"
            out.record = f"records/{existing}"
            return out
        return Outcome(
            source=source_label,
            outcome="duplicate",
            sha256=sha,
            record=f"records/{existing}",
            reason=f"内容与已归档文件完全相同, 未重复归档 (records/{existing})",
            code="duplicate",
        )


def _left_in_place(source: str, error: BaseException) -> Outcome:
    """A file not filed because it vanished or changed while it was being filed."""
    if isinstance(error, FileNotFoundError):
        return Outcome(source, "skipped", reason="处理过程中文件被移走或删除", code="vanished")
    return Outcome(source, "skipped", reason=f"文件仍在写入, 稍后再处理 ({error})", code="changing")


def _text(extraction: ExtractionLike | None) -> str:
    return extraction.text if extraction else ""


def _display(path: Path) -> str:
    return os.fsencode(path).decode("utf-8", "backslashreplace")


_REPLACED = "收件箱中的同名文件在归档过程中被替换为新内容, 新文件留在收件箱, 下次处理"


def _sha_or_none(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except (OSError, NotRegularFile):
        return None


def _fsync_parent(path: Path) -> None:
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _quick_hash(path: Path) -> str:
    """The file's SHA-256, or its name's when it cannot be read (a pipe is never opened)."""
    return _sha_or_none(path) or hashlib.sha256(os.fsencode(str(path))).hexdigest()
