"""The OCR queue with a real redis-server and real ``dangan ocr-worker`` processes: readings
equal to local ones, a killed worker, a restarted broker, a poison page, no worker, a worker of
another engine, a page too large."""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _broker import RedisServer, Worker, heartbeat, start_worker, wait_for
from PIL import Image

from indexers.extract import Extraction, extract_document
from indexers.ocr import MAX_SIDE, OcrPool, OcrResult, shrink, to_array
from indexers.ocr_client import EngineMismatch, OcrQueue, OcrUnavailable
from indexers.ocr_engines import engine_info
from indexers.ocr_queue import (
    TASK,
    OcrQueueError,
    make_app,
    make_payload,
    queue_name,
    reading_key,
    tries_key,
)
from samples.scans import ScanTruth, generate_scans

pytestmark = pytest.mark.slow

# licence (jpeg), site check turned 90 (png), delivery receipt turned 180, a two-page TIFF
_PICK = [0, 2, 4, 5]


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ScanTruth]]:
    out = tmp_path_factory.mktemp("scans")
    return out, generate_scans(out, seed=11, pick=_PICK)


@pytest.fixture(scope="module")
def local(scans: tuple[Path, list[ScanTruth]]) -> dict[str, Extraction]:
    """The sample scans read by the local pool, two workers (one thread each), as intake does."""
    out, truths = scans
    with OcrPool(2, threads=1) as pool:
        return {t.path: extract_document(out / t.path, t.mime, ocr=pool) for t in truths}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pair(broker: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Worker]]:
    """Two workers on database 0, one single-threaded reading process each (as the local
    pool, so readings can be compared bit for bit on any number of cores); a vanished
    worker's pages are handed on after 10 s. The test that kills one runs last."""
    folder = tmp_path_factory.mktemp("workers")
    started = [
        start_worker(
            broker, folder, name, "--processes", "1", "--threads", "1", "--redeliver-after", "10"
        )
        for name in ("w1", "w2")
    ]
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Workers a test starts for itself, stopped after it."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def _db(broker: RedisServer, n: int) -> str:
    """The broker's database ``n``: a queue of its own, no workers unless started there."""
    return broker.url.rsplit("/", 1)[0] + f"/{n}"


def _same(a: OcrResult | Extraction, b: OcrResult | Extraction) -> None:
    if isinstance(a, Extraction) and isinstance(b, Extraction):
        assert [
            (p.number, p.source, p.text, p.rotation, p.confidence, p.error, p.seals)
            for p in a.pages
        ] == [
            (p.number, p.source, p.text, p.rotation, p.confidence, p.error, p.seals)
            for p in b.pages
        ]
        assert [p.quality for p in a.pages] == [p.quality for p in b.pages]
    else:
        assert isinstance(a, OcrResult) and isinstance(b, OcrResult)
        assert (a.lines, a.rotation, a.width, a.height) == (b.lines, b.rotation, b.width, b.height)


def _page(scans: tuple[Path, list[ScanTruth]], index: int) -> np.ndarray:
    out, truths = scans
    arr, _ = shrink(to_array(Image.open(out / truths[index].path)), MAX_SIDE)
    return arr


def test_two_workers_read_exactly_what_the_local_pool_reads(
    broker: RedisServer,
    pair: list[Worker],
    scans: tuple[Path, list[ScanTruth]],
    local: dict[str, Extraction],
) -> None:
    out, truths = scans
    # the same scan twice, in two documents read at once (a blank separator sheet, a
    # rescanned page): one page id, both documents get its reading
    twin = out / "twin" / Path(truths[0].path).name
    twin.parent.mkdir(exist_ok=True)
    twin.write_bytes((out / truths[0].path).read_bytes())
    docs = [(out / t.path, t.mime) for t in truths] + [(twin, truths[0].mime)]
    with OcrQueue(broker.url, wait_seconds=60) as queue:
        assert queue.info.identity == heartbeat(broker, "w1")["identity"]  # type: ignore[index]
        # as intake does: several documents in flight, each sending all its pages
        with cf.ThreadPoolExecutor(len(docs)) as ex:
            read = list(ex.map(lambda d: extract_document(d[0], d[1], ocr=queue), docs))
    remote = dict(zip([t.path for t in truths], read, strict=False))
    for truth in truths:
        _same(remote[truth.path], local[truth.path])  # text, boxes' rotation, confidence, quality
        assert remote[truth.path].searchable_pdf == local[truth.path].searchable_pdf  # every box
    _same(read[-1], local[truths[0].path])
    assert {p.rotation for ex in remote.values() for p in ex.pages} >= {0, 90, 180}
    # the workers lifted the licence's seal off before reading and read its ring text, as
    # the local pool does
    ring = [s["text"] for ex in remote.values() for p in ex.pages for s in p.seals or []]
    assert any(text and "烟草专卖局" in text for text in ring), ring
    # both machines read
    assert all("succeeded" in w.text() for w in pair), [w.text()[-2000:] for w in pair]
    assert broker.client().keys("dangan:ocr:tries:*") == []  # collected readings leave nothing


def _forget_readings(broker: RedisServer) -> None:
    """Drop the readings earlier tests collected (they stay ten minutes for any other document
    holding the same page), so that a test's pages are sent and read again."""
    client = broker.client()
    stored = list(client.scan_iter("celery-task-meta-*"))
    if stored:
        client.delete(*stored)


def test_a_restarted_broker_loses_no_page(
    broker: RedisServer,
    pair: list[Worker],
    scans: tuple[Path, list[ScanTruth]],
    local: dict[str, Extraction],
) -> None:
    out, truths = scans
    _forget_readings(broker)
    notices: list[str] = []
    with OcrQueue(broker.url, wait_seconds=120, notice=notices.append) as queue:
        got: dict[str, Extraction] = {}

        def read_all() -> None:
            for t in truths[:3]:
                got[t.path] = extract_document(out / t.path, t.mime, ocr=queue)

        reader = threading.Thread(target=read_all)
        reader.start()
        wait_for(lambda: broker.client().keys("dangan:ocr:reading:*"), 120, "nothing read")
        broker.stop()  # in the middle of a page: pages queued, one in hand, readings stored
        broker.start()  # same port, same folder (the append-only file)
        reader.join(timeout=600)
    assert not reader.is_alive()
    for t in truths[:3]:
        _same(got[t.path], local[t.path])


def test_a_second_message_for_a_page_already_read_is_not_read_again(
    broker: RedisServer, pair: list[Worker], scans: tuple[Path, list[ScanTruth]]
) -> None:
    """A page sent again (or handed on after --redeliver-after while its first reader was
    still at it) whose reading is stored is acknowledged without a second reading."""
    page = _page(scans, 2)
    info = engine_info("openvino")
    with OcrQueue(broker.url, wait_seconds=120) as queue:
        [first] = queue.read_many([page])
    task_id, payload = make_payload(page, info, True)
    client = broker.client()
    stored = client.get(f"celery-task-meta-{task_id}")
    assert stored is not None and client.get(tries_key(task_id)) is None
    app = make_app(broker.url)
    try:
        app.send_task(TASK, args=[payload], task_id=task_id, queue=queue_name(info))
        wait_for(
            lambda: any(f"[{task_id}] ignored" in w.text() for w in pair), 120, "not acknowledged"
        )
    finally:
        app.close()
    assert client.get(tries_key(task_id)) is None  # not counted as a try, not read
    assert client.get(f"celery-task-meta-{task_id}") == stored
    assert client.llen(queue_name(info)) == 0
    assert isinstance(first, OcrResult) and first.lines


def _queued_archive(root: Path, url: str, wait: float = 600) -> Path:
    """An archive whose OCR goes through the queue at ``url``."""
    from conftest import make_archive

    make_archive(root, broker=f'"{url}"', wait_seconds=wait)
    config = root / "dangan.toml"
    text = config.read_text(encoding="utf-8").replace("enabled = false", "enabled = true")
    config.write_text(text, encoding="utf-8")
    return root


def _drop(scans: tuple[Path, list[ScanTruth]], archive: Path, *indexes: int) -> list[Path]:
    """Copy sample scans into the archive's inbox (许可证/ and 案卷/ as their type says)."""
    import shutil

    out, truths = scans
    dropped = []
    for i in indexes:
        truth = truths[i]
        kind = "许可证" if "licence" in truth.keys else "案卷"
        target = archive / "inbox" / kind / Path(truth.path).name
        shutil.copy(out / truth.path, target)
        dropped.append(target)
    return dropped


def test_a_page_that_kills_its_reader_every_time_quarantines_its_document(
    broker: RedisServer, pair: list[Worker], tmp_path: Path, scans: tuple[Path, list[ScanTruth]]
) -> None:
    """The reader holding the poison page is killed each time it starts on it (as the kernel's
    out-of-memory killer would); after three deaths the page is answered as poison and its
    document goes to quarantine with the reason; the other document is filed."""
    import json
    import os
    import signal

    from conftest import json_lines, run_dangan

    _forget_readings(broker)
    archive = _queued_archive(tmp_path / "档案库", broker.url)
    poison, healthy = _drop(scans, archive, 0, 2)
    # intake reads with the seals lifted: the page's id names that reader
    task_id, _ = make_payload(_page(scans, 0), engine_info("openvino"), True, "sealed")
    kills: list[int] = []
    stop = threading.Event()

    def killer() -> None:
        client = broker.client()
        while not stop.is_set():
            raw = client.get(reading_key(task_id))
            if raw:
                pid = json.loads(raw)["pid"]
                if pid not in kills:
                    kills.append(pid)
                    os.kill(pid, signal.SIGKILL)
            stop.wait(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        done = run_dangan("ingest", "--json", "--archive", archive)
    finally:
        stop.set()
        thread.join()
    assert done.returncode == 0, done.stderr
    outcomes = {Path(o["source"]).name: o for o in json_lines(done.stdout)}
    bad = outcomes[poison.name]
    assert bad["outcome"] == "quarantined" and bad["code"] == "ocr_crash"
    assert "3 次使OCR工作进程中断" in bad["reason"]
    why = json.loads((archive / (bad["record"] + ".why.json")).read_text(encoding="utf-8"))
    assert why["code"] == "ocr_crash"
    assert (archive / bad["record"]).read_bytes() == (scans[0] / scans[1][0].path).read_bytes()
    assert outcomes[healthy.name]["outcome"] in ("filed", "unfiled")
    assert len(kills) == 3  # three readers died on it; the fourth delivery was not read
    assert not poison.exists() and not healthy.exists()


def test_no_worker_reachable_files_wait_in_the_inbox(
    broker: RedisServer, workers: list[Worker], tmp_path: Path, scans: tuple[Path, list[ScanTruth]]
) -> None:
    from conftest import json_lines, run_dangan

    url = _db(broker, 1)
    archive = _queued_archive(tmp_path / "档案库", url, wait=3)
    dropped = _drop(scans, archive, 0, 2)
    first = run_dangan("ingest", "--json", "--archive", archive)
    assert first.returncode == 0, first.stderr
    assert "没有在线的OCR工作进程" in first.stderr and "dangan ocr-worker --broker" in first.stderr
    outcomes = json_lines(first.stdout)
    assert {o["outcome"] for o in outcomes} == {"skipped"}
    assert {o["code"] for o in outcomes} == {"ocr_unavailable"}
    assert all(p.exists() for p in dropped)  # nothing moved, nothing lost
    assert not any((archive / "records").rglob("*.json"))
    # the pages sent wait in the queue; a worker that comes up reads them, the next run files
    workers.append(start_worker(broker, tmp_path, "w3", "--broker", url, "--processes", "1"))
    second = run_dangan("ingest", "--json", "--archive", archive)
    assert second.returncode == 0, second.stderr
    assert {o["outcome"] for o in json_lines(second.stdout)} <= {"filed", "unfiled"}
    assert not any(p.exists() for p in dropped)


def test_a_worker_of_another_engine_refuses_to_read_for_the_archive(
    broker: RedisServer, workers: list[Worker], tmp_path: Path, scans: tuple[Path, list[ScanTruth]]
) -> None:
    from conftest import run_dangan

    url = _db(broker, 2)
    workers.append(
        start_worker(
            broker, tmp_path, "w4", "--broker", url, "--processes", "1", "--engine", "onnxruntime"
        )
    )
    archive = _queued_archive(tmp_path / "档案库", url)  # engine "auto": OpenVINO here
    dropped = _drop(scans, archive, 0)
    done = run_dangan("ingest", "--archive", archive)
    assert done.returncode == 12, done.stderr
    assert "工作进程与本档案库的OCR引擎不同" in done.stderr
    assert "openvino" in done.stderr and "onnxruntime" in done.stderr
    assert "dangan ocr-worker --engine openvino" in done.stderr
    assert dropped[0].exists()
    with pytest.raises(EngineMismatch):
        OcrQueue(url)
    # a page sent to it anyway (an archive of another dangan version) is refused, not read
    page = _page(scans, 0)
    _, payload = make_payload(page, engine_info("openvino"), True)
    app = make_app(url)
    answer = app.send_task(TASK, args=[payload], queue=queue_name(engine_info("onnxruntime")))
    refusal = answer.get(timeout=120)
    assert refusal["ok"] is False and refusal["code"] == "engine_mismatch"
    assert "拒绝识别" in refusal["message"]
    app.close()


def test_pages_too_large_for_a_worker_are_refused_clearly(
    broker: RedisServer, pair: list[Worker], scans: tuple[Path, list[ScanTruth]]
) -> None:
    info = engine_info("openvino")
    app = make_app(broker.url)
    # wider than a worker takes (a sender that did not shrink it): refused from its header
    _, payload = make_payload(np.full((40, MAX_SIDE + 1), 255, np.uint8), info, True)
    refusal = app.send_task(TASK, args=[payload], queue=queue_name(info)).get(timeout=120)
    assert refusal["code"] == "too_large" and f"{MAX_SIDE + 1}×40 像素" in refusal["message"]
    app.close()
    # the archive's side never sends a page over the queue's byte limit
    with OcrQueue(broker.url, max_page_bytes=10_000) as queue:
        noisy = np.random.default_rng(1).integers(0, 255, (800, 600), dtype=np.uint8)
        [result] = queue.read_many([noisy])
    assert isinstance(result, Exception) and "超过OCR队列每页上限" in str(result)
    # and a big scan is shrunk as local reading shrinks it, then read
    with OcrQueue(broker.url) as queue:
        big = _page(scans, 0).repeat(2, axis=0).repeat(2, axis=1)
        result = queue.read(big)
    assert result.width == big.shape[1] and result.lines


def test_a_wrong_or_unreachable_broker_is_a_clear_error(
    tmp_path: Path, scans: tuple[Path, list[ScanTruth]]
) -> None:
    from _serve import free_port
    from conftest import run_dangan

    url = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    with pytest.raises(OcrQueueError, match="无法连接OCR队列"):
        OcrQueue(url)
    archive = _queued_archive(tmp_path / "档案库", url)
    dropped = _drop(scans, archive, 0)
    done = run_dangan("ingest", "--archive", archive)
    assert done.returncode == 13
    assert f"无法连接OCR队列 {url}" in done.stderr and "redis-server" in done.stderr
    assert dropped[0].exists()
    worker = run_dangan("ocr-worker", "--broker", url.replace("redis", "http"), timeout=60)
    assert worker.returncode != 0 and "应以 redis:// 开头" in worker.stderr
    worker = run_dangan("ocr-worker", "--broker", url, timeout=60)
    assert worker.returncode == 13 and "无法连接OCR队列" in worker.stderr
    assert OcrUnavailable.code == "ocr_unavailable"


def _hold_and_kill(broker: RedisServer, task_id: str, victims: list[Worker]) -> Worker:
    """Wait until a worker is reading ``task_id``, then kill that whole worker."""
    import json

    try:
        holder = wait_for(lambda: broker.client().get(reading_key(task_id)), 120, "page never read")
    except AssertionError as exc:
        logs = "\n".join(f"--- {w.name}\n{w.text()[-3000:]}" for w in victims)
        raise AssertionError(f"{exc}\n{logs}") from None
    name = json.loads(holder)["worker"].split("-")[0]
    victim = next(w for w in victims if w.name == name)
    victim.kill()
    return victim


def test_a_worker_killed_in_the_middle_of_a_page_has_it_read_by_another(
    broker: RedisServer, pair: list[Worker], scans: tuple[Path, list[ScanTruth]]
) -> None:
    page = _page(scans, 0)
    info = engine_info("openvino")
    task_id, _ = make_payload(page, info, True)
    _forget_readings(broker)  # the big scan of the test before shrinks to this very page
    with OcrPool(0, threads=1) as pool:
        expected = pool.read(page)
    with OcrQueue(broker.url, wait_seconds=120) as queue:
        got: dict[str, Any] = {}
        reader = threading.Thread(target=lambda: got.update(r=queue.read_many([page])))
        reader.start()
        victim = _hold_and_kill(broker, task_id, pair)
        reader.join(timeout=300)
    assert not reader.is_alive()
    [result] = got["r"]
    _same(result, expected)
    survivor = next(w for w in pair if w is not victim)
    assert task_id in survivor.text() and "succeeded" in survivor.text()
