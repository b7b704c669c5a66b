"""Backup benchmark on the 1,000-household archive: dangan backup beside cp -a, rsync -a,
restic alone and borg, in the same run.

    .venv/bin/python bench/backup.py                    # builds bench/out/archive_1000 once
    .venv/bin/python bench/backup.py --out DIR --work /tmp/dangan-bench-backup [--no-borg]

Builds (or reuses) the benchmark archive (:func:`samples.bench_archive.build_bench_archive`),
copies it to a scratch folder (untimed), and times, each tool into a fresh target on the
same disk:

* a first backup, a second one with nothing changed, and a third after ten new 300 KB scans
  arrived in the inbox: ``dangan backup`` (the CLI: process start, mirror under the writer
  lock, restic, state), beside ``cp -a`` (no incremental mode: it copies everything again),
  ``rsync -a``, ``restic backup`` on the folder directly, and ``borg create`` (lz4, repokey);
* repository size (``du``), and how long filing had to wait (dangan's writer lock);
* checking: ``dangan backup --check`` (restic check + 5% of the data re-read + 20 records
  restored and compared), ``restic check --read-data``, ``borg check --verify-data``;
* restoring the whole archive: ``dangan restore --to`` (restic restore, then every record
  hashed against its sidecar, catalog and search index rebuilt), ``restic restore``,
  ``borg extract``, ``cp -a`` back; and ``dangan backup --drill``.

Everything but ``.dangan/`` (the caches) is copied by every tool. The figures go in
``docs/benchmarks.md`` ("Backup").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.audit import _machine  # noqa: E402
from samples.bench_archive import build_bench_archive  # noqa: E402

DANGAN = Path(sys.executable).with_name("dangan")
PASSWORD = "bench-password-不要在真实环境使用"


def _run(
    argv: Sequence[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd, env=env)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(map(str, argv))} failed ({done.returncode}): {done.stderr[-2000:]}"
        )
    return took, done.stdout


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _entries(archive: Path) -> list[Path]:
    return [p for p in sorted(archive.iterdir()) if p.name != ".dangan"]


def _arrive(archive: Path, round_: int) -> None:
    folder = archive / "inbox" / "其他" / f"新到{round_}"
    folder.mkdir(parents=True)
    for i in range(10):
        (folder / f"扫描{i:02d}.jpg").write_bytes(os.urandom(300 * 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="the benchmark archive (built once)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/dangan-bench-backup"))
    parser.add_argument("--no-borg", action="store_true")
    args = parser.parse_args()
    out = args.out or ROOT / "bench" / "out" / f"archive_{args.households}"
    print(_machine())
    build_bench_archive(out, households=args.households)
    if args.work.exists():
        shutil.rmtree(args.work)
    work = args.work
    work.mkdir(parents=True)
    live = work / "archive"
    _run(["rsync", "-a", "--exclude", "/.dangan/", f"{out}/", f"{live}/"])
    _run([DANGAN, "reindex", "--archive", live])  # its caches, as on the office machine
    files = sum(1 for p in live.rglob("*") if p.is_file() and ".dangan" not in p.parts)
    size = _du(live) - _du(live / ".dangan")
    print(f"archive: {files:,} files, {size / 1e6:.1f} MB (without .dangan/), {live}")

    pw = work / "password"
    pw.write_text(PASSWORD + "\n")
    pw.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTIC_", "BORG_"))}
    env |= {"RESTIC_PASSWORD_FILE": str(pw), "BORG_PASSPHRASE": PASSWORD}
    env |= {
        "BORG_BASE_DIR": str(work / "borg-home"),
        "RESTIC_CACHE_DIR": str(work / "restic-cache"),
    }
    t = {name: work / name for name in ("cp", "rsync", "dangan", "restic", "borg")}
    _run(["restic", "init", "--repo", t["restic"]], env=env)
    tools = ["cp", "rsync", "dangan", "restic"]
    if not args.no_borg and shutil.which("borg"):
        _run(["borg", "init", "--encryption", "repokey", t["borg"]], env=env)
        tools.append("borg")
    rows: dict[str, list[float]] = {name: [] for name in tools}
    locked: list[float] = []
    for round_ in range(3):
        if round_ == 2:
            _arrive(live, round_)
        for name in tools:
            if name == "cp":
                t["cp"].mkdir(exist_ok=True)
                took, _ = _run(["cp", "-a", *_entries(live), t["cp"]])
            elif name == "rsync":
                took, _ = _run(
                    ["rsync", "-a", "--exclude", "/.dangan/", f"{live}/", f"{t['rsync']}/"]
                )
            elif name == "dangan":
                took, text = _run([DANGAN, "backup", "--to", t["dangan"], "--same-disk",
                                   "--password-file", pw, "--json", "--archive", live])  # fmt: skip
                locked.append(json.loads(text)["locked_seconds"])
            elif name == "restic":
                took, _ = _run(["restic", "backup", "--repo", t["restic"], "--exclude", "./.dangan",
                                "--host", "bench", "-q", "."], cwd=live, env=env)  # fmt: skip
            else:
                took, _ = _run(["borg", "create", "--compression", "lz4", "--exclude", "./.dangan",
                                f"{t['borg']}::r{round_}", "."], cwd=live, env=env)  # fmt: skip
            rows[name].append(took)
    print("\nbackup of the archive (wall seconds; same disk; lower is better)")
    print(
        f"  {'tool':34} {'first':>8} {'again, unchanged':>17} {'+10 scans':>10} {'target size':>12}"
    )
    labels = {
        "cp": "peer: cp -a (copies all again)",
        "rsync": "peer: rsync -a",
        "dangan": "dangan backup (restic, mirror)",
        "restic": "restic backup alone",
        "borg": "borg create (lz4)",
    }
    for name in tools:
        first, again, more = rows[name]
        print(
            f"  {labels[name]:34} {first:8.1f} {again:17.1f} {more:10.1f} {_du(t[name]) / 1e6:9.1f} MB"
        )
    print(f"  dangan: filing waited for the writer lock {', '.join(f'{s:.1f}' for s in locked)} s")

    print("\ncheck (wall seconds)")
    took, _ = _run([DANGAN, "backup", "--check", "--to", t["dangan"], "--password-file", pw,
                    "--archive", live])  # fmt: skip
    print(f"  dangan backup --check (5% re-read + 20 records)  {took:8.1f}")
    took, _ = _run(["restic", "check", "--repo", t["restic"]], env=env)
    print(f"  restic check (structure)                         {took:8.1f}")
    took, _ = _run(["restic", "check", "--read-data", "--repo", t["restic"]], env=env)
    print(f"  restic check --read-data                         {took:8.1f}")
    if "borg" in tools:
        took, _ = _run(["borg", "check", t["borg"]], env=env)
        print(f"  borg check                                       {took:8.1f}")
        took, _ = _run(["borg", "check", "--verify-data", t["borg"]], env=env)
        print(f"  borg check --verify-data                         {took:8.1f}")

    print("\nrestore the whole archive (wall seconds)")
    took, _ = _run([DANGAN, "restore", "--from", t["dangan"], "--to", work / "r-dangan",
                    "--password-file", pw])  # fmt: skip
    print(f"  dangan restore --to (+ verify, reindex)          {took:8.1f}")
    took, _ = _run(
        ["restic", "restore", "latest", "--repo", t["restic"], "--target", work / "r-restic"],
        env=env,
    )
    print(f"  restic restore                                   {took:8.1f}")
    if "borg" in tools:
        (work / "r-borg").mkdir()
        took, _ = _run(["borg", "extract", f"{t['borg']}::r2"], cwd=work / "r-borg", env=env)
        print(f"  borg extract                                     {took:8.1f}")
    (work / "r-cp").mkdir()
    took, _ = _run(["cp", "-a", *_entries(t["cp"]), work / "r-cp"])
    print(f"  peer: cp -a back                                 {took:8.1f}")
    start = time.perf_counter()
    _run([DANGAN, "reindex", "--archive", work / "r-cp"])
    print(f"  (dangan reindex alone, on the cp -a copy)        {time.perf_counter() - start:8.1f}")
    took, text = _run([DANGAN, "backup", "--drill", "--to", t["dangan"], "--password-file", pw,
                       "--archive", live])  # fmt: skip
    print(f"  dangan backup --drill (restore, verify, reindex, compare)  {took:.1f}")
    print("    " + "\n    ".join(text.strip().splitlines()))


if __name__ == "__main__":
    main()
