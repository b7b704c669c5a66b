"""Files that arrive over the network (the web app's 上传), filed exactly as the watcher files
what lands in the inbox.

An upload streams into a staging file under ``.dangan/uploads/`` (never into memory whole,
never into the inbox half-written), refused as soon as it passes the size limit. Only a
complete upload is moved into ``inbox/<类别>/…`` — one rename, under the archive's writer
lock — and filed at once by the same :class:`archive.intake.intake.Intake` as ``dangan
ingest`` and ``dangan watch``: the same preflight, the same quarantine with its reason. An
upload cut off half-way leaves only its staging file, which is deleted at once (or, when the
server itself died, by :func:`clear_stale_uploads` at the next start): nothing half-filed.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path, PurePosixPath

from archive.core.config import Archive
from archive.core.errors import ArchiveError, UsageError
from archive.core.names import decode_name, is_ignored, safe_component
from archive.intake.intake import Intake, Outcome
from archive.intake.preflight import REASONS

UPLOADS = "uploads"
#: A staging file untouched this long belongs to an upload whose server died.
STALE_SECONDS = 3600.0
_MAX_DEPTH = 8


class UploadRefused(UsageError):
    """The upload was refused before anything was filed (name, kind, size)."""


class UploadInterrupted(ArchiveError):
    """The upload ended before all its bytes arrived; nothing was filed."""


def upload_path(archive: Archive, kind_folder: str, relative: str) -> list[str]:
    """The inbox path an upload asks for (``许可证/3303…/申请表.pdf``) as safe components:
    the kind folder first. A dropped folder keeps its subfolders, since intake reads keys
    from them (licence number, case number); ``..``, absolute paths and hidden names are
    refused, never followed."""
    if kind_folder not in archive.config.kinds:
        raise UploadRefused(
            f"收件箱没有“{kind_folder}”这一类; 可选: {'、'.join(archive.config.kinds)}"
        )
    text = relative.replace("\\", "/").strip()
    parts = [p for p in PurePosixPath(text).parts if p not in ("", "/")]
    if not parts or len(parts) > _MAX_DEPTH or text.startswith("/") or ":" in parts[0]:
        raise UploadRefused(f"文件名“{relative}”不可用; 请重命名后再上传")
    clean: list[str] = []
    for part in parts:
        decoded = decode_name(part)
        if decoded is None or part in (".", "..") or decoded.startswith("."):
            raise UploadRefused(f"文件名“{relative}”不可用 (含 .. 或隐藏名); 请重命名后再上传")
        clean.append(safe_component(decoded))
    if is_ignored(clean[-1]):
        raise UploadRefused(
            f"“{clean[-1]}”是临时文件或系统文件 (如 Thumbs.db、~$开头、.part 结尾), 不归档"
        )
    return [kind_folder, *clean]


def _limit_text(limit: int) -> str:
    return f"{limit / 1048576:.0f} MB"


def check_size(archive: Archive, size: int | None) -> None:
    """Refuse, before reading a byte, an upload that says it is larger than the limit."""
    limit = archive.config.max_file_bytes
    if size is not None and size > limit:
        raise UploadRefused(
            f"{REASONS['too_large']} (上限 {_limit_text(limit)}, 此文件 {size / 1048576:.1f} MB)"
        )


class Staging:
    """One upload being received: write chunks, then :meth:`finish` or :meth:`abort`."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.limit = archive.config.max_file_bytes
        folder = archive.state / UPLOADS
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=folder)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise UploadRefused(f"{REASONS['too_large']} (上限 {_limit_text(self.limit)})")
        self._file.write(chunk)

    def finish(self, expected: int | None) -> Path:
        """The complete staged file; :class:`UploadInterrupted` when fewer bytes came than
        announced."""
        if expected is not None and self.size != expected:
            got = self.size
            self.abort()
            raise UploadInterrupted(
                f"上传中断: 应收 {expected} 字节, 只收到 {got} 字节; 未归档任何内容, 请重新上传"
            )
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self.path

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


def clear_stale_uploads(archive: Archive, older_than: float = STALE_SECONDS) -> int:
    """Delete staging files nobody has written to for *older_than* seconds (their server
    died mid-upload). Returns how many."""
    folder = archive.state / UPLOADS
    if not folder.is_dir():
        return 0
    now = time.time()
    count = 0
    for path in folder.glob("upload-*.part*"):  # a file, or a folder holding a named one
        try:
            if now - path.stat().st_mtime < older_than:
                continue
            if path.is_dir():
                for inner in path.iterdir():
                    inner.unlink()
                path.rmdir()
            else:
                path.unlink()
            count += 1
        except (FileNotFoundError, OSError):
            continue
    return count


def free_name(folder: Path, name: str) -> Path:
    """*name* in *folder*, or ``name (2)``, ``name (3)`` … when it is taken."""
    target = folder / name
    stem, suffix, n = target.stem, target.suffix, 2
    while target.exists():
        target = folder / f"{stem} ({n}){suffix}"
        n += 1
    return target


def file_upload(archive: Archive, intake: Intake, staged: Path, parts: list[str]) -> Outcome:
    """Move a complete staged upload into the inbox at *parts* (from :func:`upload_path`)
    and file it now. Call within ``archive.writer_lock()``, with an intake that does not
    wait for files to settle (``settle_seconds=0``)."""
    folder = archive.inbox.joinpath(*parts[:-1])
    folder.mkdir(parents=True, exist_ok=True)
    target = free_name(folder, parts[-1])
    os.replace(staged, target)
    outcome = intake.process(target, archive.inbox)
    if outcome is None:  # is_ignored names are refused by upload_path: never reached
        raise UploadRefused(f"{parts[-1]}: 未处理")
    return outcome
