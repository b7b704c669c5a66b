"""The audit's checks of things awaiting a clerk: the unresolved tray, duplicates,
quarantine, and fixity (records whose bytes changed or vanished)."""

from __future__ import annotations

from archive.assess.audit import ERROR, INFO, WARNING, ArchiveView, AuditFinding, record_findings
from archive.core.config import Archive
from archive.core.doctypes import normalise_doc_type
from archive.records.catalog import Catalog
from archive.records.tray_reasons import tray_reason


def general_findings(
    view: ArchiveView, evidence_types: set[str], used: dict[str, str]
) -> list[AuditFinding]:
    """The unresolved tray, duplicates and quarantine.

    ``evidence_types`` are the normalised document types the standard asks for: a tray record
    of such a type is already used as evidence and is not reported as unresolved.  ``used``
    maps record paths to the criterion they back.
    """
    out: list[AuditFinding] = []
    for r in view.records:
        if r.dossier_kind != "tray":
            continue
        names = [normalise_doc_type(n) for n in r.names]
        if r.path in used or any(t in n for t in evidence_types for n in names):
            continue
        why = tray_reason(r.doc_type, r.meeting_type, "", name=r.title)
        out.append(
            AuditFinding("unresolved", WARNING, "待归档", r.ref, used.get(r.path),
                         f"“{r.title}”{why.what}", why.fix)
        )  # fmt: skip
        out += record_findings(r, used.get(r.path), "待归档")
    seen_sources = set()
    for q in view.quarantine:
        seen_sources.add(q.get("source"))
        if q["code"] == "duplicate":
            out.append(
                AuditFinding(
                    "duplicate",
                    INFO,
                    q.get("source") or q["path"],
                    q["path"],
                    None,
                    f"与已归档文件内容完全相同：{q['reason']}",
                    "无需归档；确认后可从隔离区删除",
                )
            )
        else:
            out.append(
                AuditFinding(
                    "quarantined",
                    WARNING,
                    q.get("source") or q["path"],
                    q["path"],
                    None,
                    f"文件被隔离：{q['reason']}",
                    "按原因处理后重新放入收件箱，或删除",
                )
            )
    for path, source in view.duplicate_events:
        if source in seen_sources:
            continue
        out.append(
            AuditFinding(
                "duplicate",
                INFO,
                source,
                f"records/{path}",
                None,
                f"{source} 与已归档文件内容完全相同，未重复归档",
                "无需处理",
            )
        )
    return out


def fixity_findings(archive: Archive, catalog: Catalog, used: dict[str, str]) -> list[AuditFinding]:
    """Records whose bytes changed or vanished, and files nobody filed (hashes everything)."""
    from archive.records.fixity import verify_records

    report = verify_records(archive, catalog)
    out = []
    for item in report.changed:
        out.append(
            AuditFinding(
                "checksum_changed",
                ERROR,
                item["record"],
                item["record"],
                used.get(item["record"].removeprefix("records/")),
                "文件内容与归档时的校验值不一致（被改动或损坏）",
                "从备份恢复原件；若为有意修改，应作为新文件重新归档",
            )
        )
    for item in report.missing:
        out.append(
            AuditFinding(
                "record_missing",
                ERROR,
                item["record"],
                item["record"],
                used.get(item["record"].removeprefix("records/")),
                "档案目录中登记的文件已不存在",
                "从备份恢复该文件",
            )
        )
    for path in report.unexpected:
        out.append(
            AuditFinding(
                "unregistered_file",
                WARNING,
                path,
                path,
                None,
                "records/ 中有未经收件登记的文件",
                "移出 records/，放入收件箱重新归档",
            )
        )
    return out
