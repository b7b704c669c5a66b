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


def name_problem(name: str) -> str:
    """Why :func:`decode_name` refused a name: ``name_control_chars`` when it reads as text
    but holds a line break or another control character, else ``name_undecodable``."""
    raw = os.fsencode(name)
    for encoding in ("utf-8", "gb18030"):
        try:
            raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return "name_control_chars"
    return "name_undecodable"


def decode_relpath(path: Path) -> list[str] | None:
    """Every component of a relative path decoded, or ``None`` if any cannot be."""
    parts: list[str] = []
    for part in path.parts:
        decoded = decode_name(part)
        if decoded is None:
            return None
        parts.append(decoded)
    return parts


_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}$")


def safe_component(text: str, fallback: str = "未命名") -> str:
    """A name component valid on Windows and Linux and not too long for either.

    A long name is shortened in its stem: the extension (``.pdf``) is kept."""
    cleaned = _FORBIDDEN.sub("_", text).strip(" .")
    if not cleaned:
        cleaned = fallback
    if len(cleaned.encode("utf-8")) > _MAX_NAME_BYTES:
        match = _SUFFIX.search(cleaned)
        suffix = match.group(0) if match and match.start() > 0 else ""
        stem = cleaned[: len(cleaned) - len(suffix)]
        while len((stem + suffix).encode("utf-8")) > _MAX_NAME_BYTES:
            stem = stem[:-1]
        cleaned = stem.rstrip(" .") + suffix
    return cleaned


# What copiers, browsers and scanners name a file while they are still writing it
PARTIAL_SUFFIXES = (".part", ".crdownload", ".tmp", ".partial", ".filepart")


def is_partial(name: str) -> bool:
    """A file still being written by a copier (it gets its real name when complete)."""
    return name.lower().endswith(PARTIAL_SUFFIXES)


_LITTER = {"thumbs.db", "desktop.ini", ".ds_store"}


def is_litter(name: str) -> bool:
    """What Windows, macOS and Office leave beside files: thumbnails, folder settings, lock
    files, AppleDouble companions. Never taken, never reported."""
    return name.lower() in _LITTER or name.startswith(("~$", "._"))


def is_hidden(name: str) -> bool:
    """A hidden name (a leading dot) that is not litter: not taken, but reported, because a
    clerk may not see it in Explorer and would wonder where the file went."""
    return name.startswith(".") and not is_litter(name)


def is_ignored(name: str) -> bool:
    """Litter, hidden names and files still being written by a copier are never taken."""
    return is_litter(name) or is_hidden(name) or is_partial(name)
