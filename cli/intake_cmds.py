"""init, ingest, watch, backlog."""

from __future__ import annotations

import contextlib
import re
import signal
import sys
import threading
import time
from pathlib import Path

import click

from archive.core.config import CONFIG_NAME, Archive, init_archive
from archive.core.errors import ArchiveError, UsageError
from archive.intake.intake import DiskFull, Outcome
from archive.intake.pipeline import after_batch, extractor_for, make_intake
from archive.intake.settling import DEFAULT_WAIT_SECONDS, Waiting, ingest_inbox
from archive.intake.watch_lock import hold_watch_lock
from archive.intake.watcher import Watcher
from archive.records.reindex import open_catalog
from cli.access_log import log_action
from cli.common import archive_option, emit_json, log_to_archive, open_archive

_LABEL = {
    "filed": "已归档",
    "unfiled": "待归档",
    "duplicate": "重复",
    "quarantined": "已隔离",
    "skipped": "跳过",
    "waiting": "等待中",
}
_PAGE_NOTE_SECONDS = 10.0  # without a terminal: a line this often while one document is read


class _Progress:
    """Files done and, within a long document, pages read: a status line on a terminal;
    without one, a line every few seconds while a long document is being read."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.files = (0, 0)
        self.page_line = ""
        self.last_note = time.monotonic()
        self.lock = threading.Lock()

    def _draw(self) -> None:
        done, total = self.files
        line = f"归档 {done}/{total}" + (f"  {self.page_line}" if self.page_line else "")
        click.echo("\r" + line[:110].ljust(110), nl=False, err=True)

    def file_done(self, done: int, total: int) -> None:
        with self.lock:
            self.files, self.page_line = (done, total), ""
            if self.tty:
                self._draw()

    def pages(self, name: str, done: int, total: int) -> None:
        if total < 2:
            return
        with self.lock:
            self.page_line = f"{name}: 第 {done}/{total} 页"
            if self.tty:
                self._draw()
            elif time.monotonic() - self.last_note >= _PAGE_NOTE_SECONDS and done < total:
                self.last_note = time.monotonic()
                click.echo(f"正在读取 {name}: 第 {done}/{total} 页", err=True)

    def waiting(self, files: list[Waiting], left: float) -> None:
        names = "、".join(w.source.removeprefix("inbox/") for w in files[:3])
        more = f" 等 {len(files)} 个文件" if len(files) > 3 else ""
        with self.lock:
            if self.tty:
                click.echo("", err=True)
            click.echo(f"等待 {names}{more} 写入完成 (最多再等 {left:.0f} 秒)", err=True)

    def close(self) -> None:
        if self.tty and self.files != (0, 0):
            click.echo("", err=True)


def _notice(message: str) -> None:
    click.echo(message, err=True)


def _print_outcome(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        emit_json(outcome.as_dict())
        sys.stdout.flush()
        return
    line = f"{_LABEL.get(outcome.outcome, outcome.outcome)}  {outcome.source}"
    if outcome.record:
        line += f"  →  {outcome.record}"
    if outcome.reason or outcome.note:
        line += f"  ({outcome.reason or outcome.note})"
    click.echo(line)


def _log_ingest(
    archive: Archive, paths: tuple[Path, ...], outcomes: list[Outcome], note: str = ""
) -> str:
    """One access-log entry for the run (none when it found nothing); returns the counts."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    summary = ", ".join(f"{_LABEL.get(k, k)} {v}" for k, v in counts.items()) or "收件箱为空"
    if outcomes:
        asked = "、".join(str(p) for p in paths) or "inbox/"
        log_action(archive, "ingest", asked, f"共 {len(outcomes)} 个文件: {summary}{note}")
    return summary


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--bureau", default="示例县烟草专卖局", show_default=True, help="局名")
@click.option("--area-code", "area_codes", multiple=True, help="本县许可证号区划码(可多次)")
@click.option("--case-prefix", "case_prefixes", multiple=True, help="本局案号前缀, 如 潼烟罚")
@click.option(
    "--fonds",
    default="",
    help="全宗号 (档案馆给本局编的代号, 如 J001; 可以以后在 dangan.toml 填写)",
)
def init(
    directory: Path,
    bureau: str,
    area_codes: tuple[str, ...],
    case_prefixes: tuple[str, ...],
    fonds: str,
) -> None:
    """创建档案库: dangan.toml, inbox/<类别>/, records/, quarantine/。

    许可证号区划码 (本县许可证号的前6位) 用 --area-code 给出; 在终端中运行时会询问;
    都没有时, 导入第一份名册 (dangan households import) 时按名册推断。"""
    if not area_codes and sys.stdin.isatty() and not (directory / CONFIG_NAME).exists():
        answer = click.prompt(
            "本县许可证号区划码 (许可证号前6位, 多个用逗号分隔; 不知道可直接回车, 导入名册时自动推断)",
            default="",
            show_default=False,
        )
        area_codes = tuple(c for c in re.split(r"[,，、\s]+", answer.strip()) if c)
    bad = [c for c in area_codes if not (c.isascii() and c.isdigit() and 2 <= len(c) <= 12)]
    if bad:
        raise UsageError(f"区划码应为数字 (如 610522), 不是: {'、'.join(bad)}")
    archive = init_archive(directory, bureau, area_codes, case_prefixes, fonds)
    click.echo(f"档案库已就绪: {archive.root}")
    if not archive.config.area_codes:
        click.echo("  未设区划码: 只认带“许可证号”标签的号码; 导入名册时将按名册自动设置", err=True)
    for name in archive.config.kinds:
        click.echo(f"  收件箱: {archive.inbox / name}")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="每个文件输出一行 JSON")
@click.option(
    "--settle", type=float, default=None, help="文件最近改动不足此秒数则暂不处理 (默认取配置)"
)
@click.option(
    "--wait",
    type=float,
    default=DEFAULT_WAIT_SECONDS,
    show_default=True,
    help="收件箱里仍在写入的文件最多等待多少秒 (之后报告为等待中)",
)
@click.option("--no-ocr", is_flag=True, help="不做 OCR (只取 PDF 文字层)")
@archive_option
def ingest(
    paths: tuple[Path, ...],
    as_json: bool,
    settle: float | None,
    wait: float,
    no_ocr: bool,
    archive_dir: Path | None,
) -> None:
    """处理收件箱一次 (或指定的文件/文件夹: 复制归档, 原件保留), 然后退出。

    刚放入、仍在写入的文件会等它写完再归档 (最多 --wait 秒)。"""
    archive = open_archive(archive_dir)
    archive.ensure_layout()
    log_to_archive(archive)
    shown = _Progress()
    with (
        archive.writer_lock(),
        open_catalog(archive) as catalog,
        extractor_for(archive, ocr=False if no_ocr else None, notice=_notice) as extractor,
    ):
        intake = make_intake(
            archive, catalog, extractor, settle_seconds=settle, on_pages=shown.pages
        )
        try:
            if paths:
                outcomes = intake.run(list(paths), progress=shown.file_done)
            else:
                outcomes = ingest_inbox(
                    intake, wait_seconds=wait, progress=shown.file_done, on_waiting=shown.waiting
                )
        except DiskFull as exc:  # say what was done before the disk filled, then fail
            for outcome in exc.done:
                _print_outcome(outcome, as_json)
            with contextlib.suppress(ArchiveError):  # the log is on that disk too
                _log_ingest(archive, paths, exc.done, "; 磁盘已满, 其余未归档")
            raise
        finally:
            shown.close()
        after_batch(archive, catalog)
    summary = _log_ingest(archive, paths, outcomes)
    for outcome in outcomes:
        _print_outcome(outcome, as_json)
    if not as_json:
        click.echo(f"共 {len(outcomes)} 个文件: {summary}", err=True)


@click.command()
@click.option(
    "--poll", type=float, default=None, help="轮询间隔秒数 (网络共享目录用); 默认用系统文件事件"
)
@click.option("--settle", type=float, default=None, help="大小和修改时间稳定多少秒后才处理")
@click.option("--rescan", type=float, default=None, help="定期全量扫描间隔秒数")
@click.option("--json", "as_json", is_flag=True, help="每个文件输出一行 JSON")
@click.option("--no-ocr", is_flag=True, help="不做 OCR")
@archive_option
def watch(
    poll: float | None,
    settle: float | None,
    rescan: float | None,
    as_json: bool,
    no_ocr: bool,
    archive_dir: Path | None,
) -> None:
    """持续监视收件箱并归档, Ctrl+C 停止。"""
    if poll is not None and poll <= 0:
        raise UsageError("--poll 应为正数秒")
    archive = open_archive(archive_dir)
    archive.ensure_layout()
    log_to_archive(archive)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    mode = f"轮询 {poll}s" if poll else "系统文件事件"
    with (
        hold_watch_lock(archive, mode),
        open_catalog(archive) as catalog,
        extractor_for(archive, ocr=False if no_ocr else None, notice=_notice) as extractor,
    ):
        watcher = Watcher(
            archive,
            lambda: make_intake(archive, catalog, extractor),
            after_batch=lambda: after_batch(archive, catalog),
            poll_seconds=poll,
            settle_seconds=settle,
            rescan_seconds=rescan,
            on_outcome=lambda o: _print_outcome(o, as_json),
            on_error=lambda p, e: click.echo(f"错误: {p}: {e!r}", err=True),
        )
        click.echo(f"监视 {archive.inbox} ({mode}); Ctrl+C 停止", err=True)
        try:
            watcher.run(stop)
        except KeyboardInterrupt:
            stop.set()
    click.echo("已停止监视", err=True)


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="每个文件输出一行 JSON")
@click.option("--restart", is_flag=True, help="忘记此前各次的进度, 从头再来")
@click.option("--no-ocr", is_flag=True, help="不做 OCR (只取 PDF 文字层)")
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="非终端时每隔多少秒输出一行进度",
)
@archive_option
def backlog(
    folder: Path,
    as_json: bool,
    restart: bool,
    no_ocr: bool,
    progress_every: float,
    archive_dir: Path | None,
) -> None:
    """归档一大批积压扫描件 (原件保留); 可随时中断, 再次运行从中断处继续。"""
    from archive.intake.backlog import BacklogStatus, run_backlog

    archive = open_archive(archive_dir)
    archive.ensure_layout()
    log_to_archive(archive)
    tty = sys.stderr.isatty()
    shown = {"at": 0.0}

    def show(status: BacklogStatus) -> None:
        now = time.monotonic()
        if tty:
            click.echo("\r" + status.line() + "   ", nl=False, err=True)
        elif now - shown["at"] >= progress_every:
            click.echo(status.line(), err=True)
            shown["at"] = now

    with extractor_for(archive, ocr=False if no_ocr else None, notice=_notice) as extractor:
        status = run_backlog(
            archive,
            folder,
            extractor,
            restart=restart,
            on_outcome=lambda o: (
                _print_outcome(o, as_json) if as_json or o.outcome != "filed" else None
            ),
            on_progress=show,
        )
    if tty:
        click.echo("", err=True)
    click.echo(status.line(), err=True)
    counts = (
        ", ".join(f"{_LABEL.get(k, k)} {v}" for k, v in status.counts.items())
        or "没有需要处理的文件"
    )
    if status.counts:
        log_action(archive, "ingest", str(folder), f"积压扫描件, 本次: {counts}")
    click.echo(f"本次: {counts}", err=True)


COMMANDS = [init, ingest, watch, backlog]
