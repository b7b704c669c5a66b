"""File names as clerks' machines write them: UTF-8, or GBK bytes from Windows scanners."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

# Characters Windows forbids in names, plus control characters.
_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
_MAX_NAME_BYTES = 180


def decode_name(name: str) -> str | None:
    """The readable text of a file name component, or ``None`` if it cannot be decoded.

    On Linux, names that are not UTF-8 reach Python with surrogate escapes; Windows scanners
    and old SMB shares write GBK (GB18030 is its superset). NFC-normalised.
    """
    raw = os.fsencode(name)
    for encoding in ("utf-8", "gb18030"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if text.isprintable():
            return unicodedata.normalize("NFC", text)
    return None


def decode_relpath(path: Path) -> list[str] | None:
    """Every component of a relative path decoded, or ``None`` if any cannot be."""
    parts: list[str] = []
    for part in path.parts:
        decoded = decode_name(part)
        if decoded is None:
            return None
        parts.append(decoded)
    return parts


def safe_component(text: str, fallback: str = "未命名") -> str:
    """A name component valid on Windows and Linux and not too long for either."""
    cleaned = _FORBIDDEN.sub("_", text).strip(" .")
    if not cleaned:
        cleaned = fallback
    while len(cleaned.encode("utf-8")) > _MAX_NAME_BYTES:
        cleaned = cleaned[:-1]
    return cleaned


# What copiers, browsers and scanners name a file while they are still writing it
PARTIAL_SUFFIXES = (".part", ".crdownload", ".tmp", ".partial", ".filepart")


def is_partial(name: str) -> bool:
    """A file still being written by a copier (it gets its real name when complete)."""
    return name.lower().endswith(PARTIAL_SUFFIXES)


def is_ignored(name: str) -> bool:
    """Scanner and OS litter, and files still being written by a copier, are never taken."""
    lower = name.lower()
    return (
        name.startswith((".", "~$"))
        or lower in {"thumbs.db", "desktop.ini", ".ds_store"}
        or is_partial(name)
    )
