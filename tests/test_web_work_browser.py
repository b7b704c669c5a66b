"""A clerk's day in a real headless Chromium against ``dangan serve``: upload a batch of scans
and a broken file (filed, and the broken one quarantined with its reason), assign a tray
document, replace an unclear scan, generate the packet and download it; ``dangan verify``
passes on the archive and on the downloaded packet; a reader is refused every action's URL;
the auditor's log shows all of it. Screenshots at 1366×768 go to ``$DANGAN_SCREENSHOTS``."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from _serve import serve
from _web import PASSWORDS
from conftest import run_dangan
from test_web_browser import _shot, _sign_in, _sign_out, browser  # noqa: F401 (a fixture)

from archive.access.log import AccessLog, LogFilter
from archive.access.store import AccessStore
from archive.core.config import Archive
from archive.records.catalog import Catalog
from samples.badfiles import bad_inputs
from samples.bench_archive import mini_pdf

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

CLERK = ("档案员", PASSWORDS["档案员"])
READER = ("王科长", PASSWORDS["王科长"])
AUDITOR = ("审计员", PASSWORDS["审计员"])


@pytest.fixture
def site(web_made: tuple[Path, dict[str, Any]], tmp_path: Path) -> Any:
    root = tmp_path / "档案库"
    shutil.copytree(web_made[0], root, symlinks=True)
    served = serve(root)
    yield {"root": root, "base": served.base, "tmp": tmp_path, **web_made[1]}
    served.stop()


def _batch(folder: Path, licence: str, name: str) -> Path:
    """A scanner's folder: two papers of one household, an unidentifiable scan, a broken PDF."""
    batch = folder / "扫描批次"
    household = batch / f"{licence}_{name}"
    household.mkdir(parents=True)
    (household / "变更申请表.pdf").write_bytes(
        mini_pdf("烟草专卖零售许可证变更申请表", [f"许可证号：{licence}", f"企业名称：{name}"])
    )
    (household / "实地核查记录.pdf").write_bytes(
        mini_pdf("实地核查记录", [f"许可证号：{licence}", "核查时间：2024-03-09"])
    )
    (batch / "扫描0001.pdf").write_bytes(mini_pdf("情况说明", ["该户已于三月停业。"]))
    (batch / "传输中断.pdf").write_bytes(bad_inputs()["传输中断.pdf"][0])
    return batch


def _wait_text(driver: Any, css: str, text: str, timeout: float = 120) -> None:
    WebDriverWait(driver, timeout).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
    )


def _fetch_status(driver: Any, url: str, data: dict[str, str]) -> int:
    status: int = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {method: 'POST', credentials: 'same-origin', redirect: 'manual',"
        " body: new URLSearchParams(arguments[1])}).then(r => done(r.status), () => done(-1));",
        url,
        data,
    )
    return status


def test_a_clerks_day_in_the_browser(site: dict[str, Any], browser: Any) -> None:  # noqa: F811
    root, base, driver = site["root"], site["base"], browser
    licence, name = site["household"], site["household_name"]
    batch = _batch(site["tmp"], licence, name)
    downloads = site["tmp"] / "下载"
    downloads.mkdir()
    access = AccessLog(AccessStore.of(Archive(root)))
    before = access.query(LogFilter(), limit=1).total  # what the copied archive's log held
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )

    # -- upload a folder of scans and a broken file
    _sign_in(driver, base, CLERK)
    driver.get(base + "/upload")
    Select(driver.find_element(By.ID, "kind")).select_by_value("许可证")
    driver.find_element(By.ID, "folder").send_keys(str(batch))
    _wait_text(driver, "#overall-text", "(完成)")
    rows = {
        r.find_element(By.CSS_SELECTOR, "td.path").text: r
        for r in driver.find_elements(By.CSS_SELECTOR, "#results tbody tr")
    }
    assert len(rows) == 4, list(rows)
    result = {
        k.rsplit("/", 1)[-1]: r.find_element(By.CSS_SELECTOR, "td.result").text
        for k, r in rows.items()
    }
    assert result == {
        "变更申请表.pdf": "已归档",
        "实地核查记录.pdf": "已归档",
        "扫描0001.pdf": "待归档",
        "传输中断.pdf": "已隔离",
    }, result
    broken = next(r for k, r in rows.items() if k.endswith("传输中断.pdf"))
    assert "PDF 文件不完整" in broken.find_element(By.CSS_SELECTOR, "td.why").text
    _shot(driver, "21-上传")
    tray_link = next(r for k, r in rows.items() if k.endswith("扫描0001.pdf"))
    tray_sha = (
        tray_link.find_element(By.CSS_SELECTOR, "td.result a")
        .get_attribute("href")
        .rsplit("/", 1)[-1]
    )
    broken.find_element(By.CSS_SELECTOR, "td.result a").click()
    _wait_text(driver, "main", "PDF不完整")
    assert "传输中断.pdf" in driver.find_element(By.TAG_NAME, "h1").text
    _shot(driver, "22-隔离文件")

    # -- assign the tray document
    driver.get(base + "/tray")
    form = driver.find_element(By.XPATH, f"//input[@name='record' and @value='{tray_sha}']/..")
    form.find_element(By.NAME, "dossier_text").send_keys(licence)
    form.find_element(By.NAME, "reason").send_keys("核对原件, 系该户的停业说明")
    _shot(driver, "23-待归档")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait_text(driver, ".notice.ok", "已归档")
    with Catalog(Archive(root).catalog_path, readonly=True) as catalog:
        row = catalog.by_sha(tray_sha)
        assert row is not None and row["dossier_key"] == licence
        unclear = catalog.records(
            "dossier_key = ? AND status = 'filed' AND record_id != ? AND original_name NOT LIKE '%变更%'",
            (licence, tray_sha),
        )[0]

    # -- replace an unclear scan with a re-scan
    rescan = site["tmp"] / "重新扫描.pdf"
    rescan.write_bytes(
        mini_pdf("烟草专卖零售许可证申请表", [f"许可证号：{licence}", "重新扫描 300dpi"])
    )
    driver.get(base + f"/record/{unclear['record_id']}")
    driver.find_element(By.LINK_TEXT, "更正").click()
    replace = driver.find_element(By.XPATH, "//input[@name='do' and @value='replace']/..")
    replace.find_element(By.NAME, "file").send_keys(str(rescan))
    replace.find_element(By.NAME, "reason").send_keys("原件模糊, 重新扫描")
    _shot(driver, "24-更正")
    replace.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait_text(driver, "table.events", "原件模糊, 重新扫描")

    # -- the audit, and the packet generated in the background and downloaded
    driver.get(base + "/audit?year=2024")
    _wait_text(driver, "main", "评分表")
    _shot(driver, "25-自查")
    driver.get(base + "/materials")
    Select(driver.find_element(By.NAME, "kind")).select_by_value("packet")
    year = driver.find_element(By.NAME, "year")
    year.clear()
    year.send_keys("2024")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit].primary").click()
    _wait_text(driver, "main", "生成中", timeout=30)
    _shot(driver, "26-材料-生成中")
    WebDriverWait(driver, 600).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".job[data-state=done] a[download]"))
    )
    _shot(driver, "27-材料")
    driver.find_element(By.CSS_SELECTOR, ".job[data-state=done] a[download]").click()
    deadline = time.monotonic() + 120
    while not [p for p in downloads.iterdir() if p.suffix == ".zip"]:
        assert time.monotonic() < deadline, list(downloads.iterdir())
        time.sleep(0.5)
    [packet] = [p for p in downloads.iterdir() if p.suffix == ".zip"]
    time.sleep(1)  # the browser renames the file when it is complete
    _sign_out(driver)

    verified = run_dangan("verify", "--archive", root)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    checked = run_dangan("verify", packet)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # -- a reader tries every action's URL directly
    _sign_in(driver, base, READER)
    sha = unclear["record_id"]
    for url in ("/upload", "/tray", f"/record/{sha}/correct", "/materials", "/audit",
                "/audit.xlsx", "/imports", "/quarantine/item?path=quarantine/x.pdf"):  # fmt: skip
        driver.get(base + url)
        assert "无权" in driver.find_element(By.TAG_NAME, "main").text, url
    driver.get(base + "/account/password")
    token = driver.find_element(By.NAME, "csrf_token").get_attribute("value")
    for url, data in (
        ("/upload/file?kind=许可证&path=a.pdf", {}),
        ("/tray", {"record": tray_sha, "dossier": licence, "reason": "r"}),
        ("/quarantine/item", {"do": "delete", "path": "quarantine/x.pdf", "reason": "r"}),
        (f"/record/{sha}/correct", {"do": "withdraw", "reason": "r"}),
        ("/materials", {"kind": "packet", "year": "2024"}),
        ("/imports", {"kind": "roster"}),
    ):
        assert _fetch_status(driver, base + url, {"csrf_token": token, **data}) == 403, url
    _sign_out(driver)

    # -- the auditor sees it all
    _sign_in(driver, base, AUDITOR)
    driver.get(base + "/log?n=100")
    text = driver.find_element(By.TAG_NAME, "main").text
    for label in ("上传归档", "待归档文件归档", "更正档案", "生成材料", "下载", "越权访问被拒绝"):
        assert label in text, label
    _shot(driver, "28-利用登记-档案员的工作")
    log = [e for e in access.query(LogFilter(), limit=1000).entries if e.seq > before]
    by_action: dict[str, set[str]] = {}
    for e in log:
        by_action.setdefault(e.action, set()).add(e.user)
    assert by_action["upload"] == {"档案员"} and by_action["assign"] == {"档案员"}
    assert by_action["correct"] == {"档案员"} and by_action["generate"] == {"档案员"}
    assert "王科长" in by_action["forbidden"]
    refused = [e for e in log if e.action == "forbidden" and e.user == "王科长"]
    assert len(refused) >= 14
    people = {CLERK[0], READER[0], AUDITOR[0]}
    assert all(e.address == "127.0.0.1" for e in log if e.user in people)
