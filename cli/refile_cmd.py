"""refile: file the unresolved tray's documents whose text now names their dossier."""

from __future__ import annotations

from pathlib import Path

import click

from archive.intake.classify import make_classifier
from archive.intake.pipeline import numbering_policy
from archive.intake.refile import refile_tray, tray_records
from archive.records.reindex import open_catalog
from cli.access_log import log_actions
from cli.common import archive_option, emit_json, open_archive


@click.command()
@click.option("--json", "as_json", is_flag=True, help="每个移入档案的文件输出一行 JSON")
@archive_option
def refile(as_json: bool, archive_dir: Path | None) -> None:
    """重新识别待归档 (records/待归档) 中的文件, 能确定归属的移入其档案。"""
    archive = open_archive(archive_dir)
    with archive.writer_lock(), open_catalog(archive) as catalog:
        moved = refile_tray(
            archive,
            catalog,
            make_classifier(archive, catalog),
            numbering=numbering_policy(archive),
        )
        left = len(tray_records(archive))
        log_actions(
            archive,
            [
                ("assign", m.record, f"重新识别后归入 {m.dossier_key}; 原为 {m.source}")
                for m in moved
            ],
        )
    for item in moved:
        if as_json:
            emit_json(item.as_dict())
        else:
            note = f"  ({item.note})" if item.note else ""
            click.echo(f"已归档  {item.source}  →  {item.record}{note}")
    if not as_json:
        click.echo(f"移入档案 {len(moved)} 个, 待归档尚余 {left} 个", err=True)


COMMANDS = [refile]
