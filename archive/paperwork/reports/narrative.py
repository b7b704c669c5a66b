"""The bureau's own words for its reports: ``<archive>/报告素材.yaml``.

Figures come from the archive; the prose around them (who leads the campaign, what was done,
what is planned) only the bureau can write.  It keeps that prose in one YAML file beside
``dangan.toml`` and the reports slot it in.  Every part is optional: a report built without
the file carries the figures, the audit's findings and the inspection's problems, and the
generator lists what is missing (``Report.notes``).

Shape (a full example with comments: ``samples/narrative.yaml``)::

    upper_bureau: 渭南市烟草专卖局          # 主送机关 (the "：" is added)
    doc_prefix: 潼烟专                      # 发文机关代字 for --doc-number N
    leading_group:                          # 一、组织领导 / 开展情况 (一)
      text: 成立创建工作领导小组，局长任组长……
    owners: {班子建设: 刘红霞, 市场监管: 闫凤翔}   # who owns which area
    summary:                                # 工作汇报/总结
      title: 2024年创建优秀县级局工作总结
      intro: 现将今年创建工作情况汇报如下：
      progress: [...]                       # 一、开展情况
      shortcomings: [...]                   # 二、存在的不足 (after the audit's)
      measures: [...]                       # 三、采取的举措
      plans: [...]                          # 四、下一步工作计划
    rectification:                          # 整改情况报告
      intro: ...
      measures: {班子建设: 整改措施……}       # per area
      next: [...]
    selfcheck:                              # 每月自查报告
      intro: ...
      plans: [...]
    signers: [王建国]                       # 签发人 (上行文), shared by every report …
    copy_to: [渭南市烟草专卖局专卖科]        # 抄送机关 (版记)
    printed_by: 潼关县烟草专卖局办公室       # 印发机关 (版记; 印发日期 = 成文日期)

``signers``, ``copy_to`` and ``printed_by`` may also be written inside a report's section
(``rectification: {signers: 王建国}``); there they replace the shared value for that
report only (``signers: []`` switches the shared signers off).  A list of names may be
written on one line, separated by 、 or ，.

A section is a list; each entry is a paragraph (a string), a run-in heading
``{title: 健全组织机构。, text: 成立……}`` or a paragraph with a bold lead
``{lead: 一是强化了硬件设施基础。, text: ……}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.assess.findings import AREA_ALIASES
from archive.core.errors import Problem, ValidationError
from archive.core.yaml_lines import key_line, line_of, load_yaml_lines
from archive.paperwork.officialdoc import Block, Heading, Paragraph

NARRATIVE_FILE = "报告素材.yaml"

_TOP = {"bureau", "upper_bureau", "doc_prefix", "leading_group", "owners"}
_TOP |= {"summary", "rectification", "selfcheck"}
# 签发人 and 版记: shared at the top, or per report inside its section.
_MARKS = {"signers": "names", "copy_to": "names", "printed_by": "text"}
_TOP |= set(_MARKS)
_SECTIONS = {
    "summary": {"title": "text", "intro": "text", "progress": "list", "shortcomings": "list"}
    | {"measures": "list", "plans": "list"}
    | _MARKS,
    "rectification": {"title": "text", "intro": "text", "measures": "areas", "next": "list"}
    | _MARKS,
    "selfcheck": {"title": "text", "intro": "text", "plans": "list"} | _MARKS,
}


@dataclass(frozen=True)
class Entry:
    """One entry of a section: a paragraph, a run-in heading or a paragraph with a lead."""

    text: str
    title: str | None = None
    lead: str | None = None

    def block(self, level: int = 2) -> Heading | Paragraph:
        if self.title:
            return Heading(level, self.title, run_in=self.text or None)
        return Paragraph(self.text, bold_lead=self.lead)


@dataclass
class Narrative:
    """What the bureau wrote for its reports (empty when it wrote nothing)."""

    path: Path | None = None
    bureau: str | None = None
    upper_bureau: str | None = None
    doc_prefix: str | None = None
    leading_group: list[Entry] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # "summary.title" → text
    lists: dict[str, list[Entry]] = field(default_factory=dict)  # "summary.plans" → entries
    area_texts: dict[str, dict[str, str]] = field(default_factory=dict)  # section → area → text
    # 签发人 and 抄送机关: "signers" (shared), "summary.copy_to" (one report) → names
    names: dict[str, list[str]] = field(default_factory=dict)

    def text(self, key: str) -> str | None:
        return self.texts.get(key)

    def entries(self, key: str) -> list[Entry]:
        return self.lists.get(key, [])

    def blocks(self, key: str, level: int = 2) -> list[Block]:
        return [e.block(level) for e in self.entries(key)]

    def measures(self, area: str) -> str | None:
        """The rectification measures the bureau wrote for ``area`` (aliases accepted)."""
        areas = self.area_texts.get("rectification.measures", {})
        return areas.get(area) or areas.get(canonical_area(area))

    def owner(self, area: str) -> str | None:
        return self.owners.get(area) or self.owners.get(canonical_area(area))

    def signers(self, kind: str) -> list[str]:
        """签发人 of report ``kind``: its section's, else the shared ones."""
        return list(self.names.get(f"{kind}.signers", self.names.get("signers", [])))

    def copy_to(self, kind: str) -> list[str]:
        """抄送机关 of report ``kind``: its section's, else the shared ones."""
        return list(self.names.get(f"{kind}.copy_to", self.names.get("copy_to", [])))

    def printed_by(self, kind: str) -> str | None:
        """印发机关 of report ``kind``: its section's, else the shared one."""
        return self.texts.get(f"{kind}.printed_by") or self.texts.get("printed_by")

    @property
    def addressee(self) -> str | None:
        return f"{self.upper_bureau.rstrip('：:')}：" if self.upper_bureau else None


def canonical_area(name: str) -> str:
    """The standard's name of an area (内管工作 → 内部监管)."""
    name = name.strip()
    return AREA_ALIASES.get(name, name)


_CJK = "\u3000-\u303f\u3400-\u9fff\uff00-\uffef“”‘’"
_SPACE_BY_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")


def tidy(text: str) -> str:
    """Text as written in YAML, without the spaces that folding lines (``>-``) leaves
    between Chinese characters."""
    return _SPACE_BY_CJK.sub("", text.strip())


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str | int | float):
        return tidy(str(value)) or None
    return None


def _entries(raw: Any, where: str, line: int | None, problems: list[Problem]) -> list[Entry]:
    if raw is None:
        return []
    if isinstance(raw, str | dict):
        raw = [raw]
    if not isinstance(raw, list):
        problems.append(Problem(line, where, "段落列表", type(raw).__name__))
        return []
    out = []
    for i, item in enumerate(raw):
        row = line_of(raw, i) or line
        if isinstance(item, str) and item.strip():
            out.append(Entry(tidy(item)))
        elif isinstance(item, dict):
            unknown = set(item) - {"title", "text", "lead"}
            text, title, lead = (
                _str(item.get("text")),
                _str(item.get("title")),
                _str(item.get("lead")),
            )
            if unknown:
                problems.append(
                    Problem(row, f"{where}[{i + 1}]", "title/text/lead", "、".join(sorted(unknown)))
                )
            elif not (text or title):
                problems.append(
                    Problem(row, f"{where}[{i + 1}]", "非空的 text 或 title", repr(item))
                )
            elif title and lead:
                problems.append(
                    Problem(row, f"{where}[{i + 1}]", "title 与 lead 只写一个", repr(item))
                )
            else:
                out.append(Entry(text or "", title=title, lead=lead))
        else:
            problems.append(
                Problem(row, f"{where}[{i + 1}]", "一段文字或 {title, text}", repr(item))
            )
    return out


_NAME_SEPARATORS = re.compile(r"[、，,；;]")


def split_names(text: str) -> list[str]:
    """ "王建国、李红梅" → ["王建国", "李红梅"] (、，,；; separate names)."""
    return [tidy(n) for n in _NAME_SEPARATORS.split(text) if tidy(n)]


def _names(raw: Any, where: str, line: int | None, problems: list[Problem]) -> list[str]:
    """A list of names (签发人, 抄送机关): a YAML list, or one line separated by 、 or ，."""
    if isinstance(raw, str):
        return split_names(raw)
    if not isinstance(raw, list):
        problems.append(Problem(line, where, "名称列表, 如 [王建国, 李红梅]", repr(raw)))
        return []
    out = []
    for i, item in enumerate(raw):
        name = _str(item)
        if name is None:
            problems.append(
                Problem(line_of(raw, i) or line, f"{where}[{i + 1}]", "非空的名称", repr(item))
            )
        else:
            out.append(name)
    return out


def _areas(raw: Any, where: str, line: int | None, problems: list[Problem]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(Problem(line, where, "“方面: 文字” 的映射", type(raw).__name__))
        return {}
    out = {}
    for area, text in raw.items():
        value = _str(text)
        if isinstance(text, list):
            value = "".join(tidy(t) for t in text if isinstance(t, str))
        if not value:
            problems.append(
                Problem(key_line(raw, area), f"{where}.{area}", "非空的文字", repr(text))
            )
            continue
        out[canonical_area(str(area))] = value
    return out


def parse_narrative(data: Any, path: Path | None = None) -> Narrative:
    """Validate parsed YAML; raise :class:`ValidationError` listing every problem at once."""
    source = str(path) if path is not None else NARRATIVE_FILE
    problems: list[Problem] = []
    narrative = Narrative(path=path)
    if data is None:
        return narrative
    if not isinstance(data, dict):
        raise ValidationError(
            source, [Problem(None, "文件", "YAML 映射 (键: 值)", type(data).__name__)]
        )
    for key in sorted(set(data) - _TOP):
        problems.append(Problem(key_line(data, key), str(key), "、".join(sorted(_TOP)), str(key)))
    for key in ("bureau", "upper_bureau", "doc_prefix"):
        if key in data and data[key] is not None and _str(data[key]) is None:
            problems.append(Problem(key_line(data, key), key, "一行文字", repr(data[key])))
        setattr(narrative, key, _str(data.get(key)))
    for key in ("signers", "copy_to"):
        if data.get(key) is not None:
            narrative.names[key] = _names(data[key], key, key_line(data, key), problems)
    if data.get("printed_by") is not None:
        value = _str(data["printed_by"])
        if value is None:
            problems.append(
                Problem(
                    key_line(data, "printed_by"), "printed_by", "一行文字", repr(data["printed_by"])
                )
            )
        else:
            narrative.texts["printed_by"] = value
    narrative.leading_group = _leading_group(
        data.get("leading_group"), key_line(data, "leading_group"), problems
    )
    owners = data.get("owners")
    if owners is not None:
        narrative.owners = _areas(owners, "owners", key_line(data, "owners"), problems)
    for section, spec in _SECTIONS.items():
        raw = data.get(section)
        if raw is None:
            continue
        line = key_line(data, section)
        if not isinstance(raw, dict):
            problems.append(Problem(line, section, "映射 (键: 值)", type(raw).__name__))
            continue
        for key in sorted(set(raw) - set(spec)):
            problems.append(
                Problem(key_line(raw, key), f"{section}.{key}", "、".join(sorted(spec)), str(key))
            )
        for key, kind in spec.items():
            if key not in raw:
                continue
            where, kline = f"{section}.{key}", key_line(raw, key)
            if kind == "text":
                value = _str(raw[key])
                if value is None:
                    problems.append(Problem(kline, where, "一段文字", repr(raw[key])))
                else:
                    narrative.texts[where] = value
            elif kind == "names":
                if raw[key] is not None:
                    narrative.names[where] = _names(raw[key], where, kline, problems)
            elif kind == "list":
                narrative.lists[where] = _entries(raw[key], where, kline, problems)
            else:
                narrative.area_texts[where] = _areas(raw[key], where, kline, problems)
    if problems:
        raise ValidationError(source, problems)
    return narrative


def _leading_group(raw: Any, line: int | None, problems: list[Problem]) -> list[Entry]:
    if isinstance(raw, dict) and set(raw) <= {"text", "title", "lead"}:
        return _entries([raw], "leading_group", line, problems)
    if isinstance(raw, dict):
        # {text: ..., members: [...]} style: every value a paragraph, in order
        out = []
        for key, value in raw.items():
            out += _entries(value, f"leading_group.{key}", key_line(raw, key), problems)
        return out
    return _entries(raw, "leading_group", line, problems)


def load_narrative(path: Path) -> Narrative:
    """Read and validate a narrative file (:class:`ConfigError` when it is not YAML,
    :class:`ValidationError` with every problem when its content is wrong)."""
    return parse_narrative(load_yaml_lines(path), path)


def narrative_of(root: Path, path: Path | None = None) -> Narrative:
    """The archive's ``报告素材.yaml`` (or ``path``); an empty narrative when there is none."""
    if path is not None:
        from archive.core.errors import NotFoundError

        if not Path(path).is_file():
            raise NotFoundError(
                f"{path}: 找不到报告素材文件; 请检查路径 (样例见 samples/narrative.yaml)"
            )
        return load_narrative(Path(path))
    default = root / NARRATIVE_FILE
    return load_narrative(default) if default.is_file() else Narrative()
