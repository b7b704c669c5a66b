"""档号 and 件号 (DA/T 22-2015, DA/T 13): each filed document (件) gets its archival number.

A 档号 reads ``全宗号-门类代码·年度-保管期限-机构(问题)代码-件号``, e.g.
``J001-WS·2011-D30-XK-0012`` (``-`` between levels, ``·`` inside one; 保管期限 as ``Y``,
``D30``, ``D10``; 件号 four digits). The 件号 runs from 1 within its group — 全宗, 年度,
保管期限, 机构(问题) — continuously, and a number is never given twice.

How numbers stay stable and recoverable from ``records/`` alone (the catalog is a cache):

- a number is written into the record's own sidecar (``"archival"``) in the same atomic
  write that files the record (intake, refiling, a correction), so no number exists
  anywhere but in a sidecar;
- the next number of a group is one more than the highest number any sidecar holds in it
  (the catalog's ``numbers`` table, rebuilt from the sidecars by ``reindex``); it is taken
  under the archive's writer lock, after crash recovery, so two records never share one;
- a number is never freed: a withdrawn record keeps its number (its sidecar stays, in the
  withdrawn area, marked); a destroyed record keeps its sidecar (only the bytes go); a
  record whose group changes (its type, date or dossier corrected) takes a new number and
  lists the old one in ``"archival_history"`` as vacated, so the old group keeps no gap.

Numbers are given in filing order; documents in the unresolved tray have none until they
are filed into a dossier.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archive.core.config import Archive, ArchiveConfig
from archive.records.catalog import Catalog
from archive.records.store import read_sidecar, sidecar_of

RETENTION_CODES = {"永久": "Y", "定期30年": "D30", "定期10年": "D10"}
RETENTION_YEARS = {"永久": None, "定期30年": 30, "定期10年": 10}
# Dossier kinds whose documents are numbered (the tray and withdrawn records are not).
NUMBERED_KINDS = ("household", "case", "meeting", "materials")
CODE_PATTERN = re.compile(
    r"^(?:(?P<fonds>[A-Za-z0-9]{1,12})-)?(?P<category>[A-Za-z0-9]{1,12})·(?P<year>\d{4})"
    r"-(?P<retention>Y|D30|D10)-(?P<org>[A-Za-z0-9]{1,12})-(?P<item>\d{4,6})$"
)
_BY_CODE = {v: k for k, v in RETENTION_CODES.items()}
_CASE_YEAR = re.compile(r"〔((?:19|20)\d{2})〕")


@dataclass(frozen=True)
class NumberingPolicy:
    """What decides a document's number: the bureau's settings and the rules' 保管期限."""

    fonds: str
    category: str
    org_codes: dict[str, str]
    org_names: dict[str, str]
    retention_of: Callable[[str | None], str]

    @classmethod
    def from_config(
        cls, config: ArchiveConfig, retention_of: Callable[[str | None], str]
    ) -> NumberingPolicy:
        return cls(config.fonds, config.category, config.org_codes, config.org_names, retention_of)


@dataclass(frozen=True)
class ArchivalNo:
    """One 件's number and the fields of its 归档章."""

    fonds: str
    category: str
    year: int
    retention: str  # 永久 / 定期30年 / 定期10年
    org: str  # 机构(问题) code
    item: int  # 件号
    org_name: str = ""

    @property
    def group(self) -> tuple[str, int, str, str]:
        return (self.fonds, self.year, self.retention, self.org)

    @property
    def code(self) -> str:
        return format_code(
            self.fonds, self.category, self.year, self.retention, self.org, self.item
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "fonds": self.fonds,
            "category": self.category,
            "year": self.year,
            "retention": self.retention,
            "org": self.org,
            "org_name": self.org_name,
            "item": self.item,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArchivalNo:
        return cls(
            str(data.get("fonds") or ""),
            str(data["category"]),
            int(data["year"]),
            str(data["retention"]),
            str(data["org"]),
            int(data["item"]),
            str(data.get("org_name") or ""),
        )


def format_code(fonds: str, category: str, year: int, retention: str, org: str, item: int) -> str:
    """``全宗号-门类·年度-期限-机构-件号`` (no leading part while the 全宗号 is not set)."""
    tail = f"{category}·{year}-{RETENTION_CODES[retention]}-{org}-{item:04d}"
    return f"{fonds}-{tail}" if fonds else tail


def parse_code(code: str) -> ArchivalNo | None:
    """The parts of a well-formed 档号, or ``None``."""
    m = CODE_PATTERN.match(code or "")
    if m is None:
        return None
    return ArchivalNo(
        m["fonds"] or "",
        m["category"],
        int(m["year"]),
        _BY_CODE[m["retention"]],
        m["org"],
        int(m["item"]),
    )


def archival_of(side: dict[str, Any]) -> ArchivalNo | None:
    """The record's current number as its sidecar holds it."""
    data = side.get("archival")
    if not isinstance(data, dict):
        return None
    try:
        return ArchivalNo.from_dict(data)
    except (KeyError, TypeError, ValueError):
        return None


def year_of(side: dict[str, Any]) -> int | None:
    """年度: the document's year, else its date's, else the year it was filed."""
    keys = side.get("keys") or {}
    if isinstance(keys.get("year"), int):
        return int(keys["year"])
    date = str(keys.get("date") or "")
    if date[:4].isdigit():
        return int(date[:4])
    case_year = _CASE_YEAR.search(str(keys.get("case_no") or ""))
    if case_year is not None:  # 潼烟罚〔2011〕12号: the case's year
        return int(case_year.group(1))
    for event in side.get("events", []):
        if event.get("event") == "filed" and str(event.get("at", ""))[:4].isdigit():
            return int(str(event["at"])[:4])
    received = str(side.get("received_at") or "")
    return int(received[:4]) if received[:4].isdigit() else None


def wanted_group(
    side: dict[str, Any], policy: NumberingPolicy
) -> tuple[str, str, int, str, str, str] | None:
    """(fonds, category, year, retention, org code, org name) the record belongs to now;
    ``None`` when it is not numbered (tray, withdrawn, destroyed)."""
    kind = (side.get("dossier") or {}).get("kind")
    if kind not in NUMBERED_KINDS or side.get("status", "filed") != "filed":
        return None
    year = year_of(side)
    if year is None:
        return None
    retention = policy.retention_of(side.get("doc_type"))
    org = policy.org_codes.get(kind, kind)
    return (policy.fonds, policy.category, year, retention, org, policy.org_names.get(kind, ""))


def next_item(catalog: Catalog, fonds: str, year: int, retention: str, org: str) -> int:
    """One more than the highest 件号 any record holds (or held) in the group."""
    row = catalog.db.execute(
        "SELECT max(item) FROM numbers WHERE fonds = ? AND year = ? AND retention = ? AND org = ?",
        (fonds, year, retention, org),
    ).fetchone()
    return int(row[0] or 0) + 1


def numbered(
    catalog: Catalog,
    side: dict[str, Any],
    policy: NumberingPolicy,
    *,
    at: str,
    reason: str = "",
    by: str | None = None,
) -> dict[str, Any]:
    """The sidecar with the number it should carry: unchanged when its number still fits its
    group; a first number; or a new number, the old one kept as vacated (see module doc).

    Call under the writer lock, and write the returned sidecar before the next call."""
    want = wanted_group(side, policy)
    current = archival_of(side)
    if want is None:
        return side
    fonds, category, year, retention, org, org_name = want
    if current is not None and current.group == (fonds, year, retention, org):
        if current.org_name == org_name:
            return side
        return {**side, "archival": {**side["archival"], "org_name": org_name}}
    item = next_item(catalog, fonds, year, retention, org)
    new = ArchivalNo(fonds, category, year, retention, org, item, org_name)
    out = {**side, "archival": {**new.as_dict(), "assigned_at": at}}
    detail = f"档号 {new.code}"
    if current is not None:
        vacated = {**side["archival"], "vacated_at": at, "reason": reason or "归属变更"}
        out["archival_history"] = [*side.get("archival_history", []), vacated]
        detail += f" (原档号 {current.code} 停用, 保留不再使用)"
    event: dict[str, Any] = {"at": at, "event": "numbered", "detail": detail}
    if by:
        event["by"] = by
    out["events"] = [*side.get("events", []), event]
    return out


def retention_expiry(archival: ArchivalNo) -> int | None:
    """The last year a 定期 document must be kept (年度 + period); ``None`` for 永久.

    DA/T 22 counts a 保管期限 from the year after the document's 年度."""
    years = RETENTION_YEARS.get(archival.retention)
    return None if years is None else archival.year + years


def number_unnumbered(
    archive: Archive,
    catalog: Catalog,
    policy: NumberingPolicy,
    *,
    at: str,
    by: str | None = None,
) -> list[dict[str, Any]]:
    """Give a 档号 to every filed record that has none (records filed before numbering was
    introduced), in filing order. Each sidecar is rewritten through the crash-safe move
    journal (an in-place move), so the catalog never misses a number a sidecar holds.
    Call within ``archive.writer_lock()``."""
    from archive.records.moves import move_record, plan_move_to, recover_moves

    recover_moves(archive, catalog)
    rows = catalog.records("status = 'filed' AND archival_code IS NULL AND dossier_kind != 'tray'")
    done = []
    for row in sorted(rows, key=lambda r: (r["filed_at"], r["path"])):
        record = archive.records / row["path"]
        side = read_sidecar(sidecar_of(record))
        new_side = numbered(catalog, side, policy, at=at, by=by)
        if new_side is side:
            continue
        label = record.stem.split("_", 1)[-1]
        dossier = side.get("dossier") or {}
        plan = plan_move_to(
            record,
            side,
            str(dossier.get("kind")),
            str(dossier.get("key")),
            record.parent,
            label,
            keep_seq=True,
        )
        move_record(archive, catalog, record, plan, new_side)
        done.append(
            {"record": f"records/{row['path']}", "archival_code": new_side["archival"]["code"]}
        )
    return done
