"""四性检测 benchmark on the 1,000-household archive, beside a plain re-hash of the same files.

    .venv/bin/python bench/check.py                    # builds bench/out/archive_1000 once
    .venv/bin/python bench/check.py --households 200 --out bench/out/archive_200

Builds (or reuses) the benchmark archive with :func:`samples.bench_archive.build_bench_archive`
(real intake, no OCR; every document numbered), then times, in the same run:

* the peer: ``verify_records`` — re-hash every record against its SHA-256 (``dangan verify``);
* ``check_archive`` — the whole 四性检测: walk records/, parse every sidecar, hash every file,
  open and draw the first page of every PDF (pdfium), check the 件号 of every group, compare
  with the catalog, scan with ClamAV when it is installed;
* ``dangan check --json`` through the CLI (process start included).

Prints the figures (recorded in ``docs/benchmarks.md``, section "四性检测").
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive.check.archive_check import check_archive  # noqa: E402
from archive.check.probe_pool import default_workers  # noqa: E402
from archive.core.config import Archive  # noqa: E402
from archive.records.fixity import verify_records  # noqa: E402
from archive.records.reindex import open_catalog  # noqa: E402
from samples.bench_archive import build_bench_archive  # noqa: E402

DANGAN = Path(sys.executable).with_name("dangan")


def _machine() -> str:
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPU, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at start (machine shared with other work)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or ROOT / "bench" / "out" / f"archive_{args.households}"
    print(_machine())
    start = time.perf_counter()
    manifest = build_bench_archive(out, households=args.households)
    print(
        f"archive: {out} ({manifest['records']} records; ready in {time.perf_counter() - start:.0f} s)"
    )
    archive = Archive(out)
    with open_catalog(archive) as catalog:
        t = time.perf_counter()
        fixity = verify_records(archive, catalog)
        verify_s = time.perf_counter() - t
    size = sum(p.stat().st_size for p in archive.records.rglob("*") if p.is_file())
    t = time.perf_counter()
    report = check_archive(archive)
    check_s = time.perf_counter() - t
    t = time.perf_counter()
    check_archive(archive, workers=1)
    single_s = time.perf_counter() - t
    t = time.perf_counter()
    done = subprocess.run(
        [str(DANGAN), "check", "--json", "--archive", str(out)], capture_output=True
    )
    cli_s = time.perf_counter() - t
    failed = [i.code for i in report.ordered() if i.verdict == "不通过"]
    not_done = [i.code for i in report.ordered() if i.verdict == "未执行"]
    print(f"files: {fixity.checked} records, {size / 1e6:.1f} MB under records/")
    print(
        f"  peer: verify_records (re-hash every record)   {verify_s:7.2f} s  {fixity.checked / verify_s:7.0f} records/s"
    )
    print(
        f"  check_archive (四性检测, {len(report.items)} items)         {check_s:7.2f} s  {fixity.checked / check_s:7.0f} records/s  ({check_s / verify_s:.1f}x verify)"
    )
    print(
        f"  check_archive, files opened in one process   {single_s:7.2f} s  {fixity.checked / single_s:7.0f} records/s  (workers: {default_workers(fixity.checked)} → {single_s / check_s:.2f}x faster)"
    )
    print(f"  dangan check --json (CLI, exit {done.returncode})            {cli_s:7.2f} s")
    print(
        f"  verdicts: {len(report.items) - len(failed) - len(not_done)} 通过, 不通过 {failed or '—'}, 未执行 {not_done or '—'}"
    )


if __name__ == "__main__":
    main()
