"""An archive on disk: its folders, its dangan.toml, and the writer lock."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from archive.core.errors import ArchiveNotFound, ConfigError, LockedError

CONFIG_NAME = "dangan.toml"
# The bureau's scoring standard beside it (archive.assess.audit_inputs imports it there).
CRITERIA_FILE = "评分标准.yaml"

# Dossier kinds an inbox folder can feed.
DOSSIER_KINDS = ("household", "case", "meeting", "other")

DEFAULT_KINDS: dict[str, str] = {
    "许可证": "household",
    "案卷": "case",
    "会议记录": "meeting",
    "其他": "other",
}

DEFAULT_MEETING_TYPES = (
    "党员大会",
    "支部委员会",
    "支委会",
    "党课",
    "专销联动会议",
    "打假协作会",
    "联席会议",
    "听证会",
    "创建工作例会",
    "党组会",
    "局务会",
)

_TEMPLATE = """\
# dangan 档案 — archive settings. Edit with any text editor (UTF-8).

[bureau]
name = "{bureau}"
# County area codes (first digits of every licence number issued here).
area_codes = [{area_codes}]

[inbox]
# Folder under inbox/ → what it holds: household (许可证档案), case (处罚案卷),
# meeting (会议记录) or other (anything; filed by content, else the unresolved tray).
kinds = {{ "许可证" = "household", "案卷" = "case", "会议记录" = "meeting", "其他" = "other" }}
max_file_mb = 200           # larger files are quarantined
max_pixels = 200000000      # images (and PDF pages drawn at 300 dpi) larger are quarantined
max_pages = 1000            # documents with more pages (or TIFF frames) are quarantined
max_document_pixels = 1000000000  # all pages of one image file together (about 115 A4 pages at 300 dpi)
settle_seconds = 2.0        # a file is ready when size and mtime are unchanged this long
rescan_seconds = 60         # the watcher's periodic full rescan

[keys]
# Case-number prefixes used by this bureau (others are still found by a generic rule).
case_prefixes = [{case_prefixes}]
meeting_types = [{meeting_types}]

[ocr]
enabled = true
workers = 0                 # 0: one per CPU core
engine = "auto"             # auto (OpenVINO where it runs, else onnxruntime) | openvino | onnxruntime
threads = 0                 # inference threads per worker; 0: the cores shared out among the workers
# Read on other machines through a queue: broker = "redis://HOST:6379/0", and on each
# reading machine: dangan ocr-worker --broker redis://HOST:6379/0
broker = ""
wait_seconds = 600          # with a broker: how long pages wait for a worker before files stay in the inbox

[archives]
# 档号 (DA/T 22-2015 / DA/T 13): 全宗号-门类代码·年度-保管期限-机构(问题)代码-件号.
fonds = "{fonds}"               # 全宗号: the code the archives bureau gave this bureau ("" until given)
category = "WS"             # 门类代码: WS = 文书
# 机构(问题) of each kind of dossier: code in the 档号, name on the 归档章 and in catalogues.
org_codes = {{ household = "XK", case = "AJ", meeting = "HY", materials = "ZH" }}
org_names = {{ household = "许可证", case = "案件", meeting = "会议", materials = "综合" }}
"""


# 机构(问题) of each dossier kind: the code in the 档号 and the name on the 归档章.
DEFAULT_ORG_CODES = {"household": "XK", "case": "AJ", "meeting": "HY", "materials": "ZH"}
DEFAULT_ORG_NAMES = {"household": "许可证", "case": "案件", "meeting": "会议", "materials": "综合"}
_CODE = re.compile(r"^[A-Za-z0-9]{0,12}$")


def _quote_list(items: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f'"{item}"' for item in items)


@dataclass(frozen=True)
class ArchiveConfig:
    """The parsed dangan.toml."""

    bureau: str = "示例县烟草专卖局"
    area_codes: tuple[str, ...] = ()
    kinds: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_KINDS))
    max_file_bytes: int = 200 * 1024 * 1024
    max_pixels: int = 200_000_000
    max_pages: int = 1000
    max_document_pixels: int = 1_000_000_000
    settle_seconds: float = 2.0
    rescan_seconds: float = 60.0
    case_prefixes: tuple[str, ...] = ()
    meeting_types: tuple[str, ...] = DEFAULT_MEETING_TYPES
    ocr_enabled: bool = True
    ocr_workers: int = 0
    ocr_engine: str = "auto"
    ocr_threads: int = 0
    ocr_broker: str = ""
    ocr_wait_seconds: float = 600.0
    fonds: str = ""
    category: str = "WS"
    org_codes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ORG_CODES))
    org_names: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ORG_NAMES))


def render_config(
    bureau: str,
    area_codes: tuple[str, ...] = (),
    case_prefixes: tuple[str, ...] = (),
    fonds: str = "",
) -> str:
    """The text of a fresh dangan.toml."""
    return _TEMPLATE.format(
        bureau=bureau,
        area_codes=_quote_list(area_codes),
        case_prefixes=_quote_list(case_prefixes),
        meeting_types=_quote_list(DEFAULT_MEETING_TYPES),
        fonds=fonds,
    )


def _expect(table: dict[str, object], key: str, kind: type, path: Path) -> object:
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{path}: {key} 应为 {kind.__name__}, 实为 {value!r}; 请修改该文件")
    return value


def parse_config(text: str, path: Path) -> ArchiveConfig:
    """Parse dangan.toml text; every mistake is reported with the file and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: 不是有效的 TOML ({exc}); 请修改该文件") from exc
    bureau = data.get("bureau", {})
    inbox = data.get("inbox", {})
    keys = data.get("keys", {})
    ocr = data.get("ocr", {})
    cfg = ArchiveConfig()
    values: dict[str, object] = {}
    if "name" in bureau:
        values["bureau"] = _expect(bureau, "name", str, path)
    if "area_codes" in bureau:
        codes = _expect(bureau, "area_codes", list, path)
        values["area_codes"] = tuple(str(c) for c in codes)  # type: ignore[attr-defined]
    if "kinds" in inbox:
        kinds = _expect(inbox, "kinds", dict, path)
        for name, kind in kinds.items():  # type: ignore[attr-defined]
            if kind not in DOSSIER_KINDS:
                raise ConfigError(
                    f"{path}: inbox.kinds.{name} = {kind!r}, 应为 {'/'.join(DOSSIER_KINDS)} 之一"
                )
        values["kinds"] = dict(kinds)  # type: ignore[call-overload]
    for key, attr, scale in (
        ("max_file_mb", "max_file_bytes", 1024 * 1024),
        ("max_pixels", "max_pixels", 1),
        ("max_pages", "max_pages", 1),
        ("max_document_pixels", "max_document_pixels", 1),
    ):
        if key in inbox:
            values[attr] = int(_expect(inbox, key, int, path)) * scale  # type: ignore[call-overload]
    for key in ("settle_seconds", "rescan_seconds"):
        if key in inbox:
            raw = inbox[key]
            if not isinstance(raw, int | float) or isinstance(raw, bool) or raw < 0:
                raise ConfigError(f"{path}: inbox.{key} 应为非负数, 实为 {raw!r}")
            values[key] = float(raw)
    if "case_prefixes" in keys:
        values["case_prefixes"] = tuple(_expect(keys, "case_prefixes", list, path))  # type: ignore[arg-type]
    if "meeting_types" in keys:
        values["meeting_types"] = tuple(_expect(keys, "meeting_types", list, path))  # type: ignore[arg-type]
    if "enabled" in ocr:
        values["ocr_enabled"] = bool(_expect(ocr, "enabled", bool, path))
    if "workers" in ocr:
        values["ocr_workers"] = int(_expect(ocr, "workers", int, path))  # type: ignore[call-overload]
    values.update(_ocr_settings(ocr, path))
    values.update(_archives_section(data.get("archives", {}), path))
    return ArchiveConfig(**{**cfg.__dict__, **values})


OCR_ENGINES = ("auto", "openvino", "onnxruntime")


def _ocr_settings(ocr: dict[str, object], path: Path) -> dict[str, object]:
    """The [ocr] engine, threads, broker and wait_seconds, each checked."""
    values: dict[str, object] = {}
    if "engine" in ocr:
        engine = _expect(ocr, "engine", str, path)
        if engine not in OCR_ENGINES:
            raise ConfigError(
                f"{path}: ocr.engine = {engine!r}, 应为 {'/'.join(OCR_ENGINES)} 之一; 请修改该文件"
            )
        values["ocr_engine"] = engine
    if "threads" in ocr:
        threads = int(_expect(ocr, "threads", int, path))  # type: ignore[call-overload]
        if threads < 0:
            raise ConfigError(f"{path}: ocr.threads 应为非负整数, 实为 {threads}; 请修改该文件")
        values["ocr_threads"] = threads
    if "broker" in ocr:
        broker = str(_expect(ocr, "broker", str, path)).strip()
        if broker:
            problem = broker_problem(broker)
            if problem:
                raise ConfigError(f"{path}: ocr.broker {problem}; 请修改该文件")
        values["ocr_broker"] = broker
    if "wait_seconds" in ocr:
        raw = ocr["wait_seconds"]
        if not isinstance(raw, int | float) or isinstance(raw, bool) or raw < 0:
            raise ConfigError(f"{path}: ocr.wait_seconds 应为非负数, 实为 {raw!r}")
        values["ocr_wait_seconds"] = float(raw)
    return values


def masked_url(url: str) -> str:
    """A broker URL with its password replaced by ``***`` (for messages and logs)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<无法解析的地址>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def broker_problem(url: str) -> str | None:
    """What is wrong with a Redis broker URL (``redis://[:PASSWORD@]HOST[:PORT][/DB]``,
    ``rediss://`` with TLS), or None when it is well formed."""
    from urllib.parse import urlsplit

    shown = masked_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"{shown} 不是有效的地址 ({exc})"
    if parts.scheme not in ("redis", "rediss"):
        return f"{shown} 应以 redis:// 开头 (例如 redis://192.168.1.10:6379/0)"
    if not parts.hostname:
        return f"{shown} 缺少主机名 (例如 redis://192.168.1.10:6379/0)"
    db = parts.path.strip("/")
    if db and not (db.isdigit() and int(db) < 16):
        return f"{shown} 的数据库编号应为 0-15 的整数, 实为 {db!r}"
    if port == 0:
        return f"{shown} 的端口不能为 0"
    if parts.query or parts.fragment:
        return f"{shown} 不应带 ? 或 # 参数"
    return None


def _archives_section(table: dict[str, object], path: Path) -> dict[str, object]:
    """The [archives] settings: 全宗号, 门类代码, 机构(问题) codes and names per dossier kind."""
    values: dict[str, object] = {}
    for key in ("fonds", "category"):
        if key in table:
            value = str(_expect(table, key, str, path)).strip()
            if not _CODE.match(value) or (key == "category" and not value):
                raise ConfigError(
                    f"{path}: archives.{key} = {value!r}, 应为不超过12位的字母或数字 (如 J001, WS)"
                )
            values[key] = value
    for key, defaults in (("org_codes", DEFAULT_ORG_CODES), ("org_names", DEFAULT_ORG_NAMES)):
        if key not in table:
            continue
        given = _expect(table, key, dict, path)
        merged = dict(defaults)
        for kind, value in given.items():  # type: ignore[attr-defined]
            if kind not in defaults or not isinstance(value, str) or not value.strip():
                raise ConfigError(
                    f"{path}: archives.{key}.{kind} = {value!r}; "
                    f"应为 {'/'.join(defaults)} 之一对应的非空文字"
                )
            if key == "org_codes" and not _CODE.match(value.strip()):
                raise ConfigError(f"{path}: archives.org_codes.{kind} = {value!r}, 应为字母或数字")
            merged[kind] = value.strip()
        values[key] = merged
    return values


def try_lock(fd: int) -> bool:
    """Take an exclusive flock on ``fd`` without waiting; False when another process holds it.

    The kernel drops the lock when its holder exits, however it exits: no stale locks.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


class Archive:
    """The folders of one archive and its configuration."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.config_path = self.root / CONFIG_NAME
        if not self.config_path.is_file():
            raise ArchiveNotFound(
                f"{self.root}: 不是档案库 (缺少 {CONFIG_NAME}); 先运行 dangan init"
            )
        self.config = parse_config(self.config_path.read_text(encoding="utf-8"), self.config_path)

    inbox = property(lambda self: self.root / "inbox")
    records = property(lambda self: self.root / "records")
    quarantine = property(lambda self: self.root / "quarantine")
    state = property(lambda self: self.root / ".dangan")
    journal = property(lambda self: self.root / ".dangan" / "journal")
    catalog_path = property(lambda self: self.root / ".dangan" / "catalog.sqlite")
    index_dir = property(lambda self: self.root / ".dangan" / "index")
    roster_path = property(lambda self: self.root / "roster.csv")

    def ensure_layout(self) -> None:
        for folder in (self.inbox, self.records, self.quarantine, self.journal):
            folder.mkdir(parents=True, exist_ok=True)
        for name in self.config.kinds:
            (self.inbox / name).mkdir(exist_ok=True)

    def kind_of(self, inbox_folder: str) -> str:
        """The dossier kind fed by an inbox folder ("other" for unknown folders)."""
        return self.config.kinds.get(inbox_folder, "other")

    def check_layout(self) -> None:
        """Refuse to run when records would be watched as inbox (or the reverse)."""
        inbox, records = self.inbox.resolve(), self.records.resolve()
        if records == inbox or inbox in records.parents or records in inbox.parents:
            raise ConfigError(
                f"records ({records}) 与 inbox ({inbox}) 相互包含; 监视会把已归档文件再次收入, "
                "请把两者分开"
            )

    @contextlib.contextmanager
    def writer_idle(self) -> Iterator[bool]:
        """Whether no process is writing, held true for the ``with`` block: the writer lock
        taken without waiting (and without naming this process in it), False when another
        holds it. A reader that must tell a crash's leftovers from work in flight uses it."""
        lock_path = self.state / "writer.lock"
        if not lock_path.exists():
            yield True
            return
        fd = os.open(lock_path, os.O_RDONLY)  # flock needs no write access
        try:
            yield try_lock(fd)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def writer_lock(self, wait_seconds: float = 30.0, purpose: str = "") -> Iterator[None]:
        """Hold the archive's single-writer lock; wait a while, then fail clearly. *purpose*
        (e.g. ``dangan watch 归档``) is what another writer is told it waits for."""
        self.state.mkdir(parents=True, exist_ok=True)
        lock_path = self.state / "writer.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_seconds
        try:
            while not try_lock(fd):
                if time.monotonic() >= deadline:
                    holder = lock_path.read_text(encoding="utf-8", errors="replace").strip()
                    raise LockedError(
                        f"{self.root}: 另一个 dangan 进程正在写入 ({holder or '未知进程'}); "
                        "请等待其结束后重试"
                    )
                time.sleep(0.1)
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} {purpose}".strip().encode())
            yield
        finally:
            os.close(fd)


def init_archive(
    root: Path,
    bureau: str,
    area_codes: tuple[str, ...] = (),
    case_prefixes: tuple[str, ...] = (),
    fonds: str = "",
) -> Archive:
    """Create an archive (idempotent on folders; never overwrites an existing dangan.toml)."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / CONFIG_NAME
    if not config.exists():
        text = render_config(bureau, area_codes, case_prefixes, fonds)
        parse_config(text, config)  # a bad --fonds is refused before anything is written
        config.write_text(text, encoding="utf-8")
    archive = Archive(root)
    archive.ensure_layout()
    return archive


def set_area_codes(archive: Archive, codes: tuple[str, ...]) -> None:
    """Write ``codes`` into the archive's dangan.toml (its ``area_codes`` line; the rest of
    the file, comments included, stays as the clerk left it) and reload the configuration."""
    text = archive.config_path.read_text(encoding="utf-8")
    line = f"area_codes = [{_quote_list(codes)}]"
    new, count = re.subn(r"(?m)^area_codes\s*=\s*\[[^\]]*\]", line, text, count=1)
    if count == 0:
        raise ConfigError(
            f"{archive.config_path}: 没有 area_codes 一行; 请在 [bureau] 下写上 {line}"
        )
    parse_config(new, archive.config_path)  # never write a file that does not parse
    tmp = archive.config_path.with_name(f".{CONFIG_NAME}.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, archive.config_path)
    archive.config = parse_config(new, archive.config_path)


def find_archive(start: Path) -> Archive:
    """The archive containing ``start`` (it or its nearest parent holding dangan.toml)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return Archive(folder)
    raise ArchiveNotFound(
        f"{start}: 不在任何档案库中 (未找到 {CONFIG_NAME}); 用 --archive 指定, 或先运行 dangan init"
    )
