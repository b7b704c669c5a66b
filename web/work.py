"""What the clerk's pages share: writing under the archive's writer lock, the intake the
uploads go through, the background jobs, and the form token of a request that is not a form.

Every write from a page takes the same writer lock as ``dangan watch`` and the CLI, waiting a
few seconds at most; when another writer holds it longer the page says plainly who is
writing and to try again (:class:`archive.core.errors.LockedError`, a 409 page)."""

from __future__ import annotations

import contextlib
import hmac
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from archive.core.config import Archive
from archive.core.errors import ArchiveError, UsageError
from archive.intake.intake import Intake
from archive.intake.pipeline import after_batch, extractor_for, make_intake
from archive.intake.preflight import REASONS
from archive.intake.upload import Staging, UploadRefused, upload_path
from archive.ops.jobs import Jobs
from archive.records.catalog import Catalog
from archive.records.reindex import open_catalog
from web.context import CsrfRefused, Viewer, app_parts

#: Seconds a page waits for the writer lock before saying the archive is busy.
WAIT_SECONDS = 8.0
TOKEN_HEADER = "x-csrf-token"

_parts_lock = threading.Lock()
_log = logging.getLogger("dangan.web")


@contextlib.contextmanager
def writing(archive: Archive, who: Viewer, what: str) -> Iterator[Catalog]:
    """The catalog, with the writer lock held for *who* doing *what* (see module doc)."""
    with (
        archive.writer_lock(wait_seconds=WAIT_SECONDS, purpose=f"网页: {who.name} {what}"),
        open_catalog(archive) as catalog,
    ):
        yield catalog


def _state(request: Request, name: str, make: Any) -> Any:
    state = request.app.state
    with _parts_lock:
        if not hasattr(state, name):
            setattr(state, name, make())
        return getattr(state, name)


def intake(request: Request, catalog: Catalog) -> Intake:
    """An intake for one upload, with the app's text extractor (its OCR kept loaded for the
    life of the server, as the watcher keeps its own)."""
    archive = app_parts(request).archive

    def extractor() -> Any:
        stack = contextlib.ExitStack()
        return stack, stack.enter_context(extractor_for(archive))

    _, found = _state(request, "extractor", extractor)
    return make_intake(archive, catalog, found, settle_seconds=0)


def jobs(request: Request) -> Jobs:
    """The archive's background jobs (:mod:`archive.ops.jobs`)."""
    archive = app_parts(request).archive
    found: Jobs = _state(request, "jobs", lambda: Jobs(archive))
    return found


def check_token(request: Request, who: Viewer) -> None:
    """A request that is not a form (an upload's raw body) carries the session's token in a
    header; refused without it, as a form without its field is."""
    sent = request.headers.get(TOKEN_HEADER, "")
    if not sent or not hmac.compare_digest(sent, who.csrf):
        raise CsrfRefused("页面已过期或来自别处 (缺少有效的表单令牌): 请刷新页面后重新提交")


async def checked_upload_form(request: Request, who: Viewer, limit: int) -> FormData:
    """A posted form with one file (a re-scan, a roster): its size checked from the announced
    length before reading, its parts spooled to disk by the parser, its token checked."""
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        raise UploadRefused("上传须注明大小; 请用页面上的表单提交")
    if int(length) > limit + 64 * 1024:
        raise UploadRefused(f"{REASONS['too_large']} (上限 {limit / 1048576:.0f} MB)")
    form = await request.form(max_files=1, max_fields=20)
    sent = str(form.get("csrf_token", ""))
    if not sent or not hmac.compare_digest(sent, who.csrf):
        raise CsrfRefused("页面已过期或来自别处 (缺少有效的表单令牌): 请刷新页面后重新提交")
    return form


async def staged_file(archive: Archive, form: FormData, field: str = "file") -> Path:
    """The form's file copied into its own folder under ``.dangan/uploads`` under its own
    (safe) name, which the library shows (``重新扫描: 申请表.pdf``). The caller deletes the
    folder (:func:`drop_staged`)."""
    upload = form.get(field)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise UsageError("请选择要上传的文件")
    name = upload_path(archive, next(iter(archive.config.kinds)), upload.filename)[-1]
    staging = Staging(archive)
    try:
        while chunk := await upload.read(1 << 16):
            staging.write(chunk)
        path = staging.finish(None)
    except BaseException:
        staging.abort()
        raise
    folder = path.with_name(path.name + ".d")  # upload-….part.d: cleared with the file
    folder.mkdir()
    return path.rename(folder / name)


def drop_staged(path: Path) -> None:
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()


def download_headers(name: str, *, inline: bool = False) -> dict[str, str]:
    """A file sent under its own (UTF-8) name, never kept by caches along the way."""
    disposition = "inline" if inline else "attachment"
    return {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "private, no-store",
    }


class Settler:
    """What follows a batch of uploads, done once the batch ends rather than after each
    file: the tray refiled against what the batch brought, and the search index brought up
    to date (``after_batch``, as ``dangan ingest`` does once per run). The page says when its
    batch is done (:meth:`now`); if it never does (the browser closed), :meth:`poke` has it
    done when uploads have paused for *delay* seconds. Either way a later ingest, watch or
    upload catches up whatever a stopped server left (the index sync is a full comparison)."""

    def __init__(self, archive: Archive, delay: float = 3.0) -> None:
        self.archive = archive
        self.delay = delay
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def poke(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.delay, self._later)
            self._timer.daemon = True
            self._timer.start()

    def now(self, who: Viewer) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        with writing(self.archive, who, "上传后更新待归档和检索索引") as catalog:
            after_batch(self.archive, catalog)

    def _later(self) -> None:
        try:
            with (
                self.archive.writer_lock(wait_seconds=60, purpose="网页: 上传后更新检索索引"),
                open_catalog(self.archive) as catalog,
            ):
                after_batch(self.archive, catalog)
        except ArchiveError as exc:  # busy or damaged: the next batch catches up
            _log.warning("上传后更新检索索引未完成: %s", exc.message)
        except Exception:
            _log.exception("上传后更新检索索引时出错")


def settler(request: Request) -> Settler:
    archive = app_parts(request).archive
    found: Settler = _state(request, "settler", lambda: Settler(archive))
    return found
