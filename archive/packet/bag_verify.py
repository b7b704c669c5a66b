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
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from archive.core.errors import NotFoundError
from archive.packet.bagit_writer import MultiHasher

_CHUNK = 1 << 20
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
    """Files of a bag, by slash-separated NFC path relative to the bag root."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names  # normalised path -> real name

    def open(self, rel: str) -> BinaryIO:  # pragma: no cover - overridden
        raise NotImplementedError

    def read(self, rel: str) -> bytes:
        with self.open(rel) as fh:
            return fh.read()


class _DirTree(_Tree):
    def __init__(self, root: Path) -> None:
        names: dict[str, str] = {}
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                full = Path(dirpath, f)
                rel = full.relative_to(root).as_posix()
                names[unicodedata.normalize("NFC", rel)] = rel
        super().__init__(names)
        self.root = root

    def open(self, rel: str) -> BinaryIO:
        return open(self.root / self.names[rel], "rb")


class _ZipTree(_Tree):
    def __init__(self, zf: zipfile.ZipFile) -> None:
        files = [i.filename for i in zf.infolist() if not i.is_dir()]
        prefix = ""
        if "bagit.txt" not in files:
            tops = {f.split("/", 1)[0] for f in files if "/" in f}
            if len(tops) == 1:
                prefix = tops.pop() + "/"
        names = {
            unicodedata.normalize("NFC", f[len(prefix) :]): f for f in files if f.startswith(prefix)
        }
        super().__init__(names)
        self.zf = zf

    def open(self, rel: str) -> BinaryIO:
        return self.zf.open(self.names[rel])  # type: ignore[return-value]


def _decode_path(raw: str) -> str:
    return unicodedata.normalize(
        "NFC", raw.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
    )


def _parse_manifest(tree: _Tree, name: str, encoding: str, report: VerifyReport) -> dict[str, str]:
    entries: dict[str, str] = {}
    try:
        text = tree.read(name).decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        report.errors.append(f"{name} 无法按 {encoding} 解码: {exc}")
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
    if "bagit.txt" not in tree.names:
        report.errors.append("缺少 bagit.txt (这不是一个 BagIt 包)")
    else:
        decl = _parse_info(tree.read("bagit.txt").decode("utf-8-sig", "replace"))
        if "BagIt-Version" not in decl:
            report.errors.append("bagit.txt 缺少 BagIt-Version")
        encoding = decl.get("Tag-File-Character-Encoding", "UTF-8")
    if "bag-info.txt" in tree.names:
        report.info = _parse_info(tree.read("bag-info.txt").decode(encoding, "replace"))

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
    if "fetch.txt" in tree.names and tree.read("fetch.txt").strip():
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
    report.missing += sorted(listed - on_disk)
    report.unexpected += sorted(on_disk - listed)
    for path in sorted(listed & on_disk):
        algs = [a for a, e in manifests.items() if path in e]
        got = _hash(tree, path, algs)
        if any(manifests[a][path] != got[a] for a in algs):
            report.changed.append(path)
    report.payload_files = len(on_disk)

    oxum = report.info.get("Payload-Oxum")
    if oxum:
        size = sum(_size(tree, p) for p in on_disk)
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


def _size(tree: _Tree, rel: str) -> int:
    if isinstance(tree, _ZipTree):
        return tree.zf.getinfo(tree.names[rel]).file_size
    assert isinstance(tree, _DirTree)
    return (tree.root / tree.names[rel]).stat().st_size


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
