"""check: 四性检测 (DA/T 70) of the archive or of a packet."""

from __future__ import annotations

from pathlib import Path

import click

from archive.core.errors import IntegrityError
from cli.common import archive_option, emit_json, open_archive, progress


@click.command()
@click.argument("packet", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--pdf", "pdf", type=click.Path(dir_okay=False, path_type=Path), help="另存检测报告 PDF"
)
@click.option(
    "--clamav-db",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="ClamAV 病毒库目录或文件 (默认: clamscan 自己的)",
)
@archive_option
def check(
    packet: Path | None,
    as_json: bool,
    pdf: Path | None,
    clamav_db: Path | None,
    archive_dir: Path | None,
) -> None:
    """四性检测 (DA/T 70-2018): 真实性、完整性、可用性、安全性, 逐项给出结论。

    不写 PACKET 检测档案库; 写了则检测该验收包 (文件夹或 .zip)。"""
    if packet is not None:
        from archive.check.packet_check import check_packet

        report = check_packet(packet, clamav_database=clamav_db)
        bureau = "验收包"
        try:
            bureau = open_archive(archive_dir).config.bureau
        except Exception:  # a packet can be checked away from any archive
            pass
    else:
        from archive.check.archive_check import check_archive

        archive = open_archive(archive_dir)
        bureau = archive.config.bureau
        with progress("检测") as bar:
            report = check_archive(archive, clamav_database=clamav_db, progress=bar)
    if pdf is not None:
        from archive.check.report_pdf import write_report_pdf

        write_report_pdf(report, bureau, pdf)
    if as_json:
        emit_json(report.as_dict())
    else:
        click.echo(f"{report.subject}四性检测  {report.target}")
        for item in report.ordered():
            line = f"  {item.code:<8} {item.verdict:<4} {item.name}  (检测 {item.checked})"
            if item.not_done:
                line += f"  {item.not_done}"
            click.echo(line)
            for problem in item.problems[:10]:
                click.echo(f"      {problem['where']}: {problem['detail']}")
            if item.problem_count > 10:
                click.echo(f"      …… 共 {item.problem_count} 处 (--json 或 --pdf 列出全部)")
        if pdf is not None:
            click.echo(f"检测报告: {pdf}")
    if not report.ok:
        failed = [i.code for i in report.ordered() if i.verdict == "不通过"]
        raise IntegrityError(f"四性检测有 {len(failed)} 项不通过: {'、'.join(failed)}")


COMMANDS = [check]
