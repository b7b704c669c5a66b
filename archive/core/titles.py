"""What a work material is called: the title its file name, or its first lines, give.

Pure functions, no I/O. A clerk names a scan of the bureau's own papers
``2024年10月内管预警处理报告.pdf`` or ``2024年宣传活动记录（第2次）.pdf``: the year, month,
quarter, sitting and sequence parts say which issue it is, the rest what it is.
:func:`work_title` keeps the rest (``内管预警处理报告``, ``宣传活动记录``), the type such a paper
is filed under among the work materials (``工作材料/<年>/``) when the rules name no type for it.

A name a scanner, camera or editor gave (``扫描0001``, ``IMG_1234``, ``新建文档``, ``微信图片_…``)
says nothing of what the paper is: no title. :func:`title_line` reads a title from the first
lines of the text instead, but only a line that plainly is one (it ends as a document's name
does: 报告, 记录, 表, 方案, 制度 …). :func:`evidence_type` prefers the name the bureau's scoring
standard gives the paper (matched as the audit matches it, :func:`normalise_doc_type`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from archive.core.doctypes import normalise_doc_type
from archive.core.keys import to_halfwidth
from archive.core.meetings import name_year, without_issuer, without_when

MIN_CJK = 2  # a title has at least two Chinese characters
MAX_TITLE = 40  # characters: a longer "title" is a sentence or lines run together
# Names devices and programs give a new file: with the digits and Latin letters gone, these
# words are all that is left of them.
_DEFAULT_WORDS = (
    "扫描全能王",
    "扫描文件",
    "扫描图片",
    "扫描件",
    "扫描版",
    "扫描",
    "微信图片",
    "屏幕截图",
    "截图",
    "截屏",
    "新建文本文档",
    "新建文档",
    "新建文件夹",
    "新建文件",
    "新建",
    "未命名",
    "未标题",
    "无标题",
    "文档",
    "文件",
    "图片",
    "图像",
    "副本",
    "复件",
)
_DEFAULT_PREFIX = re.compile("^(?:" + "|".join(_DEFAULT_WORDS) + ")+")
_DEFAULT_ONLY = re.compile("^(?:" + "|".join(_DEFAULT_WORDS) + ")*$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Dates in figures (2024-10-15, 2024.10, 20241015, 202410) and the clock times of a camera's name
_FIGURES_DATE = re.compile(
    r"(?<![0-9])(?:19|20)\d{2}(?:年\d{1,2}月\d{1,2}[日号]|[-._/]\d{1,2}(?:[-._/]\d{1,2})?"
    r"|(?:0[1-9]|1[0-2])(?:[0-3]\d)?)(?![0-9])"
)
_SITTING = re.compile(r"第[0-9一二三四五六七八九十百]+[次期批轮号份]")
# Drafting and copying marks: （定稿） 终稿 -副本 (2) …
_MARKS = re.compile(r"(?:定稿|终稿|最终版|修改稿|修订稿|盖章版|签字版|扫描件|扫描版|副本|复件)")
_EMPTY_BRACKETS = re.compile(r"[（(【\[〔][\s._\-、,，]*[）)】\]〕]")
_SEPARATORS = " \t_-—–·.、，,:：;；#~+"
# Leading and trailing sequence numbers: 01_, 1.、(3), -2, _001
_LEADING_SEQ = re.compile(r"^(?:[0-9]+|[（(][0-9]+[）)])(?=[\s._\-、，,)）]|[\u4e00-\u9fff])")
_TRAILING_SEQ = re.compile(r"(?:[（(][0-9]+[）)]|(?<![0-9A-Za-z])[0-9]{1,4})$")
# How a document's name ends (a line of text is taken as a title only when it ends so).
_DOC_ENDINGS = (
    "报告",
    "记录",
    "表",
    "方案",
    "计划",
    "规划",
    "总结",
    "制度",
    "汇编",
    "职责",
    "台账",
    "台帐",
    "通知",
    "通报",
    "简报",
    "办法",
    "细则",
    "规定",
    "规范",
    "守则",
    "标准",
    "流程",
    "预案",
    "要点",
    "清单",
    "名单",
    "名册",
    "目录",
    "册",
    "簿",
    "材料",
    "资料",
    "说明",
    "意见",
    "纪要",
    "协议",
    "合同",
    "书",
    "证明",
    "照片",
    "图",
    "公示",
    "公告",
    "请示",
    "批复",
    "函",
    "分析",
    "统计",
    "心得",
    "体会",
    "笔记",
    "手册",
    "日志",
)


def _strip(text: str) -> str:
    return text.strip(_SEPARATORS)


def work_title(raw: str | None, bureau: str | None = None) -> str | None:
    """The title a file name (without its extension) gives a work material, or None.

    ``2024年10月内管预警处理报告`` → ``内管预警处理报告``; ``2024年宣传活动记录（第2次）`` →
    ``宣传活动记录``; ``潼关县烟草专卖局2024年度工作总结-副本(2)`` → ``年度工作总结``;
    ``扫描0001``, ``IMG_1234``, ``新建 Microsoft Word 文档``, ``2024年10月`` → None.
    """
    if not raw:
        return None
    name = "".join(to_halfwidth(raw).split())
    name = _FIGURES_DATE.sub(" ", name)
    name = _SITTING.sub(" ", without_when(name))
    name = _MARKS.sub(" ", name)
    previous = None
    while previous != name:
        previous = name
        name = _EMPTY_BRACKETS.sub(" ", name)
        name = _strip(name)
        name = _strip(_LEADING_SEQ.sub("", name))
        name = _strip(_TRAILING_SEQ.sub("", name))
        name = _strip(_DEFAULT_PREFIX.sub("", name))
    name = without_issuer(re.sub(r"\s+", "", name), bureau)
    name = re.sub(r"^[的、]+", "", _strip(name))
    cjk = "".join(_CJK.findall(name))
    if len(cjk) < MIN_CJK or _DEFAULT_ONLY.match(cjk) or len(name) > MAX_TITLE:
        return None
    return name


def title_line(lines: Iterable[str], bureau: str | None = None) -> str | None:
    """The title among the first lines of a page (the caller passes the few at the top): the
    first line that is plainly a document's name, as :func:`work_title` cleans it; None when
    none is (a label line ``单位：…``, a sentence, the bureau's name, a stray word)."""
    for line in lines:
        text = "".join(to_halfwidth(line).split())
        if not text or re.search(r"[:：。；;！？!?]|[，,].*[，,]", text):
            continue
        title = work_title(text, bureau)
        if title is not None and title.endswith(_DOC_ENDINGS):
            return title
    return None


def year_written(texts: Iterable[str]) -> int | None:
    """The first year written in ``texts`` (``2024年``, ``2024年度``, ``二〇二四年``), tried in order."""
    for text in texts:
        year = name_year(text)
        if year is not None:
            return year
    return None


def evidence_type(titles: Iterable[str | None], evidence_types: Iterable[str]) -> str | None:
    """The scoring standard's name for a paper with these titles: the longest of
    ``evidence_types`` one of them holds (as the audit matches them), else None."""
    named = [normalise_doc_type(t) for t in titles if t]
    best: tuple[int, str] | None = None
    for wanted in evidence_types:
        key = normalise_doc_type(wanted)
        if key and any(key in n for n in named) and (best is None or len(key) > best[0]):
            best = (len(key), wanted)
    return best[1] if best else None


HEAD_LINES = 6  # lines at the top of the first page where a title is looked for
NO_TITLE = "文件名没有写明是什么材料 (如扫描仪默认的文件名), 正文开头也没有标题"
NO_YEAR = "文件名和正文都没有写明年份"


def head_lines(text: str) -> list[str]:
    """The first non-blank lines of the first page (pages are separated by form feeds)."""
    first = text.split("\f", 1)[0]
    return [line.strip() for line in first.splitlines() if line.strip()][:HEAD_LINES]


@dataclass(frozen=True)
class WorkType:
    """What a paper the rules have no type for is, as a work material."""

    doc_type: str | None  # None: it cannot be filed among the work materials (``missing``)
    year: int | None
    note: str | None = None  # how the type was decided (类型按文件名确定 …)
    from_text: bool = False  # the title came from the text, not the name
    missing: str | None = None  # NO_TITLE or NO_YEAR


def name_work_material(
    name: str,
    text: str,
    year: int | None,
    evidence_types: Iterable[str] = (),
    bureau: str | None = None,
) -> WorkType:
    """The type and year of a work material the rules have no type for: its title from the
    file name ``name`` (else the title line of ``text``), the name the scoring standard gives
    it first (``evidence_types``); its year ``year`` when known, else the one the name or the
    top of the text writes. ``doc_type`` is None, and ``missing`` says why, without a clear
    title or a year (see :mod:`archive.intake.worktype`)."""
    head = head_lines(text)
    year = year or year_written([name]) or year_written(head)
    from_name = work_title(name, bureau)
    from_text = title_line(head, bureau)
    if from_name is None and from_text is None:
        return WorkType(None, year, missing=NO_TITLE)
    if year is None:
        return WorkType(None, None, missing=NO_YEAR)
    evidence = tuple(evidence_types)
    by_name = evidence_type([from_name], evidence)
    standard_name = by_name or evidence_type([from_text], evidence)
    if standard_name is not None:
        where = "文件名" if by_name else "正文标题"
        note = f"类型按{where}对应评分标准中的“{standard_name}”确定"
        return WorkType(standard_name, year, note, from_text=by_name is None)
    if from_name is not None:
        return WorkType(from_name, year, "类型按文件名确定")
    return WorkType(from_text, year, "类型按正文标题确定", from_text=True)
