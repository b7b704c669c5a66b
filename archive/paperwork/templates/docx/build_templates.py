"""Build the Word templates of dangan's official documents (GB/T 9704-2012).

Run ``.venv/bin/python archive/paperwork/templates/docx/build_templates.py`` from the repository root to
(re)write ``archive/paperwork/templates/docx/official.docx``.  The generated file is committed: clerks
may open it in Word, change fonts, spacing or fixed wording, and save it; reports are
then rendered from their edited copy by docxtpl.

What the template holds:

* page setup: A4, margins 37/26/35/28 mm (top/right/bottom/left), a character grid of
  22 lines x 28 characters (exact line pitch 28.95 pt);
* named styles (Chinese names, ASCII ids) with the East Asian font set explicitly
  (``w:eastAsia``), so Chinese never falls back to a Latin font: 公文标题 (方正小标宋简体
  二号), 公文正文 (仿宋_GB2312 三号), 一级标题 (黑体), 二级标题 (楷体_GB2312), 三级标题 and
  四级标题 (仿宋), table styles, signature and attachment styles;
* the font table maps each GB font to one Windows always has (``w:altName``): 方正小标宋简体
  → 宋体, 仿宋_GB2312 → 仿宋, 楷体_GB2312 → 楷体;
* 签发人 (上行文, GB/T 9704 7.2.5): styles 签发人 and 上行文发文字号 (the 发文字号 居左空一字
  on the last signer line, red rule under it), names in character style 签发人姓名 (楷体);
* 版记 (7.4): styles 抄送机关 and 印发机关和印发日期 (4号仿宋) in a table floating at the
  bottom of the last page's type area, anchored by an empty paragraph (style 版记锚点);
* footers "— N —" (4号 宋体, PAGE field): odd pages right 空一字, even pages left 空一字;
* docxtpl tags (``{%p ... %}``, ``{{ ... }}``) over the context built by
  ``archive.paperwork.render_docx.docx_context``.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import sys
import zipfile
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import BaseStyle, CharacterStyle, ParagraphStyle
from docx.text.paragraph import Paragraph as DocxParagraph
from lxml import etree

REPO = Path(__file__).resolve().parents[4]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from archive.paperwork import officialdoc as od  # noqa: E402
from archive.paperwork.ooxml import ooxml_insert  # noqa: E402

HERE = Path(__file__).resolve().parent
OFFICIAL = HERE / "official.docx"

# Font names as Word on a bureau PC knows them, and what Windows always has instead.
FONT_TITLE = "方正小标宋简体"
FONT_FANGSONG = "仿宋_GB2312"
FONT_KAI = "楷体_GB2312"
FONT_HEI = "黑体"
FONT_SONG = "宋体"
FONT_ALT_NAMES = {
    FONT_TITLE: "宋体",
    FONT_FANGSONG: "仿宋",
    FONT_KAI: "楷体",
    FONT_HEI: "SimHei",
    FONT_SONG: "SimSun",
}

# Style ids are ASCII (LibreOffice and older Word are happiest with those); names are
# what the clerk sees in Word's style gallery.
STYLE_IDS = {
    "公文正文": "GwBody",
    "公文无缩进": "GwPlain",
    "结束语": "GwClosing",
    "空行连下": "GwBlankKeep",
    "公文标题": "GwTitle",
    "发文机关标志": "GwMasthead",
    "发文字号": "GwDocNo",
    "主送机关": "GwAddressee",
    "一级标题": "GwH1",
    "二级标题": "GwH2",
    "三级标题": "GwH3",
    "四级标题": "GwH4",
    "附件说明": "GwAttachNote",
    "发文机关署名": "GwSignature",
    "成文日期": "GwDate",
    "附件标识": "GwAttachLabel",
    "表格标题": "GwTableCaption",
    "表格表头": "GwTableHead",
    "表格文字": "GwTableText",
    "正文字符": "GwBodyChar",
    "段首强调": "GwLeadChar",
    "页码": "GwPageNumber",
    "签发人": "GwSigner",
    "上行文发文字号": "GwDocNoSigned",
    "签发人姓名": "GwSignerName",
    "抄送机关": "GwCopyTo",
    "印发机关和印发日期": "GwPrinted",
    "版记锚点": "GwBanjiAnchor",
}

PITCH = od.line_pitch_twips()  # 579 twips = 28.95 pt
BODY_HALF_POINTS = round(od.BODY_PT * 2)
# Character spacing in twentieths of a point: 16 pt type tracked to 28 a line (-0.25 pt).
TRACKING = math.floor(od.letter_spacing_pt() * 20)


def _set_fonts(style: BaseStyle, font: str) -> None:
    """Set all four font slots, the East Asian one explicitly (python-docx's
    ``font.name`` leaves ``w:eastAsia`` unset)."""
    rpr = style.element.get_or_add_rPr()
    rfonts = rpr.get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(slot), font)
    rfonts.set(qn("w:hint"), "eastAsia")


def _pstyle(
    doc: DocxDocument,
    name: str,
    *,
    font: str = FONT_FANGSONG,
    size: float = od.BODY_PT,
    base: str | None = None,
    align: WD_ALIGN_PARAGRAPH | None = None,
    first_line_chars: int | None = None,
    outline: int | None = None,
    line_pt: float | None = None,
    bold: bool | None = None,
) -> ParagraphStyle:
    styles = doc.styles
    style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    assert isinstance(style, ParagraphStyle)
    style.style_id = STYLE_IDS[name]
    style.quick_style = True
    style.base_style = styles[base] if base else styles["Normal"]
    _set_fonts(style, font)
    style.font.size = Pt(size)
    style.font.bold = bold
    pf = style.paragraph_format
    if align is not None:
        pf.alignment = align
    ppr = style.element.get_or_add_pPr()
    # Repeated on every style, since LibreOffice reads these only from a paragraph's own
    # style: no punctuation hanging into the margin, no extra space around digits.
    for flag in ("w:overflowPunct", "w:autoSpaceDE", "w:autoSpaceDN"):
        ooxml_insert(ppr, parse_xml(f'<{flag} {nsdecls("w")} w:val="0"/>'))
    if first_line_chars is not None:
        ind = ppr.find(qn("w:ind"))
        if ind is None:
            ind = ooxml_insert(ppr, etree.Element(qn("w:ind")))
        chars = first_line_chars * 100
        ind.set(qn("w:firstLineChars"), str(chars))
        ind.set(qn("w:firstLine"), str(round(first_line_chars * size * 20)))
    if line_pt is not None:
        pf.line_spacing = Pt(line_pt)
        from docx.enum.text import WD_LINE_SPACING

        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    if outline is not None:
        ooxml_insert(ppr, parse_xml(f'<w:outlineLvl {nsdecls("w")} w:val="{outline}"/>'))
    return style


def _cstyle(doc: DocxDocument, name: str, *, font: str, bold: bool = False) -> CharacterStyle:
    style = doc.styles.add_style(name, WD_STYLE_TYPE.CHARACTER)
    assert isinstance(style, CharacterStyle)
    style.style_id = STYLE_IDS[name]
    _set_fonts(style, font)
    style.font.bold = bold
    return style


def _doc_defaults(doc: DocxDocument) -> None:
    """Document defaults: 仿宋 三号 everywhere, exact 28.95 pt pitch, zh-CN."""
    styles_el = doc.styles.element
    defaults = styles_el.find(qn("w:docDefaults"))
    if defaults is not None:
        styles_el.remove(defaults)
    fonts = " ".join(f'w:{s}="{FONT_FANGSONG}"' for s in ("ascii", "hAnsi", "eastAsia", "cs"))
    defaults = parse_xml(
        f"<w:docDefaults {nsdecls('w')}>"
        f'<w:rPrDefault><w:rPr><w:rFonts {fonts} w:hint="eastAsia"/>'
        f'<w:spacing w:val="{TRACKING}"/><w:kern w:val="2"/><w:sz w:val="{BODY_HALF_POINTS}"/>'
        f'<w:szCs w:val="{BODY_HALF_POINTS}"/>'
        f'<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/></w:rPr></w:rPrDefault>'
        f'<w:pPrDefault><w:pPr><w:widowControl w:val="0"/>'
        # No automatic extra space between Chinese and Latin letters or digits: it
        # breaks the 28-character grid and spreads "2024年3月5日".
        # and no punctuation hanging into the margin (允许标点溢出边界 off).
        f'<w:overflowPunct w:val="0"/><w:autoSpaceDE w:val="0"/><w:autoSpaceDN w:val="0"/>'
        f'<w:spacing w:before="0" w:after="0" w:line="{PITCH}" w:lineRule="exact"/>'
        f'<w:jc w:val="both"/>'
        f"</w:pPr></w:pPrDefault></w:docDefaults>"
    )
    styles_el.insert(0, defaults)
    normal = doc.styles["Normal"]
    _set_fonts(normal, FONT_FANGSONG)
    normal.font.size = Pt(od.BODY_PT)
    # Repeated on Normal: LibreOffice ignores autoSpace in the document defaults.
    normal_ppr = normal.element.get_or_add_pPr()
    for name in ("w:overflowPunct", "w:autoSpaceDE", "w:autoSpaceDN"):
        ooxml_insert(normal_ppr, parse_xml(f'<{name} {nsdecls("w")} w:val="0"/>'))


def _styles(doc: DocxDocument) -> None:
    _doc_defaults(doc)
    center = WD_ALIGN_PARAGRAPH.CENTER
    body = _pstyle(doc, "公文正文", first_line_chars=2, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    body.next_paragraph_style = body
    _pstyle(doc, "公文无缩进", align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    # The closing, the 附件说明 and the blank lines before the signature keep with the
    # next paragraph, so the signature never stands alone on a page (GB/T 9704 7.3.5).
    keep = _pstyle(doc, "结束语", first_line_chars=2, base="公文正文")
    keep.paragraph_format.keep_with_next = True
    blank = _pstyle(doc, "空行连下", base="公文无缩进")
    blank.paragraph_format.keep_with_next = True
    title = _pstyle(doc, "公文标题", font=FONT_TITLE, size=od.TITLE_PT, align=center, line_pt=36)
    title.font.bold = False
    mast = _pstyle(doc, "发文机关标志", font=FONT_TITLE, size=36, align=center, line_pt=54)
    for style in (title, mast):
        # Off the line grid, or LibreOffice snaps each title line to two grid lines.
        ooxml_insert(
            style.element.get_or_add_pPr(),
            parse_xml(f'<w:snapToGrid {nsdecls("w")} w:val="0"/>'),
        )
    mast.font.color.rgb = RGBColor(0xE6, 0x00, 0x12)
    docno = _pstyle(doc, "发文字号", align=center)
    # 红色分隔线: a red rule under the document number, as wide as the type area.
    ooxml_insert(
        docno.element.get_or_add_pPr(),
        parse_xml(
            f'<w:pBdr {nsdecls("w")}><w:bottom w:val="single" w:sz="12" w:space="11"'
            f' w:color="E60012"/></w:pBdr>'
        ),
    )
    _signer_styles(doc)
    _pstyle(doc, "主送机关", align=WD_ALIGN_PARAGRAPH.LEFT)
    for name, font, level in (
        ("一级标题", FONT_HEI, 0),
        ("二级标题", FONT_KAI, 1),
        ("三级标题", FONT_FANGSONG, 2),
        ("四级标题", FONT_FANGSONG, 3),
    ):
        h = _pstyle(doc, name, font=font, base="公文正文", outline=level)
        h.paragraph_format.keep_with_next = True
    note = _pstyle(doc, "附件说明", align=WD_ALIGN_PARAGRAPH.LEFT)
    note.paragraph_format.keep_with_next = True
    # 附件：1.xxx — first line at 2 characters, continuation lines under the item text.
    ind = ooxml_insert(note.element.get_or_add_pPr(), etree.Element(qn("w:ind")))
    ind.set(qn("w:leftChars"), "500")
    ind.set(qn("w:left"), str(round(5 * od.BODY_PT * 20)))
    ind.set(qn("w:hangingChars"), "300")
    ind.set(qn("w:hanging"), str(round(3 * od.BODY_PT * 20)))
    _pstyle(
        doc, "发文机关署名", align=WD_ALIGN_PARAGRAPH.RIGHT
    ).paragraph_format.keep_with_next = True
    _pstyle(doc, "成文日期", align=WD_ALIGN_PARAGRAPH.RIGHT)
    label = _pstyle(doc, "附件标识", font=FONT_HEI, align=WD_ALIGN_PARAGRAPH.LEFT)
    label.paragraph_format.page_break_before = True
    label.paragraph_format.keep_with_next = True
    cap = _pstyle(doc, "表格标题", font=FONT_HEI, align=center)
    cap.paragraph_format.keep_with_next = True
    for name, font in (("表格表头", FONT_HEI), ("表格文字", FONT_FANGSONG)):
        s = _pstyle(doc, name, font=font, size=od.TABLE_PT, line_pt=od.TABLE_PT * 1.5)
        s.paragraph_format.alignment = center if name == "表格表头" else WD_ALIGN_PARAGRAPH.LEFT
        # Table text does not snap to the page's character grid.
        ooxml_insert(
            s.element.get_or_add_pPr(), parse_xml(f'<w:snapToGrid {nsdecls("w")} w:val="0"/>')
        )
    pn = _pstyle(doc, "页码", font=FONT_SONG, size=od.PAGE_NUMBER_PT, line_pt=od.PAGE_NUMBER_PT)
    ooxml_insert(
        pn.element.get_or_add_pPr(), parse_xml(f'<w:snapToGrid {nsdecls("w")} w:val="0"/>')
    )
    _cstyle(doc, "正文字符", font=FONT_FANGSONG)
    _cstyle(doc, "段首强调", font=FONT_FANGSONG, bold=True)
    _banji_styles(doc)


def _indent(style: ParagraphStyle, **twips: int) -> None:
    """Set w:ind attributes (left=, right=, hanging=, firstLine=) in twips on a style."""
    ppr = style.element.get_or_add_pPr()
    ind = ppr.find(qn("w:ind"))
    if ind is None:
        ind = ooxml_insert(ppr, etree.Element(qn("w:ind")))
    for side, value in twips.items():
        ind.set(qn(f"w:{side}"), str(value))


def _off_grid(style: BaseStyle) -> None:
    ooxml_insert(
        style.element.get_or_add_pPr(), parse_xml(f'<w:snapToGrid {nsdecls("w")} w:val="0"/>')
    )


def _signer_styles(doc: DocxDocument) -> None:
    """签发人 (GB/T 9704 7.2.5): "签发人：" 3号仿宋 and the names 3号楷体, the block 居右空一字
    (indents and tab stops are set per document, see render_docx._signer_block); on the
    last line the 发文字号 居左空一字 with the red rule of 发文字号 under the line."""
    left = WD_ALIGN_PARAGRAPH.LEFT
    _pstyle(doc, "签发人", align=left).paragraph_format.keep_with_next = True
    up = _pstyle(doc, "上行文发文字号", base="发文字号", align=left)
    # A first-line indent, not a left one: the rule under the paragraph runs from its left
    # indent, and the red rule is as wide as the type area.
    _indent(up, firstLine=round(od.BODY_PT * 20))
    _cstyle(doc, "签发人姓名", font=FONT_KAI)


def _banji_styles(doc: DocxDocument) -> None:
    """版记 (GB/T 9704 7.4): 4号仿宋, untracked, one line each on the page's pitch;
    抄送 左右各空一字 with continuation lines under the first name (after "抄送："),
    印发机关 左空一字 (印发日期 右空一字 is a right tab stop set per document)."""
    one = round(od.BANJI_PT * 20)
    copy_to = _pstyle(doc, "抄送机关", size=od.BANJI_PT, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _indent(copy_to, left=4 * one, hanging=3 * one, right=one)
    printed = _pstyle(doc, "印发机关和印发日期", size=od.BANJI_PT, align=WD_ALIGN_PARAGRAPH.LEFT)
    _indent(printed, left=one)
    for style in (copy_to, printed):
        _off_grid(style)
        ooxml_insert(
            style.element.get_or_add_rPr(), parse_xml(f'<w:spacing {nsdecls("w")} w:val="0"/>')
        )
    # The paragraph after the 版记's table, which anchors it: as small as Word allows, so
    # that it never pushes the 版记 to a page of its own.
    anchor = _pstyle(doc, "版记锚点", size=1, line_pt=1)
    _off_grid(anchor)


def _font_table(doc: DocxDocument) -> None:
    """Declare the GB fonts with an ``altName`` Word falls back to when they are missing."""
    package = doc.part.package
    part = next(p for p in package.iter_parts() if str(p.partname) == "/word/fontTable.xml")
    root = etree.fromstring(part.blob)
    for font, alt in FONT_ALT_NAMES.items():
        el = parse_xml(
            f'<w:font {nsdecls("w")} w:name="{font}"><w:altName w:val="{alt}"/>'
            f'<w:panose1 w:val="02010609060101010101"/><w:charset w:val="86"/>'
            f'<w:family w:val="modern"/><w:pitch w:val="fixed"/></w:font>'
        )
        root.append(el)
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _page_setup(doc: DocxDocument) -> None:
    section = doc.sections[0]
    section.page_width = Mm(od.PAGE_WIDTH_MM)
    section.page_height = Mm(od.PAGE_HEIGHT_MM)
    section.top_margin = Mm(od.MARGIN_TOP_MM)
    section.bottom_margin = Mm(od.MARGIN_BOTTOM_MM)
    section.left_margin = Mm(od.MARGIN_LEFT_MM)
    section.right_margin = Mm(od.MARGIN_RIGHT_MM)
    section.gutter = Mm(0)
    section.header_distance = Mm(15)
    # The page number's rule (一字线) sits 7 mm under the type area: the footer line
    # (14 pt, about 5 mm) ends 35 - 7 - 5 = 23 mm above the page's bottom edge.
    section.footer_distance = Mm(od.MARGIN_BOTTOM_MM - od.PAGE_NUMBER_GAP_MM - 5)
    sect_pr = section._sectPr
    grid = sect_pr.find(qn("w:docGrid"))
    if grid is None:
        grid = etree.SubElement(sect_pr, qn("w:docGrid"))
    # A line grid only: LibreOffice lays out Word's character grid (linesAndChars) far
    # wider than Word does; 28 characters a line come from the tracking in the
    # document defaults instead (w:spacing, see _doc_defaults).
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(PITCH))
    for attr in ("w:charSpace",):
        if grid.get(qn(attr)) is not None:
            del grid.attrib[qn(attr)]
    doc.settings.odd_and_even_pages_header_footer = True


def _page_field(paragraph: DocxParagraph) -> None:
    """Write "— N —" with N a PAGE field."""
    p = paragraph._p  # the paragraph style 页码 carries the font; runs stay bare

    def run(inner: str) -> None:
        p.append(parse_xml(f"<w:r {nsdecls('w')}>{inner}</w:r>"))

    run('<w:t xml:space="preserve">— </w:t>')
    run('<w:fldChar w:fldCharType="begin"/>')
    run('<w:instrText xml:space="preserve"> PAGE </w:instrText>')
    run('<w:fldChar w:fldCharType="separate"/>')
    run("<w:t>1</w:t>")
    run('<w:fldChar w:fldCharType="end"/>')
    run('<w:t xml:space="preserve"> —</w:t>')


def _footers(doc: DocxDocument) -> None:
    section = doc.sections[0]
    one_char = Pt(od.PAGE_NUMBER_PT)
    for footer, align in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        footer.is_linked_to_previous = False
        para = footer.paragraphs[0]
        para.style = doc.styles["页码"]
        para.alignment = align
        if align == WD_ALIGN_PARAGRAPH.RIGHT:
            para.paragraph_format.right_indent = one_char  # 单页码居右空一字
        else:
            para.paragraph_format.left_indent = one_char  # 双页码居左空一字
        _page_field(para)


# --- body: docxtpl tags ------------------------------------------------------------------


def _tag(doc: DocxDocument, tag: str) -> None:
    """A paragraph holding only a docxtpl paragraph tag ({%p ... %}); it disappears
    when rendered."""
    doc.add_paragraph(tag, style="公文无缩进")


def _para(doc: DocxDocument, style: str, *runs: tuple[str, str | None]) -> None:
    p = doc.add_paragraph(style=style)
    for text, char_style in runs:
        r = p.add_run(text)
        if char_style:
            r.style = doc.styles[char_style]


def _blocks_loop(doc: DocxDocument, var: str) -> None:
    """The loop over body blocks (see render_docx.docx_context for the fields)."""
    _tag(doc, f"{{%p for b in {var} %}}")
    first = True
    for kind, style in (
        ("h1", "一级标题"),
        ("h2", "二级标题"),
        ("h3", "三级标题"),
        ("h4", "四级标题"),
    ):
        _tag(doc, f'{{%p {"if" if first else "elif"} b.kind == "{kind}" %}}')
        first = False
        _para(doc, style, ("{{ b.label }}{{ b.text }}", None), ("{{ b.run_in }}", "正文字符"))
    _tag(doc, '{%p elif b.kind == "p" %}')
    _para(doc, "公文正文", ("{{ b.lead }}", "段首强调"), ("{{ b.text }}", None))
    _tag(doc, '{%p elif b.kind == "table" %}')
    _para(doc, "公文无缩进", ("{{p b.table }}", None))
    _tag(doc, "{%p endif %}")
    _tag(doc, "{%p endfor %}")


def _body(doc: DocxDocument) -> None:
    # 版头: masthead and document number, only when the document has a number.
    _tag(doc, "{%p if header_org %}")
    _para(doc, "发文机关标志", ("{{ header_org }}", None))
    _para(doc, "公文无缩进", ("", None))
    _tag(doc, "{%p endif %}")
    # 签发人 (上行文): the signer lines, the last one carrying the 发文字号 (prebuilt, since
    # the indents depend on the names); 空二行 under the red rule, 空一行 without a number.
    _tag(doc, "{%p if signers %}")
    _para(doc, "公文无缩进", ("{{p signer_block }}", None))
    _tag(doc, "{%p if doc_number %}")
    _para(doc, "公文无缩进", ("", None))
    _tag(doc, "{%p endif %}")
    _para(doc, "公文无缩进", ("", None))
    _tag(doc, "{%p elif doc_number %}")
    _para(doc, "发文字号", ("{{ doc_number }}", None))
    _para(doc, "公文无缩进", ("", None))
    _para(doc, "公文无缩进", ("", None))
    _tag(doc, "{%p endif %}")
    # 标题, then 空一行, then 主送机关.
    _tag(doc, "{%p for line in title_lines %}")
    _para(doc, "公文标题", ("{{ line }}", None))
    _tag(doc, "{%p endfor %}")
    _para(doc, "公文无缩进", ("", None))
    _tag(doc, "{%p if addressee %}")
    _para(doc, "主送机关", ("{{ addressee }}", None))
    _tag(doc, "{%p endif %}")
    _blocks_loop(doc, "blocks")
    _tag(doc, "{%p if closing %}")
    _para(doc, "结束语", ("{{ closing }}", None))
    _tag(doc, "{%p endif %}")
    # 附件说明: 正文下空一行.
    _tag(doc, "{%p if attachment_note %}")
    _para(doc, "空行连下", ("", None))
    _para(doc, "附件说明", ("{{ attachment_note }}", None))
    _tag(doc, "{%p endif %}")
    # 署名和成文日期: 正文（或附件说明）下空一行; indents depend on the lengths, so the
    # two paragraphs come prebuilt (styles 发文机关署名 / 成文日期).
    _para(doc, "空行连下", ("", None))
    _para(doc, "公文无缩进", ("{{p signature }}", None))
    # 附件: each on a new page (style 附件标识 has 段前分页), label, 空一行, title, 空一行.
    _tag(doc, "{%p for att in attachments %}")
    _para(doc, "附件标识", ("{{ att.label }}", None))
    _para(doc, "公文无缩进", ("", None))
    _para(doc, "公文标题", ("{{ att.title }}", None))
    _para(doc, "公文无缩进", ("", None))
    _blocks_loop(doc, "att.blocks")
    _tag(doc, "{%p endfor %}")
    # 版记: a table floating at the bottom of the type area of the page where the
    # paragraph after it (版记锚点) lands: the last page, after any attachments.
    _tag(doc, "{%p if banji %}")
    _para(doc, "公文无缩进", ("{{p banji }}", None))
    _para(doc, "版记锚点", ("", None))
    _tag(doc, "{%p endif %}")


def build_official(path: Path = OFFICIAL) -> Path:
    doc = Document()
    body = doc.element.body
    for p in list(body.iterchildren(qn("w:p"))):
        body.remove(p)
    _styles(doc)
    _font_table(doc)
    _page_setup(doc)
    _footers(doc)
    _body(doc)
    props = doc.core_properties
    props.title = "公文模板 (GB/T 9704-2012)"
    props.author = "dangan"
    props.comments = (
        "由 archive/paperwork/templates/docx/build_templates.py 生成; 可在 Word 中修改样式后保存。"
    )
    fixed = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    props.created = props.modified = fixed
    props.last_modified_by = "dangan"
    props.revision = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    doc.save(buf)
    path.write_bytes(_reproducible_zip(buf.getvalue()))
    return path


def _reproducible_zip(data: bytes) -> bytes:
    """Rewrite the package with fixed member timestamps so a rebuild is byte-identical."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(member, src.read(info.filename))
    return out.getvalue()


def main() -> None:
    out = build_official()
    sys.stdout.write(f"{out}\n")


if __name__ == "__main__":
    main()
