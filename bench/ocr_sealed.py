"""OCR on sealed pages: dangan's reading without and with the seals lifted, beside the raw engine.

    .venv/bin/python bench/ocr_sealed.py 3      # the sealed set (samples.sealed), 3 seeds
    .venv/bin/python bench/ocr.py --sealed 3    # the same

N seeds of 12 pages (a red seal across the licence or case number, across a date, two seals,
none; colour and grey; turned), one engine in this process for every row: dangan's reading
(``OcrEngine``, the engine ``[ocr] engine = "auto"`` picks) without and with the seals lifted
(``indexers.seals.read_sealed_page``), beside the raw ``rapidocr-onnxruntime`` engine, page
by page in turn so that every row sees the same load. It prints character errors, keys exact
in the text, keys filed once partly hidden keys are recovered from the roster and the set's
earlier cases (``archive.intake.key_recovery``), and the time lifting the seals and reading
their ring text add per page against the page's own reading time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ocr import _norm, edit_distance  # bench/ocr.py, beside this script
from PIL import Image

from archive.core.keys import find_case_numbers, find_licence_numbers, normalize_case_number
from samples.scans import ScanTruth


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


def sealed_bench(seeds: int, keep: Path | None = None) -> None:
    """Run the sealed-set bench and print its table (the module's docstring)."""
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
        engine = OcrEngine()  # dangan's engine as [ocr] engine = "auto" picks it
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
    ap.add_argument("seeds", type=int, nargs="?", default=2, help="seeds of 12 pages (default 2)")
    ap.add_argument("--keep", type=Path, default=None, help="write the pages here and keep them")
    args = ap.parse_args(argv)
    sealed_bench(args.seeds, args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
