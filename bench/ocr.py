"""OCR benchmark: dangan's pipeline against the raw engine and tesseract, same pages, same run.

    .venv/bin/python bench/ocr.py               # about 20 generated A4 scans
    .venv/bin/python bench/ocr.py --pages 60
    .venv/bin/python bench/ocr.py --sealed 3    # the sealed set (samples.sealed), 3 seeds

On one set of generated scans (JPEG/PNG, 200-300 dpi, skewed, noisy, some turned 90/180/270,
some deliberately unreadable) it prints, per engine: pages per second, the character error
rate (edit distance / truth length, whitespace removed, full-width ASCII folded) on the
readable pages, and the share of readable pages whose licence and case numbers come back
exact (``archive.core.keys`` finds them). The engines:

1. dangan: ``extract_document`` through an ``OcrPool`` (workers = CPUs), page turned upright,
   page quality and searchable PDF included, documents fed from as many threads as workers;
2. rapidocr: the raw engine called directly on the same files, as its README shows;
3. tesseract: ``tesseract IMG - -l chi_sim`` (Debian tesseract-ocr-chi-sim), the peer.

``--sealed N`` reads the sealed set instead (a red seal across the licence or case number,
across a date, two seals, none; colour and grey; turned), N seeds of 12 pages, one engine in
this process for every row: dangan's reading without and with the seals lifted
(``indexers.seals.read_sealed_page``), beside the raw engine. It prints character errors,
keys exact in the text, keys filed once partly hidden keys are recovered from the roster and
the set's earlier cases (``archive.intake.key_recovery``), and the time lifting the seals and
reading their ring text add per page against the page's own reading time.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image

from archive.core.keys import find_case_numbers, find_licence_numbers, normalize_case_number
from indexers.extract import extract_document
from indexers.ocr import OcrPool
from samples.scans import PLAN_NAMES, ScanTruth, generate_scans

_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}


def _norm(text: str) -> str:
    return "".join(text.translate(_FOLD).split())


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@dataclass
class Row:
    name: str
    seconds: float
    texts: list[str]


def _keys_exact(truth: ScanTruth, text: str) -> bool | None:
    """None when the page prints no key; else whether every printed key came back exact."""
    printed = "".join(truth.lines)
    wanted: list[tuple[str, list[str]]] = []
    # keys are looked for line by line, spaces removed, with the bureau's prefix as
    # dangan.toml gives it: what intake's classifier does
    lines = "\n".join("".join(line.split()) for line in text.splitlines())
    if "licence" in truth.keys and truth.keys["licence"] in printed:
        wanted.append((truth.keys["licence"], find_licence_numbers(lines, ["610522"])))
    if "case" in truth.keys and truth.keys["case"] in printed:
        case = normalize_case_number(truth.keys["case"]) or ""
        wanted.append((case, find_case_numbers(lines, ["潼烟罚"])))
    if not wanted:
        return None
    return all(key in found for key, found in wanted)


def _pipeline(
    paths: list[Path], truths: list[ScanTruth], workers: int | None, *, one_at_a_time: bool = False
) -> Row:
    with OcrPool(workers) as pool:
        pool.read_many([_first_image(paths[0])])  # start the workers (model load) untimed
        threads = 1 if one_at_a_time else max(1, pool.workers)
        start = time.perf_counter()
        with cf.ThreadPoolExecutor(threads) as ex:
            docs = list(
                ex.map(
                    lambda a: extract_document(a[0], a[1].mime, ocr=pool),
                    zip(paths, truths, strict=True),
                )
            )
        seconds = time.perf_counter() - start
    how = "in-process" if pool.in_process else f"{pool.workers} worker processes"
    feed = "one document at a time" if threads == 1 else f"{threads} documents at a time"
    return Row(f"dangan pipeline ({how}, {feed})", seconds, [d.text for d in docs])


def _first_image(path: Path) -> Image.Image:
    img = Image.open(path)
    return img.resize((img.width // 4, img.height // 4))


def _raw(paths: list[Path]) -> Row:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()
    engine(str(paths[0]))  # warm up untimed
    start = time.perf_counter()
    texts = []
    for p in paths:
        res, _ = engine(str(p))
        texts.append("\n".join(str(r[1]) for r in res or []))
    return Row("rapidocr raw engine (defaults)", time.perf_counter() - start, texts)


def _tesseract(paths: list[Path]) -> Row | None:
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    start = time.perf_counter()
    texts = []
    for p in paths:
        proc = subprocess.run([exe, str(p), "-", "-l", "chi_sim"], capture_output=True, text=True)
        texts.append(proc.stdout)
    return Row("tesseract 5 chi_sim", time.perf_counter() - start, texts)


def _report(rows: list[Row], truths: list[ScanTruth], emit: Callable[[str], None]) -> None:
    readable = [i for i, t in enumerate(truths) if t.readable]
    emit(
        "| engine | pages/s | s/page | CER, readable pages | CER, upright readable pages "
        "| keys exact, readable pages |"
    )
    emit("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        errors = total = up_errors = up_total = 0
        exact = keyed = 0
        for i in readable:
            truth = _norm("".join(truths[i].lines))
            dist = edit_distance(_norm(row.texts[i]), truth)
            errors += dist
            total += len(truth)
            if truths[i].rotation == 0:
                up_errors += dist
                up_total += len(truth)
            ok = _keys_exact(truths[i], row.texts[i])
            if ok is not None:
                keyed += 1
                exact += ok
                if not ok:
                    print(f"  {row.name}: keys missed on {truths[i].path}", file=sys.stderr)
        pps = len(row.texts) / row.seconds if row.seconds else float("nan")
        emit(
            f"| {row.name} | {pps:.3f} | {row.seconds / len(row.texts):.2f} "
            f"| {errors / max(1, total):.2%} | {up_errors / max(1, up_total):.2%} "
            f"| {exact}/{keyed} = {exact / max(1, keyed):.1%} |"
        )


@dataclass
class _SealedRow:
    name: str
    texts: list[str]
    seconds: list[float]
    lift: list[float]
    ring: list[float]


def _key_of(truth: ScanTruth) -> str:
    if "case" in truth.keys:
        return normalize_case_number(truth.keys["case"]) or ""
    return truth.keys["licence"]


def _read_key(truth: ScanTruth, text: str) -> str | None:
    lines = "\n".join("".join(line.split()) for line in text.splitlines())
    if "case" in truth.keys:
        found = find_case_numbers(lines, ["潼烟罚"])
    else:
        found = find_licence_numbers(lines, ["610522"])
    return found[0] if found else None


def _recovered(truth: ScanTruth, text: str, roster: list[str], cases: list[str]) -> str | None:
    """The key as intake files it: read whole, else recovered when one candidate fits."""
    from archive.intake.key_recovery import (
        partial_cases,
        partial_licences,
        recover_case,
        recover_licence,
    )

    read = _read_key(truth, text)
    if read is not None:
        return read
    lines = text.splitlines()
    if "case" in truth.keys:
        found = recover_case(partial_cases(lines, ("潼烟罚",)), cases, ("潼烟罚",))
    else:
        values = [ln.split("许可证号", 1)[1].lstrip(":：") for ln in lines if "许可证号" in ln]
        found = recover_licence(partial_licences(values), roster, ("610522",))
    return found.key if found is not None else None


def _sealed_bench(seeds: int, keep: Path | None) -> None:
    import csv

    import numpy as np
    from rapidocr_onnxruntime import RapidOCR

    from indexers.ocr import OcrEngine, shrink, to_array
    from indexers.seals import read_sealed_page
    from samples.sealed import generate_sealed

    tmp = keep or Path(tempfile.mkdtemp(prefix="dangan-bench-sealed-"))
    try:
        truths: list[ScanTruth] = []
        paths: list[Path] = []
        roster: list[str] = []
        cases: list[str] = []
        for seed in range(seeds):
            out = tmp / f"seed{seed}"
            got = generate_sealed(out, seed=seed)
            truths += got
            paths += [out / t.path for t in got]
            with (out / "roster.csv").open(encoding="utf-8-sig") as fh:
                roster += [row[0] for row in list(csv.reader(fh))[1:]]
            # the clean interview records come first: their cases are in the archive
            cases += [_key_of(t) for t in got if t.doc_type == "询问笔录"]
        load0 = os.getloadavg()
        print(
            f"# bench/ocr --sealed: {len(paths)} pages ({sum(bool(t.pages[0].seals) for t in truths)}"
            f" sealed, {sum(t.rotation != 0 for t in truths)} turned), {platform.node()}, "
            f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}, load {load0[0]:.1f}",
            flush=True,
        )
        pages = [shrink(to_array(Image.open(p)), 2000)[0] for p in paths]
        engine = OcrEngine()
        raw = RapidOCR()
        engine.read(pages[0])  # warm up untimed
        rows = [
            _SealedRow("dangan, seals not lifted (OcrEngine.read)", [], [], [], []),
            _SealedRow("dangan, seals lifted (read_sealed_page)", [], [], [], []),
            _SealedRow("rapidocr raw engine (defaults)", [], [], [], []),
        ]
        for path, page in zip(paths, pages, strict=True):  # interleaved: same load for each
            plain = engine.read(page)
            rows[0].texts.append(plain.text)
            rows[0].seconds.append(plain.seconds)
            sealed = read_sealed_page(engine, page, True)
            rows[1].texts.append(sealed.text)
            rows[1].seconds.append(sealed.seconds)
            rows[1].lift.append(sealed.separate_seconds)
            rows[1].ring.append(sealed.ring_seconds)
            start = time.perf_counter()
            res, _ = raw(str(path))
            rows[2].texts.append("\n".join(str(r[1]) for r in res or []))
            rows[2].seconds.append(time.perf_counter() - start)
        print("| engine | s/page | CER | keys exact in the text | keys filed (with recovery) |")
        print("|---|---:|---:|---:|---:|")
        for row in rows:
            errors = total = exact = filed = 0
            for truth, text in zip(truths, row.texts, strict=True):
                want = _norm("".join(truth.lines))
                errors += edit_distance(_norm(text), want)
                total += len(want)
                exact += _read_key(truth, text) == _key_of(truth)
                filed += _recovered(truth, text, roster, cases) == _key_of(truth)
                if _read_key(truth, text) != _key_of(truth):
                    print(f"  {row.name}: key not exact on {truth.path}", file=sys.stderr)
            n = len(truths)
            print(
                f"| {row.name} | {float(np.mean(row.seconds)):.2f} | {errors / max(1, total):.2%} "
                f"| {exact}/{n} | {filed}/{n} |"
            )
        lifted = rows[1]
        read = [s - a - b for s, a, b in zip(lifted.seconds, lifted.lift, lifted.ring, strict=True)]
        sealed_pages = [i for i, t in enumerate(truths) if t.pages[0].seals]
        for label, idx in (("all pages", range(len(truths))), ("sealed pages", sealed_pages)):
            lift = float(np.mean([lifted.lift[i] for i in idx]))
            ring = float(np.mean([lifted.ring[i] for i in idx]))
            base = float(np.mean([read[i] for i in idx]))
            print(
                f"# {label}: reading {base:.2f} s/page; finding and lifting seals "
                f"{lift * 1000:.0f} ms ({lift / base:.1%}); reading ring text "
                f"{ring * 1000:.0f} ms ({ring / base:.1%})"
            )
        load1 = os.getloadavg()
        print(f"# load average at start {load0[0]:.1f}, at end {load1[0]:.1f}")
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--workers", type=int, default=None, help="OCR pool workers (default: CPUs)")
    ap.add_argument("--no-tesseract", action="store_true")
    ap.add_argument(
        "--no-sequential", action="store_true", help="skip the in-process, one-at-a-time run"
    )
    ap.add_argument("--keep", type=Path, default=None, help="write the scans here and keep them")
    ap.add_argument("--sealed", type=int, default=0, metavar="N", help="the sealed set, N seeds")
    args = ap.parse_args(argv)
    if args.sealed:
        _sealed_bench(args.sealed, args.keep)
        return 0

    # single-image files only, so all three engines read exactly the same bytes
    positions = [
        i
        for i in range(args.pages * 3)
        if PLAN_NAMES[i % len(PLAN_NAMES)].split("/")[1] in ("jpeg", "png")
    ][: args.pages]
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="dangan-bench-ocr-"))
    try:
        truths = generate_scans(tmp, seed=args.seed, pick=positions)
        paths = [tmp / t.path for t in truths]
        load0 = os.getloadavg()
        print(
            f"# bench/ocr: {len(paths)} pages ({sum(t.readable for t in truths)} readable, "
            f"{sum(t.rotation != 0 for t in truths)} turned), {platform.node()}, "
            f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}, load {load0[0]:.1f}",
            flush=True,
        )
        rows = [_pipeline(paths, truths, args.workers)]
        print(f"  dangan done in {rows[-1].seconds:.1f} s", file=sys.stderr, flush=True)
        if not args.no_sequential:
            rows.append(_pipeline(paths, truths, 1, one_at_a_time=True))
            print(f"  dangan in-process done in {rows[-1].seconds:.1f} s", file=sys.stderr)
        rows.append(_raw(paths))
        print(f"  raw done in {rows[-1].seconds:.1f} s", file=sys.stderr, flush=True)
        if not args.no_tesseract:
            tess = _tesseract(paths)
            if tess is not None:
                rows.append(tess)
                print(f"  tesseract done in {tess.seconds:.1f} s", file=sys.stderr, flush=True)
        _report(rows, truths, print)
        load1 = os.getloadavg()
        print(f"# load average at start {load0[0]:.1f}, at end {load1[0]:.1f}")
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
