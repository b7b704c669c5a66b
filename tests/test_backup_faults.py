"""Backup faults with the real engine: a full target, a target that goes away, someone else's
repository, a wrong password, a kill -9 mid-snapshot, a restore into a folder in use. Each
ends in a clear Chinese reason, and the next run completes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _backup import (
    PASSWORD,
    archive_fixtures,
    copy_archive,
    packs,
    password_file,
    payload,
    settings,
    wait_until,
)
from conftest import DANGAN, run_dangan

from archive.core.clock import local_now
from archive.core.config import Archive
from archive.core.errors import BackupError
from archive.ops.backup import ForeignTarget, check_backup, run_backup
from archive.ops.backup_config import BackupSettings, backup_overview, load_state
from archive.ops.restic import (
    NoRepository,
    RepositoryLocked,
    TargetFull,
    TargetGone,
    WrongPassword,
    explain,
)
from archive.ops.restore import restore_archive

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic not installed")


template, archive = archive_fixtures(2)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB file system of its own (tmpfs), standing in for a nearly full USB drive."""
    mount = tmp_path / "U盘"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_target_that_fills_up_fails_clearly_and_the_next_run_completes(
    archive: Archive, small_disk: Path, tmp_path: Path
) -> None:
    payload(archive.inbox / "其他", 24)  # 24 MB of scans waiting: more than the disk holds
    target = small_disk / "档案备份"
    result = run_dangan(
        "backup", "--to", target, "--password-file", password_file(tmp_path),
        "--archive", archive.root,
    )  # fmt: skip
    assert result.returncode == 9
    assert f"备份失败: 备份目标 {target} 空间已满。已有的备份不受影响" in result.stderr
    assert "Traceback" not in result.stderr
    assert load_state(archive)["last_failure"]["error"].startswith("备份失败: 备份目标")
    assert backup_overview(archive, local_now())["failure"] is not None
    # a bigger disk (the clerk freed space): the next run completes, the repository is clean
    subprocess.run(["mount", "-o", "remount,size=96m", str(small_disk)], check=True)
    done = run_backup(archive, settings(target), PASSWORD)
    assert done.files_new == done.files and not done.initialized
    assert check_backup(archive, settings(target), PASSWORD, read_data="100%").ok
    assert backup_overview(archive, local_now())["failure"] is None  # a good run after it


@pytest.mark.slow  # restic tries to remove its lock from the vanished drive for about 90 s
def test_a_drive_that_goes_away_mid_backup_then_comes_back(
    archive: Archive, tmp_path: Path
) -> None:
    payload(archive.inbox / "其他", 64)
    repo, away = tmp_path / "移动硬盘" / "档案备份", tmp_path / "移动硬盘" / "拔出"
    repo.parent.mkdir()

    def pull_out() -> None:  # as soon as restic has written its first pack
        wait_until(lambda: packs(repo) >= 1)
        repo.rename(away)

    puller = threading.Thread(target=pull_out)
    puller.start()
    # restic itself recreates the folders it writes into and says "done": dangan notices
    with pytest.raises(TargetGone) as info:
        run_backup(archive, settings(repo), PASSWORD)
    puller.join()
    assert f"备份失败: 备份目标 {repo} 在备份过程中不可用了" in info.value.message
    assert "重新连接后重试" in info.value.message
    assert not repo.exists()  # the empty shell restic left is gone
    assert "last_backup" not in load_state(archive)
    away.rename(repo)  # plugged in again
    done = run_backup(archive, settings(repo), PASSWORD)
    assert done.files == done.files_new and not done.initialized
    assert check_backup(archive, settings(repo), PASSWORD, read_data="100%").ok


SFTP_SERVER = Path("/usr/lib/openssh/sftp-server")


def nas_target(tmp_path: Path) -> tuple[BackupSettings, Path]:
    """An sftp target at ``tmp_path/NAS``: restic speaks to OpenSSH's sftp-server directly (as
    it would over ssh to a NAS); each server's pid is appended to the returned file."""
    pids = tmp_path / "sftp.pid"
    command = f"sh -c 'echo $$ >> {pids}; exec {SFTP_SERVER}'"
    nas = tmp_path / "NAS"
    target = f"sftp:nas:{nas}"
    return BackupSettings(target, None, options=(f"sftp.command={command}",)), pids


@pytest.mark.skipif(not SFTP_SERVER.exists(), reason="openssh-sftp-server not installed")
def test_a_nas_whose_connection_drops_mid_backup(archive: Archive, tmp_path: Path) -> None:
    """An sftp target (restic speaks to OpenSSH's sftp-server, as over ssh to a NAS); the
    server is killed while restic writes, as a dropped network link would end it."""
    payload(archive.inbox / "其他", 48)
    target, pid_file = nas_target(tmp_path)
    nas = tmp_path / "NAS"
    run_backup(archive, target, PASSWORD)  # the first backup, whole
    payload(archive.inbox / "新到", 48)

    had = packs(nas)

    def drop() -> None:  # the third connection is the backup's (after config and snapshots)
        wait_until(lambda: len(pid_file.read_text().split()) >= 3 and packs(nas) > had)
        os.kill(int(pid_file.read_text().split()[2]), signal.SIGKILL)

    pid_file.write_text("")
    dropper = threading.Thread(target=drop)
    dropper.start()
    with pytest.raises(TargetGone) as info:
        run_backup(archive, target, PASSWORD)
    dropper.join()
    assert f"备份失败: 备份目标 sftp:nas:{nas} 在备份过程中不可用了" in info.value.message
    again = run_backup(archive, target, PASSWORD)
    assert again.files_new == 8  # the new scans; the rest was there
    assert check_backup(archive, target, PASSWORD, read_data="100%").ok


def test_someone_elses_repository_or_folder_is_refused_and_left_alone(
    archive: Archive, template: Path, tmp_path: Path
) -> None:
    # a restic repository of another office, with its own password
    theirs = tmp_path / "别人的备份库"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    env["RESTIC_PASSWORD"] = "他们的密码"
    subprocess.run(
        ["restic", "init", "--repo", str(theirs)], env=env, check=True, capture_output=True
    )
    before = _tree(theirs)
    with pytest.raises(WrongPassword) as info:
        run_backup(archive, settings(theirs), PASSWORD)
    assert "无法用这个密码打开: 密码不对, 或者这是别人的备份库" in info.value.message
    assert _tree(theirs) == before
    # another archive's repository that happens to share the password
    other = copy_archive(template, tmp_path / "另一个档案库")
    shared = tmp_path / "共用的备份库"
    run_backup(other, settings(shared), PASSWORD)
    before = _tree(shared)
    with pytest.raises(ForeignTarget) as foreign:
        run_backup(archive, settings(shared), PASSWORD)
    assert "属于另一个档案库或另一个程序" in foreign.value.message
    assert _tree(shared) == before
    # a folder of someone's files
    photos = tmp_path / "照片"
    photos.mkdir()
    (photos / "合影.jpg").write_bytes(b"\xff\xd8 photo")
    with pytest.raises(ForeignTarget) as folder:
        run_backup(archive, settings(photos), PASSWORD)
    assert "不是空文件夹, 也不是 dangan (restic) 的备份库 (里面有: 合影.jpg" in folder.value.message
    assert _tree(photos) == {"合影.jpg": b"\xff\xd8 photo"}


def test_a_wrong_password_is_named_and_exits_9(archive: Archive, tmp_path: Path) -> None:
    repo = tmp_path / "备份"
    run_backup(archive, settings(repo), PASSWORD)
    wrong = tmp_path / "错"
    wrong.mkdir()
    result = run_dangan(
        "backup", "--to", repo, "--same-disk", "--password-file", password_file(wrong, "猜的密码"),
        "--archive", archive.root,
    )  # fmt: skip
    assert result.returncode == 9
    assert result.stderr.startswith(f"错误: 备份库 {repo} 无法用这个密码打开: 密码不对")
    # a password file others can read is refused before anything is tried
    loose = password_file(tmp_path)
    loose.chmod(0o644)
    result = run_dangan(
        "backup", "--to", repo, "--same-disk", "--password-file", loose, "--archive", archive.root
    )
    assert result.returncode == 9 and f"请执行 chmod 600 {loose}" in result.stderr


def test_a_backup_killed_mid_snapshot_is_completed_by_the_next_run(
    archive: Archive, tmp_path: Path
) -> None:
    payload(archive.inbox / "其他", 64)
    repo = tmp_path / "备份"
    pw = password_file(tmp_path)
    args = [str(DANGAN), "backup", "--to", str(repo), "--same-disk", "--password-file", str(pw),
            "--archive", str(archive.root)]  # fmt: skip
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        wait_until(lambda: packs(repo) >= 1)
        engine = _child(proc.pid)
        # the password is on no command line and in no environment of the running engine
        assert PASSWORD.encode() not in Path(f"/proc/{engine}/cmdline").read_bytes()
        assert PASSWORD.encode() not in Path(f"/proc/{engine}/environ").read_bytes()
        assert b"--password-file\x00/dev/fd/" in Path(f"/proc/{engine}/cmdline").read_bytes()
        os.killpg(proc.pid, signal.SIGKILL)  # what a power cut or systemd's kill does
    finally:
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    again = run_dangan(*args[1:])
    assert again.returncode == 0, again.stderr
    check = run_dangan(*args[1:], "--check", "--read-data", "100%")
    assert check.returncode == 0, check.stdout + check.stderr
    listed = run_dangan(*args[1:], "--list")
    assert len(listed.stdout.strip().splitlines()) == 1  # the killed run left no snapshot


def _child(pid: int) -> int:
    """The restic process dangan started."""
    found: list[int] = []

    def look() -> bool:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and "restic" in Path(stat.parent, "comm").read_text():
                found.append(int(stat.parent.name))
                return True
        return False

    wait_until(look, timeout=30)
    return found[0]


def test_a_stray_restic_environment_does_not_override_the_bureaus_choice(
    archive: Archive, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "RESTIC_PASSWORD": "wrong",
        "RESTIC_REPOSITORY": str(tmp_path / "elsewhere"),
    }
    result = subprocess.run(
        [str(DANGAN), "backup", "--to", str(tmp_path / "备份"), "--same-disk",
         "--password-file", str(password_file(tmp_path)), "--archive", str(archive.root)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "备份" / "config").is_file() and not (tmp_path / "elsewhere").exists()


def test_a_target_on_the_archives_own_disk_or_inside_it_or_beside_its_password_is_refused(
    archive: Archive, tmp_path: Path
) -> None:
    same = tmp_path / "同一块盘"
    with pytest.raises(BackupError) as info:
        run_backup(archive, BackupSettings(target=str(same), password_file=None), PASSWORD)
    assert "与档案库在同一块磁盘上" in info.value.message and not same.exists()
    with pytest.raises(BackupError) as inside:
        run_backup(archive, settings(archive.root / "备份"), PASSWORD)
    assert "在档案库里面" in inside.value.message
    pw = archive.root / "密码.txt"
    pw.write_text(PASSWORD)
    pw.chmod(0o600)
    target = BackupSettings(target=str(tmp_path / "备份"), password_file=pw, same_disk=True)
    done = run_backup(archive, target, PASSWORD)
    assert any("密码文件" in w and "在档案库里面" in w for w in done.warnings)
    # a password kept on the backup drive itself opens the backup for whoever takes the drive
    on_drive = tmp_path / "备份" / "密码.txt"
    with pytest.raises(BackupError) as beside:
        run_backup(
            archive, BackupSettings(str(tmp_path / "备份"), on_drive, same_disk=True), PASSWORD
        )
    assert "放在备份目标里" in beside.value.message


def test_a_restore_never_lands_in_a_folder_in_use(archive: Archive, tmp_path: Path) -> None:
    repo = tmp_path / "备份"
    run_backup(archive, settings(repo), PASSWORD)
    busy = tmp_path / "别的东西"
    busy.mkdir()
    (busy / "报表.xlsx").write_bytes(b"PK keep me")
    result = run_dangan(
        "restore", "--from", repo, "--to", busy, "--password-file", password_file(tmp_path)
    )
    assert result.returncode == 9
    assert f"错误: 恢复目标 {busy} 不是空文件夹 (里面有: 报表.xlsx …)" in result.stderr
    assert _tree(busy) == {"报表.xlsx": b"PK keep me"}


def test_a_restore_killed_halfway_leaves_nothing_behind(archive: Archive, tmp_path: Path) -> None:
    payload(archive.inbox / "其他", 48)
    repo = tmp_path / "备份"
    run_backup(archive, settings(repo), PASSWORD)
    dest = tmp_path / "新档案库"

    def kill_engine() -> None:  # once restic has begun writing the archive out
        wait_until(lambda: any(tmp_path.glob(".新档案库.恢复中-*/inbox/其他/*.bin")))
        os.kill(_child(os.getpid()), signal.SIGKILL)

    killer = threading.Thread(target=kill_engine)
    killer.start()
    with pytest.raises(BackupError) as info:
        restore_archive(settings(repo), PASSWORD, dest)
    killer.join()
    assert info.value.message.startswith("恢复失败 (restic): restic 进程被终止 (信号 9")
    assert not dest.exists() and not list(tmp_path.glob(".新档案库*"))
    done = restore_archive(settings(repo), PASSWORD, dest)  # and it can simply be run again
    assert done.ok and (dest / "inbox" / "其他").is_dir()


@pytest.mark.parametrize(
    ("stderr", "kind", "words"),
    [  # restic 0.14's own words, as seen in the runs above
        ("Fatal: wrong password or no key found\n", WrongPassword, "密码不对"),
        (
            "Fatal: unable to save snapshot: write /m/repo/data/a9/a9de-tmp-1: "
            "no space left on device\n",
            TargetFull,
            "空间已满",
        ),
        (
            "Fatal: unable to save snapshot: ssh command exited: signal: killed\n",
            TargetGone,
            "不可用了",
        ),
        (
            "unable to create lock in backend: repository is already locked by PID 9574 on vm\n",
            RepositoryLocked,
            "正被另一个备份或检查进程使用",
        ),
        (
            "Fatal: unable to open config file: stat x/config: no such file or directory\n"
            "Is there a repository at the following location?\nx\n",
            NoRepository,
            "没有备份库",
        ),
        (
            "panic: runtime error: invalid memory address\n\ngoroutine 1 [running]:\nmain.f()\n"
            "\t/x.go:1 +0x1\n",
            BackupError,
            "panic: runtime error",
        ),
    ],
)
def test_restics_errors_are_told_in_chinese(stderr: str, kind: type, words: str) -> None:
    error = explain(stderr, "/media/U盘/档案备份", "备份")
    assert type(error) is kind and words in error.message and "/media/U盘/档案备份" in error.message
    assert "goroutine" not in error.message
