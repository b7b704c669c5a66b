"""Keys partly covered by a seal: recovered from what was read, or left for a clerk.

In a greyscale scan a seal stamped across a licence number or a case number cannot be lifted
off the text as in colour, and the reader then drops a digit or two, or reads them as marks.
What it did read is still most of the key. A licence number read with one or two digits
missing or unreadable is matched against the roster (the county's households) and the
bureau's area codes; a case number against the case numbers already in the archive and the
bureau's case prefixes. The key is filled in only when exactly one candidate fits (the
retailer named on the page picks among several); otherwise the document goes to the tray
with the partial reading and the candidates in its reason. Pure functions, no I/O.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from archive.core.keys import is_valid_licence, parse_case_number, to_halfwidth

UNREAD = "?"
_MAX_UNREAD = 2  # digits a seal may hide and the key still be recovered
_LICENCE_LEN = 12
# characters OCR puts for a digit under a seal: look-alikes and marks
_DIGITISH = re.compile(r"[0-9OoDQIl|!?SBZ■□●○口]")
_LOOK_ALIKE = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1"})
_BRACKETS = "〔〕[]【】［］（）()﹝﹞〖〗{}<>《》「」|!！丨:："


@dataclass
class Recovery:
    """The outcome of trying to recover one key from a partial reading."""

    what: str  # 许可证号 | 案号
    reading: str  # what was read, unreadable digits as "?"
    candidates: list[str] = field(default_factory=list)
    key: str | None = None  # set when exactly one candidate fits

    @property
    def note(self) -> str:
        """The reason a clerk reads: what was read, and what it was matched to."""
        if self.key is not None:
            return f"{self.what}部分被遮挡, 读到「{self.reading}」, 唯一相符: {self.key}"
        if not self.candidates:
            return (
                f"{self.what}部分被遮挡, 读到「{self.reading}」, 没有相符的{self.what}; 请核对原件"
            )
        shown = "、".join(self.candidates[:6]) + (" 等" if len(self.candidates) > 6 else "")
        return (
            f"{self.what}部分被遮挡, 读到「{self.reading}」, "
            f"{len(self.candidates)}个候选: {shown}; 请核对原件后归档"
        )


# ---------------------------------------------------------------- licence numbers


def partial_licences(values: Iterable[str]) -> list[str]:
    """Partial licence numbers in labelled values (the text after 许可证号:).

    A reading is the run of digits and digit-like marks at the start of the value, with
    marks as ``?``: kept when it is 10 to 12 characters long and has 1 or 2 digits missing
    or unreadable (a complete, valid number is no partial reading).
    """
    out: list[str] = []
    for value in values:
        half = to_halfwidth(value).strip().translate(_LOOK_ALIKE)
        run = ""
        for ch in half:
            if ch == " ":
                continue
            if not _DIGITISH.fullmatch(ch):
                break
            run += ch if ch.isdigit() else UNREAD
        run = run.rstrip(UNREAD)[: _LICENCE_LEN + 1]
        hidden = _LICENCE_LEN - len(run) + run.count(UNREAD)
        if len(run) <= _LICENCE_LEN and 0 < hidden <= _MAX_UNREAD and run not in out:
            out.append(run)
    return out


def _fits(reading: str, number: str) -> bool:
    """Whether ``number`` reads as ``reading`` with digits dropped or unreadable (``?``)."""
    dropped = len(number) - len(reading)
    if dropped < 0 or dropped + reading.count(UNREAD) > _MAX_UNREAD:
        return False
    for gone in itertools.combinations(range(len(number)), dropped):
        kept = [d for i, d in enumerate(number) if i not in gone]
        if all(r in (UNREAD, d) for r, d in zip(reading, kept, strict=True)):
            return True
    return False


def _from_area_codes(reading: str, area_codes: Sequence[str]) -> set[str]:
    """Numbers whose hidden digits all lie in the area code: the code fills them in."""
    out: set[str] = set()
    for code in area_codes:
        tail_len = _LICENCE_LEN - len(code)
        tail = reading[-tail_len:] if tail_len > 0 else ""
        if len(tail) != tail_len or UNREAD in tail:
            continue
        head = reading[: len(reading) - tail_len]
        if _fits(head, code):
            out.add(code + tail)
    return out


def recover_licence(
    readings: Sequence[str],
    roster: Iterable[str],
    area_codes: Sequence[str] = (),
    named: str | None = None,
) -> Recovery | None:
    """The licence number a partial reading stands for: the roster's numbers that fit it,
    else (a household the roster does not know) the one the area codes make of it.

    ``named``: the roster licence of the retailer the page names (picks among several
    candidates, and must agree with a single one). ``None`` when there is nothing to recover.
    """
    if not readings:
        return None
    reading = readings[0]
    # the roster first; a household it does not know yet only by the area code
    candidates = {n for n in roster if _fits(reading, n) and is_valid_licence(n, area_codes)}
    if not candidates:
        candidates = _from_area_codes(reading, area_codes)
    found = Recovery("许可证号", reading, sorted(candidates))
    if named is not None and len(candidates) > 1 and named in candidates:
        candidates = {named}
    if len(candidates) == 1:
        only = next(iter(candidates))
        if named is None or named == only:
            found.key = only
    return found


# ---------------------------------------------------------------- case numbers


@dataclass(frozen=True)
class CaseReading:
    """A case number read in part: prefix (or None), year and serial with ``?`` for
    unreadable digits (serial None when it was not read at all)."""

    prefix: str | None
    year: str
    serial: str | None

    def __str__(self) -> str:
        return f"{self.prefix or '?'}〔{self.year}〕{self.serial or '?'}号"


def _prefix_near(read: str, prefixes: Sequence[str]) -> list[str]:
    """Known prefixes equal to ``read`` but for at most one character."""
    out = []
    for p in prefixes:
        if len(p) == len(read) and sum(a != b for a, b in zip(p, read, strict=True)) <= 1:
            out.append(p)
    return out


def partial_cases(lines: Iterable[str], prefixes: Sequence[str]) -> list[CaseReading]:
    """Case numbers read in part: a known prefix (one character may be misread) then a
    year, with the brackets, ``第``, the serial or ``号`` lost or garbled."""
    if not prefixes:
        return []
    longest = max(len(p) for p in prefixes)
    out: list[CaseReading] = []
    for line in lines:
        text = to_halfwidth(line).replace(" ", "")
        for size in range(longest, 1, -1):
            for at in range(len(text) - size + 1):
                near = _prefix_near(text[at : at + size], prefixes)
                if len(near) != 1:
                    continue
                rest = text[at + size :].lstrip(_BRACKETS)
                m = re.match(r"([0-9?]{4})[" + re.escape(_BRACKETS) + r"]*第?([0-9?]{0,5})", rest)
                if m is None or not m.group(1).startswith(("19", "20", "2?", "?0")):
                    continue
                serial = m.group(2).rstrip("?") or None
                reading = CaseReading(near[0], m.group(1), serial)
                if reading not in out:
                    out.append(reading)
            if out:
                return out
    return out


def _case_fits(reading: CaseReading, number: str, prefixes: Sequence[str]) -> bool:
    parsed = parse_case_number(number, prefixes)
    if parsed is None or (reading.prefix and parsed.prefix != reading.prefix):
        return False
    if not all(r in (UNREAD, d) for r, d in zip(reading.year, parsed.year, strict=True)):
        return False
    if reading.serial is None:
        return True
    return _fits(reading.serial, parsed.serial) or reading.serial == parsed.serial


def recover_case(
    readings: Sequence[CaseReading],
    known: Iterable[str],
    prefixes: Sequence[str],
    linked: Iterable[str] = (),
) -> Recovery | None:
    """The case number a partial reading stands for, among the archive's case numbers.

    A reading whose year and serial are whole needs only its prefix (a misread character of
    a known prefix) and is complete by itself. ``linked``: case numbers of the archive whose
    household the page names (picks among several candidates).
    """
    if not readings:
        return None
    reading = readings[0]
    complete = (
        reading.prefix is not None
        and UNREAD not in reading.year
        and reading.serial is not None
        and UNREAD not in reading.serial
    )
    if complete:
        whole = f"{reading.prefix}〔{reading.year}〕{int(reading.serial or 0)}号"
        return Recovery("案号", str(reading), [whole], whole)
    candidates = sorted({n for n in known if _case_fits(reading, n, prefixes)})
    found = Recovery("案号", str(reading), candidates)
    narrowed = [n for n in candidates if n in set(linked)] if len(candidates) > 1 else candidates
    if len(narrowed) == 1:
        found.key = narrowed[0]
    return found
