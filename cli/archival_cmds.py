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


@click.command()
@click.option("--year", type=int, default=None, help="年度: 写该年度的归档文件目录")
@click.option(
    "--dossier", default=None, help="档案 (许可证号/户名/案号/会议/年份): 写其卷内目录和备考表"
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="输出文件夹 (默认: 档案库的 报告/)",
)
@click.option("--json", "as_json", is_flag=True)
@archive_option
def catalogue(
    year: int | None, dossier: str | None, out: Path | None, as_json: bool, archive_dir: Path | None
) -> None:
    """归档文件目录 (按年度) 或一个档案的卷内目录和备考表: PDF (A4 横排) 和 XLSX。"""
    from archive.core.errors import UsageError
    from archive.paperwork.catalogue import (
        dossier_catalogue,
        write_catalogue_pdf,
        write_catalogue_xlsx,
        year_catalogue,
    )

    if (year is None) == (dossier is None):
        raise UsageError(
            "请指定 --year 年度 (归档文件目录) 或 --dossier 档案 (卷内目录和备考表) 之一"
        )
    archive = open_archive(archive_dir)
    folder = out or archive.root / "报告"
    with open_catalog(archive) as catalog:
        if year is not None:
            cat = year_catalogue(archive, catalog, year)
            stem = f"归档文件目录_{year}"
        else:
            cat = dossier_catalogue(archive, catalog, str(dossier))
            stem = "卷内目录_" + "".join(c if c.isalnum() else "_" for c in str(dossier))
    pdf = write_catalogue_pdf(cat, folder / f"{stem}.pdf")
    xlsx = write_catalogue_xlsx(cat, folder / f"{stem}.xlsx")
    data = {"pdf": str(pdf), "xlsx": str(xlsx), "entries": len(cat.entries), "title": cat.title}
    if as_json:
        emit_json(data)
    else:
        click.echo(f"{cat.title}: {len(cat.entries)} 件\n  {pdf}\n  {xlsx}")


COMMANDS = [number, stamp, catalogue]
