"""Files probed (:func:`archive.check.content.probe`) in worker processes, while the check
walks the sidecars in order.

Opening and drawing every PDF is nearly all of a 四性检测's time, and each file is
independent, so the work is spread over the machine's cores by
:class:`archive.core.ahead.AheadPool`, a few dozen files to a task. A pool that breaks (a
worker killed, or crashed by a hostile file) does not stop the check: what is left is probed
in this process, as with one worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from archive.check.content import Probe, probe
from archive.core import ahead
from archive.core.ahead import AheadPool, Closes

# Below this many files the pool's start-up (about a second) costs more than it saves.
PARALLEL_FROM = 200
MAX_WORKERS = ahead.MAX_WORKERS


def default_workers(files: int) -> int:
    """Worker processes for ``files`` files: one per core (at most four), one for few files."""
    return ahead.default_workers(files, PARALLEL_FROM)


def _probe_chunk(paths: tuple[str, ...]) -> list[Probe]:
    return [probe(Path(p)) for p in paths]


class ProbePool(Closes):
    """``pool.get(path)`` is ``probe(path)``, computed ahead in ``workers`` processes for the
    ``paths`` given at the start (in the order they will be asked for)."""

    def __init__(self, paths: Sequence[Path], workers: int) -> None:
        self._chunk_of: dict[Path, tuple[str, ...]] = {}
        self._done: dict[Path, Probe] = {}
        chunks: list[tuple[str, ...]] = []
        if workers > 1 and paths:
            size = max(4, min(64, len(paths) // (workers * 8) or 1))
            chunks = [tuple(map(str, paths[i : i + size])) for i in range(0, len(paths), size)]
            for chunk in chunks:
                for path in chunk:
                    self._chunk_of.setdefault(Path(path), chunk)
        self._pool: AheadPool[tuple[str, ...], list[Probe]] = AheadPool(
            _probe_chunk, chunks, workers, window=2 * workers
        )

    def pids(self) -> list[int]:
        """The worker processes' ids (none when no pool runs)."""
        return self._pool.pids()

    def get(self, path: Path) -> Probe:
        if path in self._done:
            return self._done.pop(path)
        chunk = self._chunk_of.pop(path, None)
        found = self._pool.get(chunk) if chunk is not None else None
        if chunk is None or found is None:  # not read ahead, or the pool broke
            return probe(path)
        for other, result in zip(chunk, found, strict=True):
            if Path(other) != path and self._chunk_of.get(Path(other)) == chunk:
                self._chunk_of.pop(Path(other))
                self._done[Path(other)] = result
        return found[chunk.index(str(path))]

    def close(self) -> None:
        self._pool.close()
