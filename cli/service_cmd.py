"""service unit: run ``dangan watch`` as a systemd service."""

from __future__ import annotations

from pathlib import Path

import click

from archive.ops.service_unit import render_unit, unit_name
from cli.common import archive_option, open_archive


@click.group()
def service() -> None:
    """把 dangan watch 作为系统服务运行 (systemd), 开机或登录后自动监视收件箱。"""


@service.command("unit")
@click.option(
    "--user", "run_as", default=None, help="生成系统级服务, 以该账户运行 (默认: 用户级服务)"
)
@click.option("--poll", type=float, default=None, help="轮询间隔秒数 (收件箱在网络共享上时)")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="把服务文件写入此目录 (默认: 输出到屏幕)",
)
@archive_option
def unit(
    run_as: str | None, poll: float | None, out_dir: Path | None, archive_dir: Path | None
) -> None:
    """生成 systemd 服务文件。

    \b
    用户级 (当前账户登录后运行):
      dangan service unit --out ~/.config/systemd/user
      systemctl --user daemon-reload && systemctl --user enable --now <服务名>
      loginctl enable-linger $USER        # 不登录也运行
    系统级 (开机运行, 需要管理员):
      dangan service unit --user 档案员 --out /etc/systemd/system
      systemctl daemon-reload && systemctl enable --now <服务名>
    查看: dangan status;  日志: journalctl [--user] -u <服务名>
    """
    archive = open_archive(archive_dir)
    if poll is not None and poll <= 0:
        raise click.UsageError("--poll 应为正数秒")
    text = render_unit(archive, user=run_as, poll=poll)
    name = unit_name(archive)
    if out_dir is None:
        click.echo(text, nl=False)
        click.echo(f"# 服务名: {name}", err=True)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    path.write_text(text, encoding="utf-8")
    scope = "" if run_as else "--user "
    click.echo(str(path))
    click.echo(
        f"下一步: systemctl {scope}daemon-reload && systemctl {scope}enable --now {name}", err=True
    )


COMMANDS = [service]
