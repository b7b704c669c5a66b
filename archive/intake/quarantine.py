"""The quarantine (隔离区), worked by a clerk: release a file once its cause is fixed, or
delete it with a reason.

A quarantined file is ``quarantine/<date>/<name>`` with its reason beside it in
``<name>.why.json``. :func:`release` puts it back where it came from in the inbox and files
it at once through the same intake as everything else: filed if the cause is gone (the roster
now names its household, say), quarantined again with the reason if not. :func:`delete`
removes it and its note; the reason goes to the caller's log (the web app's access log).
Call both within ``archive.writer_lock()``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.core.config import Archive
from archive.core.errors import NotFoundError, UsageError
from archive.intake.intake import Intake, Outcome
from archive.intake.upload import free_name
from archive.records.catalog import Catalog

WHY = ".why.json"


@dataclass(frozen=True)
class Quarantined:
    """One quarantined file and its note."""

    path: Path
    rel: str  # quarantine/… relative to the archive root
    why: dict[str, Any]

    @property
    def note(self) -> Path:
        return self.path.with_name(self.path.name + WHY)


def find(archive: Archive, rel: str) -> Quarantined:
    """The quarantined file *rel* (``quarantine/…``); never a path outside the quarantine."""
    text = rel.strip().lstrip("/")
    root = archive.quarantine.resolve()
    path = archive.root / text
    try:
        resolved = path.parent.resolve() / path.name
        resolved.relative_to(root)
    except (ValueError, OSError):
        raise UsageError(f"{rel}: 不在隔离区之内") from None
    if resolved == root or path.name.endswith(WHY) or not path.is_file() or path.is_symlink():
        raise NotFoundError(f"{rel}: 隔离区中没有这个文件 (可能已被放行或删除); 请刷新页面")
    note = path.with_name(path.name + WHY)
    try:
        why = json.loads(note.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        why = {"code": "unknown", "reason": "隔离说明缺失或无法读取", "source": ""}
    return Quarantined(path, resolved.relative_to(archive.root.resolve()).as_posix(), why)


def _home(archive: Archive, item: Quarantined) -> list[str]:
    """Where in the inbox the file came from (its kind folder and subfolders)."""
    source = str(item.why.get("source") or "")
    if source.startswith("inbox/"):
        parts = [p for p in source.removeprefix("inbox/").split("/") if p not in ("", ".", "..")]
        if len(parts) > 1 and parts[0] in archive.config.kinds:
            return [*parts[:-1], item.path.name]
    other = next((f for f, kind in archive.config.kinds.items() if kind == "other"), None)
    return [other, item.path.name] if other else [item.path.name]


def release(archive: Archive, catalog: Catalog, intake: Intake, rel: str) -> Outcome:
    """Put the quarantined file back into the inbox and file it now (see module doc)."""
    item = find(archive, rel)
    parts = _home(archive, item)
    folder = archive.inbox.joinpath(*parts[:-1])
    folder.mkdir(parents=True, exist_ok=True)
    target = free_name(folder, parts[-1])
    os.replace(item.path, target)
    item.note.unlink(missing_ok=True)
    catalog.remove_quarantine(item.rel)
    outcome = intake.process(target, archive.inbox)
    if outcome is None:  # litter names never reach the quarantine; keep it safe all the same
        raise UsageError(f"{rel}: 放行后未能处理, 文件在 {target.relative_to(archive.root)}")
    return outcome


def delete(archive: Archive, catalog: Catalog, rel: str, *, actor: str, reason: str) -> Quarantined:
    """Delete the quarantined file and its note; *reason* is required (see module doc)."""
    if not actor.strip():
        raise UsageError("删除隔离文件须写明操作人")
    if not reason.strip():
        raise UsageError("删除隔离文件须写明原因 (它会记入利用登记)")
    item = find(archive, rel)
    item.path.unlink()
    item.note.unlink(missing_ok=True)
    catalog.remove_quarantine(item.rel)
    return item
