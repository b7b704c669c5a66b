"""Assemble the intake pipeline (text extraction, OCR, classification) from an archive's settings."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.catalog import Catalog
from archive.config import Archive
from archive.intake import Extractor, Intake
from archive.preflight import Preflight


@contextlib.contextmanager
def extractor_for(archive: Archive, *, ocr: bool | None = None) -> Iterator[Extractor | None]:
    """The text extractor for intake; OCR workers live as long as the context."""
    try:
        from indexers.extract import extract_document
        from indexers.ocr import OcrPool
    except ImportError:
        yield None
        return
    use_ocr = archive.config.ocr_enabled if ocr is None else ocr
    pool_cm: Any = (
        OcrPool(archive.config.ocr_workers or None) if use_ocr else contextlib.nullcontext()
    )
    with pool_cm as pool:
        yield PoolExtractor(extract_document, pool)


@dataclass
class PoolExtractor:
    """Text for intake: the text layer, and OCR through a pool shared by every document."""

    extract_document: Callable[..., Any]
    pool: Any

    @property
    def parallel(self) -> int:
        """How many documents are worth reading at once (the pool's worker processes)."""
        if self.pool is None or getattr(self.pool, "in_process", True):
            return 1
        return int(self.pool.workers)

    def __call__(self, path: Path, checked: Preflight) -> Any:
        if checked.mime not in ("application/pdf", "image/jpeg", "image/png", "image/tiff"):
            return None
        return self.extract_document(path, checked.mime, ocr=self.pool)


def make_intake(
    archive: Archive, catalog: Catalog, extractor: Extractor | None, **kw: Any
) -> Intake:
    classifier = None
    try:
        from archive.classify import make_classifier

        classifier = make_classifier(archive, catalog)
    except ImportError:
        pass
    kw.setdefault("prefetch", getattr(extractor, "parallel", 1))
    return Intake(archive, catalog, extractor=extractor, classifier=classifier, **kw)


def after_batch(archive: Archive, catalog: Catalog, *, changed: Iterable[str] = ()) -> None:
    """After a batch of filing: file tray documents their text now resolves, update the index."""
    moved: list[str] = []
    try:
        from archive.classify import make_classifier
        from archive.refile import refile_tray
    except ImportError:
        pass
    else:
        for item in refile_tray(archive, catalog, make_classifier(archive, catalog)):
            rows = catalog.records("path = ?", (item.record.removeprefix("records/"),))
            moved += [r["record_id"] for r in rows]
    from archive.search_sync import sync_index

    sync_index(archive, catalog, changed=[*changed, *moved])
