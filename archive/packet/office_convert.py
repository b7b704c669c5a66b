"""Office records (Word, Excel) turned into PDF for the packet, with LibreOffice, safely.

A record is never handed to LibreOffice itself: a copy is, and the copy is made harmless
first. LibreOffice loads what a document links to when it opens it — a picture at an
``http://`` address, a ``file:///etc/…`` path — so a document could make the conversion
fetch a URL or pull a local file into the packet. Therefore:

- in a Word or Excel file (OOXML), every external relationship except a hyperlink (linked
  pictures, objects, frames, templates, external workbooks) gets an empty target in the
  copy: the PDF shows the document without the linked content, nothing is fetched;
- a copy whose zip would inflate beyond the budgets (:func:`archive.core.bounded.check_zip`)
  is not converted;
- LibreOffice runs with a fresh profile, and, where the system allows it
  (``unshare --net``), in a network namespace of its own with no network at all.

Documents that are not converted get a note page in the packet instead (the caller's
business); the record is copied into the packet as it is either way.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from archive.core.bounded import LimitExceeded, check_zip
from archive.core.errors import ConfigError

_OOXML = {".docx", ".xlsx"}
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>", re.S)
_EXTERNAL = re.compile(rb"""TargetMode\s*=\s*["']External["']""")
_HYPERLINK = re.compile(rb"""Type\s*=\s*["'][^"']*/hyperlink["']""")
_TARGET = re.compile(rb"""(Target\s*=\s*)(["'])[^"']*\2""")


def _unlink_external(rels: bytes) -> tuple[bytes, int]:
    """A ``.rels`` part with every external target but hyperlinks emptied; how many."""
    count = 0

    def fix(match: re.Match[bytes]) -> bytes:
        nonlocal count
        element = match.group(0)
        if not _EXTERNAL.search(element) or _HYPERLINK.search(element):
            return element
        count += 1
        return _TARGET.sub(rb"\1\2\2", element)

    return _RELATIONSHIP.sub(fix, rels), count


def defuse_ooxml(source: Path, target: Path) -> int:
    """Copy a .docx/.xlsx to ``target`` with its external links emptied; the number emptied.

    Raises :class:`~archive.core.bounded.LimitExceeded` or ``ConfigError`` (not a whole
    zip) without writing anything useful."""
    check_zip(source)
    emptied = 0
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith(".rels"):
                data, n = _unlink_external(data)
                emptied += n
            zout.writestr(info, data)
    return emptied


@functools.cache
def _netless_prefix() -> tuple[str, ...]:
    """``unshare`` arguments that run a program with no network, when the system allows."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for args in ((unshare, "--net"), (unshare, "--net", "--map-root-user")):
        try:
            ok = subprocess.run([*args, "true"], capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return args
    return ()


def convert_office(sources: list[Path], folder: Path) -> dict[Path, Path]:
    """Convert Office records to PDF with one LibreOffice run; those that failed (or were
    refused) are left out of the answer."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        return {}
    staged_dir = folder / "in"
    staged_dir.mkdir(parents=True, exist_ok=True)
    names: dict[Path, Path] = {}
    for n, source in enumerate(sources, 1):
        staged = staged_dir / f"{n:05d}{source.suffix.lower()}"
        try:
            if source.suffix.lower() in _OOXML:
                defuse_ooxml(source, staged)
            else:
                shutil.copyfile(source, staged)  # LibreOffice never sees the record itself
        except (LimitExceeded, ConfigError, OSError, zipfile.BadZipFile):
            staged.unlink(missing_ok=True)
            continue
        names[source] = staged
    if not names:
        return {}
    profile = folder / "profile"
    cmd = [
        *_netless_prefix(),
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        "pdf",
        "--outdir",
        str(folder),
        *(str(p) for p in names.values()),
    ]
    try:
        subprocess.run(cmd, capture_output=True, check=False, timeout=120 + 20 * len(names))
    except (OSError, subprocess.TimeoutExpired):
        return {}
    out: dict[Path, Path] = {}
    for source, staged in names.items():
        pdf = folder / (staged.stem + ".pdf")
        if pdf.is_file() and pdf.stat().st_size > 0:
            out[source] = pdf
    return out
