"""status: the archive at a glance, and what to do next."""

from __future__ import annotations

from pathlib import Path

import click

from archive.ops.backup_config import backup_rows
from archive.ops.status import (
    FLAGGED,
    Status,
    archive_status,
    next_steps,
    quarantine_label,
)
from archive.records.dossier import kind_label
from cli.common import archive_option, emit_json, open_archive


def _counts(counts: dict[str, int], label: object = str) -> str:
    return ", ".join(f"{label(k)} {v:,}" for k, v in counts.items())  # type: ignore[operator]


def _lines(s: Status) -> list[tuple[str, str]]:
    watcher = "未运行"
    if s.watcher is not None:
        w = s.watcher
        watcher = (
            f"运行中 (进程 {w.get('pid', '?')} @ {w.get('host', '?')}, "
            f"自 {str(w.get('since', '?'))[:19].replace('T', ' ')}, {w.get('mode', '')})"
        )
    inbox = "空"
    if s.inbox.waiting:
        inbox = (
            f"{s.inbox.waiting:,} 个文件待归档 ({_counts(s.inbox.by_folder)}), "
            f"最早放入 {str(s.inbox.oldest)[:16].replace('T', ' ')}"
        )
    if s.inbox.partial:
        inbox += f"; {s.inbox.partial} 个正在写入"
    if s.inbox.not_taken:
        labels = {code: quarantine_label(code) for code in s.inbox.not_taken}
        inbox += "; 不会归档: " + "、".join(
            f"{labels[code]} {count}" for code, count in s.inbox.not_taken.items()
        )
    rows = [
        ("档案库", s.root),
        ("单位", s.bureau),
        ("评分标准", s.standard or "内置样例 (未导入本省标准)"),
        ("监视", watcher),
        ("收件箱", inbox),
    ]
    if s.catalog == "empty":
        rows.append(("档案", "0 份 (尚未归档)"))
    elif s.catalog == "ok":
        rows.append(
            (
                "档案",
                f"{s.records:,} 份" + (f": {_counts(s.by_kind, kind_label)}" if s.records else ""),
            )
        )
        if s.roster:
            rows.append(("名册", f"{s.roster:,} 户, 其中 {s.households_filed:,} 户已有档案"))
        flagged = ", ".join(f"{FLAGGED[code]} {n:,} 份" for code, n in s.flagged.items())
        rows.append(("需核对", flagged or "无"))
        if s.meetings_unconfigured:
            rows.append(("未配置的会议", _counts(s.meetings_unconfigured, str) + " (份)"))
        if s.meetings_to_move:
            moves = ", ".join(
                f"{m['name']} → {m['type']} {m['records']} 份" for m in s.meetings_to_move
            )
            rows.append(("待并入的会议", moves))
    else:
        problem = {"missing": "目录库缺失", "stale": "目录库版本不符", "damaged": "目录库损坏"}
        rows.append(("档案", f"{problem[s.catalog]}, 需要重建 (dangan reindex)"))
    quarantine = "空"
    if s.quarantine:
        quarantine = (
            f"{sum(s.quarantine.values()):,} 个: {_counts(s.quarantine, quarantine_label)}"
            f" (最近 {str(s.quarantine_latest)[:10]})"
        )
    rows.append(("隔离区", quarantine))
    if s.index_rebuilding:
        index = "重建未完成"
    elif s.indexed is None:
        index = "索引缺失"
    else:
        index = f"{s.indexed:,} 份已索引"
    rows.append(("检索索引", index))
    if s.last_selfcheck:
        c = s.last_selfcheck
        year, month = c["month"].split("-")
        rows.append(
            (
                "上次自查",
                f"{year}年{int(month)}月: {c['earned']:g}/{c['possible']:g} 分 (可评估子项), "
                f"问题 {c['findings']} 项",
            )
        )
    rows += backup_rows(s.backup)
    if s.last_filed:
        at = s.last_filed["at"][:19].replace("T", " ")
        rows.append(("最近归档", f"{at}  {s.last_filed['path']}"))
    if s.interrupted:
        rows.append(("中断的归档", f"{s.interrupted} 次"))
    return rows


@click.command()
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@archive_option
def status(as_json: bool, archive_dir: Path | None) -> None:
    """档案库概况: 收件箱、档案、待归档、不清晰、隔离区、监视进程, 以及下一步该做什么。"""
    archive = open_archive(archive_dir)
    s = archive_status(archive)
    if as_json:
        emit_json(s.as_dict())
        return
    rows = _lines(s)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"{label}{'　' * (width - len(label))}  {value}")
    steps = next_steps(s)
    click.echo("")
    if not steps:
        click.echo("一切正常, 没有待办事项。")
        return
    click.echo("下一步:")
    for i, step in enumerate(steps, 1):
        click.echo(f"  {i}. {step}")


COMMANDS = [status]
