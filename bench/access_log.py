"""Access-log benchmark: what the auditor's page costs as the log (利用登记) grows.

    .venv/bin/python bench/access_log.py                 # 300,000 entries (a few years)
    .venv/bin/python bench/access_log.py --entries 1000000

Printed, for a log of N entries in a real ``access/access.sqlite``: the whole walk of the
hash chain (``AccessLog.verify``) beside its peer, reading the same rows alone with SQLite
(the floor any check of every entry must pay), then the page's check between whole walks
(``AccessLog.check``: only the entries added since), and the page's query (newest 50, and a
text filter).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive.access.log import AccessLog, Actor, LogFilter, append  # noqa: E402
from archive.access.store import AccessStore  # noqa: E402


def _best(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dangan-bench-log-"))
    try:
        store = AccessStore(work / "access" / "access.sqlite")
        log = AccessLog(store)
        who = [Actor(f"读者{i:02d}", "reader", f"192.168.1.{20 + i}") for i in range(20)]
        t = time.perf_counter()
        with store.write() as db:
            for i in range(args.entries):
                append(
                    db, f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T09:{i % 60:02d}:00",
                    who[i % 20], ("view_dossier", "search", "view_page")[i % 3],
                    f"6105221{i % 100_000:05d}", "6 份文件",
                )  # fmt: skip
        write_s = time.perf_counter() - t

        def read_all() -> None:
            with store.read() as db:
                cursor = db.cursor()
                cursor.row_factory = None
                cursor.execute("SELECT * FROM log ORDER BY seq").fetchall()

        read_s = _best(read_all, args.runs)
        verify_s = _best(log.verify, args.runs)
        log.check()  # the first check of a process walks it all
        new_ms = []
        for _ in range(50):
            log.record(who[0], "search", "鑫垚")
            t = time.perf_counter()
            checked = log.check()
            new_ms.append((time.perf_counter() - t) * 1000)
        assert checked.ok and not checked.full and checked.walked == 1
        newest_ms = _best(lambda: log.query(LogFilter(), limit=50), args.runs) * 1000
        text_ms = _best(lambda: log.query(LogFilter(text="610522100"), limit=50), args.runs) * 1000
        size = store.path.stat().st_size / 1e6
        load = os.getloadavg()[0]
        print(
            f"access log: {args.entries:,} entries ({size:.0f} MB), {os.cpu_count()} cores, "
            f"load average {load:.1f}, {time.strftime('%Y-%m-%d %H:%M')}"
        )
        print(f"  written in one transaction                    {write_s:8.2f} s")
        print(f"  peer: SQLite reads every entry alone           {read_s:8.2f} s")
        print(f"  AccessLog.verify: the whole chain walked       {verify_s:8.2f} s")
        print(
            f"  AccessLog.check between whole walks (1 new)   {statistics.median(new_ms):8.2f} ms "
            "median of 50"
        )
        print(f"  log page query: newest 50                      {newest_ms:8.2f} ms")
        print(f"  log page query: text filter                    {text_ms:8.2f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
