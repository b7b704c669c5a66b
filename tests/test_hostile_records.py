"""The records are the truth: a rebuild of the catalog killed half-way, a catalog that lost
its rows, a sidecar cut short. ``verify`` walks ``records/`` itself and never calls an
archive whole that is not; an interrupted rebuild is found and finished; no record is
dropped because its sidecar was damaged."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _hostile import Outside, dangan_bounded, within
from conftest import run_dangan

from samples.badfiles import _jpeg

_LICENCES = [f"610522{100100 + n:06d}" for n in range(6)]


@pytest.fixture
def filed(archive_dir: Path) -> Path:
    for n, licence in enumerate(_LICENCES):
        folder = archive_dir / "inbox" / "许可证" / f"{licence}_户{n}"
        folder.mkdir(parents=True)
        (folder / "申请表.jpg").write_bytes(_jpeg((600 + n, 800)))
    assert run_dangan("ingest", "--archive", archive_dir).returncode == 0
    return archive_dir


_DIE_IN_REINDEX = r"""
import os, sys
from pathlib import Path
from archive.records import catalog as cat
count, calls = int(sys.argv[2]), {"n": 0}
real = cat.Catalog.upsert
def dying(self, *args, **kwargs):
    calls["n"] += 1
    if calls["n"] == count:
        os._exit(9)
    return real(self, *args, **kwargs)
cat.Catalog.upsert = dying
from archive.core.config import Archive
from archive.records.reindex import reindex_catalog
archive = Archive(Path(sys.argv[1]))
with archive.writer_lock(), cat.Catalog(archive.catalog_path) as catalog:
    reindex_catalog(archive, catalog)
"""


def _verify(archive_dir: Path) -> tuple[int, dict[str, object]]:
    done = within(dangan_bounded("verify", "--json", "--archive", archive_dir))
    assert done.returncode is not None
    return done.returncode, json.loads(done.stdout)


@pytest.mark.parametrize("die_at", [1, 3, 6])
def test_a_reindex_killed_early_is_found_and_finished(
    filed: Path, outside: Outside, die_at: int
) -> None:
    died = subprocess.run([sys.executable, "-c", _DIE_IN_REINDEX, str(filed), str(die_at)])
    assert died.returncode == 9
    status = json.loads(run_dangan("status", "--json", "--archive", filed).stdout)
    assert status["records"] == len(_LICENCES), "readers saw a half-built catalog"
    code, report = _verify(filed)
    assert code == 0, report
    assert report["checked"] == len(_LICENCES)
    assert not (filed / ".dangan" / "reindex.pending").exists()
    shown = run_dangan("show", _LICENCES[-1], "--json", "--archive", filed)
    assert shown.returncode == 0 and len(json.loads(shown.stdout)[0]["documents"]) == 1
    outside.assert_untouched()


def test_verify_counts_the_records_on_disk_not_the_catalog(filed: Path, outside: Outside) -> None:
    db = sqlite3.connect(filed / ".dangan" / "catalog.sqlite")
    db.execute("DELETE FROM records")
    db.commit()
    db.close()
    done = within(dangan_bounded("verify", "--archive", filed))
    assert done.returncode == 6
    assert "已校验 6 份档案" in done.stdout and "全部一致" not in done.stdout
    assert done.stdout.count("目录库中没有") == len(_LICENCES)
    assert "dangan reindex" in done.stderr
    assert run_dangan("reindex", "--archive", filed).returncode == 0
    assert _verify(filed)[0] == 0
    outside.assert_untouched()


def test_a_truncated_sidecar_is_reported_and_its_record_kept(filed: Path, outside: Outside) -> None:
    def document() -> dict[str, object]:
        shown = json.loads(run_dangan("show", _LICENCES[2], "--json", "--archive", filed).stdout)
        [doc] = shown[0]["documents"]
        return dict(doc)

    before = document()
    sidecar = next((filed / "records").rglob(f"{_LICENCES[2]}_*/*.jpg.json"))
    data = sidecar.read_bytes()
    sidecar.write_bytes(data[: len(data) // 2])
    code, report = _verify(filed)
    assert code == 6
    [damaged] = report["damaged"]  # type: ignore[misc]
    assert _LICENCES[2] in damaged["record"] and "不完整" in damaged["reason"]
    assert report["checked"] == len(_LICENCES)
    rebuilt = json.loads(run_dangan("reindex", "--json", "--archive", filed).stdout)
    assert rebuilt["records"] == len(_LICENCES), "reindex dropped the record"
    assert any("说明文件损坏" in p for p in rebuilt["problems"])
    after = document()
    assert [f["code"] for f in after.pop("findings")] == ["sidecar_damaged"]  # type: ignore[attr-defined]
    before.pop("findings")
    assert after == before  # what the catalog knew is kept
    again = json.loads(run_dangan("reindex", "--json", "--archive", filed).stdout)
    assert again["records"] == len(_LICENCES)
    assert _verify(filed)[0] == 6  # still reported until the sidecar is put right
    outside.assert_untouched()
