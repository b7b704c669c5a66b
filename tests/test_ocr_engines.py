"""The OCR engine choice: OpenVINO where it runs, onnxruntime elsewhere, same models, and the
[ocr] settings that choose them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archive.core.config import ArchiveConfig, parse_config, render_config
from archive.core.errors import ConfigError
from indexers.ocr_engines import EngineError, engine_info, load_rapidocr, resolve_engine
from samples.scans import generate_scans

ROOT = Path(__file__).resolve().parents[1]


def test_both_engines_carry_the_same_models_and_differ_in_identity() -> None:
    ov, ort = engine_info("openvino"), engine_info("onnxruntime")
    assert ov.models == ort.models  # PP-OCRv4 det/rec and the line classifier, byte for byte
    assert ov.reading == ort.reading
    assert ov.identity != ort.identity  # readings differ in punctuation width now and then
    assert ov.identity.startswith("openvino-") and ort.identity.startswith("onnxruntime-")
    assert engine_info("openvino") == ov  # stable


def test_auto_takes_openvino_where_it_runs() -> None:
    # the project's machines (x86-64, AVX2) run it; a machine that cannot is the next test
    assert resolve_engine("auto") == "openvino"
    assert resolve_engine("onnxruntime") == "onnxruntime"
    with pytest.raises(EngineError, match="未知的OCR引擎"):
        resolve_engine("tesseract")


_BROKEN_OPENVINO = "raise ImportError('libopenvino.so: CPU plugin needs SSE4.2')\n"

_READ_ONE = """
import json, sys
from PIL import Image
from indexers.ocr import OcrPool
from indexers.ocr_engines import EngineError, load_rapidocr, resolve_engine
out = {"auto": resolve_engine("auto")}
with OcrPool(1) as pool:
    out["pool"] = pool.info.name
    out["text"] = pool.read(Image.open(sys.argv[1])).text
try:
    load_rapidocr("openvino", 1)
except EngineError as exc:
    out["openvino"] = exc.message
print(json.dumps(out, ensure_ascii=False))
"""


@pytest.mark.slow
def test_where_openvino_does_not_run_auto_falls_back_to_onnxruntime(tmp_path: Path) -> None:
    """A machine whose OpenVINO cannot load (here: its import fails, as on a CPU without
    the instructions it needs): ``auto`` reads with onnxruntime, a pinned ``openvino``
    says clearly what to set instead."""
    broken = tmp_path / "site" / "openvino"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(_BROKEN_OPENVINO, encoding="utf-8")
    truth = generate_scans(tmp_path / "scans", seed=11, pick=[0])[0]
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{ROOT}"}
    proc = subprocess.run(
        [sys.executable, "-c", _READ_ONE, str(tmp_path / "scans" / truth.path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["auto"] == "onnxruntime" and out["pool"] == "onnxruntime"
    assert truth.keys["licence"] in "".join(out["text"].split())
    assert "OCR引擎 openvino" in out["openvino"] and "onnxruntime" in out["openvino"]


def test_ocr_settings_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "dangan.toml"
    fresh = parse_config(render_config("潼关县烟草专卖局"), path)
    assert (fresh.ocr_engine, fresh.ocr_threads, fresh.ocr_broker) == ("auto", 0, "")
    assert fresh.ocr_wait_seconds == ArchiveConfig().ocr_wait_seconds
    cfg = parse_config(
        '[ocr]\nengine = "onnxruntime"\nthreads = 2\nbroker = "redis://10.0.0.5:6379/1"\n'
        "wait_seconds = 30\n",
        path,
    )
    assert (cfg.ocr_engine, cfg.ocr_threads, cfg.ocr_broker, cfg.ocr_wait_seconds) == (
        "onnxruntime",
        2,
        "redis://10.0.0.5:6379/1",
        30.0,
    )
    bad = {
        'engine = "paddle"': "ocr.engine",
        "threads = -1": "ocr.threads",
        'broker = "http://10.0.0.5:6379"': "应以 redis:// 开头",
        'broker = "redis://:s3cret@host:6379/x"': "数据库编号",
        'broker = "redis://"': "缺少主机名",
        "wait_seconds = -5": "ocr.wait_seconds",
    }
    for line, expected in bad.items():
        with pytest.raises(ConfigError) as err:
            parse_config(f"[ocr]\n{line}\n", path)
        assert expected in err.value.message and str(path) in err.value.message
        assert "s3cret" not in err.value.message  # a password never appears in a message


@pytest.mark.slow
def test_threads_are_passed_to_the_runtime() -> None:
    ocr = load_rapidocr("openvino", 1)
    assert ocr.text_det.infer.session is not None  # compiled with one inference thread
    compiled = ocr.text_det.infer.session.get_compiled_model()
    assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 1
