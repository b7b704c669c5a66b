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
from cli.access_log import by_note, log_action, log_actions
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
        if done:
            log_action(archive, "number", "records/", f"编号 {len(done)} 件")
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
    if report.stamped or report.failed:
        log_action(
            archive,
            "stamp",
            "、".join(records) or "records/",
            f"盖章 {len(report.stamped)} 件, 失败 {len(report.failed)} 件",
        )
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
    made = f"{len(cat.entries)} 件 → {pdf.name}、{xlsx.name}"
    if dossier is not None:  # the 卷内目录 to print, as the web's print view
        log_action(archive, "print", str(dossier), f"卷内目录 {made}")
    else:
        log_action(archive, "generate", f"{year}年归档文件目录", made)
    data = {"pdf": str(pdf), "xlsx": str(xlsx), "entries": len(cat.entries), "title": cat.title}
    if as_json:
        emit_json(data)
    else:
        click.echo(f"{cat.title}: {len(cat.entries)} 件\n  {pdf}\n  {xlsx}")


@click.command("export-metadata")
@click.option("--year", type=int, default=None, help="只导出该年度的文件")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="输出文件夹"
)
@click.option("--json", "as_json", is_flag=True)
@archive_option
def export_metadata_cmd(
    year: int | None, out: Path, as_json: bool, archive_dir: Path | None
) -> None:
    """按 DA/T 46 核心元数据导出每件文件的元数据 XML (每件一个文件, 以档号命名)。"""
    from archive.records.metadata_xml import export_metadata
    from archive.records.store import read_sidecar, sidecar_of

    archive = open_archive(archive_dir)
    with open_catalog(archive) as catalog:
        rows = catalog.records(
            "archival_code IS NOT NULL" + (" AND year = ?" if year else ""), (year,) if year else ()
        )
    sides = [
        (f"records/{r['path']}", read_sidecar(sidecar_of(archive.records / r["path"])))
        for r in rows
    ]
    written = export_metadata(sides, archive.config.bureau, out)
    log_action(
        archive,
        "generate",
        "元数据 XML (DA/T 46)",
        f"{len(written)} 件{f' ({year}年)' if year else ''} → {out}",
    )
    if as_json:
        emit_json({"out": str(out), "files": len(written)})
    else:
        click.echo(f"已导出 {len(written)} 件的元数据 → {out}")


@click.command()
@click.option("--as-of", "as_of", default=None, help="以哪一天为“今天”, YYYY-MM-DD")
@click.option("--json", "as_json", is_flag=True)
@archive_option
def appraise(as_of: str | None, as_json: bool, archive_dir: Path | None) -> None:
    """列出已过保管期限、可以鉴定销毁的文件 (永久保存的不列)。"""
    from archive.records.retention import appraise as due_records
    from cli.common import year_and_day

    _, day = year_and_day(None, as_of)
    archive = open_archive(archive_dir)
    with open_catalog(archive) as catalog:
        due = due_records(archive, catalog, day)
    for item in due:
        if as_json:
            emit_json(item.as_dict())
        else:
            click.echo(
                f"{item.archival_code}  {item.retention}  保存至 {item.expired_end_of} 年底  {item.title}  {item.record}"
            )
    if not as_json:
        click.echo(f"已到保管期限 {len(due)} 件 (截至 {day})", err=True)


@click.command()
@click.argument("records", nargs=-1, required=True)
@click.option("--reason", required=True, help="销毁原因 (如 鉴定小组意见)")
@click.option("--approver", required=True, help="批准人")
@click.option("--by", default=None, help="经办人 (默认: 当前登录的系统用户)")
@click.option("--as-of", "as_of", default=None, help="以哪一天为“今天”, YYYY-MM-DD")
@click.option("--json", "as_json", is_flag=True)
@archive_option
def destroy(
    records: tuple[str, ...],
    reason: str,
    approver: str,
    by: str | None,
    as_of: str | None,
    as_json: bool,
    archive_dir: Path | None,
) -> None:
    """销毁已到保管期限的文件: 删除原件, 保留元数据与档号, 记入销毁清册 (报告/销毁清册.xlsx 和 .pdf)。"""
    from archive.paperwork.destruction_register import write_register
    from archive.records.retention import destroy_records, destroyed_sidecars
    from cli.common import year_and_day

    _, day = year_and_day(None, as_of)
    archive = open_archive(archive_dir)
    with archive.writer_lock(), open_catalog(archive) as catalog:
        done = destroy_records(
            archive,
            catalog,
            list(records),
            actor=(by or "").strip() or getpass.getuser(),
            reason=reason,
            approver=approver,
            as_of=day,
        )
        xlsx, pdf = write_register(
            destroyed_sidecars(archive), archive.config.bureau, archive.root / "报告"
        )
        log_actions(
            archive,
            [
                (
                    "destroy",
                    item.record,
                    f"{item.archival_code}; 原因: {reason}; 批准人 {approver}{by_note(by)}",
                )
                for item in done
            ],
        )
    for item in done:
        if as_json:
            emit_json({**item.as_dict(), "register": [str(xlsx), str(pdf)]})
        else:
            click.echo(f"已销毁  {item.archival_code}  {item.before}  (元数据保留于 {item.record})")
    if not as_json:
        click.echo(f"销毁清册: {xlsx}  {pdf}")


COMMANDS = [number, stamp, catalogue, export_metadata_cmd, appraise, destroy]
