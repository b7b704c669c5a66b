"""四性检测 of an archive: every record under ``records/``, walked on disk (not trusted from
the catalog), each item of :mod:`archive.check.items` with its verdict.

Only reads. Each original is read twice at most (hashed once, opened once); the catalog is
only compared with what the records say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archive.check.content import LONG_TERM, Probe, clamscan
from archive.check.items import CheckReport
from archive.check.probe_pool import ProbePool, default_workers
from archive.core.clock import Clock, local_now
from archive.core.config import Archive
from archive.intake.preflight import EXTENSIONS
from archive.records.numbering import NUMBERED_KINDS, RETENTION_CODES, parse_code

_REQUIRED = ("sha256", "size", "mime", "original_name", "dossier", "keys", "events")
_KINDS = {*NUMBERED_KINDS, "tray", "withdrawn", "destroyed"}
_STATUSES = {"filed", "withdrawn", "destroyed"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CORRECTIONS = ("moved", "corrected", "withdrawn", "replaces", "split_from", "destroyed")
_DERIVED = (".ocr.", ".stamped.")
_CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _walk(records: Path, report: CheckReport) -> tuple[list[Path], set[Path]]:
    """(sidecars, other files) under records/; symlinks are reported, never followed."""
    sidecars: list[Path] = []
    files: set[Path] = set()
    unsafe = report.item("GD-4-4")
    for folder, dirs, names in os.walk(records):
        base = Path(folder)
        for d in list(dirs):
            if (base / d).is_symlink():
                unsafe.fail(_rel(records, base / d), "records/ 中有指向别处的链接, 不应存在")
                dirs.remove(d)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = base / name
            if path.is_symlink():
                unsafe.fail(_rel(records, path), "records/ 中有指向别处的链接, 不应存在")
            elif name.startswith("."):
                continue
            elif name.endswith(".json"):
                sidecars.append(path)
            else:
                files.add(path)
    return sidecars, files


def _rel(records: Path, path: Path) -> str:
    return "records/" + path.relative_to(records).as_posix()


def _iso(value: Any, *, with_time: bool) -> bool:
    if not isinstance(value, str):
        return False
    try:
        (dt.datetime if with_time else dt.date).fromisoformat(value)
        return True
    except ValueError:
        return False


def _stored_path(side: dict[str, Any]) -> str | None:
    """Where the history says the record was put last (``records/…``)."""
    where = None
    for event in side.get("events", []):
        detail = str(event.get("detail") or "")
        if event.get("event") == "filed" and detail:
            where = "records/" + detail.removeprefix("records/")
        elif "→ records/" in detail:
            where = "records/" + detail.rsplit("→ records/", 1)[1].split(";")[0].strip()
    return where


def _metadata(where: str, side: dict[str, Any], report: CheckReport, today: dt.date) -> None:
    """Items that look at one sidecar alone (GD-1-2 … GD-1-7, GD-2-3 … GD-2-5)."""
    for code in (
        "GD-1-2",
        "GD-1-3",
        "GD-1-4",
        "GD-1-5",
        "GD-1-6",
        "GD-1-7",
        "GD-2-3",
        "GD-2-4",
        "GD-2-5",
    ):
        report.item(code).checked += 1
    missing = [k for k in _REQUIRED if k not in side]
    if missing:
        report.item("GD-2-3").fail(where, f"元数据缺少 {'、'.join(missing)}")
    title, name = str(side.get("title") or ""), str(side.get("original_name") or "")
    if len(title) > 200 or len(name.encode("utf-8")) > 255:
        report.item("GD-1-2").fail(where, "题名超过200字或原文件名超过255字节")
    fmt = report.item("GD-1-3")
    if not _HEX64.match(str(side.get("sha256", ""))):
        fmt.fail(where, "sha256 应为64位十六进制")
    if not isinstance(side.get("size"), int) or isinstance(side.get("size"), bool):
        fmt.fail(where, f"size 应为整数, 实为 {side.get('size')!r}")
    if side.get("pages") is not None and not isinstance(side.get("pages"), int):
        fmt.fail(where, f"pages 应为整数, 实为 {side.get('pages')!r}")
    keys: dict[str, Any] = side["keys"] if isinstance(side.get("keys"), dict) else {}
    if keys.get("date") is not None and not _iso(keys.get("date"), with_time=False):
        fmt.fail(where, f"日期应为 YYYY-MM-DD, 实为 {keys.get('date')!r}")
    events: list[Any] = side["events"] if isinstance(side.get("events"), list) else []
    if any(not _iso(e.get("at"), with_time=True) for e in events if isinstance(e, dict)):
        fmt.fail(where, "历史记录中有时间格式不对的事件")
    kind = (side.get("dossier") or {}).get("kind")
    status = side.get("status") or "filed"
    archival: dict[str, Any] | None = (
        side["archival"] if isinstance(side.get("archival"), dict) else None
    )
    rng = report.item("GD-1-4")
    if kind not in _KINDS:
        rng.fail(where, f"档案类别 {kind!r} 不在值域内")
    if status not in _STATUSES:
        rng.fail(where, f"状态 {status!r} 不在值域内")
    if archival is not None and archival.get("retention") not in RETENTION_CODES:
        rng.fail(where, f"保管期限 {archival.get('retention')!r} 不是 永久/定期30年/定期10年")
    if side.get("mime") not in EXTENSIONS:
        rng.fail(where, f"文件类型 {side.get('mime')!r} 不在值域内")
    sane = report.item("GD-1-5")
    date = str(keys.get("date") or "")
    if (
        _iso(date, with_time=False)
        and not dt.date(1949, 10, 1) <= dt.date.fromisoformat(date) <= today
    ):
        sane.fail(where, f"成文日期 {date} 不合理 (早于1949年或晚于今天)")
    if archival is not None and not 1949 <= int(archival.get("year") or 0) <= today.year + 1:
        sane.fail(where, f"年度 {archival.get('year')} 不合理")
    if isinstance(side.get("pages"), int) and side["pages"] < 1:
        sane.fail(where, "页数小于1")
    for label, value in (
        ("题名", title),
        ("原文件名", name),
        ("文书类型", side.get("doc_type") or ""),
    ):
        if _CONTROL.search(str(value)):
            report.item("GD-1-6").fail(where, f"{label}含有控制字符")
    if archival is not None:
        parsed = parse_code(str(archival.get("code") or ""))
        fields = (
            archival.get("fonds") or "",
            archival.get("year"),
            archival.get("retention"),
            archival.get("org"),
            archival.get("item"),
        )
        if (
            parsed is None
            or (parsed.fonds, parsed.year, parsed.retention, parsed.org, parsed.item) != fields
        ):
            report.item("GD-1-7").fail(
                where, f"档号 {archival.get('code')!r} 不符合规则或与其各项不一致"
            )
    required = report.item("GD-2-4")
    if status == "filed" and kind in NUMBERED_KINDS:
        if archival is None:
            required.fail(where, "已归档但没有档号 (运行 dangan number)")
        if not title.strip():
            required.fail(where, "题名为空")
        if not side.get("doc_type"):
            required.fail(where, "文书类型为空")
    history = report.item("GD-2-5")
    names = [e.get("event") for e in events if isinstance(e, dict)]
    if "received" not in names or "filed" not in names:
        history.fail(where, "历史中缺少收件或归档记录")
    if archival is not None and "numbered" not in names:
        history.fail(where, "历史中没有编号记录")
    for e in events:
        if (
            isinstance(e, dict)
            and e.get("event") in _CORRECTIONS
            and not (e.get("by") and e.get("reason"))
        ):
            history.fail(where, f"{e.get('event')} 事件未写明操作人或原因")
    if status == "withdrawn" and not (side.get("withdrawn") or {}).get("reason"):
        history.fail(where, "已撤出但没有撤出原因")


def _numbers(numbers: dict[tuple[Any, ...], list[tuple[int, str]]], report: CheckReport) -> None:
    """GD-2-6: each group's 件号 run 1..n with no gap; GD-1-8: no 件号 held twice."""
    gaps, twice = report.item("GD-2-6"), report.item("GD-1-8")
    for (fonds, year, retention, org), held in sorted(numbers.items(), key=lambda kv: str(kv[0])):
        gaps.checked += 1
        items = Counter(n for n, _ in held)
        label = f"{fonds or '(无全宗号)'} {year}年 {retention} {org}"
        for n, count in items.items():
            if count > 1:
                who = ", ".join(w for m, w in held if m == n)
                twice.fail(label, f"件号 {n} 被 {count} 份文件占用: {who}")
        missing = [n for n in range(1, max(items) + 1) if n not in items]
        if missing:
            shown = "、".join(map(str, missing[:20])) + (" 等" if len(missing) > 20 else "")
            gaps.fail(label, f"件号不连续, 缺 {shown} (共 {len(missing)} 个)")


def _catalog(archive: Archive, count: int, report: CheckReport) -> None:
    access, totals = report.item("GD-3-2"), report.item("GD-2-1")
    access.checked = 1
    path = archive.catalog_path
    if not path.is_file():
        access.fail(".dangan/catalog.sqlite", "目录库不存在; 运行 dangan reindex")
        return
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            ok = db.execute("PRAGMA quick_check").fetchone()[0]
            rows = db.execute("SELECT count(*) FROM records").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error as exc:
        access.fail(".dangan/catalog.sqlite", f"目录库无法读取 ({exc}); 运行 dangan reindex")
        return
    if ok != "ok":
        access.fail(".dangan/catalog.sqlite", f"目录库损坏 ({ok}); 运行 dangan reindex")
    if rows != count:
        totals.fail(
            "目录库", f"目录库登记 {rows} 件, records/ 中有 {count} 件; 运行 dangan reindex"
        )


def check_archive(
    archive: Archive,
    *,
    clock: Clock = local_now,
    clamav_database: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> CheckReport:
    """The 四性检测 of ``archive`` (see module doc). Files are opened in ``workers``
    processes (default: one per core for a large archive; :mod:`archive.check.probe_pool`)."""
    now = clock()
    report = CheckReport("档案库", str(archive.root), now.isoformat())
    for code in (
        "GD-1-1",
        "GD-1-10",
        "GD-1-11",
        "GD-2-7",
        "GD-2-8",
        "GD-3-1",
        "GD-3-3",
        "GD-3-4",
        "GD-3-8",
        "GD-4-4",
    ):
        report.item(code)
    records = archive.records
    sidecars, files = _walk(records, report) if records.is_dir() else ([], set())
    numbers: dict[tuple[Any, ...], list[tuple[int, str]]] = defaultdict(list)
    by_code: dict[str, list[str]] = defaultdict(list)
    by_sha: dict[str, list[str]] = defaultdict(list)
    derivatives: set[Path] = set()
    originals: list[Path] = []
    meta_bytes = disk_bytes = 0
    present = [p for s in sidecars if (p := s.with_name(s.name[: -len(".json")])).is_file()]
    jobs = default_workers(len(present)) if workers is None else workers
    with ProbePool(present, jobs) as pool:
        for index, side_path in enumerate(sidecars, 1):
            record = side_path.with_name(side_path.name[: -len(".json")])
            where = _rel(records, record)
            report.item("GD-3-1").checked += 1
            try:
                side = json.loads(side_path.read_text(encoding="utf-8"))
                if not isinstance(side, dict):
                    raise ValueError("不是 JSON 对象")
            except (OSError, ValueError) as exc:
                report.item("GD-3-1").fail(where + ".json", f"元数据无法解析 ({exc})")
                continue
            _metadata(where, side, report, now.date())
            by_sha[str(side.get("sha256"))].append(where)
            for name in (side.get("derivatives") or {}).values():
                if isinstance(name, str) and "/" not in name:
                    derivatives.add(record.with_name(name))
            held = [side["archival"]] if isinstance(side.get("archival"), dict) else []
            held += [h for h in side.get("archival_history") or [] if isinstance(h, dict)]
            for n, data in enumerate(held):
                try:
                    group = (
                        data.get("fonds") or "",
                        int(data["year"]),
                        data["retention"],
                        data["org"],
                    )
                    numbers[group].append((int(data["item"]), where))
                except (KeyError, TypeError, ValueError):
                    report.item("GD-1-7").fail(where, "档号各项不全")
                if n == 0 and data.get("code"):
                    by_code[str(data["code"])].append(where)
            status = side.get("status") or "filed"
            if not record.exists():
                if status != "destroyed":
                    report.item("GD-2-7").fail(where, "有元数据, 但文件不存在")
                continue
            files.discard(record)
            originals.append(record)
            _content(record, where, side, report, pool.get(record))
            if isinstance(side.get("size"), int):
                meta_bytes += side["size"]
                disk_bytes += record.stat().st_size
            if progress is not None:
                progress(index, len(sidecars))
    for path in sorted(files):
        if path in derivatives or any(m in path.name for m in _DERIVED):
            continue
        report.item("GD-2-3").fail(_rel(records, path), "有文件, 但没有它的元数据 (说明文件)")
    for path in sorted(derivatives):
        report.item("GD-2-8").checked += 1
        if not path.is_file():
            report.item("GD-2-8").fail(_rel(records, path), "元数据中登记的副本不存在")
    report.item("GD-1-8").checked = report.item("GD-2-7").checked = len(sidecars)
    for code, holders in by_code.items():
        if len(holders) > 1:
            report.item("GD-1-8").fail(code, f"档号重复: {', '.join(holders)}")
    for sha, holders in by_sha.items():
        if len(holders) > 1:
            report.item("GD-1-8").fail(
                sha[:16], f"同一内容登记了 {len(holders)} 次: {', '.join(holders)}"
            )
    _numbers(numbers, report)
    totals = report.item("GD-2-1")
    totals.checked = len(sidecars)
    bytes_item = report.item("GD-2-2")
    bytes_item.checked = len(originals)
    if meta_bytes != disk_bytes:
        bytes_item.fail("records/", f"元数据登记共 {meta_bytes} 字节, 文件实有 {disk_bytes} 字节")
    _catalog(archive, len(sidecars), report)
    for journal in ("journal", "refile", "corrections"):
        pending = (
            [p for p in (archive.state / journal).glob("*.json")]
            if (archive.state / journal).is_dir()
            else []
        )
        if pending:
            report.item("GD-4-4").fail(
                f".dangan/{journal}",
                f"有 {len(pending)} 项未完成的写入; 运行 dangan reindex 完成或撤销",
            )
    report.item("GD-4-4").checked = 1
    scan_for_viruses(
        originals + sorted(p for p in derivatives if p.is_file()), report, clamav_database
    )
    return report


def _content(
    record: Path, where: str, side: dict[str, Any], report: CheckReport, found: Probe
) -> None:
    """Items that open the file itself (GD-1-1, GD-1-10, GD-1-11, GD-3-3, GD-3-4, GD-3-8)."""
    for code in ("GD-1-1", "GD-1-10", "GD-1-11", "GD-3-3", "GD-3-4", "GD-3-8"):
        report.item(code).checked += 1
    if _sha256(record) != side.get("sha256"):
        report.item("GD-1-1").fail(where, "SHA-256 与归档时不同: 文件内容已被改动")
    props = report.item("GD-1-10")
    stat = record.stat()
    if stat.st_size != side.get("size"):
        props.fail(where, f"文件大小 {stat.st_size} 字节, 元数据登记 {side.get('size')} 字节")
    if found.mime != side.get("mime"):
        props.fail(where, f"文件实为 {found.mime or '未知格式'}, 元数据登记为 {side.get('mime')}")
    expected = EXTENSIONS.get(str(side.get("mime")), "")
    if expected and record.suffix.lower() != expected:
        props.fail(where, f"扩展名 {record.suffix} 与格式不符 (应为 {expected})")
    if (
        found.pages is not None
        and isinstance(side.get("pages"), int)
        and found.pages != side["pages"]
    ):
        props.fail(where, f"实有 {found.pages} 页, 元数据登记 {side['pages']} 页")
    times = [
        str(e.get("at")) for e in side.get("events", []) if isinstance(e, dict) and e.get("at")
    ]
    if times:
        try:
            latest = max(dt.datetime.fromisoformat(t) for t in times)
            modified = dt.datetime.fromtimestamp(stat.st_mtime, latest.tzinfo)
            if modified > latest + dt.timedelta(days=1):
                props.fail(
                    where, f"文件修改时间 {modified:%Y-%m-%d %H:%M} 晚于其历史中最后一次记录"
                )
        except (ValueError, TypeError):
            pass
    stored = _stored_path(side)
    if stored is not None and stored != where:
        report.item("GD-1-11").fail(where, f"历史记录的存放位置为 {stored}, 实际在 {where}")
    if found.mime not in LONG_TERM and found.mime is not None:
        report.item("GD-3-3").fail(
            where, f"{found.mime} 不是长期保存格式 (应为 PDF/OFD 或 JPEG/TIFF/PNG)"
        )
    if found.encrypted:
        report.item("GD-3-8").fail(where, "PDF 设有打开密码 (加密)")
    elif found.mime is None:
        report.item("GD-3-8").fail(where, "无法识别的文件格式")
    elif not found.readable:
        report.item("GD-3-4").fail(where, found.error)


def scan_for_viruses(paths: list[Path], report: CheckReport, database: Path | None) -> None:
    installed, scan = report.item("GD-4-1"), report.item("GD-4-2")
    result = clamscan(paths, database)
    installed.checked = 1
    if not result.scanner:
        installed.not_done = result.why_not
    else:
        installed.note = f"ClamAV: {result.scanner}"
    if not result.performed:
        scan.not_done = result.why_not
        return
    scan.checked = len(paths)
    for name, signature in result.infected or []:
        scan.fail(name, f"发现病毒: {signature}")
