"""bundle: the acceptance-evidence packet (验收材料) as a BagIt bag."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import click

from archive.core.errors import UsageError
from archive.ops.materials import material_label
from archive.packet.make import make_packet
from cli.access_log import log_action
from cli.common import archive_option, emit_json, open_archive, progress, when_options, year_and_day
from cli.scoring import announced_inputs


def _pin(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise UsageError(f"--pin-date {value!r}: 应为日期, 如 2011-12-31") from exc


@click.command()
@when_options
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="验收包文件夹 (加 --zip 时另存为 同名.zip)",
)
@click.option("--zip", "zip_output", is_flag=True, help="打成一个 .zip 文件")
@click.option(
    "--pin-date", "pin_date", default=None, help="固定日期 YYYY-MM-DD: 两次生成的包逐字节相同"
)
@click.option("--force", is_flag=True, help="目标已存在时覆盖 (旧包在新包完成后才被替换)")
@click.option("--json", "as_json", is_flag=True)
@archive_option
def bundle(
    year: int | None,
    as_of: str | None,
    criteria: Path | None,
    metrics: Path | None,
    out: Path,
    zip_output: bool,
    pin_date: str | None,
    force: bool,
    as_json: bool,
    archive_dir: Path | None,
) -> None:
    """生成考核验收材料包: 按评分标准顺序的佐证材料、验收材料.pdf、自评表和缺项清单 (BagIt)。"""
    y, day = year_and_day(year, as_of)
    pinned = _pin(pin_date)
    archive = open_archive(archive_dir)
    inputs = announced_inputs(archive, criteria, metrics)
    with contextlib.ExitStack() as stack:
        bars: dict[str, Callable[[int, int], None]] = {}

        def stage(name: str, done: int, total: int) -> None:
            if name not in bars:
                bars[name] = stack.enter_context(progress(name))
            bars[name](done, total)

        made = make_packet(
            archive,
            inputs,
            y,
            day,
            out,
            zip_output=zip_output,
            pin_date=pinned,
            force=force,
            progress=stage,
        )
    data = made.data
    log_action(archive, "generate", material_label("packet", y, None), f"完成: {made.bag}")
    if as_json:
        emit_json(data)
        return
    click.echo(f"已生成验收包: {made.bag}")
    click.echo(
        f"  验收材料.pdf {data['pages']} 页, 佐证材料 {data['documents']} 件, "
        f"{data['criteria']} 个子项, 共 {data['size'] / 1048576:.1f} MB"
    )
    click.echo(
        f"  自评得分 {data['total_earned']:g}/{data['total_possible']:g} 分 ({y}年, 截至 {day})"
    )
    if data["stamped"] or data["not_stamped"]:
        click.echo(
            f"  归档章: 本包盖章 {data['stamped']} 件, 未能盖章 {len(data['not_stamped'])} 件"
        )
    if data["without_documents"]:
        click.echo(f"  无佐证材料的子项: {', '.join(data['without_documents'])}")


COMMANDS = [bundle]
