"""audit, score, criteria, findings, metrics."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from archive.assess.audit import SEVERITY_LABELS
from archive.assess.audit_inputs import (
    AuditInputs,
    import_criteria_file,
    import_findings_file,
    import_metrics_file,
    load_inputs,
)
from archive.assess.criteria_import import check_criteria
from archive.assess.score import STATUS_LABELS, ScoreReport, score_with
from archive.core.errors import ValidationError
from archive.records.reindex import open_catalog
from cli.access_log import log_action
from cli.common import archive_option, emit_json, open_archive, when_options, year_and_day
from cli.scoring import announced_inputs

F = TypeVar("F", bound=Callable[..., Any])


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([_width(h)] + [_width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    widths[-1] = 0  # the last column runs free

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True))

    click.echo(line(headers).rstrip())
    for row in rows:
        click.echo(line(row).rstrip())


def _run(
    archive_dir: Path | None,
    year: int | None,
    as_of: str | None,
    criteria: Path | None,
    metrics: Path | None,
    fixity: bool,
) -> tuple[AuditInputs, ScoreReport]:
    y, day = year_and_day(year, as_of)
    archive = open_archive(archive_dir)
    inputs = announced_inputs(archive, criteria, metrics)
    with open_catalog(archive) as catalog:
        report = score_with(archive, catalog, inputs, y, day, fixity=fixity)
    return inputs, report


# ---------------------------------------------------------------------------- audit


@click.command()
@when_options
@click.option("--no-fixity", is_flag=True, help="不重新计算校验值 (更快)")
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--xlsx",
    "xlsx_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="另存为 Excel 问题清单",
)
@archive_option
def audit(
    year: int | None,
    as_of: str | None,
    criteria: Path | None,
    metrics: Path | None,
    no_fixity: bool,
    as_json: bool,
    xlsx_path: Path | None,
    archive_dir: Path | None,
) -> None:
    """自查: 列出每个问题、所在档案、影响的评分子项和处理办法。"""
    inputs, report = _run(archive_dir, year, as_of, criteria, metrics, not no_fixity)
    findings = report.findings
    log_action(
        open_archive(archive_dir), "view_audit", f"{report.year}年", f"{len(findings)} 条问题"
    )
    if xlsx_path is not None:
        from archive.paperwork.audit_xlsx import write_audit_xlsx

        write_audit_xlsx(
            xlsx_path,
            findings,
            report,
            title=f"{report.standard} 档案自查问题清单（{report.year}年，截至{report.as_of}）",
            note=inputs.sample_note,
        )
        click.echo(f"已写入 {xlsx_path}", err=True)
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITY_LABELS}
    if as_json:
        emit_json(
            {
                "standard": report.standard,
                "standard_file": str(inputs.standard_path),
                "sample_standard": inputs.sample,
                "year": report.year,
                "as_of": report.as_of.isoformat(),
                "counts": counts,
                "findings": [f.as_dict() for f in findings],
            }
        )
        return
    rows = [
        [
            SEVERITY_LABELS.get(f.severity, f.severity),
            f.label,
            f.criterion or "-",
            f.subject,
            f"{f.message}{'  ' + f.record if f.record else ''}  → {f.action}",
        ]
        for f in findings
    ]
    if rows:
        _table(["级别", "类别", "子项", "对象", "说明 → 处理办法"], rows)
    summary = "，".join(f"{SEVERITY_LABELS[s]} {n}" for s, n in counts.items())
    click.echo(f"共 {len(findings)} 条: {summary}" if findings else "未发现问题", err=True)


# ---------------------------------------------------------------------------- score


@click.command()
@when_options
@click.option("--json", "as_json", is_flag=True)
@archive_option
def score(
    year: int | None,
    as_of: str | None,
    criteria: Path | None,
    metrics: Path | None,
    as_json: bool,
    archive_dir: Path | None,
) -> None:
    """自评打分: 每个评分子项的达标情况、得分、证明材料和缺项。"""
    inputs, report = _run(archive_dir, year, as_of, criteria, metrics, False)
    log_action(
        open_archive(archive_dir),
        "view_audit",
        f"{report.year}年",
        f"自评 {report.total_earned:g}/{report.total_possible:g} 分",
    )
    if as_json:
        emit_json({**report.as_dict(), "standard_file": str(inputs.standard_path)})
        return
    rows = []
    for c in report.criteria:
        missing = "；".join(c.missing[:3]) + (
            f" …等{len(c.missing)}项" if len(c.missing) > 3 else ""
        )
        rows.append(
            [
                c.code,
                c.area,
                f"{c.earned:g}/{c.possible:g}",
                STATUS_LABELS[c.status],
                f"{len(c.evidence)}份",
                missing or "-",
            ]
        )
    _table(["编号", "考核项目", "得分", "状况", "证明材料", "缺少"], rows)
    click.echo(
        f"合计 {report.total_earned:g}/{report.total_possible:g} 分"
        f"（可评估子项 {report.assessable_earned:g}/{report.assessable_possible:g} 分；"
        f"{report.year}年，截至 {report.as_of}）"
    )


# ---------------------------------------------------------------------------- criteria


@click.group()
def criteria() -> None:
    """评分标准: 导入 Word/Excel 表格, 检查。"""


@criteria.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="写到此文件 (默认: 档案库的 评分标准.yaml)",
)
@archive_option
def criteria_import(file: Path, out: Path | None, archive_dir: Path | None) -> None:
    """导入评分标准表 (.docx/.xlsx/.yaml); 有错误则逐行列出, 不写入任何内容。"""
    archive = open_archive(archive_dir)
    target = import_criteria_file(archive, file, out)
    inputs = load_inputs(archive, criteria=target)
    std = inputs.standard
    log_action(
        archive,
        "import",
        "评分标准",
        f"已导入评分标准 {std.name}: {len(std.criteria)} 个子项, {std.points:g} 分 ({file.name})",
    )
    click.echo(
        f"已导入 {std.name}: {len(std.areas)} 个考核项目, {len(std.criteria)} 个子项, "
        f"{std.points:g} 分 → {target}"
    )


@criteria.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def criteria_check(file: Path, as_json: bool) -> None:
    """检查评分标准 (.docx/.xlsx/.yaml), 一次列出所有有问题的行。"""
    problems = check_criteria(file)
    if as_json:
        emit_json([p.__dict__ for p in problems])
    elif not problems:
        click.echo(f"{file}: 没有发现问题")
    if problems:
        raise ValidationError(str(file), problems)


# ---------------------------------------------------------------------------- findings


@click.group()
def findings() -> None:
    """检查发现的问题: 导入, 查看整改情况。"""


@findings.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@archive_option
def findings_import(file: Path, archive_dir: Path | None) -> None:
    """导入检查发现的问题 (.yaml/.xlsx), 校验后存为档案库的 检查发现.yaml。"""
    archive = open_archive(archive_dir)
    inputs = load_inputs(archive)
    target, count = import_findings_file(archive, file, inputs.standard)
    log_action(archive, "import", "检查发现", f"已导入检查发现: {count} 条 ({file.name})")
    click.echo(f"已导入 {count} 条问题 → {target}")


@findings.command("list")
@when_options
@click.option("--json", "as_json", is_flag=True)
@archive_option
def findings_list(
    year: int | None,
    as_of: str | None,
    criteria: Path | None,
    metrics: Path | None,
    as_json: bool,
    archive_dir: Path | None,
) -> None:
    """列出检查发现的问题、对应的评分子项、此后归档的整改材料和整改状态。"""
    from archive.assess.audit_links import link_findings

    inputs, report = _run(archive_dir, year, as_of, criteria, metrics, False)
    archive = open_archive(archive_dir)
    with open_catalog(archive) as catalog:
        links = link_findings(inputs.findings, report, catalog)
    if as_json:
        emit_json([link.as_dict() for link in links])
        return
    if not inputs.findings:
        click.echo("档案库中没有检查发现 (先运行 dangan findings import)", err=True)
        return
    rows = [
        [
            link.finding.area,
            ",".join(link.criteria[:3]) + ("…" if len(link.criteria) > 3 else ""),
            link.status_label + ("(逾期)" if link.overdue else ""),
            f"{len(link.records)}份",
            link.finding.problem,
        ]
        for link in links
    ]
    _table(["项目", "子项", "状态", "整改材料", "问题"], rows)


# ---------------------------------------------------------------------------- metrics


@click.group()
def metrics() -> None:
    """自查数据 (只有本局知道的数字): 生成填报表, 导入。"""


@metrics.command("template")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--year", type=int, default=None, help="统计期间 (默认: 今年)")
@archive_option
def metrics_template(out: Path, year: int | None, archive_dir: Path | None) -> None:
    """生成 Excel 填报表: 评分标准用到的每个指标一行。"""
    from archive.assess.metrics import metric_def, metrics_used, write_metrics_template

    archive = open_archive(archive_dir)
    inputs = load_inputs(archive)
    keys = [k for k in metrics_used(inputs.standard) if metric_def(k) is not None]
    period = str(year or dt.date.today().year)
    write_metrics_template(out, period, keys or None, archive.config.bureau)
    click.echo(f"已生成 {out}: {len(keys)} 个指标, 填好数值和证明材料后运行 dangan metrics import")


@metrics.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@archive_option
def metrics_import(file: Path, archive_dir: Path | None) -> None:
    """导入自查数据 (.yaml/.xlsx); 证明材料须已在档案库中; 有错误则全部列出。"""
    archive = open_archive(archive_dir)
    inputs = load_inputs(archive)
    target, count = import_metrics_file(archive, file, inputs.standard)
    log_action(archive, "import", "自查数据", f"已导入自查数据: {count} 个指标 ({file.name})")
    click.echo(f"已导入 {count} 个指标 → {target}")


COMMANDS = [audit, score, criteria, findings, metrics]
