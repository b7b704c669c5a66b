"""The web app and the second copy: the home page tells everyone how old the last backup is,
and the users and the access log (not derived: nothing rebuilds them) are in the backup and
come back with it (the real ``dangan backup`` and ``dangan restore``, restic underneath)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from _web import PASSWORDS, ROLES, sign_in
from conftest import run_dangan
from starlette.testclient import TestClient

from archive.access.log import AccessLog, LogFilter
from archive.access.store import AccessStore
from archive.access.users import Users
from archive.core.config import Archive
from web.app import create_app

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic not installed")

BACKUP_PASSWORD = "backup-pass-1\n"


def _facts(html: str) -> dict[str, str]:
    rows = re.findall(r"<tr><th>([^<]+)</th><td>(.*?)</td></tr>", html, flags=re.S)
    return {label: re.sub(r"<[^>]+>", "", value).strip() for label, value in rows}


def test_home_shows_the_backup_and_users_and_log_come_back_from_it(
    web_made: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root = tmp_path / "档案库"
    shutil.copytree(web_made[0], root)
    client = TestClient(create_app(Archive(root)), follow_redirects=False)
    assert sign_in(client, "王科长").status_code == 303
    assert client.get("/search", params={"q": "鑫垚"}).status_code == 200

    home = client.get("/").text
    assert _facts(home)["备份"] == "从未备份"
    assert '<span class="warn">从未备份</span>' in home
    assert "档案还没有备份到第二份介质" in home

    target = tmp_path / "备份"
    made = run_dangan(
        "backup", "--to", target, "--password-stdin", "--same-disk", "--archive", root,
        input_text=BACKUP_PASSWORD,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    home = client.get("/").text
    last = _facts(home)["上次备份"]
    assert re.match(r"\d+ 小时前 \(\d{4}-\d\d-\d\d \d\d:\d\d\), 快照 [0-9a-f]{8} → ", last), last
    assert "档案还没有备份到第二份介质" not in home and "warn" not in last

    entries = AccessLog(AccessStore.of(Archive(root))).query(LogFilter(), limit=1).total
    restored = tmp_path / "新电脑" / "档案库"
    back = run_dangan(
        "restore", "--from", target, "--to", restored, "--password-stdin", "--same-disk",
        "--archive", root, input_text=BACKUP_PASSWORD,
    )  # fmt: skip
    assert back.returncode == 0, back.stderr
    store = AccessStore.of(Archive(restored))
    users = Users(store)
    assert {u.name: u.role for u in users.list()} == ROLES
    log = AccessLog(store)
    check = log.verify()
    assert check.ok and check.entries == entries + 1  # every entry up to the backup, then:
    [restored_by] = log.query(LogFilter(), limit=1).entries
    assert restored_by.action == "restore" and restored_by.user.startswith("命令行:")
    assert restored_by.target == "整个档案库" and "快照" in restored_by.detail
    searched = log.query(LogFilter(user="王科长", action="search"), limit=10).entries
    assert [e.target for e in searched] == ["鑫垚"]
    # and the web app on the restored archive signs the same people in
    again = TestClient(create_app(Archive(restored)), follow_redirects=False)
    assert sign_in(again, "王科长", PASSWORDS["王科长"]).status_code == 303
    assert "鑫垚" in again.get("/search", params={"q": "鑫垚"}).text
