"""backup, restore: the second copy (restic), its check, its drill, and getting it back."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from archive.core.config import Archive, find_archive
from archive.core.errors import ArchiveNotFound, UsageError
from archive.ops.backup_config import (
    LOST_PASSWORD,
    BackupSettings,
    archive_id,
    backup_settings,
    create_password_file,
    host_tag,
    read_password_file,
)
from archive.ops.restic import is_remote
from cli.access_log import log_action
from cli.common import archive_option, emit_json, open_archive, progress

F = TypeVar("F", bound=Callable[..., Any])


def password_options(func: F) -> F:
    """--password-file, --password-stdin, --same-disk: how the repository is opened."""
    for option in reversed(
        (
            click.option(
                "--password-file",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="备份密码文件 (一行, 权限 600; 默认取 dangan.toml 的 [backup] password_file)",
            ),
            click.option("--password-stdin", is_flag=True, help="从标准输入读一行作为备份密码"),
            click.option(
                "--same-disk",
                is_flag=True,
                default=None,
                help="允许备份目标与档案库在同一块磁盘上 (不算第二份副本, 仅用于试用)",
            ),
        )
    ):
        func = option(func)
    return func


def target_arg(value: str | None) -> str | None:
    if value is None or is_remote(value):
        return value
    return str(Path(value).expanduser().absolute())


def _settings(
    archive: Archive, target: str | None, password_file: Path | None, same_disk: bool | None
) -> BackupSettings:
    return backup_settings(
        archive,
        target=target_arg(target),
        password_file=password_file.absolute() if password_file else None,
        same_disk=same_disk,
    )


def _password(settings: BackupSettings, from_stdin: bool, *, new_ok: bool) -> str:
    """The repository password: stdin, the password file, or asked at the terminal."""
    if from_stdin:
        line = sys.stdin.readline().strip()
        if not line:
            raise UsageError("--password-stdin: 标准输入没有读到密码")
        return line
    path = settings.password_file
    interactive = sys.stdin.isatty()
    if path is not None and (path.exists() or not (new_ok and interactive)):
        return read_password_file(path)
    if not interactive:
        raise UsageError(
            "没有备份密码: 在 dangan.toml 的 [backup] 中写 password_file, "
            "或用 --password-file / --password-stdin"
        )
    if new_ok:
        click.echo(f"注意: {LOST_PASSWORD}", err=True)
    password = click.prompt("备份密码", hide_input=True, confirmation_prompt=new_ok, err=True)
    if path is not None:
        create_password_file(path, password)
        click.echo(f"密码已保存到 {path} (权限 600)", err=True)
    return str(password)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GB"


@click.command()
@click.option(
    "--to",
    "target",
    default=None,
    help="备份目标: 文件夹 (另一块硬盘、U 盘、NAS) 或 sftp:/rest: 地址",
)
@click.option(
    "--check", "do_check", is_flag=True, help="检查备份: restic 自检 + 抽样恢复比对 SHA-256"
)
@click.option(
    "--drill", is_flag=True, help="恢复演练: 整库恢复到临时文件夹, 校验、重建、与现有档案比对"
)
@click.option("--list", "do_list", is_flag=True, help="列出本档案库的快照")
@click.option(
    "--sample",
    type=click.IntRange(0, 10000),
    default=20,
    show_default=True,
    help="--check 抽样恢复的档案份数",
)
@click.option(
    "--read-data",
    default="5%",
    show_default=True,
    help="--check 时 restic 重读的数据比例 (如 5%、100%)",
)
@click.option("--snapshot", default=None, help="--drill 用哪个快照 (默认最新)")
@click.option(
    "--work",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="--drill 的临时文件夹所在位置 (默认档案库的 .dangan/)",
)
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@password_options
@archive_option
def backup(
    target: str | None,
    do_check: bool,
    drill: bool,
    do_list: bool,
    sample: int,
    read_data: str,
    snapshot: str | None,
    work: Path | None,
    as_json: bool,
    password_file: Path | None,
    password_stdin: bool,
    same_disk: bool | None,
    archive_dir: Path | None,
) -> None:
    """备份档案库到第二份介质 (restic: 去重、加密、可校验), 增量, 归档和网页照常运行。

    \b
    首次: dangan backup --to /media/U盘/档案备份 --password-file ~/.dangan-备份密码
    以后: 在 dangan.toml 写上
      [backup]
      target = "/media/U盘/档案备份"
      password_file = "/home/档案员/.dangan-备份密码"
      max_age_days = 7        # 超过几天没有成功备份, dangan status 提醒
    然后只需 dangan backup; 定时: dangan service unit --backup
    检查: dangan backup --check;  每月演练: dangan backup --drill
    备份是加密的, 密码丢失 = 备份丢失: 请把密码抄在纸上另行保管。
    """
    if sum((do_check, drill, do_list)) > 1:
        raise UsageError("--check、--drill、--list 一次只能用一个")
    archive = open_archive(archive_dir)
    settings = _settings(archive, target, password_file, same_disk)
    new_ok = not (do_check or drill or do_list)
    password = _password(settings, password_stdin, new_ok=new_ok)
    if do_list:
        _list(archive, settings, password, as_json)
    elif do_check:
        _check(archive, settings, password, sample, read_data, as_json)
    elif drill:
        _drill(archive, settings, password, snapshot, work, as_json)
    else:
        _backup(archive, settings, password, as_json)


def _backup(archive: Archive, settings: BackupSettings, password: str, as_json: bool) -> None:
    from archive.ops.backup import run_backup

    with progress("备份") as bar:
        result = run_backup(archive, settings, password, progress=bar)
    if as_json:
        emit_json(result.as_dict())
    else:
        click.echo(f"已备份到 {result.target}: 快照 {result.snapshot}")
        click.echo(
            f"  文件 {result.files:,} 个: 新增 {result.files_new:,}, 改动 {result.files_changed:,}, "
            f"未变 {result.files_unmodified:,}; 备份库增加 {_size(result.data_added)}; "
            f"用时 {result.seconds:.1f} 秒 (归档为此暂停 {result.locked_seconds:.1f} 秒)"
        )
    for warning in result.warnings:
        click.echo(f"注意: {warning}", err=True)
    if result.initialized:
        where = (
            f"密码文件: {settings.password_file}" if settings.password_file else "密码: 刚才输入的"
        )
        click.echo(f"\n已新建备份库 {result.target}。{where}\n重要: {LOST_PASSWORD}", err=True)


def _list(archive: Archive, settings: BackupSettings, password: str, as_json: bool) -> None:
    from archive.ops.backup import open_repository, our_snapshots

    engine, _ = open_repository(archive, settings, password)
    ident = archive_id(archive)
    snaps = our_snapshots(engine, host_tag(ident)) if ident else []
    if as_json:
        emit_json([{"id": s.short_id, "time": s.time, "full_id": s.id} for s in snaps])
        return
    for snap in snaps:
        click.echo(f"{snap.short_id}  {snap.time[:19].replace('T', ' ')}")
    click.echo(f"共 {len(snaps)} 个快照 ({engine.repo})", err=True)


def _check(
    archive: Archive,
    settings: BackupSettings,
    password: str,
    sample: int,
    read_data: str,
    as_json: bool,
) -> None:
    from archive.core.errors import IntegrityError
    from archive.ops.backup import check_backup

    result = check_backup(archive, settings, password, sample=sample, read_data=read_data or None)
    if as_json:
        emit_json(result.as_dict())
    else:
        click.echo(f"备份库 {result.target}, 快照 {result.snapshot}")
        state = "通过" if result.engine_ok else f"发现问题: {result.engine_report}"
        click.echo(f"  restic 自检 (重读 {result.read_data or '0%'} 数据): {state}")
        click.echo(
            f"  抽样恢复 {len(result.sampled)} 份档案, 与说明文件的 SHA-256 比对: "
            f"{len(result.sampled) - len(result.mismatched)} 份一致"
        )
        for item in result.mismatched:
            click.echo(f"    {item['record']}: {item['problem']}")
        click.echo("备份可用" if result.ok else "备份有问题, 见上")
    if not result.ok:
        raise IntegrityError(
            f"备份检查未通过 ({result.target}): 请尽快重新做一次完整备份到新的介质, "
            "并保留旧介质以便取证"
        )


def _drill(
    archive: Archive,
    settings: BackupSettings,
    password: str,
    snapshot: str | None,
    work: Path | None,
    as_json: bool,
) -> None:
    from archive.core.errors import IntegrityError
    from archive.ops.drill import run_drill

    report = run_drill(archive, settings, password, snapshot=snapshot, work=work)
    if as_json:
        emit_json(report.as_dict())
    else:
        for line in report.lines():
            click.echo(line)
        click.echo(f"演练记录已保存: {archive.root / str(report.report_path)}")
    if not report.ok:
        raise IntegrityError("恢复演练未通过: 见上面列出的问题")


@click.command()
@click.option(
    "--from",
    "source",
    default=None,
    help="备份所在: 文件夹或 sftp:/rest: 地址 (默认取 dangan.toml)",
)
@click.option("--snapshot", default=None, help="快照编号 (默认最新; dangan backup --list 列出)")
@click.option(
    "--to",
    "dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="整库恢复到此空文件夹或新文件夹",
)
@click.option(
    "--dossier",
    default=None,
    help="只恢复一户/一案/一份档案到现有档案库: 许可证号、案号、零售户名称、会议类型/年份或 records/… 路径",
)
@click.option(
    "--yes", "overwrite", is_flag=True, help="--dossier 时, 现有档案库中比备份新的文件也用备份覆盖"
)
@click.option("--dry-run", is_flag=True, help="--dossier 时只列出将做什么, 不改动档案库")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@password_options
@archive_option
def restore(
    source: str | None,
    snapshot: str | None,
    dest: Path | None,
    dossier: str | None,
    overwrite: bool,
    dry_run: bool,
    as_json: bool,
    password_file: Path | None,
    password_stdin: bool,
    same_disk: bool | None,
    archive_dir: Path | None,
) -> None:
    """从备份恢复: 整个档案库到一个空文件夹 (--to), 或一户/一案到现有档案库 (--dossier)。

    \b
    整库 (例如新电脑上): dangan restore --from /media/U盘/档案备份 --to ~/档案库
    一户: dangan restore --dossier 610522100001          (在档案库中运行)
    现有档案库中比备份新的文件不会被覆盖, 除非确认 (或 --yes)。
    """
    if (dest is None) == (dossier is None):
        raise UsageError(
            "请指定 --to 文件夹 (整库恢复) 或 --dossier 档案号 (恢复到现有档案库) 之一"
        )
    if dest is not None:
        _restore_whole(source, snapshot, dest, as_json, password_file, password_stdin, archive_dir)
        return
    archive = open_archive(archive_dir)
    settings = _settings(archive, source, password_file, same_disk)
    password = _password(settings, password_stdin, new_ok=False)
    _restore_dossier(
        archive, settings, password, str(dossier), snapshot, overwrite, dry_run, as_json
    )


def _restore_whole(
    source: str | None,
    snapshot: str | None,
    dest: Path,
    as_json: bool,
    password_file: Path | None,
    password_stdin: bool,
    archive_dir: Path | None,
) -> None:
    from archive.ops.restore import restore_archive

    archive: Archive | None
    try:  # inside an archive: its snapshots, its settings
        archive = open_archive(archive_dir) if archive_dir else find_archive(Path.cwd())
    except ArchiveNotFound:
        archive = None
    if archive is not None:
        settings = _settings(archive, source, password_file, True)
    else:
        if source is None:
            raise UsageError("请用 --from 指定备份所在的文件夹或地址")
        settings = BackupSettings(
            target=target_arg(source),
            password_file=password_file.absolute() if password_file else None,
        )
    password = _password(settings, password_stdin, new_ok=False)
    result = restore_archive(settings, password, dest, snapshot=snapshot, archive=archive)
    log_action(  # in the restored archive's own log, after the entries the backup held
        Archive(Path(result.to)),
        "restore",
        "整个档案库",
        f"自快照 {result.snapshot} ({result.snapshot_time[:19]}): 档案 {result.records} 份",
    )
    if as_json:
        emit_json(result.as_dict())
        return
    click.echo(f"已从 {result.target} 的快照 {result.snapshot} 恢复到 {result.to}")
    click.echo(f"  档案 {result.records:,} 份, 已重建目录库和检索索引 ({result.indexed:,} 份)")
    for item in result.mismatched:
        click.echo(f"  校验不一致: {item['record']}: {item['problem']}")
    for problem in result.problems:
        click.echo(f"  问题: {problem}")
    click.echo("全部一致" if result.ok else "恢复完成, 但有问题, 见上")


def _restore_dossier(
    archive: Archive,
    settings: BackupSettings,
    password: str,
    key: str,
    snapshot: str | None,
    overwrite: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    from archive.ops.restore import ACTION_LABELS, dossier_restore

    with dossier_restore(archive, settings, password, key, snapshot=snapshot) as plan:
        if not as_json:
            click.echo(f"快照 {plan.snapshot.short_id} 中的 {plan.prefix.lstrip('/')}:")
            for item in plan.files:
                if item.action != "same":
                    click.echo(f"  {ACTION_LABELS[item.action]}: {item.path}")
            counts = ", ".join(
                f"{ACTION_LABELS[k].split(' ')[0]} {v}" for k, v in plan.counts().items()
            )
            click.echo(f"  共 {len(plan.files)} 个文件: {counts}")
        if dry_run:
            if as_json:
                emit_json(
                    {"snapshot": plan.snapshot.short_id, "files": [f.as_dict() for f in plan.files]}
                )
            return
        if plan.newer and not overwrite and not as_json and sys.stdin.isatty():
            overwrite = click.confirm(
                f"{len(plan.newer)} 个文件在现有档案库中比备份新, 用备份覆盖它们吗?", default=False
            )
        applied = plan.apply(overwrite_newer=overwrite)
        kept = f", 保留较新的 {len(plan.kept_newer)} 个" if plan.kept_newer else ""
        log_action(
            archive,
            "restore",
            key,
            f"自快照 {plan.snapshot.short_id}: 恢复 {len(applied)} 个文件{kept}",
        )
        if as_json:
            emit_json(
                {
                    "snapshot": plan.snapshot.short_id,
                    "files": [f.as_dict() for f in plan.files],
                    "applied": applied,
                    "kept_newer": plan.kept_newer,
                }
            )
            return
        click.echo(f"已恢复 {len(applied)} 个文件到 {archive.root}")
        if plan.kept_newer:
            click.echo(
                f"保留了 {len(plan.kept_newer)} 个比备份新的文件 (未覆盖); 确需覆盖, 加 --yes 重新运行",
                err=True,
            )


COMMANDS = [backup, restore]
