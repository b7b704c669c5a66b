"""Backups of an archive in use (the watcher filing), the drill, the status line and the timer."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from _backup import (
    HOUSEHOLDS,
    PASSWORD,
    archive_fixtures,
    dossier,
    password_file,
    settings,
)
from conftest import DANGAN, run_dangan

from archive.core.config import Archive
from archive.ops.backup import run_backup
from archive.ops.drill import run_drill
from archive.ops.restore import restore_archive
from archive.ops.status import archive_status, next_steps
from archive.records.reindex import orphans
from archive.records.store import iter_sidecars, read_sidecar, sha256_file
from samples.bench_archive import current_households, household_files

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic not installed")


template, archive = archive_fixtures(3)


def _consistent(root: Path) -> int:
    """Every record has its sidecar and matches it, every sidecar its record; the count."""
    records = root / "records"
    assert orphans(records) == [], "a file without its sidecar"
    count = 0
    for side in iter_sidecars(records):
        record = side.with_name(side.name[: -len(".json")])
        assert record.is_file(), f"a sidecar without its record: {side}"
        assert sha256_file(record) == read_sidecar(side)["sha256"]
        count += 1
    assert not list(records.rglob(".tmp-*")), "a half-published file"
    return count


def test_backups_taken_while_the_watcher_files_restore_to_consistent_archives(
    archive: Archive, tmp_path: Path
) -> None:
    before = sum(1 for _ in iter_sidecars(archive.records))
    watcher = subprocess.Popen(
        [str(DANGAN), "watch", "--archive", str(archive.root), "--settle", "0.2", "--no-ocr"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    target = settings(tmp_path / "备份")
    results = []
    households = current_households(40, 2024, seed=11)

    def arrive() -> None:  # scans keep arriving, a household every few tenths of a second
        for h in households:
            household_files(archive.inbox, h, ("申请表", "营业执照"))
            time.sleep(0.3)

    scanner = threading.Thread(target=arrive)
    try:
        time.sleep(2)  # the watcher is up
        scanner.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            results.append(run_backup(archive, target, PASSWORD, lock_wait=120))
            filed = sum(1 for _ in iter_sidecars(archive.records))
            if filed >= before + 80 and len(results) >= 3:
                break
    finally:
        scanner.join()
        watcher.terminate()
        _, err = watcher.communicate(timeout=120)
    assert watcher.returncode == 0, err
    counts = []
    for i, result in enumerate(results):
        dest = tmp_path / f"恢复{i}"
        restored = restore_archive(
            target, PASSWORD, dest, snapshot=result.snapshot, archive=archive
        )
        assert restored.ok, (restored.mismatched, restored.problems)
        counts.append(_consistent(dest))
        assert counts[-1] == restored.records
    assert counts == sorted(counts) and counts[-1] <= before + 80
    assert any(before < c < before + 80 for c in counts), f"no snapshot mid-filing: {counts}"
    for result in results:  # filing waited for the mirror only, never for restic
        assert result.locked_seconds < 30


def test_the_drill_restores_verifies_reindexes_and_compares(
    archive: Archive, tmp_path: Path
) -> None:
    target = settings(tmp_path / "备份")
    run_backup(archive, target, PASSWORD)
    records = sum(1 for _ in iter_sidecars(archive.records))
    report = run_drill(archive, target, PASSWORD)
    assert report.ok and report.restored_records == report.indexed == report.verified == records
    assert report.same == report.live_records == records and not report.only_live
    kept = archive.root / report.report_path  # type: ignore[operator]
    assert kept.is_file() and "结论: 通过, 备份可用" in kept.read_text(encoding="utf-8")
    assert json.loads(kept.with_suffix(".json").read_text(encoding="utf-8"))["ok"] is True
    assert not list(archive.state.glob("drill-*"))  # the temporary copy is gone
    # since the backup: a dossier deleted, a record changed, new scans filed
    gone = dossier(archive, HOUSEHOLDS[0].licence_no)
    shutil.rmtree(gone)
    changed = sorted(dossier(archive, HOUSEHOLDS[1].licence_no).glob("*.pdf"))[0]
    changed.write_bytes(changed.read_bytes() + b"\n% tampered")
    household_files(archive.inbox, HOUSEHOLDS[2], ("补充材料",))
    assert run_dangan("ingest", "--archive", archive.root).returncode == 0
    pw = password_file(tmp_path)
    result = run_dangan(
        "backup",
        "--drill",
        "--to",
        tmp_path / "备份",
        "--password-file",
        pw,
        "--archive",
        archive.root,
    )
    # the backup itself is sound; the live archive lost a dossier (listed) and a record was
    # changed behind dangan's back (the comparison fails, naming it)
    assert result.returncode == 6 and "恢复演练未通过" in result.stderr
    assert (
        f"内容不一致 (现有文件的 SHA-256 与备份不同, 可按档案号从备份恢复): 1\n  {changed.relative_to(archive.root).as_posix()}"
        in result.stdout
    )
    assert "备份中有、现有档案库中已没有: 7" in result.stdout
    assert "快照之后新归档 (下次备份时补上): 1" in result.stdout
    assert f"逐份校验一致 {records:,} 份" in result.stdout
    status = run_dangan("status", "--json", "--archive", archive.root)
    assert json.loads(status.stdout)["backup"]["drill"]["records"] == records


def test_status_shows_the_age_of_the_last_good_backup_and_raises_it_when_overdue(
    archive: Archive, tmp_path: Path
) -> None:
    (archive.root / "dangan.toml").write_text(
        (archive.root / "dangan.toml").read_text(encoding="utf-8")
        + f'\n[backup]\ntarget = "{tmp_path / "备份"}"\nmax_age_days = 3\nsame_disk = true\n',
        encoding="utf-8",
    )
    never = archive_status(archive)
    assert never.backup["last"] is None
    assert any("档案还没有备份到第二份介质" in s for s in next_steps(never))
    text = run_dangan("status", "--archive", archive.root).stdout
    assert f"备份　　  从未备份 (目标 {tmp_path / '备份'})" in text

    pw = password_file(tmp_path)
    result = run_dangan("backup", "--password-file", pw, "--archive", archive.root)  # target: toml
    assert result.returncode == 0, result.stderr
    assert "已新建备份库" in result.stderr and "密码丢失 = 备份丢失" in result.stderr
    fresh = archive_status(archive)
    assert fresh.backup["age_days"] == 0 and not fresh.backup["overdue"]
    assert not any("备份" in s for s in next_steps(fresh))
    at = dt.datetime.fromisoformat(fresh.backup["last"]["at"])
    late = archive_status(archive, now=at + dt.timedelta(days=3, hours=1))
    assert late.backup["overdue"] and late.backup["age_days"] == 3.0
    assert any(
        "上次成功备份是 3 天前, 超过了 3 天: 运行 dangan backup" in s for s in next_steps(late)
    )
    assert "上次备份" in run_dangan("status", "--archive", archive.root).stdout


def _exec_start(unit: str) -> list[str]:
    line = next(ln for ln in unit.splitlines() if ln.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))


def test_the_backup_timer_runs_a_backup_that_works(archive: Archive, tmp_path: Path) -> None:
    refused = run_dangan("service", "unit", "--backup", "--archive", archive.root)
    assert refused.returncode == 2 and "定时备份需要备份目标和密码文件" in refused.stderr
    pw = password_file(tmp_path)
    out = tmp_path / "units"
    result = run_dangan(
        "service", "unit", "--backup", "--to", tmp_path / "备份", "--password-file", pw,
        "--out", out, "--archive", archive.root,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    service, timer = sorted(out.iterdir())
    assert service.name.startswith("dangan-backup-") and service.suffix == ".service"
    assert timer.suffix == ".timer" and f"Unit={service.name}" in timer.read_text()
    assert (
        "Persistent=true" in timer.read_text() and "OnCalendar=*-*-* 21:00:00" in timer.read_text()
    )
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:
        check = subprocess.run(
            [analyze, "verify", str(service), str(timer)], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stderr
    # what the service would run, run: a backup (same disk allowed in the toml for the test)
    argv = _exec_start(service.read_text(encoding="utf-8"))
    assert argv[1:3] == ["backup", "--archive"] and "--password-file" in argv
    (archive.root / "dangan.toml").write_text(
        (archive.root / "dangan.toml").read_text(encoding="utf-8")
        + "\n[backup]\nsame_disk = true\n",
        encoding="utf-8",
    )
    ran = subprocess.run(
        argv, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
    )
    assert ran.returncode == 0, ran.stderr
    assert "已备份到" in ran.stdout
