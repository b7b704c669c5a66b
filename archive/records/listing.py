"""A dossier's 卷内目录 as ``dangan show`` (and the web app) list it, cross-references included.

:func:`dossier_listing` finds the dossiers a key names (a licence number, a retailer, a case
number, a meeting series ``会议名称/年份`` or a meeting name for all its years), lists each
one's records in 卷内 order, and lists in a case's dossier the minutes filed in a meeting's
folder that belong to that case too (marked ``cross_reference``, with the folder they live in).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from archive.core.doctypes import CASE_TYPES, doc_order
from archive.core.keys import normalize_case_number
from archive.core.meetings import Canonical, meeting_series
from archive.records.catalog import Catalog
from archive.records.corrections import WITHDRAWN
from archive.records.retention import DESTROYED
from archive.records.store import TOP_FOLDERS

# A case discussion sits in a case's 卷内 order just before the notice of the penalty.
_DISCUSSION_ORDER = CASE_TYPES.index("行政处罚事先告知书") - 0.5


def meeting_keys(key: str, canonical: Canonical | None = None) -> tuple[str, ...]:
    """The meeting series or names a typed key may mean: ``2021年第一季度支委会议/2011``
    means ``支部委员会/2011`` as the archive files it (``canonical``, the rules' mapping of
    names to configured types); a bare name means that meeting in every year."""
    head, slash, tail = key.rpartition("/")
    if not slash:
        head, tail = key, ""
    name = meeting_series(head, canonical)
    if not name:
        return ()
    return (f"{name}/{tail}",) if tail else (name,)


def _rows(catalog: Catalog, key: str, canonical: Canonical | None) -> list[sqlite3.Row]:
    rows = catalog.dossier_rows(key)
    if rows:
        return rows
    for meeting in meeting_keys(key, canonical):
        field = "dossier_key" if "/" in meeting else "meeting_type"
        rows = catalog.records(f"dossier_kind = 'meeting' AND {field} = ?", (meeting,))
        if rows:
            return rows
    return []


def _document(catalog: Catalog, row: sqlite3.Row, ref_kind: str | None) -> dict[str, Any]:
    doc = {
        "record": f"records/{row['path']}",
        "archival_code": row["archival_code"],
        "retention": row["retention"],
        "status": row["status"],
        "doc_type": row["doc_type"],
        "title": row["title"],
        "date": row["doc_date"],
        "pages": row["pages"],
        "legible": None if row["legible"] is None else bool(row["legible"]),
        "sha256": row["record_id"],
        "filed_at": row["filed_at"],
        "findings": [dict(f) for f in catalog.findings(row["record_id"])],
    }
    if ref_kind is not None:  # listed here, filed in another dossier's folder
        doc["cross_reference"] = True
        doc["filed_in"] = f"{TOP_FOLDERS.get(row['dossier_kind'], '')} {row['dossier_key']}"
        if ref_kind == "case" and row["meeting_type"]:
            doc["doc_type"] = f"{row['meeting_type']}记录"
    return doc


def dossier_listing(
    catalog: Catalog, key: str, canonical: Canonical | None = None
) -> list[dict[str, Any]]:
    """Every dossier ``key`` names, each with its documents in 卷内 order (empty: none).
    ``canonical`` maps a meeting name to its configured type (the rules')."""
    key = key.strip()
    asked = {normalize_case_number(key) or key, *meeting_keys(key, canonical)}
    cross = [(target, row) for target in sorted(asked) for row in catalog.crossref_rows(target)]
    crossed = {row["record_id"] for _, row in cross}
    # a record found by a number it names is listed in the asked dossier it belongs to
    home = [
        row
        for row in _rows(catalog, key, canonical)
        if row["record_id"] not in crossed or row["dossier_key"] in asked
    ]
    for target in sorted({row["dossier_key"] for row in home} - asked):
        cross += [(target, row) for row in catalog.crossref_rows(target)]
    withdrawn = [row for row in home if row["status"] != "filed"]
    groups: dict[str, list[tuple[float, str, sqlite3.Row, str | None]]] = {}
    kinds: dict[str, str] = {}
    for row in (r for r in home if r["status"] == "filed"):
        groups.setdefault(row["dossier_key"], []).append(
            (doc_order(row["doc_type"]), row["path"], row, None)
        )
        kinds.setdefault(row["dossier_key"], row["dossier_kind"])
    for target, row in cross:
        kind = row["ref_kind"]
        order = _DISCUSSION_ORDER if kind == "case" else doc_order(row["doc_type"])
        groups.setdefault(target, []).append((order, row["path"], row, kind))
        kinds.setdefault(target, kind)
    out = []
    for dossier_key, members in groups.items():
        members.sort(key=lambda m: (m[0], m[1]))
        own = [m[2] for m in members if m[3] is None]
        household = catalog.household(dossier_key) if kinds[dossier_key] == "household" else None
        out.append(
            {
                "dossier": dossier_key,
                "kind": kinds[dossier_key],
                "folder": "records/" + own[0]["path"].rsplit("/", 1)[0] if own else None,
                "household": dict(household) if household else None,
                "documents": [_document(catalog, m[2], m[3]) for m in members],
            }
        )
    # out of their dossiers (corrections, destruction): listed apart, as the web app lists them
    for status, folder in (("withdrawn", WITHDRAWN), ("destroyed", DESTROYED)):
        gone = sorted(
            (r for r in withdrawn if r["status"] == status),
            key=lambda r: (doc_order(r["doc_type"]), r["path"]),
        )
        if gone:
            out.append(
                {
                    "dossier": folder,
                    "kind": status,
                    "folder": f"records/{folder}",
                    "household": None,
                    "documents": [_document(catalog, row, None) for row in gone],
                }
            )
    return out
