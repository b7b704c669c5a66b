"""The query language clerks type into the search box, parsed into engine-neutral clauses.

Free text and field syntax, separated by spaces; every part must match (AND)::

    鑫垚便民店                      a name, a village, a brand, any run of characters
    "南关村 王强"                   a quoted phrase (“…” 「…」 too)
    许可证号:610522100123           the licence number, or its last digits (许可证号:00123)
    案号:潼烟罚〔2011〕12号          any written form: 潼烟罚[2011]第12号, 案号:2011 12
    类型:询问笔录  类别:重点监控户  会议:专销联动  户名:鑫垚  档案:610522100123
    印章:稽查大队                   the body on the document's seal (公章:, 盖章: too)
    日期:2010-01..2010-06           also 日期:2010, 日期:2010-03-22, 日期:2010-01..
    -南关村                         must not contain

Full-width colons and brackets are accepted, traditional characters are folded to
simplified ones, and free text that *looks like* a key (12 digits, the tail of a licence
number, a case number, a year followed by a serial) also matches that key.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from archive.core.errors import UsageError
from archive.core.keys import normalize_case_number as _shared_case
from indexers.analyzer import fold


class QueryError(UsageError):
    """The search text cannot be understood (a bad date, a licence with letters…)."""


#: Field names clerks type, to the clause kind they select.
FIELD_ALIASES: dict[str, str] = {
    "许可证号": "licence",
    "许可证": "licence",
    "证号": "licence",
    "案号": "case",
    "案件": "case",
    "类型": "doc_type",
    "文书": "doc_type",
    "日期": "date",
    "时间": "date",
    "户名": "retailer",
    "零售户": "retailer",
    "字号": "retailer",
    "类别": "household_class",
    "户类": "household_class",
    "会议": "meeting",
    "印章": "seal",
    "公章": "seal",
    "盖章": "seal",
    "档案": "dossier",
    "卷": "dossier",
}

HOUSEHOLD_CLASSES = {
    "守法": "守法经营户",
    "守法经营户": "守法经营户",
    "非重点": "非重点监控户",
    "非重点监控户": "非重点监控户",
    "重点": "重点监控户",
    "重点监控户": "重点监控户",
}

_QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "'": "'", "‘": "’"}
_OPEN_BRACKETS = "[【［(（〔"
_CLOSE_BRACKETS = "]】］)）〕"
_CASE_RE = re.compile(r"^(?P<prefix>[^\d〔〕]*)〔(?P<year>\d{4})〕(?P<serial>\d{1,5})号?$")
_YEAR_SERIAL_RE = re.compile(
    r"^(?P<year>(?:19|20)\d{2})\s*(?:[-/.年]|\s)\s*(?P<serial>\d{1,5})号?$"
)
_DATE_RE = re.compile(r"^(\d{4})(?:[-./年](\d{1,2})(?:[-./月](\d{1,2})日?)?月?)?年?$")
_RANGE_SPLIT = re.compile(r"\.\.|~|～|至|到|—")
_WIDTH_DIGITS = {code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)}


@dataclass(frozen=True)
class Text:
    """Folded text that must occur (a phrase of its characters); *quoted* if typed in quotes."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class Licence:
    """A full licence number (12 digits) or its last digits (4 to 11)."""

    digits: str

    @property
    def full(self) -> bool:
        return len(self.digits) == 12


@dataclass(frozen=True)
class Case:
    """A case number: canonical form when a prefix was given, else year + serial."""

    canonical: str | None
    year: str
    serial: str


@dataclass(frozen=True)
class Exact:
    """An exact key field: doc_type, household_class or dossier."""

    field: str
    value: str


@dataclass(frozen=True)
class Within:
    """Folded text that must occur inside one field (retailer, meeting or seal)."""

    field: str
    text: str


@dataclass(frozen=True)
class DateRange:
    """Inclusive range of dates as yyyymmdd integers (None: open)."""

    low: int | None
    high: int | None


@dataclass(frozen=True)
class KeyOrText:
    """Free text that looks like a key: matches the key *or* the text."""

    key: Licence | Case
    text: tuple[Text, ...]


Clause = Text | Licence | Case | Exact | Within | DateRange | KeyOrText


@dataclass
class ParsedQuery:
    """Clauses that must all match, clauses that must not, and the words to highlight."""

    must: list[Clause] = field(default_factory=list)
    must_not: list[Clause] = field(default_factory=list)
    highlight: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.must and not self.must_not

    @property
    def has_text(self) -> bool:
        return any(isinstance(c, Text | Within | KeyOrText) for c in self.must)

    def free_text(self) -> list[str]:
        """The folded free-text words, for suggestions."""
        out = [c.text for c in self.must if isinstance(c, Text | Within)]
        out += [t.text for c in self.must if isinstance(c, KeyOrText) for t in c.text]
        return out


def normalize_case(value: str) -> str | None:
    """Canonical case number ``潼烟罚〔2011〕12号`` from any written form, or None."""
    shared = _shared_case(value) or _shared_case(fold(value))
    if shared is not None:
        return fold(shared)
    return _normalize_case(value)


def _normalize_case(value: str) -> str | None:
    text = fold(value).replace("\u2423", "").replace("第", "")
    for ch in _OPEN_BRACKETS:
        text = text.replace(ch, "〔")
    for ch in _CLOSE_BRACKETS:
        text = text.replace(ch, "〕")
    m = _CASE_RE.match(text)
    if m is None:
        return None
    return f"{m['prefix']}〔{m['year']}〕{int(m['serial'])}号"


def case_parts(value: str) -> Case | None:
    """A :class:`Case` from a written case number or ``2011 12`` / ``2011-12`` / ``2011年12号``."""
    canonical = normalize_case(value)
    if canonical is not None:
        m = _CASE_RE.match(canonical)
        assert m is not None
        return Case(canonical if m["prefix"] else None, m["year"], m["serial"])
    text = value.translate(_WIDTH_DIGITS).strip().replace("第", "")
    m = _YEAR_SERIAL_RE.match(text)
    if m is None:
        return None
    return Case(None, m["year"], str(int(m["serial"])))


def _scan(query: str) -> list[tuple[bool, str | None, str, bool]]:
    """Split into (negated, field, value, quoted) parts; quotes keep spaces together."""
    parts: list[tuple[bool, str | None, str, bool]] = []
    text = query.replace("：", ":")
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negate = text[i] == "-" and i + 1 < n and not text[i + 1].isspace()
        if negate:
            i += 1
        name: str | None = None
        m = re.match(r"([^\s:\"“”「」]+):", text[i:])
        if m and fold(m.group(1)) in FIELD_ALIASES:
            name = FIELD_ALIASES[fold(m.group(1))]
            i += m.end()
        if i < n and text[i] in _QUOTES:
            close = text.find(_QUOTES[text[i]], i + 1)
            end = n if close < 0 else close
            parts.append((negate, name, text[i + 1 : end], True))
            i = end + 1
            continue
        start = i
        while i < n and not text[i].isspace():
            i += 1
        parts.append((negate, name, text[start:i], False))
    return parts


def _date_bounds(value: str, upper: bool) -> int:
    m = _DATE_RE.match(value.strip().translate(_WIDTH_DIGITS))
    if m is None:
        raise QueryError(
            f"日期“{value}”无法识别：请写成 2010-03-22、2010-03、2010，"
            "或用 .. 连接的区间，例如 日期:2010-01..2010-06"
        )
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else (12 if upper else 1)
    if not 1 <= month <= 12:
        raise QueryError(f"日期“{value}”的月份不对：应为 1 到 12")
    last = calendar.monthrange(year, month)[1]
    day = int(m.group(3)) if m.group(3) else (last if upper else 1)
    if not 1 <= day <= last:
        raise QueryError(f"日期“{value}”的日不对：{year}年{month}月只有{last}天")
    return year * 10000 + month * 100 + day


def parse_date_range(value: str) -> DateRange:
    """``2010-01..2010-06`` → DateRange(20100101, 20100630); a single date covers itself."""
    pieces = _RANGE_SPLIT.split(value, maxsplit=1)
    if len(pieces) == 1:
        return DateRange(_date_bounds(value, False), _date_bounds(value, True))
    low_s, high_s = (p.strip() for p in pieces)
    if not low_s and not high_s:
        raise QueryError("日期区间两端都空着：例如 日期:2010-01..2010-06")
    low = _date_bounds(low_s, False) if low_s else None
    high = _date_bounds(high_s, True) if high_s else None
    if low is not None and high is not None and low > high:
        raise QueryError(f"日期区间“{value}”开始晚于结束：请把早的日期写在前面")
    return DateRange(low, high)


def _free_text(value: str, quoted: bool) -> Clause | None:
    folded = fold(value)
    if not folded:
        return None
    text = Text(folded, quoted)
    if not quoted:
        digits = value.translate(_WIDTH_DIGITS)
        if digits.isdigit() and 4 <= len(digits) <= 12:
            return KeyOrText(Licence(digits), (text,))
        case = case_parts(value) if any(c in value for c in "号罚〔[【［") else None
        if case is not None:
            return KeyOrText(case, (text,))
    return text


def _field_clause(name: str, value: str, quoted: bool) -> Clause | None:
    if name == "licence":
        digits = value.translate(_WIDTH_DIGITS).replace(" ", "")
        if not digits.isdigit() or not 4 <= len(digits) <= 12:
            raise QueryError(
                f"许可证号“{value}”不对：应为 12 位数字，或它的末尾 4 到 11 位，例如 许可证号:00123"
            )
        return Licence(digits)
    if name == "case":
        case = case_parts(value)
        if case is None:
            raise QueryError(
                f"案号“{value}”无法识别：例如 案号:潼烟罚〔2011〕12号，或年份加序号 案号:2011 12"
            )
        return case
    if name == "date":
        return parse_date_range(value)
    folded = fold(value)
    if not folded:
        return None
    if name == "household_class":
        if folded not in HOUSEHOLD_CLASSES:
            raise QueryError(f"类别“{value}”不对：应为 守法经营户、非重点监控户 或 重点监控户")
        return Exact(name, HOUSEHOLD_CLASSES[folded])
    if name == "dossier":
        canonical = normalize_case(value)
        return Exact(name, canonical if canonical is not None else folded)
    if name == "doc_type":
        return Exact(name, folded)
    return Within(name, folded)


def _join_year_serial(parts: list[tuple[bool, str | None, str, bool]]) -> None:
    """``案号:2011 12`` and a bare ``2011 12``: join a year and the serial that follows it."""
    i = 0
    while i + 1 < len(parts):
        neg, name, value, quoted = parts[i]
        nneg, nname, nvalue, nquoted = parts[i + 1]
        joinable = name in ("case", None) and not quoted and nname is None and not nquoted
        if (
            joinable
            and neg == nneg
            and re.fullmatch(r"(?:19|20)\d{2}", value)
            and re.fullmatch(r"\d{1,5}号?", nvalue.translate(_WIDTH_DIGITS))
        ):
            parts[i : i + 2] = [(neg, name or "year_serial", f"{value} {nvalue}", False)]
        i += 1


def parse(query: str) -> ParsedQuery:
    """Parse what a clerk typed; raises :class:`QueryError` with a Chinese fix."""
    parts = _scan(query)
    _join_year_serial(parts)
    parsed = ParsedQuery()
    for negate, name, value, quoted in parts:
        clause: Clause | None
        if name == "year_serial":
            case = case_parts(value)
            assert case is not None
            year, serial = value.split()
            texts = (Text(fold(year)), Text(fold(serial)))
            clause = KeyOrText(case, texts)
        elif name is None:
            clause = _free_text(value, quoted)
        else:
            clause = _field_clause(name, value, quoted)
        if clause is None:
            continue
        (parsed.must_not if negate else parsed.must).append(clause)
        if not negate:
            parsed.highlight += _highlights(clause)
    return parsed


def _highlights(clause: Clause) -> list[str]:
    if isinstance(clause, Text | Within):
        return [clause.text]
    if isinstance(clause, Licence):
        return [clause.digits]
    if isinstance(clause, KeyOrText):
        return [t.text for t in clause.text]
    return []


def suggest_names(words: Sequence[str], names: Sequence[str], limit: int = 5) -> list[str]:
    """The roster names closest to what was typed (shared characters, then order)."""
    wanted = [w for w in (fold(x) for x in words) if w]
    if not wanted or not names:
        return []
    scored: list[tuple[float, str]] = []
    for name in dict.fromkeys(names):
        target = fold(name)
        best = 0.0
        for word in wanted:
            common = sum((Counter(word) & Counter(target)).values())
            if common == 0:
                continue
            ratio = SequenceMatcher(None, word, target, autojunk=False).ratio()
            best = max(best, common / max(len(word), 1) + ratio)
        if best > 0:
            scored.append((best, name))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [name for _, name in scored[:limit]]
