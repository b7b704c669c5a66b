"""Where the backup goes, how it is opened, which archive it belongs to, and what it last did.

- The bureau decides where the target and the password live: ``[backup]`` in ``dangan.toml``
  (``target``, ``password_file``, ``max_age_days``, ``options`` for restic such as the ssh
  command of a NAS), or the caller passes them. The password
  file must be readable by its owner alone (like an ssh key); a lost password is a lost backup.
- ``.dangan-id`` at the archive's top level names the archive (a random id, made on the first
  backup). It is backed up and restored with everything else, so a restored archive goes on
  backing up into the same repository as itself, and a repository holding another archive's
  snapshots is recognised as someone else's.
- ``.dangan/backup.json`` remembers the last good backup, the last failure, check and drill,
  for ``dangan status``. It is derived: losing it only means "never backed up" until the
  next backup.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.core.config import Archive
from archive.core.errors import BackupError, ConfigError
from archive.records.store import write_json_atomic

ID_FILE = ".dangan-id"
STATE_FILE = "backup.json"
DEFAULT_MAX_AGE_DAYS = 7
LOST_PASSWORD = (
    "备份是加密的: 没有密码, 任何人 (包括本局和软件作者) 都无法打开它。"
    "请把密码抄写在纸上, 与备份介质分开保管 (如局办公室保险柜); 密码丢失 = 备份丢失。"
)


@dataclass(frozen=True)
class BackupSettings:
    target: str | None  # a folder, or a restic address (sftp:…, rest:…)
    password_file: Path | None
    max_age_days: int = DEFAULT_MAX_AGE_DAYS
    same_disk: bool = False  # allow a target on the archive's own disk (not a second copy)
    options: tuple[
        str, ...
    ] = ()  # restic -o key=value, e.g. "sftp.command=ssh -p 2222 nas -s sftp"


def backup_settings(
    archive: Archive,
    *,
    target: str | None = None,
    password_file: Path | None = None,
    same_disk: bool | None = None,
) -> BackupSettings:
    """``[backup]`` of dangan.toml, overridden by what the caller gives. Relative paths in the
    file are relative to the archive's folder."""
    path = archive.config_path
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("backup", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: 无法读取 ({exc}); 请修改该文件") from exc
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [backup] 应为一个表; 请修改该文件")

    def text(key: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{path}: backup.{key} 应为非空字符串, 实为 {value!r}; 请修改该文件")
        return value.strip()

    max_age = table.get("max_age_days", DEFAULT_MAX_AGE_DAYS)
    if not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 1:
        raise ConfigError(f"{path}: backup.max_age_days 应为正整数 (天), 实为 {max_age!r}")
    same = table.get("same_disk", False)
    if not isinstance(same, bool):
        raise ConfigError(f"{path}: backup.same_disk 应为 true 或 false, 实为 {same!r}")
    options = table.get("options", [])
    if not isinstance(options, list) or not all(isinstance(o, str) and "=" in o for o in options):
        raise ConfigError(
            f'{path}: backup.options 应为 "键=值" 字符串的列表 (restic -o), 实为 {options!r}'
        )
    cfg_target = text("target")
    if cfg_target is not None and not _is_address(cfg_target):
        cfg_target = str((archive.root / Path(cfg_target).expanduser()).resolve())
    cfg_password = text("password_file")
    return BackupSettings(
        target=target or cfg_target,
        password_file=password_file
        or ((archive.root / Path(cfg_password).expanduser()) if cfg_password else None),
        max_age_days=max_age,
        same_disk=same if same_disk is None else same_disk,
        options=tuple(options),
    )


def _is_address(target: str) -> bool:
    from archive.ops.restic import is_remote

    return is_remote(target)


# ---------------------------------------------------------------- the password


def read_password_file(path: Path) -> str:
    """The password kept in ``path``: one line, readable by its owner alone."""
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise BackupError(f"密码文件 {path} 不存在; 请检查路径 (密码丢失则备份无法打开)") from exc
    if not stat.S_ISREG(st.st_mode):
        raise BackupError(f"密码文件 {path} 不是普通文件")
    if st.st_mode & 0o077:
        raise BackupError(
            f"密码文件 {path} 其他账户也能读取 (权限 {stat.filemode(st.st_mode)}); "
            f"请执行 chmod 600 {path} 后重试"
        )
    try:
        password = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupError(f"密码文件 {path} 无法读取 ({exc})") from exc
    if not password or "\n" in password:
        raise BackupError(f"密码文件 {path} 应只有一行密码 (实为空或多行)")
    return password


def create_password_file(path: Path, password: str) -> None:
    """Write a new password file (mode 600); never replaces an existing one."""
    if not password.strip() or "\n" in password:
        raise BackupError("备份密码不能为空, 且只能有一行")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise BackupError(f"密码文件 {path} 已存在, 不会覆盖") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password.strip() + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def password_warnings(archive: Archive, settings: BackupSettings) -> list[str]:
    """Where the password file sits badly (inside the archive, or on the backup itself)."""
    out: list[str] = []
    if settings.password_file is None:
        return out
    pw = settings.password_file.resolve()
    if pw.is_relative_to(archive.root):
        out.append(
            f"密码文件 {pw} 在档案库里面: 这台电脑损坏或被盗时, 密码会和档案一起丢失 "
            "(备份里的那一份是加密的, 打不开); 请另外抄存密码"
        )
    target = settings.target
    if target and not _is_address(target) and pw.is_relative_to(Path(target).resolve()):
        raise BackupError(
            f"密码文件 {pw} 放在备份目标里: 介质丢失时, 拿到它的人就能打开备份; "
            "请把密码文件放在别处"
        )
    return out


# ---------------------------------------------------------------- which archive


def archive_id(archive: Archive, *, create: bool = False) -> str | None:
    """This archive's id (``.dangan-id``), made on first use when ``create``."""
    path = archive.root / ID_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    if text:
        if not (8 <= len(text) <= 64 and all(c.isalnum() or c == "-" for c in text)):
            raise ConfigError(f"{path}: 档案库标识已损坏 ({text[:40]!r}); 请从备份中恢复该文件")
        return text
    if not create:
        return None
    new = uuid.uuid4().hex[:16]
    tmp = path.with_name(f".tmp-{new}")
    tmp.write_text(new + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return new


def host_tag(ident: str) -> str:
    """The restic "host" of this archive's snapshots (restic picks parents by it)."""
    return f"dangan-{ident}"


# ---------------------------------------------------------------- what was last done


def load_state(archive: Archive) -> dict[str, Any]:
    try:
        data = json.loads((archive.state / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(archive: Archive, **updates: Any) -> dict[str, Any]:
    state = load_state(archive)
    state.update(updates)
    archive.state.mkdir(parents=True, exist_ok=True)
    write_json_atomic(archive.state / STATE_FILE, state)
    return state


def backup_overview(archive: Archive, now: dt.datetime) -> dict[str, Any]:
    """For ``dangan status`` (and the web app's home page): the last good backup and its age,
    overdue after ``max_age_days``; the last failure after it; the last check and drill."""
    try:
        settings = backup_settings(archive)
    except ConfigError:
        settings = BackupSettings(target=None, password_file=None)
    state = load_state(archive)
    last = state.get("last_backup")
    out: dict[str, Any] = {
        "target": settings.target,
        "max_age_days": settings.max_age_days,
        "last": last,
        "age_days": None,
        "overdue": False,
        "failure": None,
        "check": state.get("last_check"),
        "drill": state.get("last_drill"),
    }
    if isinstance(last, dict) and last.get("at"):
        try:
            at = dt.datetime.fromisoformat(str(last["at"]))
        except ValueError:
            at = None
        if at is not None:
            age = (now - at).total_seconds() / 86400
            out["age_days"] = round(max(age, 0.0), 1)
            out["overdue"] = age > settings.max_age_days
    failure = state.get("last_failure")
    if isinstance(failure, dict) and str(failure.get("at", "")) > str((last or {}).get("at", "")):
        out["failure"] = failure
    return out


def backup_rows(b: dict[str, Any]) -> list[tuple[str, str]]:
    """The backup lines of ``dangan status`` and of the web app's home page: label, words."""
    last = b.get("last")
    if not last:
        return [("备份", "从未备份" + (f" (目标 {b['target']})" if b.get("target") else ""))]
    when = str(last.get("at", ""))[:16].replace("T", " ")
    age = b.get("age_days")
    if age is None:
        ago = "时间不明"
    else:
        ago = f"{age:g} 天前" if age >= 1 else f"{round(age * 24)} 小时前"
    text = f"{ago} ({when}), 快照 {last.get('snapshot')} → {last.get('target')}"
    if b.get("overdue"):
        text += f"; 已超过 {b['max_age_days']} 天!"
    rows = [("上次备份", text)]
    if b.get("failure"):
        rows.append(("备份失败", str(b["failure"].get("at", ""))[:16].replace("T", " ")))
    drill = b.get("drill")
    if drill:
        verdict = "通过" if drill.get("ok") else "未通过"
        rows.append(
            ("上次演练", f"{str(drill.get('at', ''))[:10]} {verdict} ({drill.get('report')})")
        )
    return rows


def backup_steps(b: dict[str, Any], records: int) -> list[str]:
    """What ``dangan status`` says to do about backups (``b`` from :func:`backup_overview`)."""
    steps: list[str] = []
    if not b:
        return steps
    if b.get("failure"):
        f = b["failure"]
        steps.append(
            f"上次备份失败 ({str(f.get('at', ''))[:16].replace('T', ' ')}): {f.get('error', '')}"
        )
    if b.get("last") is None and records:
        steps.append(
            "档案还没有备份到第二份介质 (另一块硬盘、U 盘或 NAS): "
            "dangan backup --to <文件夹>; 定时备份: dangan service unit --backup"
        )
    elif b.get("overdue"):
        steps.append(
            f"上次成功备份是 {b['age_days']:g} 天前, 超过了 {b['max_age_days']} 天: 运行 dangan backup, "
            "并检查定时备份是否在运行 (systemctl --user list-timers)"
        )
    for kind, label, command in (
        ("check", "备份检查", "--check"),
        ("drill", "恢复演练", "--drill"),
    ):
        last = b.get(kind)
        if isinstance(last, dict) and last.get("ok") is False:
            steps.append(
                f"上次{label} ({str(last.get('at', ''))[:10]}) 未通过: 重新运行 dangan backup {command} 查看问题"
            )
    return steps
