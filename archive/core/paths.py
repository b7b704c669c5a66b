"""The one path policy: a path that comes from data stays inside the archive, or is refused.

Data names paths in many places: a metrics file's ``evidence``, a findings file's inspection
body that becomes a report's file name, a sidecar's derivative name, a bag's manifest, the
files given to ``dangan ingest``. Every one of them goes through this module:

- :func:`inside` joins a path written in data to a folder of the archive, resolves it
  (``..`` and symbolic links included) and refuses it when it leaves that folder;
- :func:`child` makes one file name from data (any ``/``, ``\\`` or ``..`` in it becomes
  part of the name, never a folder) and checks the result is directly in the folder;
- :func:`intake_refusal` is the one rule for what intake may take from: never the
  archive's own records, quarantine, state or reports, nor a folder that holds them;
- :func:`open_regular` opens a file for reading only when it is a regular file, without
  blocking on a FIFO or following a link, so a pipe or a device can never hang a reader.

Refusals are :class:`PathRefused` with a Chinese sentence naming the path and the fix.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from archive.core.errors import ArchiveError
from archive.core.names import safe_component

# Folders of an archive that intake never takes from (relative to the archive root)
PROTECTED = ("records", "quarantine", ".dangan", "报告")


class PathRefused(ArchiveError):
    """A path from data would lead outside the archive (or into its protected parts)."""

    exit_code = 14


class NotRegularFile(ArchiveError):
    """A pipe, device, socket or folder where a file was expected: never read."""

    exit_code = 14


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def inside(folder: Path, written: str | Path, *, what: str = "路径") -> Path:
    """``written`` (a path from data, relative to ``folder``) resolved, when it stays inside.

    Absolute paths, ``..`` steps and symbolic links are all resolved first; whatever ends
    outside ``folder`` raises :class:`PathRefused`. The file need not exist.
    """
    text = str(written).strip().replace("\\", "/")
    if not text or "\x00" in text:
        raise PathRefused(f"{what} 为空或含有非法字符: {str(written)!r}; 请填写档案库中的文件")
    base = folder.resolve()
    resolved = (base / text).resolve()
    if not _within(resolved, base):
        raise PathRefused(
            f"{what} “{written}” 指向 {base} 以外 ({resolved}); "
            f"只能引用 {base} 中的文件, 请改为该文件夹内的相对路径"
        )
    return resolved


def child(folder: Path, name: str, suffix: str = "", *, fallback: str = "未命名") -> Path:
    """The file ``<name><suffix>`` directly in ``folder``; ``name`` comes from data and can
    never make a folder or climb out (its ``/``, ``\\``, ``..`` become part of the name)."""
    safe = safe_component(name + suffix, fallback=fallback + suffix)
    path = folder / safe
    if path.parent != folder or safe in (".", ".."):
        raise PathRefused(f"文件名 “{name}” 无法作为 {folder} 中的文件名; 请修改")
    return path


def intake_refusal(archive_root: Path, source: Path) -> str | None:
    """Why intake may not take files from ``source``, or ``None`` when it may.

    The archive's own folders (records, quarantine, state, reports) are its output, never
    its input; a folder that contains one of them (such as the archive root) neither.
    """
    root = archive_root.resolve()
    try:
        src = source.resolve()
    except OSError:
        return None
    for name in PROTECTED:
        protected = (root / name).resolve()
        if _within(src, protected):
            return (
                f"{source} 位于档案库的 {name}/ 中, 那是 dangan 自己写入的内容, 不能再作为来源归档; "
                "请把要归档的文件放入 inbox/ 或其他文件夹"
            )
        if src in protected.parents:
            return (
                f"{source} 包含档案库的 {name}/ (例如档案库根目录), 不能整体作为来源归档; "
                "请指定 inbox/ 或只含待归档文件的文件夹"
            )
    return None


def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading when it is a regular file; never blocks on a FIFO and never
    follows a symbolic link. Raises :class:`NotRegularFile` otherwise (``OSError`` for the
    ordinary failures: missing, no permission)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegularFile(f"{path}: 是一个链接, 不是文件本身; 请使用原文件") from exc
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{path}: {describe_mode(mode)}, 不是普通文件, 不能读取")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def describe_mode(mode: int) -> str:
    """What a non-regular file is, in the clerk's words."""
    if stat.S_ISFIFO(mode):
        return "这是一个管道 (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "这是一个设备文件"
    if stat.S_ISSOCK(mode):
        return "这是一个套接字"
    if stat.S_ISDIR(mode):
        return "这是一个文件夹"
    if stat.S_ISLNK(mode):
        return "这是一个链接"
    return "这不是普通文件"
