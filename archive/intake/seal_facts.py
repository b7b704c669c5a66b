"""The bodies on the seals a page bears, named as the bureau writes them.

The OCR worker reads each seal's ring text (:mod:`indexers.seals`); a character or two may
be misread, and a scrap of the text the seal lies on may be read with it. A ring text that
holds a body the archive knows (the bureau's own name from ``dangan.toml``) with at most
one wrong character in four is given that body, with what follows it on the ring when it
is a name of its own (潼关县烟草专卖局稽查大队); the text as read is kept beside it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from archive.intake.roster_match import levenshtein

_CJK = re.compile(r"[\u4e00-\u9fff]+")


def body_of(text: str | None, known: Sequence[str]) -> str | None:
    """The body a ring text names, or None when it names none the archive knows."""
    if not text:
        return None
    ring = "".join(_CJK.findall(text))
    best: tuple[int, int, str] | None = None  # (wrong, end, body)
    for body in known:
        limit = max(1, len(body) // 4)
        for size in range(len(body) - 1, len(body) + 2):
            for start in range(0, len(ring) - size + 1):
                wrong = levenshtein(body, ring[start : start + size], limit)
                if wrong <= limit and (best is None or wrong < best[0]):
                    best = (wrong, start + size, body)
    if best is None:
        return None
    _wrong, end, body = best
    rest = ring[end:]
    return body + rest if len(rest) >= 2 else body


def name_seals(pages: list[dict[str, Any]], known: Sequence[str]) -> None:
    """Give every seal of the sidecar's ``pages`` its ``body`` (in place)."""
    for page in pages:
        for seal in page.get("seals") or ():
            seal["body"] = body_of(seal.get("text"), known)
