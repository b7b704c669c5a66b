"""Which rapidocr engine reads the pages, and what exactly it is.

Two wheels carry the same PP-OCRv4 models (byte for byte) behind the same ``RapidOCR`` API:
``rapidocr-openvino`` (Intel's OpenVINO runtime; 1.6-2.7x faster on this project's 2-core
machines, see docs/benchmarks.md) and ``rapidocr-onnxruntime``. ``[ocr] engine = "auto"``
takes OpenVINO where it runs and onnxruntime elsewhere. Whether OpenVINO runs is found out
once per process, in a short child process (import, compile the small line classifier, run
it once), so that the process asking never loads a runtime itself: a Celery worker's parent
must not hold runtime threads when it forks its readers.

:class:`EngineInfo` names an engine down to its model files and dangan's own reading code:
pages read by different identities may differ, and one archive never mixes them (the OCR
queue routes pages by it and a worker refuses pages meant for another).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.core.errors import ArchiveError

ENGINES = ("openvino", "onnxruntime")
CHOICES = ("auto", *ENGINES)
_PACKAGES = {"openvino": "rapidocr_openvino", "onnxruntime": "rapidocr_onnxruntime"}
_RUNTIMES = {"openvino": "openvino", "onnxruntime": "onnxruntime"}
_PINS = {"openvino": "rapidocr-openvino==1.4.4", "onnxruntime": "rapidocr-onnxruntime==1.4.4"}
_MODELS = (
    "ch_PP-OCRv4_det_infer.onnx",
    "ch_ppocr_mobile_v2.0_cls_infer.onnx",
    "ch_PP-OCRv4_rec_infer.onnx",
)
# The modules whose code turns an engine's output into dangan's reading (orientation, padding,
# seals lifted off before reading and their ring text)
_READING_CODE = tuple(Path(__file__).with_name(name) for name in ("ocr.py", "seals.py"))

_PROBE = """
import numpy as np
from pathlib import Path
from openvino.runtime import Core
import importlib.util
spec = importlib.util.find_spec("rapidocr_openvino")
model = Path(spec.submodule_search_locations[0]) / "models" / "ch_ppocr_mobile_v2.0_cls_infer.onnx"
core = Core()
request = core.compile_model(core.read_model(str(model)), "CPU").create_infer_request()
request.infer([np.zeros((1, 3, 48, 192), np.float32)])
print("ok")
"""


class EngineError(ArchiveError):
    """The OCR engine asked for cannot be loaded on this machine."""


@dataclass(frozen=True)
class EngineInfo:
    """An engine's identity: two readings with equal identities are equal page for page."""

    name: str  # "openvino" | "onnxruntime"
    package: str  # e.g. "rapidocr-openvino 1.4.4"
    runtime: str  # e.g. "openvino 2024.0.0"
    models: str  # sha256 of the three model files, 12 hex digits
    reading: str  # sha256 of dangan's reading code, 12 hex digits

    @property
    def identity(self) -> str:
        """One string for the whole identity, safe in a queue name."""
        digest = hashlib.sha256(
            f"{self.name}|{self.package}|{self.runtime}|{self.models}|{self.reading}".encode()
        ).hexdigest()[:12]
        return f"{self.name}-{digest}"

    def describe(self) -> str:
        """For a person: ``openvino (rapidocr-openvino 1.4.4, openvino 2024.0.0, 模型 ab12…)``."""
        return (
            f"{self.name} ({self.package}, {self.runtime}, 模型 {self.models}, "
            f"识别代码 {self.reading})"
        )

    def as_dict(self) -> dict[str, str]:
        return {**self.__dict__, "identity": self.identity}


def _package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(_PACKAGES[name])
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


@functools.cache
def _digest_files(paths: tuple[Path, ...]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def engine_info(name: str) -> EngineInfo:
    """The identity of engine ``name`` as installed here, without loading it."""
    if name not in ENGINES:
        raise EngineError(f"未知的OCR引擎 {name!r}; 可选: {', '.join(CHOICES)}")
    folder = _package_dir(name)
    if folder is None:
        raise EngineError(f"未安装OCR引擎 {name}: 请运行 pip install {_PINS[name]}")
    models = tuple(folder / "models" / m for m in _MODELS)
    missing = [m.name for m in models if not m.is_file()]
    if missing:
        raise EngineError(
            f"OCR引擎 {name} 缺少模型文件 {', '.join(missing)}; 请重新安装 {_PINS[name]}"
        )
    package = _PACKAGES[name].replace("_", "-")
    return EngineInfo(
        name=name,
        package=f"{package} {_version(package)}",
        runtime=f"{_RUNTIMES[name]} {_version(_RUNTIMES[name])}",
        models=_digest_files(models),
        reading=_digest_files(_READING_CODE),
    )


@functools.cache
def openvino_runs() -> bool:
    """Whether OpenVINO loads and runs a model on this machine's CPU (checked once, in a
    child process, within two minutes)."""
    if _package_dir("openvino") is None:
        return False
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and proc.stdout.strip().endswith("ok")


def resolve_engine(choice: str) -> str:
    """``auto`` → ``openvino`` where it runs, else ``onnxruntime``; a named engine as is."""
    if choice == "auto":
        return "openvino" if openvino_runs() else "onnxruntime"
    if choice not in ENGINES:
        raise EngineError(f"未知的OCR引擎 {choice!r}; 可选: {', '.join(CHOICES)}")
    return choice


def load_rapidocr(name: str, threads: int | None) -> Any:
    """A loaded ``RapidOCR`` of engine ``name`` (about 1 GB; 1-3 s), ``threads`` inference
    threads per model (None: the runtime's default, every core)."""
    kwargs: dict[str, Any] = {"print_verbose": False}
    try:
        if name == "openvino":
            from rapidocr_openvino import RapidOCR

            if threads:
                kwargs["inference_num_threads"] = threads
        elif name == "onnxruntime":
            from rapidocr_onnxruntime import RapidOCR

            if threads:
                kwargs["intra_op_num_threads"] = threads
                kwargs["inter_op_num_threads"] = 1
        else:
            raise EngineError(f"未知的OCR引擎 {name!r}; 可选: {', '.join(CHOICES)}")
    except ImportError as exc:
        if _package_dir(name) is None:
            raise EngineError(f"未安装OCR引擎 {name}: 请运行 pip install {_PINS[name]}") from exc
        raise EngineError(_cannot_load(name, exc)) from exc
    try:
        return RapidOCR(**kwargs)
    except Exception as exc:
        raise EngineError(_cannot_load(name, exc)) from exc


def _cannot_load(name: str, exc: BaseException) -> str:
    hint = (
        ' 请在 dangan.toml 中设 [ocr] engine = "auto" (自动改用 onnxruntime) 或 "onnxruntime"'
        if name == "openvino"
        else f" 请重新安装 {_PINS[name]}"
    )
    return f"OCR引擎 {name} 无法在本机加载 ({type(exc).__name__}: {exc});{hint}"
