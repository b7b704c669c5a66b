"""Work materials the rules have no type for, typed by their title.

A county bureau files far more kinds of its own papers than any rules list: 内管预警处理报告,
宣传活动记录, 市场净化率测算表, 岗位职责, 工作制度汇编 … mostly the evidence its scoring
standard asks for. Dropped into ``inbox/其他/`` (or anywhere that is not a household, case or
meeting folder) and named as clerks name them (``2024年10月内管预警处理报告.pdf``), such a
paper is filed among the work materials (``工作材料/<年>/``) with its title as its type
(:func:`type_work_material`), when:

* it is not a household, case or meeting paper (the content classifier decided that first:
  a paper with a licence number, a case number or a meeting's name goes to that dossier or
  waits in the tray for its key), and the rules name no type for it;
* its title is clear: the file name without its year, month, quarter, sitting and sequence
  parts (:func:`archive.core.titles.work_title`), or, when the name is a scanner's
  (``扫描0001``), the title line at the top of its text (:func:`archive.core.titles.title_line`);
* its year is known: the file name or folder, a date in the text, a year written at its top.

The name the bureau's scoring standard (``评分标准.yaml``) gives the paper wins over the bare
title (``城关所2024年第一季度企务公开记录`` is filed as ``企务公开记录``), so the audit, the
dossier lists and the clerk speak of it by one name. How the type was decided is kept
(``DocKeys.type_note``; intake writes it into the record's history). A paper without a clear
title or a year waits in the tray, with the reason in its notes
(:func:`archive.core.titles.name_work_material` decides).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from archive.core.config import CRITERIA_FILE
from archive.core.dockeys import DocKeys
from archive.core.errors import ArchiveError
from archive.core.titles import head_lines, name_work_material, year_written
from archive.core.yaml_lines import load_yaml_lines


def type_work_material(
    keys: DocKeys, text: str, evidence_types: tuple[str, ...] = (), bureau: str | None = None
) -> DocKeys:
    """``keys`` of a paper the classifier left among the work materials, typed by its title
    when the rules named no type (see the module doc). Pure; other keys come back as they are.

    A work material the rules did type (实施方案 …) takes the year its name or the top of its
    text writes, when the path and the text gave none (not the year it is filed in)."""
    if keys.dossier_kind != "other":
        return keys
    name = keys.name or ""
    if keys.doc_type is not None:
        if keys.year is not None:
            return keys
        year = year_written([name]) or year_written(head_lines(text))
        return keys if year is None else dataclasses.replace(keys, year=year)
    typed = name_work_material(name, text, keys.year, evidence_types, bureau)
    new = dataclasses.replace(keys, notes=list(keys.notes))
    if typed.doc_type is None:
        new.notes.append(str(typed.missing))
        return new
    new.doc_type, new.year, new.type_note = typed.doc_type, typed.year, typed.note
    if typed.from_text:
        new.source = "content"
    return new


def standard_doc_types(root: Path) -> tuple[str, ...]:
    """The document types the archive's imported scoring standard (``评分标准.yaml``) names as
    evidence (``kind: documents``). Empty without one; a standard that does not load gives
    none either (the audit names its problems: here it only helps name papers)."""
    path = Path(root) / CRITERIA_FILE
    if not path.is_file():
        return ()
    try:
        data = load_yaml_lines(path)
    except (ArchiveError, OSError):
        return ()
    found: list[str] = []
    _collect(data, found)
    return tuple(dict.fromkeys(found))


def _collect(node: Any, found: list[str]) -> None:
    if isinstance(node, dict):
        if node.get("kind") == "documents" and isinstance(node.get("doc_types"), list):
            found += [str(t).strip() for t in node["doc_types"] if str(t).strip()]
        for value in node.values():
            _collect(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect(value, found)
