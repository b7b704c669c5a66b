"""The acceptance-evidence packet (验收材料): bundle orchestration.

A :class:`BundlePlan` says, area by area and criterion by criterion in the standard's
order, which records evidence what. :func:`build_bundle` turns it into a BagIt bag::

    <out>/
      bagit.txt  bag-info.txt  manifest-sha256.txt  manifest-sha512.txt  tagmanifest-*.txt
      data/
        验收材料.pdf                      cover, catalogue, self-assessment table, evidence
        自评表.docx  缺项清单.xlsx  …      extra files handed in by the audit
        01 证件管理/
          3.1 许可证档案一户一档/
            01 申请表.pdf                 copies of the records, names a clerk can read

The records are only read. The bag is built in a hidden sibling folder, fsynced, and
renamed into place, so an interrupted build never leaves a half bag under the final
name. With ``pin_date`` the whole bag (manifests and PDF) is byte-identical between
two builds of the same archive.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import threading
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from archive.core.errors import Problem, UsageError, ValidationError
from archive.packet.bagit_writer import BagWriter
from archive.packet.model import BundlePlan, EvidenceDoc
from archive.packet.packet_pdf import PacketSummary, write_packet_pdf

PACKET_NAME = "验收材料.pdf"
_CN_TZ = datetime.timezone(datetime.timedelta(hours=8))
_BAD_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
_STORED = {".pdf", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".zip", ".docx", ".xlsx"}


class TargetExistsError(UsageError):
    """The bundle's target folder or zip already exists and --force was not given."""


@dataclass(frozen=True)
class BundleLayout:
    """Where each document and extra file goes inside ``data/``."""

    documents: list[tuple[EvidenceDoc, str]]
    extras: list[tuple[Path, str]]


def safe_name(text: str, limit: int = 60) -> str:
    """A file or folder name valid on Windows and Linux, readable, at most ``limit`` chars."""
    # '%' becomes '％': RFC 8493 percent-encodes it in manifests, but bagit.py 1.9 does
    # not decode it, so a bag with '%' in a name would fail the LoC validator.
    name = _BAD_CHARS.sub("_", " ".join(text.split())).replace("%", "％")
    name = name.strip(" .") or "_"
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 5:
            name = stem[: limit - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:limit].rstrip(" .")
    return name


def plan_layout(plan: BundlePlan) -> BundleLayout:
    """Folder and file names inside ``data/``; names are unique, order follows the standard."""
    docs: list[tuple[EvidenceDoc, str]] = []
    taken: set[str] = {PACKET_NAME.casefold()}
    for a, area in enumerate(plan.areas, 1):
        area_dir = safe_name(f"{a:02d} {area.name}", 24)
        for crit in area.criteria:
            crit_dir = safe_name(f"{crit.code} {crit.title}", 40)
            for d, doc in enumerate(crit.documents, 1):
                base = doc.name or doc.label or doc.source.stem
                suffix = doc.source.suffix.lower()
                if suffix and not base.lower().endswith(suffix):
                    base += suffix
                fname = safe_name(f"{d:02d} {base}")
                rel = f"{area_dir}/{crit_dir}/{fname}"
                n = 2
                while rel.casefold() in taken:
                    stem, dot, ext = fname.rpartition(".")
                    alt = f"{stem}({n}).{ext}" if dot else f"{fname}({n})"
                    rel = f"{area_dir}/{crit_dir}/{alt}"
                    n += 1
                taken.add(rel.casefold())
                docs.append((doc, rel))
    extras: list[tuple[Path, str]] = []
    for path, name in plan.extra_files:
        extras.append((path, safe_name(name)))
    return BundleLayout(docs, extras)


def _validate(plan: BundlePlan, layout: BundleLayout) -> None:
    problems: list[Problem] = []
    for doc, _rel in layout.documents:
        if not doc.source.is_file():
            problems.append(Problem(None, str(doc.source), "存在的记录文件", "文件不存在"))
        if doc.pdf is not None and not doc.pdf.is_file():
            problems.append(Problem(None, str(doc.pdf), "存在的PDF版本", "文件不存在"))
    seen: set[str] = {PACKET_NAME.casefold()}
    seen |= {rel.split("/", 1)[0].casefold() for _d, rel in layout.documents}
    for path, name in layout.extras:
        if not path.is_file():
            problems.append(Problem(None, str(path), "存在的附加文件", "文件不存在"))
        if name.casefold() in seen:
            problems.append(Problem(None, name, "data/ 下不重名的文件名", "与其他文件重名"))
        seen.add(name.casefold())
    if not plan.bureau.strip():
        problems.append(Problem(None, "bureau", "局名", plan.bureau))
    if problems:
        raise ValidationError("验收材料计划 (请补齐或更正以下文件后重试)", problems)


def _bag_info(plan: BundlePlan, summary: PacketSummary, docs: int) -> list[tuple[str, str]]:
    return [
        ("Source-Organization", plan.bureau),
        ("External-Identifier", f"{plan.bureau}{plan.year}年度考核验收材料"),
        ("External-Description", f"创建优秀县级烟草专卖局 {plan.year} 年度考核验收佐证材料"),
        ("Assessment-Year", str(plan.year)),
        ("Packet-Date", plan.date.isoformat()),
        ("Evidence-Documents", str(docs)),
        ("Packet-Pages", str(summary.pages)),
    ]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _clean_stale(parent: Path, name: str) -> None:
    """Remove half builds left by a killed dangan (their process is gone). POSIX only."""
    if os.name == "nt" or not parent.is_dir():
        return
    for entry in parent.iterdir():
        m = re.fullmatch(
            rf"\.{re.escape(name)}(?:\.zip)?\.building-(\d+)-[0-9a-f]{{8}}", entry.name
        )
        if m is None or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            _remove(entry)
        except (PermissionError, OverflowError):
            continue


def _zip_bag(bag: Path, dest: Path, top: str, when: datetime.date) -> None:
    stamp = (max(when.year, 1980), when.month, when.day, 0, 0, 0)
    files = sorted(p for p in bag.rglob("*") if p.is_file())
    with open(dest, "xb") as raw:
        with zipfile.ZipFile(raw, "w", allowZip64=True) as zf:
            for path in files:
                rel = path.relative_to(bag).as_posix()
                info = zipfile.ZipInfo(f"{top}/{rel}", date_time=stamp)
                stored = path.suffix.lower() in _STORED
                info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                info.flag_bits |= 0x800  # names in UTF-8
                with open(path, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        raw.flush()
        os.fsync(raw.fileno())


def build_bundle(
    plan: BundlePlan,
    out: Path,
    *,
    zip_output: bool = False,
    pin_date: datetime.date | None = None,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
) -> Path:
    """Build the acceptance-evidence bag at ``out`` (or ``out`` + ``.zip``); return its path.

    ``progress(done, total)`` counts steps: each document copied, each document merged
    into the PDF, each extra file. Raises :class:`ValidationError` naming every missing
    or unreadable file (all of them, at once), :class:`TargetExistsError` when the
    target exists and ``force`` is false. Any failure removes the partial build; the
    target is only ever a complete bag (or the previous one, untouched).
    """
    out = Path(out)
    target = out.with_name(out.name + ".zip") if zip_output else out
    if target.exists() and not force:
        raise TargetExistsError(
            f"目标已存在: {target}；请换一个输出位置，或加 --force 覆盖旧的验收包"
        )
    layout = plan_layout(plan)
    _validate(plan, layout)

    today = pin_date or datetime.date.today()
    if pin_date is not None:
        created = datetime.datetime.combine(pin_date, datetime.time(0, 0), _CN_TZ)
    else:
        created = datetime.datetime.now(_CN_TZ).replace(microsecond=0)
    total = 2 * len(layout.documents) + len(layout.extras)
    copied = merged = 0

    def report() -> None:
        if progress is not None:
            progress(copied + merged, total)

    def tick() -> None:
        nonlocal merged
        merged += 1
        if copier is not None and copier.done() and (failed := copier.exception()) is not None:
            raise failed  # a record could not be copied: stop merging, report it now
        report()

    def copy_records(bag: BagWriter, stop: threading.Event) -> None:
        nonlocal copied
        for doc, rel in layout.documents:
            if stop.is_set():
                return
            bag.add_file(doc.source, rel)
            copied += 1

    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(target.parent, out.name)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    work = target.parent / f".{out.name}.building-{tag}"
    work_zip = target.parent / f".{out.name}.zip.building-{tag}"
    old = target.parent / f".{target.name}.old-{tag}"
    stop = threading.Event()
    copier: Future[None] | None = None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bundle-copy")
    try:
        bag = BagWriter(work)
        # Records are copied (I/O and hashing, which release the GIL) while the PDF is
        # merged (pure Python): on two cores the copies cost little wall time.
        copier = pool.submit(copy_records, bag, stop)
        with bag.open_payload(PACKET_NAME) as fh:
            summary = write_packet_pdf(plan, fh, created=created, tick=tick)
        while True:
            try:
                copier.result(timeout=0.25)
                break
            except FutureTimeout:
                report()
        report()
        for path, name in layout.extras:
            bag.add_file(path, name)
            copied += 1
            report()
        bag.finish(_bag_info(plan, summary, len(layout.documents)), today)
        built = work
        if zip_output:
            _zip_bag(work, work_zip, out.name, today)
            built = work_zip
        if target.exists():
            os.replace(target, old)
        os.replace(built, target)
    except BaseException:
        stop.set()
        pool.shutdown(wait=True)
        _remove(work)
        _remove(work_zip)
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise
    finally:
        pool.shutdown(wait=True)
        if zip_output:
            _remove(work)
    _remove(old)
    try:
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return target
