"""The command line as a whole: every command reachable, each loading only what it needs."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import click

import cli
from cli.main import COMMAND_MODULES
from cli.main import cli as dangan_group


def test_every_command_of_every_module_is_registered() -> None:
    defined: dict[str, str] = {}
    for info in pkgutil.iter_modules(cli.__path__):
        module = importlib.import_module(f"cli.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            defined[str(command.name)] = module.__name__
    assert defined == COMMAND_MODULES
    ctx = click.Context(dangan_group)
    for name in COMMAND_MODULES:
        assert dangan_group.get_command(ctx, name) is not None, name
    assert dangan_group.get_command(ctx, "nonsense") is None


def test_quick_commands_do_not_load_the_heavy_libraries() -> None:
    """`dangan status`, `search` and `show` start without pypdf, weasyprint or OCR."""
    probe = (
        "import sys, click\n"
        "from cli.main import cli\n"
        "ctx = click.Context(cli)\n"
        "for name in ('status', 'search', 'show'):\n"
        "    cli.get_command(ctx, name)\n"
        "heavy = [m for m in ('pypdf', 'weasyprint', 'docx', 'rapidocr_onnxruntime',"
        " 'rapidocr_openvino', 'openvino', 'celery', 'cv2') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_unknown_command_is_a_usage_error() -> None:
    from conftest import run_dangan

    result = run_dangan("nonsense")
    assert result.returncode == 2 and "nonsense" in result.stderr
