"""Running the app under uvicorn, a production ASGI server (``dangan serve`` calls :func:`run`)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from archive.access.store import AccessStore
from archive.access.users import Users
from archive.core.config import Archive
from archive.core.errors import UsageError
from web.app import create_app
from web.context import Settings


def addresses(host: str, port: int, scheme: str) -> list[str]:
    """The addresses to give people: this machine's own ones when listening on all."""
    if host not in ("0.0.0.0", "::"):
        return [f"{scheme}://{host}:{port}/"]
    found = {"127.0.0.1"}
    try:  # the machine's own addresses, as its name resolves (nothing is sent anywhere)
        found.update(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    return [f"{scheme}://{a}:{port}/" for a in sorted(found)]


#: How ``run`` hands the archive and settings to worker processes it starts.
_ENV = "DANGAN_WEB_CONFIG"


def app_from_environment() -> Starlette:
    """The app of one worker process (uvicorn's factory when ``--workers`` > 1)."""
    config = json.loads(os.environ[_ENV])
    return create_app(Archive(Path(config["archive"])), Settings(**config["settings"]))


def run(
    archive: Archive,
    *,
    host: str,
    port: int,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    idle_minutes: float = 30.0,
    workers: int = 1,
) -> None:
    """Serve *archive* until stopped (Ctrl+C or SIGTERM finish the requests in hand), in
    *workers* processes (they share sessions, users and the log through SQLite)."""
    import uvicorn

    if (certfile is None) != (keyfile is None):
        raise UsageError("--certfile 与 --keyfile 要同时给出 (HTTPS 证书和私钥)")
    say = sys.stderr.write
    if not Users(AccessStore.of(archive)).list():
        say(
            "提示: 还没有任何用户。先创建系统管理员:\n"
            f"  dangan users add 管理员 --role admin --archive {shlex.quote(str(archive.root))}\n"
        )
    scheme = "https" if certfile else "http"
    settings = Settings(idle_minutes=idle_minutes, secure_cookies=certfile is not None)
    say(f"档案库 {archive.root}\n")
    for address in addresses(host, port, scheme):
        say(f"在浏览器中打开: {address}\n")
    say("按 Ctrl+C 停止。\n")
    sys.stderr.flush()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    options: dict[str, Any] = dict(
        host=host,
        port=port,
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    if workers > 1:
        os.environ[_ENV] = json.dumps(
            {"archive": str(archive.root), "settings": dataclasses.asdict(settings)}
        )
        uvicorn.run("web.server:app_from_environment", factory=True, workers=workers, **options)
        return
    uvicorn.Server(uvicorn.Config(create_app(archive, settings), **options)).run()
