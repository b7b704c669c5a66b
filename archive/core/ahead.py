"""Work done ahead in worker processes for a caller that takes the results in order.

``AheadPool(work, items, workers)``: ``pool.get(item)`` is ``work(item)``, computed ahead in
``workers`` processes, at most ``window`` items beyond the last one asked for. The 四性检测
opens the archive's files so (:mod:`archive.check.probe_pool`), and a large ingest reads its
files so (:mod:`archive.intake.read_ahead`): PDFium is not thread-safe, so the workers are
processes, forked when this process runs one thread (the CLI), started by a fork server when
it runs several (the web server: forking a threaded process can copy a lock another thread
holds). ``work`` is handed to each worker once, when it starts (inherited by a fork, pickled
for the fork server); each item then costs only itself and its result.

What a worker does not finish never stops the caller, and ``get`` returning ``None`` always
means "not done ahead: do it yourself":

- a worker that dies (killed, or crashed by a hostile file) breaks the pool. With
  ``retry_alone`` every item that was in flight is done again alone, in a process of its own
  (one that kills that process too raises :class:`Lost`), and the pool is started again for
  the items after them, at most ``restarts`` times; after that (and without ``retry_alone``)
  ``get`` returns ``None`` for what was not done;
- an item not back within ``timeout`` seconds of being asked for raises :class:`Lost`
  (``hung``): the workers are stopped and the rest goes on as after a crash.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, Self, TypeVar

T = TypeVar("T", bound=Hashable)
R = TypeVar("R")

MAX_WORKERS = 4
CLOSE_GRACE = 10.0  # seconds a worker has to end once the pool is closed

_work: Callable[[Any], Any] | None = None  # in a worker: what it does to each item


def _install(work: Callable[[Any], Any], parent: int | None) -> None:
    global _work
    _work = work
    _die_with_parent(parent)


def _die_with_parent(parent: int | None) -> None:
    """End this worker when the process that started it ends, however it ends (Linux's
    PR_SET_PDEATHSIG): an orphan would go on holding what it inherited, the archive's
    writer lock among it, and wait for work forever."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:  # it ended before prctl took effect
        os._exit(1)


def _call(item: Any) -> Any:
    assert _work is not None
    return _work(item)


def _initargs(work: Callable[[Any], Any], method: str) -> tuple[Any, ...]:
    # a forked worker's parent is this process; a fork server's worker's is the server
    return (work, os.getpid() if method == "fork" else None)


def start_method() -> str:
    """Fork a single-threaded process; a threaded one starts its workers from a fork server."""
    return "fork" if threading.active_count() == 1 else "forkserver"


def default_workers(items: int, parallel_from: int) -> int:
    """Worker processes for ``items`` items: one per core (at most four), or one (no pool)
    below ``parallel_from``, where the pool's start costs more than it saves."""
    if items < parallel_from:
        return 1
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def _pids(executor: ProcessPoolExecutor | None) -> list[int]:
    processes: dict[int, Any] = getattr(executor, "_processes", None) or {}
    return list(processes)


def _kill(executor: ProcessPoolExecutor) -> None:
    """End a pool's workers now (one of them hangs)."""
    for pid in _pids(executor):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class Lost(Exception):
    """An item whose worker died or hung while doing it alone (or hung in the pool)."""

    def __init__(self, hung: bool, seconds: float | None = None) -> None:
        super().__init__("hung" if hung else "crashed")
        self.hung = hung
        self.seconds = seconds


class Closes:
    """``with`` closes it."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AheadPool(Closes, Generic[T, R]):
    """``get(item)`` is ``work(item)`` done ahead in ``workers`` processes (see the module)."""

    def __init__(
        self,
        work: Callable[[T], R],
        items: Sequence[T],
        workers: int,
        *,
        window: int | None = None,
        timeout: Callable[[T], float] | None = None,
        retry_alone: bool = False,
        restarts: int = 0,
    ) -> None:
        self._work = work
        self._items = list(items)
        self._index: dict[T, int] = {}
        for index, item in enumerate(self._items):
            self._index.setdefault(item, index)
        self._workers = workers
        self._window = window or 4 * workers
        self._timeout = timeout
        self._retry_alone = retry_alone
        self._restarts = restarts
        self._futures: dict[int, Future[R]] = {}
        self._alone: set[int] = set()  # in flight when the pool broke: done again alone
        self._next = 0  # the next item to hand to the pool
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False
        if workers > 1 and self._items:
            self._start()

    # ------------------------------------------------------------ the pool

    def _start(self) -> None:
        self._executor = self._new_executor(self._workers)
        self._fill(self._next)

    def _new_executor(self, workers: int) -> ProcessPoolExecutor:
        method = start_method()
        return ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context(method),
            initializer=_install,
            initargs=_initargs(self._work, method),
        )

    def _fill(self, asked: int) -> None:
        """Hand the pool the items up to ``window`` beyond ``asked``."""
        while self._executor is not None and self._next < min(
            len(self._items), asked + self._window
        ):
            executor = self._executor
            try:
                future = executor.submit(_call, self._items[self._next])
            except BrokenProcessPool:  # a worker died since the last result: seen here first
                self._lose_pool(executor, kill=False)  # a new pool (if any) goes on filling
                continue
            self._futures[self._next] = future
            self._next += 1

    def pids(self) -> list[int]:
        """The worker processes' ids (none when no pool runs)."""
        return _pids(self._executor)

    def _lose_pool(self, executor: ProcessPoolExecutor | None, kill: bool) -> None:
        """The pool broke or hung: stop it; what it had in flight is done alone (or by the
        caller); a new pool takes the items after them while restarts are left."""
        if executor is None or executor is not self._executor:
            return  # another thread saw this break first
        if kill:
            _kill(executor)
        executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None
        for index, future in list(self._futures.items()):
            # not done, cancelled by the shutdown just above (asking a cancelled future for
            # its exception raises), or failed: done again
            if not future.done() or future.cancelled() or future.exception() is not None:
                del self._futures[index]
                if self._retry_alone:
                    self._alone.add(index)
        if self._retry_alone and self._restarts > 0:
            self._restarts -= 1
            self._start()

    # ------------------------------------------------------------ asking

    def get(self, item: T) -> R | None:
        """``work(item)``, done ahead; ``None``: not done ahead, do it here.
        Raises :class:`Lost` for an item that hung a worker or killed one when done alone."""
        with self._lock:
            index = self._index.get(item)
            if index is None:
                return None
            self._fill(index)
            future = self._futures.pop(index, None)
            executor = self._executor
            alone = index in self._alone
            self._alone.discard(index)
        if alone:
            return self._do_alone(item)
        if future is None:
            return None
        limit = self._timeout(item) if self._timeout is not None else None
        try:
            return future.result(timeout=limit)
        except (BrokenProcessPool, CancelledError):  # broken, or stopped by another thread
            with self._lock:
                self._lose_pool(executor, kill=False)
                closed = self._closed
            return self._do_alone(item) if self._retry_alone and not closed else None
        except FutureTimeout:
            with self._lock:
                self._lose_pool(executor, kill=True)
                self._alone.discard(index)
            raise Lost(hung=True, seconds=limit) from None

    def _do_alone(self, item: T) -> R:
        """``work(item)`` in a process of its own: a crash or a hang costs only that process."""
        limit = self._timeout(item) if self._timeout is not None else None
        executor = self._new_executor(1)
        try:
            return executor.submit(_call, item).result(timeout=limit)
        except BrokenProcessPool:
            raise Lost(hung=False) from None
        except FutureTimeout:
            _kill(executor)
            raise Lost(hung=True, seconds=limit) from None
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the pool: workers end when their current item is done; one that has not
        ended within :data:`CLOSE_GRACE` seconds (stopped, or hanging idle) is killed."""
        with self._lock:
            executor, self._executor = self._executor, None
            self._futures.clear()
            self._closed = True
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + CLOSE_GRACE
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.kill()
