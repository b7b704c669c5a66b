"""users: the people who sign in to the web app (the first admin comes from here)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archive.access.roles import ROLES
from archive.access.store import AccessStore
from archive.access.users import Users
from archive.core.errors import UsageError
from cli.access_log import cli_actor
from cli.common import archive_option, emit_json, open_archive

_ROLE_HELP = ", ".join(f"{k} {v}" for k, v in ROLES.items())


def _users(archive_dir: Path | None) -> Users:
    return Users(AccessStore.of(open_archive(archive_dir)))


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UsageError("--password-stdin: 标准输入为空, 请在第一行给出密码")
        return line.rstrip("\r\n")
    return str(click.prompt("密码", hide_input=True, confirmation_prompt="再输入一次"))


@click.group()
def users() -> None:
    """网页登录用户: 新建、重设密码、停用、启用、解除锁定、列出。"""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help=_ROLE_HELP)
@click.option("--password-stdin", is_flag=True, help="从标准输入第一行读取密码 (脚本用)")
@archive_option
def users_add(name: str, role: str, password_stdin: bool, archive_dir: Path | None) -> None:
    """新建用户。第一个系统管理员用这条命令创建, 其余可在网页“用户”中创建。"""
    user = _users(archive_dir).add(name, role, _password(password_stdin), actor=cli_actor())
    click.echo(f"已新建用户 {user.name} ({user.role_label})")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="从标准输入第一行读取新密码")
@archive_option
def users_passwd(name: str, password_stdin: bool, archive_dir: Path | None) -> None:
    """重设用户的密码 (同时解除锁定)。"""
    _users(archive_dir).set_password(name, _password(password_stdin), actor=cli_actor())
    click.echo(f"已重设 {name} 的密码")


@users.command("disable")
@click.argument("name")
@archive_option
def users_disable(name: str, archive_dir: Path | None) -> None:
    """停用用户 (不能再登录; 已登录的会话随即失效)。"""
    _users(archive_dir).set_active(name, False, actor=cli_actor())
    click.echo(f"已停用 {name}")


@users.command("enable")
@click.argument("name")
@archive_option
def users_enable(name: str, archive_dir: Path | None) -> None:
    """重新启用用户。"""
    _users(archive_dir).set_active(name, True, actor=cli_actor())
    click.echo(f"已启用 {name}")


@users.command("unlock")
@click.argument("name")
@archive_option
def users_unlock(name: str, archive_dir: Path | None) -> None:
    """解除因多次密码错误而锁定的账户。"""
    _users(archive_dir).unlock(name, actor=cli_actor())
    click.echo(f"已解除 {name} 的锁定")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@archive_option
def users_list(as_json: bool, archive_dir: Path | None) -> None:
    """列出用户。"""
    rows = _users(archive_dir).list()
    if as_json:
        emit_json([{**u.__dict__, "role_label": u.role_label} for u in rows])
        return
    if not rows:
        click.echo("还没有用户: dangan users add 名字 --role admin 创建第一个系统管理员", err=True)
    for u in rows:
        state = "在用" if u.active else "已停用"
        if u.locked_until:
            state += f", 锁定至 {u.locked_until[:16].replace('T', ' ')}"
        last = (u.last_login_at or "从未登录")[:16].replace("T", " ")
        click.echo(f"{u.name}\t{u.role_label}\t{state}\t最近登录 {last}")


COMMANDS = [users]
