"""Chinese OCR: the rapidocr engine, page orientation, and a pool of worker processes.

rapidocr-onnxruntime 1.4.4 ships PP-OCRv4 detection and recognition models in its wheel;
nothing is downloaded. Its own angle classifier only flips single lines by 180°, so pages
scanned sideways or upside down are turned upright first (:meth:`OcrEngine.orientation`):
the text detector on a small copy tells lines running across from lines running down the
page, then recognition confidence on a few of the longest lines read both ways tells
upright from upside down. The page is then read once, the right way up.

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
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from archive.errors import ArchiveError

Point = tuple[float, float]
Box = tuple[Point, Point, Point, Point]

MAX_SIDE = 2000  # rapidocr reads at most this many pixels on the long side
_ORIENT_SIDE = 512  # long side of the copy the orientation check looks at
_ORIENT_LINES = 3
_ORIENT_CHARS = 5.0  # line-heights of each line read for the check


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
    return OcrResult(lines, result.rotation, width, height, result.seconds)


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


def _bgr(arr: np.ndarray) -> np.ndarray:
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


def _head(box: np.ndarray, chars: float = _ORIENT_CHARS) -> np.ndarray:
    """The first ``chars`` line-heights of a line's box: enough text to judge, cheap to read."""
    p0, p1, p2, p3 = (np.asarray(p, dtype=np.float64) for p in box)
    width = float(np.linalg.norm(p1 - p0))
    height = float(np.linalg.norm(p3 - p0)) or 1.0
    f = min(1.0, chars * height / width) if width else 1.0
    return np.array([p0, p0 + (p1 - p0) * f, p3 + (p2 - p3) * f, p3], dtype=np.float32)


def turn(arr: np.ndarray, degrees: int) -> np.ndarray:
    """Turn the page clockwise by 0/90/180/270 degrees."""
    code = _TURNS.get(degrees % 360)
    return arr if code is None else cv2.rotate(arr, code)


class OcrEngine:
    """One loaded rapidocr engine (about 3 s to load, about 1 GB): make one per process."""

    def __init__(self, threads: int | None = None) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:  # pragma: no cover - the dependency is pinned
            raise OcrError(
                "未安装OCR引擎 rapidocr-onnxruntime: 请运行 pip install rapidocr-onnxruntime==1.4.4"
            ) from exc
        kwargs: dict[str, Any] = {"print_verbose": False}
        if threads:
            kwargs["intra_op_num_threads"] = threads
            kwargs["inter_op_num_threads"] = 1
        self._ocr = RapidOCR(**kwargs)

    # ---------------------------------------------------------------- orientation

    def orientation(self, arr: np.ndarray) -> int:
        """Degrees clockwise (0/90/180/270) that turn this page upright.

        The detector on a small copy (512 px) finds the text lines: lines longer across than
        down mean the page is upright or upside down, else it lies on its side. A short
        stretch of each of the longest lines, cut from the full page, is then read as it is
        and turned over; the reading with the higher confidence wins.
        """
        page = _bgr(arr)
        small, scale = _shrink(page, _ORIENT_SIDE)
        boxes = self._detect_small(small)
        if boxes is None or len(boxes) == 0:
            return 0
        across = down = 0.0
        for b in boxes:
            w = float(np.linalg.norm(b[1] - b[0]))
            h = float(np.linalg.norm(b[3] - b[0]))
            if w > 1.5 * h:
                across += w
            elif h > 1.5 * w:
                down += h
        base = 90 if down > across else 0
        full = [np.asarray(b, dtype=np.float64) / scale for b in boxes]
        if base:
            rows = page.shape[0]
            page = turn(page, base)
            full = [_order(np.stack([rows - 1 - b[:, 1], b[:, 0]], axis=1)) for b in full]
        longest = sorted(full, key=lambda b: -float(np.linalg.norm(b[1] - b[0])))
        pieces = [_head(b) for b in longest[:_ORIENT_LINES]]
        crops = self._ocr.get_crop_img_list(page, pieces)
        crops = [c for c in crops if c.shape[1] > c.shape[0]]
        if not crops:
            return base
        flipped = [np.ascontiguousarray(c[::-1, ::-1]) for c in crops]
        res, _ = self._ocr.text_rec(crops + flipped)
        scores = [float(score) for _text, score in res]
        upright = float(np.mean(scores[: len(crops)]))
        upside_down = float(np.mean(scores[len(crops) :]))
        return base if upright >= upside_down else (base + 180) % 360

    def _detect_small(self, small: np.ndarray) -> Any:
        """The detector at the copy's own size (rapidocr would blow it up to 736 px short side)."""
        det = self._ocr.text_det
        saved = det.limit_type, det.limit_side_len
        det.limit_type, det.limit_side_len = "max", _ORIENT_SIDE
        try:
            boxes, _ = det(small)
        finally:
            det.limit_type, det.limit_side_len = saved
        return boxes

    # ---------------------------------------------------------------- reading

    def read(self, image: Image.Image | np.ndarray, *, orient: bool = True) -> OcrResult:
        """Read one page: turn it upright (unless ``orient`` is False), then OCR it."""
        start = time.perf_counter()
        arr = to_array(image)
        rotation = self.orientation(arr) if orient else 0
        upright = turn(arr, rotation)
        h, w = upright.shape[:2]
        work, scale = _shrink(upright, MAX_SIDE)
        raw, _ = self._ocr(_bgr(work), use_cls=False)
        lines: list[OcrLine] = []
        for box, text, score in raw or []:
            pts = tuple((float(x) / scale, float(y) / scale) for x, y in box)
            lines.append(OcrLine(str(text), pts, float(score)))  # type: ignore[arg-type]
        return OcrResult(lines, rotation, w, h, time.perf_counter() - start)


# ------------------------------------------------------------------------- pool

_ENGINE: OcrEngine | None = None


def _init_worker(threads: int | None) -> None:
    global _ENGINE
    _ENGINE = OcrEngine(threads)


def _work(arr: np.ndarray, orient: bool) -> OcrResult:
    if _ENGINE is None:  # pragma: no cover - initializer always ran
        _init_worker(None)
    assert _ENGINE is not None
    return _ENGINE.read(arr, orient=orient)


Progress = Callable[[int, int], None]


class OcrPool:
    """OCR pages in worker processes, each loading the model once.

    ``workers`` defaults to the number of CPUs; 0 or 1 reads in this process. Use it as a
    context manager, or call :meth:`close`. Safe to keep for a watcher's lifetime: a crashed
    worker fails only the pages it held, and the pool starts fresh workers for the next call.
    """

    def __init__(self, workers: int | None = None) -> None:
        cpus = os.cpu_count() or 1
        self.workers = cpus if workers is None else max(0, workers)
        self._threads = max(1, cpus // max(1, self.workers))
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
                self._engine = OcrEngine(None)
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
                initargs=(self._threads,),
            )
        return self._executor

    # -- work
    def read(self, image: Image.Image | np.ndarray, *, orient: bool = True) -> OcrResult:
        """Read one page; raises :class:`OcrError` when it cannot be read."""
        result = self.read_many([image], orient=orient)[0]
        if isinstance(result, BaseException):
            raise OcrError(f"OCR失败: {result}") from result
        return result

    def read_many(
        self,
        images: Sequence[Image.Image | np.ndarray],
        *,
        orient: bool = True,
        progress: Progress | None = None,
    ) -> list[OcrResult | BaseException]:
        """Read pages in parallel; a page that fails gives its exception in its slot."""
        total = len(images)
        out: list[OcrResult | BaseException] = []
        if self.in_process:
            for i, image in enumerate(images):
                try:
                    engine = self.engine()
                    with self._read_lock:
                        out.append(engine.read(image, orient=orient))
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
                futures[pool.submit(_work, to_array(image), orient)] = i
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
