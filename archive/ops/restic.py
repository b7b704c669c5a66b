"""restic, the backup engine dangan drives: run it, read its JSON, say what its errors mean.

restic (Debian's ``restic``) keeps a deduplicating, encrypted, verifiable repository in a
folder, on sftp or behind a rest-server; borg was measured beside it and was slower at every
step (``docs/benchmarks.md``). dangan never writes a repository itself: it calls restic and
turns restic's English errors into a Chinese reason with the fix.

The password never appears on a command line or in the environment other processes could
read: it is written into a pipe whose read end the child gets as ``/dev/fd/N``
(``--password-file``). ``RESTIC_*`` variables of the caller's environment are not passed on,
so a stray ``RESTIC_PASSWORD`` or ``RESTIC_REPOSITORY`` cannot override what the bureau chose.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.core.errors import BackupError

PROGRAM = "restic"
MAX_PASSWORD = 4096
# Where restic keeps a target that is not a local folder (``sftp:host:/path``, ``rest:http…``).
REMOTE_PREFIXES = ("sftp:", "rest:", "s3:", "b2:", "azure:", "gs:", "swift:", "rclone:")


class WrongPassword(BackupError):
    """The repository exists, but this password opens none of its keys."""


class NoRepository(BackupError):
    """There is no repository at the target."""


class TargetFull(BackupError):
    """The target ran out of space."""


class TargetGone(BackupError):
    """The target disappeared or stopped answering while restic worked."""


class TargetDenied(BackupError):
    """The target is read-only or not writable by this account."""


class RepositoryLocked(BackupError):
    """Another restic process holds the repository."""


class EngineMissing(BackupError):
    """restic is not installed."""


@dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: str  # ISO 8601 as restic wrote it (UTC or with offset)
    host: str
    tags: tuple[str, ...]
    paths: tuple[str, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        return cls(
            id=str(data["id"]),
            short_id=str(data.get("short_id") or data["id"][:8]),
            time=str(data["time"]),
            host=str(data.get("hostname", "")),
            tags=tuple(data.get("tags") or ()),
            paths=tuple(data.get("paths") or ()),
        )


@dataclass(frozen=True)
class Entry:
    """One file or folder of a snapshot (``restic ls --json``); ``path`` starts with ``/``."""

    path: str
    type: str  # "file" | "dir" | "symlink" | …
    size: int
    mtime: str


@dataclass(frozen=True)
class BackupSummary:
    snapshot_id: str
    files_new: int
    files_changed: int
    files_unmodified: int
    data_added: int  # bytes the repository grew by (after deduplication and compression)
    total_files: int
    total_bytes: int
    seconds: float


def is_remote(target: str) -> bool:
    return target.startswith(REMOTE_PREFIXES)


def looks_like_repository(folder: Path) -> bool:
    """A local folder laid out as a restic repository (its ``config`` and ``keys/``)."""
    return (folder / "config").is_file() and (folder / "keys").is_dir()


def _child_env() -> dict[str, str]:
    # The caller's environment without RESTIC_* (see the module docstring).
    return {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}


def _tail(text: str, lines: int = 4) -> str:
    """The lines of restic's stderr that say what went wrong (not a Go stack trace)."""
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    heads = [ln for ln in kept if ln.lower().startswith(("fatal", "panic:", "error"))]
    return " / ".join((heads or kept)[-lines:])


_GONE = (
    "ssh command exited",
    "connection lost",
    "unexpected eof",
    "input/output error",
    "transport endpoint is not connected",
    "stale file handle",
    "no such device",
    "connection refused",
    "connection reset",
    "no route to host",
    "i/o timeout",
    "broken pipe",
    "network is unreachable",
    "no such file or directory",
)


def explain(stderr: str, target: str, action: str) -> BackupError:
    """restic's complaint, as a Chinese reason naming the target and the fix."""
    low = stderr.lower()
    detail = _tail(stderr)
    if "wrong password" in low or "no key found" in low:
        return WrongPassword(
            f"备份库 {target} 无法用这个密码打开: 密码不对, 或者这是别人的备份库。"
            "请核对密码 (密码丢失则这份备份再也无法打开); 若不是本档案库的备份库, 请换一个目标"
        )
    if "is there a repository" in low or "unable to open config file" in low:
        return NoRepository(f"{target} 没有备份库 ({detail}); 请检查路径, 或先在此处做一次备份")
    if "no space left" in low or "quota exceeded" in low:
        return TargetFull(
            f"{action}失败: 备份目标 {target} 空间已满。已有的备份不受影响 (restic check 可验证); "
            "请换一个更大的介质, 或腾出空间后重试, 下次备份会补上这次没有写完的部分"
        )
    if "already locked" in low:
        return RepositoryLocked(
            f"备份库 {target} 正被另一个备份或检查进程使用 ({detail}); 请等它结束后重试"
        )
    if "read-only file system" in low or "permission denied" in low:
        return TargetDenied(
            f"{action}失败: 无权写入备份目标 {target} ({detail}); "
            "请检查介质是否写保护, 以及该文件夹对运行 dangan 的账户是否可写"
        )
    if any(sign in low for sign in _GONE):
        return TargetGone(
            f"{action}失败: 备份目标 {target} 在{action}过程中不可用了 ({detail})。"
            "请检查 U 盘/移动硬盘是否拔出、网络共享是否断开, 重新连接后重试; "
            "已有的备份不受影响, 下次备份会补上这次没有写完的部分"
        )
    return BackupError(
        f"{action}失败 (restic): {detail or '未知错误'}; 目标 {target}。"
        "已有的备份不受影响; 请重试, 若反复出现, 用备份检查查看备份库是否完好"
    )


class Restic:
    """One repository, opened with one password."""

    def __init__(
        self,
        repo: str,
        password: str,
        *,
        cache_dir: Path | None = None,
        options: Sequence[str] = (),
        program: str = PROGRAM,
    ) -> None:
        if not password or len(password.encode("utf-8")) > MAX_PASSWORD:
            raise BackupError(f"备份密码不能为空, 也不能超过 {MAX_PASSWORD} 字节")
        if "\n" in password or "\r" in password:
            raise BackupError("备份密码只能有一行")
        self.repo = repo
        self._password = password
        self.cache_dir = cache_dir
        self.options = tuple(options)  # restic's -o key=value (e.g. sftp.command for a NAS)
        found = shutil.which(program)
        if found is None:
            raise EngineMissing(
                f"未找到备份程序 {program}: 请安装 (Debian/统信/麒麟: sudo apt-get install restic)"
            )
        self.program = found

    # ------------------------------------------------------------ running restic

    def _argv(self, args: Sequence[str], fd: int) -> list[str]:
        argv = [self.program, "--repo", self.repo, "--password-file", f"/dev/fd/{fd}"]
        if self.cache_dir is not None:
            argv += ["--cache-dir", str(self.cache_dir)]
        else:
            argv.append("--no-cache")
        for option in self.options:
            argv += ["-o", option]
        return [*argv, *args]

    def spawn(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        keep_fds: Iterable[int] = (),
        on_line: Callable[[str], None] | None = None,
    ) -> tuple[int, str, str]:
        """Run restic: (exit code, stdout, stderr). ``keep_fds`` stay open in the child (a lock
        held for as long as restic lives); ``on_line`` gets its JSON progress lines."""
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, self._password.encode("utf-8") + b"\n")
        finally:
            os.close(write_end)
        with tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.Popen(
                    self._argv(args, read_end),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    cwd=cwd,
                    env=_child_env(),
                    pass_fds=(read_end, *keep_fds),
                )
            finally:
                os.close(read_end)
            out: list[str] = []
            try:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    line = raw.decode("utf-8", errors="replace")
                    if on_line is not None and line.startswith('{"message_type":"status"'):
                        on_line(line)
                    else:
                        out.append(line)
                code = proc.wait()
            finally:
                if proc.poll() is None:  # interrupted: do not leave restic writing behind us
                    proc.terminate()
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            err.seek(0)
            stderr = err.read().decode("utf-8", errors="replace")
        return code, "".join(out), stderr

    def run(
        self,
        args: Sequence[str],
        *,
        action: str,
        cwd: Path | None = None,
        keep_fds: Iterable[int] = (),
        on_line: Callable[[str], None] | None = None,
    ) -> str:
        """Run restic; its stdout, or the error it means."""
        code, out, err = self.spawn(args, cwd=cwd, keep_fds=keep_fds, on_line=on_line)
        if code < 0:
            raise BackupError(
                f"{action}失败 (restic): restic 进程被终止 (信号 {-code}, 如关机或被强行结束); "
                f"目标 {self.repo}。已有的备份不受影响; 请重新运行"
            )
        if code != 0:
            raise explain(err or out[-2000:], self.repo, action)
        return out

    def _json_lines(self, text: str) -> list[dict[str, Any]]:
        rows = []
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue
        return rows

    # ------------------------------------------------------------ commands

    def exists(self) -> bool:
        """Whether there is a repository at the target (raises when the password is wrong)."""
        if not is_remote(self.repo):
            folder = Path(self.repo)
            if not looks_like_repository(folder):
                return False
        try:
            self.run(["cat", "config"], action="打开备份库")
        except NoRepository:
            return False
        return True

    def init(self) -> None:
        self.run(["init"], action="创建备份库")

    def unlock(self) -> None:
        """Remove stale locks only (left by a restic that was killed); live ones stay."""
        self.run(["unlock"], action="解除备份库的残留锁")

    def snapshots(self, *, host: str | None = None) -> list[Snapshot]:
        args = ["snapshots", "--json"] + (["--host", host] if host else [])
        text = self.run(args, action="读取快照列表")
        data = json.loads(text.strip() or "[]")
        snaps = [Snapshot.from_json(item) for item in data or []]
        return sorted(snaps, key=lambda s: s.time)

    def backup(
        self,
        folder: Path,
        *,
        host: str,
        tags: Sequence[str],
        keep_fds: Iterable[int] = (),
        progress: Callable[[int, int], None] | None = None,
    ) -> BackupSummary:
        """Back up the contents of ``folder`` (stored at the snapshot's root)."""
        args = ["backup", ".", "--json", "--host", host, "--ignore-ctime", "--ignore-inode"]
        for tag in tags:
            args += ["--tag", tag]

        def on_line(line: str) -> None:
            if progress is None:
                return
            try:
                done = float(json.loads(line).get("percent_done", 0.0))
            except ValueError:
                return
            progress(int(done * 1000), 1000)

        text = self.run(args, action="备份", cwd=folder, keep_fds=keep_fds, on_line=on_line)
        summary = next(
            (r for r in self._json_lines(text) if r.get("message_type") == "summary"), None
        )
        if summary is None:
            raise BackupError(f"备份失败: restic 没有报告结果 ({_tail(text)}); 目标 {self.repo}")
        return BackupSummary(
            snapshot_id=str(summary["snapshot_id"]),
            files_new=int(summary.get("files_new", 0)),
            files_changed=int(summary.get("files_changed", 0)),
            files_unmodified=int(summary.get("files_unmodified", 0)),
            data_added=int(summary.get("data_added", 0)),
            total_files=int(summary.get("total_files_processed", 0)),
            total_bytes=int(summary.get("total_bytes_processed", 0)),
            seconds=float(summary.get("total_duration", 0.0)),
        )

    def check(self, read_data_subset: str | None = None) -> tuple[bool, str]:
        """restic's own check: (clean?, its report). Damage found is a result, not an error;
        an unreachable target or a wrong password is an error."""
        args = ["check"] + ([f"--read-data-subset={read_data_subset}"] if read_data_subset else [])
        for attempt in (1, 2):
            code, out, err = self.spawn(args)
            text = out + err
            if code == 0:
                return True, text
            low = err.lower()
            if "already locked" in low and attempt == 1:
                self.unlock()  # a lock left by a killed restic (same host, process gone)
                continue
            if "contains errors" not in low:
                raise explain(err or out, self.repo, "检查备份库")
            return False, text
        raise explain(err, self.repo, "检查备份库")

    def ls(self, snapshot: str) -> list[Entry]:
        text = self.run(["ls", "--json", snapshot], action="读取快照内容")
        entries = []
        for row in self._json_lines(text):
            if row.get("struct_type") != "node":
                continue
            entries.append(
                Entry(
                    path=str(row["path"]),
                    type=str(row.get("type", "")),
                    size=int(row.get("size") or 0),
                    mtime=str(row.get("mtime", "")),
                )
            )
        return entries

    def restore(self, snapshot: str, target: Path, includes: Sequence[str] = ()) -> None:
        args = ["restore", snapshot, "--target", str(target)]
        for path in includes:
            args += ["--include", glob_escape(path)]
        self.run(args, action="恢复")

    def restore_size(self, snapshot: str) -> int:
        text = self.run(["stats", "--json", "--mode", "restore-size", snapshot], action="统计快照")
        return int(json.loads(text.strip() or "{}").get("total_size", 0))


def glob_escape(path: str) -> str:
    """A path as a restic include pattern matching just itself (and what is under it)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in path)
