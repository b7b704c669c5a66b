"""When is a dropped file ready? When its size and mtime have stopped changing.

Pure logic: time is passed in, never slept on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


class StabilityTracker:
    """Counts a file ready once the same (size, mtime) has been seen ``settle`` seconds apart."""

    def __init__(self, settle_seconds: float) -> None:
        self.settle = settle_seconds
        self._seen: dict[Path, _Seen] = {}

    def observe(self, path: Path, size: int, mtime_ns: int, now: float) -> bool:
        seen = self._seen.get(path)
        if seen is None or seen.size != size or seen.mtime_ns != mtime_ns:
            self._seen[path] = _Seen(size, mtime_ns, now)
            return self.settle <= 0 and size > 0
        return now - seen.since >= self.settle

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)

    def __len__(self) -> int:
        return len(self._seen)
