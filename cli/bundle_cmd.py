"""bundle: the acceptance-evidence packet (验收材料) as a BagIt bag."""

from __future__ import annotations

import datetime as dt
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import click

from archive.assess.score import score_with
from archive.core.errors import UsageError
from archive.packet.bundle import build_bundle
from archive.packet.bundle_plan import describe, plan_from_score
from archive.paperwork.stamp_copies import stamp_into
from archive.records.reindex import open_catalog
from cli.common import archive_option, emit_json, open_archive, progress, when_options, year_and_day
from cli.scoring import announced_inputs


def _pin(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise UsageError(f"--pin-date {value!r}: 应为日期, 如 2011-12-31") from exc


def _bag_info(bag: Path) -> dict[str, str]:
    """bag-info.txt of the bag just built (a folder or a zip holding one)."""
    if bag.is_dir():
        text = (bag / "bag-info.txt").read_text(encoding="utf-8")
    else:
        with zipfile.ZipFile(bag) as zf:
            name = next(n for n in zf.namelist() if n.endswith("/bag-info.txt"))
            text = zf.read(name).decode("utf-8")
    info: dict[str, str] = {}
    for line in text.splitlines():
        if ":" in line and not line[:1].isspace():
            key, value = line.split(":", 1)
            info[key.strip()] = value.strip()
    return info


def _size(bag: Path) -> int:
    if bag.is_file():
        return bag.stat().st_size
    return sum(p.stat().st_size for p in bag.rglob("*") if p.is_file())


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
    with tempfile.TemporaryDirectory(prefix="dangan-bundle-") as work:
        with open_catalog(archive) as catalog:
            report = score_with(archive, catalog, inputs, y, day)
            evidence = sorted(
                {r.removeprefix("records/") for c in report.criteria for r in c.evidence}
            )
            with progress("归档章") as bar:  # the packet shows stamped copies; records only read
                stamped, not_stamped = stamp_into(
                    archive, catalog, evidence, Path(work) / "stamped", progress=bar
                )
            plan = plan_from_score(
                archive,
                catalog,
                report,
                bureau=archive.config.bureau,
                year=y,
                date=pinned or dt.date.today(),
                workdir=Path(work),
                note=inputs.sample_note,
                stamped=stamped,
            )
        with progress("生成验收材料") as bar:
            bag = build_bundle(
                plan, out, zip_output=zip_output, pin_date=pinned, progress=bar, force=force
            )
    info = _bag_info(bag)
    counts = describe(plan)
    data: dict[str, Any] = {
        "bag": str(bag),
        "zip": zip_output,
        "pages": int(info.get("Packet-Pages", "0")),
        "documents": counts["documents"],
        "criteria": counts["criteria"],
        "without_documents": counts["without_documents"],
        "size": _size(bag),
        "year": y,
        "as_of": day.isoformat(),
        "total_earned": report.total_earned,
        "total_possible": report.total_possible,
        "stamped": len(stamped),
        "not_stamped": not_stamped,
    }
    if as_json:
        emit_json(data)
        return
    click.echo(f"已生成验收包: {bag}")
    click.echo(
        f"  验收材料.pdf {data['pages']} 页, 佐证材料 {data['documents']} 件, "
        f"{data['criteria']} 个子项, 共 {data['size'] / 1048576:.1f} MB"
    )
    click.echo(
        f"  自评得分 {report.total_earned:g}/{report.total_possible:g} 分 ({y}年, 截至 {day})"
    )
    if stamped or not_stamped:
        click.echo(f"  归档章: 本包盖章 {len(stamped)} 件, 未能盖章 {len(not_stamped)} 件")
    if counts["without_documents"]:
        click.echo(f"  无佐证材料的子项: {', '.join(counts['without_documents'])}")


COMMANDS = [bundle]
