"""Where the archive stands right now, at a glance: what waits, what is wrong, what to do.

:func:`archive_status` only reads. It takes no lock, opens the catalog read-only and never
creates, migrates or rebuilds anything, so a clerk can run ``dangan status`` at any moment,
also while ``dangan watch`` or an ingest is at work. The disk is the truth for what waits
(inbox, quarantine, journal); the catalog for what is filed.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archive.core.clock import local_now
from archive.core.config import CRITERIA_FILE, Archive
from archive.core.doctypes import canonical_meeting
from archive.intake.preflight import LABELS, REASONS
from archive.intake.rules import Rules, rules_for_reading
from archive.intake.sources import walk_sources
from archive.intake.watch_lock import running_watcher
from archive.ops.backup_config import backup_overview, backup_steps
from archive.paperwork.reports.selfcheck import SNAPSHOT_DIR
from archive.records.catalog import CATALOG_VERSION
from archive.records.store import TOP_FOLDERS, pending_entries
from archive.records.tray_reasons import REASONS as TRAY_REASONS
from archive.records.tray_reasons import reason_counts, tray_reason
from indexers.search import SearchIndex

FLAGGED = {
    "illegible": "扫描不清晰",
    "unread_pages": "页面无法读取",
    "title_mismatch": "标题与内容不符",
    "key_mismatch": "编号与内容不符",
}


@dataclass(frozen=True)
class Step:
    """One thing to do next: a code (for a page to link it) and the words for a person."""

    code: str
    text: str


@dataclass
class Inbox:
    waiting: int = 0  # files a run of ingest (or the watcher) would take
    partial: int = 0  # files still being written (.part, .tmp …), left alone
    by_folder: dict[str, int] = field(default_factory=dict)
    oldest: str | None = None  # modification time of the oldest waiting file
    # what intake will not take, by reason code (hidden names, unreadable folders)
    not_taken: dict[str, int] = field(default_factory=dict)


@dataclass
class Status:
    root: str
    bureau: str
    standard: str | None  # the imported scoring standard, None when the sample is used
    inbox: Inbox
    catalog: str  # "ok" | "empty" (nothing filed yet) | "missing" | "stale" | "damaged"
    records: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    roster: int = 0
    households_filed: int = 0  # roster households with at least one record
    flagged: dict[str, int] = field(default_factory=dict)  # intake findings by code
    last_filed: dict[str, str] | None = None
    quarantine: dict[str, int] = field(default_factory=dict)
    quarantine_latest: str | None = None
    interrupted: int = 0  # journal entries a crash left; the next run finishes or undoes them
    indexed: int | None = None  # records in the search index; None when missing or stale
    index_rebuilding: bool = False
    watcher: dict[str, Any] | None = None
    last_selfcheck: dict[str, Any] | None = None  # month, earned, possible, findings
    backup: dict[str, Any] = field(default_factory=dict)  # backup_config.backup_overview
    # Meetings filed under their own name, not a configured type: name -> records (most first)
    meetings_unconfigured: dict[str, int] = field(default_factory=dict)
    # Names the rules now map to a configured type whose records still sit under the name:
    # {name, type, records, folder (records/会议记录/<name>)}
    meetings_to_move: list[dict[str, Any]] = field(default_factory=list)
    # Why the tray's records wait, by reason code (archive.records.tray_reasons), most first
    tray_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def tray(self) -> int:
        return self.by_kind.get("tray", 0)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tray": self.tray, "next_steps": next_steps(self)}


def archive_status(archive: Archive, now: dt.datetime | None = None) -> Status:
    status = Status(
        root=str(archive.root),
        bureau=archive.config.bureau,
        standard=CRITERIA_FILE if (archive.root / CRITERIA_FILE).is_file() else None,
        inbox=_inbox(archive),
        catalog="missing",
    )
    _quarantine(archive, status)
    with archive.writer_idle() as idle:  # while a writer works, its journal is in flight
        if idle and archive.journal.is_dir():
            status.interrupted = len(pending_entries(archive.journal))
    status.watcher = running_watcher(archive)
    status.index_rebuilding = (archive.state / "index.rebuilding").exists()
    status.indexed = SearchIndex.peek(archive.index_dir)
    status.last_selfcheck = _last_selfcheck(archive.root)
    status.backup = backup_overview(archive, now or local_now())
    if archive.catalog_path.is_file():
        _catalog(archive.catalog_path, status, archive)
        if status.meetings_unconfigured:  # every series filed: keep those not configured
            _unconfigured(archive, status)
    elif not archive.records.is_dir() or not any(archive.records.rglob("*.json")):
        status.catalog = "empty"  # nothing filed yet: nothing to rebuild
    return status


def _inbox(archive: Archive) -> Inbox:
    inbox = Inbox()
    oldest: float | None = None
    folders: Counter[str] = Counter()
    not_taken: Counter[str] = Counter()
    for source in walk_sources(archive.inbox, partial=True):
        if source.partial:
            inbox.partial += 1
            continue
        if source.skip is not None:
            not_taken[source.skip.code] += 1
            continue
        try:
            mtime = source.path.lstat().st_mtime
        except OSError:
            continue
        top = source.path.relative_to(archive.inbox).parts
        inbox.waiting += 1
        folders[top[0] if len(top) > 1 else "(收件箱根目录)"] += 1
        oldest = mtime if oldest is None else min(oldest, mtime)
    inbox.by_folder = dict(sorted(folders.items()))
    inbox.not_taken = dict(not_taken.most_common())
    if oldest is not None:
        inbox.oldest = dt.datetime.fromtimestamp(oldest).astimezone().isoformat(timespec="seconds")
    return inbox


def _last_selfcheck(root: Path) -> dict[str, Any] | None:
    """The newest monthly self-check snapshot (written by ``dangan report selfcheck``)."""
    paths = sorted(root.joinpath(*SNAPSHOT_DIR).glob("*-*.json"), key=lambda p: p.name)
    for path in reversed(paths):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return {
                "month": str(data["month"]),
                "earned": float(data["earned"]),
                "possible": float(data["possible"]),
                "findings": len(data.get("findings") or []),
            }
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged snapshot: look at the one before
    return None


def _quarantine(archive: Archive, status: Status) -> None:
    codes: Counter[str] = Counter()
    latest: str | None = None
    for why in archive.quarantine.rglob("*.why.json") if archive.quarantine.is_dir() else ():
        try:
            data = json.loads(why.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        codes[str(data.get("code") or "unreadable_reason")] += 1
        at = str(data.get("at") or "")
        latest = max(latest or at, at)
    status.quarantine = dict(codes.most_common())
    status.quarantine_latest = latest or None


def _unconfigured(archive: Archive, status: Status) -> None:
    """Keep the series not configured; those the rules now map to a configured type (the
    bureau adopted the name as a title of one) are to be moved into it."""
    rules = rules_for_reading(archive.root)
    known = configured_meetings(archive, rules)
    series, status.meetings_unconfigured = status.meetings_unconfigured, {}
    for name, count in series.items():
        target = None if name in known else rules.canonical_meeting(name)
        if target is not None:
            folder = f"records/{TOP_FOLDERS['meeting']}/{name}"
            status.meetings_to_move.append(
                {"name": name, "type": target, "records": count, "folder": folder}
            )
        elif name not in known:
            status.meetings_unconfigured[name] = count


def configured_meetings(archive: Archive, rules: Rules | None = None) -> set[str]:
    """The meeting types the archive knows: its rules (the bureau's rules.yaml over the
    defaults; the defaults alone while that file has errors) and dangan.toml's list."""
    rules = rules or rules_for_reading(archive.root)
    known = set(rules.meetings)
    for name in archive.config.meeting_types:
        known.add(rules.canonical_meeting(name) or canonical_meeting(name) or name)
    return known


def _catalog(path: Path, status: Status, archive: Archive) -> None:
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        status.catalog = "damaged"
        return
    try:
        version = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        if version is None or version[0] != str(CATALOG_VERSION):
            status.catalog = "stale"
            return
        status.catalog = "ok"
        status.by_kind = dict(
            db.execute("SELECT dossier_kind, count(*) FROM records GROUP BY 1 ORDER BY 2 DESC")
        )
        status.records = sum(status.by_kind.values())
        status.roster = db.execute("SELECT count(*) FROM households").fetchone()[0]
        status.households_filed = db.execute(
            "SELECT count(*) FROM households WHERE licence_no IN "
            "(SELECT licence_no FROM records WHERE dossier_kind = 'household')"
        ).fetchone()[0]
        marks = ",".join("?" for _ in FLAGGED)
        flagged = dict(
            db.execute(
                f"SELECT code, count(DISTINCT record_id) FROM findings WHERE code IN ({marks}) "
                "GROUP BY code",
                tuple(FLAGGED),
            )
        )
        illegible = db.execute(
            "SELECT count(*) FROM records WHERE legible = 0 AND record_id NOT IN "
            "(SELECT record_id FROM findings WHERE code = 'unread_pages')"
        ).fetchone()[0]
        flagged["illegible"] = max(flagged.get("illegible", 0), illegible)
        status.flagged = {code: flagged[code] for code in FLAGGED if flagged.get(code)}
        status.meetings_unconfigured = dict(
            db.execute(
                "SELECT meeting_type, count(*) FROM records WHERE dossier_kind = 'meeting' "
                "AND status = 'filed' AND meeting_type IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1"
            )
        )
        if status.tray:
            rows = db.execute(
                "SELECT doc_type, meeting_type, source, substr(text, 1, 2000) FROM records "
                "WHERE dossier_kind = 'tray'"
            )
            status.tray_reasons = reason_counts(
                tray_reason(
                    doc_type,
                    meeting,
                    source,
                    text or "",
                    archive.config.kinds,
                    archive.config.bureau,
                )
                for doc_type, meeting, source, text in rows
            )
        last = db.execute(
            "SELECT filed_at, path FROM records ORDER BY filed_at DESC LIMIT 1"
        ).fetchone()
        if last is not None:
            status.last_filed = {"at": last[0], "path": last[1]}
    except sqlite3.Error:
        status.catalog = "damaged"  # not a database, or torn: rebuilt from records/ alike
    finally:
        db.close()


def next_step_items(s: Status) -> list[Step]:
    """What the clerk should do next, most urgent first, each with the command that does it
    (a page links the steps it has a page for by their code)."""
    steps: list[Step] = []
    if s.catalog in ("missing", "stale", "damaged"):
        steps.append(
            Step(
                "catalog",
                "目录库缺失、损坏或版本不符: 运行 dangan reindex 从 records/ 重建 (档案本身不受影响)",
            )
        )
    if s.interrupted:
        steps.append(
            Step(
                "interrupted",
                f"{s.interrupted} 次归档被中断 (如断电): 下次 dangan ingest 或 watch 启动时自动完成或撤销",
            )
        )
    if s.inbox.waiting and s.watcher is None:
        steps.append(
            Step(
                "inbox",
                f"收件箱有 {s.inbox.waiting} 个文件待归档, 且没有监视进程: "
                "运行 dangan ingest, 或 dangan watch 持续监视",
            )
        )
    for code, count in s.inbox.not_taken.items():
        steps.append(Step("inbox", f"收件箱中有 {count} 项不会被归档: {REASONS.get(code, code)}"))
    if s.quarantine:
        steps.append(
            Step(
                "quarantine",
                f"隔离区有 {sum(s.quarantine.values())} 个文件: dangan quarantine list 查看原因, "
                "处理后重新放入收件箱",
            )
        )
    if s.flagged.get("illegible"):
        steps.append(
            Step(
                "illegible",
                f"{s.flagged['illegible']} 份扫描件不清晰: 重新扫描后放入收件箱; dangan audit 列出",
            )
        )
    if s.flagged.get("unread_pages"):
        steps.append(
            Step(
                "unread_pages",
                f"{s.flagged['unread_pages']} 份文件有页面的文字无法读取 (图像或内容损坏): "
                "dangan audit 列出, 重新扫描或导出后放入收件箱",
            )
        )
    mislabelled = s.flagged.get("title_mismatch", 0) + s.flagged.get("key_mismatch", 0)
    if mislabelled:
        steps.append(
            Step("mislabelled", f"{mislabelled} 份文件名与内容不符: dangan audit 列出, 核对后更正")
        )
    if s.tray:
        steps.append(Step("tray", tray_step(s.tray, s.tray_reasons)))
    if s.roster and s.households_filed < s.roster:
        steps.append(
            Step(
                "households",
                f"名册中 {s.roster - s.households_filed} 户还没有任何档案: dangan audit 列出缺少的材料",
            )
        )
    if s.meetings_unconfigured:
        seen = list(s.meetings_unconfigured)
        names = "、".join(seen[:5]) + (" 等" if len(seen) > 5 else "")
        steps.append(
            Step(
                "meetings_unconfigured",
                f"{len(seen)} 种会议不在会议类型中 ({names}), 已按会议名称归档: 要把它作为会议类型"
                f"(考核、并入已有类型或加别名), 在档案库的 rules.yaml 的 meetings 下写上, "
                f"如 {seen[0]}: {{titles: [{seen[0]}]}}",
            )
        )
    for item in s.meetings_to_move:
        steps.append(
            Step(
                "meetings_to_move",
                f"会议“{item['name']}”已在 rules.yaml 中并入“{item['type']}”, 但已归档的 "
                f"{item['records']} 份仍存于 {item['folder']}/: 移入 (各入其召开年份): "
                f"dangan move {item['folder']} {item['type']} --reason 并入{item['type']}",
            )
        )
    if s.catalog == "ok" and not s.index_rebuilding and s.indexed != s.records:
        steps.append(
            Step("index", "检索索引与目录不一致: 下次归档时自动补齐, 或运行 dangan reindex")
        )
    if s.index_rebuilding:
        steps.append(
            Step("index_rebuilding", "检索索引重建未完成: 下次归档或 dangan reindex 时从中断处继续")
        )
    steps += [Step("backup", text) for text in backup_steps(s.backup, s.records)]
    if s.standard is None:
        steps.append(
            Step(
                "standard",
                f"未导入本省评分标准 ({CRITERIA_FILE}), 自查使用内置样例: "
                "dangan criteria import 评分标准.docx",
            )
        )
    return steps


def tray_step(total: int, reasons: dict[str, int]) -> str:
    """The tray's line: how many wait, and for each reason how many and what to do."""
    if not reasons:  # a catalog that could not say
        return f"待归档 {total} 份: dangan audit 列出, 核对后在网页“待归档”页归档"
    parts = [
        (f"{n} 份" if len(reasons) > 1 else "")
        + f"{TRAY_REASONS[code].what}: {TRAY_REASONS[code].fix}"
        for code, n in reasons.items()
    ]
    return f"待归档 {total} 份, " + "；".join(parts)


def next_steps(s: Status) -> list[str]:
    """The steps as lines of text (the command line prints them)."""
    return [step.text for step in next_step_items(s)]


def quarantine_label(code: str) -> str:
    return "原因文件损坏" if code == "unreadable_reason" else LABELS.get(code, code)
