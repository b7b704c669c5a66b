"""Helpers of the backup tests: a small filed archive, settings, big incompressible payloads."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import make_archive, run_dangan

from archive.core.config import Archive
from archive.ops.backup_config import BackupSettings
from samples.bench_archive import case_files, current_households, household_files

PASSWORD = "正确的密码 horse-battery"
HOUSEHOLDS = current_households(4, 2024, seed=7)


def filed_archive(root: Path, households: int = 4) -> Archive:
    """``dangan init`` + a few household dossiers and a case, filed by ``dangan ingest``."""
    make_archive(root)
    inbox = root / "inbox"
    for h in HOUSEHOLDS[:households]:
        household_files(inbox, h)
    case_files(inbox, 2024, 3)
    result = run_dangan("ingest", "--archive", root)
    assert result.returncode == 0, result.stderr
    return Archive(root)


def copy_archive(template: Path, root: Path) -> Archive:
    shutil.copytree(template, root, symlinks=True)
    return Archive(root)


def archive_fixtures(households: int) -> tuple[Any, Any]:
    """``template`` (an archive filed once per module) and ``archive`` (a fresh copy of it
    for each test)."""

    @pytest.fixture(scope="module")
    def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
        folder = tmp_path_factory.mktemp("template") / "档案库"
        return filed_archive(folder, households=households).root

    @pytest.fixture
    def archive(template: Path, tmp_path: Path) -> Archive:
        return copy_archive(template, tmp_path / "档案库")

    return template, archive


def dossier(archive: Archive, licence: str) -> Path:
    """A household's folder in the records."""
    return next((archive.records / "许可证档案").glob(f"{licence}_*"))


def settings(target: Path | str, **kw: object) -> BackupSettings:
    return BackupSettings(target=str(target), password_file=None, same_disk=True, **kw)  # type: ignore[arg-type]


def password_file(folder: Path, password: str = PASSWORD) -> Path:
    path = folder / "备份密码.txt"
    path.write_text(password + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def payload(folder: Path, megabytes: int, files: int = 8) -> int:
    """Random (incompressible, undeduplicable) files, so restic has real writing to do."""
    folder.mkdir(parents=True, exist_ok=True)
    each = megabytes * 1024 * 1024 // files
    for i in range(files):
        (folder / f"大文件{i:02d}.bin").write_bytes(os.urandom(each))
    return each * files


def record_paths(root: Path) -> dict[str, bytes]:
    """Every file under records/ with its bytes (what a restore must give back)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / "records").rglob("*"))
        if p.is_file()
    }


def wait_until(check: Callable[[], bool], timeout: float = 60.0, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(step)


def packs(repo: Path) -> int:
    data = repo / "data"
    return sum(1 for p in data.rglob("*") if p.is_file()) if data.is_dir() else 0
