"""The web app's security, driven in-process over ASGI: every route × every role, CSRF,
path traversal, markup shown as text, lockout, session expiry."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _web import (
    HOSTILE_FILE,
    HOSTILE_FINDING,
    HOSTILE_NAME,
    PASSWORDS,
    ROLES,
    sidecar_path,
    sign_in,
    token_in,
)
from starlette.testclient import TestClient

from archive.access.log import AccessLog, LogFilter
from archive.access.store import AccessStore
from archive.core.config import Archive
from archive.core.errors import NotFoundError
from archive.records.catalog import Catalog
from archive.records.reader import inside
from archive.records.reindex import reindex_catalog
from web.app import create_app
from web.context import Settings
from web.routes import ROUTES

ANON = "未登录"
WHO = [ANON, *ROLES]  # 未登录, 管理员 (admin), 档案员 (clerk), 王科长 (reader), 审计员 (auditor)


@pytest.fixture(scope="module")
def made(web_made: tuple[Path, dict[str, Any]]) -> tuple[Path, dict[str, Any]]:
    return web_made


@pytest.fixture
def site(made: tuple[Path, dict[str, Any]], tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A fresh copy of the archive for a test that changes it."""
    root = tmp_path / "档案库"
    shutil.copytree(made[0], root, symlinks=True)
    return root, made[1]


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def client_for(root: Path, **kwargs: Any) -> TestClient:
    return TestClient(create_app(Archive(root), **kwargs), follow_redirects=False)


@pytest.fixture(scope="module")
def clients(made: tuple[Path, dict[str, Any]]) -> Iterator[dict[str, TestClient]]:
    root, _ = made
    app = create_app(Archive(root))
    out = {}
    for who in WHO:
        client = TestClient(app, follow_redirects=False)
        if who != ANON:
            assert sign_in(client, who).status_code == 303
        out[who] = client
    yield out
    for c in out.values():
        c.close()


def _sample(root: Path) -> dict[str, str]:
    with Catalog(Archive(root).catalog_path, readonly=True) as catalog:
        row = catalog.records("dossier_kind = 'household'")[0]
    return {"key": row["dossier_key"], "sha": row["record_id"]}


# --------------------------------------------------------------------- route × role

#: Every route with the answer each role gets: 未登录, admin, clerk, reader, auditor.
#: 303 for a page asked by nobody is the way to the sign-in page (no content with it).
TABLE: list[tuple[str, str, str, tuple[int, int, int, int, int]]] = [
    ("login", "GET", "/login", (200, 303, 303, 303, 303)),
    ("login_post", "POST", "/login", (403, 403, 403, 403, 403)),  # no form token: refused
    ("logout", "POST", "/logout", (401, 303, 303, 303, 303)),
    ("password", "GET", "/account/password", (303, 200, 200, 200, 200)),
    ("password_post", "POST", "/account/password", (401, 400, 400, 400, 400)),
    ("home", "GET", "/", (303, 200, 200, 200, 200)),
    ("search", "GET", "/search?q=店", (303, 403, 200, 200, 403)),
    ("suggest", "GET", "/api/households?q=店", (303, 403, 200, 200, 403)),
    ("dossier", "GET", "/dossier/{key}", (303, 403, 200, 200, 403)),
    ("print", "GET", "/print/{key}", (303, 403, 200, 200, 403)),
    ("record", "GET", "/record/{sha}", (303, 403, 200, 200, 403)),
    ("page", "GET", "/record/{sha}/page/1", (303, 403, 200, 200, 403)),
    ("thumb", "GET", "/record/{sha}/thumb/1", (303, 403, 200, 200, 403)),
    ("image", "GET", "/record/{sha}/image/1", (303, 403, 200, 200, 403)),
    ("original", "GET", "/record/{sha}/original", (303, 403, 200, 200, 403)),
    ("searchable", "GET", "/record/{hostile}/searchable", (303, 403, 200, 200, 403)),
    ("quarantine", "GET", "/quarantine", (303, 403, 200, 403, 403)),
    ("users", "GET", "/users", (303, 200, 403, 403, 403)),
    ("users_post", "POST", "/users", (401, 400, 403, 403, 403)),
    ("log", "GET", "/log", (303, 403, 403, 403, 200)),
    ("log_export", "GET", "/log.xlsx", (303, 403, 403, 403, 200)),
    ("asset", "GET", "{asset}", (200, 200, 200, 200, 200)),
    # the clerk's work (web/views_work.py, views_correct.py, views_materials.py)
    ("upload", "GET", "/upload", (303, 403, 200, 403, 403)),
    ("upload_file", "POST", "/upload/file", (401, 403, 403, 403, 403)),  # token not in header
    ("upload_done", "POST", "/upload/done", (401, 403, 403, 403, 403)),
    ("tray", "GET", "/tray", (303, 403, 200, 403, 403)),
    ("tray_post", "POST", "/tray", (401, 403, 400, 403, 403)),
    ("quarantine_item", "GET", "/quarantine/item?path=quarantine/x.pdf", (303, 403, 404, 403, 403)),
    ("quarantine_file", "GET", "/quarantine/file?path=quarantine/x.pdf", (303, 403, 404, 403, 403)),
    ("quarantine_post", "POST", "/quarantine/item", (401, 403, 400, 403, 403)),
    ("correct", "GET", "/record/{sha}/correct", (303, 403, 200, 403, 403)),
    ("correct_post", "POST", "/record/{sha}/correct", (401, 403, 400, 403, 403)),
    ("materials", "GET", "/materials", (303, 403, 200, 403, 403)),
    ("materials_post", "POST", "/materials", (401, 403, 400, 403, 403)),
    ("material_file", "GET", "/materials/0123abcd/0", (303, 403, 404, 403, 403)),
    ("audit", "GET", "/audit", (303, 403, 200, 403, 403)),
    ("audit_xlsx", "GET", "/audit.xlsx", (303, 403, 200, 403, 403)),
    ("imports", "GET", "/imports", (303, 403, 200, 403, 403)),
    ("imports_post", "POST", "/imports", (401, 403, 400, 403, 403)),
]


def test_the_table_covers_every_route() -> None:
    assert sorted(name for name, *_ in TABLE) == sorted(r.name for r in ROUTES)


@pytest.mark.parametrize(("name", "method", "path", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_every_route_for_every_role(
    clients: dict[str, TestClient],
    made: tuple[Path, dict[str, Any]],
    name: str,
    method: str,
    path: str,
    expected: tuple[int, ...],
) -> None:
    root, facts = made
    sample = _sample(root)
    asset = clients[ANON].app.state.web.urls.asset("app.css")  # type: ignore[attr-defined]
    url = path.format(
        key=sample["key"], sha=sample["sha"], hostile=facts["hostile_record"], asset=asset
    )
    got = {}
    for who in WHO:
        client = clients[who]
        if name == "logout" and who != ANON:  # signing out: with a session of its own
            client = TestClient(client.app, follow_redirects=False)
            sign_in(client, who)
        if method == "GET":
            response = client.get(url)
        else:
            token = "" if who == ANON else _csrf(client)
            data = {"csrf_token": token} if name != "login_post" else {"name": "x"}
            response = client.post(url, data=data)
        got[who] = response.status_code
        if response.status_code in (303, 401, 403):
            assert b"%PDF" not in response.content and b"\xff\xd8" not in response.content[:4]
        if who == ANON and response.status_code == 303 and name != "login":
            assert response.headers["location"].startswith("/login?next=")
    assert got == dict(zip(WHO, expected, strict=True))


def _csrf(client: TestClient) -> str:
    return token_in(client.get("/account/password").text)


def test_refusals_are_chinese_pages_and_logged(clients: dict[str, TestClient], made: Any) -> None:
    root, _ = made
    page = clients["王科长"].get("/log")
    assert page.status_code == 403 and "王科长（查阅）无权查看利用登记" in page.text
    assert "Traceback" not in page.text
    missing = clients["王科长"].get("/dossier/610522999999")
    assert missing.status_code == 404 and "没有找到档案“610522999999”" in missing.text
    nowhere = clients["王科长"].get("/没有这个页面")
    assert nowhere.status_code == 404 and "没有这个页面" in nowhere.text
    refused = AccessLog(AccessStore.of(Archive(root))).query(LogFilter(action="forbidden"))
    assert any(e.user == "王科长" and e.target == "/log" for e in refused.entries)


# --------------------------------------------------------------------- CSRF


def test_forms_without_this_sessions_token_are_refused(site: Any) -> None:
    root, _ = site
    admin, other = client_for(root), client_for(root)
    sign_in(admin, "管理员")
    sign_in(other, "王科长")
    new_user = {
        "do": "add",
        "name": "新人",
        "role": "reader",
        "password": "new-pass-1",
        "again": "new-pass-1",
    }
    for token in ("", "forged", _csrf(other)):  # none, made up, another session's
        response = admin.post("/users", data={**new_user, "csrf_token": token})
        assert response.status_code == 403 and "表单令牌" in response.text
    assert "新人" not in admin.get("/users").text
    assert admin.post("/users", data={**new_user, "csrf_token": _csrf(admin)}).status_code == 303
    assert "新人" in admin.get("/users").text
    # signing in needs the token the sign-in page set in its own cookie
    fresh = client_for(root)
    page = fresh.get("/login")
    fresh.cookies.clear()
    response = fresh.post(
        "/login",
        data={"name": "王科长", "password": PASSWORDS["王科长"], "csrf_token": token_in(page.text)},
    )
    assert response.status_code == 403 and "dangan_session" not in response.cookies
    # signing out too
    assert admin.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert admin.get("/").status_code == 200


# --------------------------------------------------------------------- traversal


def test_no_url_reaches_a_file_outside_the_archive(site: Any) -> None:
    root, facts = site
    secret = root / "dangan.toml"
    (root.parent / "outside.pdf").write_bytes(b"%PDF-1.4 secret outside the archive")
    # a record whose file is a link out of the archive, and a searchable copy that is one
    side = sidecar_path(root, facts["hostile_record"])
    record = side.with_name(side.name[: -len(".json")])
    derived = record.with_name(record.stem + ".ocr.pdf")
    derived.unlink()
    derived.symlink_to(root.parent / "outside.pdf")
    victim = sidecar_path(root, _sample(root)["sha"])
    target = victim.with_name(victim.name[: -len(".json")])
    target.unlink()
    target.symlink_to(secret)
    client = client_for(root)
    sign_in(client, "王科长")
    sha, hostile = _sample(root)["sha"], facts["hostile_record"]
    for url in (
        "/assets/..%2F..%2Fdangan.toml",
        "/assets/%2e%2e/%2e%2e/dangan.toml",
        "/assets/app.css",  # not by its own name, only by its content's hash
        "/record/..%2F..%2Fdangan.toml/original",
        "/record/../../dangan.toml",
        f"/record/{sha}/original",
        f"/record/{sha}/thumb/1",
        f"/record/{hostile}/searchable",
        "/dossier/..%2F..%2Fdangan.toml",
        "/print/../../../etc/passwd",
        f"/record/{sha}/image/0",
        f"/record/{sha}/image/99",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"bureau" not in response.content and b"secret outside" not in response.content
    with pytest.raises(NotFoundError):
        inside(root / "records", "../dangan.toml")
    with pytest.raises(NotFoundError):
        inside(root / "records", "/etc/passwd")
    assert inside(root / "records", "a/b.pdf") == (root / "records" / "a" / "b.pdf").resolve()


# --------------------------------------------------------------------- markup as text


def test_markup_in_data_is_shown_as_text(clients: dict[str, TestClient], made: Any) -> None:
    _, facts = made
    reader = clients["王科长"]
    pages = [
        reader.get(f"/dossier/{facts['hostile_licence']}"),
        reader.get(f"/print/{facts['hostile_licence']}"),
        reader.get(f"/record/{facts['hostile_record']}"),
        reader.get("/search", params={"q": "鑫垚便民店"}),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "<script>window.__pwned" not in page.text and "<img src=x" not in page.text
        assert (
            "Content-Security-Policy" in page.headers
            and "script-src 'self'" in page.headers["Content-Security-Policy"]
        )
    dossier, printed, _, search = (p.text for p in pages)
    escaped_name = "&lt;script&gt;window.__pwned=2&lt;/script&gt;鑫垚便民店"
    assert escaped_name in dossier and escaped_name in printed
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;标题与内容不符" in dossier
    assert "&lt;img src=x onerror=window.__pwned=3&gt;申请表.pdf" in dossier
    assert "<mark>鑫垚便民店</mark>" in search  # the match marked, the rest of the name text
    hints = reader.get("/api/households", params={"q": "鑫垚"}).json()
    assert hints[0]["name"] == HOSTILE_NAME  # JSON carries text; the page sets it as text
    assert HOSTILE_FINDING and HOSTILE_FILE


# --------------------------------------------------------------------- lockout, sessions


def test_lockout_through_the_sign_in_page(site: Any) -> None:
    root, _ = site
    client = client_for(root)
    for _ in range(4):
        response = sign_in(client, "王科长", "wrong-password")
        assert response.status_code == 401 and "用户名或密码不对" in response.text
    response = sign_in(client, "王科长", "wrong-password")
    assert response.status_code == 401 and "账户已锁定" in response.text
    response = sign_in(client, "王科长")  # the right password, while locked
    assert response.status_code == 401 and "账户已锁定" in response.text
    admin = client_for(root)
    sign_in(admin, "管理员")
    assert "锁定至" in admin.get("/users").text
    unlock = admin.post(
        "/users", data={"do": "unlock", "name": "王科长", "csrf_token": _csrf(admin)}
    )
    assert unlock.status_code == 303
    assert sign_in(client, "王科长").status_code == 303
    log = AccessLog(AccessStore.of(Archive(root)))
    assert [e.action for e in log.query(LogFilter(user="王科长")).entries][:2] == [
        "login",
        "login_failed",
    ]
    assert log.query(LogFilter(action="locked")).total == 1
    assert log.query(LogFilter(action="user_unlock")).entries[0].user == "管理员"


def test_sessions_end_when_idle_too_long_or_signed_out(site: Any) -> None:
    root, _ = site
    clock = FakeTime()
    client = client_for(root, settings=Settings(idle_minutes=30), session_clock=clock)
    response = sign_in(client, "王科长")
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("dangan_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie and "Max-Age" not in cookie
    clock.now += 29 * 60
    assert client.get("/").status_code == 200  # used within the half hour: still signed in
    clock.now += 29 * 60
    assert client.get("/").status_code == 200
    clock.now += 31 * 60
    expired = client.get("/search?q=店")
    assert expired.status_code == 303 and "expired=1" in expired.headers["location"]
    assert "未操作, 已自动退出" in client.get(expired.headers["location"]).text
    clock.now -= 31 * 60  # the session is gone, not merely hidden
    assert client.get("/").status_code == 303
    # signing out ends it on the server: the old cookie no longer works
    sign_in(client, "王科长")
    kept = dict(client.cookies)
    assert client.post("/logout", data={"csrf_token": _csrf(client)}).status_code == 303
    client.cookies.update(kept)
    assert client.get("/").status_code == 303
    # a session never lives longer than its absolute limit, however busy
    sign_in(client, "王科长")
    for _ in range(25):
        clock.now += 29 * 60
        client.get("/")
    assert client.get("/").status_code == 303


def test_disabling_a_user_ends_their_sessions(site: Any) -> None:
    root, _ = site
    reader, admin = client_for(root), client_for(root)
    sign_in(reader, "王科长")
    sign_in(admin, "管理员")
    assert reader.get("/").status_code == 200
    admin.post("/users", data={"do": "disable", "name": "王科长", "csrf_token": _csrf(admin)})
    assert reader.get("/").status_code == 303
    assert "已停用" in sign_in(reader, "王科长").text


def test_https_sessions_carry_the_secure_flag(site: Any) -> None:
    root, _ = site
    app = create_app(Archive(root), Settings(secure_cookies=True))
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    cookies = sign_in(client, "王科长").headers.get_list("set-cookie")
    assert "Secure" in next(c for c in cookies if c.startswith("dangan_session="))


def test_after_sign_in_only_a_path_on_this_site(site: Any) -> None:
    root, _ = site
    client = client_for(root)
    page = client.get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in page.text
    page = client.get("/login", params={"next": "/search?q=店"})
    response = client.post(
        "/login",
        data={
            "name": "王科长",
            "password": PASSWORDS["王科长"],
            "csrf_token": token_in(page.text),
            "next": "https://evil.example/",
        },
    )
    assert response.headers["location"] == "/"
    assert os.sep  # (keeps the import list honest on every platform)


def test_the_watcher_and_the_server_share_one_archive(site: Any) -> None:
    """The server reads while another process files: nothing to restart, nothing locked."""
    root, facts = site
    client = client_for(root)
    sign_in(client, "王科长")
    assert client.get("/search", params={"q": "潼关县代字营镇某某村"}).status_code == 200
    archive = Archive(root)
    from archive.records.search_sync import sync_index
    from samples.bench_archive import mini_pdf

    inbox = root / "inbox" / "许可证" / f"{facts['household']}_{facts['household_name']}"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "变更申请.pdf").write_bytes(
        mini_pdf(
            "烟草专卖零售许可证变更申请",
            [f"许可证号：{facts['household']}", "变更事项：经营地址迁至风陵渡镇独一无二街"],
        )
    )
    from archive.intake.pipeline import after_batch, extractor_for, make_intake

    with (
        archive.writer_lock(),
        Catalog(archive.catalog_path) as catalog,
        extractor_for(archive, ocr=False) as ex,
    ):
        make_intake(archive, catalog, ex, settle_seconds=0).run()
        after_batch(archive, catalog)
        sync_index(archive, catalog)
    found = client.get("/search", params={"q": "独一无二街"})
    assert found.status_code == 200 and "共 <strong>1</strong> 条" in found.text
    with archive.writer_lock(), Catalog(archive.catalog_path) as catalog:
        reindex_catalog(archive, catalog)
    assert client.get(f"/dossier/{facts['household']}").status_code == 200
    assert re.search(r"变更申请", client.get(f"/dossier/{facts['household']}").text)
