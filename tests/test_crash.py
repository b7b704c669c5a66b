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
from typing import Any

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
        _until_filing_starts(proc, archive_dir)  # not while Python starts (a loaded machine)
        time.sleep(rng.uniform(0.0, 0.8))
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
    assert _leftovers(archive_dir) == []
    verify = run_dangan("verify", "--json", "--archive", archive_dir)
    assert verify.returncode == 0, verify.stdout
    assert json.loads(verify.stdout)["checked"] == len(records)


def _until_filing_starts(proc: subprocess.Popen[bytes], archive_dir: Path) -> None:
    """Wait until ``proc`` announces a publish or sets a file aside (or ends): a kill then
    lands among renames and fsyncs, not in the seconds a loaded machine takes to start it."""
    journal, records = archive_dir / ".dangan" / "journal", archive_dir / "records"
    quarantine = archive_dir / "quarantine"

    def done() -> int:
        return len(list(records.rglob("*.json"))) + len(list(quarantine.rglob("*.why.json")))

    before, deadline = done(), time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if any(p.suffix == ".json" for p in journal.iterdir()) or done() > before:
            return
        time.sleep(0.01)


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


def _leftovers(archive_dir: Path) -> list[str]:
    """Journal entries and temporaries a crash left that nothing finished or removed."""
    journal = archive_dir / ".dangan" / "journal"
    found = [p for p in journal.iterdir()] if journal.is_dir() else []
    for folder in ("records", "quarantine", "inbox"):
        found += list((archive_dir / folder).rglob(".tmp-*"))
    return sorted(str(p.relative_to(archive_dir)) for p in found)


def _die_at(archive_dir: Path, die_at: int) -> int:
    import sys

    return subprocess.run([sys.executable, "-c", _DIE_AT, str(archive_dir), str(die_at)]).returncode


# A clean run of the inbox below makes 12 renames and unlinks: dying at each in turn (and
# once more, past the last) covers every step between two of them.
_STEPS = 12


@pytest.mark.parametrize("die_at", range(1, _STEPS + 2))
def test_death_at_each_rename_and_unlink(archive_dir: Path, die_at: int) -> None:
    from samples.badfiles import _jpeg

    # Filed once before: the copy dropped again adds a "duplicate" event to the record
    again = _jpeg((640, 480))
    (archive_dir / "inbox" / "其他" / "通知.jpg").write_bytes(again)
    assert run_dangan("ingest", "--archive", archive_dir).returncode == 0
    (archive_dir / "inbox" / "其他" / "通知 副本.jpg").write_bytes(again)
    folder = archive_dir / "inbox" / "许可证" / "610522100123_张三烟酒店"
    folder.mkdir(parents=True)
    data = _jpeg()
    (folder / "申请表.jpg").write_bytes(data)
    (archive_dir / "inbox" / "其他" / "空.pdf").write_bytes(b"")
    died = _die_at(archive_dir, die_at)
    assert died == (0 if die_at > _STEPS else 9), "the step count of a clean run changed"
    final = run_dangan("ingest", "--json", "--archive", archive_dir)
    assert final.returncode == 0, final.stderr
    assert _files_under(archive_dir / "inbox") == []
    assert _leftovers(archive_dir) == []
    digest = hashlib.sha256(data).hexdigest()
    records = [p for p in (archive_dir / "records").rglob("*.jpg")]
    shas = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in records)
    assert shas == sorted([digest, hashlib.sha256(again).hexdigest()])
    for record in records:
        assert record.with_name(record.name + ".json").exists()
    assert len(list((archive_dir / "quarantine").rglob("空*.pdf"))) == 1
    assert len(list((archive_dir / "quarantine").rglob("通知 副本*.jpg"))) == 1
    assert run_dangan("verify", "--archive", archive_dir).returncode == 0
    shown = json.loads(
        run_dangan("show", "610522100123", "--json", "--archive", archive_dir).stdout
    )
    assert len(shown[0]["documents"]) == 1


# --------------------------------------------------------------------------- corrections

_TARGETS = {
    "split": "records/许可证档案/610522100002_李四商店/001_申请表.pdf",
    "replace": "records/许可证档案/610522100001_张三烟酒店/001_申请表.pdf",
    "move": "records/许可证档案/610522100001_张三烟酒店/001_申请表.pdf",
    "edit": "records/会议记录/专销联动会议/2011/001_会议记录.pdf",
    "withdraw": "records/处罚案卷/潼烟罚〔2011〕12号/001_询问笔录.pdf",
}
# Renames and unlinks each correction makes (counted): every one of them is a death point.
_DEATHS = {"split": 31, "replace": 18, "move": 10, "edit": 10, "withdraw": 10}


def _correct_and_die(root: Path, op: str, die_at: int, rescan: Path) -> int:
    """Run one correction in a forked child that dies (``os._exit``) at its ``die_at``-th
    rename or unlink, as a power cut would; the child's exit status (9: killed)."""
    from _archival import invoke

    args = {
        "split": ["split", _TARGETS[op], "1,2,3", "--types", "申请表,实地核查记录,送达回证"],
        "replace": ["replace", _TARGETS[op], str(rescan)],
        "move": ["move", _TARGETS[op], "610522100002"],
        "edit": ["edit", _TARGETS[op], "--type", "签到表"],
        "withdraw": ["withdraw", _TARGETS[op]],
    }[op]
    pid = os.fork()
    if pid == 0:  # the child: every rename and unlink counts towards its death
        calls = [0]

        def dying(real: Any) -> Any:
            def wrapper(*a: Any, **kw: Any) -> Any:
                calls[0] += 1
                if calls[0] == die_at:
                    os._exit(9)
                return real(*a, **kw)

            return wrapper

        os.replace = dying(os.replace)  # type: ignore[assignment]
        os.rename = dying(os.rename)  # type: ignore[assignment]
        os.unlink = dying(os.unlink)  # type: ignore[assignment]
        real_unlink = Path.unlink
        Path.unlink = lambda self, missing_ok=False: dying(real_unlink)(self, missing_ok)  # type: ignore[method-assign]
        try:
            result = invoke(root, *args, "--reason", "崩溃测试")
            os._exit(0 if result.exception is None else 3)
        except BaseException:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.fixture(scope="module")
def small_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from _archival import build_small_archive

    return build_small_archive(tmp_path_factory.mktemp("template") / "档案库").root


@pytest.mark.slow
@pytest.mark.parametrize(
    ("op", "die_at"), [(op, n) for op, top in _DEATHS.items() for n in range(1, top + 2)]
)
def test_death_in_a_correction_is_finished_or_undone(
    tmp_path: Path, small_template: Path, op: str, die_at: int
) -> None:
    """Kill a correction at each of its renames and unlinks; the next run (reindex) finishes
    or undoes it: every original is there once, verify is clean, the 件号 continuous, and
    reindex gives the same catalog twice."""
    import shutil

    from _archival import household_pdf, invoke
    from test_corrections import assert_continuous, round_trip

    from archive.core.config import Archive
    from archive.records.reindex import open_catalog

    archive = Archive(Path(shutil.copytree(small_template, tmp_path / "档案库")))
    originals = {hashlib.sha256(p.read_bytes()).hexdigest() for p in archive.records.rglob("*.pdf")}
    rescan = tmp_path / "重扫.pdf"
    rescan.write_bytes(household_pdf("610522100001", "张三烟酒店", "申请表", "2011-03-06"))
    code = _correct_and_die(archive.root, op, die_at, rescan)
    assert code in (0, 9), code
    assert code == 9 or die_at > 8, "every correction makes more than 8 renames and unlinks"

    again = invoke(archive, "reindex")  # the next run: finishes or undoes
    assert again.exception is None, again.exception
    round_trip(archive)
    assert_continuous(archive)
    files = list(archive.records.rglob("*.pdf"))
    shas = [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
    assert len(shas) == len(set(shas)), "a record is there twice"
    assert originals <= set(shas), "an original was lost"
    for p in files:
        assert p.with_name(p.name + ".json").exists(), p
    assert list(archive.root.rglob(".tmp-*")) == []
    for journal in ("journal", "refile", "corrections"):
        folder = archive.state / journal
        assert not folder.is_dir() or list(folder.iterdir()) == [], journal
    with open_catalog(archive) as catalog:
        statuses = {r["path"]: r["status"] for r in catalog.records()}
    target = _TARGETS[op].removeprefix("records/")
    if op == "split":  # all or nothing: the original filed alone, or three parts + withdrawn
        parts = [p for p in statuses if "李四商店/00" in p and p != target]
        if target in statuses:
            assert len(parts) == 1, statuses  # only the other 申请表 of the household
        else:
            assert len(parts) == 4 and "已撤出/001_申请表.pdf" in statuses, statuses
    if op == "replace":
        replaced = "已撤出/001_申请表.pdf" in statuses
        assert (target in statuses) != replaced, statuses
        news = [p for p in statuses if p.startswith("许可证档案/610522100001_张三烟酒店/")]
        assert len(news) == 2, statuses  # 营业执照 + (old 申请表 or its re-scan)
    if code == 0:
        assert target not in statuses or op == "edit", statuses


@pytest.mark.slow
@pytest.mark.parametrize("die_at", range(1, 20, 2))
def test_death_inside_a_batch_commit(archive_dir: Path, die_at: int) -> None:
    """Several files filed together (one journal entry, syncfs barriers): killed at any
    rename or unlink of the batch, the next run files each exactly once."""
    import sys

    from samples.badfiles import _jpeg

    datas = {}
    for i in range(4):
        folder = archive_dir / "inbox" / "许可证" / f"61052210012{i}_户{i}"
        folder.mkdir(parents=True)
        datas[i] = _jpeg((400 + i, 500))
        (folder / "申请表.jpg").write_bytes(datas[i])
    died = subprocess.run([sys.executable, "-c", _DIE_AT, str(archive_dir), str(die_at)])
    assert died.returncode in (0, 9)
    final = run_dangan("ingest", "--json", "--archive", archive_dir)
    assert final.returncode == 0, final.stderr
    assert _files_under(archive_dir / "inbox") == []
    records = sorted((archive_dir / "records").rglob("*.jpg"))
    got = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in records)
    assert got == sorted(hashlib.sha256(d).hexdigest() for d in datas.values())
    assert list((archive_dir / "records").rglob(".tmp-*")) == []
    assert list((archive_dir / ".dangan" / "journal").glob("*.json")) == []
    assert run_dangan("verify", "--archive", archive_dir).returncode == 0
