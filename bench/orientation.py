"""Turned pages: every readable page read four ways up, by dangan's engine and the raw engine.

    .venv/bin/python bench/orientation.py              # 20 pages x 4 turns = 80 cases
    .venv/bin/python bench/orientation.py --pages 40 --seed 7

Each readable generated scan (``bench/ocr.py``'s set) is turned 0/90/180/270° and read by
``OcrEngine.read`` (page turned upright from the detector's boxes and the line classifier's
vote) and by the raw ``RapidOCR()`` with its defaults (its angle classifier flips single lines)
on the same pixels, in the same process, one after the other. Printed per engine and per turn:
whether dangan found the right rotation, the character error rate in reading order, and the
mean seconds a page. ``--candidate DIR`` adds rapidocr 3.x installed in DIR (``pip install
--target DIR rapidocr``; PP-OCRv6 small from its wheel, network blocked while it loads), raw,
on the same pixels.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ocr import _norm, edit_distance  # bench/ocr.py, beside this script
from PIL import Image

from indexers.ocr import MAX_SIDE, OcrEngine, bgr, shrink, to_array, turn
from samples.scans import PLAN_NAMES, generate_scans


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--candidate", type=Path, default=None, help="folder with rapidocr 3.x")
    args = ap.parse_args(argv)
    from rapidocr_onnxruntime import RapidOCR

    candidate = _candidate(args.candidate) if args.candidate else None

    positions = [
        i
        for i in range(args.pages * 3)
        if PLAN_NAMES[i % len(PLAN_NAMES)].split("/")[1] in ("jpeg", "png")
    ][: args.pages]
    tmp = Path(tempfile.mkdtemp(prefix="dangan-bench-orient-"))
    try:
        truths = [t for t in generate_scans(tmp, seed=args.seed, pick=positions) if t.readable]
        engine, raw = OcrEngine(), RapidOCR()
        print(
            f"# bench/orientation: {len(truths)} readable pages x 4 turns, {platform.node()}, "
            f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}, "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        # per turn: [right, cases, dangan errors, raw errors, truth chars, dangan s, raw s,
        #            candidate errors, candidate s]
        rows = {k: [0, 0, 0, 0, 0, 0.0, 0.0, 0, 0.0] for k in (0, 90, 180, 270)}
        for t in truths:
            page, _ = shrink(to_array(Image.open(tmp / t.path)), MAX_SIDE)
            page = turn(page, t.rotation)  # as printed, upright
            truth = _norm("".join(t.lines))
            for k, row in rows.items():
                turned = turn(page, (360 - k) % 360)  # lies k° anticlockwise: turn k° back
                start = time.perf_counter()
                ours = engine.read(turned)
                row[5] += time.perf_counter() - start
                start = time.perf_counter()
                theirs, _ = raw(bgr(turned))
                row[6] += time.perf_counter() - start
                raw_text = "\n".join(str(r[1]) for r in theirs or [])
                row[0] += ours.rotation == k
                row[1] += 1
                row[2] += edit_distance(_norm(ours.text), truth)
                row[3] += edit_distance(_norm(raw_text), truth)
                row[4] += len(truth)
                if candidate is not None:
                    start = time.perf_counter()
                    theirs_v6 = candidate(bgr(turned))
                    row[8] += time.perf_counter() - start
                    row[7] += edit_distance(_norm("\n".join(theirs_v6.txts or ())), truth)
                if ours.rotation != k:
                    print(
                        f"  wrong: {t.path} turned {k}°, read as {ours.rotation}°", file=sys.stderr
                    )
        print(
            "| page lies turned | dangan rotation right | dangan CER | raw CER | dangan s/page "
            "| raw s/page | candidate CER | candidate s/page |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        total = [0, 0, 0, 0, 0, 0.0, 0.0, 0, 0.0]
        for k, row in rows.items():
            total = [a + b for a, b in zip(total, row, strict=True)]
            _line(f"{k}°", row)
        _line("all", total)
        print(f"# load average at end {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _line(label: str, row: list[float]) -> None:
    right, cases, ours, theirs, chars, s_ours, s_raw, v6, s_v6 = row
    print(
        f"| {label} | {right:.0f}/{cases:.0f} | {ours / max(1, chars):.2%} "
        f"| {theirs / max(1, chars):.2%} | {s_ours / max(1, cases):.2f} | {s_raw / max(1, cases):.2f} "
        f"| {v6 / max(1, chars):.2%} | {s_v6 / max(1, cases):.2f} |"
    )


def _candidate(folder: Path) -> Any:
    """rapidocr 3.x from ``folder``, loaded with the network blocked: it must find every
    model in its wheel."""
    import socket

    sys.path.insert(0, str(folder))
    real = socket.socket.connect

    def refuse(*_: object) -> None:
        raise RuntimeError("network access attempted while loading the candidate")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    try:
        from rapidocr import RapidOCR as Candidate  # type: ignore[import-not-found]

        engine = Candidate(params={"Global.log_level": "warning"})
    finally:
        socket.socket.connect = real  # type: ignore[method-assign]
    return engine


if __name__ == "__main__":
    raise SystemExit(main())
