"""The demo: a fresh archive, realistic scans and PDFs dropped in, every command run on them.

    python -m samples.demo [ARCHIVE_DIR]      (scripts/demo.sh does this after installing)

Each step prints the ``dangan`` command it runs, so a clerk can repeat it by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

from samples.badfiles import bad_inputs
from samples.scans import generate_scans
from samples.textpdf import Household, make_households, write_licence_pdfs, write_roster_csv

DANGAN = str(Path(sys.executable).with_name("dangan"))


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    shown = " ".join(("dangan", *args))
    print(f"\n$ {shown}", flush=True)
    result = subprocess.run([DANGAN, *args], text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"demo: `{shown}` failed with exit code {result.returncode}")
    return result


def _has_command(name: str) -> bool:
    listing = subprocess.run([DANGAN, "--help"], capture_output=True, text=True).stdout
    return any(line.split()[:1] == [name] for line in listing.splitlines())


def build(root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    _run(
        "init",
        str(root),
        "--bureau",
        "潼关县烟草专卖局",
        "--area-code",
        "610522",
        "--case-prefix",
        "潼烟罚",
    )
    config = root / "dangan.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("settle_seconds = 2.0", "settle_seconds = 0.0"),
        encoding="utf-8",
    )
    print(
        "\n# 生成样例扫描件(许可证、申请表、核查记录、处罚决定书、会议记录; 含倾斜、旋转、不清晰、标题与内容不符)"
    )
    truths = generate_scans(root, seed=7, layout="inbox")
    (root / "manifest.json").replace(root / ".dangan" / "samples-manifest.json")
    print(f"  {len(truths)} 份扫描件放入 {root / 'inbox'}")
    households = make_households(40, seed=7)
    write_licence_pdfs(root / "inbox", households[:30])
    print("  30 份带文字层的许可证 PDF 放入 inbox/许可证/")
    for name, (data, _code) in list(bad_inputs().items())[:4]:
        (root / "inbox" / "其他" / name).write_bytes(data)
    print("  4 个有问题的文件(空文件、传输中断、乱码、加密)放入 inbox/其他/")
    scanned = {t.keys["licence"]: t.keys.get("name", "") for t in truths if "licence" in t.keys}
    roster = list(households)
    for index, (licence, name) in enumerate(sorted(scanned.items())):
        roster.append(
            Household(
                licence,
                name or f"样例户{index}",
                (name or "某")[:2],
                "潼关县城关镇",
                "守法经营户",
                dt.date(2021, 1, 1),
                dt.date(2026, 12, 31),
            )
        )
    write_roster_csv(root / "名册.csv", roster, encoding="gbk")

    _run("households", "import", str(root / "名册.csv"), "--archive", str(root))
    _run("ingest", "--archive", str(root))
    first = sorted(scanned)[0] if scanned else households[0].licence_no
    _run("show", first, "--archive", str(root))
    _run("show", households[0].name, "--archive", str(root))
    _run("quarantine", "list", "--archive", str(root))
    if _has_command("search"):
        _run("search", households[1].operator, "--archive", str(root))
        _run("search", f"许可证号:{households[2].licence_no[-5:]}", "--archive", str(root))
    _run("verify", "--archive", str(root))
    print(
        f"\n演示完成。档案库: {root}\n  用资源管理器或 `ls {root}/records` 浏览; 再次运行 dangan 命令时加 --archive {root}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.demo", description=__doc__)
    parser.add_argument("archive", nargs="?", type=Path, default=Path("demo-archive"))
    args = parser.parse_args(argv)
    build(args.archive.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
