"""OCR on many machines: the Celery app over a Redis broker, the page task, and the worker.

``dangan ocr-worker --broker redis://HOST:PORT/N`` runs :func:`run_worker` on any number of
machines: a Celery worker whose prefork children each load one :class:`~indexers.ocr.OcrEngine`
(the same engine and reading as local OCR) and read pages from the queue of their engine's
identity (``dangan.ocr.<identity>``). The archive's side is :mod:`indexers.ocr_client`.

What makes it safe:

- **Late acknowledgement.** A page leaves the broker only after its reading is stored. A reader
  killed in the middle of a page (out of memory, SIGKILL) has the page put back at once
  (``task_reject_on_worker_lost``); a whole worker machine that vanishes has its pages put back
  after ``redeliver_after`` seconds (the Redis transport's visibility timeout). A message for
  a page whose reading is already stored is acknowledged without reading it again.
- **Poison pages.** Every delivery of a page counts a try in Redis before reading; a page whose
  readers died :data:`MAX_TRIES` times is not read again but answered as poison, and the
  archive quarantines its document with the reason.
- **One reading per archive.** A page carries the engine identity the archive wants; a reader
  of another identity answers with a refusal instead of a reading.
- **Bounded input.** JSON only (never pickle); a page is a PNG of at most
  :data:`~indexers.ocr.MAX_SIDE` pixels a side and :data:`MAX_PAGE_BYTES` bytes, checked
  from its header before it is decoded.
- **Liveness.** Each worker writes a heartbeat key every few seconds (its identity, processes,
  host); the archive reads them to tell "no worker" from "workers of another engine".
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import socket
import struct
import threading
import time
from typing import Any

import cv2
import numpy as np

from archive.core.config import broker_problem, masked_url
from indexers.ocr import (
    MAX_SIDE,
    OcrEngine,
    OcrError,
    OcrLine,
    OcrResult,
    PageReader,
    read_page,
)
from indexers.ocr_engines import EngineInfo
from indexers.seals import Seal, SealedResult, read_sealed_page

TASK = "dangan.ocr.read_page"
MAX_PAGE_BYTES = 24 * 1024 * 1024  # PNG bytes of one page (a noisy 2000 px colour page is ~6 MB)
MAX_TRIES = 3  # deliveries whose reader died before a page counts as poison
KEEP_SECONDS = 7 * 24 * 3600  # readings and try counts not collected expire after a week
HEARTBEAT_SECONDS = 5.0
HEARTBEAT_TTL = 15  # seconds without a heartbeat: the worker is gone
_PREFIX = "dangan:ocr:"
_PNG = b"\x89PNG\r\n\x1a\n"

log = logging.getLogger("dangan.ocr")

# The ways of reading a page a worker knows, by the name a page carries: only these run (a
# page never names code to import), and each is the same function local reading runs.
READERS: dict[str, PageReader] = {"plain": read_page, "sealed": read_sealed_page}


class OcrQueueError(OcrError):
    """The broker URL is wrong or the broker cannot be reached."""

    exit_code = 13


def check_broker(url: str, timeout: float = 5.0) -> Any:
    """A connected Redis client for ``url``, or :class:`OcrQueueError` saying what is wrong."""
    import redis

    problem = broker_problem(url)
    if problem:
        raise OcrQueueError(f"OCR队列地址 {problem}")
    client = redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=30, health_check_interval=10
    )
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        raise OcrQueueError(
            f"OCR队列 {masked_url(url)} 拒绝登录 ({exc}); 请检查地址中的密码"
        ) from exc
    except redis.RedisError as exc:
        raise OcrQueueError(
            f"无法连接OCR队列 {masked_url(url)} ({exc}); 请检查 [ocr] broker 地址, "
            "以及该机器上的 redis-server 是否在运行、端口是否放行"
        ) from exc
    return client


def queue_name(info: EngineInfo) -> str:
    """The queue for pages read by engine ``info`` (only its workers consume it)."""
    return f"dangan.ocr.{info.identity}"


def tries_key(task_id: str) -> str:
    return f"{_PREFIX}tries:{task_id}"


def reading_key(task_id: str) -> str:
    """Who reads the page now: ``{"host", "pid", "worker"}`` while a reader holds it."""
    return f"{_PREFIX}reading:{task_id}"


def heartbeat_key(hostname: str) -> str:
    return f"{_PREFIX}worker:{hostname}"


HEARTBEAT_PATTERN = f"{_PREFIX}worker:*"


# ----------------------------------------------------------------- wire format


def encode_page(arr: np.ndarray) -> bytes:
    """A page (uint8 grey or 3-channel, at most MAX_SIDE) as lossless PNG bytes; decoding
    gives back the same array, channel order included."""
    # zlib level 1 with run-length matching: the smallest and quickest of the settings tried
    # on generated scans (1.2 MB for a 2000 x 1414 grey page against 1.4 MB by default)
    params = [
        cv2.IMWRITE_PNG_COMPRESSION,
        1,
        cv2.IMWRITE_PNG_STRATEGY,
        cv2.IMWRITE_PNG_STRATEGY_RLE,
    ]
    ok, buf = cv2.imencode(".png", arr, params)
    if not ok:  # pragma: no cover - cv2 encodes every uint8 array
        raise OcrError("页面图像无法编码为 PNG")
    return bytes(buf)


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header, or None when it is not a PNG."""
    if len(data) < 24 or not data.startswith(_PNG) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def page_problem(data: bytes) -> str | None:
    """Why a worker refuses these page bytes (Chinese), or None when it reads them."""
    if len(data) > MAX_PAGE_BYTES:
        return (
            f"页面图像过大: 编码后 {len(data) / 1e6:.1f} MB, "
            f"OCR工作进程每页最多接受 {MAX_PAGE_BYTES / 1e6:.0f} MB"
        )
    size = png_size(data)
    if size is None:
        return "页面不是 PNG 图像, OCR工作进程无法读取"
    width, height = size
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        return (
            f"页面图像过大: {width}×{height} 像素, OCR工作进程只接受长边不超过 {MAX_SIDE} 像素的"
            "页面 (发送方应先缩小; 请让档案库与工作进程使用同一版本的 dangan)"
        )
    return None


def decode_page(data: bytes) -> np.ndarray:
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise OcrError("页面 PNG 已损坏, 无法解码")
    return np.ascontiguousarray(arr)


def result_to_json(result: OcrResult) -> dict[str, Any]:
    """An OcrResult (a SealedResult with its seals) as JSON; floats survive exactly (JSON
    writes them round-trip)."""
    out: dict[str, Any] = {
        "lines": [[ln.text, [list(p) for p in ln.box], ln.score] for ln in result.lines],
        "rotation": result.rotation,
        "width": result.width,
        "height": result.height,
        "seconds": result.seconds,
    }
    if isinstance(result, SealedResult):
        out["seals"] = [dataclasses.asdict(seal) for seal in result.seals]
        out["separate_seconds"] = result.separate_seconds
        out["ring_seconds"] = result.ring_seconds
    return out


def result_from_json(data: dict[str, Any]) -> OcrResult:
    lines = [
        OcrLine(str(text), tuple((float(x), float(y)) for x, y in box), float(score))  # type: ignore[arg-type]
        for text, box, score in data["lines"]
    ]
    page = (lines, int(data["rotation"]), int(data["width"]), int(data["height"]))
    if "seals" not in data:
        return OcrResult(*page, data["seconds"])
    return SealedResult(
        *page,
        data["seconds"],
        seals=tuple(Seal(**seal) for seal in data["seals"]),
        separate_seconds=float(data["separate_seconds"]),
        ring_seconds=float(data["ring_seconds"]),
    )


def reader_name(reader: PageReader) -> str:
    """The name a page carries for ``reader``; :class:`OcrError` for a reader workers lack."""
    for name, known in READERS.items():
        if known is reader:
            return name
    raise OcrError(
        f"识别方式 {getattr(reader, '__name__', reader)!r} 不能经OCR队列在其他机器上运行"
    )


def make_payload(
    arr: np.ndarray, info: EngineInfo, orient: bool, reader: str = "plain"
) -> tuple[str, dict[str, Any]]:
    """(task id, payload) for a page read by ``reader`` (a name in :data:`READERS`). The id
    is the page's content address: the same page for the same engine and reader is the same
    task, so a page sent again after an interruption finds its reading if a worker already
    stored it, and its try count if it kills readers."""
    import hashlib

    png = encode_page(arr)
    head = f"{info.identity}|{int(orient)}|{reader}|".encode()
    digest = hashlib.sha256(head + png).hexdigest()
    payload = {
        "identity": info.identity,
        "orient": bool(orient),
        "reader": reader,
        "png": base64.b64encode(png).decode("ascii"),
    }
    return f"page-{digest[:40]}", payload


# ----------------------------------------------------------------- the Celery app


def make_app(broker: str, *, redeliver_after: float = 300.0) -> Any:
    """The Celery app over ``broker`` (a Redis URL), results in the same Redis."""
    from celery import Celery

    app = Celery("dangan-ocr", broker=broker, backend=broker, set_as_current=False)
    transport = {
        "visibility_timeout": redeliver_after,
        "unacked_restore_interval": max(1, min(10, int(redeliver_after // 3) or 1)),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": 5,
        "socket_timeout": 30,
        "health_check_interval": 10,
    }
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # a reader loads its engine before it says it is up (2-3 s idle, far more on a busy
        # machine): billiard's default 4 s would kill and restart it forever
        worker_proc_alive_timeout=600,
        result_expires=KEEP_SECONDS,
        result_backend_always_retry=True,
        result_backend_max_retries=1_000_000,
        broker_transport_options=transport,
        result_backend_transport_options={"socket_connect_timeout": 5, "socket_timeout": 30},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_channel_error_retry=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        task_default_queue="dangan.ocr.unrouted",
    )
    app.task(name=TASK, bind=True)(_read_page)
    return app


# ----------------------------------------------------------------- inside a reader


class _Reader:
    """What one prefork child holds: its engine and a Redis connection."""

    engine: OcrEngine | None = None
    redis: Any = None
    hostname: str = ""
    problem: str | None = None  # why the engine could not be loaded


_READER = _Reader()


def _patiently(call: Any, *args: Any, **kwargs: Any) -> Any:
    """A Redis call retried while the broker restarts (up to ten minutes): a page in hand is
    not failed because the broker blinked."""
    import redis

    deadline = time.monotonic() + 600
    while True:
        try:
            return call(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def _refusal(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message, "worker": _READER.hostname}


def _already_read(task: Any, task_id: str) -> bool:
    """Whether a reading of this page is stored (not a refusal, which is tried again)."""
    raw = _patiently(_READER.redis.get, task.backend.get_key_for_task(task_id))
    if raw is None:
        return False
    meta = task.backend.decode_result(raw)
    answer = meta.get("result")
    return meta.get("status") == "SUCCESS" and isinstance(answer, dict) and bool(answer.get("ok"))


def _read_page(task: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Read one page (runs in a worker's child process)."""
    task_id = str(task.request.id)
    engine = _READER.engine
    if engine is None:
        return _refusal("engine_unavailable", _READER.problem or "OCR引擎未加载")
    wanted = str(payload.get("identity", ""))
    if wanted != engine.info.identity:
        return _refusal(
            "engine_mismatch",
            f"工作进程 {_READER.hostname} 的OCR引擎为 {engine.info.describe()} "
            f"[{engine.info.identity}], 与档案库要求的 {wanted} 不同, 拒绝识别",
        )
    try:
        data = base64.b64decode(str(payload["png"]), validate=True)
    except (KeyError, ValueError) as exc:
        return _refusal("bad_page", f"页面数据无效 ({exc})")
    problem = page_problem(data)
    if problem:
        return _refusal("too_large" if "过大" in problem else "bad_page", problem)
    reader = READERS.get(str(payload.get("reader", "plain")))
    if reader is None:
        return _refusal(
            "bad_page",
            f"工作进程 {_READER.hostname} 不认识识别方式 {payload.get('reader')!r}; "
            "请让档案库与工作进程使用同一版本的 dangan",
        )
    if _already_read(task, task_id):
        # a second message for a page already read (sent again, or handed on after
        # redeliver_after while its first reader was still at it): no second reading
        from celery.exceptions import Ignore

        raise Ignore()
    tries = int(_patiently(_READER.redis.incr, tries_key(task_id)))
    _patiently(_READER.redis.expire, tries_key(task_id), KEEP_SECONDS)
    if tries > MAX_TRIES:
        return _refusal(
            "poison",
            f"该页已 {tries - 1} 次使OCR工作进程中断 (内存耗尽或崩溃), 不再重试",
        )
    where = {"host": socket.gethostname(), "pid": os.getpid(), "worker": _READER.hostname}
    _patiently(_READER.redis.set, reading_key(task_id), json.dumps(where), ex=3600)
    try:
        arr = decode_page(data)
        result = reader(engine, arr, bool(payload.get("orient", True)))
    except Exception as exc:
        return _refusal("error", f"OCR识别失败 ({type(exc).__name__}: {exc})")
    finally:
        _patiently(_READER.redis.delete, reading_key(task_id))
    return {
        "ok": True,
        "result": result_to_json(result),
        "identity": engine.info.identity,
        "worker": _READER.hostname,
        "tries": tries,
    }


# ----------------------------------------------------------------- the worker


def run_worker(
    broker: str,
    *,
    engine: str = "auto",
    processes: int | None = None,
    threads: int | None = None,
    redeliver_after: float = 300.0,
    name: str | None = None,
) -> None:
    """Run an OCR worker until it is stopped (SIGTERM/SIGINT finish the pages in hand).

    ``processes`` readers (default: one per core), each with ``threads`` inference threads
    (default: the cores shared out). Raises :class:`~indexers.ocr.OcrError` when the broker
    cannot be reached or the engine cannot be loaded here.
    """
    import redis
    from celery import signals

    from indexers.ocr_engines import engine_info, resolve_engine

    check_broker(broker)
    engine_name = resolve_engine(engine)
    info = engine_info(engine_name)
    cpus = os.cpu_count() or 1
    procs = processes or cpus
    per = threads or max(1, cpus // procs)
    host = socket.gethostname()
    hostname = f"{name or 'ocr'}-{info.name}@{host}-{os.getpid()}"
    app = make_app(broker, redeliver_after=redeliver_after)
    queue = queue_name(info)

    def child_init(**_: Any) -> None:
        _READER.hostname = hostname
        _READER.redis = redis.Redis.from_url(broker, socket_connect_timeout=5, socket_timeout=30)
        try:
            _READER.engine = OcrEngine(per, engine_name)
        except Exception as exc:  # every page is then refused with the reason
            _READER.problem = f"工作进程 {hostname} 无法加载OCR引擎: {exc}"
            log.error("%s", _READER.problem)

    stop = threading.Event()
    beat = {
        "hostname": hostname,
        "host": host,
        "pid": os.getpid(),
        "queue": queue,
        "processes": procs,
        "threads": per,
        "started": time.time(),
        **info.as_dict(),
    }

    def heartbeat() -> None:
        client = redis.Redis.from_url(broker, socket_connect_timeout=5, socket_timeout=10)
        while not stop.is_set():
            try:
                client.set(heartbeat_key(hostname), json.dumps(beat), ex=HEARTBEAT_TTL)
            except redis.RedisError as exc:  # the broker is away: beat again when it is back
                log.warning("heartbeat: %s", exc)
            stop.wait(HEARTBEAT_SECONDS)
        try:
            client.delete(heartbeat_key(hostname))
        except redis.RedisError:
            pass

    beater = threading.Thread(target=heartbeat, name="dangan-ocr-heartbeat", daemon=True)
    signals.worker_process_init.connect(child_init, weak=False)
    signals.worker_ready.connect(lambda **_: beater.start(), weak=False)
    log.info(
        "OCR worker %s: %s, %d processes x %d threads, queue %s on %s",
        hostname,
        info.describe(),
        procs,
        per,
        queue,
        masked_url(broker),
    )
    worker = app.Worker(
        hostname=hostname,
        queues=[queue],
        concurrency=procs,
        pool="prefork",
        without_mingle=True,
        without_gossip=True,
        without_heartbeat=True,
        loglevel="INFO",
    )
    try:
        worker.start()
    finally:
        stop.set()
        if beater.is_alive():
            beater.join(timeout=HEARTBEAT_SECONDS + 1)
