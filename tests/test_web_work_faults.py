"""Faults with the real server (``dangan serve``, uvicorn): an upload cut off mid-stream leaves
nothing half-filed; a server killed during a job shows the job failed, with its reason, once
it is started again."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from _serve import page_token, serve, signed_in
from _web import PASSWORDS

from archive.access.log import AccessLog, LogFilter
from archive.access.store import AccessStore
from archive.core.config import Archive
from archive.records.catalog import Catalog
from samples.bench_archive import mini_pdf


@pytest.fixture
def site(web_made: tuple[Path, dict[str, Any]], tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "档案库"
    shutil.copytree(web_made[0], root, symlinks=True)
    yield root


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_an_upload_cut_off_mid_stream_leaves_nothing_half_filed(site: Path) -> None:
    archive = Archive(site)
    with Catalog(archive.catalog_path, readonly=True) as catalog:
        before = catalog.snapshot()
    on_disk = _files(site / "records") | _files(site / "quarantine") | _files(site / "inbox")
    served = serve(site)
    try:
        clerk = signed_in(served.base, "档案员", PASSWORDS["档案员"])
        token = page_token(clerk, "/upload", "data-token")
        body = mini_pdf("烟草专卖零售许可证申请表", ["许可证号：610522000001"]) * 20
        cookie = "; ".join(f"{k}={v}" for k, v in clerk.cookies.items())
        path = quote("许可证/半截.pdf")
        head = (
            f"POST /upload/file?kind={quote('许可证')}&path={path} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF-Token: {token}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as s:
            s.sendall(head.encode() + body[: len(body) // 2])
            time.sleep(0.5)  # the server has the first half on disk, waiting for the rest
            staged = list((archive.state / "uploads").glob("upload-*.part"))
            assert staged, "the upload was not being streamed to a staging file"
        deadline = time.monotonic() + 30  # the connection is gone: the server notices
        while list((archive.state / "uploads").glob("upload-*.part")):
            assert time.monotonic() < deadline, "the half upload was left behind"
            time.sleep(0.2)
        log = AccessLog(AccessStore.of(archive)).query(LogFilter(action="upload_refused"))
        assert any("上传中断" in e.detail and e.user == "档案员" for e in log.entries)
        # and the server still files a whole one
        whole = clerk.post(
            "/upload/file",
            params={"kind": "其他", "path": "整份.pdf"},
            content=mini_pdf("工作计划", ["2024年工作计划"]),
            headers={"X-CSRF-Token": token},
        )
        assert whole.status_code == 200 and whole.json()["outcome"] in ("filed", "unfiled")
    finally:
        served.stop()
    after = _files(site / "records") | _files(site / "quarantine") | _files(site / "inbox")
    added = after - on_disk
    assert all("整份" in p or "工作计划" in p for p in added), added
    assert not any("半截" in p for p in after)
    with Catalog(archive.catalog_path, readonly=True) as catalog:
        assert catalog.snapshot() != before  # only the whole one was filed
        assert not catalog.records("original_name LIKE '%半截%'")


def test_a_job_killed_with_the_server_is_shown_failed_after_a_restart(site: Path) -> None:
    served = serve(site)
    try:
        clerk = signed_in(served.base, "档案员", PASSWORDS["档案员"])
        token = page_token(clerk, "/materials")
        started = clerk.post(
            "/materials", data={"csrf_token": token, "kind": "packet", "year": "2024"}
        )
        assert started.status_code == 303
        page = clerk.get("/materials").text
        assert 'data-state="running"' in page and 'http-equiv="refresh"' in page
        db = sqlite3.connect(Archive(site).state / "jobs.sqlite")
        [(state,)] = db.execute("SELECT state FROM jobs").fetchall()
        db.close()
        assert state == "running"
        os.kill(served.proc.pid, signal.SIGKILL)  # the machine lost power, the service was killed
        served.proc.wait(timeout=30)
    finally:
        served.stop()
    again = serve(site)
    try:
        clerk = signed_in(again.base, "档案员", PASSWORDS["档案员"])
        page = clerk.get("/materials").text
        assert 'data-state="failed"' in page and 'data-state="running"' not in page
        assert "生成时服务器停止了" in page and "请重新开始" in page
        token = page_token(clerk, "/materials")
        restarted = clerk.post(
            "/materials", data={"csrf_token": token, "kind": "summary", "year": "2024"}
        )
        assert restarted.status_code == 303  # not blocked by the dead job
    finally:
        again.stop()
