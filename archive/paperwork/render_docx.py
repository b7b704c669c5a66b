"""Render an :class:`~archive.paperwork.officialdoc.OfficialDocument` to .docx through a docxtpl
template laid out per GB/T 9704-2012 (default ``archive/paperwork/templates/docx/official.docx``, built by
``archive/paperwork/templates/docx/build_templates.py``; clerks may edit it in Word).

The template iterates over plain values (see :func:`docx_context`); only tables and the
signature block are prebuilt here, because their geometry depends on the content.  A
template a clerk broke (a mistyped ``{% %}`` tag, an unknown field) raises
:class:`~archive.paperwork.officialdoc.TemplateError` naming the template file and the tag.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docx
import jinja2
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt
from docxtpl import DocxTemplate
from lxml import etree
from markupsafe import Markup

from archive.core.errors import ArchiveError, NotFoundError
from archive.paperwork import officialdoc as od
from archive.paperwork.officialdoc import Heading, OfficialDocument, Paragraph, Table, TemplateError
from archive.paperwork.ooxml import ooxml_insert
from archive.paperwork.ooxml import ooxml_out_of_order as ooxml_out_of_order

TEMPLATE_DIR = Path(__file__).with_name("templates") / "docx"
DEFAULT_TEMPLATE = TEMPLATE_DIR / "official.docx"

_ALIGN = {"center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT}
_BORDER = '<w:{side} w:val="single" w:sz="6" w:space="0" w:color="000000"/>'
_SIDES = ("top", "left", "bottom", "right", "insideH", "insideV")


def render_docx(doc: OfficialDocument, out: Path, *, template: Path | None = None) -> Path:
    """Write ``doc`` as a .docx at ``out`` (parent folders are created); return ``out``."""
    doc.validate()
    template = Path(template) if template is not None else DEFAULT_TEMPLATE
    if not template.is_file():
        raise NotFoundError(
            f"找不到公文模板 {template}: 请检查路径, 或运行 "
            f"python archive/paperwork/templates/docx/build_templates.py 重新生成默认模板"
        )
    try:
        tpl = DocxTemplate(str(template))
        tpl.init_docx()
    except (zipfile.BadZipFile, KeyError, ValueError, etree.XMLSyntaxError) as exc:
        raise TemplateError(
            f"公文模板 {template} 不是有效的 Word 文档 ({exc}): 请用 Word 另存为 .docx 格式",
            template=template,
        ) from exc
    _check_marks_supported(doc, template)
    context = docx_context(doc, template)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    try:
        tpl.render(context, jinja_env=env, autoescape=True)
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(template, exc) from exc
    except jinja2.UndefinedError as exc:
        raise _undefined_error(template, exc) from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(
            f"公文模板 {template} 渲染失败: {exc}。请在 Word 中检查模板里的 {{% %}} 和 {{{{ }}}} 标签",
            template=template,
        ) from exc
    out = Path(out)
    write_atomically(out, lambda tmp: tpl.save(str(tmp)))
    return out


# What a template needs to set 签发人 and 版记 (templates built before they existed lack it).
_MARK_NEEDS = {
    "签发人": (("签发人", "上行文发文字号", "签发人姓名"), "{{p signer_block }}"),
    "版记": (("抄送机关", "印发机关和印发日期"), "{{p banji }}"),
}


def _check_marks_supported(doc: OfficialDocument, template: Path) -> None:
    """A template that cannot show the document's 签发人 or 版记 (an older or edited copy
    without their styles or tags) is an error naming what is missing, never a silent
    omission."""
    wanted = [k for k, has in (("签发人", doc.signers), ("版记", doc.has_banji)) if has]
    if not wanted:
        return
    names = {s.name for s in docx.Document(str(template)).styles}
    tags = "".join(template_tags(template)).replace(" ", "")
    missing: list[str] = []
    lacking: list[str] = []
    for what in wanted:
        styles, tag = _MARK_NEEDS[what]
        found = [f"样式“{s}”" for s in styles if s not in names]
        if tag.replace(" ", "") not in tags:
            found.append(f"标签 {tag}")
        if found:
            lacking.append(what)
            missing += found
    if missing:
        raise TemplateError(
            f"公文模板 {template} 不能编排{'和'.join(lacking)}: 缺少{'、'.join(missing)}。"
            f"请运行 python archive/paperwork/templates/docx/build_templates.py 重建默认模板, "
            f"或在 Word 中从默认模板 archive/paperwork/templates/docx/official.docx 复制这些样式和标签",
            template=template,
        )


def write_atomically(out: Path, write: Callable[[Path], object]) -> None:
    """Let ``write`` fill a temporary file beside ``out``, then rename it into place: a
    crash or a full disk never leaves a half-written report under the real name."""
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        raise ArchiveError(
            f"无法写入 {out}: {exc.strerror}; 请检查磁盘空间, 以及该文件是否正在 Word 或 PDF 阅读器中打开"
        ) from exc
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # the folder itself is unusable; the error above says so


# --- context -----------------------------------------------------------------------------


class _Scratch:
    """Builds prebuilt fragments (tables, the signature) with python-docx in a scratch
    copy of the template, so they use the template's styles, and hands them over as
    WordprocessingML for ``{{p ...}}`` tags (docxtpl's Subdoc needs docxcompose)."""

    def __init__(self, template: Path) -> None:
        self.doc = docx.Document(str(template))
        self.body = self.doc.element.body
        for child in list(self.body):
            if child.tag != qn("w:sectPr"):
                self.body.remove(child)

    @property
    def styles(self) -> Any:
        return self.doc.styles

    def add_paragraph(self, text: str, style: str) -> Any:
        return self.doc.add_paragraph(text, style=style)

    def add_table(self, rows: int, cols: int) -> Any:
        return self.doc.add_table(rows=rows, cols=cols)

    def take(self) -> Markup:
        """The fragment built since the last call, as XML; the scratch body is emptied."""
        parts = []
        for child in list(self.body):
            if child.tag == qn("w:sectPr"):
                continue
            parts.append(etree.tostring(child, encoding="unicode"))
            self.body.remove(child)
        return Markup("".join(parts))


def docx_context(doc: OfficialDocument, template: Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    """The values a template sees (tables and the signature prebuilt with ``template``'s
    styles).

    ``title_lines`` (list of str), ``header_org``, ``doc_number``, ``addressee``,
    ``closing``, ``attachment_note`` (str or None; "\\n" becomes a line break),
    ``signature`` (prebuilt paragraphs: ``{{p signature }}``), ``blocks`` and, for each of
    ``attachments``: ``label`` ("附件" or "附件1"), ``title``, ``blocks``.  A block has
    ``kind`` ("h1".."h4", "p", "table"), ``label``, ``text``, ``run_in``, ``lead`` and
    ``table`` (prebuilt: ``{{p b.table }}``).

    签发人: ``signers`` (list of names) and ``signer_block`` (prebuilt: the signer lines,
    the last one carrying the 发文字号; ``{{p signer_block }}``).  版记: ``copy_to``
    ("抄送：A，B。" or ""), ``printed_by``, ``print_date`` ("2024年12月5日印发") and
    ``banji`` (prebuilt: a table anchored to the bottom of the type area of the page its
    anchor paragraph lands on, i.e. the last page; ``{{p banji }}``, or "" without 版记).
    """
    tpl = _Scratch(template)
    several = len(doc.attachments) > 1
    return {
        "title": " ".join(doc.title_lines),
        "title_lines": doc.title_lines,
        "header_org": doc.header_org or "",
        "doc_number": doc.doc_number or "",
        "addressee": doc.addressee or "",
        "closing": doc.closing or "",
        "issuer": doc.issuer,
        "date": od.chinese_date(doc.date),
        "attachment_note": attachment_note(doc) or "",
        "signature": _signature(tpl, doc),
        "signers": [n.strip() for n in doc.signers],
        "signer_block": _signer_block(tpl, doc),
        "copy_to": od.copy_to_text(doc.copy_to),
        "printed_by": (doc.printed_by or "").strip(),
        "print_date": od.print_date_text(doc.print_date) if doc.printed_by else "",
        "banji": _banji(tpl, doc),
        "blocks": _blocks(tpl, doc.blocks),
        "attachments": [
            {
                "label": f"附件{i}" if several else "附件",
                "title": att.title.strip(),
                "blocks": _blocks(tpl, att.blocks),
            }
            for i, att in enumerate(doc.attachments, start=1)
        ],
    }


def attachment_note(doc: OfficialDocument) -> str | None:
    """附件说明: "附件：名称" or "附件：1.名称\\n2.名称" (no trailing punctuation)."""
    titles = [re.sub(r"[。；;，,.]+$", "", a.title.strip()) for a in doc.attachments]
    if not titles:
        return None
    if len(titles) == 1:
        return f"附件：{titles[0]}"
    return "附件：" + "\n".join(f"{i}.{t}" for i, t in enumerate(titles, start=1))


def _blocks(tpl: _Scratch, blocks: list[od.Block]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for block, label in od.numbered(blocks):
        item: dict[str, Any] = {
            "kind": "",
            "label": label,
            "text": "",
            "run_in": "",
            "lead": "",
            "table": "",
        }
        if isinstance(block, Heading):
            item.update(kind=f"h{block.level}", text=block.text.strip())
            item["run_in"] = block.run_in.strip() if block.run_in else ""
        elif isinstance(block, Paragraph):
            item.update(kind="p", text=block.text.strip(), lead=(block.bold_lead or "").strip())
        elif isinstance(block, Table):
            item.update(kind="table", table=_table(tpl, block))
        out.append(item)
    return out


def _indent_chars(paragraph: Any, side: str, chars: float) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    ind = ppr.find(qn("w:ind"))
    if ind is None:
        ind = ooxml_insert(ppr, etree.Element(qn("w:ind")))
    ind.set(qn(f"w:{side}Chars"), str(round(chars * 100)))
    ind.set(qn(f"w:{side}"), str(round(chars * od.BODY_PT * od.TWIPS_PER_PT)))


def _signature(tpl: _Scratch, doc: OfficialDocument) -> Markup:
    """发文机关署名 and 成文日期, indented per GB/T 9704-2012 7.3.5.2."""
    sd = tpl
    date_text = od.chinese_date(doc.date)
    issuer_right, date_right = od.signature_indents_em(doc.issuer.strip(), date_text)
    p = sd.add_paragraph(doc.issuer.strip(), style="发文机关署名")
    _indent_chars(p, "right", issuer_right)
    p = sd.add_paragraph(date_text, style="成文日期")
    _indent_chars(p, "right", date_right)
    return sd.take()


def _twips(points: float) -> int:
    return round(points * od.TWIPS_PER_PT)


def _tab(paragraph: Any, kind: str, pos: int) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    ooxml_insert(
        ppr, parse_xml(f'<w:tabs {nsdecls("w")}><w:tab w:val="{kind}" w:pos="{pos}"/></w:tabs>')
    )


def _signer_block(tpl: _Scratch, doc: OfficialDocument) -> Markup:
    """签发人 per GB/T 9704-2012 7.2.4/7.2.5 (layout: :func:`officialdoc.signer_layout`).

    A line without the 发文字号 (style 签发人) is indented to its start; the last line,
    when there is a 发文字号, is style 上行文发文字号 (居左空一字, the red rule under it)
    with a tab to where the signer text starts.  Names are character style 签发人姓名."""
    sd = tpl
    pitch = od.char_pitch_pt()
    for line in od.signer_layout(doc.signers, doc.doc_number):
        x = _twips(line.x_em * pitch)
        if line.doc_number:
            p = sd.add_paragraph(line.doc_number, style="上行文发文字号")
            _tab(p, "left", x)
            p.add_run("\t")
        else:
            p = sd.add_paragraph("", style="签发人")
            ppr = p._p.get_or_add_pPr()
            ind = ooxml_insert(ppr, etree.Element(qn("w:ind")))
            ind.set(qn("w:left"), str(x))
        if line.label:
            p.add_run(line.label)
        p.add_run(line.names_text, style="签发人姓名")
    return sd.take()


_BANJI_BORDERS = (
    '<w:top w:val="single" w:sz="{thick}" w:space="0" w:color="000000"/>'
    '<w:left w:val="nil"/><w:bottom w:val="single" w:sz="{thick}" w:space="0" w:color="000000"/>'
    '<w:right w:val="nil"/>'
    '<w:insideH w:val="single" w:sz="{thin}" w:space="0" w:color="000000"/>'
    '<w:insideV w:val="nil"/>'
)


def _eighths(mm: float) -> int:
    """A border width in eighths of a point (w:sz)."""
    return round(od.mm_to_pt(mm) * 8)


def _banji(tpl: _Scratch, doc: OfficialDocument) -> Markup:
    """版记 per GB/T 9704-2012 7.4: 抄送机关 and 印发机关和印发日期 in a table as wide as the
    type area, rules thick above and below and thin between, floating at the bottom of the
    type area (w:tblpPr: vertical anchor the margin, bottom), so that it lands at the foot
    of the page of its anchor paragraph, the document's last."""
    if not doc.has_banji:
        return Markup("")
    sd = tpl
    rows: list[tuple[str, str]] = []
    if doc.copy_to:
        rows.append(("抄送机关", od.copy_to_text(doc.copy_to)))
    if doc.printed_by is not None:
        rows.append(
            (
                "印发机关和印发日期",
                f"{doc.printed_by.strip()}\t{od.print_date_text(doc.print_date)}",
            )
        )
    total = od.mm_to_twips(od.TYPE_AREA_WIDTH_MM)
    t = sd.add_table(rows=len(rows), cols=1)
    tbl_pr = t._tbl.tblPr
    # Anchored to the page horizontally: LibreOffice imports a floating table as wide as
    # the text area as an inline one, but keeps it floating when placed on the page.
    ooxml_insert(
        tbl_pr,
        parse_xml(
            f'<w:tblpPr {nsdecls("w")} w:leftFromText="0" w:rightFromText="0"'
            f' w:topFromText="0" w:bottomFromText="0" w:vertAnchor="margin"'
            f' w:horzAnchor="page" w:tblpX="{od.mm_to_twips(od.MARGIN_LEFT_MM)}"'
            f' w:tblpYSpec="bottom"/>'
        ),
    )
    for el in tbl_pr.findall(qn("w:tblW")):
        tbl_pr.remove(el)
    ooxml_insert(tbl_pr, parse_xml(f'<w:tblW {nsdecls("w")} w:w="{total}" w:type="dxa"/>'))
    borders = _BANJI_BORDERS.format(
        thick=_eighths(od.BANJI_THICK_MM), thin=_eighths(od.BANJI_THIN_MM)
    )
    ooxml_insert(tbl_pr, parse_xml(f"<w:tblBorders {nsdecls('w')}>{borders}</w:tblBorders>"))
    ooxml_insert(tbl_pr, parse_xml(f'<w:tblLayout {nsdecls("w")} w:type="fixed"/>'))
    margins = "".join(f'<w:{s} w:w="0" w:type="dxa"/>' for s in ("top", "left", "bottom", "right"))
    ooxml_insert(tbl_pr, parse_xml(f"<w:tblCellMar {nsdecls('w')}>{margins}</w:tblCellMar>"))
    for col in t._tbl.tblGrid.findall(qn("w:gridCol")):
        col.set(qn("w:w"), str(total))
    one_char = _twips(od.BANJI_PT)
    for row, (style, text) in zip(t.rows, rows, strict=True):
        row._tr.get_or_add_trPr().append(parse_xml(f"<w:cantSplit {nsdecls('w')}/>"))
        cell = row.cells[0]
        cell.width = Pt(total / od.TWIPS_PER_PT)
        para = cell.paragraphs[0]
        para.style = sd.styles[style]
        para.text = text
        if "\t" in text:  # 印发日期 右空一字
            _tab(para, "right", total - one_char)
    return sd.take()


def _table(tpl: _Scratch, table: Table) -> Markup:
    """A bordered table as wide as the type area; header row repeats on each page."""
    sd = tpl
    if table.caption:
        sd.add_paragraph(table.caption.strip(), style="表格标题")
    n = len(table.columns)
    t = sd.add_table(rows=1 + len(table.rows), cols=n)
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    total = od.mm_to_twips(od.TYPE_AREA_WIDTH_MM)
    weights = table.widths or [1.0] * n
    widths = [round(total * w / sum(weights)) for w in weights]
    tbl_pr = t._tbl.tblPr
    for el in tbl_pr.findall(qn("w:tblW")):
        tbl_pr.remove(el)
    ooxml_insert(tbl_pr, parse_xml(f'<w:tblW {nsdecls("w")} w:w="{total}" w:type="dxa"/>'))
    borders = "".join(_BORDER.format(side=s) for s in _SIDES)
    ooxml_insert(tbl_pr, parse_xml(f"<w:tblBorders {nsdecls('w')}>{borders}</w:tblBorders>"))
    ooxml_insert(tbl_pr, parse_xml(f'<w:tblLayout {nsdecls("w")} w:type="fixed"/>'))
    grid = t._tbl.tblGrid
    for col, width in zip(grid.findall(qn("w:gridCol")), widths, strict=True):
        col.set(qn("w:w"), str(width))
    for row in t.rows:  # rows never split across pages; the header row repeats
        row._tr.get_or_add_trPr().append(parse_xml(f"<w:cantSplit {nsdecls('w')}/>"))
    t.rows[0]._tr.get_or_add_trPr().append(parse_xml(f"<w:tblHeader {nsdecls('w')}/>"))
    aligns = table.alignments()
    for r, cells in enumerate([table.columns, *table.rows]):
        style = "表格表头" if r == 0 else "表格文字"
        for c, text in enumerate(cells):
            cell = t.rows[r].cells[c]
            cell.width = Pt(widths[c] / od.TWIPS_PER_PT)
            lines = str(text).split("\n") or [""]
            para = cell.paragraphs[0]
            para.style = sd.styles[style]
            para.text = lines[0]
            for line in lines[1:]:
                cell.add_paragraph(line, style=style)
            if r > 0 and aligns[c] != "left":
                for cell_para in cell.paragraphs:
                    cell_para.alignment = _ALIGN[aligns[c]]
            tc_pr = cell._tc.get_or_add_tcPr()
            ooxml_insert(tc_pr, parse_xml(f'<w:vAlign {nsdecls("w")} w:val="center"/>'))
    return sd.take()


# --- template errors -----------------------------------------------------------------------

_TAG = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}|\{[%{](?:(?![%}]\}).)*$")
_PREFIX = re.compile(r"^(\{[%{])\s*(?:p|r|tr|tc)?(?=\s)")
_OPENERS = {"for": "endfor", "if": "endif", "with": "endwith", "macro": "endmacro"}
_MIDDLES = {"elif": "if", "else": "if"}


def template_tags(template: Path) -> list[str]:
    """Every Jinja tag in the template's body, headers and footers, in document order,
    with Word's run boundaries removed (the text a clerk sees in Word)."""
    tags: list[str] = []
    with zipfile.ZipFile(template) as z:
        parts = sorted(n for n in z.namelist() if re.match(r"word/(header|footer)\d*\.xml$", n))
        names = ["word/document.xml", *parts]
        for name in names:
            if name not in z.namelist():
                continue
            root = etree.fromstring(z.read(name))
            for p in root.iter(qn("w:p")):
                text = "".join(t.text or "" for t in p.iter(qn("w:t")))
                tags += [m.group(0) for m in _TAG.finditer(text)]
    return tags


def _check_tag(env: jinja2.Environment, tag: str) -> str | None:
    """The Jinja complaint about one tag on its own, or None if it parses."""
    if not tag.endswith(("%}", "}}", "#}")):
        return "标签没有闭合"
    core = _PREFIX.sub(r"\1", tag)
    if core.startswith("{{"):
        source = core
    elif core.startswith("{#"):
        return None
    else:
        words = core[2:-2].split()
        if not words:
            return "空标签"
        word = words[0]
        if word in _OPENERS:
            source = f"{core}{{% {_OPENERS[word]} %}}"
        elif word in _MIDDLES:
            source = f"{{% if 1 %}}{core}{{% endif %}}"
        elif word in _OPENERS.values() or word in ("set", "colspan", "cellbg", "vm", "hm"):
            return None
        else:
            return f"未知的标签 {word!r}"
    try:
        env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return str(exc.message)
    return None


def _unbalanced(tags: list[str]) -> tuple[str, str] | None:
    stack: list[tuple[str, str]] = []
    for tag in tags:
        if not tag.startswith("{%"):
            continue
        words = _PREFIX.sub(r"\1", tag)[2:-2].split()
        word = words[0] if words else ""
        if word in _OPENERS:
            stack.append((word, tag))
        elif word in _MIDDLES:
            if not stack or stack[-1][0] != _MIDDLES[word]:
                return tag, f"{word} 前面缺少 if"
        elif word in _OPENERS.values():
            if not stack or _OPENERS[stack[-1][0]] != word:
                return tag, "多余的结束标签, 或与前面的开始标签不配对"
            stack.pop()
    if stack:
        return stack[-1][1], f"缺少对应的 {_OPENERS[stack[-1][0]]}"
    return None


def _syntax_error(template: Path, exc: jinja2.TemplateSyntaxError) -> TemplateError:
    env = jinja2.Environment()
    tags = template_tags(template)
    bad: tuple[str, str] | None = None
    for tag in tags:
        complaint = _check_tag(env, tag)
        if complaint:
            bad = (tag, complaint)
            break
    if bad is None:
        bad = _unbalanced(tags)
    if bad is None:
        return TemplateError(
            f"公文模板 {template} 有语法错误: {exc.message}。请在 Word 中检查模板里的标签",
            template=template,
        )
    tag, complaint = bad
    return TemplateError(
        f"公文模板 {template} 中的标签 {tag} 有误: {complaint}。"
        f"请在 Word 中打开该模板改正这个标签, 或运行 archive/paperwork/templates/docx/build_templates.py 重建默认模板",
        template=template,
        tag=tag,
    )


def _undefined_error(template: Path, exc: jinja2.UndefinedError) -> TemplateError:
    m = re.search(r"'([^']+)' is undefined|has no attribute '([^']+)'", str(exc))
    name = (m.group(1) or m.group(2)) if m else None
    tag = None
    if name:
        tag = next(
            (
                t
                for t in template_tags(template)
                if re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", t)
            ),
            None,
        )
    where = f"标签 {tag} " if tag else ""
    return TemplateError(
        f"公文模板 {template} 的{where}引用了不存在的字段 {name or exc}: "
        f"可用字段见 archive/paperwork/render_docx.py 的 docx_context 说明",
        template=template,
        tag=tag,
    )
