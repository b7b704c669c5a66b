"""Corrections that file new content: a re-scan replacing an unclear scan, and one scan split
into the documents it holds.

- :func:`replace_scan`: the new scan is filed into the old record's dossier under its keys
  (linked: ``replaces``), then the old record is withdrawn (``replaced_by``);
- :func:`split_scan`: each page range of a PDF becomes a record of its own (a new PDF of
  those pages, linked ``split_from`` with its pages), then the original is withdrawn
  (``split_into``). The original's bytes never change; it stays, withdrawn, under fixity.

Both are compound: filing goes through :class:`archive.intake.intake.Intake` (each file
published crash-safely on its own) and the withdrawal through
:func:`archive.records.corrections.withdraw_record`. The whole correction is announced first
in ``.dangan/corrections/<id>.json``; :func:`recover_rescans` (run at the start of every
correction, and by ``dangan reindex`` through the CLI) finishes it when everything new was
filed, and otherwise undoes what was filed, so a crash leaves either the old record alone or
the new ones with the old withdrawn. Call within ``archive.writer_lock()``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError

from archive.core.clock import Clock, local_now
from archive.core.config import Archive
from archive.core.errors import ArchiveError, NotFoundError, UsageError
from archive.intake.intake import Intake
from archive.intake.preflight import preflight
from archive.records.catalog import Catalog
from archive.records.corrections import (
    Corrected,
    correction_event,
    guard_state,
    keys_of,
    locate,
    need_who_and_why,
    withdraw_record,
)
from archive.records.moves import recover_moves
from archive.records.store import (
    drop_torn_temporaries,
    fsync_dir,
    read_sidecar,
    sha256_file,
    sidecar_of,
    write_json_atomic,
)


def journal_dir(archive: Archive) -> Path:
    return archive.state / "corrections"


@dataclass(frozen=True)
class PagePart:
    """One document cut out of a scan: its pages (1-based, inclusive) and type."""

    first: int
    last: int
    doc_type: str | None = None
    title: str | None = None


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """``"1-2,3,4-6"`` → [(1, 2), (3, 3), (4, 6)]."""
    out: list[tuple[int, int]] = []
    for part in text.replace("，", ",").split(","):
        part = part.strip().replace("—", "-").replace("~", "-")
        if not part:
            continue
        a, _, b = part.partition("-")
        if not a.strip().isdigit() or (b and not b.strip().isdigit()):
            raise UsageError(f"页码范围 {part!r}: 应写作 1-2,3,4-6")
        first, last = int(a), int(b or a)
        if first < 1 or last < first:
            raise UsageError(f"页码范围 {part!r}: 起始页应不小于1且不大于结束页")
        out.append((first, last))
    if not out:
        raise UsageError("没有页码范围; 应写作 1-2,3,4-6")
    return out


def page_parts(ranges: str, types: str | None, known: Iterable[str]) -> list[PagePart]:
    """The parts of a split from its page ranges (``1-2,3``) and, optionally, a type for
    each (``申请表,身份证明``), each a known type."""
    spans = parse_ranges(ranges)
    names = [t.strip() or None for t in types.replace("，", ",").split(",")] if types else []
    if names and len(names) != len(spans):
        raise UsageError(f"文书类型有 {len(names)} 项, 页码范围有 {len(spans)} 段; 应一一对应")
    unknown = [n for n in names if n and n not in set(known)]
    if unknown:
        raise UsageError(f"未知的文书类型 {'、'.join(unknown)}")
    return [PagePart(a, b, names[i] if names else None) for i, (a, b) in enumerate(spans)]


# --------------------------------------------------------------------------- journal


def _begin(archive: Archive, entry: dict[str, Any]) -> Path:
    folder = journal_dir(archive)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{entry['id']}.json"
    write_json_atomic(path, entry)
    fsync_dir(folder)
    return path


def _unfile(archive: Archive, catalog: Catalog, sha: str) -> None:
    """Remove a record this correction filed (undo): sidecar first, then its files."""
    row = catalog.by_sha(sha)
    if row is None:
        return
    record = archive.records / row["path"]
    side_path = sidecar_of(record)
    derived: list[Path] = []
    if side_path.exists():
        side = read_sidecar(side_path)
        for name in (side.get("derivatives") or {}).values():
            if isinstance(name, str) and "/" not in name:
                derived.append(record.with_name(name))
        side_path.unlink()
    for path in (record, *derived):
        path.unlink(missing_ok=True)
    catalog.delete(sha)


def recover_rescans(archive: Archive, catalog: Catalog, *, clock: Clock = local_now) -> list[str]:
    """Finish or undo every replace/split a crash interrupted; what was done, per entry."""
    folder = journal_dir(archive)
    if not folder.is_dir():
        return []
    drop_torn_temporaries(folder)
    recover_moves(archive, catalog)
    Intake(archive, catalog, clock=clock)  # its constructor finishes interrupted publishes
    done: list[str] = []
    for path in sorted(folder.glob("*.json")):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            path.unlink()  # torn before anything was filed
            continue
        new = [str(s) for s in entry["new"]]
        filed = [s for s in new if catalog.by_sha(s) is not None]
        old = catalog.by_sha(entry["old"])
        if len(filed) == len(new) and old is not None:
            if old["status"] == "filed":
                withdraw_record(
                    archive,
                    catalog,
                    entry["old"],
                    actor=entry["actor"],
                    reason=entry["withdraw_reason"],
                    clock=clock,
                    links=entry["links"],
                )
            done.append(f"已完成中断的{entry['label']}: {entry['old'][:12]}")
        else:
            for sha in filed:
                _unfile(archive, catalog, sha)
            done.append(f"已撤销中断的{entry['label']}: {entry['old'][:12]}")
        shutil.rmtree(folder / entry["id"], ignore_errors=True)
        path.unlink()
    for work in folder.iterdir():  # pages cut for a split that was never announced
        if work.is_dir() and not (folder / f"{work.name}.json").exists():
            shutil.rmtree(work, ignore_errors=True)
    return done


# --------------------------------------------------------------------------- shared


def _file_new(
    intake: Intake,
    source: Path,
    side: dict[str, Any],
    doc_type: str | None,
    annotate: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    keys = keys_of(side)
    if doc_type:
        keys.doc_type = doc_type
    outcome = intake.process(source, source.parent, forced=keys, annotate=annotate)
    if outcome is None or outcome.outcome != "filed" or outcome.record is None:
        reason = outcome.reason if outcome is not None else "未处理"
        raise ArchiveError(f"{source}: 未能归档 ({reason}); 原档案未作改动")
    return read_sidecar(sidecar_of(intake.archive.root / outcome.record))


def _check_file(path: Path, archive: Archive, catalog: Catalog) -> str:
    if not path.is_file():
        raise NotFoundError(f"{path}: 文件不存在; 请检查路径")
    checked = preflight(path, archive.config, path.name)
    if checked.rejection is not None:
        raise UsageError(f"{path}: 不能归档: {checked.rejection.reason}; 原档案未作改动")
    sha = sha256_file(path)
    existing = catalog.by_sha(sha)
    if existing is not None:
        raise UsageError(f"{path}: 与已归档的 records/{existing['path']} 完全相同; 原档案未作改动")
    return sha


# --------------------------------------------------------------------------- replace


def replace_scan(
    archive: Archive,
    catalog: Catalog,
    ref: str,
    new_file: Path,
    *,
    actor: str,
    reason: str,
    intake: Intake,
    clock: Clock = local_now,
) -> list[Corrected]:
    """File ``new_file`` (a re-scan) in place of the record ``ref`` (see module doc)."""
    need_who_and_why(actor, reason)
    recover_rescans(archive, catalog, clock=clock)
    record, side = locate(archive, catalog, ref)
    guard_state(side, ref)
    new_sha = _check_file(new_file, archive, catalog)
    at = clock().isoformat()
    old_sha = str(side["sha256"])
    entry = {
        "id": uuid.uuid4().hex,
        "label": "替换扫描件",
        "old": old_sha,
        "new": [new_sha],
        "actor": actor,
        "withdraw_reason": f"已由重新扫描件替换: {reason}",
        "links": {"replaced_by": [new_sha]},
    }
    journal = _begin(archive, entry)

    def annotate(new: dict[str, Any]) -> dict[str, Any]:
        new["replaces"] = old_sha
        new["source"] = f"重新扫描: {new_file.name}"
        new["events"].append(
            correction_event(
                "replaces",
                f"重新扫描, 替换 records/{record.relative_to(archive.records).as_posix()}",
                actor,
                reason,
                at,
            )
        )
        return new

    new_side = _file_new(intake, new_file, side, side.get("doc_type"), annotate)
    gone = withdraw_record(
        archive,
        catalog,
        old_sha,
        actor=actor,
        reason=str(entry["withdraw_reason"]),
        clock=clock,
        links=dict(entry["links"]),  # type: ignore[arg-type]
    )
    journal.unlink()
    new_row = catalog.by_sha(new_sha)
    assert new_row is not None
    filed = Corrected(
        op="replaces",
        record_id=new_sha,
        before=str(new_file),
        record=f"records/{new_row['path']}",
        archival_code=(new_side.get("archival") or {}).get("code"),
        detail=f"替换 {gone.before}",
    )
    return [filed, gone]


# --------------------------------------------------------------------------- split


def _cut(source: Path, parts: list[PagePart], folder: Path) -> list[Path]:
    try:
        reader = PdfReader(source)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UsageError(f"{source}: PDF 有密码, 无法拆分")
        total = len(reader.pages)
    except (OSError, PyPdfError, ValueError) as exc:
        raise UsageError(f"{source}: 无法读取 PDF 页面 ({exc}), 不能拆分") from exc
    covered: dict[int, int] = {}
    for n, part in enumerate(parts, 1):
        if part.last > total:
            raise UsageError(
                f"第{n}段 {part.first}-{part.last}: 超出页数, 该文件共 {total} 页; 未作任何改动"
            )
        for page in range(part.first, part.last + 1):
            if page in covered:
                raise UsageError(f"第{page}页同时出现在第{covered[page]}段和第{n}段; 未作任何改动")
            covered[page] = n
    missing = [p for p in range(1, total + 1) if p not in covered]
    if missing:
        raise UsageError(
            f"第{'、'.join(map(str, missing))}页没有归入任何一段; 拆分须覆盖全部 {total} 页"
        )
    if len(parts) < 2:
        raise UsageError("拆分至少要分成两段")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n, part in enumerate(parts, 1):
        writer = PdfWriter()
        for page in range(part.first - 1, part.last):
            writer.add_page(reader.pages[page])
        label = part.doc_type or "拆分"
        path = folder / f"{n:02d}_{label}_第{part.first}-{part.last}页.pdf"
        with path.open("wb") as fh:
            writer.write(fh)
        out.append(path)
    return out


def split_scan(
    archive: Archive,
    catalog: Catalog,
    ref: str,
    parts: list[PagePart],
    *,
    actor: str,
    reason: str,
    intake: Intake,
    clock: Clock = local_now,
) -> list[Corrected]:
    """Split the PDF record ``ref`` into the documents ``parts`` name (see module doc)."""
    need_who_and_why(actor, reason)
    recover_rescans(archive, catalog, clock=clock)
    record, side = locate(archive, catalog, ref)
    guard_state(side, ref)
    if side.get("mime") != "application/pdf":
        raise UsageError(f"{ref}: 只有多页 PDF 可以拆分 (此文件为 {side.get('mime')})")
    op_id = uuid.uuid4().hex
    work = journal_dir(archive) / op_id
    files = _cut(record, parts, work)
    shas = [sha256_file(f) for f in files]
    for sha, f in zip(shas, files, strict=True):
        if catalog.by_sha(sha) is not None:
            shutil.rmtree(work, ignore_errors=True)
            raise UsageError(f"{f.name}: 这几页已作为一份档案归档; 未作任何改动")
    at = clock().isoformat()
    old_sha = str(side["sha256"])
    old_rel = f"records/{record.relative_to(archive.records).as_posix()}"
    entry = {
        "id": op_id,
        "label": "拆分",
        "old": old_sha,
        "new": shas,
        "actor": actor,
        "withdraw_reason": f"已拆分为 {len(parts)} 份: {reason}",
        "links": {"split_into": shas},
    }
    journal = _begin(archive, entry)
    filed: list[Corrected] = []
    for part, path, sha in zip(parts, files, shas, strict=True):

        def annotate(new: dict[str, Any], part: PagePart = part) -> dict[str, Any]:
            new["split_from"] = {"sha256": old_sha, "pages": [part.first, part.last]}
            new["source"] = f"{old_rel}#第{part.first}-{part.last}页"
            if part.title:
                new["title"] = part.title
            new["events"].append(
                correction_event(
                    "split_from",
                    f"从 {old_rel} 拆出第{part.first}-{part.last}页",
                    actor,
                    reason,
                    at,
                )
            )
            return new

        new_side = _file_new(intake, path, side, part.doc_type or side.get("doc_type"), annotate)
        row = catalog.by_sha(sha)
        assert row is not None
        filed.append(
            Corrected(
                op="split_from",
                record_id=sha,
                before=old_rel,
                record=f"records/{row['path']}",
                archival_code=(new_side.get("archival") or {}).get("code"),
                detail=f"第{part.first}-{part.last}页",
            )
        )
    gone = withdraw_record(
        archive,
        catalog,
        old_sha,
        actor=actor,
        reason=str(entry["withdraw_reason"]),
        clock=clock,
        links=dict(entry["links"]),  # type: ignore[arg-type]
    )
    journal.unlink()
    shutil.rmtree(work, ignore_errors=True)
    return [*filed, gone]
