"""move, edit, withdraw, replace, split, history: corrections, each recorded with who and why."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from archive.core.config import Archive
from archive.intake.pipeline import extractor_for, make_intake, numbering_policy
from archive.intake.rescan import page_parts, replace_scan, split_scan
from archive.intake.rules import load_rules
from archive.records.catalog import Catalog
from archive.records.corrections import (
    Changes,
    Corrected,
    edit_record,
    history,
    locate,
    meeting_folder,
    move_meeting_folder,
    move_to_dossier,
    type_dossiers_from,
    withdraw_record,
)
from archive.records.reindex import open_catalog
from archive.records.search_sync import sync_index
from cli.access_log import by_note, log_action, log_actions
from cli.common import archive_option, emit_json, open_archive

_OPS = {
    "moved": "已移动",
    "corrected": "已更正",
    "withdrawn": "已撤出",
    "replaces": "已归档(替换)",
    "split_from": "已归档(拆出)",
}


def _actor(by: str | None) -> str:
    return (by or "").strip() or getpass.getuser()


def correction_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--reason, --by, --wait, --json: the options every correction takes."""
    for option in reversed(
        (
            click.option("--reason", required=True, help="更正原因 (记入档案的历史)"),
            click.option("--by", default=None, help="操作人 (默认: 当前登录的系统用户)"),
            click.option(
                "--wait",
                type=float,
                default=10.0,
                show_default=True,
                help="另一进程正在写入时最多等待的秒数",
            ),
            click.option("--json", "as_json", is_flag=True),
            archive_option,
        )
    ):
        func = option(func)
    return func


@contextmanager
def _correcting(archive_dir: Path | None, wait: float) -> Iterator[tuple[Archive, Catalog]]:
    archive = open_archive(archive_dir)
    with archive.writer_lock(wait_seconds=wait), open_catalog(archive) as catalog:
        yield archive, catalog


def _report(
    done: list[Corrected],
    archive: Archive,
    catalog: Catalog,
    as_json: bool,
    what: str,
    reason: str,
    by: str | None,
) -> None:
    """The index brought up to date, the access log told (as the web's 更正 page tells
    it), then what was done printed."""
    sync_index(archive, catalog, changed=[d.record_id for d in done])
    log_actions(
        archive, [("correct", d.record, d.log_detail(what, reason) + by_note(by)) for d in done]
    )
    for item in done:
        if as_json:
            emit_json(item.as_dict())
            continue
        code = f"  档号 {item.archival_code}" if item.archival_code else ""
        click.echo(f"{_OPS.get(item.op, item.op)}  {item.before}  →  {item.record}{code}")
        click.echo(f"    {item.detail}")


@click.command()
@click.argument("record")
@click.argument("dossier")
@correction_options
def move(
    record: str,
    dossier: str,
    reason: str,
    by: str | None,
    wait: float,
    as_json: bool,
    archive_dir: Path | None,
) -> None:
    """把一份档案移入另一个已有的档案 (许可证号 / 案号 / 会议名称/年份 / 工作材料/年份)。

    RECORD: records/ 下的路径、SHA-256 (前8位以上) 或档号; 或一个会议的文件夹
    (records/会议记录/会议名称[/年份]), 其中每份移入 DOSSIER 所写会议的召开年份。"""
    with _correcting(archive_dir, wait) as (archive, catalog):
        one_or_all = move_meeting_folder if meeting_folder(record) is not None else _move_one
        done = one_or_all(
            archive,
            catalog,
            record,
            dossier,
            actor=_actor(by),
            reason=reason,
            policy=numbering_policy(archive),
            canonical=load_rules(archive.root).canonical_meeting,
        )
        _report(done, archive, catalog, as_json, "move", reason, by)


def _move_one(
    archive: Archive, catalog: Catalog, record: str, dossier: str, **how: Any
) -> list[Corrected]:
    return [move_to_dossier(archive, catalog, record, dossier, **how)]


@click.command()
@click.argument("record")
@click.option("--type", "doc_type", default=None, help="文书类型, 如 申请表")
@click.option("--date", default=None, help="成文日期 YYYY-MM-DD (空字符串: 清除)")
@click.option("--licence", default=None, help="许可证号 (移入该户档案)")
@click.option("--case", "case_no", default=None, help="案号 (移入该案卷)")
@click.option("--meeting", default=None, help="会议名称 (已配置的会议类型或会议自己的名称)")
@click.option("--title", default=None, help="题名")
@correction_options
def edit(
    record: str,
    doc_type: str | None,
    date: str | None,
    licence: str | None,
    case_no: str | None,
    meeting: str | None,
    title: str | None,
    reason: str,
    by: str | None,
    wait: float,
    as_json: bool,
    archive_dir: Path | None,
) -> None:
    """更正一份档案的文书类型、日期、许可证号、案号、会议或题名 (原件不变, 记入历史)。"""
    change = Changes(doc_type, date, licence, case_no, meeting, title)
    with _correcting(archive_dir, wait) as (archive, catalog):
        rules = load_rules(archive.root)
        done = edit_record(
            archive,
            catalog,
            record,
            change,
            actor=_actor(by),
            reason=reason,
            type_dossiers=type_dossiers_from(rules.types),
            policy=numbering_policy(archive),
            canonical=rules.canonical_meeting,
        )
        _report([done], archive, catalog, as_json, "edit", reason, by)


@click.command()
@click.argument("record")
@correction_options
def withdraw(
    record: str,
    reason: str,
    by: str | None,
    wait: float,
    as_json: bool,
    archive_dir: Path | None,
) -> None:
    """把一份档案撤出其档案 (移入 records/已撤出/, 保留档号并注明, 仍受校验)。"""
    with _correcting(archive_dir, wait) as (archive, catalog):
        done = withdraw_record(archive, catalog, record, actor=_actor(by), reason=reason)
        _report([done], archive, catalog, as_json, "withdraw", reason, by)


@click.command()
@click.argument("record")
@click.argument("new_scan", type=click.Path(path_type=Path))
@click.option("--no-ocr", is_flag=True, help="不做 OCR (只取 PDF 文字层)")
@correction_options
def replace(
    record: str,
    new_scan: Path,
    no_ocr: bool,
    reason: str,
    by: str | None,
    wait: float,
    as_json: bool,
    archive_dir: Path | None,
) -> None:
    """用重新扫描的文件替换一份不清晰的扫描件: 新件归入同一档案, 旧件撤出, 两者互相链接。"""
    with (
        _correcting(archive_dir, wait) as (archive, catalog),
        extractor_for(archive, ocr=False if no_ocr else None) as extractor,
    ):
        intake = make_intake(archive, catalog, extractor, settle_seconds=0)
        done = replace_scan(
            archive, catalog, record, new_scan, actor=_actor(by), reason=reason, intake=intake
        )
        _report(done, archive, catalog, as_json, "replace", reason, by)


@click.command()
@click.argument("record")
@click.argument("ranges")
@click.option(
    "--types",
    default=None,
    help="各段的文书类型, 逗号分隔, 与页码范围一一对应 (如 申请表,身份证明)",
)
@click.option("--no-ocr", is_flag=True, help="不做 OCR (只取 PDF 文字层)")
@correction_options
def split(
    record: str,
    ranges: str,
    types: str | None,
    no_ocr: bool,
    reason: str,
    by: str | None,
    wait: float,
    as_json: bool,
    archive_dir: Path | None,
) -> None:
    """把一份含有多份文件的 PDF 按页码范围拆成多份档案 (如 1-2,3,4-6), 原件撤出。"""
    with (
        _correcting(archive_dir, wait) as (archive, catalog),
        extractor_for(archive, ocr=False if no_ocr else None) as extractor,
    ):
        parts = page_parts(ranges, types, load_rules(archive.root).types)
        intake = make_intake(archive, catalog, extractor, settle_seconds=0)
        done = split_scan(
            archive, catalog, record, parts, actor=_actor(by), reason=reason, intake=intake
        )
        _report(done, archive, catalog, as_json, "split", reason, by)


@click.command("history")
@click.argument("record")
@click.option("--json", "as_json", is_flag=True)
@archive_option
def history_cmd(record: str, as_json: bool, archive_dir: Path | None) -> None:
    """一份档案的全部历史: 收件、归档、编号、每次更正 (谁、何时、为什么)。"""
    archive = open_archive(archive_dir)
    with open_catalog(archive) as catalog:
        path, side = locate(archive, catalog, record)
    events = history(side)
    shown = f"records/{path.relative_to(archive.records).as_posix()}"
    log_action(
        archive, "view_record", shown, f"历史 ({(side.get('dossier') or {}).get('key', '')})"
    )
    if as_json:
        emit_json(
            {
                "record": f"records/{path.relative_to(archive.records).as_posix()}",
                "sha256": side["sha256"],
                "archival_code": (side.get("archival") or {}).get("code"),
                "status": side.get("status") or "filed",
                "events": events,
            }
        )
        return
    code = (side.get("archival") or {}).get("code")
    click.echo(
        f"records/{path.relative_to(archive.records).as_posix()}"
        + (f"  档号 {code}" if code else "")
    )
    for e in events:
        who = f"  [{e['by']}]" if e.get("by") else ""
        why = f"  原因: {e['reason']}" if e.get("reason") else ""
        click.echo(
            f"  {str(e.get('at', ''))[:19]}  {e.get('event', '')}{who}  {e.get('detail', '')}{why}"
        )


COMMANDS = [move, edit, withdraw, replace, split, history_cmd]
