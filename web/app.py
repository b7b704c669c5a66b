"""The app: the archive's reader, users, log and sessions, the routes, one error handler,
and the security headers every response carries."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable

import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive.access.log import AccessLog
from archive.access.store import AccessStore
from archive.access.users import Users
from archive.core.clock import Clock, local_now
from archive.core.config import Archive
from archive.core.errors import ArchiveError
from archive.core.meetings import Canonical
from archive.intake.rules import rules_for_reading
from archive.records.reader import ArchiveReader
from web.context import Settings, Web
from web.errors import archive_error, http_error, server_error
from web.render import Urls, load_assets, make_env
from web.routes import ROUTES
from web.sessions import SessionStore

#: Pages may load only this site's scripts, styles and images: markup that slipped into
#: data could not run even if it were ever rendered unescaped.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)


class SecurityHeaders:
    """nosniff, same-origin referrers and framing everywhere; a strict policy and no caching
    on pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Frame-Options"] = "SAMEORIGIN"
                if headers.get("content-type", "").startswith(("text/html", "application/json")):
                    headers["Content-Security-Policy"] = PAGE_POLICY
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


#: Views run in a pool of threads; a few are enough to keep both cores busy (the index and
#: SQLite work outside the interpreter lock), while anyio's default 40 made threads fight
#: for that lock.
THREADS = max(4, 2 * (os.cpu_count() or 1))


@contextlib.asynccontextmanager
async def _few_threads(app: Starlette) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
    yield


def _bureau_meetings(archive: Archive) -> Canonical:
    """A meeting name → the type the bureau's rules file it under, read when asked (only a
    dossier key typed as a clerk writes it asks: the pages link the keys as filed)."""

    def canonical(name: str) -> str | None:
        return rules_for_reading(archive.root).canonical_meeting(name)

    return canonical


def create_app(
    archive: Archive,
    settings: Settings | None = None,
    *,
    clock: Clock = local_now,
    session_clock: Callable[[], float] = time.time,
) -> Starlette:
    """The web app over *archive*. *clock* and *session_clock* are injected for tests."""
    settings = settings or Settings()
    store = AccessStore.of(archive, clock=clock)
    assets = load_assets()
    web = Web(
        archive=archive,
        reader=ArchiveReader(archive, canonical=_bureau_meetings(archive)),
        users=Users(store),
        log=AccessLog(store),
        sessions=SessionStore(
            archive.state / "web-sessions.sqlite",
            idle_seconds=settings.idle_minutes * 60,
            absolute_seconds=settings.absolute_hours * 3600,
            clock=session_clock,
        ),
        settings=settings,
        env=make_env(),
        assets=assets,
    )
    app = Starlette(
        routes=ROUTES,
        lifespan=_few_threads,
        exception_handlers={
            ArchiveError: archive_error,
            HTTPException: http_error,
            Exception: server_error,
        },
    )
    app.add_middleware(SecurityHeaders)
    web.urls = Urls(app.router, assets)
    app.state.web = web
    return app
