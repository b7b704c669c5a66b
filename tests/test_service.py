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
