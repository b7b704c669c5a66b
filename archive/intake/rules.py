"""Classification rules: the shipped defaults plus the bureau's own ``rules.yaml``.

The defaults live in ``archive/intake/intake/rules.yaml`` (read its header for the format). A
bureau writes only what it changes into ``<archive>/rules.yaml``; :func:`load_rules` merges
the two:

- scalars (``head_lines``, ``min_score``, ``min_margin``), each ``weights.*`` and each
  ``labels.*`` entry, and ``equivalent`` given in the override replace the defaults;
- an entry of ``types`` / ``meetings`` with a new name adds a type (a new document type needs
  ``dossier`` and ``titles``); with an existing name, the fields given replace the default's
  fields and the others are kept; with ``extend: true`` the lists ``titles`` / ``keywords`` /
  ``negative`` are appended to the defaults instead; ``disabled: true`` drops the type;
  a meeting type with ``case: true`` is a case meeting (案审会): its minutes belong to the
  cases they name as well.

Both files are validated whole: every problem (with its line) is reported at once in one
:class:`~archive.core.errors.ValidationError`, and nothing is used from a file that has any.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from archive.core.errors import Problem, ValidationError
from archive.core.keys import to_halfwidth
from archive.core.yaml_lines import load_yaml_text

DEFAULT_PATH = Path(__file__).with_name("rules.yaml")
OVERRIDE_NAME = "rules.yaml"
DOSSIER_KINDS = ("household", "case", "meeting", "other")
LABEL_NAMES = (
    "retailer",
    "licence",
    "case",
    "meeting_date",
    "meeting_name",
    "attendees",
    "host",
    "topic",
    "recorder",
    "doc_date",
    "validity",
)
WEIGHT_NAMES = ("title", "title_fuzzy", "title_line", "keyword", "negative")
RETENTIONS = ("永久", "定期30年", "定期10年")
_TOP_KEYS = (
    "default_retention",
    "head_lines",
    "min_score",
    "min_margin",
    "weights",
    "equivalent",
    "labels",
    "types",
    "meetings",
)
_TYPE_FIELDS = ("dossier", "titles", "keywords", "negative", "retention", "extend", "disabled")
_MEETING_FIELDS = ("titles", "case", "extend", "disabled")
_LIST_FIELDS = ("titles", "keywords", "negative")
_SPACES = re.compile(r"\s+")
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compact(text: str) -> str:
    """The form patterns are matched against: half-width, no whitespace."""
    return _SPACES.sub("", to_halfwidth(text))


@dataclass(frozen=True)
class Pattern:
    """A literal word (matched space-insensitively) or a ``re:`` regular expression."""

    source: str
    text: str  # the compact literal ("" for a regex)
    regex: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, raw: str) -> Pattern:
        if raw.startswith("re:"):
            return cls(raw, "", re.compile(raw[3:]))
        return cls(raw, compact(raw))

    def spans(self, line: str) -> list[tuple[int, int]]:
        """Every (start, end) of the pattern in an already compacted ``line``."""
        if self.regex is not None:
            return [m.span() for m in self.regex.finditer(line) if m.end() > m.start()]
        out, start = [], line.find(self.text)
        while start >= 0:
            out.append((start, start + len(self.text)))
            start = line.find(self.text, start + 1)
        return out

    def __contains__(self, line: str) -> bool:
        if self.regex is None:
            return self.text in line
        return any(m.end() > m.start() for m in self.regex.finditer(line))


@dataclass(frozen=True)
class TypeRule:
    """How one document type is recognised and which dossiers it belongs to."""

    name: str
    dossiers: tuple[str, ...]
    titles: tuple[Pattern, ...]
    keywords: tuple[Pattern, ...] = ()
    negative: tuple[Pattern, ...] = ()
    retention: str | None = None  # 保管期限 (DA/T 22): 永久 / 定期30年 / 定期10年


@dataclass(frozen=True)
class MeetingRule:
    """A configured meeting type: the words that name it; ``case``: its minutes, when they
    name a case number, belong to that case's dossier too (案审会, 重大案件集体讨论)."""

    name: str
    titles: tuple[Pattern, ...]
    case: bool = False


@dataclass(frozen=True)
class Weights:
    title: float = 10.0
    title_fuzzy: float = 7.0
    title_line: float = 4.0
    keyword: float = 1.0
    negative: float = 3.0


@dataclass(frozen=True)
class Rules:
    """Validated, merged rules (see the module docstring)."""

    types: dict[str, TypeRule]
    meetings: dict[str, MeetingRule]
    weights: Weights = field(default_factory=Weights)
    head_lines: int = 4
    min_score: float = 6.0
    min_margin: float = 3.0
    equivalent: tuple[frozenset[str], ...] = ()
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    default_retention: str = "定期30年"

    def retention_of(self, doc_type: str | None) -> str:
        """The 保管期限 of a document type (the rules' default for types without one)."""
        rule = self.types.get(doc_type or "")
        return (rule.retention if rule is not None else None) or self.default_retention

    @functools.cached_property
    def title_screen(self) -> re.Pattern[str] | None:
        """Matches a line that may hold a type's title (any literal title, or any line when
        a title is a regular expression): lines without one need no closer look."""
        titles = [p for r in self.types.values() for p in r.titles]
        if not titles or any(p.regex is not None or not p.text for p in titles):
            return None
        return re.compile("|".join(re.escape(p.text) for p in titles))

    def same_type(self, a: str, b: str) -> bool:
        """Whether two type names mean the same document (equal or declared equivalent)."""
        return a == b or any(a in group and b in group for group in self.equivalent)

    def canonical_meeting(self, name: str | None) -> str | None:
        """The meeting type a name stands for, None if it names none.

        The type's own name or one of its titles (``支委会`` → ``支部委员会``), or a close
        variant: a name holding a title (``党支部委员会``, ``支部委员会会议`` → ``支部委员会``;
        the longest title wins).
        """
        if not name:
            return None
        if name in self.meetings:
            return name
        key = compact(name)
        best: tuple[int, str] | None = None
        for rule in self.meetings.values():
            for pattern in rule.titles:
                if pattern.regex is None and pattern.text == key:
                    return rule.name
                for start, end in pattern.spans(key)[:1]:
                    if best is None or end - start > best[0]:
                        best = (end - start, rule.name)
        return best[1] if best else None

    def is_case_meeting(self, name: str | None) -> bool:
        """Whether minutes of this meeting type belong to the cases they name."""
        rule = self.meetings.get(name or "")
        return rule is not None and rule.case

    def label(self, name: str) -> tuple[str, ...]:
        return self.labels.get(name, ())


# ---------------------------------------------------------------- reading


def _line_map(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of every mapping key / sequence item, by its path of keys."""
    lines: dict[tuple[str, ...], int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, str(index)))

    if root is not None:
        walk(root, ())
    return lines


def _read(path: Path) -> tuple[dict[str, Any], str]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(
            source, [Problem(None, "编码", "UTF-8 (请用记事本另存为 UTF-8)", "无法解码")]
        ) from None
    try:
        data = load_yaml_text(text, source, _LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationError(source, [Problem(row, "YAML", "有效的 YAML", str(problem))]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError(source, [Problem(1, "文件", "键值对 (映射)", type(data).__name__)])
    return data, text


class _Checker:
    """Collects problems of one file, each with the line of the offending key."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: dict[tuple[str, ...], int] | None = None  # parsed on the first problem
        self.problems: list[Problem] = []

    def add(self, path: tuple[str, ...], expected: str, found: Any) -> None:
        if self.lines is None:
            self.lines = _line_map(self.text)
        row = None
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                row = self.lines[path[:cut]]
                break
        self.problems.append(Problem(row, ".".join(path) or "文件", expected, str(found)))

    def number(self, path: tuple[str, ...], value: Any, *, integer: bool = False) -> None:
        kind = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or value < 0:
            self.add(path, "非负整数" if integer else "非负数", value)

    def words(self, path: tuple[str, ...], value: Any, *, non_empty: bool = False) -> None:
        if not isinstance(value, list) or (non_empty and not value):
            self.add(path, "非空列表" if non_empty else "列表", value)
            return
        for index, item in enumerate(value):
            where = (*path, str(index))
            if not isinstance(item, str) or not compact(item) or compact(item) == "re:":
                self.add(where, "非空文字", item)
            elif item.startswith("re:"):
                try:
                    re.compile(item[3:])
                except re.error as exc:
                    self.add(where, "有效的正则表达式", f"{item} ({exc})")


def _check_shape(data: dict[str, Any], check: _Checker) -> None:
    """Problems of one file on its own (types of values, known keys, valid regexes)."""
    for key, value in data.items():
        if key not in _TOP_KEYS:
            check.add((str(key),), "以下之一: " + "/".join(_TOP_KEYS), key)
        elif key == "head_lines":
            check.number((key,), value, integer=True)
        elif key == "default_retention" and value not in RETENTIONS:
            check.add((key,), "/".join(RETENTIONS), value)
        elif key in ("min_score", "min_margin"):
            check.number((key,), value)
        elif key == "weights":
            if not isinstance(value, dict):
                check.add((key,), "映射", value)
                continue
            for name, weight in value.items():
                if name not in WEIGHT_NAMES:
                    check.add((key, str(name)), "/".join(WEIGHT_NAMES), name)
                else:
                    check.number((key, name), weight)
        elif key == "labels":
            if not isinstance(value, dict):
                check.add((key,), "映射", value)
                continue
            for name, words in value.items():
                if name not in LABEL_NAMES:
                    check.add((key, str(name)), "/".join(LABEL_NAMES), name)
                else:
                    check.words((key, name), words)
        elif key == "equivalent":
            if not isinstance(value, list):
                check.add((key,), "列表的列表, 如 [[会议记录, 会议纪要]]", value)
                continue
            for index, group in enumerate(value):
                check.words((key, str(index)), group, non_empty=True)
        elif key in ("types", "meetings"):
            _check_entries(key, value, check)


def _check_entries(key: str, value: Any, check: _Checker) -> None:
    allowed = _TYPE_FIELDS if key == "types" else _MEETING_FIELDS
    if not isinstance(value, dict):
        check.add((key,), "映射 (名称: 规则)", value)
        return
    for name, entry in value.items():
        where = (key, str(name))
        if not isinstance(name, str) or not name.strip():
            check.add(where, "非空名称", name)
            continue
        if not isinstance(entry, dict):
            check.add(where, "映射 (titles/keywords/...)", entry)
            continue
        for fld, item in entry.items():
            if fld not in allowed:
                check.add((*where, str(fld)), "/".join(allowed), fld)
            elif fld in _LIST_FIELDS:
                check.words((*where, fld), item, non_empty=fld == "titles")
            elif fld in ("extend", "disabled", "case") and not isinstance(item, bool):
                check.add((*where, fld), "true 或 false", item)
            elif fld == "retention" and item not in RETENTIONS:
                check.add((*where, fld), "/".join(RETENTIONS), item)
            elif fld == "dossier":
                kinds = item if isinstance(item, list) else [item]
                bad = [k for k in kinds if k not in DOSSIER_KINDS]
                if bad or not kinds:
                    check.add((*where, fld), "/".join(DOSSIER_KINDS) + " 或其列表", item)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if key in ("weights", "labels"):
            merged.setdefault(key, {}).update(value)
        elif key in ("types", "meetings"):
            entries = merged.setdefault(key, {})
            for name, entry in value.items():
                if entry.get("disabled"):
                    entries.pop(name, None)
                    continue
                old = entries.get(name)
                if old is None:
                    entries[name] = {k: v for k, v in entry.items() if k != "extend"}
                    continue
                for fld, item in entry.items():
                    if fld == "extend":
                        continue
                    if entry.get("extend") and fld in _LIST_FIELDS:
                        old[fld] = [*old.get(fld, []), *item]
                    else:
                        old[fld] = item
        else:
            merged[key] = value
    return merged


def _build(data: dict[str, Any], check: _Checker) -> Rules:
    """Rules from merged, shape-checked data; completeness problems go to ``check``."""
    types: dict[str, TypeRule] = {}
    for name, entry in (data.get("types") or {}).items():
        if "dossier" not in entry:
            check.add(("types", name, "dossier"), "household/case/meeting/other", "缺少")
        if not entry.get("titles"):
            check.add(("types", name, "titles"), "非空列表", "缺少")
        dossier = entry.get("dossier", "other")
        types[name] = TypeRule(
            name,
            tuple(dossier if isinstance(dossier, list) else [dossier]),
            tuple(Pattern.parse(w) for w in entry.get("titles", [])),
            tuple(Pattern.parse(w) for w in entry.get("keywords", [])),
            tuple(Pattern.parse(w) for w in entry.get("negative", [])),
            entry.get("retention"),
        )
    meetings: dict[str, MeetingRule] = {}
    for name, entry in (data.get("meetings") or {}).items():
        titles = entry.get("titles") or [name]
        meetings[name] = MeetingRule(
            name, tuple(Pattern.parse(w) for w in titles), bool(entry.get("case", False))
        )
    groups = []
    for index, group in enumerate(data.get("equivalent") or []):
        for item_index, item in enumerate(group):
            if item not in types:
                check.add(("equivalent", str(index), str(item_index)), "已定义的文书类型", item)
        groups.append(frozenset(group))
    if not types:
        check.add(("types",), "至少一种文书类型", "无")
    weights = Weights(**{k: float(v) for k, v in (data.get("weights") or {}).items()})
    return Rules(
        types=types,
        meetings=meetings,
        weights=weights,
        head_lines=int(data.get("head_lines", 4)),
        min_score=float(data.get("min_score", 6)),
        min_margin=float(data.get("min_margin", 3)),
        equivalent=tuple(groups),
        labels={k: tuple(v) for k, v in (data.get("labels") or {}).items()},
        default_retention=str(data.get("default_retention", "定期30年")),
    )


def _validated(path: Path) -> tuple[dict[str, Any], str]:
    data, text = _read(path)
    check = _Checker(text)
    _check_shape(data, check)
    if check.problems:
        raise ValidationError(str(path), check.problems)
    return data, text


def load_rules(archive_root: Path | None = None, *, defaults: Path = DEFAULT_PATH) -> Rules:
    """The shipped defaults, merged with ``<archive_root>/rules.yaml`` when it exists."""
    data, text = _validated(defaults)
    sources = [str(defaults)]
    override = archive_root / OVERRIDE_NAME if archive_root is not None else None
    if override is not None and override.is_file():
        extra, text = _validated(override)
        data = _merge(data, extra)
        sources.append(str(override))
    check = _Checker(text)
    rules = _build(data, check)
    if check.problems:
        raise ValidationError(sources[-1], check.problems)
    return Rules(**{**rules.__dict__, "sources": tuple(sources)})


def rules_for_reading(archive_root: Path) -> Rules:
    """The archive's rules for what only reads (status, listings): the shipped defaults
    while the bureau's rules.yaml has errors (intake refuses to file then; a listing need not)."""
    try:
        return load_rules(archive_root)
    except ValidationError:
        return load_rules()


def parse_rules(text: str, source: str = "<rules>") -> Rules:
    """Rules from the text of one complete rules file (no merging); for tests and tools."""
    data = load_yaml_text(text, source, _LOADER) or {}
    check = _Checker(text)
    if not isinstance(data, dict):
        raise ValidationError(source, [Problem(1, "文件", "键值对 (映射)", type(data).__name__)])
    _check_shape(data, check)
    if not check.problems:
        rules = _build(data, check)
    if check.problems:
        raise ValidationError(source, check.problems)
    return Rules(**{**rules.__dict__, "sources": (source,)})
