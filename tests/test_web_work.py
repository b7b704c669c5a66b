"""The clerk's pages, driven in-process over ASGI on a copy of the web test archive: upload,
待归档 (two clerks at once), the quarantine's actions, corrections, 自查, 材料 and imports;
each action in the access log; a reader refused every action."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _web import PASSWORDS, sign_in, token_in
from openpyxl import load_workbook
from starlette.testclient import TestClient

from archive.access.log import AccessLog, Actor, LogFilter
from archive.access.store import AccessStore
from archive.access.users import Users
from archive.core.config import Archive
from archive.records.catalog import Catalog
from samples.badfiles import bad_inputs
from samples.bench_archive import mini_pdf
from web.app import create_app


@pytest.fixture
def site(web_made: tuple[Path, dict[str, Any]], tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    root = tmp_path / "档案库"
    shutil.copytree(web_made[0], root, symlinks=True)
    Users(AccessStore.of(Archive(root))).add(
        "李会计", "clerk", "clerk-pass-2", actor=Actor("测试", "", "本机")
    )
    PASSWORDS.setdefault("李会计", "clerk-pass-2")
    return root, web_made[1]


def _client(root: Path, who: str, app: Any = None) -> TestClient:
    client = TestClient(app or create_app(Archive(root)), follow_redirects=False)
    assert sign_in(client, who).status_code == 303
    return client


def _upload_token(client: TestClient) -> str:
    found = re.search(r'data-token="([^"]+)"', client.get("/upload").text)
    assert found
    return found.group(1)


def _upload(client: TestClient, token: str, kind: str, path: str, data: bytes) -> Any:
    return client.post(
        "/upload/file",
        params={"kind": kind, "path": path},
        content=data,
        headers={"X-CSRF-Token": token, "Content-Type": "application/octet-stream"},
    )


def _log(root: Path, action: str) -> list[Any]:
    return (
        AccessLog(AccessStore.of(Archive(root))).query(LogFilter(action=action), limit=500).entries
    )


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_upload_files_a_batch_and_quarantines_the_broken_one(site: tuple[Path, Any]) -> None:
    root, facts = site
    clerk = _client(root, "档案员")
    token = _upload_token(clerk)
    licence, name = facts["household"], facts["household_name"]
    good = mini_pdf("烟草专卖零售许可证变更申请表", [f"许可证号：{licence}", f"企业名称：{name}"])
    filed = _upload(clerk, token, "许可证", f"{licence}_{name}/变更申请表.pdf", good)
    assert filed.status_code == 200, filed.text
    answer = filed.json()
    assert answer["outcome"] == "filed" and answer["label"] == "已归档"
    assert answer["record"].startswith(f"records/许可证档案/{licence}_")
    record_page = clerk.get(answer["href"])
    assert record_page.status_code == 200 and "变更申请表" in record_page.text
    broken = _upload(clerk, token, "许可证", "加密.pdf", bad_inputs()["加密.pdf"][0]).json()
    assert broken["outcome"] == "quarantined" and "密码" in broken["reason"]
    item = clerk.get(broken["href"])
    assert item.status_code == 200 and "PDF有密码" in item.text
    refused = _upload(clerk, token, "../records", "x.pdf", good)
    assert refused.status_code == 400 and "收件箱没有" in refused.json()["error"]
    no_token = clerk.post("/upload/file", params={"kind": "许可证", "path": "y.pdf"}, content=good)
    assert no_token.status_code == 403
    uploads = _log(root, "upload")
    assert [e.user for e in uploads] == ["档案员", "档案员"]
    assert "已隔离" in uploads[0].detail and "已归档" in uploads[1].detail
    assert any("收件箱没有" in e.detail for e in _log(root, "upload_refused"))
    assert _files(Archive(root).inbox) == set()
    # the search index follows once uploads pause (the page never said its batch was done)
    deadline = time.monotonic() + 60
    while answer["href"] not in clerk.get("/search", params={"q": "变更申请表"}).text:
        assert time.monotonic() < deadline, "the upload never reached the search index"
        time.sleep(0.5)
    assert clerk.post("/upload/done", headers={"X-CSRF-Token": token}).json() == {"done": True}


def test_a_reader_is_refused_every_action(site: tuple[Path, Any]) -> None:
    root, _ = site
    before = _files(root / "records") | _files(root / "inbox")
    reader = _client(root, "王科长")
    token = token_in(reader.get("/account/password").text)
    with Catalog(Archive(root).catalog_path, readonly=True) as catalog:
        sha = catalog.records("1")[0]["record_id"]
    attempts = [
        ("GET", "/upload", {}),
        ("POST", "/upload/file?kind=许可证&path=a.pdf", {}),
        ("GET", "/tray", {}),
        ("POST", "/tray", {"record": sha, "dossier": "x", "reason": "r"}),
        ("POST", "/quarantine/item", {"do": "delete", "path": "quarantine/x", "reason": "r"}),
        ("GET", f"/record/{sha}/correct", {}),
        ("POST", f"/record/{sha}/correct", {"do": "withdraw", "reason": "r"}),
        ("GET", "/materials", {}),
        ("POST", "/materials", {"kind": "packet", "year": "2024"}),
        ("GET", "/audit", {}),
        ("GET", "/audit.xlsx", {}),
        ("GET", "/imports", {}),
        ("POST", "/imports", {"kind": "roster"}),
    ]
    for method, url, data in attempts:
        if method == "GET":
            got = reader.get(url)
        else:
            got = reader.post(url, data={"csrf_token": token, **data})
        assert got.status_code == 403, (url, got.status_code)
        assert "无权" in got.text
    assert _files(root / "records") | _files(root / "inbox") == before
    refused = {e.target.split("?")[0] for e in _log(root, "forbidden") if e.user == "王科长"}
    assert {"/upload", "/tray", f"/record/{sha}/correct", "/materials", "/imports"} <= refused


def _tray_sha(client: TestClient) -> str:
    found = re.search(r'name="record" value="([0-9a-f]{64})"', client.get("/tray").text)
    assert found, "the tray is empty"
    return found.group(1)


def test_two_clerks_assign_the_same_tray_document_at_once(site: tuple[Path, Any]) -> None:
    root, facts = site
    app = create_app(Archive(root))
    first, second = _client(root, "档案员", app), _client(root, "李会计", app)
    token = _upload_token(first)
    out = _upload(first, token, "许可证", "扫描0001.pdf", mini_pdf("情况说明", ["该户已停业"]))
    assert out.json()["outcome"] == "unfiled"
    sha = out.json()["href"].rsplit("/", 1)[-1]
    page = first.get("/tray")
    assert f'name="record" value="{sha}"' in page.text and "扫描0001" in page.text
    # each says why it waits: this one its household, the archive's own scan what it is
    assert "原因: 不知属于哪一户" in page.text and "原因: 不知是什么材料" in page.text
    assert "不知属于哪一户/哪一案" not in page.text
    tokens = {c: token_in(c.get("/tray").text) for c in (first, second)}
    answers: dict[str, Any] = {}
    start = threading.Barrier(2)

    def assign(client: TestClient, name: str, dossier: str) -> None:
        start.wait()
        answers[name] = client.post(
            "/tray",
            data={"csrf_token": tokens[client], "record": sha, "dossier": dossier,
                  "type": "", "reason": "核对原件"},
        )  # fmt: skip

    threads = [
        threading.Thread(target=assign, args=(first, "档案员", facts["household"])),
        threading.Thread(target=assign, args=(second, "李会计", facts["hostile_licence"])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    codes = sorted(a.status_code for a in answers.values())
    assert codes == [303, 409], {k: (v.status_code, v.text[:300]) for k, v in answers.items()}
    winner = next(k for k, v in answers.items() if v.status_code == 303)
    loser = answers[next(k for k in answers if k != winner)]
    assert f"已由 {winner} 于" in loser.text and "不在待归档中了" in loser.text
    assigned = _log(root, "assign")
    assert {e.user for e in assigned} == {"档案员", "李会计"}
    assert any("未归档" in e.detail for e in assigned)


def test_a_page_says_plainly_when_it_must_wait(site: tuple[Path, Any]) -> None:
    root, facts = site
    clerk = _client(root, "档案员")
    sha = _tray_sha(clerk)
    token = token_in(clerk.get("/tray").text)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from archive.core.config import Archive\n"
            "with Archive(Path(sys.argv[1])).writer_lock(purpose='dangan watch 正在归档收件箱'):\n"
            "    print('held', flush=True); time.sleep(120)\n",
            str(root),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = clerk.post(
            "/tray",
            data={"csrf_token": token, "record": sha, "dossier": facts["household"],
                  "reason": "核对原件"},
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert busy.status_code == 409
    assert "dangan watch 正在归档收件箱" in busy.text and "请等待其结束后重试" in busy.text
    with Catalog(Archive(root).catalog_path, readonly=True) as catalog:
        row = catalog.by_sha(sha)
        assert row is not None and row["dossier_kind"] == "tray"  # nothing was done


def test_quarantine_release_and_delete_from_the_page(site: tuple[Path, Any]) -> None:
    root, _ = site
    clerk = _client(root, "档案员")
    token = _upload_token(clerk)
    before = _files(root / "quarantine")
    bad = _upload(clerk, token, "其他", "截断.jpg", bad_inputs()["截断.jpg"][0]).json()
    assert bad["outcome"] == "quarantined"
    path = bad["record"]
    page = clerk.get("/quarantine")
    assert 'href="/quarantine/item?path=' in page.text
    form_token = token_in(clerk.get(bad["href"]).text)
    shown = clerk.get("/quarantine/file", params={"path": path})
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    outside = clerk.get("/quarantine/file", params={"path": "quarantine/../dangan.toml"})
    assert outside.status_code == 400 and "bureau" not in outside.text
    again = clerk.post(
        "/quarantine/item", data={"csrf_token": form_token, "do": "release", "path": path}
    )
    assert (
        again.status_code == 200 and "已隔离" in again.text
    )  # still truncated: back in quarantine
    with Catalog(Archive(root).catalog_path, readonly=True) as catalog:
        [row] = [r for r in catalog.quarantined() if r["path"].endswith("截断.jpg")]
    no_reason = clerk.post(
        "/quarantine/item", data={"csrf_token": form_token, "do": "delete", "path": row["path"]}
    )
    assert no_reason.status_code == 400 and "须写明原因" in no_reason.text
    gone = clerk.post(
        "/quarantine/item",
        data={"csrf_token": form_token, "do": "delete", "path": row["path"], "reason": "已重扫"},
    )
    assert gone.status_code == 200 and "已删除" in gone.text
    assert _files(root / "quarantine") == before
    [deleted] = _log(root, "quarantine_delete")
    assert deleted.user == "档案员" and "已重扫" in deleted.detail
    assert len(_log(root, "quarantine_release")) == 1


def test_corrections_from_the_record_page(site: tuple[Path, Any]) -> None:
    root, facts = site
    clerk = _client(root, "档案员")
    with Catalog(Archive(root).catalog_path, readonly=True) as catalog:
        row = catalog.records(
            "dossier_key = ? AND mime = 'application/pdf'", (facts["household"],)
        )[0]
    sha = row["record_id"]
    assert f"/record/{sha}/correct" in clerk.get(f"/record/{sha}").text
    page = clerk.get(f"/record/{sha}/correct")
    token = token_in(page.text)
    no_reason = clerk.post(f"/record/{sha}/correct", data={"csrf_token": token, "do": "withdraw"})
    assert no_reason.status_code == 400 and "原因" in no_reason.text
    rescan = mini_pdf("烟草专卖零售许可证申请表", [f"许可证号：{facts['household']}", "重新扫描"])
    replaced = clerk.post(
        f"/record/{sha}/correct",
        data={"csrf_token": token, "do": "replace", "reason": "原件模糊, 重新扫描"},
        files={"file": ("重扫.pdf", rescan, "application/pdf")},
    )
    assert replaced.status_code == 303, replaced.text[:500]
    new_page = clerk.get(replaced.headers["location"])
    assert "原件模糊, 重新扫描" in new_page.text
    old = clerk.get(f"/record/{sha}")
    assert "已撤出" in old.text
    corrected = _log(root, "correct")
    assert {e.user for e in corrected} == {"档案员"}
    assert any("以重新扫描件替换" in e.detail for e in corrected)
    assert not list((Archive(root).state / "uploads").rglob("*.pdf"))


def test_audit_page_materials_and_imports(site: tuple[Path, Any]) -> None:
    root, _ = site
    clerk = _client(root, "档案员")
    audit = clerk.get("/audit", params={"year": "2024"})
    assert audit.status_code == 200 and "评分表" in audit.text and "合计" in audit.text
    sheet = clerk.get("/audit.xlsx", params={"year": "2024"})
    assert sheet.status_code == 200
    assert load_workbook(io.BytesIO(sheet.content)).sheetnames
    token = token_in(clerk.get("/imports").text)
    bad = clerk.post(
        "/imports",
        data={"csrf_token": token, "kind": "roster"},
        files={"file": ("名册.csv", "许可证号,户名\n123,<b>x</b>\n1234,y\n".encode(), "text/csv")},
    )
    assert bad.status_code == 422 and "第2行" in bad.text and "第3行" in bad.text
    assert "<b>x</b>" not in bad.text  # data shown as text
    assert [e.detail for e in _log(root, "import")] == ["未导入: 2 处问题"] or "问题" in bad.text
    token = token_in(clerk.get("/materials").text)
    started = clerk.post(
        "/materials", data={"csrf_token": token, "kind": "summary", "year": "2024"}
    )
    assert started.status_code == 303
    busy = clerk.post("/materials", data={"csrf_token": token, "kind": "packet", "year": "2024"})
    page = clerk.get("/materials").text
    if 'data-state="running"' in page:
        assert busy.status_code == 409 and "一次只生成一份" in busy.text
        assert 'http-equiv="refresh"' in page
    deadline = time.monotonic() + 300
    while 'data-state="running"' in page:
        assert time.monotonic() < deadline
        time.sleep(0.5)
        page = clerk.get("/materials").text
    links = re.findall(r'href="(/materials/[0-9a-f]+/\d+)"', page)
    assert links, page
    got = clerk.get(links[0])
    assert got.status_code == 200 and got.headers["content-disposition"].startswith("attachment")
    assert {"generate", "download"} <= {
        e.action for e in _log(root, "generate") + _log(root, "download")
    }
