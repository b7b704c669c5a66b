"""四性检测 of an acceptance packet (a BagIt bag, folder or .zip): its manifests, its counts
and every payload file opened, with the same item numbers as the archive's check."""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from pathlib import Path

from archive.check.archive_check import scan_for_viruses
from archive.check.content import LONG_TERM, probe
from archive.check.items import CheckReport
from archive.core.clock import Clock, local_now
from archive.core.errors import UsageError
from archive.packet.bag_verify import verify_bag, zip_bomb

_MAX_UNZIP = 8 << 30  # a packet larger than this is checked by its manifests only


def _payload(root: Path) -> list[Path]:
    """The payload's regular files. Links (to files or folders), pipes and devices are never
    followed nor opened: a packet is checked by what it holds (``verify_bag`` lists them)."""
    data = root / "data"
    found: list[Path] = []
    for folder, _dirs, files in os.walk(data):  # a linked folder is not walked into
        for name in files:
            path = Path(folder, name)
            try:
                if stat.S_ISREG(path.lstat().st_mode):
                    found.append(path)
            except OSError:
                continue
    return sorted(found)


def check_packet(
    path: Path, *, clock: Clock = local_now, clamav_database: Path | None = None
) -> CheckReport:
    """Check the packet at ``path`` (see module doc). Only reads it."""
    report = CheckReport("验收包", str(path), clock().isoformat())
    bag = verify_bag(path)
    fixity, contents = report.item("GD-1-1"), report.item("GD-2-11")
    fixity.checked = contents.checked = bag.payload_files
    for rel in bag.changed:
        fixity.fail(rel, "校验值与清单不符: 内容已被改动")
    for rel in bag.missing:
        contents.fail(rel, "清单中有, 包中没有")
    for rel in bag.unexpected:
        contents.fail(rel, "包中有, 清单中没有")
    readable, size = report.item("GD-3-1"), report.item("GD-2-2")
    readable.checked = size.checked = 1
    for error in bag.errors:
        (size if "Payload-Oxum" in error else readable).fail("bag", error)
    with tempfile.TemporaryDirectory(prefix="dangan-check-") as tmp:
        root = path
        if path.is_file():
            if not zipfile.is_zipfile(path):
                raise UsageError(f"{path}: 不是验收包 (应为文件夹或 .zip)")
            with zipfile.ZipFile(path) as zf:
                total = sum(i.file_size for i in zf.infolist())
                if total > _MAX_UNZIP:
                    report.item("GD-3-4").not_done = "包过大, 未逐个打开文件"
                    return report
                for info in zf.infolist():  # names are checked: nothing lands outside tmp
                    target = (Path(tmp) / info.filename).resolve()
                    if not target.is_relative_to(Path(tmp).resolve()):
                        raise UsageError(f"{path}: 包中的路径 {info.filename!r} 指向包外, 拒绝解开")
                for info in zf.infolist():
                    bomb = zip_bomb(info, info.filename)
                    if bomb is not None:  # never inflated: reported, the rest is checked
                        report.item("GD-3-4").fail(info.filename, bomb)
                    elif (
                        stat.S_IFMT(info.external_attr >> 16) in (0, stat.S_IFREG) or info.is_dir()
                    ):
                        zf.extract(info, tmp)
            tops = [p for p in Path(tmp).iterdir() if p.is_dir()]
            root = tops[0] if len(tops) == 1 else Path(tmp)
        files = _payload(root)
        evidence = [p for p in files if len(p.relative_to(root / "data").parts) >= 3]
        counts = report.item("GD-2-1")
        counts.checked = len(evidence)
        declared = bag.info.get("Evidence-Documents")
        if declared is not None and declared.isdigit() and int(declared) != len(evidence):
            counts.fail("bag-info.txt", f"登记佐证材料 {declared} 件, 包中实有 {len(evidence)} 件")
        for file in files:
            rel = file.relative_to(root).as_posix()
            for code in ("GD-3-3", "GD-3-4", "GD-3-8"):
                report.item(code).checked += 1
            found = probe(file)
            if found.mime not in LONG_TERM and found.mime is not None:
                ours = file.suffix.lower() in (".docx", ".xlsx") and file.parent.name == "data"
                if not ours:  # the companion 自评表/缺项清单 are working documents
                    report.item("GD-3-3").fail(rel, f"{found.mime} 不是长期保存格式")
            if found.encrypted:
                report.item("GD-3-8").fail(rel, "PDF 设有打开密码 (加密)")
            elif found.mime is None:
                report.item("GD-3-8").fail(rel, "无法识别的文件格式")
            elif not found.readable:
                report.item("GD-3-4").fail(rel, found.error)
        scan_for_viruses(files, report, clamav_database)
    return report
