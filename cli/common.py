"""Shared pieces of the thin CLI: the --archive option, JSON output, progress bars."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from archive.core.config import Archive, find_archive
from archive.core.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])


def archive_option(func: F) -> F:
    """``--archive DIR`` on every command (default: the archive containing the current folder)."""
    return click.option(
        "--archive",
        "archive_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="档案库目录 (默认: 当前目录所在的档案库)",
    )(func)


def open_archive(archive_dir: Path | None) -> Archive:
    ctx = click.get_current_context()
    chosen = archive_dir or (ctx.find_root().obj or {}).get("archive_dir")
    archive = Archive(chosen) if chosen else find_archive(Path.cwd())
    # a command that fails after this is logged as such (cli.access_log.log_failure)
    OPENED[:] = [(archive, ctx.command_path.split(" ", 1)[-1])]
    return archive


#: The archive the running command opened, and the command ("households import").
OPENED: list[tuple[Archive, str]] = []


LOG_NAME = "dangan.log"


def log_to_archive(archive: Archive) -> Path:
    """Send warnings (ours and the libraries') to ``.dangan/dangan.log``, not the terminal."""
    from indexers.diagnostics import quiet_libraries

    quiet_libraries()
    archive.state.mkdir(parents=True, exist_ok=True)
    path = archive.state / LOG_NAME
    root = logging.getLogger()
    if not any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    return path


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=None, default=str))


@contextmanager
def progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress callback drawing a bar on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr)
            state["bar"].__enter__()
        state["bar"].update(done - state.get("done", 0))
        state["done"] = done

    try:
        yield update
    finally:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)


CRITERIA_OPTION = click.option(
    "--criteria",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="评分标准 YAML (默认: 档案库的 评分标准.yaml, 没有则用样例)",
)
METRICS_OPTION = click.option(
    "--metrics",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="自查数据 YAML/XLSX (默认: 档案库的 自查数据.yaml)",
)


def when_options(func: F) -> F:
    """--year, --as-of, --criteria, --metrics: the options of every command that scores the archive."""
    for option in reversed(
        (
            click.option("--year", type=int, default=None, help="考核年度 (默认: --as-of 所在年)"),
            click.option("--as-of", "as_of", default=None, help="以哪一天为“今天”, YYYY-MM-DD"),
            CRITERIA_OPTION,
            METRICS_OPTION,
        )
    ):
        func = option(func)
    return func


def year_and_day(year: int | None, as_of: str | None) -> tuple[int, dt.date]:
    """The audited year and the day taken as today, from --year and --as-of."""
    if as_of is None:
        day = dt.date.today()
    else:
        try:
            day = dt.date.fromisoformat(as_of.strip())
        except ValueError as exc:
            raise UsageError(f"--as-of {as_of!r}: 应为日期, 如 2011-12-31") from exc
    if year is not None and not 1990 <= year <= 2100:
        raise UsageError(f"--year {year}: 应为四位年份, 如 2011")
    return (year or day.year), day


def https_options(func: F) -> F:
    """--certfile and --keyfile: HTTPS for the web server (``serve``, ``service unit --web``)."""
    for option in reversed(
        (
            click.option(
                "--certfile",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                default=None,
                help="HTTPS 证书 (PEM), 与 --keyfile 同用",
            ),
            click.option(
                "--keyfile",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                default=None,
                help="HTTPS 私钥 (PEM)",
            ),
        )
    ):
        func = option(func)
    return func


def check_https(certfile: Path | None, keyfile: Path | None) -> None:
    if (certfile is None) != (keyfile is None):
        raise UsageError("--certfile 与 --keyfile 要同时给出 (HTTPS 证书和私钥)")
