"""Shared pieces of the thin CLI: the --archive option, JSON output, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from archive.config import Archive, find_archive

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
    return Archive(chosen) if chosen else find_archive(Path.cwd())


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
