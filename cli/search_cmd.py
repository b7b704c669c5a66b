"""search."""

from __future__ import annotations

from pathlib import Path

import click

from archive.records.finder import SearchRequest
from archive.records.reindex import open_catalog
from archive.records.search_sync import search_archive
from cli.access_log import log_action
from cli.common import archive_option, emit_json, open_archive

_HELP = """检索档案: 户名、姓名、地址、品牌、许可证号(或其后几位)、案号(任何写法)、任意两个以上的字。

\b
字段: 许可证号:610522100123  案号:潼烟罚[2011]12号  类型:询问笔录  户名:张三
      类别:重点监控户  会议:专销联动会议  日期:2010-01..2010-06
      "带引号的短语"  多个词之间为"且"
"""


@click.command(help=_HELP)
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@archive_option
def search(query: tuple[str, ...], limit: int, as_json: bool, archive_dir: Path | None) -> None:
    archive = open_archive(archive_dir)
    text = " ".join(query)
    with open_catalog(archive) as catalog:
        result = search_archive(archive, catalog, SearchRequest(q=text, per_page=limit))
    log_action(archive, "search", text, f"共 {result.total} 条")
    if as_json:
        emit_json(result.as_dict())
        return
    if not result.hits:
        click.echo(result.message or f"没有找到与 {text!r} 相符的档案")
        if result.suggestions:
            click.echo("您是不是要找: " + "、".join(result.suggestions))
        return
    click.echo(f"共 {result.total} 条, 显示前 {len(result.hits)} 条:")
    for hit in result.hits:
        code = f"  {hit.archival_code}" if hit.archival_code else ""
        click.echo(f"{hit.dossier}  {hit.doc_type or hit.title}  {hit.date or ''}{code}")
        click.echo(f"    records/{hit.path}")
        if hit.snippet:
            click.echo(f"    {hit.snippet}")


COMMANDS = [search]
