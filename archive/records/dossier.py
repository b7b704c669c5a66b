"""A dossier as people read it: the header and the 卷内目录 in order, with each document's
findings and the documents filed elsewhere that belong to it too. One shape for both doors:
``dangan show`` prints it (``--json``: :meth:`Dossier.as_dict`), the web page renders it, the
卷内目录 and 备考表 (``dangan catalogue``) are written from it.

:func:`find_dossiers` finds the dossiers a key names (a dossier key exactly; else a licence
number, a retailer, a case number in any written form, a meeting series ``会议名称/年份`` or
a meeting name for all its years), lists each one's records in 卷内 order, and lists in a
dossier the records filed in another dossier's folder that belong to it too (the minutes of
a case meeting in each case they discussed: 参见, with the folder they live in; the catalog's
``crossrefs``). Documents withdrawn or destroyed out of them follow, listed apart.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from archive.core.doctypes import CASE_TYPES, doc_order
from archive.core.errors import NotFoundError
from archive.core.keys import normalize_case_number
from archive.core.meetings import Canonical, meeting_series
from archive.records.catalog import Catalog
from archive.records.corrections import WITHDRAWN
from archive.records.retention import DESTROYED
from archive.records.store import TOP_FOLDERS, TRAY

KIND_LABELS = {**TOP_FOLDERS, "tray": TRAY}
#: Kinds a record can be in besides a dossier (not offered as search filters).
OTHER_KIND_LABELS = {"withdrawn": "已撤出", "destroyed": "已销毁"}
#: What happened to a record, in words (the sidecar keeps the codes).
EVENT_LABELS = {
    "received": "收到",
    "checked": "检查",
    "filed": "归档",
    "duplicate": "再次收到 (重复)",
    "verified": "校验一致",
    "refiled": "重新归档",
    "typed": "确定类型",
    "moved": "移动",
    "numbered": "编档号",
    "stamped": "加盖归档章",
    "corrected": "更正",
    "withdrawn": "撤出",
    "replaces": "替换",
    "split_from": "拆分自",
    "destroyed": "销毁",
}
#: A document's state, in words (only filed ones are in a dossier's 卷内目录).
STATUS_LABELS = {"filed": "在档", "withdrawn": "已撤出", "destroyed": "已销毁"}
# A case discussion sits in a case's 卷内 order just before the notice of the penalty.
_DISCUSSION_ORDER = CASE_TYPES.index("行政处罚事先告知书") - 0.5


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind) or OTHER_KIND_LABELS.get(kind, kind)


@dataclass
class DocumentEntry:
    """One line of a 卷内目录."""

    number: int  # 序号: its place in the dossier
    record_id: str  # the SHA-256 of the original
    path: str  # under records/
    doc_type: str | None
    title: str
    date: str | None
    pages: int | None
    legible: bool | None
    filed_at: str
    mime: str
    original_name: str
    findings: list[dict[str, str]] = field(default_factory=list)
    archival_code: str | None = None  # 档号 (DA/T 22); None until numbered
    retention: str | None = None  # 保管期限
    status: str = "filed"  # or withdrawn, destroyed (archive.records.corrections, retention)
    # 参见: filed in another dossier's folder (its key), listed here too; number 0 then
    filed_in_key: str | None = None
    filed_in: str | None = None  # that folder in words: 会议记录 案审会/2021

    @property
    def record(self) -> str:
        return f"records/{self.path}"

    @property
    def cross_reference(self) -> bool:
        return self.filed_in_key is not None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def flagged(self) -> list[dict[str, str]]:
        """Findings worth a mark in the list (illegibility has its own flag)."""
        return [f for f in self.findings if f["code"] != "illegible"]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "record": self.record,
            "archival_code": self.archival_code,
            "retention": self.retention,
            "status": self.status,
            "doc_type": self.doc_type,
            "title": self.title,
            "date": self.date,
            "pages": self.pages,
            "legible": self.legible,
            "sha256": self.record_id,
            "filed_at": self.filed_at,
            "findings": self.findings,
        }
        if self.cross_reference:
            out |= {"cross_reference": True, "filed_in": self.filed_in}
        return out


@dataclass
class Dossier:
    key: str
    kind: str
    folder: str | None  # under the archive root: records/…; None: only documents filed elsewhere
    household: dict[str, Any] | None
    documents: list[DocumentEntry]  # in 卷内 order, 参见 entries among them

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind)

    @property
    def apart(self) -> bool:
        """Withdrawn or destroyed documents: listed apart, not a dossier's 卷内目录."""
        return self.kind in OTHER_KIND_LABELS

    @property
    def filed(self) -> list[DocumentEntry]:
        """The documents kept in this dossier's folder (its 件), in order."""
        return [d for d in self.documents if not d.cross_reference]

    @property
    def see_also(self) -> list[DocumentEntry]:
        """Documents filed in another dossier that belong to this one too (参见)."""
        return [d for d in self.documents if d.cross_reference]

    @property
    def pages(self) -> int:
        return sum(d.pages or 0 for d in self.filed)

    @property
    def summary(self) -> str:
        """How much it holds, in words (the access log says what was seen)."""
        see = f", 参见 {len(self.see_also)} 份" if self.see_also else ""
        return f"{len(self.filed)} 份文件{see}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "dossier": self.key,
            "kind": self.kind,
            "folder": self.folder,
            "household": self.household,
            "documents": [d.as_dict() for d in self.documents],
        }


def _findings(catalog: Catalog, ids: list[str]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" for _ in chunk)
        for row in catalog.db.execute(
            f"SELECT * FROM findings WHERE record_id IN ({marks}) ORDER BY rowid", chunk
        ):
            out.setdefault(row["record_id"], []).append(dict(row))
    return out


def _entry(
    number: int, row: sqlite3.Row, findings: list[dict[str, str]], ref_kind: str | None = None
) -> DocumentEntry:
    """One line; ``ref_kind``: listed in a dossier of that kind, filed in another's folder."""
    entry = DocumentEntry(
        number=number,
        record_id=row["record_id"],
        path=row["path"],
        doc_type=row["doc_type"],
        title=row["title"],
        date=row["doc_date"],
        pages=row["pages"],
        legible=None if row["legible"] is None else bool(row["legible"]),
        filed_at=row["filed_at"],
        mime=row["mime"],
        original_name=row["original_name"],
        findings=findings,
        archival_code=row["archival_code"],
        retention=row["retention"],
        status=row["status"],
    )
    if ref_kind is not None:
        entry.filed_in_key = row["dossier_key"]
        entry.filed_in = f"{TOP_FOLDERS.get(row['dossier_kind'], '')} {row['dossier_key']}"
        if ref_kind == "case" and row["meeting_type"]:  # 案审会记录, as a case's list names it
            entry.doc_type = f"{row['meeting_type']}记录"
    return entry


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


def _former_rows(catalog: Catalog, dossier_key: str, kind: str) -> list[sqlite3.Row]:
    """Records withdrawn or destroyed out of one dossier: their keys still name it (a
    licence dossier's own documents, a case's, a meeting type's of that year or, for a bare
    meeting name, of every year). Looked for among the withdrawn and destroyed only (the
    dossier index: a few rows, not the archive)."""
    apart = "dossier_key IN (?, ?) AND "
    gone: tuple[Any, ...] = (WITHDRAWN, DESTROYED)
    if kind == "household":
        return catalog.records(apart + "licence_no = ? AND case_no IS NULL", (*gone, dossier_key))
    if kind == "case":
        return catalog.records(apart + "case_no = ?", (*gone, dossier_key))
    meeting, slash, year = dossier_key.rpartition("/")
    if kind == "meeting" and not slash:
        return catalog.records(apart + "meeting_type = ?", (*gone, dossier_key))
    if kind == "meeting" and meeting and year.isdigit():
        return catalog.records(apart + "meeting_type = ? AND year = ?", (*gone, meeting, int(year)))
    return []


def _exact(catalog: Catalog, key: str) -> list[sqlite3.Row]:
    """A dossier's records by its own key, with those withdrawn or destroyed out of it."""
    rows = catalog.records("dossier_key = ?", (key,))
    if rows and rows[0]["status"] == "filed":
        rows += _former_rows(catalog, key, rows[0]["dossier_kind"])
    return rows


def _named(
    catalog: Catalog, key: str, canonical: Canonical | None
) -> tuple[list[sqlite3.Row], set[str]]:
    """The records *key* names, and the dossier keys it asks for (whose 参见 are listed
    even when the dossier has no folder of its own: a case known only from its minutes)."""
    rows = _exact(catalog, key)
    if rows:
        return rows, {key}
    meetings = meeting_keys(key, canonical)
    asked = {normalize_case_number(key) or key, *meetings}
    rows = catalog.dossier_rows(key)
    for meeting in meetings if not rows else ():
        if "/" in meeting:
            rows = _exact(catalog, meeting)
        else:  # a meeting name: its dossier of every year
            rows = catalog.records("dossier_kind = 'meeting' AND meeting_type = ?", (meeting,))
            rows += _former_rows(catalog, meeting, "meeting") if rows else []
        if rows:
            break
    return rows, asked


def _apart(rows: list[sqlite3.Row], findings: dict[str, list[dict[str, str]]]) -> list[Dossier]:
    """Documents no longer in a dossier, listed apart as the 已撤出 and 已销毁 groups."""
    out = []
    for status, folder in (("withdrawn", WITHDRAWN), ("destroyed", DESTROYED)):
        members = sorted(
            (r for r in rows if r["status"] == status),
            key=lambda r: (doc_order(r["doc_type"]), r["path"]),
        )
        if members:
            out.append(
                Dossier(
                    key=folder,
                    kind=status,
                    folder=f"records/{folder}",
                    household=None,
                    documents=[
                        _entry(i, r, findings.get(r["record_id"], []))
                        for i, r in enumerate(members, 1)
                    ],
                )
            )
    return out


def _dossier(
    catalog: Catalog,
    key: str,
    kind: str,
    members: list[tuple[float, str, sqlite3.Row, str | None]],
    findings: dict[str, list[dict[str, str]]],
) -> Dossier:
    members.sort(key=lambda m: (m[0], m[1]))
    own = [m[2] for m in members if m[3] is None]
    documents, number = [], 0
    for _, _, row, ref_kind in members:
        if ref_kind is None:  # a 件 of this dossier: its 序号; a 参见 has none
            number += 1
        place = number if ref_kind is None else 0
        documents.append(_entry(place, row, findings.get(row["record_id"], []), ref_kind))
    household = catalog.household(key) if kind == "household" else None
    return Dossier(
        key=key,
        kind=kind,
        folder="records/" + own[0]["path"].rsplit("/", 1)[0] if own else None,
        household=dict(household) if household else None,
        documents=documents,
    )


def find_dossiers(catalog: Catalog, key: str, canonical: Canonical | None = None) -> list[Dossier]:
    """The dossiers *key* names (see the module's doc), each with its documents and 参见 in
    卷内 order; then the documents withdrawn or destroyed out of them, listed apart (their 档号
    kept, never in a 卷内目录). ``canonical`` maps a meeting name to its configured type (the
    bureau's rules); without it, the names the program knows."""
    key = key.strip()
    rows, asked = _named(catalog, key, canonical) if key else ([], set())
    cross = {target: catalog.crossref_rows(target) for target in sorted(asked)}
    crossed = {r["record_id"] for refs in cross.values() for r in refs}
    # a record found by a number it names is listed in the asked dossier it belongs to
    rows = [r for r in rows if r["record_id"] not in crossed or r["dossier_key"] in asked]
    filed = [r for r in rows if r["status"] == "filed"]
    for target in sorted({r["dossier_key"] for r in filed} - asked):
        cross[target] = catalog.crossref_rows(target)
    if not rows and not any(cross.values()):
        raise NotFoundError(
            f"没有找到档案“{key}”: 可用许可证号、户名、案号、“会议名称/年份”或会议名称查询"
        )
    refs = [r for found in cross.values() for r in found]
    findings = _findings(catalog, list({r["record_id"] for r in rows + refs}))
    groups: dict[str, list[tuple[float, str, sqlite3.Row, str | None]]] = {}
    kinds: dict[str, str] = {}
    for row in filed:
        groups.setdefault(row["dossier_key"], []).append(
            (doc_order(row["doc_type"]), row["path"], row, None)
        )
        kinds.setdefault(row["dossier_key"], row["dossier_kind"])
    for target, found in cross.items():
        for row in found:
            ref_kind = row["ref_kind"]
            order = _DISCUSSION_ORDER if ref_kind == "case" else doc_order(row["doc_type"])
            groups.setdefault(target, []).append((order, row["path"], row, ref_kind))
            kinds.setdefault(target, ref_kind)
    out = [_dossier(catalog, k, kinds[k], members, findings) for k, members in groups.items()]
    kinds_first = list(KIND_LABELS)  # a retailer's licence dossier first, then its cases …
    out.sort(
        key=lambda d: (
            kinds_first.index(d.kind) if d.kind in kinds_first else len(kinds_first),
            d.key,
        )
    )
    return out + _apart([r for r in rows if r["status"] != "filed"], findings)


@dataclass
class RecordDetail:
    """One document with the dossier it belongs to and its history."""

    entry: DocumentEntry
    dossier_key: str
    dossier_kind: str
    household: dict[str, Any] | None
    events: list[dict[str, Any]]
    keys: dict[str, Any]
    # the dossiers that list it too, as (kind, key): a case its meeting's minutes discussed
    listed_in: list[tuple[str, str]] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return kind_label(self.dossier_kind)


def record_detail(catalog: Catalog, record_id: str) -> RecordDetail:
    row = catalog.by_sha(record_id)
    if row is None:
        raise NotFoundError(f"没有编号为 {record_id[:12]}… 的档案文件: 它可能已被移动或重新归档")
    dossier = next(
        (d for d in find_dossiers(catalog, row["dossier_key"]) if d.key == row["dossier_key"]),
        None,
    )
    number = next(
        (d.number for d in (dossier.filed if dossier else []) if d.record_id == record_id), 0
    )
    household = (
        catalog.household(row["dossier_key"]) if row["dossier_kind"] == "household" else None
    )
    return RecordDetail(
        entry=_entry(number, row, [dict(f) for f in catalog.findings(record_id)]),
        dossier_key=row["dossier_key"],
        dossier_kind=row["dossier_kind"],
        household=dict(household) if household else None,
        events=[
            {**dict(e), "label": EVENT_LABELS.get(e["event"], e["event"])}
            for e in catalog.events(record_id)
        ],
        keys=json.loads(row["meta"] or "{}"),
        listed_in=[(r["dossier_kind"], r["dossier_key"]) for r in catalog.listed_in(record_id)],
    )
