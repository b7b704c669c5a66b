"""service unit: run ``dangan watch`` (or, with --web, ``dangan serve``) as a systemd service."""

from __future__ import annotations

from pathlib import Path

import click

from archive.core.config import Archive
from archive.core.errors import UsageError
from archive.ops.service_unit import (
    UNIT_PREFIX,
    WEB_UNIT_PREFIX,
    WebOptions,
    render_backup_units,
    render_unit,
    unit_name,
)
from cli.common import archive_option, check_https, https_options, open_archive


@click.group()
def service() -> None:
    """把 dangan watch (收件箱监视) 或 dangan serve (网页服务) 作为系统服务运行 (systemd)。"""


@service.command("unit")
@click.option(
    "--user", "run_as", default=None, help="生成系统级服务, 以该账户运行 (默认: 用户级服务)"
)
@click.option("--poll", type=float, default=None, help="轮询间隔秒数 (收件箱在网络共享上时)")
@click.option("--web", is_flag=True, help="生成网页服务 (dangan serve) 的服务文件, 与监视服务并存")
@click.option("--host", default="0.0.0.0", show_default=True, help="--web: 监听地址")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="--web: 端口"
)
@https_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="把服务文件写入此目录 (默认: 输出到屏幕)",
)
@click.option(
    "--backup", "for_backup", is_flag=True, help="生成定时备份 (dangan backup) 的 timer 和 service"
)
@click.option(
    "--to",
    "target",
    default=None,
    help="--backup: 备份目标 (默认取 dangan.toml 的 [backup] target)",
)
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="--backup: 密码文件 (默认取 dangan.toml 的 [backup] password_file)",
)
@click.option(
    "--at",
    "on_calendar",
    default="*-*-* 21:00:00",
    show_default=True,
    help="--backup: 何时备份 (systemd OnCalendar)",
)
@archive_option
def unit(
    run_as: str | None,
    poll: float | None,
    web: bool,
    host: str,
    port: int,
    certfile: Path | None,
    keyfile: Path | None,
    out_dir: Path | None,
    for_backup: bool,
    target: str | None,
    password_file: Path | None,
    on_calendar: str,
    archive_dir: Path | None,
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
    网页服务 (与监视服务并存, 同一个档案库):
      dangan service unit --web --user 档案员 --out /etc/systemd/system
    查看: dangan status;  日志: journalctl [--user] -u <服务名>
    定时备份 (每天 21:00, 关机错过的开机后补做):
      dangan service unit --backup --out ~/.config/systemd/user
      systemctl --user daemon-reload && systemctl --user enable --now <定时器名>.timer
    """
    archive = open_archive(archive_dir)
    if for_backup and web:
        raise click.UsageError("--backup 与 --web 各生成一种服务文件, 请分两次运行")
    if for_backup:
        _backup_units(archive, run_as, target, password_file, on_calendar, out_dir)
        return
    if poll is not None and poll <= 0:
        raise click.UsageError("--poll 应为正数秒")
    if web and poll is not None:
        raise click.UsageError("--poll 只用于监视服务, 不能与 --web 同用")
    check_https(certfile, keyfile)
    options = WebOptions(host, port, certfile, keyfile) if web else None
    text = render_unit(archive, user=run_as, poll=poll, web=options)
    name = unit_name(archive, WEB_UNIT_PREFIX if web else UNIT_PREFIX)
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


def _backup_units(
    archive: Archive,
    run_as: str | None,
    target: str | None,
    password_file: Path | None,
    on_calendar: str,
    out_dir: Path | None,
) -> None:
    from archive.ops.backup_config import backup_settings
    from cli.backup_cmds import target_arg

    pw = password_file.absolute() if password_file else None
    settings = backup_settings(archive, target=target_arg(target), password_file=pw)
    if not settings.target or not settings.password_file:
        raise UsageError(
            "定时备份需要备份目标和密码文件 (无人值守时无法输入密码): "
            "在 dangan.toml 的 [backup] 中写 target 和 password_file, 或用 --to 和 --password-file"
        )
    units = render_backup_units(
        archive,
        user=run_as,
        target=target_arg(target),
        password_file=str(pw) if pw else None,
        on_calendar=on_calendar,
    )
    if out_dir is None:
        for name, text in units.items():
            click.echo(f"# ---- {name}")
            click.echo(text, nl=False)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in units.items():
        (out_dir / name).write_text(text, encoding="utf-8")
        click.echo(str(out_dir / name))
    timer = next(n for n in units if n.endswith(".timer"))
    scope = "" if run_as else "--user "
    click.echo(
        f"下一步: systemctl {scope}daemon-reload && systemctl {scope}enable --now {timer}", err=True
    )


COMMANDS = [service]
