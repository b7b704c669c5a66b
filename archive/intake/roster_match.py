"""The roster's names found in OCR text: exact, or with the slips OCR makes.

A name of 3-7 characters may have one wrong character, 8 or more two; a name shared by two
households, or two names equally close, is never guessed. Candidates are narrowed by the
character pairs they share with the text, so a roster of thousands stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archive.intake.rules import compact

_SEARCH_SPAN = 4000  # names stand near the top of a document


def _allowed_errors(length: int) -> int:
    """How many characters OCR may have got wrong in a name this long and still match."""
    return 0 if length < 3 else 1 if length < 8 else 2


def levenshtein(a: str, b: str, limit: int) -> int:
    """Edit distance of ``a`` and ``b``, or ``limit + 1`` once it is sure to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _near(name: str, text: str, limit: int) -> int | None:
    """Fewest wrong characters of ``name`` written somewhere in ``text`` (≤ ``limit``), or None.

    With at most ``limit`` wrong characters, one of ``limit + 1`` pieces of the name is
    intact (pigeonhole): only windows around the pieces' occurrences are compared.
    """
    n, pieces = len(name), limit + 1
    bounds = [n * i // pieces for i in range(pieces + 1)]
    starts: set[int] = set()
    for i in range(pieces):
        piece = name[bounds[i] : bounds[i + 1]]
        at = text.find(piece)
        while at >= 0:
            start = at - bounds[i]
            if 0 <= start <= len(text) - n:
                starts.add(start)
            at = text.find(piece, at + 1)
    best: int | None = None
    for start in starts:
        wrong = sum(1 for a, b in zip(name, text[start : start + n], strict=True) if a != b)
        if wrong <= limit and (best is None or wrong < best):
            best = wrong
    return best


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


@dataclass
class Roster:
    """The households' names (名册), for finding a retailer in OCR text."""

    names: dict[str, str] = field(default_factory=dict)  # licence → name as in the roster
    _by_name: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _index: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for licence, name in self.names.items():
            key = compact(name)
            self._by_name.setdefault(key, []).append(licence)
            for gram in _bigrams(key):
                self._index.setdefault(gram, set()).add(key)

    @classmethod
    def empty(cls) -> Roster:
        return cls()

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> Roster:
        """From catalog ``households`` rows or roster dicts (``licence_no``, ``name``)."""
        return cls({str(r["licence_no"]): str(r["name"]) for r in rows if r.get("name")})

    def __len__(self) -> int:
        return len(self.names)

    def _hit(self, key: str) -> tuple[str, str] | None:
        licences = self._by_name.get(key, [])
        if len(licences) != 1:
            return None  # unknown, or two households share the name: do not guess
        return self.names[licences[0]], licences[0]

    def _candidates(self, grams: set[str]) -> list[str]:
        """Names (≥3 characters) that could be in a text with these character pairs.

        One wrong character breaks at most two pairs of a name: a name with too few of its
        pairs present cannot be within its allowed errors.
        """
        counts: dict[str, int] = {}
        for gram in grams:
            for key in self._index.get(gram, ()):
                counts[key] = counts.get(key, 0) + 1
        return [
            k
            for k, n in counts.items()
            if len(k) >= 3 and n >= len(_bigrams(k)) - 2 * _allowed_errors(len(k))
        ]

    def _best(self, scored: list[tuple[int, str]]) -> tuple[str, str] | None:
        if not scored:
            return None
        scored.sort()
        if len(scored) > 1 and scored[1][0] == scored[0][0] and scored[1][1] != scored[0][1]:
            return None  # two names equally close: ambiguous
        return self._hit(scored[0][1])

    def match_value(self, value: str) -> tuple[str, str] | None:
        """A labelled value (企业名称:…) → (roster name, licence), one OCR slip tolerated."""
        key = compact(value)
        if not key:
            return None
        if key in self._by_name:
            return self._hit(key)
        scored = []
        for cand in self._candidates(_bigrams(key)):
            limit = _allowed_errors(len(cand))
            distance = levenshtein(key, cand, limit)
            if distance <= limit:
                scored.append((distance, cand))
        return self._best(scored)

    def find_in(self, text: str) -> tuple[str, str] | None:
        """A roster name in the top of compact ``text``, OCR slips tolerated (see ``_near``)."""
        text = text[:_SEARCH_SPAN]  # names stand near the top; keeps long texts cheap
        candidates = self._candidates(_bigrams(text))
        exact = [k for k in candidates if k in text]
        if exact:
            return self._hit(max(exact, key=len))
        scored = []
        for cand in candidates:
            wrong = _near(cand, text, _allowed_errors(len(cand)))
            if wrong is not None:
                scored.append((wrong, cand))
        return self._best(scored)

    def match(self, text: str, labelled: list[str], licences: list[str]) -> tuple[str, str] | None:
        """The retailer a document names: by labelled value, else anywhere in the text."""
        if not self.names:
            return None
        for value in labelled:
            hit = self.match_value(value)
            if hit is not None:
                return hit
        hit = self.find_in(text)
        if hit is not None:
            return hit
        for licence in licences:
            if licence in self.names:
                return self.names[licence], licence
        return None
