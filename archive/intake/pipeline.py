"""The intake pipeline assembled from an archive's settings: text extraction and OCR, the
classifier, and what follows a batch (refiling the tray, updating the search index).

``dangan ingest``, ``dangan watch`` and (later) an upload from the web app call these, so
that every door files the same way."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.core.config import Archive, set_area_codes
from archive.core.keys import infer_area_codes
from archive.intake.classify import make_classifier
from archive.intake.intake import Extractor, Intake
from archive.intake.preflight import Preflight
from archive.intake.refile import refile_tray
from archive.intake.rules import load_rules
from archive.records.catalog import Catalog
from archive.records.households import parse_roster, rename_household_folders, write_roster
from archive.records.numbering import NumberingPolicy
from archive.records.reindex import open_catalog
from archive.records.search_sync import sync_index, warm_up_in_background
from indexers.extract import extract_document


@contextlib.contextmanager
def extractor_for(
    archive: Archive, *, ocr: bool | None = None, notice: Callable[[str], None] | None = None
) -> Iterator[Extractor | None]:
    """The text extractor for intake; OCR workers live as long as the context.

    With ``[ocr] broker`` set, pages are read by ``dangan ocr-worker`` processes through the
    queue (``notice`` hears when reading has to wait); otherwise by a local pool.
    """
    use_ocr = archive.config.ocr_enabled if ocr is None else ocr
    cfg = archive.config
    pool_cm: Any = contextlib.nullcontext()
    if use_ocr and cfg.ocr_broker:
        from indexers.ocr_client import OcrQueue

        pool_cm = OcrQueue(
            cfg.ocr_broker,
            engine=cfg.ocr_engine,
            wait_seconds=cfg.ocr_wait_seconds,
            notice=notice,
        )
    elif use_ocr:
        from indexers.ocr import OcrPool

        pool_cm = OcrPool(
            cfg.ocr_workers or None, engine=cfg.ocr_engine, threads=cfg.ocr_threads or None
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
        """How many documents are worth reading at once: the pool's worker processes, and at
        least two (the next document is read, in PDFium's C code without the GIL, while the
        last one is written to disk and fsynced)."""
        if self.pool is None or getattr(self.pool, "in_process", True):
            return 2
        return max(2, int(self.pool.workers))

    @property
    def ocr(self) -> bool:
        """Whether pages without a text layer are read by OCR."""
        return self.pool is not None

    def without_ocr(self) -> PoolExtractor:
        """This extractor for text layers only: what a worker process reading ahead runs."""
        return PoolExtractor(self.extract_document, None)

    def __call__(
        self,
        path: Path,
        checked: Preflight,
        progress: Callable[[int, int], None] | None = None,
    ) -> Any:
        if checked.mime not in ("application/pdf", "image/jpeg", "image/png", "image/tiff"):
            return None
        return self.extract_document(path, checked.mime, ocr=self.pool, progress=progress)


def numbering_policy(archive: Archive) -> NumberingPolicy:
    """How documents are numbered here: dangan.toml's [archives] and the rules' 保管期限."""
    return NumberingPolicy.from_config(archive.config, load_rules(archive.root).retention_of)


def make_intake(
    archive: Archive, catalog: Catalog, extractor: Extractor | None, **kw: Any
) -> Intake:
    classifier = make_classifier(archive, catalog)
    kw.setdefault("prefetch", getattr(extractor, "parallel", 1))
    kw.setdefault("numbering", numbering_policy(archive))
    # after_batch's index update needs jieba's dictionary: loaded while the files are filed
    kw.setdefault("before_filing", warm_up_in_background)
    return Intake(archive, catalog, extractor=extractor, classifier=classifier, **kw)


def after_batch(archive: Archive, catalog: Catalog, *, changed: Iterable[str] = ()) -> None:
    """After a batch of filing: file tray documents their text now resolves, update the index."""
    moved: list[str] = []
    policy = numbering_policy(archive)
    for item in refile_tray(archive, catalog, make_classifier(archive, catalog), numbering=policy):
        rows = catalog.records("path = ?", (item.record.removeprefix("records/"),))
        moved += [r["record_id"] for r in rows]
    sync_index(archive, catalog, changed=[*changed, *moved])


def import_roster(archive: Archive, file: Path) -> int:
    """Replace the roster with ``file`` (CSV or XLSX, validated whole first), rename the
    household folders whose retailer's name changed, and refile what it now resolves.
    An archive without area codes (a new one) takes them from this roster (the county codes
    its licence numbers begin with), so that unlabelled numbers of the county are found.
    Returns the number of households imported."""
    rows = parse_roster(file, archive.config.area_codes)
    with archive.writer_lock(), open_catalog(archive) as catalog:
        if not archive.config.area_codes:
            codes = infer_area_codes(str(r["licence_no"]) for r in rows if r.get("licence_no"))
            if codes:
                set_area_codes(archive, codes)
        write_roster(archive.roster_path, rows)
        catalog.replace_households(rows)
        moved: list[str] = []
        for old, new in rename_household_folders(archive, rows):
            catalog.move_prefix(old, new)
            moved += [r["record_id"] for r in catalog.records("path LIKE ?", (new + "/%",))]
        after_batch(archive, catalog, changed=moved)
    return len(rows)
