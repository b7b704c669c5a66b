"""What a person does, in a real headless Chromium against ``dangan serve`` (uvicorn).

Debian's ``chromium`` and ``chromium-driver`` (installed by ``scripts/bootstrap.sh test``),
driven by Selenium with the system driver: nothing is downloaded. Screenshots of the main
pages at 1366×768 go to ``$DANGAN_SCREENSHOTS`` when set (``docs/screenshots`` keeps them).
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _web import HOSTILE_NAME, build_web_archive
from conftest import DANGAN, run_dangan
from pypdf import PdfReader

from archive.access.log import AccessLog, LogFilter
from archive.access.store import AccessStore
from archive.core.config import Archive
from archive.records.catalog import Catalog

pytest.importorskip("selenium")
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.print_page_options import PrintOptions
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and DRIVER.exists()),
    reason="Debian chromium and chromium-driver: bash scripts/bootstrap.sh test installs them",
)

ADMIN, READER, AUDITOR = (
    ("管理员", "admin-pass-1"),
    ("李查阅", "reader-pass-9"),
    ("审计员", "audit-pass-9"),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("browser") / "档案库"
    facts = build_web_archive(root)
    made = run_dangan(
        "users", "add", ADMIN[0], "--role", "admin", "--password-stdin", "--archive", root,
        input_text=ADMIN[1] + "\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    port = _free_port()
    log = (root.parent / "serve.log").open("w")
    proc = subprocess.Popen(
        [DANGAN, "serve", "--port", str(port), "--archive", str(root)], stdout=log, stderr=log
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None, (root.parent / "serve.log").read_text()
            assert time.monotonic() < deadline, "dangan serve did not start in 60 s"
            time.sleep(0.2)
    yield {"root": root, "base": f"http://127.0.0.1:{port}", "port": port, **facts}
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="dangan-chromium-")
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--window-size=1366,768", "--lang=zh-CN",
        f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_window_size(1366, 768)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _shots() -> Path:
    folder = Path(os.environ.get("DANGAN_SCREENSHOTS") or tempfile.mkdtemp(prefix="dangan-shots-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _shot(driver: Any, name: str) -> None:
    assert driver.get_window_size()["width"] == 1366
    driver.save_screenshot(str(_shots() / f"{name}.png"))


def _sign_in(driver: Any, base: str, who: tuple[str, str]) -> None:
    driver.delete_all_cookies()
    driver.get(base + "/login")
    driver.find_element(By.NAME, "name").send_keys(who[0])
    driver.find_element(By.NAME, "password").send_keys(who[1])
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".me .who")))
    assert who[0] in driver.find_element(By.CSS_SELECTOR, ".me .who").text


def _sign_out(driver: Any) -> None:
    driver.find_element(By.CSS_SELECTOR, ".me button").click()
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.NAME, "password")))


def _no_script_ran(driver: Any) -> None:
    assert driver.execute_script("return window.__pwned === undefined")
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018


def test_admin_reader_and_auditor_each_do_their_part(server: dict[str, Any], browser: Any) -> None:
    base, driver, wait = server["base"], browser, WebDriverWait(browser, 30)

    # -- the admin creates a reader and an auditor ---------------------------------------
    driver.get(base + "/")
    assert "/login" in driver.current_url
    _shot(driver, "01-登录")
    _sign_in(driver, base, ADMIN)
    driver.find_element(By.LINK_TEXT, "用户").click()
    for name, password, role in ((*READER, "reader"), (*AUDITOR, "auditor")):
        form = driver.find_element(By.CSS_SELECTOR, "form.add-user")
        form.find_element(By.NAME, "name").send_keys(name)
        form.find_element(By.CSS_SELECTOR, f"select[name=role] option[value={role}]").click()
        form.find_element(By.NAME, "password").send_keys(password)
        form.find_element(By.NAME, "again").send_keys(password)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".notice"), name))
    table = driver.find_element(By.CSS_SELECTOR, "table.users").text
    assert READER[0] in table and "查阅" in table and AUDITOR[0] in table and "安全审计员" in table
    _shot(driver, "07-用户")
    driver.get(base + "/search?q=店")
    assert "无权检索档案" in driver.page_source  # 三员分立: the admin does not read records
    driver.get(base + "/")
    _sign_out(driver)

    # -- the reader finds a retailer by part of its name, reads, prints -------------------
    _sign_in(driver, base, READER)
    _shot(driver, "02-首页")
    driver.find_element(By.LINK_TEXT, "检索").click()
    name = server["household_name"]
    retailer = driver.find_element(By.NAME, "retailer")
    retailer.send_keys(name[1:3])  # part of the name, as a person remembers it
    wait.until(
        lambda d: any(
            server["household"] == o.get_attribute("value")
            for o in d.find_elements(By.CSS_SELECTOR, "#household-hints option")
        )
    )
    retailer.clear()
    box = driver.find_element(By.NAME, "q")
    box.send_keys(name[1:3])
    box.submit()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".hit")))
    marks = [m.text for m in driver.find_elements(By.CSS_SELECTOR, ".hit mark")]
    assert name[1:3] in marks
    _shot(driver, "03-检索")
    driver.find_element(
        By.CSS_SELECTOR, f".hit-foot a[href='/dossier/{server['household']}']"
    ).click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.catalogue")))
    assert name in driver.find_element(By.CSS_SELECTOR, "h1").text
    rows = driver.find_elements(By.CSS_SELECTOR, "table.catalogue tbody tr")
    assert len(rows) >= 6
    wait.until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('td.thumb img')].every(i => i.complete && i.naturalWidth > 0)"
    ))  # fmt: skip
    _shot(driver, "04-档案")
    rows[0].find_element(By.CSS_SELECTOR, "td.thumb a").click()
    page = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".page-view img")))
    wait.until(lambda d: d.execute_script("return arguments[0].naturalWidth", page) > 500)
    _shot(driver, "05-页面")
    driver.find_element(By.CSS_SELECTOR, ".crumbs a").click()
    driver.find_element(By.LINK_TEXT, "打印卷内目录").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.list")))
    assert "卷　内　目　录" in driver.page_source
    options = PrintOptions()
    options.page_width, options.page_height = 21.0, 29.7
    pdf = base64.b64decode(driver.print_page(options))
    printed = _shots() / "06-卷内目录打印.pdf"
    printed.write_bytes(pdf)
    reader = PdfReader(printed)
    box_pt = reader.pages[0].mediabox
    assert abs(float(box_pt.width) - 595) < 3 and abs(float(box_pt.height) - 842) < 3  # A4
    text = unicodedata.normalize("NFKC", reader.pages[0].extract_text())  # ⾏ (U+2F8F) → 行
    assert "卷" in text and name in text and "打印" not in text.split("卷")[0]  # toolbar hidden
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-r", "60", "-png", "-singlefile", str(printed), str(printed.with_suffix(""))],
            check=True,
        )  # fmt: skip
    # markup in data stays text in a real browser
    driver.get(f"{base}/dossier/{server['hostile_licence']}")
    assert HOSTILE_NAME in driver.find_element(By.CSS_SELECTOR, "h1").text
    _no_script_ran(driver)
    driver.get(f"{base}/search?q=鑫垚")
    _no_script_ran(driver)
    # a case lists the minutes that discussed it (参见), linked to their own page
    driver.get(f"{base}/dossier/{server['case']}")
    see = driver.find_element(By.CSS_SELECTOR, "table.catalogue tr.see-also")
    assert see.find_element(By.CSS_SELECTOR, "td.n").text == "参见"
    assert "案审会记录" in see.text and "存于 会议记录 案审会/2024" in see.text
    _no_script_ran(driver)  # the minutes' file name holds markup
    wait.until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('td.thumb img')].every(i => i.complete && i.naturalWidth > 0)"
    ))  # fmt: skip
    driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", see)
    _shot(driver, "12-案卷与参见")
    see.find_element(By.CSS_SELECTOR, "a.title").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.facts-table")))
    facts = driver.find_element(By.CSS_SELECTOR, "table.facts-table").text
    assert "同时列入" in facts and server["case"] in facts and "会议记录/案审会/2024" in facts
    driver.find_element(By.LINK_TEXT, f"处罚案卷 {server['case']}").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "tr.see-also")))
    # what a reader may not reach
    for path, refusal in (("/log", "无权查看利用登记"), ("/users", "无权查看用户")):
        driver.get(base + path)
        assert "403" in driver.find_element(By.CSS_SELECTOR, ".code").text
        assert refusal in driver.page_source
    _shot(driver, "09-无权访问")
    driver.get(base + "/")
    _sign_out(driver)

    # -- the auditor sees each of those actions in the log --------------------------------
    _sign_in(driver, base, AUDITOR)
    driver.find_element(By.LINK_TEXT, "利用登记").click()
    driver.find_element(By.CSS_SELECTOR, f"select[name=user] option[value='{READER[0]}']").click()
    unfiltered = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "form.log-filters button[type=submit]").click()
    wait.until(ec.staleness_of(unfiltered))  # the filtered page, not the table still showing
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.log tbody tr")))
    seen = driver.find_element(By.CSS_SELECTOR, "table.log").text
    for label in ("登录", "检索", "查阅档案", "查阅页面", "打印卷内目录", "越权访问被拒绝", "退出"):
        assert label in seen, label
    assert server["household"] in seen and server["case"] in seen
    assert "登记完整" in driver.page_source
    _shot(driver, "08-利用登记")
    driver.get(base + "/search?q=店")
    assert "无权检索档案" in driver.page_source
    entries = AccessLog(AccessStore.of(Archive(server["root"]))).query(LogFilter(user=READER[0]))
    actions = {e.action for e in entries.entries}
    assert {
        "login",
        "search",
        "view_dossier",
        "view_page",
        "print",
        "forbidden",
        "logout",
    } <= actions
    assert all(e.address == "127.0.0.1" for e in entries.entries)


def test_what_left_a_dossier_is_shown_apart_while_the_server_runs(
    server: dict[str, Any], browser: Any
) -> None:
    """A clerk withdraws one document and destroys another with the CLI while the server
    runs; the next page a reader opens shows them apart, a destroyed one without its bytes."""
    base, driver, wait = server["base"], browser, WebDriverWait(browser, 30)
    root = server["root"]
    with Catalog(Archive(root).catalog_path, readonly=True) as catalog:
        keys = sorted(
            {r["dossier_key"] for r in catalog.records("dossier_kind = 'household'")}
            - {server["household"], server["hostile_licence"]}
        )
        rows = catalog.records("dossier_key = ?", (keys[0],))
    gone, destroyed = rows[0], rows[1]
    for args in (
        ("withdraw", f"records/{gone['path']}", "--reason", "重复扫描"),
        ("destroy", f"records/{destroyed['path']}", "--reason", "鉴定小组意见",
         "--approver", "李局长", "--as-of", "2090-01-01"),
    ):  # fmt: skip
        done = run_dangan(*args, "--by", "档案员", "--archive", root)
        assert done.returncode == 0, done.stderr
    made = run_dangan(
        "users", "add", "赵查阅", "--role", "reader", "--password-stdin", "--archive", root,
        input_text="reader-pass-7\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    _sign_in(driver, base, ("赵查阅", "reader-pass-7"))
    driver.get(f"{base}/dossier/{keys[0]}")
    headings = [h.text for h in driver.find_elements(By.CSS_SELECTOR, ".dossier h2")]
    assert headings == ["卷内目录", "已撤出的文件", "已销毁的文件"]
    tables = driver.find_elements(By.CSS_SELECTOR, "table.catalogue")
    assert gone["archival_code"] in tables[1].text and destroyed["archival_code"] in tables[2].text
    assert gone["archival_code"] not in tables[0].text
    assert not tables[2].find_elements(By.CSS_SELECTOR, "td.thumb img")
    wait.until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('td.thumb img')].every(i => i.complete && i.naturalWidth > 0)"
    ))  # fmt: skip
    driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    _shot(driver, "10-撤出与销毁")
    tables[2].find_element(By.CSS_SELECTOR, "a.title").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.facts-table")))
    facts = driver.find_element(By.CSS_SELECTOR, "table.facts-table").text
    assert "已销毁" in facts and destroyed["archival_code"] in facts
    assert not driver.find_elements(By.LINK_TEXT, "打开原件")
    assert "李局长" in driver.find_element(By.CSS_SELECTOR, "table.events").text
    _shot(driver, "11-已销毁文件")
    driver.get(f"{base}/record/{destroyed['record_id']}/original")
    assert "已按保管期限销毁" in driver.page_source
    driver.get(base + "/")
    _sign_out(driver)


def test_the_server_refuses_raw_traversal_on_the_wire(server: dict[str, Any]) -> None:
    """Paths sent exactly as written (a browser would tidy them first)."""
    for raw in (
        "/assets/../../dangan.toml",
        "/assets/..%2f..%2fdangan.toml",
        "/record/../../../etc/passwd",
    ):
        with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as s:
            s.sendall(
                f"GET {raw} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
            )
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        status = answer.split(b"\r\n", 1)[0]
        assert b" 404 " in status or b" 400 " in status, (raw, status)
        assert b"bureau" not in answer and b"root:" not in answer
