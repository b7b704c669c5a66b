"""``dangan``: the command line. Thin: parse options, call the library, print."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from archive.core.errors import ArchiveError

# Each command's module, imported only when that command runs (or --help lists them all):
# a clerk's `dangan status` or `dangan search` should not wait for pypdf, weasyprint & co.
COMMAND_MODULES = {
    "init": "cli.intake_cmds",
    "ingest": "cli.intake_cmds",
    "watch": "cli.intake_cmds",
    "backlog": "cli.intake_cmds",
    "status": "cli.status_cmd",
    "show": "cli.records_cmds",
    "verify": "cli.records_cmds",
    "reindex": "cli.records_cmds",
    "households": "cli.records_cmds",
    "quarantine": "cli.records_cmds",
    "search": "cli.search_cmd",
    "refile": "cli.refile_cmd",
    "audit": "cli.audit_cmds",
    "score": "cli.audit_cmds",
    "criteria": "cli.audit_cmds",
    "findings": "cli.audit_cmds",
    "metrics": "cli.audit_cmds",
    "report": "cli.report_cmds",
    "bundle": "cli.bundle_cmd",
    "service": "cli.service_cmd",
    "move": "cli.correct_cmds",
    "edit": "cli.correct_cmds",
    "withdraw": "cli.correct_cmds",
    "replace": "cli.correct_cmds",
    "split": "cli.correct_cmds",
    "history": "cli.correct_cmds",
    "number": "cli.archival_cmds",
    "stamp": "cli.archival_cmds",
    "check": "cli.check_cmd",
    "catalogue": "cli.archival_cmds",
    "export-metadata": "cli.archival_cmds",
    "appraise": "cli.archival_cmds",
    "destroy": "cli.archival_cmds",
    "backup": "cli.backup_cmds",
    "restore": "cli.backup_cmds",
    "users": "cli.users_cmds",
    "serve": "cli.serve_cmd",
    "ocr-worker": "cli.ocr_cmds",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is None:
            return None
        commands = importlib.import_module(module).COMMANDS
        return next((c for c in commands if c.name == cmd_name), None)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
        _log_failure(exc.message)
        sys.exit(exc.exit_code)
    except OSError as exc:  # a file the user named cannot be read or written
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"错误: {where}{exc.strerror or exc}; 请检查路径和权限", err=True)
        _log_failure(f"{where}{exc.strerror or exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("已中止", err=True)
        sys.exit(130)


def _log_failure(message: str) -> None:
    from cli.access_log import log_failure

    log_failure(message)


if __name__ == "__main__":
    main()
