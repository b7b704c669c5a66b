"""The archive's side of the OCR queue: send pages, collect readings, file them at home.

:class:`OcrQueue` reads pages like :class:`~indexers.ocr.OcrPool` (``read_many``), but through
the Celery queue of :mod:`indexers.ocr_queue`, read by ``dangan ocr-worker`` processes on any
number of machines. Filing stays with the archive (single writer); only pixels travel.

- A page is shrunk exactly as local reading shrinks it and sent as lossless PNG: the reading
  that comes back equals the local pool's, page for page, box for box.
- Pages are content-addressed: a page sent again (after an interruption, or by a second run)
  finds the reading a worker already stored, and carries its try count with it; a page two
  documents in flight both hold (a blank separator sheet) is sent and read once.
- No worker of the archive's engine reachable for ``wait_seconds`` → :class:`OcrUnavailable`
  (a :class:`~archive.core.errors.TryLater`: intake leaves the file in the inbox); workers of
  another engine only → :class:`EngineMismatch` naming both; the broker restarting → waits.
- A page whose readers keep dying → :class:`PoisonPage`, which intake quarantines.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from archive.core.config import masked_url
from archive.core.errors import TryLater
from indexers.ocr import (
    MAX_SIDE,
    OcrError,
    OcrResult,
    PageReader,
    Progress,
    read_one,
    read_page,
    scaled,
    shrink,
    to_array,
)
from indexers.ocr_engines import EngineInfo, engine_info, resolve_engine
from indexers.ocr_queue import (
    HEARTBEAT_PATTERN,
    MAX_PAGE_BYTES,
    TASK,
    check_broker,
    make_app,
    make_payload,
    queue_name,
    reader_name,
    reading_key,
    result_from_json,
    tries_key,
)
from indexers.textlayer import ExtractError

_LIVENESS_SECONDS = 2.0  # how often heartbeats are looked at while waiting
_COLLECTED_TTL = 600  # seconds a collected reading stays for other documents with the page
_LOST_SECONDS = 300.0  # a page nobody holds for this long, its queue empty, is sent again


class OcrUnavailable(TryLater):
    """No OCR worker of the archive's engine answered in time; the file waits."""

    code = "ocr_unavailable"


class EngineMismatch(TryLater):
    """Only workers of another engine or model version are on the queue; they must not read
    for this archive."""

    code = "ocr_engine_mismatch"


class PoisonPage(ExtractError):
    """A page killed its readers every time: the document goes to quarantine."""

    code = "ocr_crash"


def live_workers(client: Any) -> list[dict[str, Any]]:
    """The heartbeats of every OCR worker on the broker now."""
    keys = sorted(client.scan_iter(match=HEARTBEAT_PATTERN, count=500))
    beats = client.mget(keys) if keys else []
    out = []
    for raw in beats:
        if raw:
            try:
                out.append(json.loads(raw))
            except ValueError:
                continue
    return out


class OcrQueue:
    """Read pages through the OCR queue at ``broker`` with engine ``engine`` (as resolved
    here: the archive's own identity, so its queued and local readings never mix).

    ``notice`` receives a Chinese line when reading has to wait (no worker, broker away).
    Safe to share between the intake's reading threads.
    """

    in_process = False

    def __init__(
        self,
        broker: str,
        *,
        engine: str = "auto",
        wait_seconds: float = 600.0,
        notice: Callable[[str], None] | None = None,
        max_page_bytes: int = MAX_PAGE_BYTES,
        poll_seconds: float = 0.2,
    ) -> None:
        self.broker = broker
        self._redis = check_broker(broker)
        self.info: EngineInfo = engine_info(resolve_engine(engine))
        self.queue = queue_name(self.info)
        self.wait_seconds = wait_seconds
        self.max_page_bytes = max_page_bytes
        self._notice = notice or (lambda _msg: None)
        self._poll = poll_seconds
        self._app = make_app(broker)
        self._send_lock = threading.Lock()
        self._flight_lock = threading.Lock()
        self._in_flight: dict[str, int] = {}  # page id → documents of this archive waiting on it
        self._down: str | None = (
            None  # why the last wait gave up (fail fast until a worker is back)
        )
        mine = self.check()
        processes = sum(int(w.get("processes", 1)) for w in mine)
        # documents in flight: enough to keep every reader busy while the archive files
        self.workers = max(4, min(64, 2 * processes))

    # -- lifecycle
    def __enter__(self) -> OcrQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._app.close()
        finally:
            self._redis.close()

    # -- workers
    def check(self) -> list[dict[str, Any]]:
        """The live workers of this archive's engine; :class:`EngineMismatch` when only
        workers of other engines are there (none at all is not an error: pages wait)."""
        beats = live_workers(self._redis)
        mine = [b for b in beats if b.get("identity") == self.info.identity]
        if beats and not mine:
            raise EngineMismatch(self._mismatch(beats))
        return mine

    def _mismatch(self, beats: list[dict[str, Any]]) -> str:
        theirs = "; ".join(
            f"{b.get('hostname')}: {b.get('name')} ({b.get('package')}, {b.get('runtime')}, "
            f"模型 {b.get('models')}, 识别代码 {b.get('reading')})"
            for b in beats[:5]
        )
        return (
            f"OCR队列 {masked_url(self.broker)} 上的工作进程与本档案库的OCR引擎不同, 不会用它们的识别结果 "
            f"(一个档案库不混用两种识别). 本档案库: {self.info.describe()}; 工作进程: {theirs}. "
            f"请在识别机器上用同一版本的 dangan 运行 dangan ocr-worker --engine {self.info.name}, "
            "或修改 dangan.toml 的 [ocr] engine"
        )

    def _no_worker(self, pending: int) -> str:
        return (
            f"没有在线的OCR工作进程 (队列 {self.queue}, {masked_url(self.broker)}); "
            f"{pending} 页在队列中等待. 请在识别机器上运行 dangan ocr-worker --broker "
            f"{masked_url(self.broker)}"
        )

    # -- reading
    def read(self, image: Image.Image | np.ndarray, *, orient: bool = True) -> OcrResult:
        """Read one page; raises :class:`OcrError` when it cannot be read."""
        return read_one(self, image, orient=orient)

    def read_many(
        self,
        images: Sequence[Image.Image | np.ndarray],
        *,
        orient: bool = True,
        progress: Progress | None = None,
        reader: PageReader = read_page,
    ) -> list[OcrResult | BaseException]:
        """Read pages through the queue; a page that fails gives its exception in its slot.
        ``reader`` is how a worker reads each page (one of :data:`~indexers.ocr_queue.READERS`).

        Raises :class:`OcrUnavailable` / :class:`EngineMismatch` when no worker of this
        engine reads within ``wait_seconds`` (pages already sent stay queued: a later run
        collects their readings), :class:`PoisonPage` when a page killed its readers.
        """
        how = reader_name(reader)
        total = len(images)
        slots: list[OcrResult | BaseException | None] = [None] * total
        tasks: dict[str, list[tuple[int, float, int, int]]] = {}
        payloads: dict[str, dict[str, Any]] = {}
        for i, image in enumerate(images):
            arr = to_array(image)
            work, scale = shrink(arr, MAX_SIDE)
            task_id, payload = make_payload(work, self.info, orient, how)
            size = len(payload["png"]) * 3 // 4
            if size > self.max_page_bytes:
                slots[i] = OcrError(
                    f"第{i + 1}页图像编码后 {size / 1e6:.1f} MB, 超过OCR队列每页上限 "
                    f"{self.max_page_bytes / 1e6:.0f} MB; 未发送"
                )
                continue
            tasks.setdefault(task_id, []).append((i, scale, arr.shape[1], arr.shape[0]))
            payloads[task_id] = payload
        if tasks and self._down is not None:
            self._fail_fast()
        done = sum(s is not None for s in slots)
        if progress and done:
            progress(done, total)
        sent = self._collect(list(tasks), slots, tasks)  # readings stored by an earlier run
        pending = [t for t in tasks if t not in sent]
        poison: list[str] = []
        with self._flight_lock:  # a page another document has in flight is not sent twice
            fresh = [t for t in pending if t not in self._in_flight]
            for t in pending:
                self._in_flight[t] = self._in_flight.get(t, 0) + 1
        try:
            self._send(fresh, payloads)
            self._wait(pending, payloads, slots, tasks, poison, progress, total)
        finally:
            with self._flight_lock:
                for t in pending:
                    self._in_flight[t] -= 1
                    if not self._in_flight[t]:
                        del self._in_flight[t]
        if poison:
            raise PoisonPage(
                "; ".join(poison) + "; 请检查该页图像 (是否过大或已损坏) 后重新放入收件箱"
            )
        return [s if s is not None else OcrError("OCR未返回结果") for s in slots]

    def _fail_fast(self) -> None:
        """After a wait gave up: fail at once until a worker of this engine is back."""
        try:
            mine = self.check()
        except EngineMismatch:
            raise
        except Exception as exc:
            raise OcrUnavailable(f"{self._down} ({exc})") from exc
        if not mine:
            raise OcrUnavailable(str(self._down))
        self._down = None

    def _send(self, task_ids: list[str], payloads: dict[str, dict[str, Any]]) -> None:
        deadline = time.monotonic() + self.wait_seconds
        for task_id in task_ids:
            while True:
                try:
                    with self._send_lock:
                        self._app.send_task(
                            TASK,
                            args=[payloads[task_id]],
                            task_id=task_id,
                            queue=self.queue,
                            retry=True,
                            retry_policy={"max_retries": 2, "interval_start": 0.5},
                        )
                    break
                except Exception as exc:  # the broker is away: wait for it, within reason
                    if time.monotonic() > deadline:
                        self._down = f"OCR队列 {masked_url(self.broker)} 无法连接"
                        raise OcrUnavailable(
                            f"{self._down} ({type(exc).__name__}: {exc}); 文件留在收件箱, 稍后重试"
                        ) from exc
                    self._notice(f"OCR队列连接中断 ({type(exc).__name__}), 等待恢复…")
                    time.sleep(1.0)

    def _collect(
        self,
        task_ids: list[str],
        slots: list[OcrResult | BaseException | None],
        tasks: dict[str, list[tuple[int, float, int, int]]],
        poison: list[str] | None = None,
    ) -> set[str]:
        """Fill slots from the readings stored for ``task_ids``; the ids that had one."""
        if not task_ids:
            return set()
        backend = self._app.backend
        keys = [backend.get_key_for_task(t) for t in task_ids]
        got: set[str] = set()
        for task_id, raw in zip(task_ids, self._redis.mget(keys), strict=True):
            if raw is None:
                continue
            meta = backend.decode_result(raw)
            if meta.get("status") not in ("SUCCESS", "FAILURE"):
                continue
            got.add(task_id)
            self._fill(task_id, meta, slots, tasks, poison)
        if got:  # kept a while for another document holding the same page (a blank sheet)
            pipe = self._redis.pipeline()
            for task_id in got:
                pipe.expire(backend.get_key_for_task(task_id), _COLLECTED_TTL)
                pipe.delete(tries_key(task_id))
            pipe.execute()
        return got

    def _fill(
        self,
        task_id: str,
        meta: dict[str, Any],
        slots: list[OcrResult | BaseException | None],
        tasks: dict[str, list[tuple[int, float, int, int]]],
        poison: list[str] | None,
    ) -> None:
        answer = meta.get("result")
        for i, scale, width, height in tasks[task_id]:
            if meta.get("status") != "SUCCESS" or not isinstance(answer, dict):
                slots[i] = OcrError(f"OCR工作进程出错: {answer!r}"[:300])
            elif answer.get("ok") and answer.get("identity") == self.info.identity:
                result = result_from_json(answer["result"])
                if scale != 1.0:
                    w, h = (height, width) if result.rotation in (90, 270) else (width, height)
                    result = scaled(result, 1.0 / scale, w, h)
                slots[i] = result
            elif answer.get("ok") or answer.get("code") == "engine_mismatch":
                raise EngineMismatch(str(answer.get("message") or self._mismatch([])))
            elif answer.get("code") == "engine_unavailable":
                raise OcrUnavailable(str(answer.get("message")))
            elif answer.get("code") == "poison":
                if poison is None:  # a stored verdict found before sending: still poison
                    raise PoisonPage(f"第{i + 1}页: {answer.get('message')}")
                poison.append(f"第{i + 1}页: {answer.get('message')}")
                slots[i] = OcrError(str(answer.get("message")))
            else:
                slots[i] = OcrError(str(answer.get("message")))

    def _wait(
        self,
        pending: list[str],
        payloads: dict[str, dict[str, Any]],
        slots: list[OcrResult | BaseException | None],
        tasks: dict[str, list[tuple[int, float, int, int]]],
        poison: list[str],
        progress: Progress | None,
        total: int,
    ) -> None:
        import redis

        waiting = set(pending)
        alive_at = time.monotonic()
        looked_at = 0.0
        lonely: dict[str, float] = {}  # task id → since when nobody holds it
        told = False
        while waiting:
            try:
                got = self._collect(sorted(waiting), slots, tasks, poison)
            except redis.RedisError as exc:
                got = set()
                if not told:
                    self._notice(f"OCR队列连接中断 ({type(exc).__name__}), 等待恢复…")
                    told = True
            if got:
                waiting -= got
                alive_at = time.monotonic()
                if progress:
                    progress(sum(s is not None for s in slots), total)
                continue
            now = time.monotonic()
            if now - looked_at >= _LIVENESS_SECONDS:
                looked_at = now
                try:
                    mine = self.check()
                    if mine:
                        alive_at, told = now, False
                        self._resend_lost(waiting, payloads, lonely, now)
                except redis.RedisError:
                    mine = []
                if not mine and not told:
                    self._notice(
                        self._no_worker(len(waiting)) + f"; 最多等待 {self.wait_seconds:.0f} 秒"
                    )
                    told = True
                if not mine and now - alive_at > self.wait_seconds:
                    self._down = self._no_worker(len(waiting))
                    raise OcrUnavailable(self._down + "; 文件留在收件箱, 稍后重试")
            time.sleep(self._poll)

    def _resend_lost(
        self,
        waiting: set[str],
        payloads: dict[str, dict[str, Any]],
        lonely: dict[str, float],
        now: float,
    ) -> None:
        """Send again a page nobody holds while its queue is empty for five minutes: its message
        was lost (a broker restarted without its append-only file)."""
        if self._redis.llen(self.queue):
            lonely.clear()
            return
        ids = sorted(waiting)
        held = self._redis.mget([reading_key(t) for t in ids])
        again = []
        for task_id, holder in zip(ids, held, strict=True):
            if holder is not None:
                lonely.pop(task_id, None)
            elif now - lonely.setdefault(task_id, now) > _LOST_SECONDS:
                again.append(task_id)
                lonely.pop(task_id)
        if again:
            self._send(again, payloads)
