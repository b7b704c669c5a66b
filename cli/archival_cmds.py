"""number, stamp: 档号 for records filed before numbering, 归档章 on the archival copies."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from archive.core.clock import local_now
from archive.intake.pipeline import numbering_policy
from archive.paperwork.stamp_copies import stamp_records
from archive.records.numbering import number_unnumbered
from archive.records.reindex import open_catalog
from cli.common import archive_option, emit_json, open_archive, progress


@click.command()
@click.option("--json", "as_json", is_flag=True)
@archive_option
def number(as_json: bool, archive_dir: Path | None) -> None:
    """给尚无档号的已归档文件编档号 (按归档先后; 新归档的文件归档时即编号)。"""
    archive = open_archive(archive_dir)
    with archive.writer_lock(), open_catalog(archive) as catalog:
        done = number_unnumbered(
            archive,
            catalog,
            numbering_policy(archive),
            at=local_now().isoformat(),
            by=getpass.getuser(),
        )
    for item in done:
        if as_json:
            emit_json(item)
        else:
            click.echo(f"{item['archival_code']}  {item['record']}")
    if not as_json:
        click.echo(f"编号 {len(done)} 件", err=True)


@click.command()
@click.argument("records", nargs=-1)
@click.option("--force", is_flag=True, help="已盖章的也重新盖")
@click.option("--json", "as_json", is_flag=True)
@archive_option
def stamp(records: tuple[str, ...], force: bool, as_json: bool, archive_dir: Path | None) -> None:
    """在归档副本 (<文件名>.stamped.pdf) 首页盖归档章; 原件不变。不写 RECORDS 则处理全部。"""
    archive = open_archive(archive_dir)
    wanted = [r.removeprefix("records/") for r in records] or None
    with archive.writer_lock(), open_catalog(archive) as catalog, progress("盖章") as bar:
        report = stamp_records(archive, catalog, wanted, force=force, progress=bar)
    if as_json:
        emit_json(report.as_dict())
        return
    for item in report.stamped:
        mark = "" if item["placement"] == "blank" else f"  ({item['note']})"
        click.echo(f"已盖章  {item['archival_code']}  {item['copy']}{mark}")
    for item in report.failed:
        click.echo(f"未盖章  {item['record']}  {item['reason']}")
    click.echo(
        f"盖章 {len(report.stamped)} 件, 已有 {report.current} 件, 失败 {len(report.failed)} 件",
        err=True,
    )


COMMANDS = [number, stamp]
