"""What the command line did, in the archive's access log (利用登记) beside the web's entries.

Every command that changes the archive (files, moves, corrects, withdraws, numbers, stamps,
destroys, imports, restores) and every command that reads records as a web page does
(``show``, ``history``, ``search``, the 卷内目录 of ``catalogue``, ``audit``, the quarantine's
list) writes here what it did, once it is done (a read: before anything is printed). The
actor is the operating-system account that ran the command (``命令行:档案员``; under
``sudo``, ``命令行:root (sudo 档案员)``), from ``本机``: the command line has no web sign-in,
and the account the system vouches for is the one worth an auditor's trust (an ``--by``
name is the operator's own word, kept in the entry's detail). The library writes the entry
(:class:`archive.access.log.AccessLog`, hash-chained); only the actor is found here.

A command of those that fails once it has opened the archive (refused, or stopped by a bad
file or a full disk) is logged too, as ``command_failed`` (命令未完成) with the command and
its Chinese reason, as the web logs what it refuses.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterable

from archive.access.log import AccessLog, Actor
from archive.access.store import AccessStore
from archive.core.config import Archive
from cli.common import OPENED

ADDRESS = "本机"


def os_account() -> str:
    """The account running this process, by its user id (not by $USER, which anyone can
    set); the account ``sudo`` was run from beside it."""
    uid = os.getuid()
    try:
        account = pwd.getpwuid(uid).pw_name
    except KeyError:  # an id without a name (a container's)
        account = f"uid {uid}"
    sudo = os.environ.get("SUDO_USER", "")
    return f"{account} (sudo {sudo})" if sudo and sudo != account else account


def cli_actor() -> Actor:
    return Actor(f"命令行:{os_account()}", "", ADDRESS)


def log_actions(archive: Archive, entries: Iterable[tuple[str, str, str]]) -> None:
    """Write (action, target, detail) entries by this process's account, in one transaction
    (nothing when there are none)."""
    entries = list(entries)
    if not entries:
        return
    store = AccessStore.of(archive)
    try:
        AccessLog(store).record_all(cli_actor(), entries)
    finally:
        store.close()


# Commands that log what they do; their failures are logged too. Not: init, watch (its
# filing is not logged), status and reindex (upkeep), service, serve, ocr-worker, check.
LOGGED_COMMANDS = frozenset(
    [
        "ingest",
        "backlog",
        "show",
        "households",
        "quarantine",
        "search",
        "refile",
        "audit",
        "score",
        "criteria",
        "findings",
        "metrics",
        "report",
        "bundle",
        "move",
        "edit",
        "withdraw",
        "replace",
        "split",
        "history",
        "number",
        "stamp",
        "catalogue",
        "export-metadata",
        "appraise",
        "destroy",
        "backup",
        "restore",
        "users",
        "verify",
    ]
)


def log_failure(message: str) -> None:
    """Log that the running command failed with ``message``, when it is one of
    :data:`LOGGED_COMMANDS` and had opened an archive; never raises (the user is told of the
    failure whatever happens here)."""
    if not OPENED:
        return
    archive, command = OPENED[0]
    if command.split(" ", 1)[0] not in LOGGED_COMMANDS:
        return
    try:
        log_action(archive, "command_failed", f"dangan {command}", message[:500])
    except Exception:  # the log itself cannot be written (a read-only archive, say)
        pass


def log_action(archive: Archive, action: str, target: str = "", detail: str = "") -> None:
    log_actions(archive, [(action, target, detail)])


def by_note(by: str | None) -> str:
    """``; 经办人 X`` when the command named its operator with ``--by``."""
    by = (by or "").strip()
    return f"; 经办人 {by}" if by else ""
