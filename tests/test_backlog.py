"""``dangan backlog``: a large scanned backlog filed in one resumable run, with progress."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import DANGAN, json_lines, make_archive, run_dangan

from archive.access.log import AccessLog, LogFilter
from archive.access.store import AccessStore
from archive.core.config import Archive
from archive.intake.backlog import BacklogStatus, run_backlog
from samples.bench_archive import current_households, household_files


def _backlog(folder: Path, households: int, seed: int = 3) -> list[Path]:
    """A backlog folder laid out like the inbox: 许可证/<licence>_<name>/<document>.pdf."""
    files: list[Path] = []
    for h in current_households(households, 2024, seed=seed):
        files += household_files(folder, h)
    return files


def _records(archive: Path) -> list[dict[str, object]]:
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in (archive / "records").rglob("*.json")
        if not p.name.endswith(".why.json")
    ]


def test_a_backlog_is_filed_once_with_progress_and_a_second_run_passes_over_it(
    tmp_path: Path,
) -> None:
    archive = make_archive(tmp_path / "档案库")
    files = _backlog(tmp_path / "积压", 4)
    (tmp_path / "积压" / "Thumbs.db").write_bytes(b"litter")
    first = run_dangan(
        "backlog", tmp_path / "积压", "--json", "--progress-every", "0", "--archive", archive
    )
    assert first.returncode == 0, first.stderr
    outcomes = json_lines(first.stdout)
    assert len(outcomes) == len(files)
    assert {o["outcome"] for o in outcomes} == {"filed"}
    assert all(o["pages"] == 1 for o in outcomes)
    assert all(p.exists() for p in files)  # the originals stay
    lines = [ln for ln in first.stderr.splitlines() if ln.startswith("积压件:")]
    assert len(lines) >= len(files)
    assert f"{len(files)}/{len(files)} 个文件" in lines[-1]
    assert "页/秒" in lines[-1] and "预计剩余" in lines[0]
    assert len(_records(archive)) == len(files)

    again = run_dangan("backlog", tmp_path / "积压", "--json", "--archive", archive)
    assert again.returncode == 0, again.stderr
    assert json_lines(again.stdout) == []
    assert f"之前已完成 {len(files)}" in again.stderr
    records = _records(archive)
    assert len(records) == len(files)
    assert not any(e["event"] == "duplicate" for r in records for e in r["events"])  # type: ignore[index, union-attr]
    # the access log has the run that filed them (the second filed nothing: no entry)
    log = AccessLog(AccessStore.of(Archive(archive)))
    [run] = log.query(LogFilter(action="ingest")).entries
    assert run.target == str(tmp_path / "积压") and f"已归档 {len(files)}" in run.detail
    assert run.user.startswith("命令行:") and log.verify().ok


def test_a_backlog_run_killed_halfway_takes_up_where_it_stopped(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "档案库")
    files = _backlog(tmp_path / "积压", 12)
    proc = subprocess.Popen(
        [str(DANGAN), "backlog", str(tmp_path / "积压"), "--json", "--archive", str(archive)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    state = next(iter((archive / ".dangan" / "backlog").glob("*.sqlite")), None)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = next(iter((archive / ".dangan" / "backlog").glob("*.sqlite")), None)
        if state is not None:
            with sqlite3.connect(state) as db:
                try:
                    if db.execute("SELECT count(*) FROM files").fetchone()[0] >= 5:
                        break
                except sqlite3.OperationalError:  # being created
                    pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # a power cut, in the middle of the run
    first_out, _ = proc.communicate(timeout=60)
    first = json_lines(first_out)
    assert 5 <= len(first) < len(files), "the run should have been cut short"

    second = run_dangan("backlog", tmp_path / "积压", "--json", "--archive", archive)
    assert second.returncode == 0, second.stderr
    rest = json_lines(second.stdout)
    # every file filed exactly once; at most the one file cut off between filing and being
    # marked done is met again and known for what it is
    assert len(first) + len(rest) <= len(files) + 1
    assert sum(o["outcome"] == "duplicate" for o in rest) <= 1
    records = _records(archive)
    assert len(records) == len(files)
    assert len({r["sha256"] for r in records}) == len(files)
    assert "之前已完成" in second.stderr


def test_progress_tells_pages_per_second_and_time_left(tmp_path: Path) -> None:
    """The library's own progress, with an injected clock: 10 s a file, one page each."""
    archive_dir = make_archive(tmp_path / "档案库")
    files = _backlog(tmp_path / "积压", 2)
    ticks = iter(range(0, 10_000, 10))
    seen: list[BacklogStatus] = []
    status = run_backlog(
        Archive(archive_dir),
        tmp_path / "积压",
        None,
        on_progress=lambda s: seen.append(BacklogStatus(**s.__dict__)),
        clock=lambda: float(next(ticks)),
    )
    assert status.done == len(files) and status.pages == len(files)
    first = seen[0]
    assert first.pages_per_second == pytest.approx(0.1)
    assert first.seconds_left == pytest.approx(10 * (len(files) - 1))
    assert "0.10 页/秒" in first.line() and "预计剩余" in first.line()
    assert seen[-1].seconds_left == 0


def test_a_backlog_inside_the_archives_own_records_is_refused(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "档案库")
    (archive / "records" / "x").mkdir(parents=True)
    done = run_dangan("backlog", archive / "records" / "x", "--archive", archive)
    assert done.returncode == 14  # PathRefused: the rule `dangan ingest PATH` follows
    assert "位于档案库的 records/ 中" in done.stderr and "不能再作为来源归档" in done.stderr
    done = run_dangan("backlog", archive, "--archive", archive)  # the archive's own root
    assert done.returncode == 14 and "不能整体作为来源归档" in done.stderr


def test_a_hidden_file_in_the_backlog_is_told_on_every_run_never_filed(tmp_path: Path) -> None:
    """The backlog walks its folder as intake walks the inbox (archive.intake.sources): a
    hidden name is listed with its reason, not passed over in silence, and not filed."""
    archive = Archive(make_archive(tmp_path / "档案库"))
    files = _backlog(tmp_path / "积压", 1)
    hidden = files[0].with_name(".藏起来的扫描件.pdf")
    hidden.write_bytes(files[0].read_bytes())
    told: list[str] = []
    for run in (1, 2):  # the second run passes over what was filed, and tells the hidden again
        run_backlog(
            archive, tmp_path / "积压", None, on_outcome=lambda o: told.append(o.code or "")
        )
        assert told.count("hidden") == run
    assert told.count("hidden") + told.count("") == len(files) + 2  # filed: no code
    assert hidden.exists() and len(_records(archive.root)) == len(files)
