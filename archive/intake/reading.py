"""What reading a file adds to its sidecar: every page's text and where it came from, the
pages that could not be read, the quality findings, and the events of the reading (a PDF
repaired to be read, the warnings the libraries gave).

Works on anything shaped like :class:`indexers.extract.Extraction`, attribute by attribute,
so that an extractor may leave out what it does not know.
"""

from __future__ import annotations

from typing import Any

from indexers.diagnostics import summarise_warnings

CLEAR = "清晰"


def text_json(extraction: Any) -> dict[str, Any]:
    """The sidecar's ``text``: pages, ``legible`` (False when a page is unclear or unread,
    None when no page was judged) and ``unread_pages`` (number and reason)."""
    if extraction is None:
        return {"pages": [], "legible": None, "unread_pages": []}
    pages = []
    for page in extraction.pages:
        quality = getattr(page, "quality", None)
        pages.append(
            {
                "number": page.number,
                "text": page.text,
                "source": page.source,
                "rotation": getattr(page, "rotation", 0),
                "confidence": getattr(page, "confidence", None),
                "error": getattr(page, "error", None),
                "quality": None if quality is None else dict(quality.__dict__),
                "seals": getattr(page, "seals", None),
            }
        )
    verdicts = [p["quality"]["verdict"] for p in pages if p["quality"]]
    legible = None if not verdicts else all(v == CLEAR for v in verdicts)
    unread = [{"number": p.number, "reason": p.error} for p in getattr(extraction, "unread", [])]
    if unread:
        legible = False  # a page whose text could not be read is not a legible record
    return {"pages": pages, "legible": legible, "unread_pages": unread}


def reading_findings(text: dict[str, Any]) -> list[dict[str, str]]:
    """``unread_pages`` and ``illegible`` findings from :func:`text_json`'s result."""
    findings = []
    unread = text["unread_pages"]
    if unread:
        numbers = "、".join(str(u["number"]) for u in unread)
        why = "; ".join(str(u["reason"]) for u in unread[:3])
        findings.append(
            {
                "code": "unread_pages",
                "message": f"第{numbers}页的文字无法读取 ({why}); 请重新扫描或导出这几页",
            }
        )
    bad = [
        f"第{p['number']}页: {'; '.join(p['quality']['reasons'])}"
        for p in text["pages"]
        if p["quality"] and p["quality"]["verdict"] != CLEAR
    ]
    if bad:
        findings.append({"code": "illegible", "message": "扫描件不清晰: " + " / ".join(bad)})
    return findings


def reading_events(extraction: Any) -> list[tuple[str, str]]:
    """(event, detail) for the sidecar's history: how the file was opened, what warned."""
    events = [("read", str(note)) for note in getattr(extraction, "notes", None) or []]
    messages = list(getattr(extraction, "warnings", None) or [])
    if messages:
        count = int(getattr(extraction, "warning_count", len(messages)))
        events.append(("warnings", summarise_warnings(messages, count)))
    return events
