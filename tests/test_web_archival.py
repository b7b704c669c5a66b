"""The pages after the archival layer: 档号 on screen and on paper, 保管期限 and state, a
withdrawn document listed apart from the dossier it left, a destroyed one's description kept
and its bytes refused on every URL (the records changed by the real ``dangan withdraw`` and
``dangan destroy``)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _web import sign_in
from conftest import run_dangan
from starlette.testclient import TestClient

from archive.access.log import LogFilter
from archive.core.config import Archive
from archive.records.catalog import Catalog
from web.app import create_app

FILE_URLS = ("/page/1", "/thumb/1", "/image/1", "/original", "/searchable")


def _rows(root: Path, where: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with Catalog(Archive(root).catalog_path, readonly=True) as catalog:
        return catalog.records(where, params)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _section(html: str, heading: str) -> str:
    """The part of a page from an ``<h2>`` heading to the next one (or the end)."""
    start = html.index(f"<h2>{heading}</h2>")
    end = html.find("<h2>", start + 1)
    return html[start : end if end > 0 else len(html)]


@pytest.fixture(scope="module")
def changed(
    web_made: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A copy of the web archive where a clerk withdrew a licence document, a case document
    and a meeting's minutes, and destroyed another licence document past its 保管期限."""
    root = tmp_path_factory.mktemp("archival") / "档案库"
    shutil.copytree(web_made[0], root)
    licence = web_made[1]["household"]
    own = _rows(root, "dossier_key = ?", (licence,))
    case = _rows(root, "dossier_kind = 'case'")
    meeting = _rows(root, "dossier_kind = 'meeting'")
    picked = {
        "withdrawn": own[0],
        "destroyed": own[1],
        "case": case[-1],
        "meeting": meeting[0],
    }
    for what in ("withdrawn", "case", "meeting"):
        done = run_dangan(
            "withdraw", f"records/{picked[what]['path']}", "--reason", "重复扫描",
            "--by", "档案员", "--archive", root,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    done = run_dangan(
        "destroy", f"records/{picked['destroyed']['path']}", "--reason", "鉴定小组意见",
        "--approver", "李局长", "--by", "档案员", "--as-of", "2090-01-01", "--archive", root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {"root": root, "licence": licence, **{k: dict(v) for k, v in picked.items()}}


@pytest.fixture(scope="module")
def reader(changed: dict[str, Any]) -> Iterator[TestClient]:
    client = TestClient(create_app(Archive(changed["root"])), follow_redirects=False)
    assert sign_in(client, "王科长").status_code == 303
    yield client
    client.close()


def test_the_catalogue_gives_each_documents_archival_code(
    reader: TestClient, changed: dict[str, Any]
) -> None:
    filed = _rows(changed["root"], "dossier_key = ?", (changed["licence"],))
    codes = {r["archival_code"] for r in filed}
    assert len(codes) == len(filed) and None not in codes
    page = reader.get(f"/dossier/{changed['licence']}").text
    catalogue = _section(page, "卷内目录")
    assert set(re.findall(r'<td class="code mono">([^<]+)', catalogue)) == codes
    printed = reader.get(f"/print/{changed['licence']}").text
    assert set(re.findall(r'<td class="code">([^<]+)</td>', printed)) == codes
    assert changed["withdrawn"]["archival_code"] not in printed  # not on paper either
    assert changed["destroyed"]["archival_code"] not in printed
    hits = reader.get("/search", params={"q": filed[0]["doc_type"], "n": 100}).text
    assert filed[0]["archival_code"] in hits


def test_withdrawn_and_destroyed_documents_are_listed_apart(
    reader: TestClient, changed: dict[str, Any]
) -> None:
    page = reader.get(f"/dossier/{changed['licence']}").text
    catalogue = _section(page, "卷内目录")
    for gone in ("withdrawn", "destroyed"):
        assert changed[gone]["record_id"] not in catalogue
    apart = _section(page, "已撤出的文件")
    assert changed["withdrawn"]["archival_code"] in apart and "已撤出" in apart
    assert f"/record/{changed['withdrawn']['record_id']}/thumb/1" in apart
    destroyed = _section(page, "已销毁的文件")
    assert changed["destroyed"]["archival_code"] in destroyed
    assert f'/record/{changed["destroyed"]["record_id"]}"' in destroyed
    assert f"/record/{changed['destroyed']['record_id']}/" not in destroyed  # no thumbnail
    assert page.count("打印卷内目录") == 1  # only the dossier itself has a print view
    # the case and the meeting list what left them, and nothing that left another dossier
    for what in ("case", "meeting"):
        other = reader.get(f"/dossier/{changed[what]['dossier_key']}").text
        apart = _section(other, "已撤出的文件")
        assert changed[what]["record_id"] in apart
        assert changed["withdrawn"]["record_id"] not in apart
        assert "已销毁的文件" not in other
    for apart in ("已撤出", "已销毁"):  # no 卷内目录 to print: the list is shown instead
        printed = reader.get(f"/print/{apart}")
        assert printed.status_code == 303 and printed.headers["location"].startswith("/dossier/")
    everything = reader.get("/dossier/已撤出").text
    for what in ("withdrawn", "case", "meeting"):
        assert changed[what]["record_id"] in everything
    shown = run_dangan("show", changed["licence"], "--archive", changed["root"]).stdout
    assert (
        "已撤出的文件 (不在卷内目录中):" in shown and changed["withdrawn"]["archival_code"] in shown
    )


def test_a_withdrawn_document_is_still_read_with_its_story(
    reader: TestClient, changed: dict[str, Any]
) -> None:
    sha = changed["withdrawn"]["record_id"]
    page = _text(reader.get(f"/record/{sha}").text)
    assert f"档号 {changed['withdrawn']['archival_code']}" in page
    assert "状态 已撤出" in page and "保管期限 定期30年" in page
    assert re.search(r"撤出 撤出档案 \d+, 档号 \S+ 保留并注明撤出.* · 档案员 · 重复扫描", page)
    assert reader.get(f"/record/{sha}/original").status_code == 200


def test_a_destroyed_documents_description_stays_and_its_bytes_are_gone(
    reader: TestClient, changed: dict[str, Any]
) -> None:
    sha, code = changed["destroyed"]["record_id"], changed["destroyed"]["archival_code"]
    html = reader.get(f"/record/{sha}").text
    page = _text(html)
    assert f"档号 {code}" in page and "状态 已销毁" in page
    assert "销毁 销毁 (批准人 李局长)" in page and "档案员 · 鉴定小组意见" in page
    assert "打开原件" not in page and f"/record/{sha}/" not in html
    for tail in FILE_URLS:
        refused = reader.get(f"/record/{sha}{tail}")
        assert refused.status_code == 404, tail
        assert f"{code}: 已按保管期限销毁" in refused.text, tail
    log = create_app(Archive(changed["root"])).state.web.log
    downloads = log.query(LogFilter(user="王科长", action="download"), limit=100).entries
    assert all(code not in e.target and "已销毁" not in e.target for e in downloads)
