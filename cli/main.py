"""``dangan``: the command line. Thin: parse options, call the library, print."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archive.errors import ArchiveError
from cli import (
    audit_cmds,
    bundle_cmd,
    intake_cmds,
    records_cmds,
    refile_cmd,
    report_cmds,
    search_cmd,
    service_cmd,
    status_cmd,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--archive",
    "archive_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="档案库目录 (默认: 当前目录所在的档案库)",
)
@click.version_option(package_name="dangan")
@click.pass_context
def cli(ctx: click.Context, archive_dir: Path | None) -> None:
    """dangan 档案: 收件、归档(一户一档)、检索、自查、材料生成。"""
    ctx.obj = {"archive_dir": archive_dir}


for module in (
    intake_cmds,
    records_cmds,
    search_cmd,
    audit_cmds,
    report_cmds,
    refile_cmd,
    bundle_cmd,
    status_cmd,
    service_cmd,
):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("已中止", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ArchiveError as exc:
        click.echo(f"错误: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # a file the user named cannot be read or written
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"错误: {where}{exc.strerror or exc}; 请检查路径和权限", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("已中止", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
