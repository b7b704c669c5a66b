"""A still image of the archive for the backup engine to read: a hard-link mirror.

Under the archive's writer lock (held by every filing, move and reindex) the archive's
folder, less ``.dangan/``, is mirrored into ``.dangan/backup-stage/``; then the lock is let
go and restic reads the mirror at its own pace while the watcher and the web app carry on.
A hard link keeps the bytes a file had at that instant for as long as writers replace files
by renaming them into place, which is how dangan writes every record, sidecar and roster.
Files a program may write in place are copied instead: SQLite databases through SQLite's
own backup (never torn, even in use; the copy kept when it comes out the same as last time), and the small files outside ``records/``, ``inbox/`` and
``quarantine/`` (the bureau's settings, users, the access log). Where a hard link cannot be
made (another file system, a file owned by another account) the file is copied.

The mirror is kept between backups and brought up to date in place: an unchanged file keeps
its link, so its inode and ctime stay what restic saw last time and restic neither re-reads
it nor stores its folder again. (A mirror rebuilt from scratch every time made restic store
6.5 MB of new folder metadata per run on the 1,000-household archive; kept, 6 KB.) A file
deleted from the archive stays on disk until the next backup drops it from the mirror.
"""

from __future__ import annotations

import errno
import filecmp
import os
import shutil
import sqlite3
import stat
from pathlib import Path

from archive.core.config import Archive

STAGE = "backup-stage"
LINKED_TOP = ("records", "inbox", "quarantine")  # files there are only ever renamed into place
COPY_LIMIT = 64 * 1024 * 1024  # larger files elsewhere are linked, not copied
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_SIDE = ("-wal", "-shm", "-journal")
_NO_LINK = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES)
_TMP = ".mirror-tmp"


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == _SQLITE_MAGIC
    except OSError:
        return False


def _copy_sqlite(source: Path, dest: Path) -> None:
    src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=30.0)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _same_copy(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns


def _mirror_file(
    src: os.DirEntry[str], dest: Path, have: os.DirEntry[str] | None, how: str
) -> None:
    """Bring ``dest`` up to ``src``: "link", "copy" or "sqlite"; untouched when already so.
    ``have`` is what the mirror holds there now."""
    if have is not None and not have.is_file(follow_symlinks=False):
        _remove(dest)
        have = None
    if have is not None:  # a database is copied every time: its -wal may hold news
        if how == "link" and have.inode() == src.inode():
            return
        if how == "copy" and _same_copy(have.stat(follow_symlinks=False), src.stat()):
            return
    tmp = dest.with_name(_TMP)
    tmp.unlink(missing_ok=True)
    if how == "link":
        try:
            os.link(src.path, tmp)
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
            if have is not None and _same_copy(have.stat(follow_symlinks=False), src.stat()):
                return  # copied last time (no links here) and unchanged since
            shutil.copy2(src.path, tmp)
    elif how == "sqlite":
        try:
            _copy_sqlite(Path(src.path), tmp)  # its time is now's: restic reads it every time
        except sqlite3.Error:
            tmp.unlink(missing_ok=True)
            shutil.copy2(src.path, tmp)
        if have is not None and filecmp.cmp(tmp, dest, shallow=False):
            tmp.unlink()  # nothing written since the last copy: restic need not read it again
            return
    else:
        shutil.copy2(src.path, tmp)
    os.replace(tmp, dest)


def _mirror_link(src: Path, dest: Path) -> None:
    target = os.readlink(src)
    if dest.is_symlink() and os.readlink(dest) == target:
        return
    if dest.exists() or dest.is_symlink():
        _remove(dest)
    os.symlink(target, dest)


def _sync_times(src: Path, dest: Path) -> None:
    a, b = src.stat(), dest.stat()
    if a.st_mtime_ns != b.st_mtime_ns or stat.S_IMODE(a.st_mode) != stat.S_IMODE(b.st_mode):
        shutil.copystat(src, dest)


def _how(entry: os.DirEntry[str], linked: bool, sqlite: set[str]) -> str:
    if entry.name in sqlite:
        return "sqlite"
    if linked or entry.stat(follow_symlinks=False).st_size > COPY_LIMIT:
        return "link"
    return "copy"


def _sync_folder(src: Path, dest: Path, linked: bool, skip: str | None = None) -> int:
    """Mirror one folder and, depth first, the folders in it; returns the files mirrored.
    ``linked``: files here are linked; ``skip``: a name left out (``.dangan`` at the top)."""
    with os.scandir(src) as it:
        entries = {e.name: e for e in it if e.name != skip}
    with os.scandir(dest) as it:
        have = {e.name: e for e in it}
    for name in set(have) - set(entries):
        _remove(dest / name)
    files, folders = 0, []
    files_here = [e for e in entries.values() if e.is_file(follow_symlinks=False)]
    sqlite = set() if linked else {e.name for e in files_here if _is_sqlite(Path(e.path))}
    for name, entry in sorted(entries.items()):
        out = dest / name
        try:
            if entry.is_symlink():
                _mirror_link(Path(entry.path), out)
            elif entry.is_dir(follow_symlinks=False):
                old = have.get(name)
                if old is not None and (old.is_symlink() or not old.is_dir()):
                    _remove(out)
                out.mkdir(exist_ok=True)
                folders.append((Path(entry.path), out))
            elif entry.is_file(follow_symlinks=False):
                if any(name == base + side for base in sqlite for side in _SQLITE_SIDE):
                    _remove(out)  # the database's own backup holds its journal's contents
                    continue
                _mirror_file(entry, out, have.get(name), _how(entry, linked, sqlite))
                files += 1
            # sockets, pipes and devices are not archive content
        except FileNotFoundError:
            _remove(out)  # gone since the listing (a clerk took a file back out of the inbox)
    for sub_src, sub_dest in folders:
        top = skip is not None  # the archive's own folder: records/, inbox/ … are linked
        try:
            files += _sync_folder(sub_src, sub_dest, linked or (top and sub_src.name in LINKED_TOP))
            _sync_times(sub_src, sub_dest)  # after its contents: restic sees it unchanged
        except FileNotFoundError:
            _remove(sub_dest)
    return files


def sync_mirror(archive: Archive, stage: Path | None = None) -> int:
    """Bring the mirror up to the archive as it is now (run under the writer lock); returns
    the number of files mirrored."""
    stage = stage or archive.state / STAGE
    stage.mkdir(parents=True, exist_ok=True)
    files = _sync_folder(archive.root, stage, False, archive.state.name)
    _sync_times(archive.root, stage)
    return files
