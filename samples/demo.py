"""The demo: a fresh archive, realistic scans and PDFs dropped in, every command run on them.

    python -m samples.demo [ARCHIVE_DIR]      (scripts/demo.sh does this after installing)

Each step prints the ``dangan`` command it runs, so a clerk can repeat it by hand.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from archive.access.roles import ROLES
from samples.badfiles import bad_inputs
from samples.bench_archive import build_bench_archive
from samples.minutes import sample_minutes, write_minutes
from samples.scans import generate_scans

SAMPLES = Path(__file__).resolve().parent

DANGAN = str(Path(sys.executable).with_name("dangan"))


def _run(
    *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    shown = " ".join(("dangan", *args))
    print(f"\n$ {shown}" + (" <<< (密码)" if stdin else ""), flush=True)
    result = subprocess.run([DANGAN, *args], text=True, input=stdin)
    if check and result.returncode != 0:
        raise SystemExit(f"demo: `{shown}` failed with exit code {result.returncode}")
    return result


YEAR = 2024
AS_OF = f"{YEAR}-12-31"
#: Demo sign-ins for the web app, one per role (a real bureau makes its own: README).
DEMO_USERS = (
    ("管理员", "admin", "demo-admin-2024"),
    ("档案员", "clerk", "demo-clerk-2024"),
    ("王科长", "reader", "demo-reader-2024"),
    ("审计员", "auditor", "demo-audit-2024"),
)


def _findings(path: Path) -> None:
    """The sample inspection findings (seed 001's wording), as if inspected this spring."""
    text = (SAMPLES / "criteria" / "findings.yaml").read_text(encoding="utf-8")
    text = text.replace("date: 2010-01-24", f"date: {YEAR}-04-10").replace(
        "until: 2010-01-26", f"until: {YEAR}-04-12"
    )
    text = text.replace("deadline: 2010-03-31", f"deadline: {YEAR}-06-30")
    path.write_text(text, encoding="utf-8")


def build(root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    print(
        f"# 准备演示档案库: {YEAR}年的工作材料(40户许可证档案、6起案件、全年会议记录、工作方案等)已归档",
        flush=True,
    )
    made = build_bench_archive(root, households=40, seed=7, year=YEAR, cases=6)
    print(f"  已归档 {made['files']} 份 (其中有意缺少的材料和过期许可证, 供自查发现)")
    config = root / "dangan.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("settle_seconds = 2.0", "settle_seconds = 0.0"),
        encoding="utf-8",
    )
    shutil.copy(SAMPLES / "narrative.yaml", root / "报告素材.yaml")
    _findings(root / "上级检查发现.yaml")

    print(
        "\n# 今天新扫描的材料放入收件箱: 许可证、申请表、核查记录、处罚决定书、会议记录 (含倾斜、旋转、不清晰、标题与内容不符)"
    )
    scans = root / ".dangan" / "samples"
    truths = generate_scans(scans, seed=7, layout="inbox")
    shutil.copytree(scans / "inbox", root / "inbox", dirs_exist_ok=True)
    print(f"  {len(truths)} 份扫描件")
    for name, (data, _code) in list(bad_inputs().items())[:4]:
        (root / "inbox" / "其他" / name).write_bytes(data)
    print("  4 个有问题的文件(空文件、传输中断、乱码、加密)")
    minutes = write_minutes(root / "inbox", sample_minutes(YEAR, (3, 5)))
    print(
        f"  {len(minutes)} 份各类会议记录 (依法行政工作推进会、表彰大会、培训会等规则中没有的会议, "
        "案审会记录写明案号)"
    )
    a = str(root)
    _run("findings", "import", str(root / "上级检查发现.yaml"), "--archive", a)
    _run("ingest", "--archive", a)
    _run("status", "--archive", a)
    licence = next(t.keys["licence"] for t in truths if "licence" in t.keys)
    _run("show", licence, "--archive", a)
    _run("show", f"潼烟罚〔{YEAR}〕第3号", "--archive", a)
    _run("show", "依法行政工作推进会/2021", "--archive", a)
    _run("quarantine", "list", "--archive", a)
    name = next(t.keys["name"] for t in truths if t.keys.get("name"))
    _run("search", name[-3:], "--limit", "3", "--archive", a)
    _run(
        "search", "案号:" + next(t.keys["case"] for t in truths if "case" in t.keys), "--archive", a
    )
    _run("search", f"许可证号:{licence[-5:]}", "--archive", a)
    _run("score", "--year", str(YEAR), "--as-of", AS_OF, "--archive", a)
    _run(
        "audit",
        "--year",
        str(YEAR),
        "--as-of",
        AS_OF,
        "--xlsx",
        str(root / "报告" / "自查问题清单.xlsx"),
        "--archive",
        a,
    )
    for kind in ("summary", "rectification", "selfcheck"):
        _run("report", kind, "--year", str(YEAR), "--as-of", AS_OF, "--archive", a)
    _run(
        "bundle",
        "--year",
        str(YEAR),
        "--as-of",
        AS_OF,
        "--out",
        str(root / "验收材料包"),
        "--force",
        "--archive",
        a,
    )
    _run("verify", str(root / "验收材料包"), "--archive", a)
    _run("verify", "--archive", a)
    for name, role, password in DEMO_USERS:
        _run(
            "users",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            "--archive",
            a,
            stdin=password + "\n",
        )
    print(f"\n演示完成。档案库: {root}")
    print(f"  报告: {root / '报告'}   验收材料包: {root / '验收材料包'}")
    print(f"  再次运行 dangan 命令时加 --archive {root}")
    print("\n用浏览器查看 (网页服务, 按 Ctrl+C 停止):")
    exe = Path(DANGAN)
    shown = exe.relative_to(Path.cwd()) if exe.is_relative_to(Path.cwd()) else exe
    print(f"  {shlex.quote(str(shown))} serve --archive {shlex.quote(str(root))}")
    print("  然后打开 http://127.0.0.1:8080/ 登录, 演示账户 (用户名 / 密码):")
    for name, role, password in DEMO_USERS:
        print(f"    {name} / {password}   ({ROLES[role]})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.demo", description=__doc__)
    parser.add_argument("archive", nargs="?", type=Path, default=Path("demo-archive"))
    args = parser.parse_args(argv)
    build(args.archive.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
