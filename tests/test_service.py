"""``dangan service unit``: a systemd unit whose command really runs the watcher."""

from __future__ import annotations

import getpass
import json
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import make_archive, run_dangan

from samples.badfiles import _jpeg


def _exec_start(unit: str) -> list[str]:
    line = next(ln for ln in unit.splitlines() if ln.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))


def _status(archive: Path) -> dict[str, object]:
    result = run_dangan("status", "--json", "--archive", archive)
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_the_units_command_watches_an_archive_with_an_awkward_path(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "县局 档案%1")
    out = tmp_path / "units"
    result = run_dangan("service", "unit", "--out", out, "--archive", archive)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert (
        path.parent == out and path.name.startswith("dangan-watch-") and path.suffix == ".service"
    )
    unit = path.read_text(encoding="utf-8")
    assert "WantedBy=default.target" in unit and "Restart=on-failure" in unit
    assert f"WorkingDirectory={str(archive.resolve()).replace('%', '%%')}" in unit
    argv = _exec_start(unit)
    assert argv[1:] == ["watch", "--archive", str(archive.resolve())]

    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while _status(archive)["watcher"] is None:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the unit's command never started watching"
            time.sleep(0.3)
        (archive / "inbox" / "其他" / "照片.jpg").write_bytes(_jpeg((600, 800)))
        while _status(archive)["records"] != 1:
            assert time.monotonic() < deadline + 60, "the unit's watcher filed nothing"
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)  # what systemctl stop sends
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "已停止监视" in err


def test_system_unit_runs_as_the_given_account_and_systemd_accepts_it(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "档案库")
    result = run_dangan(
        "service", "unit", "--user", getpass.getuser(), "--poll", "5", "--archive", archive
    )
    assert result.returncode == 0, result.stderr
    unit = result.stdout
    assert f"User={getpass.getuser()}" in unit and "WantedBy=multi-user.target" in unit
    assert _exec_start(unit)[-2:] == ["--poll", "5"]
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    path = tmp_path / "dangan-watch-test.service"
    path.write_text(unit, encoding="utf-8")
    check = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    # and it does reject a unit whose command does not exist
    path.write_text(unit.replace(_exec_start(unit)[0], "/nonexistent/dangan"), encoding="utf-8")
    check = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True)
    assert check.returncode != 0


def test_poll_must_be_positive(archive_dir: Path) -> None:
    result = run_dangan("service", "unit", "--poll", "0", "--archive", archive_dir)
    assert result.returncode == 2 and "--poll" in result.stderr


def test_the_web_units_command_serves_the_archive_beside_the_watcher(tmp_path: Path) -> None:
    import socket
    import urllib.request

    archive = make_archive(tmp_path / "县局 档案")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_dangan(
        "service", "unit", "--web", "--host", "127.0.0.1", "--port", str(port), "--archive", archive
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "dangan-web-" in result.stderr and "NoNewPrivileges=yes" in result.stdout
    argv = _exec_start(result.stdout)
    assert argv[1:] == ["serve", "--archive", str(archive.resolve()), "--host", "127.0.0.1",
                        "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as page:
                    assert page.status == 200 and "登录" in page.read().decode("utf-8")
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "the web unit's command never served"
                time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)  # what systemctl stop sends
        _, err = proc.communicate(timeout=60)
    # uvicorn finishes the requests in hand, then exits by the signal it got: systemd counts
    # an exit by SIGTERM as a clean stop
    assert proc.returncode in (0, -signal.SIGTERM) and "Application shutdown complete" in err, err
    assert "dangan users add" in err  # no users yet: it says how to make the first admin
    both = run_dangan("service", "unit", "--web", "--poll", "5", "--archive", archive)
    assert both.returncode == 2 and "--poll 只用于监视服务" in both.stderr
