"""Kill ``dangan ingest`` at random instants, restart: nothing lost, nothing doubled."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import DANGAN, run_dangan

from samples.badfiles import write_bad_inputs


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() or p.is_symlink()]


@pytest.mark.slow
def test_kill_at_random_points_loses_and_doubles_nothing(archive_dir: Path) -> None:
    rng = random.Random(20261121)
    inbox = archive_dir / "inbox"
    expected: dict[str, str] = {}  # sha256 → what it was
    for i in range(150):
        licence = f"610522{100000 + i:06d}"
        folder = inbox / "许可证" / f"{licence}_户{i}"
        folder.mkdir(parents=True)
        # Sizeable files so that copies and fsyncs take time to be interrupted in.
        data = os.urandom(rng.randint(200_000, 1_500_000))
        data = b"\xff\xd8\xff\xe0" + data  # sniffed as JPEG, fails decoding → quarantined
        if i % 3:
            from samples.badfiles import _jpeg

            data = _jpeg((400 + i, 500))
        (folder / "申请表.jpg").write_bytes(data)
        expected[hashlib.sha256(data).hexdigest()] = str(folder)
    bad = write_bad_inputs(inbox / "其他")
    start_files = len(_files_under(inbox))

    kills = 0
    for _ in range(30):
        proc = subprocess.Popen(
            [str(DANGAN), "ingest", "--archive", str(archive_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.4, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        if not _files_under(inbox):
            break
    final = run_dangan("ingest", "--json", "--archive", archive_dir)
    assert final.returncode == 0, final.stderr
    assert kills >= 2, "the test must actually interrupt ingests"
    assert _files_under(inbox) == []

    # Every source is either a record (once) or in quarantine (once).
    records = [
        p
        for p in (archive_dir / "records").rglob("*")
        if p.is_file() and not p.name.endswith(".json")
    ]
    record_shas = [hashlib.sha256(p.read_bytes()).hexdigest() for p in records]
    assert len(record_shas) == len(set(record_shas)), "a file was filed twice"
    for p in records:  # every record has its sidecar
        assert p.with_name(p.name + ".json").exists(), p
    quarantined = [
        p
        for p in (archive_dir / "quarantine").rglob("*")
        if p.is_file() and not p.name.endswith(".why.json")
    ]
    for p in quarantined:
        assert p.with_name(p.name + ".why.json").exists(), p
    q_shas = [hashlib.sha256(p.read_bytes()).hexdigest() for p in quarantined]
    for digest in expected:
        assert (record_shas + q_shas).count(digest) == 1, f"lost or doubled: {expected[digest]}"
    assert len(records) + len(quarantined) == start_files
    assert len(quarantined) >= len(bad)
    # No temporaries, no journal entries, and verify is clean.
    leftovers = [p for p in (archive_dir / "records").rglob(".tmp-*")]
    assert leftovers == []
    assert list((archive_dir / ".dangan" / "journal").glob("*.json")) == []
    verify = run_dangan("verify", "--json", "--archive", archive_dir)
    assert verify.returncode == 0, verify.stdout
    assert json.loads(verify.stdout)["checked"] == len(records)


_DIE_AT = r"""
import os, sys
from pathlib import Path
target, count = sys.argv[1], int(sys.argv[2])
calls = {"n": 0}
def dying(real):
    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == count:
            os._exit(9)
        return real(*args, **kwargs)
    return wrapper
os.replace = dying(os.replace)
os.unlink = dying(os.unlink)
Path.unlink = (lambda real: (lambda self, missing_ok=False: dying(real)(self, missing_ok=missing_ok)))(Path.unlink)
from archive.core.config import Archive
from archive.records.catalog import Catalog
from archive.intake.intake import Intake
archive = Archive(Path(target))
with archive.writer_lock(), Catalog(archive.catalog_path) as catalog:
    Intake(archive, catalog).run()
"""


@pytest.mark.parametrize("die_at", range(1, 9))
def test_death_at_each_rename_and_unlink(archive_dir: Path, die_at: int) -> None:
    import sys

    from samples.badfiles import _jpeg

    folder = archive_dir / "inbox" / "许可证" / "610522100123_张三烟酒店"
    folder.mkdir(parents=True)
    data = _jpeg()
    (folder / "申请表.jpg").write_bytes(data)
    (archive_dir / "inbox" / "其他" / "空.pdf").write_bytes(b"")
    died = subprocess.run([sys.executable, "-c", _DIE_AT, str(archive_dir), str(die_at)])
    assert died.returncode in (0, 9)
    final = run_dangan("ingest", "--json", "--archive", archive_dir)
    assert final.returncode == 0, final.stderr
    assert _files_under(archive_dir / "inbox") == []
    digest = hashlib.sha256(data).hexdigest()
    records = [p for p in (archive_dir / "records").rglob("*.jpg")]
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in records] == [digest]
    assert records[0].with_name(records[0].name + ".json").exists()
    assert len(list((archive_dir / "quarantine").rglob("空*.pdf"))) == 1
    assert run_dangan("verify", "--archive", archive_dir).returncode == 0
    shown = json.loads(
        run_dangan("show", "610522100123", "--json", "--archive", archive_dir).stdout
    )
    assert len(shown[0]["documents"]) == 1
