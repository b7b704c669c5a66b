"""The official-document (公文) model shared by every generated report.

A report is an :class:`OfficialDocument` value: title, optional document number
(发文字号) and signers (签发人), addressee (主送机关), body blocks (headings, paragraphs,
tables), closing (结束语), issuer (发文机关署名), date (成文日期), attachments (附件) and the
版记 (抄送机关, 印发机关和印发日期).  The model knows nothing about the archive;
``archive.paperwork.render_docx`` and ``archive.paperwork.render_pdf`` lay it out per GB/T 9704-2012.

Layout constants of GB/T 9704-2012 live here so that both renderers agree:
A4, 版心 156 mm x 225 mm, top margin 37 mm, binding (left) margin 28 mm, hence right
26 mm and bottom 35 mm; 22 lines of 28 characters of 三号 (16 pt) type.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from archive.core.errors import ConfigError, Problem, UsageError, ValidationError


class TemplateError(ConfigError):
    """A report template (archive/paperwork/templates/docx/*.docx, archive/paperwork/templates/html/*) cannot be rendered.

    ``template`` is the file, ``tag`` the offending Jinja tag when it could be found.
    """

    def __init__(self, message: str, *, template: Path, tag: str | None = None) -> None:
        super().__init__(message)
        self.template = template
        self.tag = tag


# --- GB/T 9704-2012 page geometry -------------------------------------------------

MM_PER_PT = 25.4 / 72
TWIPS_PER_PT = 20

PAGE_WIDTH_MM = 210.0
PAGE_HEIGHT_MM = 297.0
MARGIN_TOP_MM = 37.0
MARGIN_LEFT_MM = 28.0  # 订口 (binding edge)
TYPE_AREA_WIDTH_MM = 156.0
TYPE_AREA_HEIGHT_MM = 225.0
MARGIN_RIGHT_MM = PAGE_WIDTH_MM - MARGIN_LEFT_MM - TYPE_AREA_WIDTH_MM  # 26 mm
MARGIN_BOTTOM_MM = PAGE_HEIGHT_MM - MARGIN_TOP_MM - TYPE_AREA_HEIGHT_MM  # 35 mm
LINES_PER_PAGE = 22
CHARS_PER_LINE = 28
BODY_PT = 16.0  # 三号
TITLE_PT = 22.0  # 二号
PAGE_NUMBER_PT = 14.0  # 四号
PAGE_NUMBER_GAP_MM = 7.0  # 一字线上距版心下边缘 7 mm
TABLE_PT = 12.0  # 小四, tables
BANJI_PT = 14.0  # 四号: 抄送机关, 印发机关和印发日期 (版记)
BANJI_THICK_MM = 0.35  # 版记的首条和末条分隔线
BANJI_THIN_MM = 0.25  # 版记中间的分隔线


def mm_to_pt(mm: float) -> float:
    return mm / MM_PER_PT


def mm_to_twips(mm: float) -> int:
    return round(mm_to_pt(mm) * TWIPS_PER_PT)


def line_pitch_twips() -> int:
    """Exact line pitch (twips) that fits 22 lines in the 225 mm type area.

    225 mm = 12756 twips; 12756 / 22 = 579.8, so 580 twips (29 pt) would fit only 21
    lines: the pitch is rounded *down* to 579 twips = 28.95 pt.
    """
    return int(mm_to_twips(TYPE_AREA_HEIGHT_MM) // LINES_PER_PAGE)


def line_pitch_pt() -> float:
    return line_pitch_twips() / TWIPS_PER_PT


def char_pitch_pt() -> float:
    """Character pitch giving 28 characters in the 156 mm type width (about 15.79 pt)."""
    return mm_to_pt(TYPE_AREA_WIDTH_MM) / CHARS_PER_LINE


def letter_spacing_pt() -> float:
    """Tracking to add to 16 pt characters so that 28 fit a line (negative, ~-0.21 pt).

    Rounded down to the next 0.01 pt so rounding never pushes the 28th character over.
    """
    return int((char_pitch_pt() - BODY_PT) * 100 - 1) / 100


# --- the model ---------------------------------------------------------------------

HEADING_LEVELS = (1, 2, 3, 4)
TABLE_ALIGNS = ("left", "center", "right")


@dataclass
class Heading:
    """A structural heading: level 1 "一、", 2 "（一）", 3 "1.", 4 "（1）".

    ``number`` is the label; leave it ``None`` to number automatically.  ``run_in`` is
    body text that continues in the same paragraph after the heading, as in
    "（一）健全组织机构。围绕创建工作，……" (the heading keeps its font, the rest is 仿宋).
    """

    level: int
    text: str
    number: str | None = None
    run_in: str | None = None


@dataclass
class Paragraph:
    """A body paragraph (首行缩进二字).  ``bold_lead`` is a run-in lead sentence set in bold,
    e.g. "一是强化了硬件设施基础。"."""

    text: str
    bold_lead: str | None = None


@dataclass
class Table:
    """A bordered table: a findings table (问题/措施/结果/证据) or a figures table.

    ``widths`` are relative column weights (any positive numbers); ``None`` = equal.
    ``align`` is per column "left", "center" or "right" (body cells; headers are
    centred); ``None`` = all left.
    """

    columns: list[str]
    rows: list[list[str]]
    caption: str | None = None
    widths: list[float] | None = None
    align: list[str] | None = None

    def alignments(self) -> list[str]:
        return list(self.align) if self.align is not None else ["left"] * len(self.columns)


Block = Heading | Paragraph | Table


@dataclass
class Attachment:
    """A 附件: listed in the 附件说明 after the body, printed on its own pages after the
    signature with the label "附件1" and its title."""

    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class OfficialDocument:
    title: str
    issuer: str  # 发文机关署名, e.g. "潼关县烟草专卖局"
    date: _dt.date  # 成文日期
    blocks: list[Block] = field(default_factory=list)
    doc_number: str | None = None  # 发文字号, e.g. "潼烟专〔2024〕1号"
    addressee: str | None = None  # 主送机关, e.g. "渭南市烟草专卖局："
    closing: str | None = None  # 结束语, e.g. "特此报告。"
    attachments: list[Attachment] = field(default_factory=list)
    header_org: str | None = None  # 发文机关标志 (red masthead), e.g. "潼关县烟草专卖局文件"
    signers: list[str] = field(default_factory=list)  # 签发人 (上行文), e.g. ["王建国"]
    copy_to: list[str] = field(default_factory=list)  # 抄送机关 (版记)
    printed_by: str | None = None  # 印发机关 (版记), e.g. "潼关县烟草专卖局办公室"
    printed_on: _dt.date | None = None  # 印发日期 (版记); None: the 成文日期

    @property
    def title_lines(self) -> list[str]:
        """The title split on line breaks (a long title is set on several lines)."""
        return [line.strip() for line in self.title.splitlines() if line.strip()]

    def validate(self) -> None:
        """Raise ValidationError listing every problem of the document at once."""
        problems: list[Problem] = []
        if not self.title_lines:
            problems.append(Problem(None, "标题", "非空的标题", self.title))
        if not self.issuer.strip():
            problems.append(Problem(None, "发文机关署名", "非空的机关名称", self.issuer))
        if not isinstance(self.date, _dt.date):
            problems.append(Problem(None, "成文日期", "datetime.date", repr(self.date)))
        _check_blocks(self.blocks, "正文", problems)
        _check_marks(self, problems)
        for i, att in enumerate(self.attachments, start=1):
            if not att.title.strip():
                problems.append(Problem(i, f"附件{i}标题", "非空的附件标题", att.title))
            _check_blocks(att.blocks, f"附件{i}", problems)
        if problems:
            raise ValidationError(f"公文《{self.title.strip() or '(无标题)'}》", problems)

    @property
    def has_banji(self) -> bool:
        """Whether the document carries a 版记 (抄送机关 and/or 印发机关)."""
        return bool(self.copy_to) or self.printed_by is not None

    @property
    def print_date(self) -> _dt.date:
        """印发日期: ``printed_on``, else the 成文日期."""
        return self.printed_on if self.printed_on is not None else self.date


def _check_marks(doc: OfficialDocument, problems: list[Problem]) -> None:
    """签发人 and 版记: names present, dates sensible, the signer block fits its line."""
    for what, names in (("签发人", doc.signers), ("抄送机关", doc.copy_to)):
        for i, name in enumerate(names, start=1):
            if not isinstance(name, str) or not name.strip() or "\n" in name.strip():
                problems.append(Problem(i, what, "非空的一行名称", repr(name)))
    if doc.printed_by is not None and not doc.printed_by.strip():
        problems.append(Problem(None, "印发机关", "非空的机关名称", doc.printed_by))
    if doc.printed_on is not None:
        if not isinstance(doc.printed_on, _dt.date):
            problems.append(Problem(None, "印发日期", "datetime.date", repr(doc.printed_on)))
        elif doc.printed_by is None:
            problems.append(
                Problem(None, "印发日期", "与印发机关一起给出", chinese_date(doc.printed_on))
            )
        elif isinstance(doc.date, _dt.date) and doc.printed_on < doc.date:
            problems.append(
                Problem(
                    None,
                    "印发日期",
                    f"不早于成文日期 {chinese_date(doc.date)}",
                    chinese_date(doc.printed_on),
                )
            )
    if any(not isinstance(n, str) or not n.strip() for n in doc.signers):
        return
    lines = signer_layout(doc.signers, doc.doc_number)
    if lines and lines[0].x_em < 0:
        problems.append(
            Problem(
                None, "签发人", f"每行排得下 (版心宽 {CHARS_PER_LINE} 字)", "、".join(doc.signers)
            )
        )
    elif lines and lines[-1].doc_number:
        room = lines[-1].x_em - 1 - text_width_em(lines[-1].doc_number)
        if room < 1:
            problems.append(
                Problem(
                    None,
                    "发文字号",
                    "与签发人排得下同一行 (GB/T 9704: 发文字号居左空一字, 签发人居右空一字)",
                    f"{lines[-1].doc_number} / 签发人：{'、'.join(doc.signers)}",
                )
            )


def _check_blocks(blocks: list[Block], where: str, problems: list[Problem]) -> None:
    for row, block in enumerate(blocks, start=1):
        if isinstance(block, Heading):
            if block.level not in HEADING_LEVELS:
                problems.append(
                    Problem(row, f"{where}标题层级", "1–4 (一、/（一）/1./（1）)", str(block.level))
                )
            if not block.text.strip():
                problems.append(Problem(row, f"{where}标题", "非空的标题文字", block.text))
        elif isinstance(block, Paragraph):
            if not block.text.strip() and not (block.bold_lead or "").strip():
                problems.append(Problem(row, f"{where}段落", "非空的段落", block.text))
        elif isinstance(block, Table):
            n = len(block.columns)
            if n == 0:
                problems.append(Problem(row, f"{where}表格列", "至少一列", "0 列"))
            for r, cells in enumerate(block.rows, start=1):
                if len(cells) != n:
                    problems.append(
                        Problem(row, f"{where}表格第{r}行", f"{n} 个单元格", f"{len(cells)} 个")
                    )
            if block.widths is not None and (
                len(block.widths) != n or any(w <= 0 for w in block.widths)
            ):
                problems.append(Problem(row, f"{where}表格列宽", f"{n} 个正数", repr(block.widths)))
            if block.align is not None and (
                len(block.align) != n or any(a not in TABLE_ALIGNS for a in block.align)
            ):
                problems.append(
                    Problem(row, f"{where}表格对齐", f"{n} 个 left/center/right", repr(block.align))
                )
        else:
            problems.append(
                Problem(row, f"{where}内容块", "Heading/Paragraph/Table", type(block).__name__)
            )


# --- numbering ---------------------------------------------------------------------

_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 99 → 九十九 (headings never go further)."""
    if not 1 <= n <= 99:
        raise UsageError(f"标题序号 {n} 超出范围 1–99")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    head = "十" if tens == 1 else _DIGITS[tens] + "十"
    return head + (_DIGITS[ones] if ones else "")


def heading_label(level: int, n: int) -> str:
    """The GB/T 9704 structural label: 一、 / （一） / 1. / （1）."""
    if level == 1:
        return f"{chinese_numeral(n)}、"
    if level == 2:
        return f"（{chinese_numeral(n)}）"
    if level == 3:
        return f"{n}."
    if level == 4:
        return f"（{n}）"
    raise UsageError(f"标题层级 {level} 无效: 只有 1–4 级 (一、/（一）/1./（1）)")


def numbered(blocks: list[Block]) -> list[tuple[Block, str]]:
    """Pair each block with its label ("" for non-headings).

    Counters restart below each higher heading; a heading with an explicit ``number``
    keeps it and still advances its counter.
    """
    counters = [0, 0, 0, 0, 0]
    out: list[tuple[Block, str]] = []
    for block in blocks:
        if isinstance(block, Heading) and block.level in HEADING_LEVELS:
            counters[block.level] += 1
            for deeper in range(block.level + 1, 5):
                counters[deeper] = 0
            label = (
                block.number
                if block.number is not None
                else heading_label(block.level, counters[block.level])
            )
            out.append((block, label))
        else:
            out.append((block, ""))
    return out


_LABEL_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(r"^\s*([一二三四五六七八九十]{1,3})\s*[、，,]\s*")),
    (2, re.compile(r"^\s*[（(]\s*([一二三四五六七八九十]{1,3})\s*[）)]\s*[、，,]?\s*")),
    (3, re.compile(r"^\s*([0-9０-９]{1,2})\s*[.．、](?![0-9０-９])\s*")),
    (4, re.compile(r"^\s*[（(]\s*([0-9０-９]{1,2})\s*[）)]\s*[、，,]?\s*")),
)


def parse_heading(line: str) -> tuple[int, str] | None:
    """Recognise a structural label at the start of a line (full- or half-width).

    Returns (level, text without the label) or None.  "1、" is accepted as level 3 (a
    common slip in real documents; the renderer writes the correct "1.").
    """
    for level, pattern in _LABEL_PATTERNS:
        m = pattern.match(line)
        if m:
            return level, line[m.end() :].strip()
    return None


# --- document numbers and dates -------------------------------------------------------

DocNumberStyle = Literal["bureau", "enforcement"]

_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_DOC_NUMBER = re.compile(
    r"^\s*(?P<prefix>[^\s〔〕\[\]【】［］()（）]*?)\s*[〔\[【［(（]\s*(?P<year>[0-9０-９]{4})\s*"
    r"[〕\]】］)）]\s*(?P<di>第?)\s*(?P<n>[0-9０-９]+)\s*号\s*$"
)


def format_doc_number(
    prefix: str, year: int | None, n: int, *, style: DocNumberStyle = "bureau"
) -> str:
    """发文字号 per GB/T 9704: "潼烟专〔2024〕1号" (六角括号, no leading zeros, no 第).

    ``style="enforcement"`` gives the numbering of enforcement papers (案卷/文书):
    "潼烟罚〔2024〕第1号"; with an empty prefix and no year, just "第1号".
    """
    if n < 1:
        raise UsageError(f"发文序号应为正整数, 实为 {n}")
    if year is not None and not 1900 <= year <= 2999:
        raise UsageError(f"发文年份应为四位年份, 实为 {year}")
    if style == "bureau":
        if not prefix.strip() or year is None:
            raise UsageError("机关发文字号需要机关代字和年份, 如 潼烟专〔2024〕1号")
        return f"{prefix.strip()}〔{year}〕{n}号"
    if style == "enforcement":
        if year is None:
            return f"{prefix.strip()}第{n}号"
        return f"{prefix.strip()}〔{year}〕第{n}号"
    raise UsageError(f"未知的文号样式 {style!r}: 应为 'bureau' 或 'enforcement'")


def parse_doc_number(text: str) -> tuple[str, int, int, DocNumberStyle] | None:
    """Read back a document number written with any bracket 〔〕[]【】［］() and full- or
    half-width digits: "潼烟罚[2011]第12号" → ("潼烟罚", 2011, 12, "enforcement")."""
    m = _DOC_NUMBER.match(text)
    if not m:
        return None
    year = int(m["year"].translate(_FULLWIDTH_DIGITS))
    n = int(m["n"].translate(_FULLWIDTH_DIGITS))
    style: DocNumberStyle = "enforcement" if m["di"] else "bureau"
    return m["prefix"], year, n, style


def chinese_date(d: _dt.date) -> str:
    """成文日期 in Arabic numerals without leading zeros (GB/T 9704-2012): 2024年3月5日."""
    return f"{d.year}年{d.month}月{d.day}日"


# --- text width (for the signature block) ---------------------------------------------


def text_width_em(text: str) -> float:
    """Width of text in ems of body type: CJK and full-width forms 1, ASCII 0.5."""
    width = 0.0
    for ch in text:
        width += 0.5 if ord(ch) < 0x2E80 and ch not in "—…“”‘’" else 1.0
    return width


def signature_indents_em(issuer: str, date_text: str) -> tuple[float, float]:
    """Right indents (in characters) of the issuer line and the date line.

    GB/T 9704-2012 7.3.5.2 (不加盖印章): the issuer is set 右空二字; the date goes on the
    next line, its first character two characters right of the issuer's first character;
    if the date is then longer than the issuer, the date is set 右空二字 and the issuer
    moves left instead.
    """
    li, ld = text_width_em(issuer), text_width_em(date_text)
    date_right = li - ld
    if date_right >= 2:
        return 2.0, date_right
    return 4.0 + ld - li, 2.0


# --- 签发人 and 版记 -------------------------------------------------------------------------

SIGNER_LABEL = "签发人："
SIGNERS_PER_LINE = 2  # GB/T 9704 7.2.5: 一般每行排两个姓名
SIGNER_GAP = "\u3000"  # one 全角空格 between two names on a line


@dataclass(frozen=True)
class SignerLine:
    """One line of the 签发人 block.

    ``x_em`` is where the line's text starts, in characters of body type from the left
    margin: "签发人：" on the first line, the names of a continuation line under the
    first name above (GB/T 9704 7.2.5: 回行时与上一行第一个签发人姓名对齐).  The block is set
    so that its widest line ends one character short of the right margin (居右空一字).
    ``doc_number`` is set on the last line only: the 发文字号 sits on that line, 居左空一字.
    """

    label: str
    names: tuple[str, ...]
    x_em: float
    doc_number: str = ""

    @property
    def names_text(self) -> str:
        return SIGNER_GAP.join(self.names)


def signer_layout(signers: list[str], doc_number: str | None) -> list[SignerLine]:
    """Lay out 签发人 per GB/T 9704-2012 7.2.4/7.2.5: two names a line; the block's widest
    line ends 空一字 from the right margin; continuation lines align with the first name;
    the 发文字号 goes on the last line, 空一字 from the left margin.  No signers: []."""
    names = [n.strip() for n in signers if n.strip()]
    if not names:
        return []
    rows = [tuple(names[i : i + SIGNERS_PER_LINE]) for i in range(0, len(names), SIGNERS_PER_LINE)]
    label_em = text_width_em(SIGNER_LABEL)
    widest = max(text_width_em(SIGNER_GAP.join(row)) for row in rows)
    left = CHARS_PER_LINE - 1 - label_em - widest
    lines = [
        SignerLine(SIGNER_LABEL if i == 0 else "", row, left if i == 0 else left + label_em)
        for i, row in enumerate(rows)
    ]
    if doc_number and doc_number.strip():
        last = lines[-1]
        lines[-1] = SignerLine(last.label, last.names, last.x_em, doc_number.strip())
    return lines


def copy_to_text(copy_to: list[str]) -> str:
    """抄送机关 per GB/T 9704 7.4.2: "抄送：A，B。" (逗号 between, 句号 after the last)."""
    names = [re.sub(r"[。；;，,、.\s]+$", "", n.strip()) for n in copy_to if n.strip()]
    return f"抄送：{'，'.join(names)}。" if names else ""


def print_date_text(d: _dt.date) -> str:
    """印发日期 per GB/T 9704 7.4.3: "2024年12月5日印发"."""
    return f"{chinese_date(d)}印发"
