"""Chinese OCR: the rapidocr engine, page orientation, and a pool of worker processes.

rapidocr-openvino and rapidocr-onnxruntime 1.4.4 ship the same PP-OCRv4 detection and
recognition models in their wheels; nothing is downloaded. Which one reads is chosen in
:mod:`indexers.ocr_engines` (``[ocr] engine``: OpenVINO where it runs, else onnxruntime). Its own angle classifier only flips single lines by 180°, and the raw
engine then returns an upside-down page's lines in reverse and a sideways page's lines as
scrambled columns. :meth:`OcrEngine.read` turns the whole page instead, at no extra model
cost: the detector's boxes tell a page lying on its side, the line classifier's vote over all
lines tells a page upside down, and boxes and line images are turned with the page.

:class:`OcrPool` runs engines in worker processes (one model load per process) and survives a
crashed worker, so a long-running watcher can keep one pool for its lifetime.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import cv2
import numpy as np
from PIL import Image

from archive.core.errors import ArchiveError
from indexers.ocr_engines import EngineInfo, engine_info, load_rapidocr, resolve_engine

Point = tuple[float, float]
Box = tuple[Point, Point, Point, Point]

MAX_SIDE = 2000  # rapidocr reads at most this many pixels on the long side
_MIN_DET_SIDE = 32  # pixels: smaller pages are padded before detection …
_MAX_DET_RATIO = 4  # … and so are pages longer than this on one side than the other
_CLEAR_LINES = 3  # an upside-down vote over at least this many lines …
_CLEAR_VOTE = 0.8  # … with this share of the weight is not re-checked by reading
_CONFIRM_LINES = 3  # lines read both ways to confirm an upside-down page
_CONFIRM_HEIGHTS = 6  # line-heights of each of them read


class OcrError(ArchiveError):
    """The OCR engine could not be loaded or could not read a page."""


@dataclass(frozen=True)
class OcrLine:
    """One detected text line: its text, its box on the upright page (pixels), its score."""

    text: str
    box: Box
    score: float


@dataclass(frozen=True)
class OcrResult:
    """What OCR read on one page, in the coordinates of the upright full-size page."""

    lines: list[OcrLine]
    rotation: int  # degrees clockwise the page was turned to read it
    width: int  # of the upright page
    height: int
    seconds: float

    @property
    def text(self) -> str:
        """Lines in reading order; boxes on one row are joined with a space."""
        return "\n".join(" ".join(ln.text for ln in row) for row in _rows(self.lines))

    @property
    def confidence(self) -> float | None:
        """Mean recognition score weighted by characters; None when nothing was read."""
        total = sum(len(ln.text) for ln in self.lines)
        if not total:
            return None
        return sum(ln.score * len(ln.text) for ln in self.lines) / total


def scaled(result: OcrResult, factor: float, width: int, height: int) -> OcrResult:
    """The same reading with boxes multiplied by ``factor`` onto a ``width`` x ``height`` page."""
    lines = [
        OcrLine(
            ln.text,
            tuple((x * factor, y * factor) for x, y in ln.box),  # type: ignore[arg-type]
            ln.score,
        )
        for ln in result.lines
    ]
    # replace keeps what a subclass adds (a SealedResult's seals are shares of the page)
    return replace(result, lines=lines, width=width, height=height)


def shrink(arr: np.ndarray, side: int = 2000) -> tuple[np.ndarray, float]:
    """The page at most ``side`` pixels on its long side, and the factor it was scaled by."""
    return _shrink(arr, side)


def _rows(lines: Sequence[OcrLine]) -> list[list[OcrLine]]:
    """Group boxes into rows (vertical centres within half a line height), left to right."""

    def centre_y(ln: OcrLine) -> float:
        return sum(p[1] for p in ln.box) / 4

    def height(ln: OcrLine) -> float:
        return abs(ln.box[3][1] - ln.box[0][1]) or 1.0

    rows: list[list[OcrLine]] = []
    for ln in sorted(lines, key=centre_y):
        if rows and abs(centre_y(ln) - centre_y(rows[-1][-1])) < 0.5 * height(rows[-1][-1]):
            rows[-1].append(ln)
        else:
            rows.append([ln])
    return [sorted(r, key=lambda ln: ln.box[0][0]) for r in rows]


def to_array(image: Image.Image | np.ndarray) -> np.ndarray:
    """A page as uint8 grey (H, W) or RGB (H, W, 3)."""
    if isinstance(image, np.ndarray):
        arr = image
    else:
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB" if image.mode in ("RGBA", "P", "CMYK", "YCbCr") else "L")
        arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    return np.ascontiguousarray(arr)


def bgr(arr: np.ndarray) -> np.ndarray:
    """The page as OpenCV wants it: 3-channel BGR."""
    if arr.ndim == 2:
        return cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)


def _shrink(arr: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    h, w = arr.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale >= 1.0:
        return arr, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(arr, size, interpolation=cv2.INTER_AREA), scale


_TURNS = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}


def _order(pts: np.ndarray) -> np.ndarray:
    """Four corners ordered top-left, top-right, bottom-right, bottom-left."""
    s = pts.sum(axis=1)
    d = pts[:, 1] - pts[:, 0]
    return np.array([pts[s.argmin()], pts[d.argmin()], pts[s.argmax()], pts[d.argmax()]])


def turn(arr: np.ndarray, degrees: int) -> np.ndarray:
    """Turn the page clockwise by 0/90/180/270 degrees."""
    code = _TURNS.get(degrees % 360)
    return arr if code is None else cv2.rotate(arr, code)


class OcrEngine:
    """One loaded rapidocr engine (1-3 s to load, about 1 GB): make one per process.

    ``engine`` is ``auto``, ``openvino`` or ``onnxruntime``; ``threads`` the inference
    threads per model (None: every core).
    """

    def __init__(self, threads: int | None = None, engine: str = "auto") -> None:
        name = resolve_engine(engine)
        self.info: EngineInfo = engine_info(name)
        self._ocr = load_rapidocr(name, threads)

    # ---------------------------------------------------------------- reading

    def read(self, image: Image.Image | np.ndarray, *, orient: bool = True) -> OcrResult:
        """Read one page, turned upright first unless ``orient`` is False.

        The page costs what the raw engine costs (detect, classify lines, recognise): the
        detector's boxes tell a page lying on its side (lines run down it), and the line
        classifier's votes, weighted by line length, tell a page upside down; the boxes and
        line images are then turned with the page instead of detecting again.
        """
        start = time.perf_counter()
        arr = to_array(image)
        work, scale = _shrink(arr, MAX_SIDE)
        page = bgr(work)
        boxes = self._detect(page)
        rotation = 0
        if orient and _lies_on_side(boxes):
            boxes = turn_boxes(boxes, 90, page.shape[0], page.shape[1])
            page = turn(page, 90)
            rotation = 90
        crops = self._ocr.get_crop_img_list(page, boxes) if boxes else []
        if orient and crops and self._upside_down(crops):
            boxes = turn_boxes(boxes, 180, page.shape[0], page.shape[1])
            crops = [np.ascontiguousarray(c[::-1, ::-1]) for c in crops]
            rotation += 180
        read, _ = self._ocr.text_rec(crops) if crops else ([], 0.0)
        lines: list[OcrLine] = []
        for box, (text, score) in zip(boxes, read, strict=True):
            if float(score) < self._ocr.text_score:
                continue
            pts = tuple((float(x) / scale, float(y) / scale) for x, y in box)
            lines.append(OcrLine(str(text), pts, float(score)))  # type: ignore[arg-type]
        h, w = arr.shape[:2]
        if rotation in (90, 270):
            h, w = w, h
        return OcrResult(lines, rotation, w, h, time.perf_counter() - start)

    def recognise(self, lines: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """Read line images (BGR, any size) with the recogniser alone: (text, score) each."""
        read, _ = self._ocr.text_rec(list(lines)) if lines else ([], 0.0)
        return [(str(text), float(score)) for text, score in read]

    def _detect(self, page: np.ndarray) -> list[np.ndarray]:
        """Text line boxes on ``page`` (BGR, at most MAX_SIDE), as the raw engine finds them.

        The detector scales the short side up to 736 px: a 12 x 2000 strip would become
        736 x 122,000 pixels and take minutes (measured: 124 s; a 1 x 1 image 30 s). The page
        is first padded with white, right and bottom, to at least 32 px a side and at most
        4:1, so the detector never sees more than about a page's worth of pixels; the boxes
        keep their coordinates.
        """
        h, w = page.shape[:2]
        tall = max(h, _MIN_DET_SIDE, -(-w // _MAX_DET_RATIO))
        wide = max(w, _MIN_DET_SIDE, -(-h // _MAX_DET_RATIO))
        padded = page
        if (tall, wide) != (h, w):
            padded = cv2.copyMakeBorder(
                page, 0, tall - h, 0, wide - w, cv2.BORDER_CONSTANT, value=(255, 255, 255)
            )
        found, _ = self._ocr.auto_text_det(padded)
        if found is None:
            return []
        out = []
        for box in found:
            b = np.asarray(box, dtype=np.float32).copy()
            b[:, 0] = np.clip(b[:, 0], 0, w)
            b[:, 1] = np.clip(b[:, 1], 0, h)
            out.append(b)
        return out

    def _upside_down(self, crops: list[np.ndarray]) -> bool:
        """Whether the page is upside down: the line classifier votes, the reader confirms.

        The classifier sees 48 x 192 pixels, so it is shown the first four line-heights of
        each line (a whole long line would be squeezed past recognition); its votes are
        weighted by line length. On generated pages the vote is unanimous (±1.0 of the
        weight) both ways up. A page it calls upside down is turned over at once when the
        vote is clear over several lines; on a thin or split vote the longest lines are read
        both ways and the reading with the higher confidence decides, because a wrong flip
        scrambles every line.
        """
        heads = [np.ascontiguousarray(c[:, : 4 * c.shape[0]]) for c in crops]
        _, votes, _ = self._ocr.text_cls(heads)
        tally = total = 0.0
        for crop, (label, score) in zip(crops, votes, strict=True):
            weight = crop.shape[1] / max(1, crop.shape[0])
            total += weight
            tally += weight * (float(score) if "180" in str(label) else -float(score))
        if tally <= 0:
            return False
        if len(crops) >= _CLEAR_LINES and tally >= _CLEAR_VOTE * total:
            return True
        longest = sorted(crops, key=lambda c: -c.shape[1])[:_CONFIRM_LINES]
        pieces = [np.ascontiguousarray(c[:, : _CONFIRM_HEIGHTS * c.shape[0]]) for c in longest]
        turned = [np.ascontiguousarray(p[::-1, ::-1]) for p in pieces]
        read, _ = self._ocr.text_rec(pieces + turned)
        scores = [float(score) for _text, score in read]
        return float(np.mean(scores[len(pieces) :])) > float(np.mean(scores[: len(pieces)]))


def _lies_on_side(boxes: Sequence[np.ndarray]) -> bool:
    """More line length running down the page than across it."""
    across = down = 0.0
    for b in boxes:
        w = float(np.linalg.norm(b[1] - b[0]))
        h = float(np.linalg.norm(b[3] - b[0]))
        if w > 1.5 * h:
            across += w
        elif h > 1.5 * w:
            down += h
    return down > across


def turn_boxes(
    boxes: Sequence[np.ndarray], degrees: int, height: int, width: int
) -> list[np.ndarray]:
    """Boxes on a ``height`` x ``width`` page, moved onto that page turned clockwise by ``degrees``."""
    out = []
    for box in boxes:
        b = np.asarray(box, dtype=np.float64)
        x, y = b[:, 0], b[:, 1]
        if degrees % 360 == 90:
            p = np.stack([height - 1 - y, x], axis=1)
        elif degrees % 360 == 180:
            p = np.stack([width - 1 - x, height - 1 - y], axis=1)
        elif degrees % 360 == 270:
            p = np.stack([y, width - 1 - x], axis=1)
        else:
            p = b
        out.append(_order(p).astype(np.float32))
    return out


# ------------------------------------------------------------------------- pool

_ENGINE: OcrEngine | None = None


def _init_worker(threads: int | None, engine: str = "auto") -> None:
    global _ENGINE
    _ENGINE = OcrEngine(threads, engine)


# How a page is read with an engine: OcrEngine.read by default; a module-level function
# (picklable, it runs in the worker) to do more with the same engine, e.g. lift seals first.
PageReader = Callable[[OcrEngine, np.ndarray, bool], OcrResult]


def read_page(engine: OcrEngine, arr: np.ndarray, orient: bool) -> OcrResult:
    """The plain reading of a page (the default :data:`PageReader`)."""
    return engine.read(arr, orient=orient)


def _work(arr: np.ndarray, orient: bool, reader: PageReader = read_page) -> OcrResult:
    if _ENGINE is None:  # pragma: no cover - initializer always ran
        _init_worker(None)
    assert _ENGINE is not None
    return reader(_ENGINE, arr, orient)


Progress = Callable[[int, int], None]


class OcrReader(Protocol):
    """What reads pages for :func:`indexers.extract.extract_document`: the local
    :class:`OcrPool`, or the OCR queue's client (:mod:`indexers.ocr_client`). ``reader``
    reads one page with a loaded engine where the engine runs."""

    def read_many(
        self,
        images: Sequence[Image.Image | np.ndarray],
        *,
        orient: bool = True,
        progress: Progress | None = None,
        reader: PageReader = ...,
    ) -> list[OcrResult | BaseException]: ...


def read_one(
    reader: OcrReader, image: Image.Image | np.ndarray, *, orient: bool = True
) -> OcrResult:
    """One page through ``reader``; raises :class:`OcrError` when it cannot be read."""
    result = reader.read_many([image], orient=orient)[0]
    if isinstance(result, BaseException):
        raise OcrError(f"OCR失败: {result}") from result
    return result


class OcrPool:
    """OCR pages in worker processes, each loading the model once.

    ``workers`` defaults to the number of CPUs; 0 or 1 reads in this process. ``threads``:
    inference threads per worker (default: the CPUs shared out among the workers; all of
    them in-process). ``engine``: ``auto`` | ``openvino`` | ``onnxruntime``, resolved once
    here so that every worker loads the same one (:attr:`info`). Use it as a context
    manager, or call :meth:`close`. Safe to keep for a watcher's lifetime: a crashed worker
    fails only the pages it held, and the pool starts fresh workers for the next call.
    """

    def __init__(
        self, workers: int | None = None, *, engine: str = "auto", threads: int | None = None
    ) -> None:
        cpus = os.cpu_count() or 1
        self.workers = cpus if workers is None else max(0, workers)
        self._threads = threads or max(1, cpus // max(1, self.workers))
        self._in_process_threads = threads or None
        self.engine_name = resolve_engine(engine)
        self.info: EngineInfo = engine_info(self.engine_name)
        self._executor: cf.ProcessPoolExecutor | None = None
        self._engine: OcrEngine | None = None
        self._lock = threading.Lock()  # several intake threads may share one pool
        self._read_lock = threading.Lock()  # the in-process engine reads one page at a time

    # -- lifecycle
    def __enter__(self) -> OcrPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None
            self._engine = None

    @property
    def in_process(self) -> bool:
        return self.workers <= 1

    def engine(self) -> OcrEngine:
        """The in-process engine (loaded on first use)."""
        with self._lock:
            if self._engine is None:
                self._engine = OcrEngine(self._in_process_threads, self.engine_name)
            return self._engine

    def _pool(self) -> cf.ProcessPoolExecutor:
        with self._lock:
            return self._pool_locked()

    def _pool_locked(self) -> cf.ProcessPoolExecutor:
        if self._executor is None:
            ctx = multiprocessing.get_context("spawn")
            self._executor = cf.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(self._threads, self.engine_name),
            )
        return self._executor

    # -- work
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
        """Read pages in parallel; a page that fails gives its exception in its slot.

        ``reader`` reads one page with a loaded engine (in the worker process).
        """
        total = len(images)
        out: list[OcrResult | BaseException] = []
        if self.in_process:
            for i, image in enumerate(images):
                try:
                    engine = self.engine()
                    with self._read_lock:
                        out.append(reader(engine, to_array(image), orient))
                except Exception as exc:
                    out.append(exc)
                if progress:
                    progress(i + 1, total)
            return out
        slots: list[OcrResult | BaseException | None] = [None] * total
        futures: dict[cf.Future[OcrResult], int] = {}
        pool = self._pool()
        for i, image in enumerate(images):
            try:
                futures[pool.submit(_work, to_array(image), orient, reader)] = i
            except Exception as exc:  # unreadable input, or the pool broke while submitting
                slots[i] = exc
        done = sum(s is not None for s in slots)
        if progress and done:
            progress(done, total)
        broken = False
        for fut in cf.as_completed(futures):
            i = futures[fut]
            try:
                slots[i] = fut.result()
            except cf.process.BrokenProcessPool as exc:
                broken = True
                slots[i] = exc
            except Exception as exc:
                slots[i] = exc
            done += 1
            if progress:
                progress(done, total)
        if broken:  # a worker died (out of memory, killed): start afresh next time
            with self._lock:
                if self._executor is pool:
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._executor = None
        for s in slots:
            out.append(s if s is not None else OcrError("OCR未返回结果"))
        return out
