"""Content-based filing: a document's type and keys from its text.

:func:`classify_text` is pure: text in, :class:`Classification` out (type by the editable
rules of :mod:`archive.intake.rules`, licence and case numbers, dates, the retailer matched against
the roster even with an OCR slip, meeting type, date, attendees, host and topic).
:func:`apply_classification` merges that into the keys a file's path gave and says what
disagrees (findings ``title_mismatch`` and ``key_mismatch``). :func:`make_classifier` is the
hook :class:`archive.intake.intake.Intake` calls for every file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archive.core.config import ArchiveConfig
from archive.core.dockeys import DocKeys
from archive.core.keys import (
    LICENCE_LABELS,
    find_case_numbers,
    find_dates,
    find_licence_numbers,
    to_halfwidth,
)
from archive.core.meetings import (
    dates_in,
    looks_like_meeting,
    meeting_date,
    name_year,
    normalise_meeting_name,
)
from archive.intake.key_recovery import (
    partial_cases,
    partial_licences,
    recover_case,
    recover_licence,
)
from archive.intake.roster_match import Roster
from archive.intake.rules import Pattern, Rules, compact, load_rules
from archive.intake.worktype import standard_doc_types, type_work_material

if TYPE_CHECKING:
    from archive.core.config import Archive
    from archive.records.catalog import Catalog

Finding = dict[str, str]
Classifier = Callable[[DocKeys, str], tuple[DocKeys, list[Finding]]]

# Fewer meaningful characters than this: OCR failed or the page is blank; decide nothing.
MIN_TEXT_CHARS = 8
# Unlabelled retailer names are looked for in this many characters from the top of the text.
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SPLIT_PEOPLE = re.compile(r"[、,，;；/\s]+")
_VALUE_END = re.compile(r"[\s,，;；。()（）:：]")
# A heading of minutes ends so: 依法行政工作推进会会议记录, 专销联动会议纪要, 培训会签到表.
_HEADING_END = re.compile(r"(记录|纪要|记要|签到表|签到册|签到簿)$")
_MINUTES_END = re.compile(r"(会议记录|纪要|记要|签到表|签到册|签到簿)$")
# OCR reads the brackets of 潼烟罚〔2011〕12号 as almost anything; make them brackets again.
_BRACKET_LIKE = "〔〕[]【】［］（）()﹝﹞〖〗{}<>《》Il|!1CcLJ丨「」"


@dataclass
class Classification:
    """What the text of one document says about it."""

    doc_type: str | None = None
    confidence: float = 0.0
    confident: bool = False
    scores: dict[str, float] = field(default_factory=dict)  # the best few, for explaining
    licence_no: str | None = None
    licence_nos: list[str] = field(default_factory=list)
    case_no: str | None = None
    case_nos: list[str] = field(default_factory=list)
    retailer: str | None = None  # the roster's spelling when matched
    retailer_licence: str | None = None  # the roster licence of that retailer
    dates: list[dt.date] = field(default_factory=list)
    date: dt.date | None = None  # the document's own date (signature, issue, meeting)
    meeting_type: str | None = None
    meeting_confident: bool = False  # the meeting type was read in the title lines
    meeting_date: dt.date | None = None
    meeting_name_year: int | None = None  # a year written in the meeting's name
    attendees: list[str] = field(default_factory=list)
    host: str | None = None
    recorder: str | None = None
    topic: str | None = None
    empty: bool = False  # no usable text (OCR failed, blank page)


# ---------------------------------------------------------------- text shape


def _pages(text: str) -> list[list[str]]:
    """Non-blank lines of each page (pages are separated by form feeds)."""
    return [[ln for ln in page.splitlines() if ln.strip()] for page in text.split("\f")]


def _head(pages: list[list[str]], count: int) -> list[str]:
    """The first ``count`` lines of the first page that has any."""
    for lines in pages:
        if lines:
            return lines[:count]
    return []


# ---------------------------------------------------------------- type scoring


def _fuzzy_spans(word: str, line: str) -> list[tuple[int, int]]:
    """Spans of ``line`` equal to ``word`` but for one character (OCR misread one)."""
    n = len(word)
    if n < 4 or len(line) < n:
        return []
    # one character off: the other half of the word is there exactly, so only the places
    # where either half occurs are worth comparing
    half = n // 2
    starts: set[int] = set()
    for piece, offset in ((word[:half], 0), (word[half:], half)):
        at = line.find(piece)
        while at >= 0:
            if 0 <= at - offset <= len(line) - n:
                starts.add(at - offset)
            at = line.find(piece, at + 1)
    out = []
    for start in sorted(starts):
        if sum(a != b for a, b in zip(word, line[start : start + n], strict=True)) == 1:
            out.append((start, start + n))
    return out


def _title_winners(line: str, rules: Rules, *, fuzzy: bool) -> set[str]:
    """Types whose title is the head of ``line`` (the hit ending last, then the longest).

    Chinese titles put their head noun last: 烟草专卖零售许可证申请表 is an 申请表.
    """
    screen = rules.title_screen
    if not fuzzy and screen is not None and screen.search(line) is None:
        return set()
    hits: list[tuple[int, int, str]] = []
    for rule in rules.types.values():
        for pattern in rule.titles:
            spans = (
                pattern.spans(line)
                if not fuzzy
                else ([] if pattern.regex else _fuzzy_spans(pattern.text, line))
            )
            hits.extend((end, end - start, rule.name) for start, end in spans)
    if not hits:
        return set()
    best = max((end, length) for end, length, _ in hits)
    return {name for end, length, name in hits if (end, length) == best}


def _is_title_line(line: str, patterns: tuple[Pattern, ...]) -> bool:
    for pattern in patterns:
        for start, end in pattern.spans(line):
            if len(line) - (end - start) <= 4:
                return True
    return False


def _score_types(pages: list[list[str]], rules: Rules) -> dict[str, float]:
    w = rules.weights
    first = next((i for i, lines in enumerate(pages) if lines), 0)
    # A title is not the value of a label (送达文书:行政处罚决定书 is a 送达回证's line).
    head = [compact(ln).split(":")[0] for ln in pages[first][: rules.head_lines]] if pages else []
    scores = dict.fromkeys(rules.types, 0.0)
    titled: set[str] = set()
    for fuzzy, weight in ((False, w.title), (True, w.title_fuzzy)):
        for line in head:
            winners = _title_winners(line, rules, fuzzy=fuzzy)
            for name in winners - titled:
                scores[name] += weight
            titled |= winners
        if titled:
            break
    body = [compact(ln) for lines in pages for ln in lines]
    skip = sum(len(lines) for lines in pages[:first]) + len(head)
    rest = body[skip:]
    whole = "\n".join(body)
    lined: set[str] = set()
    longest = max((len(t.text) for r in rules.types.values() for t in r.titles), default=0)
    for line in rest:  # a title standing alone further on: a second document bound in
        if len(line) > longest + 4:
            continue
        for name in _title_winners(line, rules, fuzzy=False) - titled - lined:
            if _is_title_line(line, rules.types[name].titles):
                scores[name] += w.title_line
                lined.add(name)
    for rule in rules.types.values():
        scores[rule.name] += w.keyword * sum(1 for p in rule.keywords if whole in p)
        scores[rule.name] -= w.negative * sum(1 for p in rule.negative if whole in p)
    return scores


def _decide_type(scores: dict[str, float], rules: Rules) -> tuple[str | None, float, bool]:
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] <= 0:
        return None, 0.0, False
    best_name, best = ranked[0]
    second = max((s for n, s in ranked[1:] if not rules.same_type(n, best_name)), default=0.0)
    second = max(second, 0.0)
    full = rules.weights.title + 2 * rules.weights.keyword
    confidence = round(min(1.0, best / full) * (best - second) / best, 2)
    confident = best >= rules.min_score and best - second >= rules.min_margin
    return best_name, confidence, confident


# ---------------------------------------------------------------- meetings


def _meeting_name(
    pages: list[list[str]], lines: list[str], rules: Rules, bureau: str | None
) -> tuple[str | None, str | None]:
    """(the name as written, the series it names) from the 会议名称 line, else the heading
    (``2021年第一季度依法行政工作推进会会议记录``); (None, None) when neither names a meeting."""
    for value in _labelled(
        lines[: rules.head_lines + 8], rules.label("meeting_name"), line_start=True
    ):
        name = normalise_meeting_name(value, bureau)
        if name:
            return value, name
    for line in _head(pages, rules.head_lines):
        title = compact(line).split(":")[0]
        if _HEADING_END.search(title):
            name = normalise_meeting_name(title, bureau)
            # 培训记录, 学习记录 are work logs: a plain 记录 heads minutes of a 会 only
            if name and looks_like_meeting(name) and (_MINUTES_END.search(title) or "会" in name):
                return title, name
    return None, None


def _configured_meeting(name: str, rules: Rules) -> str | None:
    """The configured type a meeting name stands for: a title within it, else a title one
    character off (an OCR slip) in a name about as long as the title."""
    found = rules.canonical_meeting(name)
    if found is not None:
        return found
    for rule in rules.meetings.values():
        for pattern in rule.titles:
            text = pattern.text
            if text and len(name) <= len(text) + 2 and _fuzzy_spans(text, name):
                return rule.name
    return None


def _find_meeting(
    pages: list[list[str]], rules: Rules, meeting_doc: bool, name: str | None = None
) -> tuple[str | None, bool]:
    """(meeting type, read in the title lines?): the configured type the name stands for,
    else the name itself (a meeting not in the rules); without a name, a configured title
    in the head lines, else (minutes only) the first one in the text."""
    if name:
        return _configured_meeting(name, rules) or name, True
    head = [compact(ln) for ln in _head(pages, rules.head_lines)]
    for fuzzy in (False, True):
        for line in head:
            best: tuple[int, str] | None = None
            for rule in rules.meetings.values():
                for pattern in rule.titles:
                    if fuzzy:
                        spans = [] if pattern.regex else _fuzzy_spans(pattern.text, line)
                    else:
                        spans = pattern.spans(line)
                    for start, end in spans:
                        if best is None or end - start > best[0]:
                            best = (end - start, rule.name)
            if best is not None:
                return best[1], True
    if meeting_doc:
        whole = compact("\n".join(ln for lines in pages for ln in lines))
        first: tuple[int, int, str] | None = None
        for rule in rules.meetings.values():
            for pattern in rule.titles:
                for start, end in pattern.spans(whole)[:1]:
                    if first is None or (start, -(end - start)) < (first[0], -first[1]):
                        first = (start, end - start, rule.name)
        if first is not None:
            return first[2], False
    return None, False


def _read_minutes(
    out: Classification,
    pages: list[list[str]],
    lines: list[str],
    rules: Rules,
    name_as_written: str | None,
) -> None:
    """When, who and what of a meeting (in place): the day from the 时间 line (the year in the
    meeting's name only when no day is written), attendees, host, recorder, topic."""
    head = lines[: rules.head_lines + 10]
    written = dates_in("\n".join(lines))
    fallback = name_year(name_as_written) or (written[0].year if written else None)
    for value in _labelled(head, rules.label("meeting_date"), line_start=False):
        out.meeting_date = meeting_date(value, fallback)
        if out.meeting_date is not None:
            break
    else:
        out.meeting_date = written[0] if written else None
    out.meeting_name_year = name_year(name_as_written)
    for value in _labelled(lines, rules.label("attendees"), line_start=True)[:1]:
        out.attendees = _people(value)
    hosts = _labelled(lines, rules.label("host"), line_start=True)
    out.host = _first_token(hosts[0]) or None if hosts else None
    recorders = _labelled(lines, rules.label("recorder"), line_start=True)
    out.recorder = _first_token(recorders[0]) or None if recorders else None
    topics = _labelled(lines, rules.label("topic"), line_start=True)
    out.topic = topics[0].rstrip("。.") or None if topics else None
    out.date = out.meeting_date


# ---------------------------------------------------------------- labelled values


@functools.lru_cache(maxsize=256)
def _label_regex(labels: tuple[str, ...], *, line_start: bool) -> re.Pattern[str] | None:
    if not labels:
        return None
    alts = "|".join(re.escape(x) for x in sorted(labels, key=len, reverse=True))
    if line_start:
        return re.compile(rf"^\s*(?:{alts})\s*[:：]?\s*(.*)$")
    # Short labels (户名, 单位) must not be the tail of a longer word (发证单位).
    short = [x for x in labels if len(x) <= 2]
    long_ = [x for x in labels if len(x) > 2]
    parts = []
    if long_:
        parts.append(
            "(?:" + "|".join(re.escape(x) for x in sorted(long_, key=len, reverse=True)) + ")"
        )
    if short:
        parts.append(r"(?<![\u4e00-\u9fff])(?:" + "|".join(re.escape(x) for x in short) + ")")
    return re.compile("(?:" + "|".join(parts) + r")\s*[:：]\s*(\S.*)$")


def _labelled(lines: list[str], labels: tuple[str, ...], *, line_start: bool) -> list[str]:
    """Values after ``label:`` in ``lines`` (in order), raw (half-width, not compacted)."""
    regex = _label_regex(labels, line_start=line_start)
    if regex is None:
        return []
    out = []
    for line in lines:
        match = regex.search(to_halfwidth(line))
        if match and match.group(1).strip():
            out.append(match.group(1).strip())
    return out


def _first_token(value: str) -> str:
    return _VALUE_END.split(value.strip(), maxsplit=1)[0]


def _people(value: str) -> list[str]:
    out = []
    for token in _SPLIT_PEOPLE.split(value.strip().rstrip("。.")):
        token = re.sub(r"(等|同志|等人|等同志)$", "", token.strip("。.:："))
        if token and token not in out and len(token) <= 12:
            out.append(token)
    return out


def _dates_after(lines: list[str], labels: tuple[str, ...]) -> dt.date | None:
    """The first date on a line that carries one of ``labels`` (labels tried in order)."""
    for label in labels:
        for line in lines:
            half = to_halfwidth(line)
            at = half.find(label)
            if at >= 0:
                dates = find_dates(half[at:])
                if dates:
                    return dates[0]
    return None


def _unlabelled_date(lines: list[str], validity: tuple[str, ...]) -> dt.date | None:
    """A document with no dated label: its last date outside a validity range (a licence's
    expiry years ahead is not the day the paper was made), else the range's first day."""
    other: list[dt.date] = []
    starts: list[dt.date] = []
    for line in lines:
        half = to_halfwidth(line)
        dates = find_dates(half)
        if not dates:
            continue
        if any(label in half for label in validity):
            starts.append(dates[0])
        else:
            other.extend(dates)
    if other:
        return other[-1]
    return starts[0] if starts else None


# ---------------------------------------------------------------- keys


def _normalise_brackets(text: str, prefixes: tuple[str, ...]) -> str:
    """``潼烟罚C2011]第12号`` → ``潼烟罚〔2011〕第12号`` around a known prefix."""
    if not prefixes:
        return text
    alts = "|".join(
        r"\s*".join(re.escape(ch) for ch in p) for p in sorted(prefixes, key=len, reverse=True)
    )
    cls = re.escape(_BRACKET_LIKE)
    pattern = re.compile(
        rf"({alts})\s*[{cls}]?\s*((?:19|20)\d{{2}})\s*[{cls}]?\s*(第?)\s*"
        rf"(?<!\d)(\d{{1,5}})\s*号"
    )
    return pattern.sub(
        lambda m: (
            f"{compact(m.group(1))}〔{compact(m.group(2))}〕{m.group(3)}{compact(m.group(4))}号"
        ),
        text,
    )


def _case_numbers(text: str, config: ArchiveConfig, case_doc: bool) -> list[str]:
    half = to_halfwidth(text)
    found = find_case_numbers(_normalise_brackets(half, config.case_prefixes), config.case_prefixes)
    if not found and (case_doc or not config.case_prefixes):
        found = find_case_numbers(half)
    return found


def _licence_numbers(text: str, rules: Rules, config: ArchiveConfig) -> list[str]:
    """Licence numbers the text states: after a licence label (the rules' labels), or with
    the bureau's area code; labelled ones first."""
    labels = rules.label("licence") or LICENCE_LABELS
    return find_licence_numbers(text, config.area_codes, labels=labels)


def classify_text(
    text: str,
    rules: Rules,
    roster: Roster | None = None,
    config: ArchiveConfig | None = None,
) -> Classification:
    """Everything the text of one document says about its type and keys. Pure."""
    config = config or ArchiveConfig()
    roster = roster or Roster.empty()
    if len(_CJK.findall(text)) + sum(ch.isdigit() for ch in text) < MIN_TEXT_CHARS:
        return Classification(empty=True)
    pages = _pages(text)
    lines = [ln for page in pages for ln in page]
    out = Classification()
    out.scores = _score_types(pages, rules)
    out.doc_type, out.confidence, out.confident = _decide_type(out.scores, rules)
    out.scores = dict(sorted(out.scores.items(), key=lambda kv: -kv[1])[:4])
    dossiers = rules.types[out.doc_type].dossiers if out.doc_type else ()
    out.licence_nos = _licence_numbers(text, rules, config)
    out.licence_no = out.licence_nos[0] if out.licence_nos else None
    out.case_nos = _case_numbers(text, config, "case" in dossiers)
    out.case_no = out.case_nos[0] if out.case_nos else None
    out.dates = find_dates(text)
    meeting_doc = "meeting" in dossiers
    as_written, name = _meeting_name(pages, lines, rules, config.bureau)
    out.meeting_type, out.meeting_confident = _find_meeting(pages, rules, meeting_doc, name)
    if out.confident and not meeting_doc:  # 听证会通知书 is a case paper, not minutes
        out.meeting_type, out.meeting_confident = None, False
    if out.meeting_type or meeting_doc:
        _read_minutes(out, pages, lines, rules, as_written)
    else:
        out.date = _dates_after(lines, rules.label("doc_date")) or _unlabelled_date(
            lines, rules.label("validity")
        )
    labelled = [
        _first_token(v) for v in _labelled(lines, rules.label("retailer"), line_start=False)
    ]
    labelled = list(dict.fromkeys(v for v in labelled if v))
    match = roster.match(compact(text), labelled[:3], out.licence_nos)
    if match is not None:
        out.retailer, out.retailer_licence = match
    elif labelled and labelled[0]:
        out.retailer = compact(labelled[0])
    return out


# ---------------------------------------------------------------- merging with the path


def _mismatch(claimed: str, found: str) -> Finding:
    return {"code": "title_mismatch", "message": f"文件名为「{claimed}」, 内容为「{found}」"}


def _key_mismatch(what: str, path_value: str, content_value: str) -> Finding:
    return {
        "code": "key_mismatch",
        "message": f"文件路径中的{what}为「{path_value}」, 内容中为「{content_value}」; "
        "已按路径归档, 请核对",
    }


def _place_other(keys: DocKeys, c: Classification, rules: Rules) -> None:
    """Choose the dossier kind of a document dropped where nothing said what it is (in place).

    Work materials (实施方案 …) stay "other" (filed by type and year). Any other paper goes to
    the dossier its keys name, its type's kinds first; a household, case or meeting paper
    whose key is not known yet takes its type's kind unresolved: it waits in the tray (not
    among the work materials) until a roster import or a refile finds its dossier.
    """
    rule = rules.types.get(keys.doc_type or "")
    kinds = rule.dossiers if rule is not None else ()
    if "other" in kinds:
        return
    order = [k for k in kinds if k != "other"]
    order += [k for k in ("household", "case", "meeting") if k not in order]
    for kind in order:
        if dataclasses.replace(keys, dossier_kind=kind).resolved:
            keys.dossier_kind = kind
            return
    if kinds:
        keys.dossier_kind = kinds[0]


def _meeting_notes(keys: DocKeys) -> None:
    """Say why minutes wait in the tray (in place)."""
    if keys.dossier_kind != "meeting" or keys.resolved:
        return
    if keys.meeting_type is None:
        keys.notes.append("会议记录中没有会议名称(“会议名称”行或标题), 文件夹名也未写明是什么会议")
    if keys.year is None:
        keys.notes.append("会议记录中没有会议时间, 文件名也未写明日期或年份")


def apply_classification(
    keys: DocKeys, c: Classification, rules: Rules
) -> tuple[DocKeys, list[Finding]]:
    """Keys from the path, completed and checked by what the content says. Pure.

    Path keys win over content keys (a key that disagrees gives ``key_mismatch``); the
    document type and the meeting type follow the content when it is confident (a name that
    claims another gives ``title_mismatch``). Nothing changes when the text is empty.
    """
    new = dataclasses.replace(
        keys, attendees=list(keys.attendees), cases=list(keys.cases), notes=list(keys.notes)
    )
    if c.empty:  # no text: decide nothing, but a named 营业执照 is no work material
        if new.dossier_kind == "other":
            _place_other(new, c, rules)
        new.meeting_type = rules.canonical_meeting(new.meeting_type) or new.meeting_type
        _meeting_notes(new)
        return (keys, []) if new == keys else (new, [])
    findings: list[Finding] = []
    was_resolved = keys.resolved
    claimed = keys.doc_type
    if c.confident and c.doc_type:
        if claimed and not rules.same_type(claimed, c.doc_type):
            findings.append(_mismatch(claimed, c.doc_type))
        new.doc_type = c.doc_type
    new.meeting_type = rules.canonical_meeting(keys.meeting_type) or keys.meeting_type
    if c.meeting_type and new.dossier_kind in ("meeting", "other"):
        path_meeting = new.meeting_type
        if path_meeting is None:
            new.meeting_type = c.meeting_type
        elif path_meeting != c.meeting_type and c.meeting_confident:
            # 推进会/ holding 依法行政工作推进会: the same meeting, named more fully inside
            if path_meeting not in c.meeting_type and c.meeting_type not in path_meeting:
                findings.append(_mismatch(str(keys.meeting_type), c.meeting_type))
            new.meeting_type = c.meeting_type
    elif (
        new.dossier_kind == "case" and c.meeting_confident and rules.is_case_meeting(c.meeting_type)
    ):
        new.meeting_type = c.meeting_type  # a case review's minutes dropped in a case's folder
    # licence and case numbers: fill what the path lacked; never overrule it
    if c.licence_no:
        if keys.licence_no is None:
            new.licence_no = c.licence_no
        elif keys.licence_no not in c.licence_nos and new.dossier_kind == "household":
            findings.append(_key_mismatch("许可证号", keys.licence_no, c.licence_no))
    elif (
        keys.licence_no is None
        and c.retailer_licence
        and (
            new.dossier_kind == "household"
            or (c.confident and c.doc_type and "household" in rules.types[c.doc_type].dossiers)
        )
    ):
        new.licence_no = c.retailer_licence
        new.notes.append(f"许可证号按户名「{c.retailer}」从名册取得")
    if c.case_no:
        if keys.case_no is None:
            new.case_no = c.case_no
        elif keys.case_no not in c.case_nos and new.dossier_kind == "case":
            findings.append(_key_mismatch("案号", keys.case_no, c.case_no))
    if c.retailer and not keys.retailer:
        new.retailer = c.retailer
    if c.date is not None:
        if keys.date is None:
            new.date = c.date
            if keys.year is None or new.dossier_kind != "meeting":
                new.year = c.date.year
            elif c.meeting_date and keys.year != c.meeting_date.year:
                if keys.year_implied:  # held then, whatever year its name carries
                    new.year, new.year_implied = c.meeting_date.year, False
                else:
                    findings.append(
                        _key_mismatch("会议年份", str(keys.year), str(c.meeting_date.year))
                    )
        elif keys.date != c.date and new.dossier_kind == "meeting" and c.meeting_date:
            findings.append(
                _key_mismatch("会议日期", keys.date.isoformat(), c.meeting_date.isoformat())
            )
    if not keys.attendees and c.attendees:
        new.attendees = list(c.attendees)
    new.host = keys.host or c.host
    new.recorder = keys.recorder or c.recorder
    new.topic = keys.topic or c.topic
    if (
        new.year is None
        and new.meeting_type
        and c.meeting_name_year
        and new.dossier_kind in ("meeting", "other")
    ):
        new.year = c.meeting_name_year
        new.notes.append("会议时间未能识别, 年份取自会议名称")
    if new.dossier_kind == "other":
        _place_other(new, c, rules)
    if rules.is_case_meeting(new.meeting_type) and new.dossier_kind in ("meeting", "case"):
        new.cases = list(dict.fromkeys([*keys.cases, *c.case_nos]))
    if new.dossier_kind == "meeting" and new.doc_type is None and new.meeting_type:
        new.doc_type = "会议记录"  # minutes by their labels (会议名称, 主持人 …), untitled
    _meeting_notes(new)
    if not was_resolved and new.resolved:
        new.source = "content"
    return new, findings


def recover_keys(
    keys: DocKeys,
    c: Classification,
    text: str,
    rules: Rules,
    config: ArchiveConfig,
    roster: Roster,
    catalog: Catalog | None = None,
) -> tuple[DocKeys, list[Finding]]:
    """A licence or case number the page shows only in part (a seal across it), recovered
    (:mod:`archive.intake.key_recovery`) when exactly one candidate fits; otherwise the
    partial reading and the candidates go in the notes, the tray's reason."""
    if c.empty:
        return keys, []
    new = dataclasses.replace(keys, notes=list(keys.notes))
    found = None
    if (
        new.dossier_kind == "household"
        and not c.licence_no
        and keys.licence_no in (None, c.retailer_licence)  # none on the path
    ):
        lines = [ln for page in _pages(text) for ln in page]
        readings = partial_licences(_labelled(lines, rules.label("licence"), line_start=False))
        found = recover_licence(readings, roster.names, config.area_codes, c.retailer_licence)
        if found is not None:
            new.licence_no = found.key
    elif new.dossier_kind == "case" and keys.case_no is None and not c.case_nos:
        cases = partial_cases([ln for page in _pages(text) for ln in page], config.case_prefixes)
        if cases and catalog is not None:
            linked = catalog.case_numbers(c.licence_nos, c.retailer)
            found = recover_case(cases, catalog.case_numbers(), config.case_prefixes, linked)
            new.case_no = found.key if found is not None else None
    if found is None:
        return keys, []
    new.notes.append(found.note)
    if found.key is None:
        return new, []
    if new.resolved and not keys.resolved:
        new.source = "content"
    return new, [{"code": "key_recovered", "message": found.note}]


@dataclass
class ContentClassifier:
    """The intake hook: rules (defaults + ``<archive>/rules.yaml``) and roster, loaded once;
    case numbers already filed are looked up in the catalog as each file comes.

    ``read`` is the part that needs no catalog (a worker process reading ahead does it, with
    :meth:`without_catalog`); ``finish`` the part that does; calling it does both."""

    rules: Rules
    roster: Roster
    config: ArchiveConfig
    catalog: Catalog | None = None
    # the document types the bureau's scoring standard names as evidence (work materials
    # the rules do not type are named by these first: archive.intake.worktype)
    evidence_types: tuple[str, ...] = ()

    def read(self, keys: DocKeys, text: str) -> tuple[DocKeys, list[Finding], Classification]:
        c = classify_text(text, self.rules, self.roster, self.config)
        new, findings = apply_classification(keys, c, self.rules)
        new = type_work_material(new, text, self.evidence_types, self.config.bureau)
        return new, findings, c

    def finish(
        self, keys: DocKeys, findings: list[Finding], c: Classification, text: str
    ) -> tuple[DocKeys, list[Finding]]:
        new, recovered = recover_keys(
            keys, c, text, self.rules, self.config, self.roster, self.catalog
        )
        return new, findings + recovered

    def without_catalog(self) -> ContentClassifier:
        return dataclasses.replace(self, catalog=None)

    def __call__(self, keys: DocKeys, text: str) -> tuple[DocKeys, list[Finding]]:
        new, findings, c = self.read(keys, text)
        return self.finish(new, findings, c, text)


def make_classifier(archive: Archive, catalog: Catalog) -> ContentClassifier:
    """The classifier of ``archive`` (:class:`ContentClassifier`)."""
    roster = Roster.from_rows(dict(r) for r in catalog.households())
    return ContentClassifier(
        load_rules(archive.root),
        roster,
        archive.config,
        catalog,
        standard_doc_types(archive.root),
    )
