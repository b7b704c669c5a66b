"""Check a BagIt bag (RFC 8493): ours, or one returned from elsewhere, folder or .zip.

Every problem is collected and reported at once: payload files whose bytes changed,
files a manifest lists that are gone, files in ``data/`` no manifest lists, and
structural errors (no ``bagit.txt``, unknown algorithm, bad manifest line, wrong
``Payload-Oxum``, tag files that changed). Each file is read once, whatever the number
of manifests. Nothing in the bag is modified.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from archive.core.bounded import MAX_RATIO, RATIO_FLOOR
from archive.core.errors import NotFoundError
from archive.core.paths import describe_mode, open_regular
from archive.packet.bagit_writer import MultiHasher

_CHUNK = 1 << 20
MAX_MANIFEST_BYTES = 16 * 1024 * 1024  # about 100,000 files; dangan's packets list thousands
MAX_TAG_BYTES = 1024 * 1024  # bagit.txt, bag-info.txt, fetch.txt
_MANIFEST = re.compile(r"^(tag)?manifest-([A-Za-z0-9]+)\.txt$")
_LINE = re.compile(r"^(\S+)\s+(.+)$")


@dataclass
class VerifyReport:
    """The outcome of checking one bag; ``ok`` only when every list is empty."""

    path: Path
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    algorithms: list[str] = field(default_factory=list)
    payload_files: int = 0
    info: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.unexpected or self.errors)

    def lines(self) -> list[str]:
        """Clerk-readable lines, one per problem (Chinese), for the CLI to print."""
        out = [f"内容被改动: {p}" for p in self.changed]
        out += [f"文件缺失: {p}" for p in self.missing]
        out += [f"多出文件 (清单中没有): {p}" for p in self.unexpected]
        out += [f"结构错误: {e}" for e in self.errors]
        return out


class _Tree:
    """Files of a bag, by slash-separated NFC path relative to the bag root.

    Only regular files are ``names``; links (to files or folders, dangling or not), pipes
    and devices are ``odd`` (never followed, never opened: the bag is checked by what it
    holds itself); two names equal once NFC-normalised are ``clashes``."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names  # normalised path -> real name
        self.odd: dict[str, str] = {}  # normalised path -> what it is instead of a file
        self.clashes: list[tuple[str, str]] = []
        self.notes: list[str] = []  # what a zip tool changed (names, added folders)

    def open(self, rel: str) -> BinaryIO:  # pragma: no cover - overridden
        raise NotImplementedError

    def size(self, rel: str) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def read(self, rel: str, limit: int) -> bytes:
        """The file's bytes; :class:`_TooLarge` when it holds more than ``limit``."""
        if self.size(rel) > limit:
            raise _TooLarge(self.size(rel))
        with self.open(rel) as fh:
            return fh.read(limit + 1)

    def add(self, key: str, real: str, odd: str | None = None) -> None:
        if key in self.names or key in self.odd:
            self.clashes.append((self.names.get(key, key), real))
            return
        if odd is None:
            self.names[key] = real
        else:
            self.odd[key] = odd


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _DirTree(_Tree):
    def __init__(self, root: Path) -> None:
        super().__init__({})
        self.root = root
        errors: list[OSError] = []
        for dirpath, dirs, files in os.walk(root, onerror=errors.append):
            for name in [*dirs, *files]:
                full = Path(dirpath, name)
                rel = full.relative_to(root).as_posix()
                mode = full.lstat().st_mode
                if stat.S_ISDIR(mode):
                    continue
                odd = None if stat.S_ISREG(mode) else describe_mode(mode)
                if stat.S_ISLNK(mode):
                    odd = f"{odd}, 指向 {os.readlink(full)}"
                self.add(unicodedata.normalize("NFC", rel), rel, odd)
        for exc in errors:
            self.notes.append(f"无法读取文件夹 {exc.filename} ({exc.strerror})")

    def open(self, rel: str) -> BinaryIO:
        return open_regular(self.root / self.names[rel])

    def size(self, rel: str) -> int:
        return (self.root / self.names[rel]).lstat().st_size


_ZIP_UTF8 = 0x800  # general purpose flag: the name is UTF-8
_ZIP_LITTER = ("__MACOSX/", ".DS_Store", "Thumbs.db")


def _zip_name(info: zipfile.ZipInfo) -> tuple[str, bool]:
    """The entry's name as its maker meant it, and whether it had to be recovered: a zip
    tool that does not mark names as UTF-8 leaves Python to read them as CP437; Chinese
    Windows tools wrote GBK, others UTF-8 without the flag."""
    name = info.filename
    if info.flag_bits & _ZIP_UTF8 or name.isascii():
        return name, False
    raw = name.encode("cp437", errors="replace")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding), True
        except UnicodeDecodeError:
            continue
    return name, False


class _ZipTree(_Tree):
    def __init__(self, zf: zipfile.ZipFile) -> None:
        super().__init__({})
        self.zf = zf
        entries: list[tuple[str, zipfile.ZipInfo]] = []
        recovered = litter = 0
        for info in zf.infolist():
            name, changed = _zip_name(info)
            recovered += changed
            if name.startswith(_ZIP_LITTER[0]) or name.rsplit("/", 1)[-1] in _ZIP_LITTER[1:]:
                litter += 1
                continue
            if not info.is_dir():
                entries.append((name, info))
        prefix = ""
        if "bagit.txt" not in {name for name, _ in entries}:
            tops = {name.split("/", 1)[0] for name, _ in entries if "/" in name}
            if len(tops) == 1:
                prefix = tops.pop() + "/"
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for name, info in entries:
            if not name.startswith(prefix):
                continue
            key = unicodedata.normalize("NFC", name[len(prefix) :])
            mode = info.external_attr >> 16
            odd = describe_mode(mode) if stat.S_IFMT(mode) not in (0, stat.S_IFREG) else None
            self.add(key, name, odd)
            self.infos[key] = info
        if recovered:
            self.notes.append(
                f"{recovered} 个文件名未标记为 UTF-8, 是压缩工具改变了文件名的编码 "
                "(已还原后校验); 请用 dangan bundle --zip 重新打包, 或用支持 UTF-8 文件名的工具压缩"
            )
        if litter:
            self.notes.append(f"压缩工具加入了 {litter} 个系统文件 (__MACOSX/、.DS_Store), 已忽略")

    def open(self, rel: str) -> BinaryIO:
        return self.zf.open(self.infos[rel])  # type: ignore[return-value]

    def size(self, rel: str) -> int:
        return self.infos[rel].file_size


def _decode_path(raw: str) -> str:
    return unicodedata.normalize(
        "NFC", raw.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
    )


def _tag_text(tree: _Tree, name: str, encoding: str, report: VerifyReport) -> str | None:
    """A tag file's text within its budget (a manifest: :data:`MAX_MANIFEST_BYTES`)."""
    limit = MAX_MANIFEST_BYTES if _MANIFEST.match(name) else MAX_TAG_BYTES
    try:
        return tree.read(name, limit).decode(encoding)
    except _TooLarge as big:
        report.errors.append(
            f"{name} 有 {big.size // 1048576} MB, 超过上限 {limit // 1048576} MB, 未读取 "
            "(疑为异常文件; 本系统生成的清单远小于此)"
        )
    except (UnicodeDecodeError, LookupError) as exc:
        report.errors.append(f"{name} 无法按 {encoding} 解码: {exc}")
    return None


def _parse_manifest(tree: _Tree, name: str, encoding: str, report: VerifyReport) -> dict[str, str]:
    entries: dict[str, str] = {}
    text = _tag_text(tree, name, encoding, report)
    if text is None:
        return entries
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line.strip())
        if m is None:
            report.errors.append(f"{name} 第{n}行格式不对: {line!r}")
            continue
        digest, path = m.group(1).lower(), _decode_path(m.group(2))
        if path.startswith("./"):
            path = path[2:]
        if path.startswith("/") or ".." in path.split("/"):
            report.errors.append(f"{name} 第{n}行路径越出包外: {path}")
            continue
        if path in entries:
            report.errors.append(f"{name} 第{n}行重复列出: {path}")
        entries[path] = digest
    return entries


def _parse_info(text: str) -> dict[str, str]:
    info: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and last:
            info[last] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            last = key.strip()
            info[last] = value.strip()
    return info


def _hash(tree: _Tree, rel: str, algorithms: list[str]) -> dict[str, str]:
    hasher = MultiHasher(algorithms)
    with tree.open(rel) as fh:
        while chunk := fh.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigests()


def _check(tree: _Tree, report: VerifyReport) -> None:
    encoding = "utf-8"
    report.errors += tree.notes
    for first, second in tree.clashes:
        report.errors.append(
            f"两个文件名只差 Unicode 规范化形式 (看起来相同, 实为两个文件): {first!r} 与 {second!r}"
        )
    for rel, what in sorted(tree.odd.items()):
        report.errors.append(f"{rel}: {what}, 不是普通文件; 未读取 (包内只应有文件本身)")
    if "bagit.txt" not in tree.names:
        report.errors.append("缺少 bagit.txt (这不是一个 BagIt 包)")
    else:
        decl = _parse_info(_tag_text(tree, "bagit.txt", "utf-8-sig", report) or "")
        if "BagIt-Version" not in decl:
            report.errors.append("bagit.txt 缺少 BagIt-Version")
        encoding = decl.get("Tag-File-Character-Encoding", "UTF-8")
    if "bag-info.txt" in tree.names:
        report.info = _parse_info(_tag_text(tree, "bag-info.txt", encoding, report) or "")

    manifests: dict[str, dict[str, str]] = {}
    tagmanifests: dict[str, dict[str, str]] = {}
    for name in sorted(n for n in tree.names if "/" not in n):
        m = _MANIFEST.match(name)
        if m is None:
            continue
        alg = m.group(2).lower()
        if alg not in hashlib.algorithms_available:
            report.errors.append(f"{name}: 不认识的校验算法 {alg}")
            continue
        (tagmanifests if m.group(1) else manifests)[alg] = _parse_manifest(
            tree, name, encoding, report
        )
    if not manifests:
        report.errors.append("没有任何 manifest-<算法>.txt 清单")
    if "fetch.txt" in tree.names and (_tag_text(tree, "fetch.txt", encoding, report) or "").strip():
        report.errors.append("fetch.txt 列有待下载的文件: 不支持, 请先取回全部文件再校验")
    report.algorithms = sorted(manifests)

    on_disk = {n for n in tree.names if n.startswith("data/")}
    listed: set[str] = set().union(*manifests.values()) if manifests else set()
    for path in sorted(listed):
        if not path.startswith("data/"):
            report.errors.append(f"清单列出了 data/ 以外的文件: {path}")
    for alg, entries in sorted(manifests.items()):
        for path in sorted(listed - set(entries)):
            report.errors.append(f"manifest-{alg}.txt 漏列 {path}")
    report.missing += sorted(listed - on_disk - set(tree.odd))
    report.unexpected += sorted(on_disk - listed)
    for path in sorted(listed & on_disk):
        algs = [a for a, e in manifests.items() if path in e]
        bomb = _bomb(tree, path)
        if bomb:
            report.errors.append(bomb)
            continue
        got = _hash(tree, path, algs)
        if any(manifests[a][path] != got[a] for a in algs):
            report.changed.append(path)
    report.payload_files = len(on_disk)

    oxum = report.info.get("Payload-Oxum")
    if oxum:
        size = sum(tree.size(p) for p in on_disk)
        if oxum != f"{size}.{len(on_disk)}":
            report.errors.append(
                f"bag-info.txt 的 Payload-Oxum 为 {oxum}, 实际为 {size}.{len(on_disk)}"
            )

    for alg, entries in sorted(tagmanifests.items()):
        for path, digest in sorted(entries.items()):
            if path not in tree.names:
                if path not in report.missing:
                    report.missing.append(path)
            elif _hash(tree, path, [alg])[alg] != digest and path not in report.changed:
                report.changed.append(path)


def _bomb(tree: _Tree, rel: str) -> str | None:
    """Why a zipped payload file is not inflated (a compression bomb), or None."""
    if not isinstance(tree, _ZipTree):
        return None
    return zip_bomb(tree.infos[rel], rel)


def zip_bomb(info: zipfile.ZipInfo, rel: str) -> str | None:
    """Why this zip entry is not inflated (it would grow past the ratio budget), or None."""
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
        return (
            f"{rel}: 解压后 {info.file_size // 1048576} MB, 是压缩后的 {ratio:.0f} 倍, "
            "疑为压缩炸弹; 未解压校验"
        )
    return None


def verify_bag(path: Path) -> VerifyReport:
    """Check the bag at ``path`` (a folder or a .zip holding one) and report every problem.

    Raises :class:`NotFoundError` only when nothing is there; every problem inside the
    bag is returned in the report.
    """
    report = VerifyReport(path=path)
    if path.is_dir():
        _check(_DirTree(path), report)
    elif path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            _check(_ZipTree(zf), report)
    elif path.exists():
        report.errors.append(f"{path} 既不是文件夹也不是 zip 包")
    else:
        raise NotFoundError(f"找不到验收包: {path}；请检查路径 (文件夹或 .zip)")
    return report
