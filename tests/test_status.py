"""``dangan status``: the archive at a glance, read without touching anything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from conftest import DANGAN, run_dangan

from archive.core.config import Archive
from samples.badfiles import _jpeg, write_bad_inputs
from samples.textpdf import make_households, write_licence_pdfs, write_roster_csv


def _status(archive: Path) -> dict[str, Any]:
    result = run_dangan("status", "--json", "--archive", archive)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file with its size and mtime (SQLite's own -wal/-shm files aside: any reader of
    a WAL database, read-only ones too, may create them)."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_a_fresh_archive_has_nothing_to_do_but_import_the_standard(archive_dir: Path) -> None:
    status = _status(archive_dir)
    assert status["inbox"]["waiting"] == 0 and status["records"] == 0
    assert status["catalog"] == "empty" and status["watcher"] is None
    assert len(status["next_steps"]) == 1 and "dangan criteria import" in status["next_steps"][0]
    text = run_dangan("status", "--archive", archive_dir).stdout
    assert "0 份 (尚未归档)" in text and "监视" in text and "未运行" in text


def test_counts_what_waits_what_is_filed_and_what_was_set_aside(
    archive_dir: Path, tmp_path: Path
) -> None:
    inbox = archive_dir / "inbox"
    households = make_households(6, seed=3)
    roster = tmp_path / "名册.csv"
    write_roster_csv(roster, [*households, *make_households(9, seed=4)[6:]], encoding="gbk")
    assert run_dangan("households", "import", roster, "--archive", archive_dir).returncode == 0
    filed = write_licence_pdfs(inbox, households)
    bad = write_bad_inputs(inbox / "其他")
    (inbox / "许可证" / "没写许可证号的申请表.jpg").write_bytes(_jpeg((800, 600)))
    assert run_dangan("ingest", "--archive", archive_dir).returncode in (0, 1)
    # new arrivals: two waiting, one still being copied in
    folder = inbox / "许可证" / "610522100999_新到烟酒店"
    folder.mkdir(parents=True)
    (folder / "申请表.jpg").write_bytes(_jpeg((900, 1200)))
    (inbox / "案卷" / "潼烟罚[2024]3号 询问笔录.jpg").write_bytes(_jpeg((900, 1200)))
    (inbox / "其他" / "扫描中.jpg.part").write_bytes(b"\xff\xd8 half")
    (inbox / "其他" / "Thumbs.db").write_bytes(b"litter")  # neither waiting nor being written

    before = _tree(archive_dir)
    status = _status(archive_dir)
    assert _tree(archive_dir) == before, "status changed the archive"

    assert status["inbox"]["waiting"] == 2 and status["inbox"]["partial"] == 1
    assert status["inbox"]["by_folder"] == {"案卷": 1, "许可证": 1}
    assert status["records"] == len(filed) + 1
    assert status["by_kind"] == {"household": len(filed), "tray": 1} and status["tray"] == 1
    assert status["roster"] == 9 and status["households_filed"] == 6
    quarantined = sum(1 for _ in (archive_dir / "quarantine").rglob("*.why.json"))
    assert quarantined == len(bad) and sum(status["quarantine"].values()) == len(bad)
    assert set(status["quarantine"]) == set(bad.values())
    assert status["indexed"] == status["records"]
    assert status["last_filed"]["path"].startswith(("许可证档案/", "待归档/"))
    steps = "\n".join(status["next_steps"])
    assert "收件箱有 2 个文件待归档" in steps and "dangan ingest" in steps
    assert f"隔离区有 {len(bad)} 个文件" in steps
    assert "待归档 1 份" in steps and "名册中 3 户还没有任何档案" in steps

    text = run_dangan("status", "--archive", archive_dir).stdout
    assert "2 个文件待归档 (案卷 1, 许可证 1)" in text and "1 个正在写入" in text
    assert f"许可证档案 {len(filed)}, 待归档 1" in text and "PDF有密码 1" in text
    assert "9 户, 其中 6 户已有档案" in text


def test_status_does_not_wait_for_a_writer_or_rebuild_a_missing_catalog(
    archive_dir: Path,
) -> None:
    write_licence_pdfs(archive_dir / "inbox", make_households(2, seed=5))
    assert run_dangan("ingest", "--archive", archive_dir).returncode == 0
    archive = Archive(archive_dir)
    with archive.writer_lock():  # an ingest is at work
        assert _status(archive_dir)["records"] == 2
    archive.catalog_path.unlink()
    status = _status(archive_dir)
    assert status["catalog"] == "missing" and not archive.catalog_path.exists()
    assert "dangan reindex" in status["next_steps"][0]
    # a torn catalog and an unreadable quarantine note are named, not a traceback
    archive.catalog_path.write_bytes(b"not a database")
    (archive_dir / "quarantine" / "2026-01-01").mkdir(parents=True)
    (archive_dir / "quarantine" / "2026-01-01" / "x.pdf.why.json").write_text("{torn")
    result = run_dangan("status", "--archive", archive_dir)
    assert result.returncode == 0, result.stderr
    assert "目录库损坏, 需要重建 (dangan reindex)" in result.stdout
    assert "原因文件损坏 1" in result.stdout


def _watch(archive: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(DANGAN), "watch", "--archive", str(archive), "--settle", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_watcher(archive: Path, present: bool, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _status(archive)
        if (status["watcher"] is not None) == present:
            return status
        time.sleep(0.3)
    raise AssertionError(f"watcher {'never seen' if present else 'still seen'}")


def test_sees_the_running_watcher_refuses_a_second_and_forgets_a_killed_one(
    archive_dir: Path,
) -> None:
    first = _watch(archive_dir)
    try:
        status = _wait_for_watcher(archive_dir, present=True)
        assert status["watcher"]["pid"] == first.pid
        assert status["watcher"]["mode"] == "系统文件事件"
        assert "运行中 (进程" in run_dangan("status", "--archive", archive_dir).stdout
        (archive_dir / "inbox" / "其他" / "照片.jpg").write_bytes(_jpeg((600, 800)))
        # a file waits, but the watcher will take it: no "run ingest" step
        assert not any("dangan ingest" in s for s in _status(archive_dir)["next_steps"])

        second = run_dangan("watch", "--archive", archive_dir, timeout=60)
        assert second.returncode == 5
        assert f"已有一个 dangan watch 在监视此档案库 (进程 {first.pid}" in second.stderr
    finally:
        os.kill(first.pid, signal.SIGKILL)  # no clean shutdown: the lock must still go
        first.communicate(timeout=30)
    assert _wait_for_watcher(archive_dir, present=False)["watcher"] is None


def test_shows_the_last_monthly_self_check(archive_dir: Path) -> None:
    from archive.paperwork.reports.selfcheck import save_snapshot, snapshot_path

    for month, earned in (("2024-10", 70.5), ("2024-11", 80)):
        save_snapshot(
            archive_dir,
            {"month": month, "earned": earned, "possible": 93, "findings": [{"code": "x"}] * 4},
        )
    snapshot_path(archive_dir, 2024, 12).write_text("{torn", encoding="utf-8")  # skipped
    assert _status(archive_dir)["last_selfcheck"] == {
        "month": "2024-11",
        "earned": 80.0,
        "possible": 93.0,
        "findings": 4,
    }
    assert (
        "上次自查  2024年11月: 80/93 分 (可评估子项), 问题 4 项"
        in run_dangan("status", "--archive", archive_dir).stdout
    )


def test_a_second_writer_waits_then_fails_naming_the_first(archive_dir: Path) -> None:
    import sys

    import pytest

    from archive.core.errors import LockedError

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from archive.core.config import Archive\n"
            "with Archive(Path(sys.argv[1])).writer_lock():\n"
            "    print('held', flush=True); time.sleep(30)\n",
            str(archive_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockedError) as info, Archive(archive_dir).writer_lock(0.3):
            pass
        assert f"另一个 dangan 进程正在写入 (pid {holder.pid})" in info.value.message
    finally:
        holder.kill()
        holder.wait()
    with Archive(archive_dir).writer_lock(0.3):  # the kernel dropped the killed holder's lock
        pass


def test_a_journal_in_flight_is_not_called_interrupted(archive_dir: Path) -> None:
    """While a writer holds the lock its journal entries are work in progress, not a crash's
    leftovers: status must not tell the clerk filing was interrupted (it did, under load, while
    the watcher filed a photo). Once no one writes, the same entry is a crash's, and said so."""
    archive = Archive(archive_dir)
    archive.journal.mkdir(parents=True, exist_ok=True)
    (archive.journal / ("0" * 64 + ".json")).write_text('{"batch": []}', encoding="utf-8")
    (archive.journal / (".tmp-x-" + "0" * 64 + ".json")).write_text("{", encoding="utf-8")
    holder = subprocess.Popen(
        [
            str(Path(DANGAN).with_name("python")),
            "-c",
            "import sys, time; from pathlib import Path; from archive.core.config import Archive\n"
            "with Archive(Path(sys.argv[1])).writer_lock():\n"
            "    print('held', flush=True); time.sleep(120)",
            str(archive_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = _status(archive_dir)
        assert busy["interrupted"] == 0
        assert not any("中断" in s for s in busy["next_steps"])
    finally:
        holder.kill()
        holder.wait(timeout=30)
    idle = _status(archive_dir)
    assert idle["interrupted"] == 1  # the entry; a torn temporary is not an entry
    assert any("1 次归档被中断" in s for s in idle["next_steps"])
