"""ocr-worker: read pages for archives on other machines, through a Redis-backed queue."""

from __future__ import annotations

import logging

import click

from indexers.ocr_engines import CHOICES


@click.command("ocr-worker")
@click.option("--broker", required=True, help="队列地址, 如 redis://192.168.1.10:6379/0")
@click.option(
    "--engine",
    type=click.Choice(CHOICES),
    default="auto",
    show_default=True,
    help="OCR引擎 (须与档案库 dangan.toml 的 [ocr] engine 一致)",
)
@click.option("--processes", type=click.IntRange(min=0), default=0, help="识别进程数 (0: 每核一个)")
@click.option(
    "--threads", type=click.IntRange(min=0), default=0, help="每个识别进程的推理线程 (0: 平分各核)"
)
@click.option(
    "--redeliver-after",
    type=click.FloatRange(min=5),
    default=300.0,
    show_default=True,
    help="工作机器失联多少秒后, 它手中的页面交给其他工作进程",
)
@click.option("--name", default=None, help="工作进程名 (默认 ocr)")
def ocr_worker(
    broker: str,
    engine: str,
    processes: int,
    threads: int,
    redeliver_after: float,
    name: str | None,
) -> None:
    """在本机识别其他机器上档案库的页面 (Celery + Redis), Ctrl+C 停止。"""
    from indexers.ocr_queue import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run_worker(
        broker,
        engine=engine,
        processes=processes or None,
        threads=threads or None,
        redeliver_after=redeliver_after,
        name=name,
    )


COMMANDS = [ocr_worker]
