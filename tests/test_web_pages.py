"""What the pages answer: filters, paging, suggestions, the print view, status links, the
access log's export, changing one's own password (in-process over ASGI)."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from _web import PASSWORDS, sign_in, token_in
from openpyxl import load_workbook
from starlette.testclient import TestClient

from archive.access.log import AccessLog, LogFilter
from archive.access.store import AccessStore
from archive.core.config import Archive
from archive.records.catalog import Catalog
from web.app import create_app


@pytest.fixture(scope="module")
def reader(web_made: tuple[Path, dict[str, Any]]) -> Iterator[TestClient]:
    client = TestClient(create_app(Archive(web_made[0])), follow_redirects=False)
    assert sign_in(client, "王科长").status_code == 303
    yield client
    client.close()


def _hits(page: str) -> list[str]:
    return re.findall(r'<a class="title" href="/record/([0-9a-f]{64})"', page)


def _rows(root: Path, where: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with Catalog(Archive(root).catalog_path, readonly=True) as catalog:
        return catalog.records(where, params)


def test_filters_narrow_the_hits_to_what_the_catalog_holds(
    reader: TestClient, web_made: Any
) -> None:
    root, _ = web_made
    cases = {r["record_id"] for r in _rows(root, "dossier_kind = 'case'")}
    page = reader.get("/search", params={"kind": "case", "n": 100}).text
    assert set(_hits(page)) == cases and "共 <strong>" in page
    receipts = {r["record_id"] for r in _rows(root, "doc_type = '送达回证'")}
    page = reader.get("/search", params={"type": "送达回证", "n": 100}).text
    assert set(_hits(page)) == receipts
    both = reader.get("/search", params={"type": "送达回证", "kind": "case", "n": 100}).text
    assert set(_hits(both)) == receipts & cases
    meetings = _rows(root, "dossier_kind = 'meeting'")
    year = meetings[0]["doc_date"][:4]
    page = reader.get(
        "/search", params={"q": "会议", "year": year, "kind": "meeting", "n": 100}
    ).text
    assert set(_hits(page)) == {r["record_id"] for r in meetings if r["doc_date"][:4] == year}
    bad = reader.get("/search", params={"q": "会议", "class": "大户"})
    assert bad.status_code == 400 and "类别“大户”不对" in bad.text
    bad = reader.get("/search", params={"q": "日期:2024-13"})
    assert bad.status_code == 400 and "月份不对" in bad.text


def test_pages_of_hits(reader: TestClient) -> None:
    first = reader.get("/search", params={"q": "潼关县", "n": 20}).text
    total = int(re.search(r"共 <strong>([\d,]+)</strong> 条", first).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert total > 40
    second = reader.get("/search", params={"q": "潼关县", "n": 20, "page": 2}).text
    assert "显示第 21–40 条" in second and not set(_hits(first)) & set(_hits(second))
    assert 'href="/search?q=%E6%BD%BC%E5%85%B3%E5%8E%BF&amp;n=20&amp;page=3"' in second
    too_deep = reader.get("/search", params={"q": "潼关县", "page": 501})
    assert too_deep.status_code == 400 and "缩小检索范围" in too_deep.text


def test_the_retailer_field_suggests_by_name_or_licence_tail(
    reader: TestClient, web_made: Any
) -> None:
    _, facts = web_made
    by_tail = reader.get("/api/households", params={"q": facts["household"][-5:]}).json()
    assert [h["licence_no"] for h in by_tail] == [facts["household"]]
    by_name = reader.get("/api/households", params={"q": facts["household_name"][1:3]}).json()
    assert facts["household"] in [h["licence_no"] for h in by_name]
    assert reader.get("/api/households", params={"q": "12"}).json() == []  # too few digits
    chosen = reader.get("/search", params={"retailer": facts["household"]}).text
    assert _hits(chosen) and all(
        facts["household"] in reader.get(f"/record/{sha}").text for sha in _hits(chosen)[:3]
    )


def test_a_name_or_number_leads_to_its_dossier(reader: TestClient, web_made: Any) -> None:
    _, facts = web_made
    by_name = reader.get(f"/dossier/{facts['household_name']}")  # its licence and its cases
    assert by_name.status_code == 200
    heads = re.findall(r'<p class="kind">(.+?)</p>', by_name.text)
    assert heads[0] == "许可证档案" and facts["household"] in by_name.text
    by_number = reader.get(f"/dossier/{facts['household'][-12:]}")
    assert by_number.status_code == 200
    case = reader.get("/dossier/潼烟罚[2024]第1号")  # written as a clerk writes it
    assert case.status_code == 303 and case.headers["location"].startswith("/dossier/%E6%BD%BC")
    meeting = reader.get(case.headers["location"])
    assert meeting.status_code == 200 and "卷内目录" in meeting.text


def test_a_case_lists_the_minutes_that_discussed_it(reader: TestClient, web_made: Any) -> None:
    """The case's page lists the 案审会 minutes filed in the meeting's folder as 参见, in
    卷内 order, linked to the minutes' own page and to the meeting's dossier (as ``dangan
    show`` lists them); their file name's markup is shown as text; the print view names
    them apart (互见), not as a 件 of the case; the log says what was seen."""
    root, facts = web_made
    [minutes] = _rows(root, "dossier_key = ?", (facts["case_minutes"],))
    page = reader.get(f"/dossier/{facts['case']}")
    assert page.status_code == 200
    rows = re.findall(r"<tr(?: class=\"see-also\")?>\s*<td class=\"n\">(.+?)</td>", page.text)
    assert rows[:4] == ["1", "2", "3", "参见"]  # before the notice of the penalty, unnumbered
    see = re.search(r'<tr class="see-also">(.+?)</tr>', page.text, re.S)
    assert see is not None
    row = see.group(1)
    assert f'<a class="title" href="/record/{minutes["record_id"]}">案审会记录</a>' in row
    assert 'href="/dossier/%E6%A1%88%E5%AE%A1%E4%BC%9A/2024">会议记录 案审会/2024</a>' in row
    assert "&lt;img src=x onerror=window.__pwned=4&gt;案审会.pdf" in row
    assert "<img src=x" not in page.text
    assert "7 份文件" in page.text and "另有参见 1 份" in page.text
    opened = reader.get(f"/record/{minutes['record_id']}").text
    assert "同时列入" in opened
    assert f'href="/dossier/{quote(facts["case"])}">处罚案卷 {facts["case"]}</a>' in opened
    meeting = reader.get(f"/dossier/{facts['case_minutes']}").text
    assert minutes["record_id"] in meeting and "参见" not in meeting
    printed = reader.get(f"/print/{facts['case']}").text
    listed = printed.split('<div class="see-also">')
    assert len(listed) == 2 and "案审会记录" not in listed[0] and "合计 7 份" in listed[0]
    assert "案审会记录" in listed[1] and "存于会议记录 案审会/2024" in listed[1]
    log = AccessLog(AccessStore.of(Archive(root)))
    seen = log.query(LogFilter(user="王科长", action="view_dossier"), limit=500)
    assert any(
        e.target == facts["case"] and e.detail == "7 份文件, 参见 1 份" for e in seen.entries
    )


def test_the_print_view_is_the_catalogue_alone(reader: TestClient, web_made: Any) -> None:
    _, facts = web_made
    page = reader.get(f"/print/{facts['household']}").text
    assert "卷　内　目　录" in page and facts["household_name"] in page
    assert 'class="top"' not in page  # no menu on paper
    assert re.search(r'href="/assets/print\.[0-9a-f]{10}\.css"', page)
    assert "打印: 王科长" in page


def test_home_links_the_steps_it_has_pages_for(web_made: Any) -> None:
    root, _ = web_made
    clerk = TestClient(create_app(Archive(root)), follow_redirects=False)
    sign_in(clerk, "档案员")
    home = clerk.get("/").text
    assert re.search(r'<a href="/dossier/%E5%BE%85%E5%BD%92%E6%A1%A3">待归档 \d+ 份', home)
    assert '<a href="/quarantine">隔离区有 1 个文件' in home
    quarantine = clerk.get("/quarantine").text
    assert "重复扫描.pdf" in quarantine and "重复" in quarantine
    admin = TestClient(create_app(Archive(root)), follow_redirects=False)
    sign_in(admin, "管理员")
    home = admin.get("/").text
    assert "待归档" in home and 'href="/dossier/' not in home  # the admin sees no record links
    assert "最近归档" not in home


def test_the_auditor_exports_what_the_filter_shows(web_made: Any, tmp_path: Path) -> None:
    root = tmp_path / "档案库"
    shutil.copytree(web_made[0], root)
    app = create_app(Archive(root))
    reader, auditor = (
        TestClient(app, follow_redirects=False),
        TestClient(app, follow_redirects=False),
    )
    sign_in(reader, "王科长")
    reader.get("/search", params={"q": "鑫垚"})
    sign_in(auditor, "审计员")
    page = auditor.get("/log", params={"user": "王科长", "action": "search"}).text
    assert "登记完整" in page and "鑫垚" in page
    export = auditor.get("/log.xlsx", params={"user": "王科长", "action": "search"})
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    rows = [
        [c.value for c in r] for r in load_workbook(io.BytesIO(export.content)).active.iter_rows()
    ]
    assert rows[2][0] == "序号" and {r[4] for r in rows[3:]} == {"检索"}
    assert "鑫垚" in [r[5] for r in rows[3:]]
    logged = auditor.get("/log", params={"action": "log_export"}).text
    assert "导出利用登记" in logged and "审计员" in logged


def test_the_log_page_checks_the_whole_chain_hourly_and_new_entries_each_time(
    web_made: Any, tmp_path: Path
) -> None:
    root = tmp_path / "档案库"
    shutil.copytree(web_made[0], root)
    auditor = TestClient(create_app(Archive(root)), follow_redirects=False)
    sign_in(auditor, "审计员")
    first = auditor.get("/log", params={"user": "审计员"}).text
    assert "逐条校验一致" in first
    again = auditor.get("/log", params={"user": "审计员"}).text
    assert re.search(r"其后新增的 1 条已校验", again)  # the first page's own log_view entry
    link = re.search(r'href="(/log\?[^"]*verify=full[^"]*)">现在全部重新校验', again)
    assert link and "user=" in link.group(1)
    whole = auditor.get(link.group(1).replace("&amp;", "&")).text
    assert "逐条校验一致" in whole and "verify=full" not in whole  # not carried into paging


def test_changing_ones_own_password(web_made: Any, tmp_path: Path) -> None:
    root = tmp_path / "档案库"
    shutil.copytree(web_made[0], root)
    client = TestClient(create_app(Archive(root)), follow_redirects=False)
    sign_in(client, "王科长")
    token = token_in(client.get("/account/password").text)
    wrong = client.post(
        "/account/password",
        data={"old": "nope", "new": "brand-new-1", "again": "brand-new-1", "csrf_token": token},
    )
    assert wrong.status_code == 400 and "原密码不对" in wrong.text
    differ = client.post(
        "/account/password",
        data={
            "old": PASSWORDS["王科长"],
            "new": "brand-new-1",
            "again": "brand-new-2",
            "csrf_token": token,
        },
    )
    assert differ.status_code == 400 and "不一致" in differ.text
    done = client.post(
        "/account/password",
        data={
            "old": PASSWORDS["王科长"],
            "new": "brand-new-1",
            "again": "brand-new-1",
            "csrf_token": token,
        },
    )
    assert done.status_code == 200 and "密码已修改" in done.text
    assert sign_in(TestClient(client.app, follow_redirects=False), "王科长").status_code == 401
    assert (
        sign_in(TestClient(client.app, follow_redirects=False), "王科长", "brand-new-1").status_code
        == 303
    )


def test_a_large_dossier_is_listed_a_page_at_a_time(
    reader: TestClient, web_made: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web import views_records

    monkeypatch.setattr(views_records, "DOSSIER_PAGE", 20)
    key = "工作材料/2024"  # the year's work materials: the standard's evidence, 60 and more
    filed = _rows(web_made[0], "dossier_key = ?", (key,))
    assert len(filed) > 40
    first = reader.get(f"/dossier/{key}").text
    numbers = [int(n) for n in re.findall(r'<tr>\s*<td class="n">(\d+)</td>', first)]
    assert numbers == list(range(1, 21))
    third = reader.get(f"/dossier/{key}", params={"page": 3}).text
    numbers = [int(n) for n in re.findall(r'<tr>\s*<td class="n">(\d+)</td>', third)]
    assert numbers[0] == 41 and numbers[-1] == min(60, len(filed))
    assert f'href="/dossier/{quote(key)}?page=2"' in third
    beyond = reader.get(f"/dossier/{key}", params={"page": 99})
    assert beyond.status_code == 404 and "没有第 99 页" in beyond.text
    printed = reader.get(f"/print/{key}").text  # on paper: all of it
    assert len(re.findall(r'<tr>\s*<td class="n">\d+</td>', printed)) == len(filed)
