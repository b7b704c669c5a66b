"""What the document tests share: poppler and LibreOffice, and Word's font resolution."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from lxml import etree

FONTS_CONF = (
    Path(__file__).resolve().parents[1]
    / "archive"
    / "paperwork"
    / "templates"
    / "docx"
    / "fonts.conf"
)
A4_PT = (595.28, 841.89)
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
GB_FONTS = {"仿宋_GB2312", "楷体_GB2312", "黑体", "宋体", "方正小标宋简体"}


# The Debian packages that give each tool (scripts/bootstrap.sh test installs them all).
_PACKAGES = {
    "tesseract": "tesseract-ocr tesseract-ocr-chi-sim",
    "soffice": "libreoffice-writer-nogui",
    "pdftoppm": "poppler-utils",
    "pdftotext": "poppler-utils",
    "pdffonts": "poppler-utils",
    "pdfinfo": "poppler-utils",
}


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        package = _PACKAGES.get(name, name)
        pytest.skip(f"{name} is not installed: run bash scripts/bootstrap.sh test ({package})")
    return exe


def run(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
    return done.stdout


def soffice_pdf(docx_path: Path, out_dir: Path) -> Path:
    soffice = tool("soffice")
    profile = out_dir / "lo-profile"
    env = {**os.environ, "FONTCONFIG_FILE": str(FONTS_CONF)}
    run(
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--convert-to",
        "pdf",
        "--outdir",
        str(out_dir),
        str(docx_path),
        env=env,
    )
    pdf = out_dir / (docx_path.stem + ".pdf")
    assert pdf.is_file(), f"LibreOffice wrote no PDF for {docx_path}"
    return pdf


def style_chain(styles: etree._Element, style_id: str | None) -> list[etree._Element]:
    chain: list[etree._Element] = []
    while style_id:
        found = styles.find(f"{qn('w:style')}[@{qn('w:styleId')}='{style_id}']")
        if found is None:
            break
        chain.append(found)
        based = found.find(qn("w:basedOn"))
        style_id = based.get(qn("w:val")) if based is not None else None
    return chain


def east_asian_font(
    run: etree._Element, paragraph: etree._Element, styles: etree._Element
) -> str | None:
    """Resolve the East Asian font of a run the way Word does: run → character style →
    paragraph style (basedOn chain) → document defaults."""
    candidates: list[etree._Element] = []
    rpr = run.find(qn("w:rPr"))
    if rpr is not None:
        candidates.append(rpr)
        rstyle = rpr.find(qn("w:rStyle"))
        if rstyle is not None:
            candidates += [
                s.find(qn("w:rPr")) for s in style_chain(styles, rstyle.get(qn("w:val")))
            ]
    ppr = paragraph.find(qn("w:pPr"))
    pstyle = ppr.find(qn("w:pStyle")) if ppr is not None else None
    pid = pstyle.get(qn("w:val")) if pstyle is not None else "Normal"
    candidates += [s.find(qn("w:rPr")) for s in style_chain(styles, pid)]
    candidates.append(styles.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}"))
    for rp in candidates:
        if rp is None:
            continue
        fonts = rp.find(qn("w:rFonts"))
        if fonts is not None and fonts.get(qn("w:eastAsia")):
            return str(fonts.get(qn("w:eastAsia")))
    return None


def embedded_fonts(pdf: Path) -> list[tuple[str, bool]]:
    out = run(tool("pdffonts"), str(pdf)).splitlines()
    header = out[0]
    emb_col = header.index("emb")
    return [(line.split()[0], line[emb_col : emb_col + 3].strip() == "yes") for line in out[2:]]


def pdf_words(pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    """Words per page with their boxes (pt), from pdftotext -bbox."""
    html = run(tool("pdftotext"), "-bbox", str(pdf), "-")
    pages = []
    for page in re.findall(r"<page .*?</page>", html, flags=re.S):
        words = re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>',
            page,
        )
        pages.append([(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in words])
    return pages


def paragraph_texts(d: docx.document.Document) -> list[tuple[str, str]]:
    """(style name, text) of every paragraph of a python-docx document."""
    return [(p.style.name if p.style is not None else "", p.text) for p in d.paragraphs]


def edited_template(out: Path, member: str, old: str, new: str) -> Path:
    """The shipped Word template with ``old`` replaced once in one of its parts, as a clerk's
    edit (or an older copy) might leave it."""
    from archive.paperwork.render_docx import DEFAULT_TEMPLATE

    with zipfile.ZipFile(DEFAULT_TEMPLATE) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == member:
                text = data.decode("utf-8")
                assert old in text, f"{old!r} not in {member}"
                data = text.replace(old, new, 1).encode("utf-8")
            dst.writestr(info, data)
    return out
