"""Benchmark: the three reports on the 1,000-household benchmark archive.

Prints, each measured in this run:

- ``queries``: the bare catalog work the reports stand on (``compute_figures`` for the year
  and ``score_archive``, i.e. the audit) — the peer for "how much do the reports add";
- ``example``: rendering the fixed example 整改情况报告 (samples/example_report.py) to .docx and
  .pdf — the peer for "how much does rendering a document of that length cost";
- per report: building the document from the archive, rendering the .docx, rendering the
  .pdf, the PDF's pages; and the whole ``dangan report <kind>`` command as a clerk runs it.

    .venv/bin/python bench/reports.py [--archive /tmp/dangan-bench-reports/archive]
                                      [--households 1000]

The archive is built once through the real intake (``samples.bench_archive``) and reused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pypdf import PdfReader  # noqa: E402

from archive.assess.figures import compute_figures  # noqa: E402
from archive.assess.score import score_archive  # noqa: E402
from archive.core.config import Archive  # noqa: E402
from archive.paperwork.render_docx import render_docx  # noqa: E402
from archive.paperwork.render_pdf import render_pdf  # noqa: E402
from archive.paperwork.reports.build import build_report, open_context  # noqa: E402
from archive.records.reindex import open_catalog  # noqa: E402
from samples.bench_archive import build_bench_archive  # noqa: E402
from samples.example_report import build_example_report  # noqa: E402

YEAR = 2024
AS_OF = dt.date(YEAR, 12, 31)


def _prepare(root: Path, households: int) -> dict[str, object]:
    started = time.perf_counter()
    manifest = build_bench_archive(root, households=households, year=YEAR)
    built = time.perf_counter() - started
    if not (root / "报告素材.yaml").exists():
        shutil.copy(ROOT / "samples" / "narrative.yaml", root / "报告素材.yaml")
    if not (root / "检查发现.yaml").exists():
        text = (ROOT / "samples" / "criteria" / "findings.yaml").read_text(encoding="utf-8")
        text = text.replace("2010-01-24", f"{YEAR}-05-10").replace("2010-01-26", f"{YEAR}-05-12")
        (root / "检查发现.yaml").write_text(
            text.replace("2010-03-31", f"{YEAR}-06-30"), encoding="utf-8"
        )
    return {"manifest": manifest, "seconds": built}


def _timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - started


def _pages(pdf: Path) -> int:
    return len(PdfReader(str(pdf)).pages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=Path("/tmp/dangan-bench-reports/archive"))
    parser.add_argument("--households", type=int, default=1000)
    args = parser.parse_args()
    root: Path = args.archive
    prep = _prepare(root, args.households)
    archive = Archive(root)
    out = root.parent / "reports-out"
    out.mkdir(parents=True, exist_ok=True)
    with open_catalog(archive) as catalog:
        records = catalog.db.execute("SELECT count(*) FROM records").fetchone()[0]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {dt.date.today()}"
    )
    print(
        f"archive: {root} ({args.households} households, {records} records; "
        f"build/reuse {prep['seconds']:.1f} s)"
    )
    print()

    # --- peers -------------------------------------------------------------------------
    from archive.assess.audit_inputs import load_inputs

    inputs = load_inputs(archive)
    with open_catalog(archive) as catalog:
        _, t_fig = _timed(compute_figures, catalog, year=YEAR, metrics=inputs.metrics)
        _, t_score = _timed(
            score_archive, archive, catalog, inputs.standard, year=YEAR, as_of=AS_OF,
            metrics=inputs.metrics, checklists=inputs.checklists,
        )  # fmt: skip
    example = build_example_report()
    _, t_ex_docx = _timed(render_docx, example, out / "example.docx")
    _, t_ex_pdf = _timed(render_pdf, example, out / "example.pdf")
    rows = [
        ("peer: compute_figures (year)", t_fig, "", ""),
        ("peer: score_archive (audit)", t_score, "", ""),
        ("peer: example report .docx", t_ex_docx, "", ""),
        ("peer: example report .pdf", t_ex_pdf, str(_pages(out / "example.pdf")), ""),
    ]

    # --- the three reports, library ------------------------------------------------------
    for kind, options in (("summary", {}), ("rectification", {}), ("selfcheck", {"month": 12})):
        with open_context(archive, year=YEAR, as_of=AS_OF) as ctx:
            report, t_build = _timed(build_report, kind, ctx, **options)
        _, t_docx = _timed(render_docx, report.document, out / f"{kind}.docx")
        _, t_pdf = _timed(render_pdf, report.document, out / f"{kind}.pdf")
        rows.append((f"{kind}: build from archive", t_build, "", ""))
        rows.append((f"{kind}: .docx", t_docx, "", ""))
        rows.append((f"{kind}: .pdf", t_pdf, str(_pages(out / f"{kind}.pdf")), ""))

    # --- the three reports, as the clerk runs them --------------------------------------
    dangan = Path(sys.executable).with_name("dangan")
    for kind in ("summary", "rectification", "selfcheck"):
        started = time.perf_counter()
        done = subprocess.run(
            [str(dangan), "report", kind, "--archive", str(root), "--as-of", AS_OF.isoformat(),
             "--out", str(out / "cli")],
            capture_output=True, text=True,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        rows.append((f"dangan report {kind} (CLI, docx+pdf)", elapsed, "", "end to end"))

    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'seconds':>8}  {'pages':>5}  note")
    for name, seconds, pages, note in rows:
        print(f"{name:<{width}}  {seconds:8.2f}  {pages:>5}  {note}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of this process: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
