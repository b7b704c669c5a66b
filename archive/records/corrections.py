"""Corrections: put right what intake got wrong, each an event in the record's history.

Every correction keeps the original bytes and the record id (its SHA-256); what changes is
where the record lives and what its sidecar says, and the sidecar records who did it, why,
and what was there before (``before`` / ``after`` in the event). The library functions here
are what the CLI (``dangan move``, ``edit``, ``withdraw``) and the web app call:

- :func:`move_to_dossier`: into another dossier (a licence, case, meeting or work-materials
  year that exists);
- :func:`edit_record`: another document type, date or keys (moving it when its dossier
  changes, relabelling its file name when its type does);
- :func:`withdraw_record`: out of its dossier into ``records/已撤出/`` with the reason; it
  keeps its 档号 (marked withdrawn) and stays under fixity.

Each is one crash-safe :func:`archive.records.moves.move_record` (journal first; finished
or undone by :func:`archive.records.moves.recover_moves` on the next run). A record whose
number group changes (type → 保管期限, date → 年度, dossier → 机构) takes the next 件号 of
its new group and keeps the old one as vacated (:mod:`archive.records.numbering`).
Call within ``archive.writer_lock()``.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.core.clock import Clock, local_now
from archive.core.config import Archive
from archive.core.dockeys import DocKeys
from archive.core.doctypes import canonical_meeting
from archive.core.errors import NotFoundError, UsageError
from archive.core.keys import is_valid_licence, normalize_case_number
from archive.core.meetings import Canonical, meeting_series
from archive.records.catalog import Catalog
from archive.records.moves import MovePlan, move_record, plan_move, plan_move_to, record_rel
from archive.records.moves import recover_moves as recover_moves
from archive.records.numbering import NumberingPolicy, numbered
from archive.records.store import TOP_FOLDERS, read_sidecar, sidecar_of

WITHDRAWN = "已撤出"
_KIND_OF_DOSSIER = {"materials": "other"}
_KEY_FIELDS = ("licence_no", "retailer", "case_no", "meeting_type", "date", "year")


class StateError(UsageError):
    """The record is in a state the correction does not apply to (e.g. already withdrawn)."""


#: The corrections, by the name both doors give them (``dangan move``, the page's "move").
CORRECTIONS = {
    "move": "移入另一档案",
    "edit": "更正类型、日期或题名",
    "withdraw": "撤出",
    "replace": "以重新扫描件替换",
    "split": "按页拆分",
}


@dataclass
class Corrected:
    """What one correction did (one JSON object of the CLI's ``--json``)."""

    op: str
    record_id: str
    before: str  # records/… before
    record: str  # records/… now
    archival_code: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def log_detail(self, what: str, reason: str) -> str:
        """The access log's words for it (``what``: a key of :data:`CORRECTIONS`)."""
        return f"{CORRECTIONS[what]}: {self.detail}; 原因: {reason}"


# --------------------------------------------------------------------------- finding records


def locate(archive: Archive, catalog: Catalog, ref: str) -> tuple[Path, dict[str, Any]]:
    """The record named by ``ref``: its path (``records/…`` or relative to records/), its
    SHA-256 (or a unique prefix of 8+ characters) or its 档号."""
    text = ref.strip()
    rows = catalog.records("archival_code = ?", (text,)) if text else []
    if not rows and len(text) >= 8 and all(c in "0123456789abcdef" for c in text.lower()):
        rows = catalog.records("record_id LIKE ?", (text.lower() + "%",))
        if len(rows) > 1:
            raise UsageError(f"{ref}: 有 {len(rows)} 份档案的编号以此开头; 请写得更长些")
    if rows:
        path = archive.records / rows[0]["path"]
    else:
        rel = text.removeprefix("records/").lstrip("/")
        path = archive.records / rel
    try:
        resolved = path.parent.resolve() / path.name
        resolved.relative_to(archive.records.resolve())
    except (ValueError, OSError):
        raise UsageError(f"{ref}: 不在档案库的 records/ 之内") from None
    if not _is_record_file(path) or not sidecar_of(path).is_file():
        raise NotFoundError(
            f"{ref}: 没有这份档案; 可写 records/ 下的路径、SHA-256 (前8位以上) 或档号 "
            "(dangan show 或 dangan search 可查到)"
        )
    return path, read_sidecar(sidecar_of(path))


def _is_record_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink() and not path.name.startswith(".")


def keys_of(side: dict[str, Any]) -> DocKeys:
    """The record's keys as its sidecar holds them."""
    k = side.get("keys") or {}
    kind = (side.get("dossier") or {}).get("kind", "other")
    date = dt.date.fromisoformat(k["date"]) if k.get("date") else None
    return DocKeys(
        dossier_kind=_KIND_OF_DOSSIER.get(kind, kind),
        licence_no=k.get("licence_no"),
        retailer=k.get("retailer"),
        case_no=k.get("case_no"),
        meeting_type=k.get("meeting_type"),
        date=date,
        year=k.get("year"),
        doc_type=side.get("doc_type"),
        source=k.get("source") or "path",
        attendees=list(k.get("attendees") or []),
        host=k.get("host"),
        topic=k.get("topic"),
    )


def guard_state(side: dict[str, Any], ref: str) -> None:
    status = side.get("status") or "filed"
    if status == "withdrawn":
        raise StateError(f"{ref}: 已撤出 (见其说明文件的 withdrawn 一项), 不能再更正或撤出")
    if status == "destroyed":
        raise StateError(f"{ref}: 已销毁, 只留有元数据, 不能再更正")


def need_who_and_why(actor: str, reason: str) -> None:
    if not actor.strip():
        raise UsageError("更正须写明操作人")
    if not reason.strip():
        raise UsageError("更正须写明原因 (--reason), 它会记入档案的历史")


def _summary(side: dict[str, Any]) -> dict[str, Any]:
    keys = {k: v for k, v in (side.get("keys") or {}).items() if k in _KEY_FIELDS and v}
    return {
        "doc_type": side.get("doc_type"),
        "dossier": side.get("dossier"),
        "keys": keys,
        "archival_code": (side.get("archival") or {}).get("code"),
    }


def correction_event(
    op: str, detail: str, actor: str, reason: str, at: str, **extra: Any
) -> dict[str, Any]:
    return {"at": at, "event": op, "detail": detail, "by": actor, "reason": reason, **extra}


# --------------------------------------------------------------------------- the operation


def carry_out(
    archive: Archive,
    catalog: Catalog,
    record: Path,
    side: dict[str, Any],
    plan: MovePlan,
    new_side: dict[str, Any],
    *,
    op: str,
    detail: str,
    actor: str,
    reason: str,
    at: str,
    policy: NumberingPolicy | None,
) -> Corrected:
    if plan.blocked:
        raise UsageError(f"records/{record_rel(archive, plan.target)}: 目标位置已有文件; 请重试")
    before_rel = record_rel(archive, record)
    new_side = {**new_side, "dossier": {"kind": plan.kind, "key": plan.key}}
    after_rel = record_rel(archive, plan.target)
    event = correction_event(
        op,
        f"{detail}" + ("" if plan.in_place else f"; records/{before_rel} → records/{after_rel}"),
        actor,
        reason,
        at,
        before=_summary(side),
    )
    new_side["events"] = [*side.get("events", []), event]
    if policy is not None:
        new_side = numbered(catalog, new_side, policy, at=at, reason=f"{op}: {reason}", by=actor)
    event["after"] = _summary(new_side)
    written = move_record(archive, catalog, record, plan, new_side)
    return Corrected(
        op=op,
        record_id=str(side["sha256"]),
        before=f"records/{before_rel}",
        record=f"records/{after_rel}",
        archival_code=(written.get("archival") or {}).get("code"),
        detail=event["detail"],
    )


def start_correction(
    archive: Archive, catalog: Catalog, ref: str, actor: str, reason: str
) -> tuple[Path, dict[str, Any]]:
    need_who_and_why(actor, reason)
    recover_moves(archive, catalog)
    record, side = locate(archive, catalog, ref)
    guard_state(side, ref)
    return record, side


# --------------------------------------------------------------------------- move


def parse_dossier(archive: Archive, target: str, canonical: Canonical | None = None) -> DocKeys:
    """A dossier named the way clerks name them: a licence number, a case number,
    ``会议名称/年份`` (the name as minutes write it: ``支委会议/2022`` is ``支部委员会/2022``
    when ``canonical``, the rules' mapping, says so) or ``工作材料/年份``."""
    text = target.strip().removeprefix("records/").strip("/")
    config = archive.config
    digits = text.split("_", 1)[0]
    if is_valid_licence(digits, config.area_codes):
        return DocKeys("household", licence_no=digits)
    case = normalize_case_number(text, config.case_prefixes)
    if case is not None:
        return DocKeys("case", case_no=case)
    head, _, year = text.rpartition("/")
    if year.isdigit() and len(year) == 4:
        head = head.removeprefix("会议记录/")
        if head == "工作材料":
            return DocKeys("other", year=int(year))
        meeting = meeting_series(head, canonical, config.bureau)
        if meeting is not None:
            return DocKeys("meeting", meeting_type=meeting, year=int(year))
    raise UsageError(
        f"{target!r}: 不是档案的写法; 应为许可证号 (12位)、案号、“会议类型/年份” "
        "(如 专销联动会议/2011) 或 “工作材料/年份”"
    )


def dossier_exists(
    archive: Archive, catalog: Catalog, keys: DocKeys, canonical: Canonical | None = None
) -> bool:
    """A household on the roster or with records, a case with records, a meeting series with
    records (of any year); meetings of a configured type (dangan.toml, or the rules through
    ``canonical``) and work materials of any year always have a place."""
    if keys.dossier_kind == "household" and keys.licence_no:
        if catalog.household(keys.licence_no) is not None:
            return True
        return bool(catalog.records("dossier_key = ? AND status = 'filed'", (keys.licence_no,)))
    if keys.dossier_kind == "case" and keys.case_no:
        return bool(catalog.records("dossier_key = ? AND status = 'filed'", (keys.case_no,)))
    if keys.dossier_kind == "meeting" and keys.meeting_type:
        name = keys.meeting_type
        if (canonical and canonical(name) == name) or name in {
            canonical_meeting(m) for m in archive.config.meeting_types
        }:
            return True
        filed = "dossier_kind = 'meeting' AND meeting_type = ? AND status = 'filed'"
        return bool(catalog.records(filed, (name,)))
    return keys.dossier_kind == "other"


def move_to_dossier(
    archive: Archive,
    catalog: Catalog,
    ref: str,
    target: str,
    *,
    actor: str,
    reason: str,
    policy: NumberingPolicy | None = None,
    clock: Clock = local_now,
    canonical: Canonical | None = None,
) -> Corrected:
    """Move a record into another existing dossier (see module doc); ``canonical``: the
    rules' mapping of meeting names to configured types."""
    record, side = start_correction(archive, catalog, ref, actor, reason)
    dest = parse_dossier(archive, target, canonical)
    if not dossier_exists(archive, catalog, dest, canonical):
        if dest.dossier_kind == "meeting":
            raise NotFoundError(
                f"{target}: 没有“{dest.meeting_type}”这种会议 (不是会议类型, 也没有已归档的"
                "同名会议记录); 请核对名称。确是新的会议: dangan edit 记录 --meeting 会议名称, "
                "或先在档案库的 rules.yaml 的 meetings 下写上它"
            )
        raise NotFoundError(
            f"{target}: 没有这个档案 (名册和已归档文件中都没有); 请核对号码, "
            "新户请先导入名册 (dangan households import)"
        )
    keys = keys_of(side)
    keys.dossier_kind = dest.dossier_kind
    if dest.dossier_kind == "household":
        keys.licence_no = dest.licence_no
        roster = catalog.household(dest.licence_no or "")
        keys.retailer = roster["name"] if roster is not None else None
    elif dest.dossier_kind == "case":
        keys.case_no = dest.case_no
    elif dest.dossier_kind == "meeting":
        keys.meeting_type, keys.year = dest.meeting_type, dest.year
        keys.date = keys.date if keys.date and keys.date.year == dest.year else None
    else:
        keys.year = dest.year
        keys.date = keys.date if keys.date and keys.date.year == dest.year else None
    plan = plan_move(archive, record, side, keys)
    if plan.folder == record.parent:
        raise UsageError(f"{ref}: 已在档案 {plan.key} 中, 无需移动")
    new_side = {**side, "keys": {**keys.as_dict(), "source": "correction"}}
    return carry_out(
        archive,
        catalog,
        record,
        side,
        plan,
        new_side,
        op="moved",
        detail=f"移入档案 {plan.key}",
        actor=actor,
        reason=reason,
        at=clock().isoformat(),
        policy=policy,
    )


def meeting_folder(ref: str) -> tuple[str, int | None] | None:
    """``records/会议记录/<名称>[/<年>]`` → (名称, 年 or None); None when ``ref`` names no
    meeting folder (a record's path, a 档号 …)."""
    parts = ref.strip().removeprefix("records/").strip("/").split("/")
    if len(parts) not in (2, 3) or parts[0] != TOP_FOLDERS["meeting"] or "." in parts[-1]:
        return None
    if any(p in ("", ".", "..") for p in parts):
        return None
    year = parts[2] if len(parts) == 3 else None
    if year is not None and not (year.isdigit() and len(year) == 4):
        return None
    return parts[1], int(year) if year else None


def move_meeting_folder(
    archive: Archive,
    catalog: Catalog,
    folder: str,
    target: str,
    *,
    actor: str,
    reason: str,
    policy: NumberingPolicy | None = None,
    clock: Clock = local_now,
    canonical: Canonical | None = None,
) -> list[Corrected]:
    """Every record of a meeting's folder (``records/会议记录/局长办公会议``, or one year of it)
    into the meeting ``target`` names (``局务会``, or ``局务会/2022``), each into the year it
    was held: what a bureau does after adopting a name as a title of a configured type.
    Each record is one move (one event in its history); run again, it moves what is left."""
    found = meeting_folder(folder)
    if found is None:
        raise UsageError(f"{folder}: 不是会议记录的文件夹, 应为 records/会议记录/会议名称[/年份]")
    name, year = found
    head, slash, wanted = target.strip().rpartition("/")
    if not (slash and wanted.isdigit() and len(wanted) == 4):
        head, wanted = target.strip(), ""
    where = "dossier_kind = 'meeting' AND status = 'filed' AND meeting_type = ?"
    rows = catalog.records(where, (name,))
    rows = [r for r in rows if year is None or r["year"] == year]
    if not rows:
        raise NotFoundError(f"{folder}: 没有已归档的会议记录 (dangan show {name} 可查)")
    if wanted and any(r["year"] != int(wanted) for r in rows):
        raise UsageError(
            f"{target}: {folder} 中有不是 {wanted} 年的记录; 只写会议名称 (不写年份), "
            "每份即移入其召开年份"
        )
    return [
        move_to_dossier(
            archive,
            catalog,
            f"records/{row['path']}",
            f"{head}/{row['year']}",
            actor=actor,
            reason=reason,
            policy=policy,
            clock=clock,
            canonical=canonical,
        )
        for row in rows
    ]


# --------------------------------------------------------------------------- edit


@dataclass
class Changes:
    """What an edit changes (``None``: unchanged; ``""`` for a key: cleared)."""

    doc_type: str | None = None
    date: str | None = None  # YYYY-MM-DD, or "" to clear
    licence_no: str | None = None
    case_no: str | None = None
    meeting_type: str | None = None
    title: str | None = None

    def empty(self) -> bool:
        return all(v is None for v in self.__dict__.values())


def _apply(
    archive: Archive,
    catalog: Catalog,
    keys: DocKeys,
    change: Changes,
    type_dossiers: Mapping[str, tuple[str, ...]],
    canonical: Canonical | None = None,
) -> None:
    config = archive.config
    if keys.dossier_kind == "tray":  # a tray document goes where its new keys say
        for kind, given in (
            ("household", change.licence_no),
            ("case", change.case_no),
            ("meeting", change.meeting_type),
        ):
            if given:
                keys.dossier_kind = kind
                break
    if change.doc_type is not None:
        if change.doc_type not in type_dossiers:
            raise UsageError(
                f"--type {change.doc_type!r}: 不是已知的文书类型; "
                f"可用: {'、'.join(sorted(type_dossiers))} (或在 rules.yaml 中新增)"
            )
        keys.doc_type = change.doc_type
        kinds = type_dossiers[change.doc_type]
        if keys.dossier_kind not in kinds:
            keys.dossier_kind = kinds[0]
    if change.date is not None:
        if change.date == "":
            keys.date = None
        else:
            try:
                keys.date = dt.date.fromisoformat(change.date.strip())
            except ValueError:
                raise UsageError(f"--date {change.date!r}: 应为日期, 如 2011-03-05") from None
            keys.year = keys.date.year
    if change.licence_no is not None:
        if not is_valid_licence(change.licence_no, config.area_codes):
            raise UsageError(f"--licence {change.licence_no!r}: 不是本县有效的12位许可证号")
        keys.licence_no = change.licence_no
        roster = catalog.household(change.licence_no)
        keys.retailer = roster["name"] if roster is not None else None
    if change.case_no is not None:
        case = normalize_case_number(change.case_no, config.case_prefixes)
        if case is None:
            raise UsageError(f"--case {change.case_no!r}: 不是案号的写法, 如 潼烟罚〔2011〕12号")
        keys.case_no = case
    if change.meeting_type is not None:
        keys.meeting_type = meeting_series(change.meeting_type, canonical, config.bureau)
        if keys.meeting_type is None:
            raise UsageError(
                f"--meeting {change.meeting_type!r}: 不是会议的名称, 如 依法行政工作推进会"
            )
    if keys.dossier_kind == "other" and keys.year is None and keys.date is not None:
        keys.year = keys.date.year


def edit_record(
    archive: Archive,
    catalog: Catalog,
    ref: str,
    change: Changes,
    *,
    actor: str,
    reason: str,
    type_dossiers: Mapping[str, tuple[str, ...]],
    policy: NumberingPolicy | None = None,
    clock: Clock = local_now,
    canonical: Canonical | None = None,
) -> Corrected:
    """Change a record's document type, date, keys or title (see module doc).

    ``type_dossiers``: every known document type → the dossier kinds it belongs to (from
    the rules); ``canonical``: the rules' mapping of meeting names to configured types."""
    if change.empty():
        raise UsageError(
            "没有要更正的内容; 请指定 --type、--date、--licence、--case、--meeting 或 --title"
        )
    record, side = start_correction(archive, catalog, ref, actor, reason)
    keys = keys_of(side)
    _apply(archive, catalog, keys, change, type_dossiers, canonical)
    if keys.dossier_kind == "tray" or not keys.resolved:
        wanted = {"household": "--licence", "case": "--case", "meeting": "--meeting 和 --date"}
        raise UsageError(
            f"{ref}: 更正后无法确定所属档案; 请同时指定 {wanted.get(keys.dossier_kind, '--type')}"
        )
    plan = plan_move(archive, record, side, keys, keep_seq=True)
    changed = [
        f"{label} {before or '—'} → {after or '—'}"
        for label, before, after in (
            ("类型", side.get("doc_type"), keys.doc_type),
            ("日期", (side.get("keys") or {}).get("date"), keys.date and keys.date.isoformat()),
            ("许可证号", (side.get("keys") or {}).get("licence_no"), keys.licence_no),
            ("案号", (side.get("keys") or {}).get("case_no"), keys.case_no),
            ("会议", (side.get("keys") or {}).get("meeting_type"), keys.meeting_type),
            (
                "题名",
                side.get("title"),
                change.title if change.title is not None else side.get("title"),
            ),
        )
        if (before or None) != (after or None)
    ]
    if not changed:
        raise UsageError(f"{ref}: 所写内容与现有的相同, 无需更正")
    new_side = copy.deepcopy(side)
    new_side["doc_type"] = keys.doc_type
    new_side["keys"] = {**keys.as_dict(), "source": "correction"}
    if change.title is not None:
        new_side["title"] = change.title.strip() or side.get("title")
    if change.doc_type is not None:
        new_side["findings"] = [
            f for f in side.get("findings", []) if f.get("code") not in ("title_mismatch",)
        ]
    return carry_out(
        archive,
        catalog,
        record,
        side,
        plan,
        new_side,
        op="corrected",
        detail="; ".join(changed),
        actor=actor,
        reason=reason,
        at=clock().isoformat(),
        policy=policy,
    )


# --------------------------------------------------------------------------- withdraw


def withdraw_record(
    archive: Archive,
    catalog: Catalog,
    ref: str,
    *,
    actor: str,
    reason: str,
    clock: Clock = local_now,
    links: dict[str, Any] | None = None,
) -> Corrected:
    """Take a record out of its dossier into ``records/已撤出/`` (see module doc).

    ``links`` (e.g. ``{"replaced_by": …}``) are kept in the sidecar's ``withdrawn`` entry."""
    record, side = start_correction(archive, catalog, ref, actor, reason)
    at = clock().isoformat()
    label = side.get("doc_type") or Path(str(side.get("original_name") or record.name)).stem
    plan = plan_move_to(record, side, "withdrawn", WITHDRAWN, archive.records / WITHDRAWN, label)
    new_side = copy.deepcopy(side)
    new_side["status"] = "withdrawn"
    new_side["withdrawn"] = {
        "at": at,
        "by": actor,
        "reason": reason,
        "from": f"records/{record_rel(archive, record)}",
        "dossier": side.get("dossier"),
        **(links or {}),
    }
    code = (side.get("archival") or {}).get("code")
    detail = f"撤出档案 {(side.get('dossier') or {}).get('key', '')}"
    if code:
        detail += f", 档号 {code} 保留并注明撤出"
    return carry_out(
        archive,
        catalog,
        record,
        side,
        plan,
        new_side,
        op="withdrawn",
        detail=detail,
        actor=actor,
        reason=reason,
        at=at,
        policy=None,
    )


def type_dossiers_from(types: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Type name → its dossier kinds, from the rules' type table (``TypeRule.dossiers``)."""
    return {name: tuple(rule.dossiers) for name, rule in types.items()}


def history(side: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's events, oldest first (who and why on every correction)."""
    return [dict(e) for e in side.get("events", [])]
