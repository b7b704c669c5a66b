"""What PDF and image libraries complain about, kept out of the clerk's terminal.

pypdf, Pillow and friends log a warning for every oddity of a damaged file (one file gave
11,800 lines). :func:`quiet_libraries` gives their loggers a handler of ours, so Python's
last-resort handler never prints them; :func:`collecting` gathers what one file caused, in
the thread reading it, for the sidecar's history. The records still propagate to the root
logger, which the command line points at the archive's log file.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

LIBRARY_LOGGERS = ("pypdf", "pikepdf", "PIL", "pypdfium2", "fontTools", "py.warnings")
KEEP = 20  # distinct messages kept per file; the rest are counted

_local = threading.local()
_installed = threading.Lock()
_done = False


@dataclass
class Collected:
    """The warnings one file caused: the first :data:`KEEP` distinct ones and how many in all."""

    messages: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.messages) < KEEP and message not in self.messages:
            self.messages.append(message)


def summarise_warnings(messages: list[str], count: int) -> str:
    """One line for a sidecar's history (Chinese): the first few warnings and how many."""
    shown = "; ".join(messages[:5])
    more = f" 等共 {count} 条" if count > len(messages[:5]) else ""
    return f"读取时程序库给出警告: {shown}{more}"


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        bucket: Collected | None = getattr(_local, "bucket", None)
        if bucket is not None:
            try:
                message = record.getMessage()
            except Exception:
                message = str(record.msg)
            bucket.add(f"{record.name}: {message.strip()[:200]}")


def quiet_libraries() -> None:
    """Route library warnings through our handler (idempotent, process-wide)."""
    global _done
    with _installed:
        if _done:
            return
        logging.captureWarnings(True)
        handler = _Collector(logging.WARNING)
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).addHandler(handler)
        _done = True


@contextmanager
def collecting() -> Iterator[Collected]:
    """Collect the library warnings this thread causes inside the block."""
    quiet_libraries()
    outer = getattr(_local, "bucket", None)
    bucket = Collected()
    _local.bucket = bucket
    try:
        yield bucket
    finally:
        _local.bucket = outer
        if outer is not None:
            for message in bucket.messages:
                outer.add(message)
