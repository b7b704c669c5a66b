"""Where the bureau's own files live in an archive, and how they get there.

The audit and the score read four files the bureau owns, kept at the archive's top level
beside ``dangan.toml`` so that a clerk finds them in Explorer and can open them in a text
editor (they are part of the evidence, not derived data):

=================  =====================================================================
``评分标准.yaml``   the scoring standard (``dangan criteria import 表格.docx|xlsx``); when it is
                   absent the shipped SAMPLE standard is used and every output says so
``自查数据.yaml``   the figures only the bureau knows, with their evidence
                   (``dangan metrics template`` → fill in Excel → ``dangan metrics import``)
``检查发现.yaml``   what the inspectors wrote down (``dangan findings import``)
``档案清单.yaml``   optional: the bureau's own checklists (else the shipped defaults)
=================  =====================================================================

Every import validates the whole file first (all problems at once, nothing written) and
writes atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.assess.checklists import Checklists, load_checklists
from archive.assess.criteria import Standard, load_standard, standard_from_dict
from archive.assess.findings import Finding, load_findings
from archive.assess.metrics import Metrics, load_metrics
from archive.core.config import CRITERIA_FILE, Archive
from archive.core.errors import NotFoundError
from archive.core.yaml_lines import dump_yaml
from archive.records.store import write_bytes_atomic

METRICS_FILE = "自查数据.yaml"
FINDINGS_FILE = "检查发现.yaml"
CHECKLISTS_FILE = "档案清单.yaml"
SAMPLE_STANDARD = Path(__file__).with_name("sample_standard.yaml")
SAMPLE_NOTE = "注意: 档案库中没有评分标准 ({name}), 使用的是内置【样例】标准, 不是官方标准; 请导入本省的评分标准表 (网页的“名册”页, 或命令 dangan criteria import)"


@dataclass
class AuditInputs:
    """The standard, checklists, metrics and findings an audit runs on, and where from."""

    standard: Standard
    standard_path: Path
    sample: bool  # the shipped SAMPLE standard is in use (no bureau standard imported)
    checklists: Checklists
    metrics: Metrics | None = None
    metrics_path: Path | None = None
    findings: list[Finding] = field(default_factory=list)
    findings_path: Path | None = None

    @property
    def sample_note(self) -> str | None:
        return SAMPLE_NOTE.format(name=CRITERIA_FILE) if self.sample else None


def _explicit(path: Path | None, what: str) -> Path | None:
    if path is not None and not Path(path).is_file():
        raise NotFoundError(f"{path}: 找不到{what}文件; 请检查路径")
    return Path(path) if path is not None else None


def load_inputs(
    archive: Archive,
    *,
    criteria: Path | None = None,
    metrics: Path | None = None,
    findings: Path | None = None,
) -> AuditInputs:
    """The archive's bureau files (or the ones given); raises ValidationError/ConfigError
    naming the file when one is malformed."""
    std_path = _explicit(criteria, "评分标准") or archive.root / CRITERIA_FILE
    sample = False
    if not std_path.is_file():
        std_path, sample = SAMPLE_STANDARD, True
    standard = load_standard(std_path)
    sample = sample or standard.sample
    lists_path = archive.root / CHECKLISTS_FILE
    checklists = load_checklists(lists_path if lists_path.is_file() else None)
    inputs = AuditInputs(standard, std_path, sample, checklists)
    m_path = _explicit(metrics, "自查数据") or archive.root / METRICS_FILE
    if m_path.is_file():
        inputs.metrics = load_metrics(m_path, standard=standard)
        inputs.metrics_path = m_path
    f_path = _explicit(findings, "检查发现") or archive.root / FINDINGS_FILE
    if f_path.is_file():
        inputs.findings = load_findings(f_path, standard)
        inputs.findings_path = f_path
    return inputs


# ------------------------------------------------------------------------ imports


def _write_yaml(path: Path, header: str, data: Any) -> Path:
    write_bytes_atomic(path, (header + dump_yaml(data)).encode("utf-8"))
    return path


def import_criteria_file(archive: Archive, source: Path, out: Path | None = None) -> Path:
    """Validate a .docx/.xlsx table (or a YAML file) and save it as the archive's standard."""
    from archive.assess.criteria import dump_standard
    from archive.assess.criteria_import import import_criteria

    source = Path(source)
    if source.suffix.lower() in (".docx", ".xlsx"):
        std = standard_from_dict(import_criteria(source), str(source))
    else:
        std = load_standard(source)
    target = Path(out) if out is not None else archive.root / CRITERIA_FILE
    header = (
        f"# 评分标准, 由 dangan criteria import 从 {source.name} 导入.\n"
        "# 可用文本编辑器修改 (UTF-8); 证据规则 evidence 的写法见 archive/assess/criteria.py 说明.\n"
    )
    write_bytes_atomic(target, (header + dump_standard(std)).encode("utf-8"))
    return target


def import_findings_file(archive: Archive, source: Path, standard: Standard) -> tuple[Path, int]:
    """Validate inspection findings (.yaml/.xlsx) against the standard and save them."""
    found = load_findings(Path(source), standard)
    rows = []
    for f in found:
        row: dict[str, Any] = {
            "date": f.inspected_on.isoformat(),
            "until": f.inspected_until.isoformat() if f.inspected_until else None,
            "body": f.body,
            "notice": f.notice,
            "area": f.area,
            "problem": f.problem,
            "owner": f.owner,
            "deadline": f.deadline.isoformat(),
            "criterion": f.criterion,
        }
        rows.append({k: v for k, v in row.items() if v is not None})
    header = f"# 检查发现的问题, 由 dangan findings import 从 {Path(source).name} 导入.\n"
    target = archive.root / FINDINGS_FILE
    return _write_yaml(target, header, {"findings": rows}), len(rows)


def import_metrics_file(archive: Archive, source: Path, standard: Standard) -> tuple[Path, int]:
    """Validate the bureau's figures (.yaml/.xlsx; evidence must exist in the archive) and
    save them as the archive's metrics file."""
    metrics = load_metrics(Path(source), archive.root, standard)
    rows = []
    for m in metrics.metrics:
        row: dict[str, Any] = {
            "key": m.key,
            "value": m.value,
            "unit": m.unit,
            "period": m.period,
            "evidence": m.evidence,
            "numerator": m.numerator,
            "denominator": m.denominator,
            "note": m.note,
        }
        rows.append({k: v for k, v in row.items() if v is not None})
    data: dict[str, Any] = {"metrics": rows}
    if metrics.bureau:
        data = {"bureau": metrics.bureau, **data}
    header = f"# 自查数据, 由 dangan metrics import 从 {Path(source).name} 导入.\n"
    target = archive.root / METRICS_FILE
    return _write_yaml(target, header, data), len(rows)
