"""What intake may take, and what it finds there: one walk for ``ingest``, ``watch`` and
``status``, so that nothing in the inbox is passed over in silence.

:func:`walk_sources` lists every candidate under a folder in a stable order. Files are
candidates; so are symbolic links to folders (intake sets them aside as links, as it does
links to files). What is not taken is still listed, with the reason a clerk reads: hidden
names (a leading dot) and folders that cannot be read. Only litter (``Thumbs.db``,
``desktop.ini``, ``~$`` lock files, AppleDouble ``._`` companions) and copier part-files
still being written are passed over without a word.

:func:`check_sources` is the rule for sources given by hand (``dangan ingest PATH``): never
the archive's own records, quarantine, state or reports (:func:`archive.core.paths.intake_refusal`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from archive.core.names import is_hidden, is_litter, is_partial
from archive.core.paths import PathRefused, intake_refusal
from archive.intake.preflight import Rejection


@dataclass(frozen=True)
class Source:
    """A candidate for intake: ``path`` under ``root``; ``skip`` says why it is not taken."""

    path: Path
    root: Path
    skip: Rejection | None = None
    partial: bool = False  # a copier's part-file, still being written (listed on request)
    litter: bool = False  # a system or scanner litter file (listed on request)


def walk_sources(root: Path, *, partial: bool = False, litter: bool = False) -> Iterator[Source]:
    """Every candidate under ``root`` (files, links to folders) and everything not taken
    with its reason, folders in sorted order; with ``partial``, part-files too; with
    ``litter``, litter files too (never litter folders)."""
    errors: list[OSError] = []
    for folder, dirs, files in os.walk(root, onerror=errors.append):
        while errors:
            yield _unreadable(errors.pop(0), root)
        here = Path(folder)
        keep: list[str] = []
        for name in sorted(dirs):
            path = here / name
            if path.is_symlink():
                yield Source(path, root)  # set aside as a link, never followed
            elif is_hidden(name):
                yield Source(path, root, Rejection("hidden", "文件夹"))
            elif not is_litter(name):
                keep.append(name)
        dirs[:] = keep
        for name in sorted(files):
            path = here / name
            if is_litter(name):
                if litter:
                    yield Source(path, root, litter=True)
                continue
            if is_partial(name):
                if partial:
                    yield Source(path, root, partial=True)
                continue
            if is_hidden(name):
                yield Source(path, root, Rejection("hidden"))
            else:
                yield Source(path, root)
    while errors:
        yield _unreadable(errors.pop(0), root)


def _unreadable(exc: OSError, root: Path) -> Source:
    path = Path(exc.filename) if exc.filename else root
    return Source(path, root, Rejection("folder_unreadable", exc.strerror or type(exc).__name__))


def check_sources(archive_root: Path, paths: Iterable[Path]) -> None:
    """Refuse the whole request when any path given is one intake may not take from."""
    for path in paths:
        refusal = intake_refusal(archive_root, path)
        if refusal is not None:
            raise PathRefused(refusal)


def sources_of(paths: Iterable[Path]) -> Iterator[Source]:
    """The candidates of files and folders given by hand (a file is its own candidate)."""
    for path in paths:
        if path.is_dir():  # given by hand: a link to a folder is followed
            yield from walk_sources(path)
        else:
            yield Source(path, path.parent)
