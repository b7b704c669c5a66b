"""Shared fixtures: real archives in tmp_path, the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archive.paperwork.officialdoc import OfficialDocument
from samples.example_report import build_example_report

ROOT = Path(__file__).resolve().parents[1]
DANGAN = Path(sys.executable).with_name("dangan")


def run_dangan(
    *args: str | Path,
    cwd: Path | None = None,
    timeout: float = 600,
    input_text: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``dangan`` console script, capturing output (*input_text*: stdin;
    *env*: variables set besides this process's)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [str(DANGAN), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
        input=input_text,
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def make_archive(root: Path, *, ocr: bool = False, **settings: Any) -> Path:
    """``dangan init`` a fresh archive (settle 0 so freshly written files are taken); OCR
    off unless ``ocr``; ``settings``: ``dangan.toml`` keys set (e.g. ``workers=2``)."""
    result = run_dangan(
        "init",
        root,
        "--bureau",
        "潼关县烟草专卖局",
        "--area-code",
        "610522",
        "--case-prefix",
        "潼烟罚",
    )
    assert result.returncode == 0, result.stderr
    config = root / "dangan.toml"
    text = config.read_text(encoding="utf-8").replace(
        "settle_seconds = 2.0", "settle_seconds = 0.0"
    )
    for key, value in settings.items():
        import re

        text = re.sub(rf"(?m)^{key} = .*?(\s+#.*)?$", f"{key} = {value}", text)
    if not ocr:
        text = text.replace("enabled = true", "enabled = false")  # OCR off unless asked for
    config.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    return make_archive(tmp_path / "档案库")


@pytest.fixture
def dangan() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_dangan


# The example 整改情况报告, for the rendering tests (test_render*.py)
@pytest.fixture(scope="module")
def example() -> OfficialDocument:
    """The example 整改情况报告 (samples.example_report), built once per test module."""
    return build_example_report()


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("render")


@pytest.fixture
def outside(tmp_path: Path) -> Any:
    """A folder beside the archive with a canary file; every access to it is recorded."""
    from _hostile import Outside

    folder = Outside(tmp_path / "outside")
    yield folder
    folder.stop()


@pytest.fixture(scope="session")
def web_made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A small real archive with markup planted in its data and one user per role, built
    once for the web tests (tests/_web.py); tests that change it copy it first."""
    from _web import add_users, build_web_archive

    root = tmp_path_factory.mktemp("web") / "档案库"
    facts = build_web_archive(root)
    add_users(root)
    return root, facts
