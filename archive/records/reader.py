"""Reading an archive from a long-running process (the web server), beside the watcher.

Nothing here writes the catalog or the index, creates them, or rebuilds them: the catalog
is opened read-only per call, the index once per process (reopened when ``reindex``
replaced it). A file is served only when its path, resolved with every symbolic link
followed, lies inside ``records/``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from archive.core.config import Archive
from archive.core.errors import NotFoundError
from archive.core.meetings import Canonical
from archive.records.catalog import Catalog
from archive.records.dossier import Dossier, RecordDetail, find_dossiers, record_detail
from archive.records.finder import (
    FilterOptions,
    HouseholdHint,
    SearchPage,
    SearchRequest,
    filter_options,
    search_page,
    suggest_households,
)
from archive.records.previews import WIDTHS, PreviewError, can_preview, preview
from archive.records.store import derivative_path
from indexers.search import SearchIndex, SearchIndexError

SEARCHABLE_SUFFIX = ".ocr.pdf"
#: Types a browser may show in place; anything else is offered as a download.
INLINE_TYPES = frozenset(
    {"application/pdf", "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"}
)
_OPTIONS_SECONDS = 60.0


@dataclass(frozen=True)
class RecordFile:
    """A file to send: where it is, its type, the name to offer, and whether to show it."""

    path: Path
    media_type: str
    filename: str

    @property
    def inline(self) -> bool:
        return self.media_type in INLINE_TYPES


def inside(root: Path, relative: str) -> Path:
    """*relative* under *root*, every link followed; refused (as not found) when the result
    lies outside *root*: ``..``, an absolute path, a link out of the archive."""
    base = root.resolve()
    target = (base / relative).resolve()
    if target == base or base not in target.parents:
        raise NotFoundError(f"{relative[:80]}: 不在档案库内, 拒绝访问")
    return target


def destroyed(what: str) -> NotFoundError:
    """The refusal for a destroyed record's bytes: its pages, previews and files are gone."""
    return NotFoundError(f"{what}: 已按保管期限销毁, 只保留著录信息 (见销毁清册); 原件不能再查看")


class ArchiveReader:
    """Read-only questions to one archive, safe to share between threads."""

    def __init__(self, archive: Archive, canonical: Canonical | None = None) -> None:
        self.archive = archive
        self.canonical = canonical  # a meeting name → its configured type (the bureau's rules)
        self._index: SearchIndex | None = None
        self._lock = threading.Lock()
        self._options: tuple[float, FilterOptions] | None = None
        self._local = threading.local()

    @contextlib.contextmanager
    def catalog(self) -> Iterator[Catalog]:
        """This thread's read-only catalog, kept open between calls; opened afresh when the
        file was replaced (a catalog deleted and rebuilt is a new file)."""
        path = self.archive.catalog_path
        try:
            inode = path.stat().st_ino
        except OSError:
            inode = None
        kept: tuple[int | None, Catalog] | None = getattr(self._local, "catalog", None)
        if kept is None or kept[0] != inode or inode is None:
            if kept is not None:
                kept[1].close()
                self._local.catalog = None
            kept = (inode, Catalog(path, readonly=True))
            self._local.catalog = kept
        yield kept[1]

    # -- search ----------------------------------------------------------------------------

    def _search_index(self, fresh: bool = False) -> SearchIndex:
        with self._lock:
            if self._index is None or fresh:
                self._index = SearchIndex.open_existing(self.archive.index_dir)
            return self._index

    @property
    def index_rebuilding(self) -> bool:
        return (self.archive.state / "index.rebuilding").exists()

    def search(self, request: SearchRequest) -> SearchPage:
        with self.catalog() as catalog:
            try:
                return search_page(self._search_index(), catalog, request)
            except (SearchIndexError, OSError, ValueError):
                # ``reindex`` may have replaced the index under us: open it afresh, once
                return search_page(self._search_index(fresh=True), catalog, request)

    def suggest(self, text: str, limit: int = 10) -> list[HouseholdHint]:
        with self.catalog() as catalog:
            return suggest_households(catalog, text, limit)

    def filter_options(self) -> FilterOptions:
        cached = self._options
        if cached is not None and time.monotonic() - cached[0] < _OPTIONS_SECONDS:
            return cached[1]
        with self.catalog() as catalog:
            options = filter_options(catalog)
        self._options = (time.monotonic(), options)
        return options

    # -- reading ---------------------------------------------------------------------------

    def dossiers(self, key: str) -> list[Dossier]:
        with self.catalog() as catalog:
            return find_dossiers(catalog, key, self.canonical)

    def record(self, record_id: str) -> RecordDetail:
        with self.catalog() as catalog:
            return record_detail(catalog, record_id)

    def _row(self, record_id: str) -> tuple[str, str, str, int]:
        with self.catalog() as catalog:
            row = catalog.by_sha(record_id)
        if row is None:
            raise NotFoundError(f"没有编号为 {record_id[:12]}… 的档案文件")
        if row["status"] == "destroyed":
            raise destroyed(row["archival_code"] or row["title"])
        return row["path"], row["mime"], row["original_name"], int(row["pages"] or 1)

    def original(self, record_id: str) -> RecordFile:
        path, mime, name, _ = self._row(record_id)
        target = inside(self.archive.records, path)
        if not target.is_file():
            raise NotFoundError(f"records/{path}: 原件不在了; 请运行 dangan verify 查明")
        return RecordFile(target, mime or "application/octet-stream", name or target.name)

    def searchable(self, record_id: str) -> RecordFile | None:
        """The searchable PDF made by OCR beside the original, if there is one."""
        path, _, name, _ = self._row(record_id)
        target = inside(self.archive.records, path)
        beside = derivative_path(target, SEARCHABLE_SUFFIX)
        records = self.archive.records.resolve()
        derived = inside(records, beside.relative_to(records).as_posix())
        if not derived.is_file():
            return None
        return RecordFile(
            derived, "application/pdf", Path(name or target.name).stem + "(可检索).pdf"
        )

    def preview(self, record_id: str, page: int, size: str) -> Path:
        if size not in WIDTHS:
            raise NotFoundError(f"没有“{size}”这种预览尺寸")
        path, mime, _, pages = self._row(record_id)
        if not 1 <= page <= pages:
            raise NotFoundError(f"该文件共 {pages} 页, 没有第 {page} 页")
        if not can_preview(mime):
            raise PreviewError(f"这种文件 ({mime}) 不能预览; 请下载原件查看")
        source = inside(self.archive.records, path)
        cache = self.archive.state / "previews" / record_id[:2] / f"{record_id}-{page}-{size}.jpg"
        return preview(source, mime, page, size, cache)
