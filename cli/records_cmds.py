"""show, verify, reindex, households, quarantine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from archive.core.clock import local_now
from archive.core.errors import IntegrityError
from archive.intake.rules import rules_for_reading
from archive.records.catalog import Catalog
from archive.records.dossier import find_dossiers
from archive.records.fixity import verify_records
from archive.records.reindex import open_catalog, reindex_catalog
from cli.access_log import log_action, log_actions
from cli.common import archive_option, emit_json, open_archive, progress


@click.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True)
@archive_option
def show(key: str, as_json: bool, archive_dir: Path | None) -> None:
    """列出一个档案(许可证号/户名/案号/会议)的卷内目录, 含存于别处的参见文件。"""
    archive = open_archive(archive_dir)
    rules = rules_for_reading(archive.root)
    with open_catalog(archive) as catalog:
        found = find_dossiers(catalog, key, rules.canonical_meeting)
    log_actions(archive, [("view_dossier", d.key, d.summary) for d in found])
    if as_json:
        emit_json([d.as_dict() for d in found])
        return
    for dossier in found:
        folder = dossier.folder or "没有自己的文件夹, 只列入了存于别处的文件"
        click.echo(f"档案 {dossier.key}  ({folder})")
        hh = dossier.household
        if hh:
            click.echo(
                f"  户名 {hh['name']}  经营者 {hh['operator'] or '-'}  类别 {hh['class'] or '-'}  "
                f"有效期 {hh['valid_from'] or '?'} 至 {hh['valid_to'] or '?'}"
            )
        click.echo(
            f"  {dossier.kind_label}的文件 (不在卷内目录中):" if dossier.apart else "  卷内目录:"
        )
        for doc in dossier.documents:
            flags = "" if doc.legible in (None, True) else "  [不清晰]"
            flags += "".join(f"  [{f['code']}]" for f in doc.flagged)
            if doc.cross_reference:
                flags += f"  [参见: 存于{doc.filed_in}]"
            place = f"{doc.number:>3}." if doc.number else "参见"
            code = doc.archival_code or "(未编档号)"
            click.echo(
                f"  {place} {code}  {doc.doc_type or doc.title:<12} "
                f"{doc.date or '':<10} {doc.pages or '?'}页  {doc.record}{flags}"
            )


@click.command()
@click.argument("bundle", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option("--record-events", is_flag=True, help="在每个通过校验的档案中记录 verified 事件")
@archive_option
def verify(
    bundle: Path | None, as_json: bool, record_events: bool, archive_dir: Path | None
) -> None:
    """重新计算每份档案的 SHA-256, 报告被改动、缺失或多出的文件 (或校验一个 BagIt 材料包)。"""
    if bundle is not None:
        from archive.packet.bag_verify import verify_bag

        bag = verify_bag(bundle)
        if as_json:
            emit_json(
                {
                    "bag": str(bundle),
                    "ok": bag.ok,
                    "changed": bag.changed,
                    "missing": bag.missing,
                    "unexpected": bag.unexpected,
                    "errors": bag.errors,
                    "algorithms": bag.algorithms,
                    "payload_files": bag.payload_files,
                    "info": bag.info,
                }
            )
        else:
            click.echo(
                f"{bundle}: {'校验通过' if bag.ok else '校验失败'} "
                f"({bag.payload_files} 个文件, {'/'.join(bag.algorithms) or '无清单'})"
            )
            for line in bag.lines():
                click.echo(f"  {line}")
        if not bag.ok:
            raise IntegrityError(
                f"{bundle}: 验收包校验未通过, 共 {len(bag.lines())} 处问题 (见上); "
                "请从档案库重新生成 (dangan bundle --force), 不要手工修改包内文件"
            )
        return
    archive = open_archive(archive_dir)
    with archive.writer_lock(), open_catalog(archive) as catalog, progress("校验") as bar:
        report = verify_records(
            archive,
            catalog,
            record_event=record_events,
            clock_iso=lambda: local_now().isoformat(),
            progress=bar,
        )
    if record_events:  # the sidecars of the sound ones now say so
        problems = len(report.changed) + len(report.missing) + len(report.damaged)
        problems += len(report.unexpected) + len(report.uncatalogued)
        log_action(
            archive, "verify", "records/", f"已校验 {report.checked} 份, 发现问题 {problems} 处"
        )
    if as_json:
        emit_json(report.as_dict())
    else:
        click.echo(f"已校验 {report.checked} 份档案")
        for item in report.changed:
            click.echo(f"  已改动: {item['record']}")
        for item in report.missing:
            click.echo(f"  已缺失: {item['record']}")
        for path in report.unexpected:
            click.echo(f"  未登记的文件: {path}")
        for item in report.damaged:
            click.echo(f"  说明文件损坏: {item['record']} ({item['reason']})")
        for path in report.uncatalogued:
            click.echo(f"  目录库中没有: {path}")
        click.echo("全部一致" if report.ok else "发现问题, 见上")
    if not report.ok:
        hint = "; 目录库与档案不一致, 请运行 dangan reindex" if report.uncatalogued else ""
        raise IntegrityError(
            f"校验发现 {len(report.changed)} 份被改动, {len(report.missing)} 份缺失, "
            f"{len(report.unexpected)} 个未登记文件, {len(report.damaged)} 个说明文件损坏, "
            f"{len(report.uncatalogued)} 份未编入目录库{hint}"
        )


@click.command()
@click.option("--json", "as_json", is_flag=True)
@archive_option
def reindex(as_json: bool, archive_dir: Path | None) -> None:
    """从 records/ 重建目录库(以及检索索引)。"""
    archive = open_archive(archive_dir)
    with archive.writer_lock(), Catalog(archive.catalog_path) as catalog, progress("重建") as bar:
        report = reindex_catalog(archive, catalog, progress=bar)
        report.problems += _finish_corrections(archive, catalog)
        extra = _reindex_search(archive, catalog)
    data = {**report.__dict__, **extra}
    if as_json:
        emit_json(data)
    else:
        click.echo(
            f"已重建: {report.records} 份档案, {report.households} 户, {report.quarantined} 个隔离文件"
        )
        for problem in report.problems:
            click.echo(f"  问题: {problem}")


def _finish_corrections(archive: Any, catalog: Catalog) -> list[str]:
    """Finish or undo a replace or split a crash interrupted (they file new records)."""
    from archive.intake.rescan import recover_rescans

    return recover_rescans(archive, catalog)


def _reindex_search(archive: Any, catalog: Catalog) -> dict[str, Any]:
    try:
        from archive.records.search_sync import rebuild_index
    except ImportError:
        return {}
    return {"indexed": rebuild_index(archive, catalog)}


@click.group()
def households() -> None:
    """零售户名册。"""


@households.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@archive_option
def households_import(file: Path, as_json: bool, archive_dir: Path | None) -> None:
    """导入许可证系统导出的名册 (CSV 或 XLSX); 有错误则全部列出, 不导入任何一行。"""
    from archive.intake.pipeline import import_roster

    archive = open_archive(archive_dir)
    before = archive.config.area_codes
    imported = import_roster(archive, file)
    log_action(archive, "import", "名册", f"已导入名册: {imported} 户 ({file.name})")
    codes = archive.config.area_codes
    if as_json:
        emit_json(
            {"imported": imported, "roster": str(archive.roster_path), "area_codes": list(codes)}
        )
    else:
        click.echo(f"已导入 {imported} 户 → {archive.roster_path}")
        if codes != before:
            click.echo(f"已按名册设置本县区划码: {'、'.join(codes)} (写入 dangan.toml)")


@households.command("list")
@click.option("--json", "as_json", is_flag=True)
@archive_option
def households_list(as_json: bool, archive_dir: Path | None) -> None:
    """列出名册。"""
    archive = open_archive(archive_dir)
    with open_catalog(archive) as catalog:
        rows = [dict(r) for r in catalog.households()]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['licence_no']}  {row['name']}  {row['class'] or '-'}  至 {row['valid_to'] or '?'}"
        )


@click.group()
def quarantine() -> None:
    """隔离区。"""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True)
@archive_option
def quarantine_list(as_json: bool, archive_dir: Path | None) -> None:
    """列出被隔离的文件及原因。"""
    archive = open_archive(archive_dir)
    with open_catalog(archive) as catalog:
        rows = [dict(r) for r in catalog.quarantined()]
    log_action(archive, "view_quarantine", "quarantine/", f"{len(rows)} 个文件")
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['at'][:19]}  [{row['code']}]  {row['path']}  {row['reason']}")
    if not rows:
        click.echo("隔离区为空", err=True)


COMMANDS = [show, verify, reindex, households, quarantine]
