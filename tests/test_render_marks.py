"""签发人 and 版记 (GB/T 9704-2012 7.2.4/7.2.5, 7.4) in both renderings, for real.

The example report signed by three people with a 版记 is rendered to .docx (read back with
python-docx; converted by LibreOffice) and to PDF (weasyprint); positions are read with poppler.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import docx
import pytest
from _docs import (
    A4_PT,
    CJK,
    GB_FONTS,
    east_asian_font,
    edited_template,
    embedded_fonts,
    paragraph_texts,
    pdf_words,
    soffice_pdf,
)
from docx.oxml.ns import qn
from lxml import etree

from archive.core.errors import ValidationError
from archive.paperwork import officialdoc as od
from archive.paperwork.officialdoc import OfficialDocument, Paragraph, TemplateError
from archive.paperwork.render_docx import ooxml_out_of_order, render_docx
from archive.paperwork.render_pdf import render_pdf

# --- 签发人 and 版记 (GB/T 9704-2012 7.2.4/7.2.5, 7.4) ------------------------------------

SIGNERS = ["王建国", "李红梅", "赵志强"]
COPY_TO = ["陕西省烟草专卖局专卖管理处", "渭南市烟草专卖局内管办", "潼关县人民政府办公室"]
PRINTED_BY = "潼关县烟草专卖局综合办公室"


@pytest.fixture(scope="module")
def signed(example: OfficialDocument) -> OfficialDocument:
    """The example report as an upward document: three signers, 抄送 and 印发."""
    return dataclasses.replace(
        example,
        signers=SIGNERS,
        copy_to=COPY_TO,
        printed_by=PRINTED_BY,
        printed_on=dt.date(2010, 3, 23),
    )


@pytest.fixture(scope="module")
def signed_docx(signed: OfficialDocument, out_dir: Path) -> Path:
    return render_docx(signed, out_dir / "signed" / "整改情况报告.docx")


@pytest.fixture(scope="module")
def signed_pdf(signed: OfficialDocument, out_dir: Path) -> Path:
    return render_pdf(signed, out_dir / "signed-weasy" / "整改情况报告.pdf")


@pytest.fixture(scope="module")
def signed_lo_pdf(signed_docx: Path, out_dir: Path) -> Path:
    return soffice_pdf(signed_docx, out_dir / "signed-libreoffice")


def test_signer_layout_two_names_a_line_flush_right() -> None:
    one = od.signer_layout(["王建国"], "潼烟专〔2024〕1号")
    assert one == [od.SignerLine("签发人：", ("王建国",), 28 - 1 - 4 - 3, "潼烟专〔2024〕1号")]
    three = od.signer_layout(["王建国", "李红梅", "赵志强"], "潼烟专〔2024〕1号")
    first, last = three
    assert (first.label, first.names_text, first.doc_number) == ("签发人：", "王建国　李红梅", "")
    assert first.x_em == 28 - 1 - (4 + 7)  # the widest line ends 空一字 from the right
    # the continuation line starts under the first name; the 发文字号 is on it
    assert (last.label, last.names, last.doc_number) == ("", ("赵志强",), "潼烟专〔2024〕1号")
    assert last.x_em == first.x_em + 4
    assert od.signer_layout([" "], "潼烟专〔2024〕1号") == []
    alone = od.signer_layout(["王建国"], None)
    assert alone[0].doc_number == "" and alone[0].x_em == 20


def test_copy_to_and_print_date_text() -> None:
    assert od.copy_to_text(["渭南市烟草专卖局", "潼关县人民政府。", " 潼关县公安局，"]) == (
        "抄送：渭南市烟草专卖局，潼关县人民政府，潼关县公安局。"
    )
    assert od.copy_to_text([]) == ""
    assert od.print_date_text(dt.date(2024, 12, 5)) == "2024年12月5日印发"


def test_validation_of_signers_and_banji(example: OfficialDocument) -> None:
    bad = dataclasses.replace(
        example,
        signers=["王建国", " "],
        copy_to=["渭南市烟草专卖局", ""],
        printed_by=" ",
    )
    with pytest.raises(ValidationError) as info:
        bad.validate()
    found = {(p.field, p.row) for p in info.value.problems}
    assert {("签发人", 2), ("抄送机关", 2), ("印发机关", None)} <= found
    orphan = dataclasses.replace(example, printed_on=dt.date(2010, 3, 23))
    with pytest.raises(ValidationError, match="印发日期"):
        orphan.validate()
    early = dataclasses.replace(example, printed_by=PRINTED_BY, printed_on=dt.date(2010, 3, 1))
    with pytest.raises(ValidationError) as info:
        early.validate()
    assert "不早于成文日期 2010年3月22日" in str(info.value)
    crowded = dataclasses.replace(
        example,
        doc_number="潼关县烟草专卖局专卖管理股〔2010〕6号",
        signers=["欧阳建国同志", "司马红梅同志"],
    )
    with pytest.raises(ValidationError, match="发文字号"):
        crowded.validate()
    # the print date defaults to the document date
    fine = dataclasses.replace(example, printed_by=PRINTED_BY)
    fine.validate()
    assert fine.print_date == example.date and fine.has_banji and not example.has_banji


def _body_children(path: Path) -> list[etree._Element]:
    with zipfile.ZipFile(path) as z:
        body = etree.fromstring(z.read("word/document.xml")).find(qn("w:body"))
    assert body is not None
    return [c for c in body if c.tag != qn("w:sectPr")]


def _text(el: etree._Element) -> str:
    return "".join(
        "\t" if t.tag == qn("w:tab") else (t.text or "")
        for t in el.iter(qn("w:t"), qn("w:tab"))
        if t.getparent() is not None and t.getparent().tag == qn("w:r")
    )


def test_docx_signers_share_the_doc_number_line(signed_docx: Path) -> None:
    d = docx.Document(str(signed_docx))
    paras = paragraph_texts(d)
    i = paras.index(("签发人", "签发人：王建国　李红梅"))
    assert paras[i + 1] == ("上行文发文字号", "潼烟专〔2010〕6号\t赵志强")
    assert "发文字号" not in {s for s, _ in paras}  # the centred number is replaced
    first, last = d.paragraphs[i], d.paragraphs[i + 1]
    pitch = od.char_pitch_pt()
    x = (28 - 1 - 11) * pitch  # the widest line "签发人：王建国　李红梅" is 11 wide
    ind = first._p.pPr.find(qn("w:ind"))
    assert ind is not None and int(ind.get(qn("w:left"))) == pytest.approx(x * 20, abs=1)
    tab = last._p.pPr.find(f"{qn('w:tabs')}/{qn('w:tab')}")
    assert tab is not None and tab.get(qn("w:val")) == "left"
    assert int(tab.get(qn("w:pos"))) == pytest.approx((x + 4 * pitch) * 20, abs=1)
    # "签发人：" 3号仿宋 (the paragraph's), the names 3号楷体 (character style 签发人姓名)
    with zipfile.ZipFile(signed_docx) as z:
        styles = etree.fromstring(z.read("word/styles.xml"))
    fonts = {r.text: east_asian_font(r._r, first._p, styles) for r in first.runs}
    assert fonts == {"签发人：": "仿宋_GB2312", "王建国　李红梅": "楷体_GB2312"}
    names = [r for r in last.runs if r.text == "赵志强"]
    assert names and east_asian_font(names[0]._r, last._p, styles) == "楷体_GB2312"
    assert [s.name for s in _style_chain(d, "上行文发文字号")][:2] == ["上行文发文字号", "发文字号"]


def _style_chain(d: docx.document.Document, name: str) -> list[Any]:
    chain, style = [], d.styles[name]
    while style is not None:
        chain.append(style)
        style = style.base_style
    return chain


def test_docx_banji_is_the_last_thing_floating_at_the_foot(signed_docx: Path) -> None:
    children = _body_children(signed_docx)
    tables = [i for i, c in enumerate(children) if c.tag == qn("w:tbl")]
    banji = children[tables[-1]]
    # only its (empty) anchor paragraph follows it; the attachment comes before it
    after = children[tables[-1] + 1 :]
    assert [_text(c) for c in after] == [""] and after[0].tag == qn("w:p")
    before = "".join(_text(c) for c in children[: tables[-1]])
    assert before.rfind("附件") > before.find("特此报告。")
    rows = [[_text(p) for p in tr.iter(qn("w:p"))] for tr in banji.iter(qn("w:tr"))]
    assert rows == [
        ["抄送：陕西省烟草专卖局专卖管理处，渭南市烟草专卖局内管办，潼关县人民政府办公室。"],
        ["潼关县烟草专卖局综合办公室\t2010年3月23日印发"],
    ]
    tbl_pr = banji.find(qn("w:tblPr"))
    assert tbl_pr is not None
    floating = tbl_pr.find(qn("w:tblpPr"))
    assert floating is not None
    assert floating.get(qn("w:vertAnchor")) == "margin"
    assert floating.get(qn("w:tblpYSpec")) == "bottom"
    width = tbl_pr.find(qn("w:tblW"))
    assert width is not None and int(width.get(qn("w:w"))) == od.mm_to_twips(156)
    borders = tbl_pr.find(qn("w:tblBorders"))
    assert borders is not None
    lines = {etree.QName(b).localname: (b.get(qn("w:val")), b.get(qn("w:sz"))) for b in borders}
    # 0.35 mm = 1 pt (w:sz in eighths of a point), 0.25 mm = 0.75 pt
    assert lines["top"] == lines["bottom"] == ("single", "8")
    assert lines["insideH"] == ("single", "6")
    assert lines["left"][0] == lines["right"][0] == lines["insideV"][0] == "nil"
    d = docx.Document(str(signed_docx))
    styles = [p.style.name for t in d.tables[-1:] for r in t.rows for p in r.cells[0].paragraphs]
    assert styles == ["抄送机关", "印发机关和印发日期"]
    copy_to = d.styles["抄送机关"]
    assert copy_to.font.size == docx.shared.Pt(14)  # 4号
    ind = copy_to.element.pPr.find(qn("w:ind"))
    # 左右各空一字; continuation lines under the first organ, after "抄送："
    assert (ind.get(qn("w:left")), ind.get(qn("w:hanging")), ind.get(qn("w:right"))) == (
        "1120",
        "840",
        "280",
    )


def test_signed_docx_chinese_runs_resolve_to_gb_fonts(signed_docx: Path) -> None:
    with zipfile.ZipFile(signed_docx) as z:
        styles = etree.fromstring(z.read("word/styles.xml"))
        body = etree.fromstring(z.read("word/document.xml"))
        assert ooxml_out_of_order(body) == []
    for p in body.iter(qn("w:p")):
        for r in p.iter(qn("w:r")):
            text = "".join(t.text or "" for t in r.iter(qn("w:t")))
            if CJK.search(text):
                assert east_asian_font(r, p, styles) in GB_FONTS, text[:20]


@pytest.fixture(params=["weasyprint", "libreoffice"])
def signed_any_pdf(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(
        "signed_pdf" if request.param == "weasyprint" else "signed_lo_pdf"
    )


def test_pdf_signers_sit_on_the_doc_number_line(signed_any_pdf: Path) -> None:
    left = od.mm_to_pt(od.MARGIN_LEFT_MM)
    right = A4_PT[0] - od.mm_to_pt(od.MARGIN_RIGHT_MM)
    pitch = od.char_pitch_pt()
    words = pdf_words(signed_any_pdf)[0]
    label = next(w for w in words if w[4].startswith("签发人："))
    second = next(w for w in words if w[4] == "李红梅")
    third = next(w for w in words if w[4] == "赵志强")
    number = next(w for w in words if w[4].startswith("潼烟专〔2010〕"))
    # one line: 发文字号 and the last name (glyph boxes of 楷体 and 仿宋 differ by some pt)
    assert number[1] == pytest.approx(third[1], abs=od.line_pitch_pt() / 4)
    assert third[1] - label[1] == pytest.approx(od.line_pitch_pt(), abs=od.line_pitch_pt() / 4)
    assert number[0] == pytest.approx(left + pitch, abs=2)  # 居左空一字
    assert second[2] == pytest.approx(right - pitch, abs=3)  # 居右空一字
    assert third[0] == pytest.approx(label[0] + 4 * pitch, abs=2)  # under the first name
    assert embedded_fonts(signed_any_pdf) and all(e for _, e in embedded_fonts(signed_any_pdf))


def test_pdf_banji_at_the_foot_of_the_last_page(signed_any_pdf: Path) -> None:
    left = od.mm_to_pt(od.MARGIN_LEFT_MM)
    right = A4_PT[0] - od.mm_to_pt(od.MARGIN_RIGHT_MM)
    bottom = A4_PT[1] - od.mm_to_pt(od.MARGIN_BOTTOM_MM)
    pitch = od.line_pitch_pt()
    pages = pdf_words(signed_any_pdf)
    for words in pages[:-1]:
        assert not any(w[4].startswith("抄送") or w[4].endswith("印发") for w in words)
    last = [w for w in pages[-1] if w[1] < bottom]  # not the page number
    copy_to = next(w for w in last if w[4].startswith("抄送："))
    by = next(w for w in last if w[4] == PRINTED_BY)
    on = next(w for w in last if w[4].endswith("日印发"))
    assert by[1] == pytest.approx(on[1], abs=1)
    # 印发 is the last line of the type area; 抄送 (two lines) just above it
    assert bottom - pitch - 4 < by[1] < bottom
    assert by[1] - copy_to[1] == pytest.approx(2 * pitch, abs=4)
    assert max(w[3] for w in last) == pytest.approx(by[3], abs=1)
    assert copy_to[0] == pytest.approx(left + od.BANJI_PT, abs=2)  # 左空一字
    assert by[0] == pytest.approx(left + od.BANJI_PT, abs=2)
    assert on[2] == pytest.approx(right - od.BANJI_PT, abs=2)  # 右空一字
    # the continuation line of 抄送 starts under the first organ, after "抄送："
    below = next(w for w in last if w[4].startswith("县人民政府办公室") or "人民政府" in w[4])
    assert below[0] == pytest.approx(left + 4 * od.BANJI_PT, abs=2)
    # nothing else on the page comes down into the 版记
    banji_top = copy_to[1] - 4
    others = [w for w in last if w[1] < banji_top]
    assert all(w[3] <= banji_top + 2 for w in others)


def test_signers_without_a_doc_number_stand_alone(tmp_path: Path) -> None:
    """No 版头: the 签发人 line still shows who signed, 居右空一字, on the first line."""
    doc = OfficialDocument(
        title="关于整改情况的报告",
        issuer="潼关县烟草专卖局",
        date=dt.date(2024, 12, 5),
        addressee="渭南市烟草专卖局：",
        blocks=[Paragraph("现将整改情况报告如下。")],
        signers=["王建国"],
        printed_by=PRINTED_BY,
    )
    d = docx.Document(str(render_docx(doc, tmp_path / "x.docx")))
    paras = paragraph_texts(d)
    assert paras[0] == ("签发人", "签发人：王建国")
    assert ("公文标题", "关于整改情况的报告") in paras
    pdf = render_pdf(doc, tmp_path / "x.pdf")
    (page,) = pdf_words(pdf)
    label = next(w for w in page if w[4].startswith("签发人："))
    top = od.mm_to_pt(od.MARGIN_TOP_MM)
    assert label[1] < top + od.line_pitch_pt()
    right = A4_PT[0] - od.mm_to_pt(od.MARGIN_RIGHT_MM)
    assert label[2] == pytest.approx(right - od.char_pitch_pt(), abs=3)
    on = next(w for w in page if w[4] == "2024年12月5日印发")  # 印发日期 = 成文日期
    assert on[1] > A4_PT[1] - od.mm_to_pt(od.MARGIN_BOTTOM_MM) - 2 * od.line_pitch_pt()


def test_template_that_cannot_show_signers_or_banji_is_named(
    tmp_path: Path, signed: OfficialDocument
) -> None:
    """An older or edited template without the 签发人/版记 styles and tags: an error that
    names them, not a report silently without them."""
    no_tag = edited_template(
        tmp_path / "clerk-edited.docx", "word/document.xml", "{{p banji }}", ""
    )
    with pytest.raises(TemplateError) as info:
        render_docx(signed, tmp_path / "out.docx", template=no_tag)
    assert str(no_tag) in info.value.message and "版记" in info.value.message
    assert "标签 {{p banji }}" in info.value.message and "签发人" not in info.value.message
    no_style = edited_template(
        tmp_path / "no-style.docx", "word/styles.xml", 'w:val="签发人姓名"', 'w:val="姓名"'
    )
    with pytest.raises(TemplateError, match="缺少样式“签发人姓名”"):
        render_docx(signed, tmp_path / "out.docx", template=no_style)
    assert not (tmp_path / "out.docx").exists()
    # a document without 签发人 and 版记 still renders from such a template
    render_docx(
        dataclasses.replace(signed, signers=[], copy_to=[], printed_by=None, printed_on=None),
        tmp_path / "out.docx",
        template=no_tag,
    )
