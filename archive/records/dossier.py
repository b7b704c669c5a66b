"""A dossier as people read it: the header and the 卷内目录 in order, with each document's
findings. One shape for both doors: ``dangan show`` prints it, the web page renders it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from archive.core.doctypes import doc_order
from archive.core.errors import NotFoundError
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

    @property
    def record(self) -> str:
        return f"records/{self.path}"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def flagged(self) -> list[dict[str, str]]:
        """Findings worth a mark in the list (illegibility has its own flag)."""
        return [f for f in self.findings if f["code"] != "illegible"]

    def as_dict(self) -> dict[str, Any]:
        return {
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


@dataclass
class Dossier:
    key: str
    kind: str
    folder: str  # under the archive root: records/…
    household: dict[str, Any] | None
    documents: list[DocumentEntry]

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind)

    @property
    def apart(self) -> bool:
        """Withdrawn or destroyed documents: listed apart, not a dossier's 卷内目录."""
        return self.kind in OTHER_KIND_LABELS

    @property
    def pages(self) -> int:
        return sum(d.pages or 0 for d in self.documents)

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


def _entry(number: int, row: sqlite3.Row, findings: list[dict[str, str]]) -> DocumentEntry:
    return DocumentEntry(
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


def _former_rows(catalog: Catalog, dossier_key: str, kind: str) -> list[sqlite3.Row]:
    """Records withdrawn or destroyed out of one dossier: their keys still name it (a
    licence dossier's own documents, a case's, a meeting type's of that year). Looked for
    among the withdrawn and destroyed only (the dossier index: a few rows, not the archive)."""
    apart = "dossier_key IN (?, ?) AND "
    gone: tuple[Any, ...] = (WITHDRAWN, DESTROYED)
    if kind == "household":
        return catalog.records(apart + "licence_no = ? AND case_no IS NULL", (*gone, dossier_key))
    if kind == "case":
        return catalog.records(apart + "case_no = ?", (*gone, dossier_key))
    meeting, _, year = dossier_key.rpartition("/")
    if kind == "meeting" and meeting and year.isdigit():
        return catalog.records(apart + "meeting_type = ? AND year = ?", (*gone, meeting, int(year)))
    return []


def _apart(rows: list[sqlite3.Row], findings: dict[str, list[dict[str, str]]]) -> list[Dossier]:
    """Documents no longer in a dossier, listed apart as the 已撤出 and 已销毁 groups."""
    out = []
    for status, folder in (("withdrawn", WITHDRAWN), ("destroyed", DESTROYED)):
        members = [r for r in rows if r["status"] == status]
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


def find_dossiers(catalog: Catalog, key: str) -> list[Dossier]:
    """The dossiers *key* names: a dossier key exactly, else a licence number, case number
    (any written form), retailer or roster name, or "会议类型/年份". Documents withdrawn or
    destroyed out of them follow, listed apart (their 档号 kept, never in the 卷内目录)."""
    key = key.strip()
    rows = catalog.records("dossier_key = ?", (key,)) if key else []
    if rows and rows[0]["status"] == "filed":
        rows += _former_rows(catalog, key, rows[0]["dossier_kind"])
    elif not rows and key:
        rows = catalog.dossier_rows(key)
    if not rows:
        raise NotFoundError(f"没有找到档案“{key}”: 可用许可证号、户名、案号或“会议类型/年份”查询")
    rows = sorted(rows, key=lambda r: (doc_order(r["doc_type"]), r["path"]))
    findings = _findings(catalog, [r["record_id"] for r in rows])
    groups: dict[str, list[sqlite3.Row]] = {}
    for row in rows:
        if row["status"] == "filed":
            groups.setdefault(row["dossier_key"], []).append(row)
    out = []
    for dossier_key, members in groups.items():
        kind = members[0]["dossier_kind"]
        household = catalog.household(dossier_key) if kind == "household" else None
        out.append(
            Dossier(
                key=dossier_key,
                kind=kind,
                folder="records/" + members[0]["path"].rsplit("/", 1)[0],
                household=dict(household) if household else None,
                documents=[
                    _entry(i, r, findings.get(r["record_id"], [])) for i, r in enumerate(members, 1)
                ],
            )
        )
    kinds = list(KIND_LABELS)  # a retailer's licence dossier first, then its cases …
    out.sort(key=lambda d: (kinds.index(d.kind) if d.kind in kinds else len(kinds), d.key))
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
        (d.number for d in (dossier.documents if dossier else []) if d.record_id == record_id), 0
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
    )
