"""Audit and score benchmark on the 1,000-household archive.

    .venv/bin/python bench/audit.py                    # builds bench/out/archive_1000 once
    .venv/bin/python bench/audit.py --households 200 --out bench/out/archive_200

Builds (or reuses) the benchmark archive with :func:`samples.bench_archive.build_bench_archive`
(real intake, no OCR), then times, in the same run:

* the library: ``score_archive`` (no hashing) and ``audit_archive`` (with fixity);
* the CLI: ``dangan score --json``, ``dangan audit --no-fixity --json``, ``dangan audit --json``
  and ``dangan audit --xlsx`` (process start included);
* the peers: a plain SQL count of records by dossier, ``verify_records`` hashing alone, and
  ``dangan --help`` (the cost of starting the CLI at all).

It also checks that every planted defect was found and prints the figures (recorded in
``docs/benchmarks.md``, section "Audit and score"; ``--doc FILE`` also writes them to a file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive.assess.audit_inputs import load_inputs  # noqa: E402
from archive.assess.score import audit_archive, score_archive  # noqa: E402
from archive.core.config import Archive  # noqa: E402
from archive.records.fixity import verify_records  # noqa: E402
from archive.records.reindex import open_catalog  # noqa: E402
from samples.bench_archive import build_bench_archive  # noqa: E402

DANGAN = Path(sys.executable).with_name("dangan")


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall seconds over ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _cli(*args: str) -> Callable[[], subprocess.CompletedProcess[str]]:
    def run() -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(DANGAN), *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"dangan {' '.join(args)} failed: {done.stderr}")
        return done

    return run


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} CPU, Python {platform.python_version()}, "
        f"load average {load:.1f} at start (machine shared with other work)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--doc", type=Path, default=None, help="also write the figures to this file"
    )
    args = parser.parse_args()
    out = args.out or ROOT / "bench" / "out" / f"archive_{args.households}"
    machine = _machine()

    start = time.perf_counter()
    built = not (out / "bench.json").is_file()
    manifest = build_bench_archive(out, households=args.households, year=args.year)
    build_s = time.perf_counter() - start
    archive = Archive(out)
    as_of = dt.date(args.year, 12, 31)
    inputs = load_inputs(archive)
    rows: list[tuple[str, float, str]] = []

    with open_catalog(archive) as catalog:
        records = catalog.db.execute("SELECT count(*) FROM records").fetchone()[0]
        sql_s, _ = _time(
            lambda: catalog.db.execute(
                "SELECT dossier_kind, dossier_key, count(*) FROM records "
                "GROUP BY dossier_kind, dossier_key"
            ).fetchall(),
            args.repeat,
        )
        rows.append(("peer: SQL count of records by dossier", sql_s, "one GROUP BY"))
        verify_s, fixity = _time(lambda: verify_records(archive, catalog), 1)
        rows.append(
            ("peer: verify_records (hash every record)", verify_s, f"{fixity.checked} files")
        )

        def score() -> Any:
            return score_archive(
                archive,
                catalog,
                inputs.standard,
                year=args.year,
                as_of=as_of,
                metrics=inputs.metrics,
                checklists=inputs.checklists,
            )

        score_s, report = _time(score, args.repeat)
        rows.append(
            ("library: score_archive (no hashing)", score_s, f"{len(report.criteria)} criteria")
        )

        def audit() -> Any:
            return audit_archive(
                archive,
                catalog,
                inputs.standard,
                year=args.year,
                as_of=as_of,
                metrics=inputs.metrics,
                checklists=inputs.checklists,
                fixity=True,
            )

        audit_s, findings = _time(audit, 1)
        rows.append(("library: audit_archive (with fixity)", audit_s, f"{len(findings)} findings"))

    common = ("--as-of", as_of.isoformat(), "--archive", str(out))
    for label, cli_args, repeat in (
        ("peer: dangan --help (CLI start-up)", ("--help",), args.repeat),
        ("cli: dangan score --json", ("score", "--json", *common), args.repeat),
        (
            "cli: dangan audit --no-fixity --json",
            ("audit", "--no-fixity", "--json", *common),
            args.repeat,
        ),
        ("cli: dangan audit --json (with fixity)", ("audit", "--json", *common), 1),
        (
            "cli: dangan audit --no-fixity --xlsx",
            ("audit", "--no-fixity", "--xlsx", str(out.parent / f"{out.name}_audit.xlsx"), *common),
            1,
        ),
    ):
        seconds, _ = _time(_cli(*cli_args) if cli_args != ("--help",) else _cli("--help"), repeat)
        rows.append((label, seconds, ""))

    # The planted defects must all be found.
    codes = Counter(f.code for f in findings)
    planted = manifest["planted"]
    text = {f"{f.subject} {f.message} {f.record or ''}" for f in findings}
    checks = {
        "households without 送达回证": all(
            any(lic in t and "送达回证" in t for t in text)
            for lic in planted["households_without_receipt"]
        ),
        "expired licences": all(
            any(lic in t and "已过期" in t for t in text) for lic in planted["expired_licences"]
        ),
        "case without 送达回证": any(planted["case_without_receipt"] in t for t in text),
        "missing 专销联动会议 in March": any(
            f"{args.year}年3月没有“专销联动会议”" in t for t in text
        ),
        "unresolved scan": codes["unresolved"] >= 1,
        "duplicate": codes["duplicate"] >= 1,
    }

    lines = [
        f"# Audit and score benchmark ({dt.date.today().isoformat()})",
        "",
        f"Machine: {machine}.",
        "",
        f"Archive: `{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}` — "
        f"{args.households} households, {manifest['params']['cases']} case files, a year of "
        f"meetings and work materials; {records} records "
        f"({'built in this run: ' + f'{build_s:.0f} s through the real intake, no OCR' if built else 'reused'}).",
        f"Standard: {report.standard}; score {report.total_earned:g}/{report.total_possible:g}.",
        "",
        f"Times are medians of {args.repeat} runs where repeated (1 run for the hashing ones).",
        "",
        "| what | seconds | note |",
        "|---|---:|---|",
        *[f"| {label} | {seconds:.3f} | {note} |" for label, seconds, note in rows],
        "",
        "Findings by code: " + ", ".join(f"{k} {v}" for k, v in sorted(codes.items())) + ".",
        "",
        "Planted defects found: "
        + ", ".join(f"{k}: {'yes' if ok else 'NO'}" for k, ok in checks.items())
        + ".",
        "",
    ]
    report_text = "\n".join(lines)
    sys.stdout.write(report_text)
    if args.doc is not None:
        args.doc.parent.mkdir(parents=True, exist_ok=True)
        args.doc.write_text(report_text, encoding="utf-8")
    if not all(checks.values()):
        raise SystemExit("some planted defects were not found")


if __name__ == "__main__":
    main()
