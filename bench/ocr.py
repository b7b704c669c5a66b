"""OCR benchmark: the raw engines, dangan's local pool and dangan through the queue, same pages,
same run, engines alternated.

    .venv/bin/python bench/ocr.py                      # 20 generated A4 scans, 2 rounds
    .venv/bin/python bench/ocr.py --pages 40 --rounds 3
    .venv/bin/python bench/ocr.py --candidate /tmp/rapidocr3   # also rapidocr 3.x (PP-OCRv6)
    .venv/bin/python bench/ocr.py --sealed 3           # the sealed set: bench/ocr_sealed.py

On one set of generated scans (JPEG/PNG, 200-300 dpi, skewed, noisy, some turned 90/180/270,
some deliberately unreadable) it prints, per row: pages per second, its ratio to the raw
onnxruntime engine *of the same round*, the character error rate (edit distance / truth
length, whitespace removed, full-width ASCII folded) on the readable pages, the share of
readable pages whose licence and case numbers come back exact (``archive.core.keys``), and
the peak memory of the processes that read. The rows:

1. raw onnxruntime: ``rapidocr_onnxruntime.RapidOCR()(path)``, its own process, defaults;
2. raw openvino: ``rapidocr_openvino.RapidOCR()(path)``, the same way;
3. dangan local pool: ``extract_document`` through ``OcrPool`` (workers = CPUs, engine
   "auto"), seals lifted off before reading and their ring text read, page turned upright,
   page quality and searchable PDF included, documents fed from as many threads as workers
   (what ``dangan ingest`` does);
4. dangan queue, 1 worker: the same through ``OcrQueue`` and one ``dangan ocr-worker``
   (one reading process per core) on a redis-server started for the run;
5. dangan queue, 2 workers: two ``dangan ocr-worker --processes 1`` (on this one machine they
   share its cores: this row shows the distribution's cost, not more cores);
6. with ``--candidate DIR``: rapidocr 3.x installed in DIR (``pip install --target DIR``),
   raw, with the models its wheel ships (PP-OCRv6 small), network blocked in that process.

Each round runs the rows in turn, the order reversed every other round; a row's model load and
worker start are not timed (one page is read first, untimed).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.core.keys import find_case_numbers, find_licence_numbers, normalize_case_number
from samples.scans import PLAN_NAMES, ScanTruth, generate_scans

_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
ROOT = Path(__file__).resolve().parents[1]
DANGAN = Path(sys.executable).with_name("dangan")


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
    peak_mb: float | None = None


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


# ------------------------------------------------------------------ memory


def _hwm_mb(pid: int) -> float:
    """Peak resident memory of a process (VmHWM), MB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# ------------------------------------------------------------------ raw engines


_RAW = {
    "onnxruntime": "from rapidocr_onnxruntime import RapidOCR; engine = RapidOCR()",
    "openvino": "from rapidocr_openvino import RapidOCR; engine = RapidOCR()",
    "candidate": (
        "import socket\n"
        "def _no_network(*a, **k):\n"
        "    raise RuntimeError('network access attempted')\n"
        "socket.socket.connect = _no_network\n"
        "from rapidocr import RapidOCR\n"
        "_ocr = RapidOCR(params={'Global.log_level': 'warning'})\n"
        "def engine(path):\n"
        "    out = _ocr(path)\n"
        "    return [[None, t] for t in (out.txts or ())], None\n"
    ),
}


def _raw_child(kind: str, files: list[str]) -> None:
    """In a child process: load one raw engine, read the files, print JSON."""
    scope: dict[str, object] = {}
    exec(_RAW[kind], scope)
    engine = scope["engine"]
    engine(files[0])  # type: ignore[operator]  # warm up untimed
    start = time.perf_counter()
    texts = []
    for f in files:
        res, _ = engine(f)  # type: ignore[operator]
        texts.append("\n".join(str(r[1]) for r in res or []))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"texts": texts, "seconds": seconds, "peak_mb": peak}, ensure_ascii=False))


def _raw(kind: str, label: str, paths: list[Path], extra_path: Path | None = None) -> Row:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = f"{extra_path}{os.pathsep}{env.get('PYTHONPATH', '')}"
    proc = subprocess.run(
        [sys.executable, __file__, "--raw-child", kind, *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return Row(label, out["seconds"], out["texts"], out["peak_mb"])


# ------------------------------------------------------------------ dangan


def _feed(
    paths: list[Path], truths: list[ScanTruth], reader: object, threads: int
) -> tuple[float, list[str]]:
    from indexers.extract import extract_document

    start = time.perf_counter()
    with cf.ThreadPoolExecutor(threads) as ex:
        docs = list(
            ex.map(
                lambda a: extract_document(a[0], a[1].mime, ocr=reader),  # type: ignore[arg-type]
                zip(paths, truths, strict=True),
            )
        )
    return time.perf_counter() - start, [d.text for d in docs]


def _warm_page(path: Path) -> object:
    from PIL import Image

    img = Image.open(path)
    return img.resize((img.width // 4, img.height // 4))


def _local(
    paths: list[Path],
    truths: list[ScanTruth],
    workers: int | None = None,
    threads: int | None = None,
    engine: str = "auto",
) -> Row:
    from indexers.ocr import OcrPool

    with OcrPool(workers, engine=engine, threads=threads) as pool:
        pool.read_many([_warm_page(paths[0])])  # start the workers (model load) untimed
        seconds, texts = _feed(paths, truths, pool, max(1, pool.workers))
        if pool._executor is not None:
            peak = sum(_hwm_mb(pid) for pid in list(pool._executor._processes))
        else:  # in-process: this process's own peak (it loaded nothing else that large)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if pool.in_process:
            how = f"in-process, {threads or 'all'} threads"
        else:
            how = f"{pool.workers} processes x {pool._threads} threads"
        label = f"dangan local pool ({how}, {pool.info.name})"
    return Row(label, seconds, texts, peak)


class _Broker:
    """redis-server on a free loopback port for the run (append-only file on)."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        exe = shutil.which("redis-server")
        if exe is None:
            raise SystemExit("redis-server is not installed: bash scripts/bootstrap.sh bench")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(folder),
             "--appendonly", "yes", "--save", ""],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        for _ in range(200):
            try:
                if redis.Redis(port=self.port).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _queue(
    paths: list[Path], truths: list[ScanTruth], broker: _Broker, workers: list[list[str]], log: Path
) -> Row:
    import redis

    from indexers.ocr_client import OcrQueue, live_workers

    # readings are content-addressed and kept a while after collection: start every queue
    # row from an empty broker, or it would find the previous row's readings
    redis.Redis(port=broker.port).flushdb()
    procs = [
        subprocess.Popen(
            [str(DANGAN), "ocr-worker", "--broker", broker.url, "--name", f"bench{i}", *args],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for i, args in enumerate(workers)
    ]
    try:
        client = redis.Redis(port=broker.port)
        deadline = time.monotonic() + 300
        while len(live_workers(client)) < len(procs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"workers did not start; see {log}")
            time.sleep(0.2)
        with OcrQueue(broker.url) as queue:
            queue.read_many([_warm_page(p) for p in paths[: len(procs) * 2]])  # engines loaded
            seconds, texts = _feed(paths, truths, queue, queue.workers)
            name = queue.info.name
        readers = [c for p in procs for c in _children(p.pid)]
        peak = sum(_hwm_mb(pid) for pid in readers) or None
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    n = len(procs)
    label = f"dangan queue, {n} worker{'s' if n > 1 else ''} ({sum(_procs(a) for a in workers)} readers, {name})"
    return Row(label, seconds, texts, peak)


def _procs(args: list[str]) -> int:
    return (
        int(args[args.index("--processes") + 1]) if "--processes" in args else os.cpu_count() or 1
    )


def _tesseract(paths: list[Path]) -> Row:
    exe = shutil.which("tesseract")
    if exe is None:
        raise SystemExit("tesseract is not installed: bash scripts/bootstrap.sh bench")
    start = time.perf_counter()
    texts = [
        subprocess.run([exe, str(p), "-", "-l", "chi_sim"], capture_output=True, text=True).stdout
        for p in paths
    ]
    return Row("tesseract 5 chi_sim", time.perf_counter() - start, texts)


# ------------------------------------------------------------------ report


@dataclass
class Score:
    pps: float
    cer: float
    up_cer: float
    exact: int
    keyed: int


def _score(row: Row, truths: list[ScanTruth]) -> Score:
    errors = total = up_errors = up_total = exact = keyed = 0
    for i, t in enumerate(truths):
        if not t.readable:
            continue
        truth = _norm("".join(t.lines))
        dist = edit_distance(_norm(row.texts[i]), truth)
        errors += dist
        total += len(truth)
        if t.rotation == 0:
            up_errors += dist
            up_total += len(truth)
        ok = _keys_exact(t, row.texts[i])
        if ok is not None:
            keyed += 1
            exact += ok
    return Score(
        len(row.texts) / row.seconds,
        errors / max(1, total),
        up_errors / max(1, up_total),
        exact,
        keyed,
    )


def _table(
    rows: list[Row], truths: list[ScanTruth], emit: Callable[[str], None]
) -> dict[str, Score]:
    scores = {r.name: _score(r, truths) for r in rows}
    base = next((scores[r.name].pps for r in rows if r.name.startswith("raw onnxruntime")), None)
    emit(
        "| row | pages/s | × raw onnxruntime | CER, readable | CER, upright | keys exact | peak MB |"
    )
    emit("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        s = scores[r.name]
        ratio = f"{s.pps / base:.2f}" if base else "-"
        peak = f"{r.peak_mb:,.0f}" if r.peak_mb else "-"
        emit(
            f"| {r.name} | {s.pps:.3f} | {ratio} | {s.cer:.2%} | {s.up_cer:.2%} "
            f"| {s.exact}/{s.keyed} | {peak} |"
        )
    return scores


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--raw-child"]:
        _raw_child(argv[1], argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-queue", action="store_true", help="skip the two queue rows")
    ap.add_argument(
        "--pool",
        action="append",
        default=[],
        metavar="ENGINE:PxT",
        help="extra local pool rows, e.g. openvino:1x2 (P processes x T threads); repeatable",
    )
    ap.add_argument("--tesseract", action="store_true", help="add tesseract 5 chi_sim")
    ap.add_argument("--candidate", type=Path, default=None, help="folder with rapidocr 3.x")
    ap.add_argument("--keep", type=Path, default=None, help="write the scans here and keep them")
    ap.add_argument(
        "--sealed", type=int, default=0, metavar="N", help="the sealed set instead, N seeds"
    )
    args = ap.parse_args(argv)
    if args.sealed:
        from ocr_sealed import sealed_bench  # bench/ocr_sealed.py, beside this script

        sealed_bench(args.sealed, args.keep)
        return 0

    # single-image files only, so every row reads exactly the same bytes
    positions = [
        i
        for i in range(args.pages * 3)
        if PLAN_NAMES[i % len(PLAN_NAMES)].split("/")[1] in ("jpeg", "png")
    ][: args.pages]
    tmp = Path(tempfile.mkdtemp(prefix="dangan-bench-ocr-"))
    scans = args.keep or tmp / "scans"
    broker = None
    try:
        truths = generate_scans(scans, seed=args.seed, pick=positions)
        paths = [scans / t.path for t in truths]
        load0 = os.getloadavg()
        print(
            f"# bench/ocr: {len(paths)} pages ({sum(t.readable for t in truths)} readable, "
            f"{sum(t.rotation != 0 for t in truths)} turned), {platform.node()}, "
            f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}, load {load0[0]:.1f}",
            flush=True,
        )
        runs: list[tuple[str, Callable[[], Row]]] = [
            (
                "raw onnxruntime",
                lambda: _raw("onnxruntime", "raw onnxruntime (rapidocr-onnxruntime 1.4.4)", paths),
            ),
            (
                "raw openvino",
                lambda: _raw("openvino", "raw openvino (rapidocr-openvino 1.4.4)", paths),
            ),
            ("local", lambda: _local(paths, truths)),
        ]
        if not args.no_queue:
            (tmp / "redis").mkdir()
            broker = _Broker(tmp / "redis")
            b = broker
            runs += [
                ("queue 1", lambda: _queue(paths, truths, b, [[]], tmp / "workers.log")),
                (
                    "queue 2",
                    lambda: _queue(
                        paths, truths, b, [["--processes", "1"]] * 2, tmp / "workers.log"
                    ),
                ),
            ]
        for spec in args.pool:
            engine, _, shape = spec.partition(":")
            procs, _, threads = shape.partition("x")
            runs.append(
                (
                    f"pool {spec}",
                    lambda e=engine, p=int(procs), t=int(threads): _local(paths, truths, p, t, e),
                )
            )
        if args.candidate:
            cand = args.candidate
            runs.append(
                (
                    "candidate",
                    lambda: _raw(
                        "candidate", "raw rapidocr 3.x (PP-OCRv6 small, onnxruntime)", paths, cand
                    ),
                )
            )
        if args.tesseract:
            runs.append(("tesseract", lambda: _tesseract(paths)))
        ratios: dict[str, list[float]] = {}
        rates: dict[str, list[float]] = {}
        for n in range(args.rounds):
            order = runs if n % 2 == 0 else runs[::-1]
            rows: dict[str, Row] = {}
            for key, run in order:
                rows[key] = run()
                print(
                    f"  round {n + 1}: {rows[key].name} {rows[key].seconds:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
            print(
                f"\n## round {n + 1} (order: {', '.join(k for k, _ in order)}), load {os.getloadavg()[0]:.1f}"
            )
            ordered = [rows[k] for k, _ in runs]
            scores = _table(ordered, truths, print)
            base = scores[ordered[0].name].pps
            for r in ordered:
                ratios.setdefault(r.name, []).append(scores[r.name].pps / base)
                rates.setdefault(r.name, []).append(scores[r.name].pps)
        print(
            f"\n## over {args.rounds} rounds: pages/s and ratio to raw onnxruntime, median (min-max)"
        )
        print("| row | pages/s | × raw onnxruntime |")
        print("|---|---:|---:|")
        for name in ratios:
            pr, rr = rates[name], ratios[name]
            print(
                f"| {name} | {statistics.median(pr):.3f} ({min(pr):.3f}-{max(pr):.3f}) "
                f"| {statistics.median(rr):.2f} ({min(rr):.2f}-{max(rr):.2f}) |"
            )
        print(f"# load average at start {load0[0]:.1f}, at end {os.getloadavg()[0]:.1f}")
    finally:
        if broker is not None:
            broker.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
