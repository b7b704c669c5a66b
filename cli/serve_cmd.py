"""serve: the web app for the office network (the web door, started from the command line)."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from cli.common import archive_option, check_https, https_options, open_archive


@click.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True,
    help="监听地址; 0.0.0.0 让局域网内的电脑都能访问",
)  # fmt: skip
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@https_options
@click.option(
    "--idle-minutes", type=click.FloatRange(1, 24 * 60), default=30.0, show_default=True,
    help="多久不操作自动退出登录 (分钟)",
)  # fmt: skip
@click.option(
    "--workers", type=click.IntRange(1, 32), default=1, show_default=True,
    help="服务进程数 (多核机器上可设为核数)",
)  # fmt: skip
@archive_option
def serve(
    host: str,
    port: int,
    certfile: Path | None,
    keyfile: Path | None,
    idle_minutes: float,
    workers: int,
    archive_dir: Path | None,
) -> None:
    """启动网页服务: 单位局域网内的电脑用浏览器登录, 检索和查阅档案。"""
    check_https(certfile, keyfile)
    archive = open_archive(archive_dir)
    # The two doors never import each other (tests/test_layers.py): the command line only
    # names the web door's entry point and hands it the archive.
    server = importlib.import_module("web.server")
    server.run(
        archive, host=host, port=port, certfile=certfile, keyfile=keyfile,
        idle_minutes=idle_minutes, workers=workers,
    )  # fmt: skip


COMMANDS = [serve]
