"""The audit: every defect an inspector would write down, found before the inspector does.

An :class:`AuditFinding` names what is wrong (``code``), how much it matters (``severity``),
the dossier or thing it concerns (``subject``), the record (``records/…`` path) when there is
one, the criterion of the scoring standard it threatens, and what the clerk should do.

This module holds the finding type, the read-only view of the catalog the audit and the
score work from (:class:`ArchiveView`, loaded once), and the checks that do not depend on the
standard's evidence rules: dossier completeness against the checklists, illegible scans,
title/content mismatches, licence terms from the roster, the unresolved tray, duplicates,
quarantine and fixity.  Checks against the standard (meetings, documents, metrics) and the
points live in :mod:`archive.assess.score`; :func:`archive.assess.score.audit_archive` runs both and returns the list.

All dates are pinned by the caller (``as_of``): nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from archive.assess.checklists import APPLICATION_TYPES, Checklists, Requirement
from archive.core.doctypes import normalise_doc_type
from archive.core.keys import find_months
from archive.records.catalog import Catalog

if TYPE_CHECKING:
    pass

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITY_LABELS = {ERROR: "问题", WARNING: "待办", INFO: "提示"}
SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}

CODE_LABELS = {
    "missing_document": "缺少文书",
    "no_dossier": "无档案",
    "illegible": "扫描不清晰",
    "unread_pages": "页面无法读取",
    "pdf_incomplete": "PDF不完整",
    "title_mismatch": "标题与内容不符",
    "extension_mismatch": "扩展名与内容不符",
    "meeting_missing": "会议无记录",
    "evidence_missing": "评分材料缺失",
    "licence_expired": "许可证已过期",
    "licence_expiring": "许可证即将到期",
    "unresolved": "待归档",
    "duplicate": "重复文件",
    "checksum_changed": "文件被改动",
    "record_missing": "文件缺失",
    "unregistered_file": "未登记文件",
    "metric_missing": "缺少自查数据",
    "metric_no_evidence": "数据无证明材料",
    "metric_below": "指标未达标",
    "quarantined": "隔离待处理",
    "manual_check": "需人工查看",
    "seal_missing": "未见印章",
    "meeting_incomplete": "会议记录要素不全",
}

RENEWAL_DAYS = 30  # a licence's renewal is due this many days before it expires
_DOSSIER_NAMES = {"household": "许可证档案", "case": "处罚案卷", "meeting": "会议记录"}
_APP_RE = re.compile("(" + "|".join(a for a in APPLICATION_TYPES if a != "新办") + ")(申请|登记)")
_QUARTER_RE = re.compile(r"(?:第)?([一二三四1-4])季度")
_YEAR_RE = re.compile(r"((?:19|20)\d{2})\s*年")
_CASE_YEAR_RE = re.compile(r"〔((?:19|20)\d{2})〕")
_QUARTER_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}


@dataclass
class AuditFinding:
    """One thing the clerk must look at (``code`` is stable; the rest is Chinese text)."""

    code: str
    severity: str  # error | warning | info
    subject: str  # the dossier, meeting series, metric or file it concerns
    record: str | None  # "records/…" (or "quarantine/…") when one file is concerned
    criterion: str | None  # code of the standard's sub-item it threatens
    message: str
    action: str

    @property
    def label(self) -> str:
        return CODE_LABELS.get(self.code, self.code)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label}


def sort_findings(findings: Iterable[AuditFinding]) -> list[AuditFinding]:
    """Errors first, then by criterion, subject and record (a stable, readable order)."""
    return sorted(
        findings,
        key=lambda f: (
            SEVERITY_ORDER.get(f.severity, 9),
            _code_key(f.criterion),
            f.code,
            f.subject,
            f.record or "",
        ),
    )


def _code_key(code: str | None) -> tuple[Any, ...]:
    if code is None:
        return ((1, ""),)
    return tuple((0, int(p)) if p.isdigit() else (0.5, p) for p in re.split(r"[.\-]", code))


# ------------------------------------------------------------------ the catalog, once


@dataclass
class RecordInfo:
    """What the audit needs of one catalogued record (text is not loaded)."""

    record_id: str
    path: str  # relative to records/
    dossier_kind: str
    dossier_key: str
    doc_type: str | None
    title: str
    meeting_type: str | None
    doc_date: str | None
    year: int | None
    legible: int | None
    filed_at: str
    codes: set[str] = field(default_factory=set)  # intake findings (illegible, title_mismatch…)
    seals: int | None = None  # seals seen on its scanned pages; None: not looked for
    _when: tuple[int | None, int | None, int | None] | None = field(default=None, repr=False)

    @property
    def ref(self) -> str:
        return f"records/{self.path}"

    @property
    def names(self) -> list[str]:
        """The names the record goes by (its type and its title) for checklist matching."""
        return [n for n in (self.doc_type, self.title) if n]

    @property
    def defective(self) -> bool:
        """An illegible page or a title that does not match the content: proves nothing."""
        return self.legible == 0 or "illegible" in self.codes or "title_mismatch" in self.codes

    def when(self) -> tuple[int | None, int | None, int | None]:
        """(year, quarter, month) the record belongs to: its date, else a month or quarter
        written in its title, else its year (else a year written in its title)."""
        if self._when is None:
            self._when = self._compute_when()
        return self._when

    def _compute_when(self) -> tuple[int | None, int | None, int | None]:
        if self.doc_date:
            year, month = int(self.doc_date[:4]), int(self.doc_date[5:7])
            return year, (month - 1) // 3 + 1, month
        months = find_months(self.title)
        if months:
            year, month = months[0]
            return year, (month - 1) // 3 + 1, month
        quarter = _QUARTER_RE.search(self.title)
        found = _YEAR_RE.search(self.title) if self.year is None else None
        in_title = int(found.group(1)) if found else None
        return self.year or in_title, _QUARTER_DIGITS[quarter.group(1)] if quarter else None, None


@dataclass
class ArchiveView:
    """The catalog read once: records, their intake findings, roster, quarantine, events."""

    records: list[RecordInfo]
    households: dict[str, dict[str, Any]]
    quarantine: list[dict[str, Any]]
    duplicate_events: list[tuple[str, str]]  # (record path, source)
    findings: dict[str, list[tuple[str, str]]]  # record_id -> [(code, message)]
    # (kind, key) of a dossier -> records filed elsewhere that belong to it too (minutes of
    # a case meeting in a case's dossier)
    linked: dict[tuple[str, str], list[RecordInfo]] = field(default_factory=dict)

    @classmethod
    def load(cls, catalog: Catalog) -> ArchiveView:
        db = catalog.db
        found: dict[str, list[tuple[str, str]]] = {}
        for rid, code, message in db.execute("SELECT record_id, code, message FROM findings"):
            found.setdefault(rid, []).append((code, message))
        records = [
            RecordInfo(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5] or "",
                r[6],
                r[7],
                r[8],
                r[9],
                r[10] or "",
                {c for c, _ in found.get(r[0], [])},
                r[11],
            )
            for r in db.execute(
                "SELECT record_id, path, dossier_kind, dossier_key, doc_type, title, "
                "meeting_type, doc_date, year, legible, filed_at, "
                "json_extract(meta, '$.seals.count') FROM records ORDER BY path"
            )
        ]
        by_id = {r.record_id: r.path for r in records}
        dups = [
            (by_id[rid], detail)
            for rid, detail in db.execute(
                "SELECT record_id, detail FROM events WHERE event = 'duplicate' ORDER BY at"
            )
            if rid in by_id
        ]
        by_record = {r.record_id: r for r in records}
        linked: dict[tuple[str, str], list[RecordInfo]] = {}
        for x in catalog.crossrefs():
            if x["record_id"] in by_record:
                dossier = (x["dossier_kind"], x["dossier_key"])
                linked.setdefault(dossier, []).append(by_record[x["record_id"]])
        return cls(
            records=records,
            households={r["licence_no"]: dict(r) for r in catalog.households()},
            quarantine=[dict(r) for r in catalog.quarantined()],
            duplicate_events=dups,
            findings=found,
            linked=linked,
        )

    def of_kind(self, kind: str) -> dict[str, list[RecordInfo]]:
        out: dict[str, list[RecordInfo]] = {}
        for r in self.records:
            if r.dossier_kind == kind:
                out.setdefault(r.dossier_key, []).append(r)
        return out


# ------------------------------------------------------------------ dossier checks


@dataclass
class DossierCheck:
    """One dossier judged against its checklist: complete or not, and why."""

    kind: str  # household | case
    key: str
    records: list[RecordInfo]
    findings: list[AuditFinding]

    @property
    def complete(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)


def _applications(records: list[RecordInfo]) -> list[str]:
    """The applications a household dossier evidences (新办 when none other is named)."""
    found = []
    for r in records:
        for name in r.names:
            m = _APP_RE.search(normalise_doc_type(name))
            if m and m.group(1) not in found:
                found.append(m.group(1))
    return found or ["新办"]


def _case_names(r: RecordInfo) -> list[str]:
    """The names a record goes by in a case's checklist: minutes of a case meeting also as
    ``<meeting>记录`` (案审会记录, 重大案件集体讨论记录), whatever their file was called."""
    return [*r.names, f"{r.meeting_type}记录"] if r.meeting_type else r.names


def _case_conditions(names: list[str]) -> tuple[str, list[str]]:
    text = " ".join(names)
    procedure = "简易程序" if "当场" in text else "一般程序"
    conditions = [
        cond
        for cond, words in (
            ("goods_held", ("先行登记保存",)),
            ("hearing", ("听证",)),
            ("transferred", ("移送",)),
            ("major", ("听证", "移送", "重大")),
        )
        if any(word in text for word in words)
    ]
    return procedure, conditions


def record_findings(r: RecordInfo, criterion: str | None, what: str) -> list[AuditFinding]:
    """Findings about one record's own quality (legibility, title, extension)."""
    out = []
    if "unread_pages" in r.codes:
        out.append(
            AuditFinding(
                "unread_pages",
                ERROR,
                what,
                r.ref,
                criterion,
                f"{r.doc_type or r.title} 有页面的文字无法读取（页面图像或内容已损坏），"
                "不能作为证明材料",
                "打开原件核对；重新扫描或导出后放回收件箱原文件夹，再把本件移出档案",
            )
        )
    if "pdf_incomplete" in r.codes:
        out.append(
            AuditFinding(
                "pdf_incomplete",
                WARNING,
                what,
                r.ref,
                criterion,
                f"{r.doc_type or r.title} 的 PDF 文件不完整（缺少文件结尾），可能传输中断",
                "打开核对页数；不全则重新导出，放回收件箱原文件夹，再把本件移出档案",
            )
        )
    if "illegible" in r.codes or (r.legible == 0 and "unread_pages" not in r.codes):
        out.append(
            AuditFinding(
                "illegible",
                ERROR,
                what,
                r.ref,
                criterion,
                f"{r.doc_type or r.title} 扫描件不清晰，不能作为证明材料",
                "重新扫描（300dpi 以上、不歪斜），放回收件箱原文件夹，再把本件移出档案",
            )
        )
    if "title_mismatch" in r.codes:
        out.append(
            AuditFinding(
                "title_mismatch",
                ERROR,
                what,
                r.ref,
                criterion,
                f"附件标题“{r.title}”与实际内容不符",
                "打开核对：按实际内容改正文件名后重新归档，或补上标题所称的文件",
            )
        )
    if "extension_mismatch" in r.codes:
        out.append(
            AuditFinding(
                "extension_mismatch",
                INFO,
                what,
                r.ref,
                criterion,
                "文件扩展名与内容不符，已按实际格式归档",
                "无需处理；今后扫描时注意保存格式",
            )
        )
    return out


def seal_findings(
    r: RecordInfo, checklists: Checklists, criterion: str | None, what: str
) -> list[AuditFinding]:
    """A document the checklists say must bear a seal, whose scanned pages show none.

    Only scanned pages are looked at (a typed PDF's seal is not in its text, and records
    filed before seals were looked for say nothing); a seal the reader missed is possible,
    so this is a task to check the original, not a failed dossier.
    """
    if r.seals != 0:
        return []
    required = checklists.seal_required(r.names)
    if required is None:
        return []
    return [
        AuditFinding(
            "seal_missing",
            WARNING,
            what,
            r.ref,
            criterion,
            f"{r.doc_type or r.title} 扫描件上未见印章（“{required.name}”须加盖公章）",
            "核对原件：未盖章的，补盖公章后重新扫描放回收件箱；已盖章但扫描过淡的，重新扫描",
        )
    ]


def check_households(
    view: ArchiveView,
    checklists: Checklists,
    as_of: dt.date,
    criterion: str | None,
) -> list[DossierCheck]:
    """Every household dossier (and every roster household without one) against 一户一档."""
    dossiers = view.of_kind("household")
    keys = sorted(set(dossiers) | set(view.households))
    memo: dict[tuple[tuple[str, ...], frozenset[str]], list[tuple[str, Requirement]]] = {}
    out = []
    for key in keys:
        records = dossiers.get(key, [])
        hh = view.households.get(key)
        what = f"许可证档案 {key}" + (f" {hh['name']}" if hh else "")
        findings: list[AuditFinding] = []
        if not records:
            findings.append(
                AuditFinding(
                    "no_dossier",
                    ERROR,
                    what,
                    None,
                    criterion,
                    "名册中有此户，档案库中没有它的任何文件",
                    f"把该户许可证材料扫描放入 inbox/许可证/{key}_{hh['name'] if hh else '户名'}/",
                )
            )
        else:
            apps = _applications(records)
            docs = [n for r in records for n in r.names]  # a defective one is reported itself
            for app, req in _missing_household(checklists, apps, docs, memo):
                findings.append(
                    AuditFinding(
                        "missing_document",
                        ERROR,
                        what,
                        None,
                        criterion,
                        f"{app}档案缺少“{req.name}”",
                        f"补扫“{req.name}”放入 inbox/许可证/{records[0].path.split('/')[1]}/",
                    )
                )
            for r in records:
                findings += record_findings(r, criterion, what)
                findings += seal_findings(r, checklists, criterion, what)
        if hh is not None:
            findings += _licence_term(hh, records, as_of, criterion, what)
        out.append(DossierCheck("household", key, records, findings))
    return out


def _missing_household(
    checklists: Checklists,
    apps: list[str],
    docs: list[str],
    memo: dict[tuple[tuple[str, ...], frozenset[str]], list[tuple[str, Requirement]]],
) -> list[tuple[str, Requirement]]:
    """``checklists.missing_household``, once per distinct set of documents (most
    households hold the same set of document names)."""
    key = (tuple(apps), frozenset(docs))
    if key not in memo:
        memo[key] = checklists.missing_household(apps, docs)
    return memo[key]


def _licence_term(
    hh: dict[str, Any],
    records: list[RecordInfo],
    as_of: dt.date,
    criterion: str | None,
    what: str,
) -> list[AuditFinding]:
    if not hh.get("valid_to"):
        return []
    try:
        valid_to = dt.date.fromisoformat(str(hh["valid_to"])[:10])
    except ValueError:
        return []
    apps = _applications(records)
    handled = any(a in apps for a in ("延续", "注销", "歇业"))
    if valid_to < as_of and not handled:
        return [
            AuditFinding(
                "licence_expired",
                ERROR,
                what,
                None,
                criterion,
                f"许可证有效期至 {valid_to}，已过期，档案中没有延续或注销材料",
                "通知零售户办理延续（或注销），材料归档后导入更新后的名册",
            )
        ]
    if valid_to >= as_of and valid_to - dt.timedelta(days=RENEWAL_DAYS) <= as_of and not handled:
        return [
            AuditFinding(
                "licence_expiring",
                WARNING,
                what,
                None,
                None,
                f"许可证有效期至 {valid_to}，应在到期前{RENEWAL_DAYS}日申请延续",
                "通知零售户在到期前办理延续手续",
            )
        ]
    return []


def case_year(key: str, records: list[RecordInfo]) -> int | None:
    m = _CASE_YEAR_RE.search(key)
    if m:
        return int(m.group(1))
    years = [r.year for r in records if r.year]
    return min(years) if years else None


def check_cases(
    view: ArchiveView, checklists: Checklists, year: int | None, criterion: str | None
) -> list[DossierCheck]:
    """Every case file (of ``year`` when given) against its procedure's checklist; minutes
    filed in a meeting's folder that name the case belong to it too (``view.linked``)."""
    out = []
    filed = view.of_kind("case")
    for key in sorted(set(filed) | {key for kind, key in view.linked if kind == "case"}):
        records, linked = filed.get(key, []), view.linked.get(("case", key), [])
        if year is not None and case_year(key, records + linked) not in (year, None):
            continue
        what = f"处罚案卷 {key}"
        # a defective record is reported itself
        docs = [n for r in records + linked for n in _case_names(r)]
        procedure, conditions = _case_conditions(docs)
        findings = [
            AuditFinding(
                "missing_document",
                ERROR,
                what,
                None,
                criterion,
                f"{procedure}案卷缺少“{req.name}”",
                f"补扫“{req.name}”放入 inbox/案卷/{key}/",
            )
            for req in checklists.missing_case(docs, procedure, conditions)
        ]
        for r in records:  # linked minutes' own defects are reported with their meeting
            findings += record_findings(r, criterion, what)
            findings += seal_findings(r, checklists, criterion, what)
        out.append(DossierCheck("case", key, records + linked, findings))
    return out
