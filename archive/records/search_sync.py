"""Keep the full-text index following the catalog (the index is derived, like the catalog)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from archive.core.config import Archive
from archive.records.catalog import Catalog
from archive.records.finder import SearchPage, SearchRequest, search_page
from archive.records.store import also_in
from indexers import analyzer
from indexers.search import IndexDoc, SearchIndex

_BATCH = 500


@dataclass
class SyncReport:
    added: int = 0
    deleted: int = 0
    rebuilt: bool = False


def _title(row: Any) -> str:
    return str(row["title"] or row["original_name"] or "")


def index_doc(row: Any, households: dict[str, Any]) -> IndexDoc:
    """What the index holds of one catalog row (with the roster's name and class)."""
    meta = json.loads(row["meta"] or "{}")
    hh = households.get(row["licence_no"] or "")
    retailer = (hh["name"] if hh else None) or row["retailer"]
    extra = " ".join(
        filter(
            None,
            [
                meta.get("host"),
                meta.get("recorder"),
                meta.get("topic"),
                *(meta.get("attendees") or []),
            ],
        )
    )
    filed = row["status"] == "filed"  # a withdrawn record is in no other dossier either
    also = tuple(k for _, k in also_in(row["dossier_kind"], row["dossier_key"], meta) if filed)
    return IndexDoc(
        record_id=row["record_id"],
        path=row["path"],
        dossier=row["dossier_key"],
        dossier_kind=row["dossier_kind"],
        title=_title(row),
        doc_type=row["doc_type"],
        licence_no=row["licence_no"],
        case_no=row["case_no"],
        retailer=retailer,
        household_class=hh["class"] if hh else None,
        meeting_type=row["meeting_type"],
        date=row["doc_date"],
        seals="｜".join((meta.get("seals") or {}).get("bodies") or ()) or None,
        also_in=also,
        text="\n".join(
            filter(
                None,
                [row["text"], extra, hh["address"] if hh else None, hh["operator"] if hh else None],
            )
        ),
    )


def _docs(catalog: Catalog, where: str = "1", params: Iterable[Any] = ()) -> Iterator[IndexDoc]:
    households = {h["licence_no"]: h for h in catalog.households()}
    cursor = catalog.db.execute(f"SELECT * FROM records WHERE {where} ORDER BY path", tuple(params))
    while rows := cursor.fetchmany(_BATCH):
        for row in rows:
            yield index_doc(row, households)


def warm_up_in_background() -> threading.Thread:
    """Load the index's analyzer (jieba's dictionary and OpenCC's tables) in a thread, so that
    the index update after a batch finds it loaded; meanwhile the batch is filed (its
    fsyncs and PDFium run without the GIL). Harmless when the batch files nothing."""
    thread = threading.Thread(target=analyzer.warm_up, name="dangan-warm-up", daemon=True)
    thread.start()
    return thread


def open_index(archive: Archive) -> tuple[SearchIndex, bool]:
    return SearchIndex.open_or_create(archive.index_dir)


def _marker(archive: Archive) -> Any:
    return archive.state / "index.rebuilding"


def rebuild_index(
    archive: Archive, catalog: Catalog, progress: Callable[[int, int], None] | None = None
) -> int:
    """Index every catalogued record. An interrupted rebuild resumes where it stopped."""
    marker = _marker(archive)
    index, _ = open_index(archive)
    try:
        if marker.exists():
            done = index.indexed_ids()  # resume: what the interrupted run committed stays
        else:
            marker.touch()
            index.clear()
            done = set()
        total = catalog.db.execute("SELECT count(*) FROM records").fetchone()[0]
        todo = (d for d in _docs(catalog) if d.record_id not in done)
        added = len(done)
        batch: list[IndexDoc] = []
        for doc in todo:
            batch.append(doc)
            if len(batch) >= _BATCH:
                added += index.add(batch, batch_size=_BATCH)
                batch = []
                if progress is not None:
                    progress(added, total)
        if batch:
            added += index.add(batch, batch_size=_BATCH)
        stale = index.indexed_ids() - {
            r[0] for r in catalog.db.execute("SELECT record_id FROM records")
        }
        if stale:
            index.delete(stale)
        marker.unlink()
        return added
    finally:
        index.close()


def sync_index(archive: Archive, catalog: Catalog, *, changed: Iterable[str] = ()) -> SyncReport:
    """Bring the index up to the catalog: add what is new or ``changed``, drop what is gone."""
    index, needs_rebuild = open_index(archive)
    if needs_rebuild or _marker(archive).exists():
        index.close()
        return SyncReport(added=rebuild_index(archive, catalog), rebuilt=True)
    try:
        in_index = index.indexed_ids()
        in_catalog = {r[0] for r in catalog.db.execute("SELECT record_id FROM records")}
        wanted = (in_catalog - in_index) | (set(changed) & in_catalog)
        report = SyncReport()
        if wanted:
            marks = ",".join("?" for _ in wanted)
            report.added = index.add(_docs(catalog, f"record_id IN ({marks})", sorted(wanted)))
        gone = in_index - in_catalog
        if gone:
            report.deleted = index.delete(gone)
        return report
    finally:
        index.close()


def search_archive(archive: Archive, catalog: Catalog, request: SearchRequest) -> SearchPage:
    """Search the archive's index (rebuilt first when missing or half-built); names for
    suggestions come from the roster."""
    index, needs_rebuild = open_index(archive)
    try:
        if needs_rebuild or _marker(archive).exists():
            index.close()
            rebuild_index(archive, catalog)
            index, _ = open_index(archive)
        return search_page(index, catalog, request)
    finally:
        index.close()
