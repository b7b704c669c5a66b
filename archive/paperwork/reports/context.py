"""What every report is built from and what it gives back: :class:`ReportContext` (the
archive, its catalog, the bureau's files and the pinned dates), :class:`Report`, and the
date and number helpers the builders share.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.assess.audit_inputs import AuditInputs, load_inputs
from archive.assess.figures import Figure
from archive.assess.score import ScoreReport, score_archive
from archive.core.config import Archive
from archive.core.errors import UsageError
from archive.core.periods import period_end
from archive.paperwork.officialdoc import OfficialDocument, format_doc_number, parse_doc_number
from archive.paperwork.reports.narrative import Narrative, narrative_of
from archive.records.catalog import Catalog
from archive.records.reindex import open_catalog

KINDS = ("summary", "rectification", "selfcheck")
KIND_LABELS = {"summary": "工作总结", "rectification": "整改情况报告", "selfcheck": "自查报告"}
SOURCES_SUFFIX = "_数据来源.csv"


@dataclass
class RecordRef:
    """What a report says about a record it cites."""

    path: str  # "records/…"
    title: str
    filed_on: dt.date | None
    doc_date: str | None

    def cite(self) -> str:
        filed = f"{chinese_day(self.filed_on)}归档，" if self.filed_on else ""
        return f"《{self.title}》（{filed}{self.path}）"


@dataclass
class ReportContext:
    """Everything a report is built from, opened once."""

    archive: Archive
    catalog: Catalog
    inputs: AuditInputs
    narrative: Narrative
    year: int
    as_of: dt.date  # the audit's "today"
    date: dt.date  # 成文日期
    doc_number: str | None = None
    signers: list[str] | None = None  # --signer: replaces the narrative's 签发人
    _scores: dict[tuple[int, dt.date], ScoreReport] = field(default_factory=dict, repr=False)
    _refs: dict[str, RecordRef] | None = field(default=None, repr=False)

    @property
    def bureau(self) -> str:
        return self.narrative.bureau or self.archive.config.bureau

    def score(self, year: int | None = None, as_of: dt.date | None = None) -> ScoreReport:
        """The score (with every audit finding) for ``year`` as of ``as_of``, cached."""
        key = (year or self.year, as_of or self.as_of)
        if key not in self._scores:
            self._scores[key] = score_archive(
                self.archive,
                self.catalog,
                self.inputs.standard,
                year=key[0],
                as_of=key[1],
                metrics=self.inputs.metrics,
                checklists=self.inputs.checklists,
                fixity=False,
            )
        return self._scores[key]

    def marks(self, kind: str) -> dict[str, Any]:
        """签发人 and 版记 of report ``kind``, as OfficialDocument fields: the signers given
        on the command line, else the narrative's (the report's section, else shared)."""
        story = self.narrative
        return {
            "signers": list(self.signers) if self.signers else story.signers(kind),
            "copy_to": story.copy_to(kind),
            "printed_by": story.printed_by(kind),
        }

    def ref(self, path: str) -> RecordRef:
        """Title and filing date of a cited record (``records/…``)."""
        if self._refs is None:
            self._refs = {
                f"records/{p}": RecordRef(f"records/{p}", t or p.rsplit("/", 1)[-1], _day(f), d)
                for p, t, f, d in self.catalog.db.execute(
                    "SELECT path, title, filed_at, doc_date FROM records"
                )
            }
        return self._refs.get(path) or RecordRef(path, path.rsplit("/", 1)[-1], None, None)

    def meeting_types(self) -> list[str]:
        """Meeting series that have minutes in the catalog, in the configured order."""
        found = {
            r[0]
            for r in self.catalog.db.execute(
                "SELECT DISTINCT meeting_type FROM records WHERE meeting_type IS NOT NULL"
            )
        }
        order = list(self.archive.config.meeting_types)
        return sorted(found, key=lambda m: (order.index(m) if m in order else len(order), m))


@dataclass
class Report:
    """A built report: the document, its figures and the notes for the clerk."""

    kind: str
    name: str  # file stem
    document: OfficialDocument
    figures: dict[str, Figure] = field(default_factory=dict)
    sources: list[tuple[str, str, str]] = field(default_factory=list)  # (item, value, record)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "title": self.document.title.replace("\n", ""),
            "date": self.document.date.isoformat(),
            "doc_number": self.document.doc_number,
            "signers": self.document.signers,
            "copy_to": self.document.copy_to,
            "printed_by": self.document.printed_by,
            "figures": {k: f.as_dict() for k, f in self.figures.items()},
            "notes": self.notes,
            **self.data,
        }


# ------------------------------------------------------------------------------- dates


def _day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((value or "")[:10])
    except ValueError:
        return None


def chinese_day(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def month_end(year: int, month: int) -> dt.date:
    return period_end(year, "month", month)


def parse_month(value: str) -> tuple[int, int]:
    """ "2024-03", "2024-3", "2024年3月" → (2024, 3)."""
    import re

    text = value.strip().translate(str.maketrans("０１２３４５６７８９－／", "0123456789-/"))
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?", text)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise UsageError(f"月份 {value!r}: 应为年月, 如 2024-03")
    return int(m.group(1)), int(m.group(2))


def parse_day(value: str, option: str) -> dt.date:
    """``option`` names the field in the message: the CLI passes its flag, a page its label."""
    from archive.assess.findings import parse_date

    day = parse_date(value)
    if day is None:
        raise UsageError(f"{option} {value!r}: 应为日期, 如 2024-12-31 或 2024年12月31日")
    return day


def resolve_doc_number(value: str | None, prefix: str | None, year: int) -> str | None:
    """``--doc-number``: a serial ("6", with the narrative's doc_prefix) or a whole number
    written with any bracket ("潼烟专[2024]6号" → "潼烟专〔2024〕6号")."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        if not prefix:
            raise UsageError(
                f"文号 {text}: 只给了序号, 报告素材.yaml 中没有发文机关代字 doc_prefix; "
                "请写完整文号 (如 潼烟专〔2024〕6号) 或在 报告素材.yaml 中填写 doc_prefix"
            )
        return format_doc_number(prefix, year, int(text))
    parsed = parse_doc_number(text)
    if parsed is None:
        raise UsageError(f"文号 {text!r}: 应为序号或完整文号, 如 6 或 潼烟专〔2024〕6号")
    pre, y, n, style = parsed
    return format_doc_number(pre, y, n, style=style)


# ------------------------------------------------------------------------------- context


@contextlib.contextmanager
def open_context(
    archive: Archive,
    *,
    year: int,
    as_of: dt.date,
    date: dt.date | None = None,
    doc_number: str | None = None,
    signers: list[str] | None = None,
    narrative: Path | None = None,
    criteria: Path | None = None,
    metrics: Path | None = None,
    findings: Path | None = None,
) -> Iterator[ReportContext]:
    """Open the catalog and read the bureau's files (standard, metrics, findings, narrative).

    ``signers`` (签发人, e.g. from ``--signer``) replace the narrative's when given."""
    inputs = load_inputs(archive, criteria=criteria, metrics=metrics, findings=findings)
    story = narrative_of(archive.root, narrative)
    day = date or as_of
    number = resolve_doc_number(doc_number, story.doc_prefix, day.year)
    with open_catalog(archive) as catalog:
        yield ReportContext(
            archive, catalog, inputs, story, year, as_of, day, number, signers=signers or None
        )


def figure_sources(figures: dict[str, Figure]) -> list[tuple[str, str, str]]:
    """(label, value, record) for every record behind every figure."""
    rows = []
    for f in figures.values():
        for record in f.records or [""]:
            rows.append((f.label, f.text, record))
    return rows


def number_text(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)
