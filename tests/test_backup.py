"""Backup and restore with the real engine (restic): what comes back is what was there."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from _backup import (
    HOUSEHOLDS,
    PASSWORD,
    archive_fixtures,
    dossier,
    password_file,
    record_paths,
    settings,
)
from conftest import run_dangan

from archive.core.config import Archive
from archive.core.errors import NotFoundError
from archive.ops.backup import check_backup, run_backup
from archive.ops.backup_config import archive_id
from archive.ops.mirror import STAGE
from archive.ops.restore import dossier_restore, restore_archive
from archive.records.store import append_event, sidecar_of
from samples.bench_archive import household_files

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic not installed")


template, archive = archive_fixtures(4)


def _verify(root: Path) -> dict[str, object]:
    result = run_dangan("verify", "--json", "--archive", root)
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_a_deleted_dossier_and_a_changed_byte_come_back_and_verify_is_clean(
    archive: Archive, tmp_path: Path
) -> None:
    before = record_paths(archive.root)
    result = run_backup(archive, settings(tmp_path / "备份"), PASSWORD)
    assert result.initialized and result.files_new == result.files > len(before)

    gone = dossier(archive, HOUSEHOLDS[0].licence_no)
    shutil.rmtree(gone)
    damaged = sorted(dossier(archive, HOUSEHOLDS[1].licence_no).glob("*.pdf"))[0]
    data = bytearray(damaged.read_bytes())
    data[200] ^= 0x55
    damaged.write_bytes(bytes(data))
    broken = _verify(archive.root)
    assert not broken["ok"] and len(broken["missing"]) == 7 and len(broken["changed"]) == 1  # type: ignore[arg-type]

    # the whole archive, into a new folder elsewhere
    whole = restore_archive(
        settings(tmp_path / "备份"), PASSWORD, tmp_path / "新电脑" / "档案库", archive=archive
    )
    assert whole.ok and whole.records == whole.indexed == len(before) // 2
    assert record_paths(tmp_path / "新电脑" / "档案库") == before
    assert _verify(tmp_path / "新电脑" / "档案库")["ok"]

    # and into the live archive, dossier by dossier
    for h in HOUSEHOLDS[:2]:
        with dossier_restore(archive, settings(tmp_path / "备份"), PASSWORD, h.licence_no) as plan:
            actions = plan.counts()
            plan.apply()
        if h is HOUSEHOLDS[0]:
            assert actions == {"add": 14}
        else:
            assert actions == {"repair": 1, "same": 13}  # the damaged record, without asking
    assert record_paths(archive.root) == before
    assert _verify(archive.root)["ok"]
    shown = run_dangan("show", HOUSEHOLDS[0].licence_no, "--json", "--archive", archive.root)
    assert (
        shown.returncode == 0 and len(json.loads(shown.stdout)[0]["documents"]) == 7
    )  # catalogued
    found = run_dangan("search", HOUSEHOLDS[0].name, "--json", "--archive", archive.root)
    assert json.loads(found.stdout)["total"] == 7  # and searchable again


def test_an_incremental_run_after_ten_new_files_stores_only_those(
    archive: Archive, tmp_path: Path
) -> None:
    target = settings(tmp_path / "备份")
    first = run_backup(archive, target, PASSWORD)
    again = run_backup(archive, target, PASSWORD)
    assert (again.files_new, again.files_changed, again.data_added < 16_384) == (0, 0, True)
    # ten scans dropped in the inbox and filed: ten records, ten sidecars
    folder = archive.inbox / "许可证" / f"{HOUSEHOLDS[0].licence_no}_{HOUSEHOLDS[0].name}"
    new = household_files(archive.inbox, HOUSEHOLDS[0], [f"补充材料{i}" for i in range(10)])
    assert len(new) == 10 and folder.is_dir()
    before = set(record_paths(archive.root))
    assert run_dangan("ingest", "--archive", archive.root).returncode == 0
    filed = set(record_paths(archive.root)) - before
    assert len(filed) == 20
    added = sum((archive.root / p).stat().st_size for p in filed)
    third = run_backup(archive, target, PASSWORD)
    assert third.files_new == 20 and third.files_changed == 1  # the access log: "ingest"
    assert third.files_unmodified == first.files - 1
    # what the repository grew by: those files, the access log (one small chunk, stored again
    # whole) and the folder entries naming them, no more
    added += (archive.root / "access" / "access.sqlite").stat().st_size
    assert third.data_added < added + 32_768 < first.data_added


def test_everything_but_the_caches_is_backed_up_and_restored_byte_for_byte(
    archive: Archive, tmp_path: Path
) -> None:
    # things other stages (and the web app) keep at the top level, and what waits in the inbox
    (archive.root / "访问日志.jsonl").write_text(
        '{"user": "张三", "action": "view"}\n', encoding="utf-8"
    )
    users = sqlite3.connect(archive.root / "users.sqlite")
    users.execute("PRAGMA journal_mode=WAL")
    users.execute("CREATE TABLE users (name TEXT, hash TEXT)")
    users.execute("INSERT INTO users VALUES ('张三', 'scrypt$...')")
    users.commit()  # left in the -wal file, the database kept open (the web app is running)
    gbk = os.fsdecode("扫描仪文件.pdf".encode("gbk"))  # a Windows scanner's name, not UTF-8
    (archive.inbox / "其他" / gbk).write_bytes(b"%PDF-1.4 waiting")
    (archive.state / "catalog-extra-cache").write_text("derived")
    os.symlink("records", archive.root / "档案快捷方式")
    try:
        run_backup(archive, settings(tmp_path / "备份"), PASSWORD)
        users.execute("INSERT INTO users VALUES ('李四', 'scrypt$...')")  # after the snapshot
        users.commit()
    finally:
        users.close()
    restored = tmp_path / "恢复"
    restore_archive(settings(tmp_path / "备份"), PASSWORD, restored, archive=archive)
    assert (restored / "访问日志.jsonl").read_text(encoding="utf-8").startswith('{"user": "张三"')
    copy = sqlite3.connect(restored / "users.sqlite")
    assert copy.execute("SELECT name FROM users").fetchall() == [("张三",)]
    copy.close()
    assert (restored / "inbox" / "其他" / gbk).read_bytes() == b"%PDF-1.4 waiting"
    assert os.readlink(restored / "档案快捷方式") == "records"
    assert (restored / ".dangan-id").read_text().strip() == archive_id(archive)
    assert not (restored / ".dangan" / "catalog-extra-cache").exists()
    assert not (restored / ".dangan" / STAGE).exists()
    assert (restored / ".dangan" / "catalog.sqlite").is_file()  # rebuilt, not restored
    for name in ("dangan.toml", "roster.csv"):
        if (archive.root / name).exists():
            assert (restored / name).read_bytes() == (archive.root / name).read_bytes()


def test_check_restores_a_sample_and_finds_a_damaged_repository(
    archive: Archive, tmp_path: Path
) -> None:
    repo = tmp_path / "备份"
    run_backup(archive, settings(repo), PASSWORD)
    good = check_backup(archive, settings(repo), PASSWORD, sample=5, read_data="100%", seed=1)
    assert (
        good.ok and len(good.sampled) == 5 and all(p.startswith("/records/") for p in good.sampled)
    )
    # one byte of one pack file flipped, as a failing disk would
    pack = max((repo / "data").rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else 0)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.chmod(0o600)
    pack.write_bytes(bytes(data))
    bad = check_backup(archive, settings(repo), PASSWORD, sample=0, read_data="100%")
    assert not bad.ok and not bad.engine_ok and bad.engine_report
    cli = run_dangan(
        "backup", "--check", "--read-data", "100%", "--sample", "0", "--to", repo,
        "--password-file", password_file(tmp_path), "--archive", archive.root,
    )  # fmt: skip
    assert cli.returncode == 6 and "备份检查未通过" in cli.stderr and "发现问题" in cli.stdout


def test_a_dossier_is_never_restored_over_a_newer_file_without_asking(
    archive: Archive, tmp_path: Path
) -> None:
    target = settings(tmp_path / "备份")
    run_backup(archive, target, PASSWORD)
    folder = dossier(archive, HOUSEHOLDS[2].licence_no)
    record = sorted(folder.glob("*.pdf"))[0]
    newer = append_event(
        record, {"at": "2099-01-01T00:00:00+08:00", "event": "verified", "detail": "x"}
    )
    later = sidecar_of(record).read_bytes()
    (folder / sorted(folder.glob("*.pdf"))[1].name).unlink()  # and one record lost
    with dossier_restore(archive, target, PASSWORD, HOUSEHOLDS[2].name) as plan:
        assert [f.path for f in plan.newer] == [
            sidecar_of(record).relative_to(archive.root).as_posix()
        ]
        plan.apply()
        assert plan.kept_newer and len(plan.applied) == 1
    assert sidecar_of(record).read_bytes() == later and newer["events"][-1]["detail"] == "x"
    pw = password_file(tmp_path)
    args = ("restore", "--dossier", HOUSEHOLDS[2].licence_no, "--password-file", pw,
            "--from", tmp_path / "备份", "--archive", archive.root)  # fmt: skip
    asked = run_dangan(*args)  # not a terminal: nothing to ask, so the newer file stays
    assert asked.returncode == 0 and "保留了 1 个比备份新的文件" in asked.stderr
    assert sidecar_of(record).read_bytes() == later
    forced = run_dangan(*args, "--yes")
    assert forced.returncode == 0 and sidecar_of(record).read_bytes() != later
    assert _verify(archive.root)["ok"]


def test_a_single_record_by_path_and_a_renamed_household_folder(
    archive: Archive, tmp_path: Path
) -> None:
    target = settings(tmp_path / "备份")
    run_backup(archive, target, PASSWORD)
    folder = dossier(archive, HOUSEHOLDS[3].licence_no)
    record = sorted(folder.glob("*.pdf"))[2]
    rel = record.relative_to(archive.root).as_posix()
    original = record.read_bytes()
    record.unlink()
    sidecar_of(record).unlink()
    renamed = folder.with_name(f"{HOUSEHOLDS[3].licence_no}_改名后的店")  # the roster renamed it
    folder.rename(renamed)
    assert run_dangan("reindex", "--archive", archive.root).returncode == 0  # as the roster does
    with dossier_restore(archive, target, PASSWORD, rel) as plan:
        assert plan.counts() == {"add": 2}
        plan.apply()
    assert (renamed / record.name).read_bytes() == original and sidecar_of(
        renamed / record.name
    ).is_file()
    assert not folder.exists()
    with (
        pytest.raises(NotFoundError) as info,
        dossier_restore(archive, target, PASSWORD, "999999999999"),
    ):
        pass
    assert "快照中找不到档案 '999999999999'" in info.value.message


def test_a_record_moved_since_the_backup_is_not_brought_back_twice(
    archive: Archive, tmp_path: Path
) -> None:
    target = settings(tmp_path / "备份")
    run_backup(archive, target, PASSWORD)
    record = sorted(dossier(archive, HOUSEHOLDS[0].licence_no).glob("*.pdf"))[0]
    rel = record.relative_to(archive.root).as_posix()
    moved = run_dangan(
        "move", rel, HOUSEHOLDS[1].licence_no, "--reason", "归错户", "--archive", archive.root
    )
    assert moved.returncode == 0, moved.stderr
    with dossier_restore(archive, target, PASSWORD, HOUSEHOLDS[0].licence_no) as plan:
        assert plan.counts() == {"elsewhere": 2, "same": 12}
        plan.apply()
    assert not record.exists() and _verify(archive.root)["ok"]
