"""The catalog: a SQLite cache of the records, rebuilt from them by ``dangan reindex``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from archive.core.errors import ArchiveError
from archive.records.store import also_in

CATALOG_VERSION = 5  # 4: meta carries the seals (count and bodies); 5: the crossrefs table


class CatalogUnavailable(ArchiveError):
    """A reader found no catalog, or one of another version (``dangan reindex`` makes it)."""

    exit_code = 6


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    record_id TEXT PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    dossier_kind TEXT NOT NULL,
    dossier_key TEXT NOT NULL,
    doc_type TEXT,
    claimed_type TEXT,
    title TEXT NOT NULL,
    licence_no TEXT,
    case_no TEXT,
    retailer TEXT,
    meeting_type TEXT,
    doc_date TEXT,
    year INTEGER,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    pages INTEGER,
    original_name TEXT NOT NULL,
    source TEXT NOT NULL,
    filed_at TEXT NOT NULL,
    legible INTEGER,
    meta TEXT NOT NULL DEFAULT '{}',
    text TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'filed',
    archival_code TEXT,
    retention TEXT
);
CREATE INDEX IF NOT EXISTS records_dossier ON records (dossier_key);
CREATE INDEX IF NOT EXISTS records_licence ON records (licence_no);
CREATE INDEX IF NOT EXISTS records_case ON records (case_no);
CREATE INDEX IF NOT EXISTS records_type ON records (doc_type);
CREATE INDEX IF NOT EXISTS records_retailer ON records (retailer);
CREATE TABLE IF NOT EXISTS events (
    record_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,
    event TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (record_id, seq)
);
CREATE TABLE IF NOT EXISTS findings (
    record_id TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_record ON findings (record_id);
CREATE TABLE IF NOT EXISTS numbers (
    record_id TEXT NOT NULL, fonds TEXT NOT NULL, year INTEGER NOT NULL,
    retention TEXT NOT NULL, org TEXT NOT NULL, item INTEGER NOT NULL,
    code TEXT NOT NULL, state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS numbers_group ON numbers (fonds, year, retention, org, item);
CREATE INDEX IF NOT EXISTS numbers_record ON numbers (record_id);
CREATE TABLE IF NOT EXISTS crossrefs (
    record_id TEXT NOT NULL, dossier_kind TEXT NOT NULL, dossier_key TEXT NOT NULL,
    PRIMARY KEY (record_id, dossier_kind, dossier_key)
);
CREATE INDEX IF NOT EXISTS crossrefs_dossier ON crossrefs (dossier_key);
CREATE TABLE IF NOT EXISTS households (
    licence_no TEXT PRIMARY KEY, name TEXT NOT NULL, operator TEXT, address TEXT,
    class TEXT, valid_from TEXT, valid_to TEXT
);
CREATE TABLE IF NOT EXISTS quarantine (
    path TEXT PRIMARY KEY, code TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL,
    sha256 TEXT, source TEXT
);
"""

RECORD_COLUMNS = (
    "record_id", "path", "dossier_kind", "dossier_key", "doc_type", "claimed_type", "title",
    "licence_no", "case_no", "retailer", "meeting_type", "doc_date", "year", "mime", "size",
    "pages", "original_name", "source", "filed_at", "legible", "meta", "text", "status",
    "archival_code", "retention",
)  # fmt: skip


def row_from_sidecar(path: str, side: dict[str, Any]) -> dict[str, Any]:
    """The catalog row for a record, computed from its sidecar alone."""
    keys = side.get("keys", {})
    dossier = side.get("dossier", {})
    text = side.get("text", {})
    events = side.get("events", [])
    filed = next(
        (e["at"] for e in events if e.get("event") == "filed"), side.get("received_at", "")
    )
    legible = text.get("legible")
    return {
        "record_id": side["sha256"],
        "path": path,
        "dossier_kind": dossier.get("kind", "tray"),
        "dossier_key": dossier.get("key", ""),
        "doc_type": side.get("doc_type"),
        "claimed_type": side.get("claimed_type"),
        "title": side.get("title") or side.get("original_name", ""),
        "licence_no": keys.get("licence_no"),
        "case_no": keys.get("case_no"),
        "retailer": keys.get("retailer"),
        "meeting_type": keys.get("meeting_type"),
        "doc_date": keys.get("date"),
        "year": keys.get("year"),
        "mime": side.get("mime", ""),
        "size": side.get("size", 0),
        "pages": side.get("pages"),
        "original_name": side.get("original_name", ""),
        "source": side.get("source", ""),
        "filed_at": filed,
        "legible": None if legible is None else int(bool(legible)),
        "meta": json.dumps(
            {**keys, "seals": seal_facts(text.get("pages", []))}, ensure_ascii=False, sort_keys=True
        ),
        "text": "\n\f\n".join(p.get("text", "") for p in text.get("pages", [])),
        "status": side.get("status") or "filed",
        "archival_code": (side.get("archival") or {}).get("code"),
        "retention": (side.get("archival") or {}).get("retention"),
    }


def numbers_from_sidecar(side: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The 件号 a record holds (its current number, in its state) and held (vacated)."""
    rid, status = side["sha256"], side.get("status") or "filed"
    held: list[tuple[dict[str, Any], str]] = []
    if isinstance(side.get("archival"), dict):
        held.append((side["archival"], "current" if status == "filed" else status))
    held += [
        (old, "vacated") for old in side.get("archival_history") or [] if isinstance(old, dict)
    ]
    rows = []
    for data, state in held:
        try:
            rows.append(
                (
                    rid,
                    str(data.get("fonds") or ""),
                    int(data["year"]),
                    str(data["retention"]),
                    str(data["org"]),
                    int(data["item"]),
                    str(data.get("code") or ""),
                    state,
                )
            )
        except (KeyError, TypeError, ValueError):
            continue  # a malformed number: reported by dangan check, never counted
    return rows


def seal_facts(pages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The seals a record's pages bear: count and bodies (the body named, else the ring
    text as read); None when no page was looked at for seals (text-layer pages, old
    records, OCR off)."""
    looked = [p for p in pages if p.get("seals") is not None]
    if not looked:
        return None
    seals = [s for p in looked for s in p["seals"]]
    bodies = [s.get("body") or s.get("text") for s in seals]
    return {
        "count": len(seals),
        "bodies": list(dict.fromkeys(b for b in bodies if b)),
        "pages": [p.get("number") for p in looked if p["seals"]],
        "looked": len(looked),
    }


class Catalog:
    """A connection to ``.dangan/catalog.sqlite`` (created on first use).

    Opening does no hidden work beyond creating the tables: a catalog of another schema
    version is emptied and ``rebuilt`` is set; :func:`archive.records.reindex.open_catalog`
    then refills it from the records."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            self.db = self._open_readonly(path)
            self.rebuilt = False
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30.0)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        # True when the tables were (re)created for another version: the caller refills
        # them from the records (``archive.records.reindex.open_catalog`` does).
        self.rebuilt = self._ensure_schema()

    @staticmethod
    def _open_readonly(path: Path) -> sqlite3.Connection:
        """A connection that never writes, creates or migrates (for a server beside the
        watcher); refuses a missing catalog or one of another version."""
        fix = "请运行 dangan reindex 从 records/ 重建 (档案本身不受影响)"
        if not path.is_file():
            raise CatalogUnavailable(f"{path}: 目录库不存在; {fix}")
        db = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA query_only = ON")
            row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        except sqlite3.Error as exc:
            db.close()
            raise CatalogUnavailable(f"{path}: 目录库无法读取 ({exc}); {fix}") from exc
        if row is None or row[0] != str(CATALOG_VERSION):
            db.close()
            raise CatalogUnavailable(f"{path}: 目录库版本不符; {fix}")
        return db

    def _ensure_schema(self) -> bool:
        """Create the tables; drop and recreate them when they are of another version."""
        tables = {
            r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        version = None
        if "meta" in tables:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            version = row[0] if row else None
        stale = bool(tables) and version != str(CATALOG_VERSION)
        if stale:
            for table in tables:
                self.db.execute(f"DROP TABLE IF EXISTS {table}")
        self.db.executescript(_SCHEMA)
        self.db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(CATALOG_VERSION),)
        )
        self.db.commit()
        return stale and "records" in tables

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ writes

    def upsert(self, path: str, side: dict[str, Any], *, commit: bool = True) -> None:
        """Put a record (row, events, findings) as its sidecar says."""
        row = row_from_sidecar(path, side)
        rid = row["record_id"]
        marks = ", ".join("?" for _ in RECORD_COLUMNS)
        for table in ("numbers", "crossrefs"):
            self.db.execute(
                f"DELETE FROM {table} WHERE record_id IN "
                "(SELECT record_id FROM records WHERE path = ? AND record_id != ?)",
                (path, rid),
            )
        self.db.execute("DELETE FROM records WHERE path = ? AND record_id != ?", (path, rid))
        self.db.execute(
            f"INSERT OR REPLACE INTO records ({', '.join(RECORD_COLUMNS)}) VALUES ({marks})",
            [row[c] for c in RECORD_COLUMNS],
        )
        self.db.execute("DELETE FROM events WHERE record_id = ?", (rid,))
        self.db.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    rid,
                    i,
                    e.get("at", ""),
                    e.get("event", ""),
                    e.get("detail", ""),
                    e.get("by", ""),
                    e.get("reason", ""),
                )
                for i, e in enumerate(side.get("events", []))
            ],
        )
        self.db.execute("DELETE FROM findings WHERE record_id = ?", (rid,))
        self.db.executemany(
            "INSERT INTO findings VALUES (?, ?, ?)",
            [(rid, f["code"], f.get("message", "")) for f in side.get("findings", [])],
        )
        self.db.execute("DELETE FROM numbers WHERE record_id = ?", (rid,))
        self.db.executemany(
            "INSERT INTO numbers VALUES (?, ?, ?, ?, ?, ?, ?, ?)", numbers_from_sidecar(side)
        )
        self.db.execute("DELETE FROM crossrefs WHERE record_id = ?", (rid,))
        self.db.executemany(
            "INSERT INTO crossrefs VALUES (?, ?, ?)",
            [
                (rid, kind, key)
                for kind, key in also_in(
                    row["dossier_kind"], row["dossier_key"], side.get("keys", {})
                )
                if row["status"] == "filed"  # a withdrawn record is in no dossier
            ],
        )
        if commit:
            self.db.commit()

    def delete(self, record_id: str) -> None:
        for table in ("records", "events", "findings", "numbers", "crossrefs"):
            self.db.execute(f"DELETE FROM {table} WHERE record_id = ?", (record_id,))
        self.db.commit()

    def add_quarantine(self, path: str, why: dict[str, Any], *, commit: bool = True) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO quarantine VALUES (?, ?, ?, ?, ?, ?)",
            (path, why["code"], why["reason"], why["at"], why.get("sha256"), why.get("source")),
        )
        if commit:
            self.db.commit()

    def remove_quarantine(self, path: str) -> None:
        self.db.execute("DELETE FROM quarantine WHERE path = ?", (path,))
        self.db.commit()

    def clear(self, *, commit: bool = True) -> None:
        for table in (
            "records",
            "events",
            "findings",
            "numbers",
            "crossrefs",
            "households",
            "quarantine",
        ):
            self.db.execute(f"DELETE FROM {table}")
        if commit:
            self.db.commit()

    def replace_households(
        self, rows: Iterable[dict[str, str | None]], *, commit: bool = True
    ) -> int:
        self.db.execute("DELETE FROM households")
        cur = self.db.executemany(
            "INSERT INTO households VALUES "
            "(:licence_no, :name, :operator, :address, :class, :valid_from, :valid_to)",
            list(rows),
        )
        if commit:
            self.db.commit()
        return cur.rowcount

    def rollback(self) -> None:
        self.db.rollback()

    def move_prefix(self, old: str, new: str) -> None:
        """Records under folder ``old`` now live under ``new`` (a renamed dossier folder)."""
        self.db.execute(
            "UPDATE records SET path = ? || substr(path, ?) WHERE path LIKE ? ESCAPE '\\'",
            (new, len(old) + 1, old.replace("%", "\\%").replace("_", "\\_") + "/%"),
        )
        self.db.commit()

    def commit(self) -> None:
        self.db.commit()

    # ------------------------------------------------------------ reads

    def by_sha(self, sha: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM records WHERE record_id = ?", (sha,)
        ).fetchone()
        return row

    def records(self, where: str = "1", params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(self.db.execute(f"SELECT * FROM records WHERE {where} ORDER BY path", params))

    def dossier_rows(self, key: str) -> list[sqlite3.Row]:
        """A dossier's records by licence number, case number, meeting key or retailer."""
        from archive.core.keys import normalize_case_number

        case = normalize_case_number(key)
        rows = self.records(
            "dossier_key = ? OR licence_no = ? OR case_no = ? OR retailer = ?",
            (key, key, case or key, key),
        )
        if not rows:
            hh = self.db.execute(
                "SELECT licence_no FROM households WHERE name = ?", (key,)
            ).fetchone()
            if hh is not None:
                rows = self.records("dossier_key = ?", (hh["licence_no"],))
        return rows

    def crossref_rows(self, key: str) -> list[sqlite3.Row]:
        """Records filed elsewhere that also belong to dossier ``key`` (minutes of a case
        meeting in a case's dossier), by path; ``ref_kind`` is the kind of dossier ``key``."""
        return list(
            self.db.execute(
                "SELECT r.*, x.dossier_kind AS ref_kind FROM records r "
                "JOIN crossrefs x ON x.record_id = r.record_id "
                "WHERE x.dossier_key = ? ORDER BY r.path",
                (key,),
            )
        )

    def listed_in(self, record_id: str) -> list[sqlite3.Row]:
        """The dossiers besides its own that list a record (dossier_kind, dossier_key)."""
        return list(
            self.db.execute(
                "SELECT dossier_kind, dossier_key FROM crossrefs WHERE record_id = ? "
                "ORDER BY dossier_kind, dossier_key",
                (record_id,),
            )
        )

    def crossrefs(self) -> list[sqlite3.Row]:
        """Every cross-reference: (record_id, dossier_kind, dossier_key)."""
        return list(self.db.execute("SELECT * FROM crossrefs ORDER BY dossier_key, record_id"))

    def events(self, record_id: str) -> list[sqlite3.Row]:
        return list(
            self.db.execute("SELECT * FROM events WHERE record_id = ? ORDER BY seq", (record_id,))
        )

    def findings(self, record_id: str | None = None) -> list[sqlite3.Row]:
        if record_id is None:
            return list(self.db.execute("SELECT * FROM findings ORDER BY record_id, code"))
        return list(self.db.execute("SELECT * FROM findings WHERE record_id = ?", (record_id,)))

    def case_numbers(
        self, licences: Sequence[str] | None = None, retailer: str | None = None
    ) -> list[str]:
        """The case numbers filed; with ``licences`` or ``retailer``, only the cases whose
        records name one of those licence numbers or that retailer."""
        sql = "SELECT DISTINCT case_no FROM records WHERE case_no IS NOT NULL"
        params: list[Any] = []
        if licences is not None or retailer is not None:
            marks = ",".join("?" * len(licences or ()))
            sql += f" AND (licence_no IN ({marks}) OR retailer = ?)"
            params = [*(licences or ()), retailer or ""]
        return [str(r[0]) for r in self.db.execute(sql + " ORDER BY case_no", params)]

    def household(self, licence_no: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM households WHERE licence_no = ?", (licence_no,)
        ).fetchone()
        return row

    def households(self) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM households ORDER BY licence_no"))

    def quarantined(self) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM quarantine ORDER BY at, path"))

    def snapshot(self) -> str:
        """Every answer the catalog gives, in a canonical text (for comparing rebuilds)."""
        parts: dict[str, list[list[Any]]] = {}
        for table, order in (
            ("records", "record_id"),
            ("events", "record_id, seq"),
            ("findings", "record_id, code, message"),
            ("numbers", "fonds, year, retention, org, item, record_id, state"),
            ("crossrefs", "record_id, dossier_kind, dossier_key"),
            ("households", "licence_no"),
            ("quarantine", "path"),
        ):
            parts[table] = [
                list(r) for r in self.db.execute(f"SELECT * FROM {table} ORDER BY {order}")
            ]
        return json.dumps(parts, ensure_ascii=False, sort_keys=True)
