"""The GB/T 9704 rendering engine: model, .docx (docxtpl + LibreOffice) and PDF (weasyprint).

Everything runs for real: documents are rendered from the committed templates, the .docx
is converted by LibreOffice (private profile, fonts mapped by archive/paperwork/templates/docx/fonts.conf),
PDFs are inspected with poppler (pdffonts, pdfinfo, pdftotext -bbox) and page 1 is read
back by tesseract (chi_sim).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
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
    run,
    soffice_pdf,
    tool,
)
from docx.oxml.ns import qn
from docx.shared import Mm
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from archive.core.errors import ArchiveError, NotFoundError, ValidationError
from archive.paperwork import officialdoc as od
from archive.paperwork.officialdoc import (
    Attachment,
    Heading,
    OfficialDocument,
    Paragraph,
    Table,
    TemplateError,
    chinese_date,
    format_doc_number,
    parse_doc_number,
    parse_heading,
)
from archive.paperwork.render_docx import DEFAULT_TEMPLATE, ooxml_out_of_order, render_docx
from archive.paperwork.render_pdf import HTML_DIR, render_pdf
from samples.example_report import FINDINGS

REPO = Path(__file__).resolve().parents[1]


# --- fixtures: the example report rendered once per module ----------------------------


@pytest.fixture(scope="module")
def report_docx(example: OfficialDocument, out_dir: Path) -> Path:
    return render_docx(example, out_dir / "整改情况报告.docx")


@pytest.fixture(scope="module")
def report_pdf(example: OfficialDocument, out_dir: Path) -> Path:
    return render_pdf(example, out_dir / "weasy" / "整改情况报告.pdf")


@pytest.fixture(scope="module")
def lo_pdf(report_docx: Path, out_dir: Path) -> Path:
    return soffice_pdf(report_docx, out_dir / "libreoffice")


# --- the model ---------------------------------------------------------------------------


def test_doc_numbers_in_both_styles() -> None:
    assert format_doc_number("潼烟专", 2024, 1) == "潼烟专〔2024〕1号"
    assert format_doc_number("潼烟罚", 2011, 12, style="enforcement") == "潼烟罚〔2011〕第12号"
    assert format_doc_number("", None, 3, style="enforcement") == "第3号"


def test_doc_numbers_read_back_with_any_bracket_and_width() -> None:
    assert parse_doc_number("潼烟罚[2011]第12号") == ("潼烟罚", 2011, 12, "enforcement")
    assert parse_doc_number("潼烟专【２０２４】１号") == ("潼烟专", 2024, 1, "bureau")
    assert parse_doc_number("冀烟专［2009］99号") == ("冀烟专", 2009, 99, "bureau")
    assert parse_doc_number("国烟专(2009)262号") == ("国烟专", 2009, 262, "bureau")
    assert parse_doc_number("特此报告") is None


@given(
    prefix=st.text(alphabet="潼关烟专罚渭南冀国", min_size=1, max_size=5),
    year=st.integers(1990, 2099),
    n=st.integers(1, 9999),
    style=st.sampled_from(["bureau", "enforcement"]),
)
def test_doc_number_round_trip(prefix: str, year: int, n: int, style: str) -> None:
    text = format_doc_number(prefix, year, n, style=style)  # type: ignore[arg-type]
    assert parse_doc_number(text) == (prefix, year, n, style)


def test_doc_number_rejects_nonsense() -> None:
    with pytest.raises(od.UsageError):
        format_doc_number("潼烟专", 2024, 0)
    with pytest.raises(od.UsageError):
        format_doc_number("", 2024, 1)


def test_dates_are_arabic_without_leading_zeros() -> None:
    assert chinese_date(dt.date(2024, 3, 5)) == "2024年3月5日"
    assert chinese_date(dt.datetime(2010, 12, 22, 9, 30)) == "2010年12月22日"


def test_heading_labels_number_and_restart() -> None:
    blocks: list[od.Block] = [
        Heading(1, "开展情况"),
        Heading(2, "健全组织"),
        Heading(3, "健全打假协作机制"),
        Heading(4, "细化"),
        Heading(4, "量化"),
        Heading(2, "完善制度"),
        Heading(3, "规范"),
        Paragraph("正文"),
        Heading(1, "存在的不足"),
        Heading(2, "认识不够", number="（甲）"),
    ]
    labels = [label for _, label in od.numbered(blocks)]
    assert labels == [
        "一、",
        "（一）",
        "1.",
        "（1）",
        "（2）",
        "（二）",
        "1.",
        "",
        "二、",
        "（甲）",
    ]
    assert od.chinese_numeral(11) == "十一" and od.chinese_numeral(20) == "二十"
    assert od.heading_label(1, 34) == "三十四、"


def test_parse_heading_accepts_full_and_half_width_labels() -> None:
    assert parse_heading("一、创建优秀县局工作开展情况") == (1, "创建优秀县局工作开展情况")
    assert parse_heading("(一)健全组织机构") == (2, "健全组织机构")
    assert parse_heading("（三）、严格督促把关") == (2, "严格督促把关")
    assert parse_heading("1、健全打假协作机制") == (3, "健全打假协作机制")
    assert parse_heading("２．强化案件经营意识") == (3, "强化案件经营意识")
    assert parse_heading("（1）按照国家局要求") == (4, "按照国家局要求")
    assert parse_heading("2010年1月24日，省局考核验收组") is None
    assert parse_heading("一是强化了硬件设施基础") is None


def test_validation_reports_every_problem_at_once() -> None:
    bad = OfficialDocument(
        title=" ",
        issuer="",
        date=dt.date(2024, 3, 5),
        blocks=[
            Heading(5, "第五级"),
            Table(["问题", "措施"], [["缺附件"]], widths=[1.0]),
            Paragraph(""),
        ],
        attachments=[Attachment("", [Table([], [])])],
    )
    with pytest.raises(ValidationError) as info:
        bad.validate()
    fields = [p.field for p in info.value.problems]
    assert "标题" in fields and "发文机关署名" in fields
    assert "正文标题层级" in fields and "正文表格第1行" in fields and "正文表格列宽" in fields
    assert "正文段落" in fields and "附件1标题" in fields and "附件1表格列" in fields
    with pytest.raises(ValidationError):
        render_docx(bad, Path("/nonexistent/never-written.docx"))


def test_grid_fits_22_lines_of_28_characters() -> None:
    pitch = od.line_pitch_pt()
    assert pitch == pytest.approx(28.95)
    assert 22 * pitch <= od.mm_to_pt(od.TYPE_AREA_HEIGHT_MM) < 22 * (pitch + 0.05) + 1
    per_char = od.BODY_PT + od.letter_spacing_pt()
    assert 28 * per_char <= od.mm_to_pt(od.TYPE_AREA_WIDTH_MM) < 29 * per_char
    assert (od.MARGIN_RIGHT_MM, od.MARGIN_BOTTOM_MM) == (26.0, 35.0)


def test_signature_is_set_per_gbt9704() -> None:
    # issuer longer than the date: issuer 右空二字, date starts two characters further right
    issuer_right, date_right = od.signature_indents_em("潼关县烟草专卖局", "2024年3月5日")
    assert issuer_right == 2
    assert date_right == 8 - 6  # issuer 8 wide, date 3 CJK + 6 digits = 6 wide
    # date longer than the issuer: date 右空二字, issuer moves left
    issuer_right, date_right = od.signature_indents_em("潼关局", "2024年12月25日")
    assert date_right == 2 and issuer_right == pytest.approx(4 + 7 - 3)


# --- .docx ---------------------------------------------------------------------------------


def test_docx_page_setup_is_gbt9704(report_docx: Path) -> None:
    d = docx.Document(str(report_docx))
    s = d.sections[0]
    for got, want in (
        (s.page_width, 210),
        (s.page_height, 297),
        (s.top_margin, 37),
        (s.bottom_margin, 35),
        (s.left_margin, 28),
        (s.right_margin, 26),
    ):
        assert got is not None and abs(got - Mm(want)) < Mm(0.1)
    grid = s._sectPr.find(qn("w:docGrid"))
    assert grid is not None and grid.get(qn("w:linePitch")) == "579"
    spacing = d.styles.element.find(
        f"{qn('w:docDefaults')}/{qn('w:pPrDefault')}//{qn('w:spacing')}"
    )
    assert spacing is not None
    assert (spacing.get(qn("w:line")), spacing.get(qn("w:lineRule"))) == ("579", "exact")


def test_docx_reads_back_with_headings_tables_and_figures(report_docx: Path) -> None:
    d = docx.Document(str(report_docx))
    paras = paragraph_texts(d)
    texts = [t for _, t in paras]
    styled = {(s, t) for s, t in paras}
    assert ("发文字号", "潼烟专〔2010〕6号") in styled
    assert [t for s, t in paras if s == "公文标题"][:2] == [
        "关于2009年创建优秀县级局活动",
        "整改工作情况的报告",
    ]
    assert ("主送机关", "渭南市烟草专卖局：") in styled
    assert [t for s, t in paras if s == "一级标题"] == [
        "一、组织领导",
        "二、整改情况",
        "三、下一步工作",
    ]
    h2 = [t for s, t in paras if s == "二级标题"]
    assert h2[0].startswith("（一）成立整改工作领导组。组长由局长王建国担任")
    assert [t for t in h2 if t.startswith("（") and "方面" in t] == [
        f"（{od.chinese_numeral(i)}）{area}方面。" for i, (area, *_) in enumerate(FINDINGS, 1)
    ]
    assert next(t for s, t in paras if s == "三级标题").startswith("1.巩固整改成果。")
    assert "存在问题：“三会一课”制度及执行方面不规范。" in texts
    assert ("结束语", "特此报告。") in styled
    assert ("附件说明", "附件：创建优秀县级局整改问题清单") in styled
    assert ("发文机关署名", "潼关县烟草专卖局") in styled
    assert ("成文日期", "2010年3月22日") in styled
    assert ("附件标识", "附件") in styled
    # Tables: the division of work (6 areas) and the findings list (问题/措施/结果/证据).
    assert len(d.tables) == 2
    division, findings = d.tables
    assert [c.text for c in division.rows[0].cells] == ["整改方面", "责任人", "完成时限"]
    assert [r.cells[0].text for r in division.rows[1:]] == [a for a, *_ in FINDINGS]
    assert [c.text for c in findings.rows[0].cells] == ["问题", "措施", "结果", "证据"]
    assert len(findings.rows) == 1 + len(FINDINGS)
    assert "初级合格率为50%" in findings.rows[3].cells[0].text
    # No template tag survives rendering.
    everything = "\n".join(texts) + "".join(
        c.text for t in d.tables for r in t.rows for c in r.cells
    )
    assert "{%" not in everything and "{{" not in everything


def test_every_chinese_run_has_an_east_asian_font(report_docx: Path) -> None:
    with zipfile.ZipFile(report_docx) as z:
        styles = etree.fromstring(z.read("word/styles.xml"))
        body = etree.fromstring(z.read("word/document.xml"))
    seen: dict[str, set[str]] = {}
    chinese_runs = 0
    for p in body.iter(qn("w:p")):
        ppr = p.find(qn("w:pPr"))
        pstyle = ppr.find(qn("w:pStyle")) if ppr is not None else None
        pid = pstyle.get(qn("w:val")) if pstyle is not None else "Normal"
        for r in p.iter(qn("w:r")):
            text = "".join(t.text or "" for t in r.iter(qn("w:t")))
            if not CJK.search(text):
                continue
            chinese_runs += 1
            font = east_asian_font(r, p, styles)
            assert font in GB_FONTS, f"run {text[:20]!r} ({pid}) resolves to {font!r}"
            seen.setdefault(pid, set()).add(font)
    assert chinese_runs > 100
    assert seen["GwTitle"] == {"方正小标宋简体"}
    assert seen["GwH1"] == {"黑体"}
    assert "楷体_GB2312" in seen["GwH2"]  # heading; its run-in text is 仿宋
    assert seen["GwTableHead"] == {"黑体"} and seen["GwTableText"] == {"仿宋_GB2312"}


def test_template_declares_windows_fallbacks_for_gb_fonts() -> None:
    with zipfile.ZipFile(DEFAULT_TEMPLATE) as z:
        fonts = etree.fromstring(z.read("word/fontTable.xml"))
    alt = {
        f.get(qn("w:name")): f.find(qn("w:altName")).get(qn("w:val"))
        for f in fonts.iter(qn("w:font"))
        if f.find(qn("w:altName")) is not None
    }
    assert alt["方正小标宋简体"] == "宋体" and alt["仿宋_GB2312"] == "仿宋"
    assert alt["楷体_GB2312"] == "楷体"


def test_tables_have_borders_on_every_side(report_docx: Path) -> None:
    d = docx.Document(str(report_docx))
    for table in d.tables:
        borders = table._tbl.tblPr.find(qn("w:tblBorders"))
        assert borders is not None
        sides = {etree.QName(b).localname: b.get(qn("w:val")) for b in borders}
        assert sides == dict.fromkeys(
            ("top", "left", "bottom", "right", "insideH", "insideV"), "single"
        )
        header = table.rows[0]._tr.trPr
        assert header is not None and header.find(qn("w:tblHeader")) is not None


def test_footers_number_pages_odd_right_even_left(report_docx: Path) -> None:
    d = docx.Document(str(report_docx))
    assert d.settings.odd_and_even_pages_header_footer
    s = d.sections[0]
    for footer, side in ((s.footer, "right"), (s.even_page_footer, "left")):
        p = footer.paragraphs[0]
        xml = etree.tostring(p._p, encoding="unicode")
        assert "PAGE" in xml and 'fldCharType="begin"' in xml
        assert p.text.startswith("— ") and p.text.endswith(" —")
        assert p.alignment is not None and p.alignment.name == side.upper()
        indent = (
            p.paragraph_format.right_indent if side == "right" else p.paragraph_format.left_indent
        )
        assert indent is not None and abs(indent.pt - od.PAGE_NUMBER_PT) < 0.5  # 空一字


def test_docx_properties_are_in_schema_order(report_docx: Path) -> None:
    """Word calls a file with misordered property elements unreadable."""
    for path in (DEFAULT_TEMPLATE, report_docx):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.startswith("word/") and name.endswith(".xml"):
                    assert ooxml_out_of_order(etree.fromstring(z.read(name))) == [], (path, name)


def test_committed_template_matches_its_builder(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "build_templates",
        REPO / "archive" / "paperwork" / "templates" / "docx" / "build_templates.py",
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rebuilt = module.build_official(tmp_path / "official.docx")
    assert rebuilt.read_bytes() == DEFAULT_TEMPLATE.read_bytes(), (
        "archive/paperwork/templates/docx/official.docx differs from build_templates.py: "
        "run python archive/paperwork/templates/docx/build_templates.py"
    )


def test_text_is_escaped_not_interpreted(tmp_path: Path) -> None:
    doc = OfficialDocument(
        title="关于<测试>&“引号”的报告",
        issuer="潼关县烟草专卖局",
        date=dt.date(2024, 3, 5),
        blocks=[Paragraph("R&D <b>不是标签</b> {{ 也不是 }}"), Table(["A&B"], [["<1>"]])],
    )
    d = docx.Document(str(render_docx(doc, tmp_path / "x.docx")))
    texts = [p.text for p in d.paragraphs]
    assert "关于<测试>&“引号”的报告" in texts
    assert "R&D <b>不是标签</b> {{ 也不是 }}" in texts
    assert d.tables[0].rows[1].cells[0].text == "<1>"


# --- broken templates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "tag", "why"),
    [
        ("{{ closing }}", "{{ closing }", "{{ closing }", "没有闭合"),
        ("{%p endif %}", "{%p endiff %}", "{%p endiff %}", "未知的标签"),
        ("{{ addressee }}", "{{ addressee | }}", "{{ addressee | }}", "有误"),
        (
            '{%p elif b.kind == "p" %}',
            '{%p elif b.kind = "p" %}',
            '{%p elif b.kind = "p" %}',
            "有误",
        ),
        (
            "{%p for line in title_lines %}",
            "{%p for line title_lines %}",
            "{%p for line title_lines %}",
            "有误",
        ),
        ("{{ b.text }}", "{{ b.txet }}", "{{ b.txet }}", "不存在的字段"),
    ],
)
def test_broken_tag_names_template_and_tag(
    tmp_path: Path, example: OfficialDocument, old: str, new: str, tag: str, why: str
) -> None:
    broken = edited_template(tmp_path / "clerk-edited.docx", "word/document.xml", old, new)
    with pytest.raises(TemplateError) as info:
        render_docx(example, tmp_path / "out.docx", template=broken)
    err = info.value
    assert str(broken) in err.message and tag in err.message and why in err.message
    assert err.tag == tag and err.template == broken and err.exit_code == 4
    assert not (tmp_path / "out.docx").exists()


def test_missing_end_tag_is_named(tmp_path: Path, example: OfficialDocument) -> None:
    broken = edited_template(
        tmp_path / "clerk-edited.docx", "word/document.xml", "{%p endfor %}", ""
    )
    with pytest.raises(TemplateError) as info:
        render_docx(example, tmp_path / "out.docx", template=broken)
    assert str(broken) in info.value.message
    assert info.value.tag is not None and info.value.tag.startswith("{%p for")


def test_unwritable_output_is_an_archive_error(tmp_path: Path, example: OfficialDocument) -> None:
    blocker = tmp_path / "报告"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ArchiveError, match="无法写入"):
        render_docx(example, blocker / "out.docx")
    with pytest.raises(ArchiveError, match="无法写入"):
        render_pdf(example, blocker / "out.pdf")
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_missing_template_is_not_found(tmp_path: Path, example: OfficialDocument) -> None:
    with pytest.raises(NotFoundError, match=r"build_templates\.py"):
        render_docx(example, tmp_path / "out.docx", template=tmp_path / "gone.docx")


def test_broken_html_template_names_file_and_line(
    tmp_path: Path, example: OfficialDocument
) -> None:
    html_dir = tmp_path / "html"
    shutil.copytree(HTML_DIR, html_dir)
    page = html_dir / "official.html"
    page.write_text(
        page.read_text(encoding="utf-8").replace("{% if closing %}", "{% if closing %%}", 1),
        encoding="utf-8",
    )
    with pytest.raises(TemplateError) as info:
        render_pdf(example, tmp_path / "out.pdf", template=page)
    assert str(page) in info.value.message and "{% if closing %%}" in info.value.message
    assert not (tmp_path / "out.pdf").exists()


# --- PDFs: weasyprint's and LibreOffice's --------------------------------------------------


def _fonts(pdf: Path) -> list[tuple[str, str]]:
    lines = run(tool("pdffonts"), str(pdf)).splitlines()[2:]
    return [
        (line.split()[0], line[line.index("Identity") if "Identity" in line else 0 :])
        for line in lines
    ]


@pytest.fixture(params=["weasyprint", "libreoffice"])
def any_pdf(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue("report_pdf" if request.param == "weasyprint" else "lo_pdf")


def test_pdf_embeds_all_its_fonts(any_pdf: Path) -> None:
    fonts = embedded_fonts(any_pdf)
    assert fonts, "no fonts in the PDF"
    assert all(emb for _, emb in fonts), fonts


def test_weasyprint_pdf_uses_the_mapped_cjk_faces(report_pdf: Path) -> None:
    names = {name.split("+", 1)[-1] for name, _ in embedded_fonts(report_pdf)}
    assert {"GwFangSong", "GwHei", "GwXiaoBiaoSong", "GwSong"} <= names


def test_pdf_is_a4_with_gbt9704_margins(any_pdf: Path) -> None:
    info = run(tool("pdfinfo"), str(any_pdf))
    w, h = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())  # type: ignore[union-attr]
    assert (w, h) == pytest.approx(A4_PT, abs=1)
    left, top = od.mm_to_pt(28), od.mm_to_pt(37)
    right, bottom = w - od.mm_to_pt(26), h - od.mm_to_pt(35)
    pages = pdf_words(any_pdf)
    assert len(pages) >= 3
    for words in pages:
        body = [wd for wd in words if wd[1] < bottom]  # the page number lives below
        assert body
        assert min(wd[0] for wd in body) >= left - 1.5
        for wd in body:
            if wd[2] <= right + 1.5:
                continue
            # LibreOffice 7.4 ignores w:overflowPunct="0" and hangs a closing
            # punctuation mark into the margin (Word honours the setting); nothing else
            # may cross the type area.
            assert any_pdf.parent.name == "libreoffice", wd
            assert wd[4][-1] in "、，。；：！？）》”’" and wd[2] <= right + od.BODY_PT + 1.5, wd
        assert min(wd[1] for wd in body) >= top - 8  # glyph boxes reach above the em box
    # Body text starts at the binding margin: the addressee is set flush left.
    first = next(wd for wd in pages[0] if wd[4].startswith("渭南市"))
    assert first[0] == pytest.approx(left, abs=1.5)


def test_pdf_page_numbers_alternate_sides(any_pdf: Path) -> None:
    pages = pdf_words(any_pdf)
    info = run(tool("pdfinfo"), str(any_pdf))
    width = float(re.search(r"Page size:\s+([\d.]+)", info).group(1))  # type: ignore[union-attr]
    below = od.mm_to_pt(297 - 35)
    for n, words in enumerate(pages, start=1):
        number = [wd for wd in words if wd[1] > below and wd[4] == str(n)]
        assert number, f"page {n} has no page number {n} under the type area"
        x = number[0][0]
        if n % 2:
            assert x > width / 2, f"odd page {n}: number should be on the right"
        else:
            assert x < width / 2, f"even page {n}: number should be on the left"
        dashes = [wd for wd in words if wd[1] > below and "—" in wd[4]]
        assert len(dashes) >= 2 or any(wd[4].count("—") == 2 for wd in dashes)


def test_pdf_text_reads_back(any_pdf: Path) -> None:
    text = run(tool("pdftotext"), str(any_pdf), "-")
    flat = re.sub(r"\s+", "", text)
    for needle in (
        "潼关县烟草专卖局文件",
        "整改工作情况的报告",
        "特此报告。",
        "2010年3月22日",
        "附件",
    ):
        assert needle in flat, needle


def test_page_one_shows_chinese_to_ocr(any_pdf: Path, tmp_path: Path) -> None:
    """Render page 1 to PNG and read it back with tesseract chi_sim: the page really
    shows Chinese (not tofu boxes from a missing font)."""
    png_base = tmp_path / "page"
    run(tool("pdftoppm"), "-r", "150", "-png", "-f", "1", "-l", "1", str(any_pdf), str(png_base))
    png = next(tmp_path.glob("page*.png"))
    text = run(tool("tesseract"), str(png), "stdout", "-l", "chi_sim", "--psm", "4")
    flat = re.sub(r"\s+", "", text)
    hits = [w for w in ("烟草专卖局", "整改", "报告", "考核验收", "渭南市") if w in flat]
    assert len(hits) >= 3, flat[:200]


def _baselines(pdf: Path) -> list[list[tuple[float, float]]]:
    """Per page, where each piece of text is shown: (x, baseline y from the top), in pt."""
    from pypdf import PdfReader

    def shown_on(page: Any) -> list[tuple[float, float]]:
        height = float(page.mediabox.height)
        shown: list[tuple[float, float]] = []

        def visit(text: str, cm: list[float], tm: list[float], *_: object) -> None:
            if text.strip():
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                shown.append((x, height - y))

        page.extract_text(visitor_text=visit)
        return shown

    return [shown_on(page) for page in PdfReader(str(pdf)).pages]


def test_pdf_keeps_the_grid_of_22_lines_by_28_characters(any_pdf: Path) -> None:
    left = od.mm_to_pt(od.MARGIN_LEFT_MM)
    bottom = A4_PT[1] - od.mm_to_pt(od.MARGIN_BOTTOM_MM)
    pages = pdf_words(any_pdf)
    # Lines per page: a page of running text holds exactly 22 lines, 28.95 pt apart. The
    # grid is the baselines' (from the content stream): word boxes depend on each font's
    # ascent, and 楷体 headings (AR PL UKai) have another one than 仿宋 (Noto Serif).
    pitch = od.line_pitch_pt()
    indent = left + 2 * od.char_pitch_pt()
    counts = []
    for shown in _baselines(any_pdf):
        # Lines of running text start at the margin or at the 2-character indent; the
        # title, masthead and table cells (which keep their own pitch) do not.
        starts: dict[float, float] = {}
        for x, y in shown:
            starts[round(y, 1)] = min(x, starts.get(round(y, 1), x))
        tops = sorted(
            y for y, x in starts.items() if y < bottom and min(abs(x - left), abs(x - indent)) < 1.5
        )
        counts.append(len(tops))
        for a, b in itertools.pairwise(tops):
            if b - a > 2.5 * pitch:
                continue  # a table or the title in between: not on the grid
            lines = round((b - a) / pitch)
            assert abs(b - a - lines * pitch) < 0.2 * max(lines, 1), (a, b)
    assert max(counts) == od.LINES_PER_PAGE
    # Characters per line: full lines of Chinese (no Latin or digits) hold 28.
    lengths = [
        len(wd[4])
        for words in pages
        for wd in words
        if abs(wd[0] - left) < 1.5 and wd[1] < bottom and not re.search(r"[ -~]", wd[4])
    ]
    assert lengths.count(od.CHARS_PER_LINE) >= 10
    assert max(lengths) <= od.CHARS_PER_LINE + (1 if any_pdf.parent.name == "libreoffice" else 0)


def test_summary_without_masthead_renders_its_figures_table(tmp_path: Path) -> None:
    from samples.example_report import SUMMARY_FIGURES, build_example_summary

    doc = build_example_summary()
    d = docx.Document(str(render_docx(doc, tmp_path / "工作汇报.docx")))
    styles = {p.style.name for p in d.paragraphs if p.style is not None and p.text}
    assert "发文字号" not in styles and "发文机关标志" not in styles
    assert [
        p.text for p in d.paragraphs if p.style is not None and p.style.name == "段首强调"
    ] == []
    lead = next(p for p in d.paragraphs if p.text.startswith("一是强化了硬件设施基础。"))
    assert lead.runs[0].style is not None and lead.runs[0].style.name == "段首强调"
    (figures,) = d.tables
    assert [r.cells[1].text for r in figures.rows[1:]] == [v for _, v, _ in SUMMARY_FIGURES]
    assert figures.rows[2].cells[1].paragraphs[0].alignment.name == "RIGHT"
    pdf = render_pdf(doc, tmp_path / "工作汇报.pdf")
    flat = re.sub(r"\s+", "", run(tool("pdftotext"), str(pdf), "-"))
    assert "700.2" in flat and "表1一季度主要工作数字" in flat and "2011年4月30日" in flat
