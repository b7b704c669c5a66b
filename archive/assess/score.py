"""The self-assessment score: each criterion of the standard judged from the archive.

For every sub-item: its status (达标 / 部分达标 / 未达标 / 无法评估), the points earned out of
the points possible, the records that back it, what is missing, and the audit findings that
threaten it.  The same :class:`ScoreReport` feeds the reports, the bundle and ``dangan audit``.

How points are computed (the rules a clerk can check by hand):

* A sub-item's points are shared equally by its evidence rules (3.6 has two metrics: 1.5 each).
* ``documents``: each listed type must be on file ``min`` times in each period that is due;
  ``meeting``: the meeting must have minutes in each period that is due (or ``min_per_year``
  times in the year).  A month or quarter is due once it has ended on ``as_of``; a period in
  which the document or meeting already exists counts as well; the year is due all year (a
  yearly document is missing until it is filed).  Months after ``as_of`` never count.
* ``dossier_rate``: the share of dossiers (households: all on the roster or in the records;
  cases: of the audited year) that hold every checklist document, with no illegible or
  mislabelled page and (households) no expired licence left without a renewal.
* ``metric``: the figure from the bureau's metrics file for the year, compared with the
  threshold; a figure whose evidence is not in the archive cannot be assessed.
* ``manual``: not assessable by the program (无法评估), the note says what to show.
* ``partial``: ``none`` all or nothing; ``proportional`` share × achieved/required (rates:
  achieved rate/threshold, capped at 1); ``per_miss`` share − deduct × misses, never below 0
  (without ``deduct``: the share split evenly over what is required).
* A record with an illegible page or a title that does not match its content proves nothing:
  it is not counted as evidence, and the finding about it is attributed to the sub-item.
* A sub-item with a rule the program cannot assess is 无法评估 unless another of its rules
  already failed; its points earned are those of the rules that could be assessed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from archive.assess.audit import (
    ERROR,
    INFO,
    WARNING,
    ArchiveView,
    AuditFinding,
    DossierCheck,
    RecordInfo,
    check_cases,
    check_households,
    record_findings,
    sort_findings,
)
from archive.assess.audit_general import fixity_findings, general_findings
from archive.assess.audit_inputs import AuditInputs
from archive.assess.audit_meetings import (
    is_minutes,
    meeting_findings,
    minutes_facts,
    missing_fields,
)
from archive.assess.checklists import Checklists, load_checklists
from archive.assess.criteria import Criterion, Evidence, Standard
from archive.assess.metrics import Metrics
from archive.assess.score_model import (
    MET,
    NA,
    PARTLY,
    STATUS_LABELS,
    UNMET,
    CriterionScore,
    ScoreReport,
)
from archive.core.config import Archive
from archive.core.doctypes import normalise_doc_type
from archive.core.paths import PathRefused, inside
from archive.core.periods import is_due, period_label, period_numbers
from archive.records.catalog import Catalog

__all__ = [
    "MET",
    "NA",
    "PARTLY",
    "STATUS_LABELS",
    "UNMET",
    "CriterionScore",
    "ScoreReport",
    "audit_archive",
    "canonical_meeting",
    "score_archive",
    "score_with",
]

# Names a meeting series goes by → the name the standard uses.
MEETING_ALIASES = {
    "支部委员会": "支委会",
    "支部委员会会议": "支委会",
    "支委会议": "支委会",
    "支部党员大会": "党员大会",
    "党员大会": "党员大会",
    "专销联动": "专销联动会议",
    "打假协作会议": "打假协作会",
}
_PERIOD_WORD = {"year": "年度", "quarter": "季度", "month": "月"}


# ------------------------------------------------------------------------ periods


def _in_period(r: RecordInfo, year: int, period: str, n: int) -> bool:
    y, q, m = r.when()
    if y != year:
        return False
    if period == "month":
        return m == n
    if period == "quarter":
        return q == n
    return True


def canonical_meeting(name: str) -> str:
    name = normalise_doc_type(name)
    return MEETING_ALIASES.get(name, name)


def _meeting_matches(record_type: str | None, wanted: str) -> bool:
    if not record_type:
        return False
    a, b = canonical_meeting(record_type), canonical_meeting(wanted)
    return a == b or a in b or b in a


# ------------------------------------------------------------------------ evaluation


@dataclass
class _Part:
    earned: float
    state: str  # met | partly_met | not_met | not_assessable
    evidence: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    findings: list[AuditFinding] = field(default_factory=list)


def _partial_score(ev: Evidence, share: float, required: int, misses: int) -> float:
    if misses <= 0:
        return share
    if ev.partial == "per_miss":
        deduct = ev.deduct if ev.deduct is not None else share / max(required, 1)
        return max(0.0, share - deduct * misses)
    if ev.partial == "proportional":
        return share * max(0, required - misses) / max(required, 1)
    return 0.0


def _state(earned: float, share: float) -> str:
    if earned >= share - 1e-9:
        return MET
    return UNMET if earned <= 1e-9 else PARTLY


class _Scorer:
    def __init__(
        self,
        archive: Archive,
        catalog: Catalog,
        standard: Standard,
        view: ArchiveView,
        checklists: Checklists,
        metrics: Metrics | None,
        year: int,
        as_of: dt.date,
    ) -> None:
        self.archive, self.catalog, self.standard = archive, catalog, standard
        self.view, self.checklists, self.metrics = view, checklists, metrics
        self.year, self.as_of = year, as_of
        # Each record's names, normalised and joined once: matching a type is one `in`.
        self.names = {
            r.path: "\0".join(normalise_doc_type(n) for n in r.names) for r in view.records
        }
        self.dossier_criterion: dict[str, str] = {}
        for c in standard.criteria:
            for ev in c.evidence:
                if ev.kind == "dossier_rate" and ev.dossier:
                    self.dossier_criterion.setdefault(ev.dossier, c.code)
        self._dossiers: dict[str, list[DossierCheck]] = {}
        self.attributed: set[tuple[str, str]] = set()  # (record path, code) given a criterion

    # ---------------------------------------------------------------- dossiers

    def dossiers(self, kind: str) -> list[DossierCheck]:
        if kind not in self._dossiers:
            crit = self.dossier_criterion.get(kind)
            if kind == "household":
                checks = check_households(self.view, self.checklists, self.as_of, crit)
            elif kind == "case":
                checks = check_cases(self.view, self.checklists, self.year, crit)
            else:
                checks = []
            self._dossiers[kind] = checks
        return self._dossiers[kind]

    def _dossier_rate(self, c: Criterion, ev: Evidence, share: float) -> _Part:
        kind = ev.dossier or "household"
        threshold = ev.threshold if ev.threshold is not None else 100.0
        if kind == "meeting":
            return self._meeting_rate(ev, share, threshold)
        checks = self.dossiers(kind)
        name = {"household": "许可证档案", "case": "处罚案卷"}[kind]
        if not checks:
            return _Part(0.0, NA, missing=[f"档案库中没有{name}，无法计算完整率"])
        complete = [d for d in checks if d.complete]
        incomplete = [d for d in checks if not d.complete]
        rate = len(complete) / len(checks) * 100
        findings = []
        for d in checks:
            for f in d.findings:
                if f.criterion is None and f.severity == ERROR:
                    f.criterion = c.code
                findings.append(f)
        part = _Part(
            0.0,
            MET,
            evidence=[r.ref for d in complete for r in d.records],
            findings=findings,
        )
        if rate + 1e-9 >= threshold:
            part.earned = share
        else:
            part.missing.append(
                f"{name}完整率 {rate:.1f}%（{len(complete)}/{len(checks)}），应达到 {threshold:g}%"
            )
            for d in incomplete:
                reasons = "；".join(f.message for f in d.findings if f.severity == ERROR)
                part.missing.append(f"{d.findings[0].subject}：{reasons}")
            if ev.partial == "proportional":
                part.earned = share * min(1.0, rate / threshold) if threshold else share
            elif ev.partial == "per_miss":
                deduct = ev.deduct if ev.deduct is not None else share / len(checks)
                part.earned = max(0.0, share - deduct * len(incomplete))
            part.state = _state(part.earned, share)
        return part

    def _meeting_rate(self, ev: Evidence, share: float, threshold: float) -> _Part:
        rows = [r for r in self.view.records if is_minutes(r) and r.when()[0] == self.year]
        facts = minutes_facts(self.catalog)
        judged = [(r, *facts[r.path]) for r in rows if facts.get(r.path, ({}, ""))[1].strip()]
        if not judged:
            return _Part(0.0, NA, missing=["会议记录没有可读文字，无法判断记录要素是否齐全"])
        part = _Part(0.0, MET)
        complete = 0
        for r, keys, text in judged:
            lacking = missing_fields(keys, text, self.checklists)
            if lacking and not r.defective:
                part.missing.append(f"{r.ref} 缺少：" + "、".join(q.name for q in lacking))
            else:
                complete += 1
                part.evidence.append(r.ref)
        rate = complete / len(judged) * 100
        if rate + 1e-9 >= threshold:
            part.earned = share
        else:
            part.earned = share * min(1.0, rate / threshold) if ev.partial == "proportional" else 0
            part.state = _state(part.earned, share)
        return part

    # ---------------------------------------------------------------- periods of evidence

    def _periodic(
        self,
        c: Criterion,
        ev: Evidence,
        share: float,
        candidates: dict[str, list[RecordInfo]],
        period: str,
        need: int,
        code: str,
        action: str,
    ) -> _Part:
        """Shared by documents and meetings: ``candidates`` maps a name to its records."""
        part = _Part(0.0, MET)
        required = misses = 0
        for name, records in candidates.items():
            in_year = [r for r in records if r.when()[0] == self.year]
            part.evidence += [r.ref for r in in_year if not r.defective]
            for n in period_numbers(period):
                here = [r for r in in_year if _in_period(r, self.year, period, n)]
                good = [r for r in here if not r.defective]
                if not (is_due(self.year, period, n, self.as_of) or len(good) >= need):
                    continue
                required += need
                short = max(0, need - len(good))
                if not short:
                    continue
                misses += short
                what = period_label(self.year, period, n)
                count = f"（应有{need}份，现有{len(good)}份）" if need > 1 else ""
                part.missing.append(f"{what}“{name}”{count}")
                if here:  # only defective ones: the record's own finding carries the criterion
                    for r in here:
                        for f in record_findings(r, c.code, what + name):
                            if f.severity == ERROR:
                                part.findings.append(f)
                                self.attributed.add((r.path, f.code))
                    continue
                part.findings.append(
                    AuditFinding(
                        code,
                        ERROR,
                        name,
                        None,
                        c.code,
                        f"{what}没有“{name}”{count}",
                        action.format(name=name, what=what),
                    )
                )
        if required == 0:
            part.state = NA
            part.missing.append(f"{self.year}年尚未到考核期")
            return part
        part.earned = _partial_score(ev, share, required, misses)
        part.state = _state(part.earned, share)
        return part

    def _documents(self, c: Criterion, ev: Evidence, share: float) -> _Part:
        candidates = {}
        for t in ev.doc_types:
            nt = normalise_doc_type(t)
            candidates[t] = [r for r in self.view.records if nt in self.names[r.path]]
        return self._periodic(
            c,
            ev,
            share,
            candidates,
            ev.period or "year",
            ev.min_count,
            "evidence_missing",
            "补齐{what}的“{name}”，扫描后放入 inbox/其他/（文件名写明名称和日期）",
        )

    def _meeting(self, c: Criterion, ev: Evidence, share: float) -> _Part:
        assert ev.meeting is not None
        records = [
            r
            for r in self.view.records
            if r.dossier_kind == "meeting" and _meeting_matches(r.meeting_type, ev.meeting)
        ]
        action = "补齐{what}的“{name}”记录，扫描后放入 inbox/会议记录/{name}/（文件名写明会议日期）"
        if ev.every:
            return self._periodic(
                c, ev, share, {ev.meeting: records}, ev.every, 1, "meeting_missing", action
            )
        return self._periodic(
            c,
            ev,
            share,
            {ev.meeting: records},
            "year",
            ev.min_per_year or 1,
            "meeting_missing",
            action,
        )

    # ---------------------------------------------------------------- metrics

    def _resolve(self, evidence: str) -> str | None:
        """The archive file a metric's evidence names (record path, id or file), if any."""
        text = evidence.strip().replace("\\", "/")
        by_path = {r.path for r in self.view.records}
        if len(text) >= 8 and all(ch in "0123456789abcdef" for ch in text.lower()):
            for r in self.view.records:
                if r.record_id.startswith(text.lower()):
                    return r.ref
        # A path must name a record of this archive: never a file elsewhere (path policy)
        try:
            path = inside(self.archive.records, text.removeprefix("records/"), what="证明材料")
        except PathRefused:
            return None
        rel = path.relative_to(self.archive.records.resolve()).as_posix()
        return f"records/{rel}" if rel in by_path else None

    def _metric(self, c: Criterion, ev: Evidence, share: float) -> _Part:
        key = ev.metric or ""
        m = self.metrics.get(key, str(self.year)) if self.metrics is not None else None
        if m is None:
            return _Part(
                0.0,
                NA,
                missing=[f"自查数据中没有“{key}”（{self.year}年）"],
                findings=[
                    AuditFinding(
                        "metric_missing",
                        WARNING,
                        key,
                        None,
                        c.code,
                        f"自查数据中没有{self.year}年的“{key}”，无法评估",
                        "在自查数据表（dangan metrics template 生成）中填写该指标及证明材料，"
                        "再用 dangan metrics import 导入",
                    )
                ],
            )
        found = self._resolve(m.evidence)
        if found is None:
            return _Part(
                0.0,
                NA,
                missing=[f"“{key}”的证明材料“{m.evidence}”在档案中找不到"],
                findings=[
                    AuditFinding(
                        "metric_no_evidence",
                        WARNING,
                        key,
                        None,
                        c.code,
                        f"“{key}”={m.value:g}{m.unit}，但证明材料“{m.evidence}”不在档案中",
                        "把证明材料归档，并在自查数据中写它的 records/… 路径",
                    )
                ],
            )
        threshold = ev.threshold if ev.threshold is not None else 0.0
        op = ev.op or ">="
        ok = {
            ">=": m.value + 1e-9 >= threshold,
            "<=": m.value - 1e-9 <= threshold,
            "==": abs(m.value - threshold) < 1e-9,
        }[op]
        part = _Part(share, MET, evidence=[found])
        if not ok:
            if ev.partial == "proportional" and op == ">=" and threshold:
                part.earned = share * min(1.0, m.value / threshold)
            elif ev.partial == "proportional" and op == "<=" and m.value:
                part.earned = share * min(1.0, threshold / m.value)
            else:
                part.earned = 0.0
            part.state = _state(part.earned, share)
            part.missing.append(f"“{key}”为 {m.value:g}{m.unit}，应 {op} {threshold:g}{m.unit}")
            part.findings.append(
                AuditFinding(
                    "metric_below",
                    ERROR,
                    key,
                    found,
                    c.code,
                    f"“{key}”为 {m.value:g}{m.unit}，未达到 {op} {threshold:g}{m.unit} 的要求",
                    "分析原因、制定整改措施；达到后更新自查数据",
                )
            )
        return part

    # ---------------------------------------------------------------- one criterion

    def criterion(self, c: Criterion) -> CriterionScore:
        share = c.points / len(c.evidence) if c.evidence else c.points
        parts: list[_Part] = []
        for ev in c.evidence or [Evidence(kind="manual")]:
            if ev.kind == "documents":
                parts.append(self._documents(c, ev, share))
            elif ev.kind == "meeting":
                parts.append(self._meeting(c, ev, share))
            elif ev.kind == "dossier_rate":
                parts.append(self._dossier_rate(c, ev, share))
            elif ev.kind == "metric":
                parts.append(self._metric(c, ev, share))
            else:
                note = ev.note or "需人工查看"
                parts.append(
                    _Part(
                        0.0,
                        NA,
                        missing=[note],
                        findings=[
                            AuditFinding(
                                "manual_check",
                                INFO,
                                f"{c.area}·{c.item}" if c.item else c.area,
                                None,
                                c.code,
                                f"本项需人工查看：{note}",
                                "准备现场查看材料，或把照片等证明材料归档",
                            )
                        ],
                    )
                )
        earned = round(sum(p.earned for p in parts), 2)
        assessed = [p for p in parts if p.state != NA]
        if len(assessed) < len(parts) and all(p.state == MET for p in assessed):
            status = NA
        elif earned >= c.points - 0.005:
            status = MET
        else:
            status = UNMET if earned <= 0.005 else PARTLY
        return CriterionScore(
            code=c.code,
            area=c.area,
            item=c.item,
            text=c.text,
            possible=c.points,
            earned=earned,
            status=status,
            evidence=list(dict.fromkeys(e for p in parts for e in p.evidence)),
            missing=[m for p in parts for m in p.missing],
            findings=sort_findings(f for p in parts for f in p.findings),
            scoring=c.scoring,
        )


def score_archive(
    archive: Archive,
    catalog: Catalog,
    standard: Standard,
    *,
    year: int,
    as_of: dt.date,
    metrics: Metrics | None = None,
    checklists: Checklists | None = None,
    fixity: bool = False,
) -> ScoreReport:
    """Judge every criterion of ``standard`` from the archive for ``year`` as of ``as_of``.

    ``report.findings`` holds every audit finding (those behind criteria and the rest:
    tray, duplicates, quarantine, licences about to expire, and, with ``fixity=True``,
    records whose checksum changed).
    """
    view = ArchiveView.load(catalog)
    scorer = _Scorer(
        archive, catalog, standard, view, checklists or load_checklists(), metrics, year, as_of
    )
    scores = [scorer.criterion(c) for c in standard.criteria]
    findings: list[AuditFinding] = [f for s in scores for f in s.findings]
    # Dossier findings not tied to a dossier_rate criterion (no such criterion in the standard).
    for kind in ("household", "case"):
        if kind not in scorer.dossier_criterion:
            findings += [f for d in scorer.dossiers(kind) for f in d.findings]
    # Evidence in time order (then by path), as an inspector reads it.
    order = {
        r.ref: (tuple(v if v is not None else 99 for v in r.when()), r.path) for r in view.records
    }
    for s in scores:
        s.evidence.sort(key=lambda e: order.get(e, ((9999, 99, 99), e)))
    used: dict[str, str] = {}
    for s in scores:
        for e in s.evidence:
            used.setdefault(e.removeprefix("records/"), s.code)
    findings += general_findings(view, _evidence_types(standard), used)
    findings += meeting_findings(
        view, catalog, scorer.checklists, year, used, scorer.dossier_criterion.get("meeting")
    )
    # Defects of records that back nothing yet (meetings of other years, work documents).
    in_dossier = {
        r.path for kind in ("household", "case") for d in scorer.dossiers(kind) for r in d.records
    }
    reported = {(f.record, f.code) for f in findings}
    for r in view.records:
        if r.dossier_kind in ("household", "case", "tray") and (
            r.dossier_kind == "tray" or r.path in in_dossier
        ):
            continue
        for f in record_findings(r, used.get(r.path), r.dossier_key or r.title):
            if (f.record, f.code) not in reported:
                findings.append(f)
    if fixity:
        findings += fixity_findings(archive, catalog, used)
    dossiers = {
        kind: {
            "total": len(scorer.dossiers(kind)),
            "complete": sum(d.complete for d in scorer.dossiers(kind)),
        }
        for kind in ("household", "case")
    }
    return ScoreReport(
        standard=standard.name,
        sample=standard.sample,
        year=year,
        as_of=as_of,
        criteria=scores,
        findings=sort_findings(_dedupe(findings)),
        dossiers=dossiers,
    )


def _dedupe(findings: list[AuditFinding]) -> list[AuditFinding]:
    seen: set[tuple[str, str | None, str, str]] = set()
    out = []
    for f in findings:
        key = (f.code, f.record, f.subject, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _evidence_types(standard: Standard) -> set[str]:
    return {
        normalise_doc_type(t)
        for c in standard.criteria
        for ev in c.evidence
        if ev.kind == "documents"
        for t in ev.doc_types
    }


def audit_archive(
    archive: Archive,
    catalog: Catalog,
    standard: Standard,
    *,
    year: int,
    as_of: dt.date,
    metrics: Metrics | None = None,
    checklists: Checklists | None = None,
    fixity: bool = True,
) -> list[AuditFinding]:
    """Every finding, sorted (errors first); ``fixity=False`` skips re-hashing the records."""
    report = score_archive(
        archive,
        catalog,
        standard,
        year=year,
        as_of=as_of,
        metrics=metrics,
        checklists=checklists,
        fixity=fixity,
    )
    return report.findings


def score_with(
    archive: Archive,
    catalog: Catalog,
    inputs: AuditInputs,
    year: int,
    as_of: dt.date,
    *,
    fixity: bool = False,
) -> ScoreReport:
    """The score of ``year`` as of ``as_of`` with the bureau's inputs (no re-hashing unless
    ``fixity``): what ``audit``, ``score`` and ``bundle`` all start from."""
    return score_archive(
        archive,
        catalog,
        inputs.standard,
        year=year,
        as_of=as_of,
        metrics=inputs.metrics,
        checklists=inputs.checklists,
        fixity=fixity,
    )
