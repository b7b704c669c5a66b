"""Finding records: a clerk's query plus the filters a page offers, a page of hits at a time.

One shape for both doors: ``dangan search`` prints a :class:`SearchPage`, the web page
renders it (highlights as pieces, never as markup). Filters are clauses of the query
language (:mod:`indexers.query`) added to what was typed, so ``类型:询问笔录`` typed and the
type chosen from a list mean the same thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from archive.core.errors import UsageError
from archive.records.catalog import Catalog
from archive.records.dossier import KIND_LABELS
from indexers import query as ql
from indexers.analyzer import fold
from indexers.search import Hit, SearchIndex

MAX_PER_PAGE = 1000
MAX_PAGE = 500  # deeper pages are refused: narrow the query instead
CLASSES = ("守法经营户", "非重点监控户", "重点监控户")


@dataclass(frozen=True)
class SearchRequest:
    """What was asked: the typed query and the chosen filters ('' or None: not chosen)."""

    q: str = ""
    doc_type: str = ""
    household_class: str = ""
    year: int | None = None
    kind: str = ""
    retailer: str = ""  # a name (part of it) or the last 4 to 12 digits of a licence number
    page: int = 1
    per_page: int = 20

    def filters(self) -> list[ql.Clause]:
        """The filters as query clauses; a bad value is refused with the fix."""
        out: list[ql.Clause] = []
        if self.doc_type.strip():
            out.append(ql.Exact("doc_type", fold(self.doc_type.strip())))
        if self.household_class:
            if self.household_class not in CLASSES:
                raise UsageError(
                    f"类别“{self.household_class}”不对: 应为 {'、'.join(CLASSES)} 之一"
                )
            out.append(ql.Exact("household_class", self.household_class))
        if self.year is not None:
            if not 1900 <= self.year <= 2200:
                raise UsageError(f"年份“{self.year}”不对: 应为四位年份, 如 2024")
            out.append(ql.DateRange(self.year * 10000 + 101, self.year * 10000 + 1231))
        if self.kind:
            if self.kind not in KIND_LABELS:
                raise UsageError(
                    f"档案种类“{self.kind}”不对: 应为 {'、'.join(KIND_LABELS.values())} 之一"
                )
            out.append(ql.Exact("dossier_kind", self.kind))
        retailer = self.retailer.strip()
        if retailer:
            digits = retailer.replace(" ", "")
            if digits.isdigit() and 4 <= len(digits) <= 12:
                out.append(ql.Licence(digits))
            else:
                out.append(ql.Within("retailer", fold(retailer)))
        return out

    @property
    def empty(self) -> bool:
        return not self.q.strip() and not self.filters()


@dataclass
class SearchPage:
    request: SearchRequest
    hits: list[Hit]
    total: int
    suggestions: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def pages(self) -> int:
        return min(MAX_PAGE, max(1, math.ceil(self.total / self.request.per_page)))

    @property
    def first(self) -> int:
        """The number of the first hit shown (1-based)."""
        return (self.request.page - 1) * self.request.per_page + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.request.q,
            "total": self.total,
            "page": self.request.page,
            "pages": self.pages,
            "hits": [
                {
                    **{k: v for k, v in h.__dict__.items() if k != "parts"},
                    "record": f"records/{h.path}",
                }
                for h in self.hits
            ],
            "suggestions": self.suggestions,
            "message": self.message,
        }


def search_page(index: SearchIndex, catalog: Catalog, request: SearchRequest) -> SearchPage:
    """One page of hits for *request* (best first; by date when only filters were given),
    each with its 档号 from the catalog (the index does not keep it)."""
    if not 1 <= request.per_page <= MAX_PER_PAGE:
        raise UsageError(f"每页条数应在 1 到 {MAX_PER_PAGE} 之间")
    if not 1 <= request.page <= MAX_PAGE:
        raise UsageError(f"页码应在 1 到 {MAX_PAGE} 之间; 请缩小检索范围")
    result = index.search(
        request.q,
        limit=request.per_page,
        offset=(request.page - 1) * request.per_page,
        filters=request.filters(),
        names=lambda: [r[0] for r in catalog.db.execute("SELECT name FROM households")],
    )
    if result.hits:
        ids = [h.record_id for h in result.hits]
        marks = ",".join("?" for _ in ids)
        codes = dict(
            catalog.db.execute(
                f"SELECT record_id, archival_code FROM records WHERE record_id IN ({marks})", ids
            ).fetchall()
        )
        for hit in result.hits:
            hit.archival_code = codes.get(hit.record_id)
    return SearchPage(request, result.hits, result.total, result.suggestions, result.message)


@dataclass(frozen=True)
class HouseholdHint:
    licence_no: str
    name: str
    operator: str | None


def suggest_households(catalog: Catalog, text: str, limit: int = 10) -> list[HouseholdHint]:
    """Households whose name contains *text*, or whose licence number ends in its digits."""
    text = text.strip()
    if not text:
        return []
    digits = text.replace(" ", "")
    if digits.isdigit():
        if len(digits) < 3:
            return []
        rows = catalog.db.execute(
            "SELECT licence_no, name, operator FROM households WHERE licence_no LIKE ? "
            "ORDER BY licence_no LIMIT ?",
            ("%" + digits, limit),
        )
    else:
        needle = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = catalog.db.execute(
            "SELECT licence_no, name, operator FROM households "
            "WHERE name LIKE ? ESCAPE '\\' OR operator LIKE ? ESCAPE '\\' "
            "ORDER BY instr(name, ?) = 0, length(name), name LIMIT ?",
            (f"%{needle}%", f"%{needle}%", text, limit),
        )
    return [HouseholdHint(r[0], r[1], r[2]) for r in rows]


@dataclass
class FilterOptions:
    doc_types: list[str]
    years: list[int]
    classes: tuple[str, ...] = CLASSES
    kinds: dict[str, str] = field(default_factory=lambda: dict(KIND_LABELS))


def filter_options(catalog: Catalog) -> FilterOptions:
    """The values the filters offer: the document types and years the archive holds."""
    types = [
        r[0]
        for r in catalog.db.execute(
            "SELECT DISTINCT doc_type FROM records WHERE doc_type IS NOT NULL ORDER BY doc_type"
        )
    ]
    years = [
        int(r[0])
        for r in catalog.db.execute(
            "SELECT DISTINCT substr(doc_date, 1, 4) FROM records WHERE doc_date IS NOT NULL "
            "ORDER BY 1 DESC"
        )
        if str(r[0]).isdigit()
    ]
    return FilterOptions(types, years)
