"""``dangan watch`` with real watchdog events: slow writers, polling, rescans, bad files."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DANGAN, run_dangan

from archive.intake.stability import StabilityTracker
from samples.badfiles import _jpeg


def test_tracker_needs_unchanged_size_and_mtime_for_the_settle_time() -> None:
    tracker = StabilityTracker(settle_seconds=2.0)
    p = Path("a.jpg")
    assert not tracker.observe(p, 100, 1, now=0.0)
    assert not tracker.observe(p, 100, 1, now=1.9)
    assert not tracker.observe(p, 200, 2, now=2.5)  # grew: the clock restarts
    assert not tracker.observe(p, 200, 2, now=4.0)
    assert tracker.observe(p, 200, 2, now=4.6)
    tracker.forget(p)
    assert len(tracker) == 0
    assert StabilityTracker(0).observe(p, 10, 1, now=0.0)
    assert not StabilityTracker(0).observe(p, 0, 1, now=0.0)  # empty: wait for content


class Watch:
    def __init__(self, archive: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [str(DANGAN), "watch", "--json", "--archive", str(archive), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.outcomes: list[dict[str, object]] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def poll_output(self) -> list[dict[str, object]]:
        while not self.lines.empty():
            line = self.lines.get()
            if line.strip():
                self.outcomes.append(json.loads(line))
        return self.outcomes

    def wait_for(self, count: int, timeout: float = 60.0) -> list[dict[str, object]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.poll_output()) >= count:
                return self.outcomes
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
            time.sleep(0.1)
        raise AssertionError(f"only {len(self.outcomes)} of {count} outcomes: {self.outcomes}")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        return err


@pytest.fixture
def watching(archive_dir: Path) -> Iterator[Watch]:
    watch = Watch(archive_dir, "--settle", "1.0", "--rescan", "3600")
    yield watch
    if watch.proc.poll() is None:
        watch.stop()


def test_slow_writer_is_filed_only_when_complete(archive_dir: Path, watching: Watch) -> None:
    time.sleep(1.0)  # let the observer start
    data = _jpeg((1200, 1600))
    target = archive_dir / "inbox" / "许可证" / "610522100123_张三烟酒店"
    target.mkdir(parents=True)
    path = target / "申请表.jpg"
    pieces = [data[i : i + len(data) // 6 + 1] for i in range(0, len(data), len(data) // 6 + 1)]
    with path.open("wb") as fh:
        for piece in pieces:
            fh.write(piece)
            fh.flush()
            time.sleep(0.5)  # slower than nothing, faster than the settle time
            assert watching.poll_output() == [], "filed before the writer finished"
            assert list((archive_dir / "quarantine").rglob("*")) == []
    outcome = watching.wait_for(1)[0]
    assert outcome["outcome"] == "filed"
    assert outcome["sha256"] == hashlib.sha256(data).hexdigest()
    assert not path.exists()
    # One bad file does not stop the loop; the next good one is still filed.
    (archive_dir / "inbox" / "其他" / "坏.pdf").write_bytes(b"%PDF-1.4 garbage")
    (target / "营业执照.jpg").write_bytes(_jpeg((700, 900)))
    outcomes = watching.wait_for(3)
    assert {o["outcome"] for o in outcomes[1:]} == {"quarantined", "filed"}
    assert "已停止监视" in watching.stop()


def test_files_dropped_while_down_are_picked_up_and_polling_works(archive_dir: Path) -> None:
    folder = archive_dir / "inbox" / "案卷" / "潼烟罚〔2011〕第3号"
    folder.mkdir(parents=True)
    (folder / "立案报告表.jpg").write_bytes(_jpeg())
    watch = Watch(archive_dir, "--poll", "0.5", "--settle", "0.5")
    try:
        first = watch.wait_for(1)[0]
        assert first["outcome"] == "filed" and "潼烟罚〔2011〕3号" in str(first["record"])
        (folder / "结案报告.jpg").write_bytes(_jpeg((610, 800)))
        second = watch.wait_for(2)[1]
        assert second["outcome"] == "filed" and str(second["record"]).endswith("_结案报告.jpg")
    finally:
        watch.stop()


def test_watch_refuses_records_inside_the_inbox(archive_dir: Path) -> None:
    (archive_dir / "records").rmdir()
    os.symlink(archive_dir / "inbox" / "其他", archive_dir / "records")
    result = run_dangan("watch", "--archive", archive_dir, timeout=60)
    assert result.returncode == 4
    assert "相互包含" in result.stderr
