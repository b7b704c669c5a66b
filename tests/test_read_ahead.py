"""Files read ahead in worker processes (archive.intake.read_ahead, archive.core.ahead).

A large ingest reads its files' text in worker processes; what it files must be exactly what
reading them in the filing process gives, and a worker that dies or hangs must cost no
record: the files it held are read again alone, and one that hangs is set aside with a
Chinese reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from conftest import make_archive

from archive.core.ahead import AheadPool, Lost
from archive.core.config import Archive
from archive.intake.intake import Outcome
from archive.intake.pipeline import after_batch, extractor_for, make_intake
from archive.records.reindex import open_catalog
from samples.damaged_pdfs import damaged_set, unopenable
from samples.textpdf import make_households, write_licence_pdfs

CLOCK = dt.datetime(2026, 11, 30, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _drop_corpus(inbox: Path, households: int) -> int:
    """Text-layer PDFs, every damaged kind, an empty file, a duplicate and a photo-less
    misnamed file: every way a file can go, so that both ways of reading meet them all."""
    written = write_licence_pdfs(inbox, make_households(households, seed=11))
    other = inbox / "其他"
    other.mkdir(parents=True, exist_ok=True)
    for name, data in {**damaged_set(), "unopenable.pdf": unopenable()}.items():
        (other / name).write_bytes(data)
    (other / "空文件.pdf").write_bytes(b"")
    (other / "重复的申请表.pdf").write_bytes(written[0].read_bytes())
    (other / "说明.txt").write_text("许可证号：610522100001\n零售户申请材料\n", encoding="utf-8")
    return len(written) + len(damaged_set()) + 4


def _ingest(root: Path, workers: int, **kw: Any) -> list[Outcome]:
    archive = Archive(root)
    with open_catalog(archive) as catalog, extractor_for(archive, ocr=False) as extractor:
        intake = make_intake(
            archive, catalog, extractor, workers=workers, clock=lambda: CLOCK, **kw
        )
        outcomes = intake.run()
        after_batch(archive, catalog)
    return outcomes


def _state(root: Path, outcomes: list[Outcome]) -> dict[str, Any]:
    """Everything a run leaves: outcomes (but their timings), sidecars, quarantine notes and
    the catalog's rows."""
    archive = Archive(root)
    sidecars = {
        p.relative_to(root).as_posix(): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((root / "records").rglob("*.json"))
    }
    notes = {
        p.relative_to(root).as_posix(): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((root / "quarantine").rglob("*.why.json"))
    }
    with open_catalog(archive) as catalog:
        rows = sorted(
            json.dumps(dict(r), ensure_ascii=False, default=str) for r in catalog.records()
        )
        quarantined = sorted(
            json.dumps(dict(r), ensure_ascii=False, default=str) for r in catalog.quarantined()
        )
    told = sorted(
        json.dumps({k: v for k, v in o.as_dict().items() if k != "elapsed"}, ensure_ascii=False)
        for o in outcomes
    )
    return {
        "outcomes": told,
        "sidecars": sidecars,
        "notes": notes,
        "rows": rows,
        "quarantined": quarantined,
    }


def test_workers_file_exactly_what_the_filing_process_reads(tmp_path: Path) -> None:
    one = make_archive(tmp_path / "一个进程")
    many = make_archive(tmp_path / "多个进程")
    count = _drop_corpus(one / "inbox", 40)
    shutil.copytree(one / "inbox", many / "inbox", dirs_exist_ok=True)  # the same bytes
    alone = _ingest(one, workers=1)
    pooled = _ingest(many, workers=2)
    assert len(alone) == len(pooled) == count
    kinds = {o.outcome for o in pooled}
    assert {"filed", "quarantined", "duplicate"} <= kinds
    assert _state(many, pooled) == _state(one, alone)
    assert not list((many / "inbox").rglob("*.pdf"))  # nothing left behind
    # the workers copied each file as they hashed it; the copies of the files set aside
    # and of the duplicate went with the run
    assert (many / ".dangan" / "ahead").is_dir()
    assert list((many / ".dangan" / "ahead").iterdir()) == []


def _ingest_hurting_workers(root: Path, hurt: signal.Signals, **kw: Any) -> list[Outcome]:
    """Ingest, and at the second file filed send ``hurt`` to the reading workers (SIGKILL
    to one, SIGSTOP to all, so that whatever is being read hangs)."""
    archive = Archive(root)
    with open_catalog(archive) as catalog, extractor_for(archive, ocr=False) as extractor:
        intake = make_intake(archive, catalog, extractor, workers=2, clock=lambda: CLOCK, **kw)
        hurt_pids: list[int] = []

        def progress(done: int, _total: int) -> None:
            if done == 2 and not hurt_pids:
                pids = intake.reader_pids()
                assert pids, "no worker processes read this run"
                hurt_pids.extend(pids[:1] if hurt == signal.SIGKILL else pids)
                for pid in hurt_pids:
                    os.kill(pid, hurt)

        outcomes = intake.run(progress=progress)
        after_batch(archive, catalog)
    assert hurt_pids
    if hurt == signal.SIGSTOP:  # the stopped workers were ended, not left behind
        for _ in range(100):
            if not any(Path(f"/proc/{pid}").exists() for pid in hurt_pids):
                break
            time.sleep(0.1)
        assert not any(Path(f"/proc/{pid}").exists() for pid in hurt_pids)
    return outcomes


def test_a_killed_worker_costs_no_file(tmp_path: Path) -> None:
    """A worker killed while reading (as a hostile file would crash it): the files it held
    are read again, each alone, and everything is filed as if nothing happened."""
    one = make_archive(tmp_path / "一个进程")
    hurt = make_archive(tmp_path / "进程被杀")
    count = _drop_corpus(one / "inbox", 60)
    shutil.copytree(one / "inbox", hurt / "inbox", dirs_exist_ok=True)
    alone = _ingest(one, workers=1)
    outcomes = _ingest_hurting_workers(hurt, signal.SIGKILL)
    assert len(outcomes) == count
    assert _state(hurt, outcomes) == _state(one, alone)


def test_a_hung_worker_sets_its_file_aside_with_a_reason_and_files_the_rest(
    tmp_path: Path,
) -> None:
    root = make_archive(tmp_path / "档案库")
    written = write_licence_pdfs(root / "inbox", make_households(60, seed=12))
    originals = {p.read_bytes() for p in written}
    outcomes = _ingest_hurting_workers(root, signal.SIGSTOP, read_timeout=3.0)
    assert len(outcomes) == len(written)
    hung = [o for o in outcomes if o.outcome == "quarantined"]
    assert len(hung) == 1, [o.as_dict() for o in hung]  # the first one the filing waited for
    for o in hung:
        assert o.code == "reader_hung"
        assert o.reason is not None and "长时间没有完成" in o.reason and "已隔离" in o.reason
        assert o.record is not None and (root / o.record).read_bytes() in originals
    assert all(o.outcome == "filed" for o in outcomes if o not in hung)
    # nothing lost: every original is a record or in quarantine, once
    kept = [p.read_bytes() for p in (root / "records").rglob("*.pdf")]
    kept += [p.read_bytes() for p in (root / "quarantine").rglob("*.pdf")]
    assert sorted(kept) == sorted(p for p in originals)


# ---------------------------------------------------------------- the pool itself


def _square_or_die(item: int) -> int:
    if item == 13:
        os.kill(os.getpid(), signal.SIGKILL)  # a crash in native code looks so
    if item == 17:
        time.sleep(3600)  # a loop that never ends
    return item * item


def test_the_pool_survives_a_crashing_and_a_hanging_item() -> None:
    items = list(range(40))

    def timeout(item: int) -> float:  # generous but for the one that hangs
        return 3.0 if item == 17 else 120.0

    with AheadPool(_square_or_die, items, 2, timeout=timeout, retry_alone=True, restarts=3) as pool:
        got: dict[int, Any] = {}
        for item in items:
            try:
                got[item] = pool.get(item)
            except Lost as lost:
                got[item] = "hung" if lost.hung else "crashed"
    assert got.pop(13) == "crashed"
    assert got.pop(17) == "hung"
    assert got == {i: i * i for i in items if i not in (13, 17)}


def test_a_pool_broken_before_it_is_asked_again_goes_on() -> None:
    """A worker dies (item 13) while the caller is busy elsewhere: the next ask hands the
    pool new items first, and finding the pool broken there must not reach the caller."""
    items = [i for i in range(10, 40) if i != 17]  # (17 hangs)
    with AheadPool(_square_or_die, items, 2, retry_alone=True, restarts=3) as pool:
        executor = pool._executor
        for _ in range(200):  # until the pool knows it is broken (13 is among the first)
            if getattr(executor, "_broken", False):
                break
            time.sleep(0.05)
        assert getattr(executor, "_broken", False), "the crash was not seen"
        got: dict[int, Any] = {}
        for item in items:
            try:
                got[item] = pool.get(item)
            except Lost:
                got[item] = "crashed"
    assert got.pop(13) == "crashed"
    assert got == {i: i * i for i in items if i != 13}


def _slow_square(item: int) -> int:
    if item < 2:
        time.sleep(1.0)
    return item * item


def test_a_pool_closed_by_another_thread_gives_none_not_an_error() -> None:
    """The web server stops a 四性检测 while a request waits on the pool: the waiting caller
    is told "do it yourself" (``None``) or gets the result, never an exception."""
    import threading

    items = list(range(20))
    pool: AheadPool[int, int] = AheadPool(_slow_square, items, 2, retry_alone=True)
    closer = threading.Timer(0.3, pool.close)
    closer.start()
    try:
        assert pool.get(10) in (None, 100)
    finally:
        closer.join()
        pool.close()


def test_a_pool_without_retries_leaves_the_rest_to_the_caller() -> None:
    with AheadPool(_square_or_die, list(range(13, 20)), 2) as pool:
        assert pool.get(13) is None  # the pool broke: do it yourself
        assert pool.pids() == []
        assert pool.get(14) in (196, None)  # done before the break: kept
        assert pool.get(17) is None  # its worker was stopped with the pool, not waited for


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_workers_end_with_an_ingest_that_is_killed(tmp_path: Path) -> None:
    """An orphaned worker would keep the writer lock it inherited and wait for work
    forever: killed with its ingest, the next ingest files everything."""
    import subprocess

    from conftest import DANGAN, run_dangan

    root = make_archive(tmp_path / "档案库")
    written = write_licence_pdfs(root / "inbox", make_households(150, seed=13))
    proc = subprocess.Popen(
        [str(DANGAN), "ingest", "--no-ocr", "--archive", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    for _ in range(600):  # the workers start once the inbox is surveyed
        workers = _children(proc.pid)
        if len(workers) >= 2 or proc.poll() is not None:
            break
        time.sleep(0.02)
    assert len(workers) >= 2, "the ingest ended before its workers were seen"
    proc.kill()
    proc.wait()
    for _ in range(100):
        alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
        if not alive:
            break
        time.sleep(0.1)
    assert not alive, "workers outlived the ingest that started them"
    done = run_dangan("ingest", "--json", "--no-ocr", "--archive", root)
    assert done.returncode == 0, done.stderr
    records = [p for p in (root / "records").rglob("*.pdf")]
    assert len(records) == len(written)
    # what the killed run's workers had copied ahead is gone with it
    assert list((root / ".dangan" / "ahead").iterdir()) == []
    assert run_dangan("verify", "--archive", root).returncode == 0


def test_copies_ahead_of_a_killed_run_are_swept_and_a_live_runs_are_not(
    tmp_path: Path,
) -> None:
    from archive.records.copies_ahead import CopiesAhead, sweep

    state = tmp_path / ".dangan"
    source = tmp_path / "扫描件.pdf"
    source.write_bytes(b"%PDF-1.7 " * 1000)
    live = CopiesAhead.start(state)
    assert live is not None
    sha, prepared = live.prepare(source)
    assert prepared is not None and prepared.path.read_bytes() == source.read_bytes()
    assert sha == hashlib.sha256(source.read_bytes()).hexdigest()
    killed = state / "ahead" / "0123abcd"  # a run killed before it took its lock
    killed.mkdir()
    (killed / "x.copy").write_bytes(b"half")
    sweep(state)  # as another process's recovery would, while this run goes on
    assert prepared.path.exists(), "a live run's copy was swept"
    assert not killed.exists()
    live.close()
    assert list((state / "ahead").iterdir()) == []
