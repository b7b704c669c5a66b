"""One run over the inbox that never skips a file in silence.

A clerk copies scans into the inbox and runs ``dangan ingest`` at once: the files are a
second old, not yet still for ``settle_seconds``. :func:`ingest_inbox` files what is ready,
waits (up to ``wait_seconds``) for what is still being written, files each as soon as it is
still, and reports what it could not wait for as ``waiting`` with the reason. Copier
part-files (``.part`` …) wait for their real name; scanner and system litter (Thumbs.db …)
is reported as ``skipped`` and left alone. Every file in the inbox gets an outcome.

Time is injected: ``sleep`` and ``monotonic`` come from the caller (the intake's ``sleep``),
a file's age from its modification time against ``wall``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archive.core.names import decode_relpath
from archive.intake.intake import Intake, Outcome

DEFAULT_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Waiting:
    """A file not ready yet, and why."""

    path: Path
    source: str  # inbox/… as the outcomes name it
    reason: str
    ready_in: float  # seconds until it may be still (0 when unknown: a part-file)


def _source(path: Path, root: Path) -> str:
    parts = decode_relpath(path.relative_to(root))
    shown = "/".join(parts) if parts else str(path.relative_to(root))
    return f"inbox/{shown}"


def survey(
    intake: Intake, done: set[Path], wall: Callable[[], float] = time.time
) -> tuple[list[tuple[Path, Path]], list[Waiting], list[Outcome]]:
    """The inbox now: files ready to file, files to wait for, litter (each file once)."""
    ready: list[tuple[Path, Path]] = []
    waiting: list[Waiting] = []
    litter: list[Outcome] = []
    now = wall()
    for found in intake.inbox_files(partial=True, litter=True):
        path, root = found.path, found.root
        if path in done:
            continue
        if found.partial:
            reason = "正在复制(临时文件名), 等复制完成后再归档"
            waiting.append(Waiting(path, _source(path, root), reason, 0.0))
            continue
        if found.skip is not None:  # hidden, an unreadable folder: said, never taken
            done.add(path)
            litter.append(intake.not_taken(found))
            continue
        if found.litter:
            done.add(path)
            litter.append(
                Outcome(
                    _source(path, root),
                    "skipped",
                    reason="系统或扫描软件的附属文件, 不归档",
                    code="ignored",
                )
            )
            continue
        try:
            age = now - path.lstat().st_mtime
        except FileNotFoundError:
            continue
        if age < intake.settle:
            left = intake.settle - age
            reason = f"文件仍在写入(最近 {max(age, 0.0):.1f} 秒内有改动)"
            waiting.append(Waiting(path, _source(path, root), reason, left))
        else:
            ready.append((path, root))
    return ready, waiting, litter


def ingest_inbox(
    intake: Intake,
    *,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    progress: Callable[[int, int], None] | None = None,
    on_waiting: Callable[[list[Waiting], float], None] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
) -> list[Outcome]:
    """File the inbox once, waiting up to ``wait_seconds`` for files still being written.

    ``on_waiting(files, seconds left)`` is told whenever the set of waiting files changes.
    """
    deadline = monotonic() + max(0.0, wait_seconds)
    done: set[Path] = set()
    outcomes: list[Outcome] = []
    filed = 0
    told: frozenset[Path] = frozenset()
    while True:
        ready, waiting, litter = survey(intake, done, wall)
        outcomes.extend(litter)
        if ready:
            total = filed + len(ready) + len(waiting)

            def tick(k: int, _n: int, base: int = filed, total: int = total) -> None:
                if progress is not None:
                    progress(base + k, total)

            outcomes.extend(intake.run_files(ready, tick))
            done.update(path for path, _ in ready)
            filed += len(ready)
            continue  # files may have landed meanwhile: look again before sleeping
        left = deadline - monotonic()
        if not waiting or left <= 0:
            break
        names = frozenset(w.path for w in waiting)
        if on_waiting is not None and names != told:
            on_waiting(waiting, left)
        told = names
        soonest = min((w.ready_in for w in waiting if w.ready_in > 0), default=0.5)
        intake.sleep(min(left, max(0.05, soonest + 0.02)))
    for w in waiting:
        outcomes.append(Outcome(w.source, "waiting", reason=w.reason, code="settling"))
    return outcomes
