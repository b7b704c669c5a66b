"""What a dossier must hold: household (一户一档) by application type, penalty case
file by procedure, and what a meeting record must show.

The defaults ship as ``archive/assess/checklists.yaml``; a bureau copies it and edits it
in a text editor.  Loading validates the whole file and raises :class:`ValidationError`
with every problem at once (rows are lines of the YAML file).

Matching a filed document's type against a requirement ignores spaces, bracket widths
and 台帐/台账, and accepts a longer name that ends with an accepted one
(``烟草专卖零售许可证申请表`` satisfies ``申请表``) unless the longer name names another
application type (``变更申请表`` does not satisfy 新办's ``申请表``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.core.doctypes import normalise_doc_type
from archive.core.errors import NotFoundError, Problem, ValidationError
from archive.core.yaml_lines import key_line, line_of, load_yaml_lines

DEFAULT_PATH = Path(__file__).with_name("checklists.yaml")
APPLICATION_TYPES = ("新办", "延续", "变更", "停业", "歇业", "恢复营业", "注销")
_QUALIFIERS = (*APPLICATION_TYPES, "不予", "撤销")
_TOP_KEYS = frozenset({"conditions", "household", "case", "meeting", "sealed"})
_REQ_KEYS = frozenset({"name", "any_of", "also", "when"})


@dataclass(frozen=True)
class Requirement:
    """One document (or field) a dossier must hold; any name in ``accepted`` satisfies it."""

    name: str
    accepted: tuple[str, ...]
    when: str | None = None

    def matches(self, doc_type: str) -> bool:
        doc = normalise_doc_type(doc_type)
        for alt in self.accepted:
            a = normalise_doc_type(alt)
            if doc == a:
                return True
            if doc.endswith(a) and not any(q in doc[: -len(a)] and q not in a for q in _QUALIFIERS):
                return True
        return False

    def satisfied_by(self, doc_types: Iterable[str]) -> bool:
        return any(self.matches(d) for d in doc_types)


@dataclass
class Checklists:
    household: dict[str, list[Requirement]]
    case: dict[str, list[Requirement]]
    meeting_fields: list[Requirement]
    meeting_types: list[str] = field(default_factory=list)
    conditions: dict[str, str] = field(default_factory=dict)
    sealed: list[Requirement] = field(default_factory=list)  # types that must bear a seal

    def seal_required(self, names: Iterable[str]) -> Requirement | None:
        """The ``sealed`` entry a document of these names (type, title) falls under."""
        docs = list(names)
        return next((r for r in self.sealed if r.satisfied_by(docs)), None)

    def household_requirements(
        self, application: str, conditions: Iterable[str] = ()
    ) -> list[Requirement]:
        """What a household dossier must hold for one application (新办, 延续 …)."""
        if application not in self.household:
            raise NotFoundError(
                f"档案清单中没有申请类型“{application}”；已有: {'、'.join(self.household)}。"
                "请在 checklists.yaml 的 household 下添加。"
            )
        return _applicable(self.household[application], conditions)

    def case_requirements(
        self, procedure: str = "一般程序", conditions: Iterable[str] = ()
    ) -> list[Requirement]:
        if procedure not in self.case:
            raise NotFoundError(
                f"档案清单中没有案卷程序“{procedure}”；已有: {'、'.join(self.case)}。"
                "请在 checklists.yaml 的 case 下添加。"
            )
        return _applicable(self.case[procedure], conditions)

    def missing_household(
        self,
        applications: Iterable[str],
        doc_types: Iterable[str],
        conditions: Iterable[str] = (),
    ) -> list[tuple[str, Requirement]]:
        """(application, requirement) pairs the household dossier lacks, in checklist order.

        ``applications`` are the applications the household has made (新办 then 延续 …).
        """
        docs = list(doc_types)
        conds = list(conditions)
        out: list[tuple[str, Requirement]] = []
        for app in dict.fromkeys(applications):
            out += [
                (app, r)
                for r in self.household_requirements(app, conds)
                if not r.satisfied_by(docs)
            ]
        return out

    def missing_case(
        self,
        doc_types: Iterable[str],
        procedure: str = "一般程序",
        conditions: Iterable[str] = (),
    ) -> list[Requirement]:
        docs = list(doc_types)
        return [
            r for r in self.case_requirements(procedure, conditions) if not r.satisfied_by(docs)
        ]

    def missing_meeting_fields(
        self, fields: Mapping[str, Any] | Iterable[str]
    ) -> list[Requirement]:
        """Fields a meeting record lacks; a mapping's blank values count as missing."""
        if isinstance(fields, Mapping):
            present = [k for k, v in fields.items() if v is not None and str(v).strip()]
        else:
            present = list(fields)
        return [r for r in self.meeting_fields if not r.satisfied_by(present)]

    def is_complete_household(
        self, applications: Iterable[str], doc_types: Iterable[str], conditions: Iterable[str] = ()
    ) -> bool:
        return not self.missing_household(applications, doc_types, conditions)


def _applicable(reqs: list[Requirement], conditions: Iterable[str]) -> list[Requirement]:
    conds = set(conditions)
    return [r for r in reqs if r.when is None or r.when in conds]


# --------------------------------------------------------------------------- loading


def _requirement(
    raw: Any, row: int | None, where: str, conditions: Mapping[str, str], problems: list[Problem]
) -> Requirement | None:
    if isinstance(raw, str):
        if not raw.strip():
            problems.append(Problem(row, where, "文书名称", "空"))
            return None
        return Requirement(raw.strip(), (raw.strip(),))
    if not isinstance(raw, dict):
        problems.append(Problem(row, where, "文书名称或 name/any_of/also/when", str(raw)))
        return None
    row = line_of(raw) or row
    before = len(problems)
    for key in raw:
        if key not in _REQ_KEYS:
            problems.append(Problem(row, f"{where}.{key}", "name/any_of/also/when", str(key)))
    name = str(raw.get("name") or "").strip()
    if not name:
        problems.append(Problem(row, f"{where}.name", "文书名称", "缺少"))
    accepted: list[str] = []
    for key in ("any_of", "also"):
        vals = raw.get(key, [])
        if isinstance(vals, str):
            vals = [vals]
        if not isinstance(vals, list) or not all(isinstance(v, str) and v.strip() for v in vals):
            problems.append(Problem(row, f"{where}.{key}", "文书名称列表", str(vals)))
            continue
        accepted += [v.strip() for v in vals]
    if "any_of" not in raw:
        accepted.insert(0, name)
    when = raw.get("when")
    if when is not None and when not in conditions:
        problems.append(
            Problem(
                row, f"{where}.when", "conditions 中定义的情形: " + "/".join(conditions), str(when)
            )
        )
    if len(problems) > before:
        return None
    return Requirement(name, tuple(dict.fromkeys(accepted)), when)


def _requirement_list(
    raw: Any, row: int | None, where: str, conditions: Mapping[str, str], problems: list[Problem]
) -> list[Requirement]:
    if not isinstance(raw, list) or not raw:
        problems.append(Problem(row, where, "文书列表", str(raw)))
        return []
    out: list[Requirement] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        at = line_of(raw, i) or row
        req = _requirement(item, at, f"{where}[{i}]", conditions, problems)
        if req is None:
            continue
        if req.name in names:
            problems.append(Problem(at, f"{where}[{i}]", "不重复的文书", req.name))
        names.add(req.name)
        out.append(req)
    return out


def _group(
    data: Mapping[str, Any], key: str, conditions: Mapping[str, str], problems: list[Problem]
) -> dict[str, list[Requirement]]:
    raw = data.get(key)
    if not isinstance(raw, dict) or not raw:
        problems.append(Problem(line_of(data), key, "按类型列出的文书清单", str(raw)))
        return {}
    return {
        str(name): _requirement_list(
            reqs, key_line(raw, str(name)), f"{key}.{name}", conditions, problems
        )
        for name, reqs in raw.items()
    }


def check_checklists_data(data: Any) -> tuple[Checklists | None, list[Problem]]:
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return None, [Problem(None, "文件", "household/case/meeting 清单", type(data).__name__)]
    for key in data:
        if key not in _TOP_KEYS:
            problems.append(
                Problem(key_line(data, key), str(key), "/".join(sorted(_TOP_KEYS)), str(key))
            )
    conditions_raw = data.get("conditions") or {}
    if not isinstance(conditions_raw, dict):
        problems.append(Problem(line_of(data), "conditions", "情形: 说明", str(conditions_raw)))
        conditions_raw = {}
    conditions = {str(k): str(v) for k, v in conditions_raw.items()}
    household = _group(data, "household", conditions, problems)
    for app in household:
        if app not in APPLICATION_TYPES:
            problems.append(
                Problem(
                    key_line(data.get("household"), app),
                    f"household.{app}",
                    "/".join(APPLICATION_TYPES),
                    app,
                )
            )
    case = _group(data, "case", conditions, problems)
    meeting = data.get("meeting")
    fields: list[Requirement] = []
    types: list[str] = []
    if not isinstance(meeting, dict):
        problems.append(
            Problem(line_of(data), "meeting", "fields: 会议记录必须写明的事项", str(meeting))
        )
    else:
        fields = _requirement_list(
            meeting.get("fields"), line_of(meeting), "meeting.fields", conditions, problems
        )
        raw_types = meeting.get("types", [])
        if not isinstance(raw_types, list) or not all(isinstance(t, str) for t in raw_types):
            problems.append(
                Problem(line_of(meeting), "meeting.types", "会议类型列表", str(raw_types))
            )
        else:
            types = list(raw_types)
    sealed: list[Requirement] = []
    if "sealed" in data:  # optional: a bureau's older file without it checks no seals
        sealed = _requirement_list(
            data.get("sealed"), key_line(data, "sealed"), "sealed", conditions, problems
        )
    if problems:
        return None, problems
    return Checklists(household, case, fields, types, conditions, sealed), []


def check_checklists(path: Path) -> list[Problem]:
    """Every problem of a checklists YAML (empty when it loads)."""
    return check_checklists_data(load_yaml_lines(Path(path)))[1]


def load_checklists(path: Path | None = None) -> Checklists:
    """The bureau's checklists (the shipped defaults when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    checklists, problems = check_checklists_data(load_yaml_lines(path))
    if problems or checklists is None:
        raise ValidationError(str(path), problems)
    return checklists
