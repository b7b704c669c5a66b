"""Intake: every dropped file ends filed in the records or in quarantine with a reason.

One file at a time, under the archive's writer lock: decode its name, preflight it by
content, hash it, skip it if its content is already filed, read its text, work out its
keys, publish it atomically, record it in the catalog, and only then remove it from the
inbox. Errors are caught at the per-file boundary only: one bad file never stops a batch.
"""

from __future__ import annotations

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
from typing import Any, Protocol

from archive.core.clock import Clock, local_now
from archive.core.config import Archive
from archive.core.dockeys import DocKeys
from archive.core.errors import ArchiveError
from archive.core.names import decode_relpath, is_ignored, name_problem, safe_component
from archive.core.paths import NotRegularFile
from archive.intake.pathkeys import keys_from_path
from archive.intake.preflight import Preflight, Rejection, not_regular, preflight
from archive.intake.seal_facts import name_seals
from archive.intake.sources import Source, check_sources, sources_of, walk_sources
from archive.records.catalog import Catalog
from archive.records.numbering import NumberingPolicy, numbered
from archive.records.store import (
    SIDECAR_SCHEMA,
    ChecksumMismatch,
    Derivative,
    dossier_folder,
    journal_done,
    next_record_name,
    publish,
    recover,
    sha256_file,
    write_json_atomic,
)


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


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class DiskFull(ArchiveError):
    """The archive's disk is full: filing stops, the files stay in the inbox."""

    exit_code = 12

    def __init__(self, message: str, done: list[Outcome] | None = None) -> None:
        super().__init__(message)
        self.done = done or []  # what was filed or set aside before the disk filled


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in _DISK_FULL
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


@dataclass
class _Prefetch:
    """A file's preflight and text, read ahead of its turn to be filed."""

    checked: Preflight
    extraction: ExtractionLike | None


@dataclass
class Outcome:
    """What happened to one source file (one JSON object of ``dangan ingest --json``)."""

    source: str
    outcome: str  # filed | unfiled | duplicate | quarantined | skipped
    sha256: str | None = None
    record: str | None = None
    kind: str | None = None
    keys: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    code: str | None = None
    archival_code: str | None = None  # 档号

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _pages_json(extraction: ExtractionLike | None) -> dict[str, Any]:
    if extraction is None:
        return {"pages": [], "legible": None}
    pages = []
    for page in extraction.pages:
        quality = getattr(page, "quality", None)
        pages.append(
            {
                "number": page.number,
                "text": page.text,
                "source": page.source,
                "rotation": getattr(page, "rotation", 0),
                "confidence": getattr(page, "confidence", None),
                "error": getattr(page, "error", None),
                "quality": None if quality is None else dict(quality.__dict__),
                "seals": getattr(page, "seals", None),
            }
        )
    verdicts = [p["quality"]["verdict"] for p in pages if p["quality"]]
    legible = None if not verdicts else all(v == "清晰" for v in verdicts)
    return {"pages": pages, "legible": legible}


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
        self.recovered = self._recover()

    # ------------------------------------------------------------ recovery

    def _recover(self) -> int:
        """Finish or undo publishes a crash interrupted; drop stale quarantine notes."""
        count = 0
        for item in recover(self.archive.journal, self.archive.records):
            if item.completed:
                from archive.records.store import read_sidecar, sidecar_of

                side = read_sidecar(sidecar_of(item.record))
                self.catalog.upsert(self._rel(item.record), side)
                source = item.source
                if self._in_inbox(source) and _sha_or_none(source) == item.sha256:
                    source.unlink()
            journal_done(self.archive.journal, item.sha256)
            count += 1
        return count

    # ------------------------------------------------------------ helpers

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.archive.records).as_posix()

    def _in_inbox(self, path: Path) -> bool:
        try:
            (path.parent.resolve() / path.name).relative_to(self.archive.inbox.resolve())
            return True
        except ValueError:
            return False

    def _now(self) -> str:
        return self.clock().isoformat()

    def _event(self, name: str, detail: str = "") -> dict[str, str]:
        return {"at": self._now(), "event": name, "detail": detail}

    # ------------------------------------------------------------ sources

    def inbox_files(self) -> Iterator[Source]:
        """Every candidate in the inbox, and what is not taken with its reason, in order."""
        yield from walk_sources(self.archive.inbox)

    def run(
        self,
        paths: Iterable[Path] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Outcome]:
        """Process the inbox (``paths=None``) or the given files and folders, once.

        Files and folders given by hand are checked first (:func:`check_sources`): none may
        be the archive's own output. A full disk stops the run (:class:`DiskFull`)."""
        if paths is None:
            found = list(self.inbox_files())
        else:
            paths = list(paths)
            check_sources(self.archive.root, paths)
            found = list(sources_of(paths))
        outcomes = [self._not_taken(s) for s in found if s.skip is not None]
        todo = [(s.path, s.root) for s in found if s.skip is None]
        try:
            for index, (path, root, pre) in enumerate(self._prefetched(todo), 1):
                outcome = self.process(path, root, pre)
                if outcome is not None:
                    outcomes.append(outcome)
                if progress is not None:
                    progress(index, len(todo))
        except DiskFull as exc:
            exc.done = outcomes
            raise
        return outcomes

    def _not_taken(self, source: Source) -> Outcome:
        assert source.skip is not None
        shown = _display(source.path)
        if self._in_inbox(source.path):
            shown = "inbox/" + _display(source.path.relative_to(self.archive.inbox))
        return Outcome(shown, "skipped", reason=source.skip.reason, code=source.skip.code)

    def _prefetched(
        self, todo: list[tuple[Path, Path]]
    ) -> Iterator[tuple[Path, Path, _Prefetch | None]]:
        """The files in order, each with its preflight and text read ahead by ``prefetch``
        threads (so an OCR pool of N workers reads N documents at once); filing stays
        sequential and in order."""
        if self.prefetch <= 1 or self.extractor is None or len(todo) < 2:
            for path, root in todo:
                yield path, root, None
            return
        with ThreadPoolExecutor(self.prefetch, thread_name_prefix="dangan-read") as pool:
            pending: deque[tuple[Path, Path, Future[_Prefetch | None]]] = deque()
            upcoming = iter(todo)
            for path, root in itertools.islice(upcoming, self.prefetch + 1):
                pending.append((path, root, pool.submit(self._read_ahead, path, root)))
            while pending:
                path, root, future = pending.popleft()
                for nxt, nroot in itertools.islice(upcoming, 1):
                    pending.append((nxt, nroot, pool.submit(self._read_ahead, nxt, nroot)))
                yield path, root, future.result()

    def _read_ahead(self, path: Path, root: Path) -> _Prefetch | None:
        """Preflight and extract one file off the main thread; ``None`` leaves it to the main
        thread (which then reports whatever went wrong)."""
        try:
            if is_ignored(path.name):
                return None
            parts = decode_relpath(path.relative_to(root))
            if parts is None:
                return None
            checked = preflight(path, self.archive.config, parts[-1])
            if checked.rejection is not None or self.extractor is None:
                return _Prefetch(checked, None)
            return _Prefetch(checked, self.extractor(path, checked))
        except Exception:
            return None

    def process(
        self,
        path: Path,
        root: Path,
        pre: _Prefetch | None = None,
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
            if self._in_inbox(path) and self.settle > 0:
                age = time.time() - path.lstat().st_mtime
                if age < self.settle:
                    return None
            return self._process(path, root, pre, forced, annotate)
        except FileNotFoundError:
            return Outcome(
                str(path), "skipped", reason="处理过程中文件被移走或删除", code="vanished"
            )
        except ChecksumMismatch as exc:
            return Outcome(
                str(path), "skipped", reason=f"文件仍在写入, 稍后再处理 ({exc})", code="changing"
            )
        except Exception as exc:  # the per-file boundary: record, set aside, go on
            if _disk_full(exc):
                raise self._disk_full_error(exc) from exc
            try:
                return self._quarantine(
                    path, root, Rejection("internal_error", repr(exc)[:200]), None
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
        pre: _Prefetch | None = None,
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
        sha = sha256_file(path)
        existing = self.catalog.by_sha(sha)
        if existing is not None:
            return self._duplicate(path, root, sha, existing["path"], parts)
        from_inbox = self._in_inbox(path)
        kind_folder = parts[0] if len(parts) > 1 else ""
        kind = (
            self.archive.kind_of(kind_folder)
            if kind_folder in self.archive.config.kinds
            else "other"
        )
        key_parts = parts[1:] if kind_folder in self.archive.config.kinds else parts
        keys = keys_from_path(key_parts, kind, self.archive.config)
        claimed = keys.doc_type
        try:
            if pre is not None and pre.extraction is not None:
                extraction: ExtractionLike | None = pre.extraction
            else:
                extraction = self.extractor(path, checked) if self.extractor else None
        except ArchiveError as exc:  # e.g. indexers' ExtractError: every page unreadable
            return self._quarantine(
                path, root, Rejection("unreadable_content", exc.message), sha, parts
            )
        findings: list[dict[str, str]] = []
        if forced is not None:
            keys = copy.deepcopy(forced)
        elif self.classifier is not None:
            keys, findings = self.classifier(keys, extraction.text if extraction else "")
        for note in checked.notes:
            if "扩展名" in note:
                findings.append({"code": "extension_mismatch", "message": note})
        pages_json = _pages_json(extraction)
        name_seals(pages_json["pages"], (self.archive.config.bureau,))
        if pages_json["legible"] is False:
            bad = [
                f"第{p['number']}页: {'; '.join(p['quality']['reasons'])}"
                for p in pages_json["pages"]
                if p["quality"] and p["quality"]["verdict"] != "清晰"
            ]
            findings.append({"code": "illegible", "message": "扫描件不清晰: " + " / ".join(bad)})
        if keys.dossier_kind == "household" and keys.licence_no:
            roster = self.catalog.household(keys.licence_no)
            if roster is not None:
                keys.retailer = roster["name"]
        if keys.dossier_kind == "other" and keys.year is None:
            keys.year = self.clock().year  # work materials without a year: the year they were filed
        dossier_kind, dossier_key, folder = dossier_folder(self.archive.records, keys)
        label = keys.doc_type or safe_component(Path(display).stem)
        record = folder / next_record_name(folder, label, checked.extension)
        source_label = "inbox/" + "/".join(parts) if from_inbox else str(path)
        events = [
            self._event("received", source_label),
            self._event(
                "checked",
                f"{checked.mime}, {checked.pages or '?'} 页"
                + "".join(f"; {n}" for n in checked.notes),
            ),
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
        publish(self.archive.journal, path, record, sidecar, derivatives)
        self.catalog.upsert(self._rel(record), sidecar)
        replaced = False
        if from_inbox:
            # Only the bytes that were filed leave the inbox: a file replaced under the same
            # name since it was hashed stays for the next pass (recovery checks the same).
            current = _sha_or_none(path)
            replaced = current is not None and current != sha
            if current == sha:
                path.unlink()
                _fsync_parent(path)
        journal_done(self.archive.journal, sha)
        if self.on_filed is not None:
            self.on_filed(self._rel(record), sidecar)
        return Outcome(
            source=source_label,
            outcome="filed" if dossier_kind != "tray" else "unfiled",
            sha256=sha,
            record=f"records/{self._rel(record)}",
            archival_code=(sidecar.get("archival") or {}).get("code"),
            kind=keys.doc_type,
            keys={k: v for k, v in keys.as_dict().items() if v is not None},
            reason=_filed_reason(dossier_kind, keys.notes, replaced),
            code=None if dossier_kind != "tray" else "unresolved",
        )

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


def _display(path: Path) -> str:
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _filed_reason(dossier_kind: str, notes: list[str], replaced: bool) -> str | None:
    reasons = []
    if dossier_kind == "tray":
        reasons.append("; ".join(notes) or "未能确定所属档案(许可证号/案号/会议)")
    if replaced:
        reasons.append("收件箱中的同名文件在归档过程中被替换为新内容, 新文件留在收件箱, 下次处理")
    return "; ".join(reasons) or None


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
