"""Files probed (:func:`archive.check.content.probe`) in worker processes, while the check
walks the sidecars in order.

Opening and drawing every PDF is nearly all of a 四性检测's time, and each file is
independent, so the work is spread over the machine's cores. PDFium is not thread-safe, so
the workers are processes: forked when this process runs one thread (the CLI), started by a
fork server when it runs several (the web server: forking a threaded process can copy a lock
held by another thread). A pool that breaks (a worker killed, or crashed by a hostile file) does not
stop the check: what is left is probed in this process, as with one worker.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType

from archive.check.content import Probe, probe

# Below this many files the pool's start-up (about a second) costs more than it saves.
PARALLEL_FROM = 200
MAX_WORKERS = 4


def default_workers(files: int) -> int:
    """Worker processes for ``files`` files: one per core (at most four), one for few files."""
    if files < PARALLEL_FROM:
        return 1
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def _probe_chunk(paths: list[str]) -> list[Probe]:
    return [probe(Path(p)) for p in paths]


class ProbePool:
    """``pool.get(path)`` is ``probe(path)``, computed ahead in ``workers`` processes for the
    ``paths`` given at the start (in the order they will be asked for)."""

    def __init__(self, paths: Sequence[Path], workers: int) -> None:
        self._executor: ProcessPoolExecutor | None = None
        self._chunk_of: dict[Path, int] = {}
        self._futures: list[Future[list[Probe]]] = []
        self._chunks: list[list[Path]] = []
        self._done: dict[Path, Probe] = {}
        if workers <= 1 or not paths:
            return
        size = max(4, min(64, len(paths) // (workers * 8) or 1))
        self._chunks = [list(paths[i : i + size]) for i in range(0, len(paths), size)]
        method = "fork" if threading.active_count() == 1 else "forkserver"
        self._executor = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context(method)
        )
        for index, chunk in enumerate(self._chunks):
            for path in chunk:
                self._chunk_of[path] = index
            self._futures.append(self._executor.submit(_probe_chunk, [str(p) for p in chunk]))

    def get(self, path: Path) -> Probe:
        if path in self._done:
            return self._done.pop(path)
        index = self._chunk_of.pop(path, None)
        if index is None or self._executor is None:
            return probe(path)
        try:
            found = self._futures[index].result()
        except BrokenProcessPool:
            self.close()
            return probe(path)
        for other, result in zip(self._chunks[index], found, strict=True):
            if other != path and other in self._chunk_of:
                self._chunk_of.pop(other)
                self._done[other] = result
        return found[self._chunks[index].index(path)]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> ProbePool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
