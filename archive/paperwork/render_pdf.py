"""Render an :class:`~archive.paperwork.officialdoc.OfficialDocument` to PDF with weasyprint, from
the HTML/CSS templates in ``archive/paperwork/templates/html/`` (Jinja2), laid out per GB/T 9704-2012:
A4, margins 37/26/35/28 mm, 22 lines x 28 characters, "— N —" page numbers (odd pages
right, even pages left), CJK fonts embedded.

Fonts are the local Noto CJK faces, found through fontconfig (``fc-list``) or at the
Debian paths: 仿宋/宋体 → Noto Serif CJK SC, 黑体 → Noto Sans CJK SC, 楷体 → AR PL UKai
CN if installed else Noto Serif CJK SC, 小标宋 → Noto Serif CJK SC Bold.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from archive.core.errors import ConfigError, NotFoundError
from archive.paperwork import officialdoc as od
from archive.paperwork.officialdoc import Heading, OfficialDocument, Paragraph, Table, TemplateError
from archive.paperwork.render_docx import attachment_note, write_atomically

HTML_DIR = Path(__file__).with_name("templates") / "html"
DEFAULT_HTML = "official.html"
DEFAULT_CSS = "official.css"

_NOTO = Path("/usr/share/fonts/opentype/noto")


@dataclass(frozen=True)
class FontChoice:
    """One font face used in the PDF: the CSS family, the PostScript name fontconfig
    knows it by, and its file."""

    family: str
    weight: int
    postscript: str
    file: Path


# role → (css family, weight, candidates as (PostScript name, Debian file))
_ROLES: dict[str, tuple[str, int, tuple[tuple[str, Path], ...]]] = {
    "fangsong": (
        "GwFangSong",
        400,
        (("NotoSerifCJKsc-Regular", _NOTO / "NotoSerifCJK-Regular.ttc"),),
    ),
    "fangsong-bold": (
        "GwFangSong",
        700,
        (("NotoSerifCJKsc-Bold", _NOTO / "NotoSerifCJK-Bold.ttc"),),
    ),
    "hei": ("GwHei", 400, (("NotoSansCJKsc-Regular", _NOTO / "NotoSansCJK-Regular.ttc"),)),
    "kai": (
        "GwKai",
        400,
        (
            ("ARPLUKaiCN", Path("/usr/share/fonts/truetype/arphic/ukai.ttc")),
            ("NotoSerifCJKsc-Regular", _NOTO / "NotoSerifCJK-Regular.ttc"),
        ),
    ),
    "song": ("GwSong", 400, (("NotoSerifCJKsc-Regular", _NOTO / "NotoSerifCJK-Regular.ttc"),)),
    "xbs": ("GwXiaoBiaoSong", 400, (("NotoSerifCJKsc-Bold", _NOTO / "NotoSerifCJK-Bold.ttc"),)),
}


@functools.lru_cache(maxsize=1)
def _fontconfig_faces() -> dict[str, Path]:
    """PostScript name → file of every face fontconfig knows (empty without fc-list)."""
    exe = shutil.which("fc-list")
    if exe is None:
        return {}
    try:
        out = subprocess.run(
            [exe, "--format", "%{postscriptname}\t%{file}\n"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    faces: dict[str, Path] = {}
    for line in out.splitlines():
        name, _, file = line.partition("\t")
        if name and file:
            faces.setdefault(name, Path(file))
    return faces


def cjk_fonts() -> list[FontChoice]:
    """The faces the PDF templates use; raises ConfigError naming the missing font."""
    faces = _fontconfig_faces()
    chosen: list[FontChoice] = []
    for role, (family, weight, candidates) in _ROLES.items():
        for ps, debian_file in candidates:
            file = faces.get(ps) or (debian_file if debian_file.is_file() else None)
            if file is not None:
                chosen.append(FontChoice(family, weight, ps, file))
                break
        else:
            wanted = ", ".join(ps for ps, _ in candidates)
            raise ConfigError(
                f"找不到生成 PDF 所需的中文字体 ({role}: {wanted}): "
                f"请安装 Noto CJK 字体 (Debian: apt-get install fonts-noto-cjk)"
            )
    return chosen


def font_face_css(fonts: list[FontChoice]) -> str:
    """@font-face rules: the local face by PostScript name, its file as the fallback."""
    rules = []
    for f in fonts:
        rules.append(
            f'@font-face {{ font-family: "{f.family}"; font-weight: {f.weight}; '
            f'src: local("{f.postscript}"), url("{f.file.as_uri()}"); }}'
        )
    return "\n".join(rules)


def render_pdf(
    doc: OfficialDocument,
    out: Path,
    *,
    template: Path | None = None,
) -> Path:
    """Write ``doc`` as a PDF at ``out`` (parent folders are created); return ``out``.

    ``template`` is an HTML template; its folder must also hold ``official.css`` (or
    the template may carry its own styles).
    """
    doc.validate()
    template = Path(template) if template is not None else HTML_DIR / DEFAULT_HTML
    if not template.is_file():
        raise NotFoundError(
            f"找不到 PDF 模板 {template}: 请检查路径 (默认模板在 archive/paperwork/templates/html/)"
        )
    html = render_html(doc, template)
    # weasyprint is imported here: it is heavy and only this function needs it.
    import weasyprint

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    out = Path(out)
    page = weasyprint.HTML(string=html, base_url=str(template.parent))
    write_atomically(out, lambda tmp: page.write_pdf(str(tmp)))
    return out


def render_html(doc: OfficialDocument, template: Path | None = None) -> str:
    """The HTML handed to weasyprint (useful to look at in a browser)."""
    template = Path(template) if template is not None else HTML_DIR / DEFAULT_HTML
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template.parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    context = html_context(doc)
    try:
        css_path = template.parent / DEFAULT_CSS
        css = env.get_template(DEFAULT_CSS).render(context) if css_path.is_file() else ""
        return env.get_template(template.name).render(context, css=css)
    except jinja2.TemplateSyntaxError as exc:
        bad = Path(exc.filename) if exc.filename else template
        line = _source_line(bad, exc.lineno)
        raise TemplateError(
            f"PDF 模板 {bad} 第{exc.lineno}行的标签有误: {exc.message} (该行: {line})。"
            f"请改正这个标签",
            template=bad,
            tag=line,
        ) from exc
    except jinja2.UndefinedError as exc:
        raise TemplateError(
            f"PDF 模板 {template} 引用了不存在的字段: {exc.message}; "
            f"可用字段见 archive/paperwork/render_pdf.py 的 html_context 说明",
            template=template,
        ) from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(f"PDF 模板 {template} 渲染失败: {exc}", template=template) from exc


def _source_line(path: Path, lineno: int | None) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    if lineno is None or not 1 <= lineno <= len(lines):
        return ""
    return lines[lineno - 1].strip()


# --- context -----------------------------------------------------------------------


def html_context(doc: OfficialDocument) -> dict[str, Any]:
    """Values the HTML/CSS templates see: the same fields as the .docx context (see
    ``render_docx.docx_context``) plus ``geometry`` (page and type sizes in pt/mm),
    ``font_faces`` (CSS) and ``signature`` ({issuer, date, issuer_right, date_right}
    with the right indents in pt).  Tables are ``{caption, columns, rows, widths}``
    with widths in percent.

    签发人: ``signer_lines``, each ``{label, names, x, doc_number}`` with ``x`` (pt from the
    left margin) where the line's label or names start (see
    :func:`officialdoc.signer_layout`).  版记: ``copy_to`` ("抄送：A，B。" or ""),
    ``printed_by``, ``print_date`` ("2024年12月5日印发") and ``banji`` (whether there is
    one); the template sets it as a footnote without a call, which weasyprint places at
    the foot of the page where it falls, the last one."""
    date_text = od.chinese_date(doc.date)
    issuer_em, date_em = od.signature_indents_em(doc.issuer.strip(), date_text)
    pitch = od.char_pitch_pt()
    several = len(doc.attachments) > 1
    return {
        "title_lines": doc.title_lines,
        "header_org": doc.header_org or "",
        "doc_number": doc.doc_number or "",
        "addressee": doc.addressee or "",
        "closing": doc.closing or "",
        "attachment_note_lines": (attachment_note(doc) or "").splitlines(),
        "signature": {
            "issuer": doc.issuer.strip(),
            "date": date_text,
            "issuer_right": round(issuer_em * pitch, 2),
            "date_right": round(date_em * pitch, 2),
        },
        "signer_lines": [
            {
                "label": line.label,
                "names": line.names_text,
                "x": round(line.x_em * pitch, 2),
                "doc_number": line.doc_number,
            }
            for line in od.signer_layout(doc.signers, doc.doc_number)
        ],
        "banji": doc.has_banji,
        "copy_to": od.copy_to_text(doc.copy_to),
        "printed_by": (doc.printed_by or "").strip(),
        "print_date": od.print_date_text(doc.print_date) if doc.printed_by else "",
        "blocks": _blocks(doc.blocks),
        "attachments": [
            {
                "label": f"附件{i}" if several else "附件",
                "title": att.title.strip(),
                "blocks": _blocks(att.blocks),
            }
            for i, att in enumerate(doc.attachments, start=1)
        ],
        "geometry": {
            "margin_top_mm": od.MARGIN_TOP_MM,
            "margin_right_mm": od.MARGIN_RIGHT_MM,
            "margin_bottom_mm": od.MARGIN_BOTTOM_MM,
            "margin_left_mm": od.MARGIN_LEFT_MM,
            "line_pitch_pt": od.line_pitch_pt(),
            "char_pitch_pt": round(pitch, 3),
            "letter_spacing_pt": od.letter_spacing_pt(),
            "body_pt": od.BODY_PT,
            "title_pt": od.TITLE_PT,
            "page_number_pt": od.PAGE_NUMBER_PT,
            "page_number_gap_mm": od.PAGE_NUMBER_GAP_MM,
            "table_pt": od.TABLE_PT,
            "banji_pt": od.BANJI_PT,
            "banji_thick_mm": od.BANJI_THICK_MM,
            "banji_thin_mm": od.BANJI_THIN_MM,
        },
        "font_faces": font_face_css(cjk_fonts()),
    }


def _breakable(text: str) -> str:
    """Allow a line break before an opening quote (“ ‘).

    Pango classes them as ambiguous quotes that glue to both neighbours, so "人，“双证”"
    cannot break and, since weasyprint does not stretch between Chinese characters, the
    line before ends short.  A zero-width space before the quote is a legal break point
    (an opening quote may begin a line in Chinese typesetting).
    """
    return text.replace("“", "\u200b“").replace("‘", "\u200b‘")


def _blocks(blocks: list[od.Block]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for block, label in od.numbered(blocks):
        if isinstance(block, Heading):
            out.append(
                {
                    "kind": f"h{block.level}",
                    "label": label,
                    "text": _breakable(block.text.strip()),
                    "run_in": _breakable((block.run_in or "").strip()),
                }
            )
        elif isinstance(block, Paragraph):
            out.append(
                {
                    "kind": "p",
                    "lead": _breakable((block.bold_lead or "").strip()),
                    "text": _breakable(block.text.strip()),
                }
            )
        elif isinstance(block, Table):
            n = len(block.columns)
            weights = block.widths or [1.0] * n
            out.append(
                {
                    "kind": "table",
                    "caption": (block.caption or "").strip(),
                    "columns": block.columns,
                    "rows": [[str(c) for c in row] for row in block.rows],
                    "widths": [round(100 * w / sum(weights), 2) for w in weights],
                    "align": block.alignments(),
                }
            )
    return out
