"""WordprocessingML details shared by the .docx renderer and the template builder.

Word refuses ("unreadable content") property elements out of the schema's sequence, so
every element added by hand goes through :func:`ooxml_insert`.
"""

from __future__ import annotations

from typing import Any

from docx.oxml.ns import qn

OOXML_ORDER: dict[str, tuple[str, ...]] = {
    "pPr": (
        "pStyle",
        "keepNext",
        "keepLines",
        "pageBreakBefore",
        "framePr",
        "widowControl",
        "numPr",
        "suppressLineNumbers",
        "pBdr",
        "shd",
        "tabs",
        "suppressAutoHyphens",
        "kinsoku",
        "wordWrap",
        "overflowPunct",
        "topLinePunct",
        "autoSpaceDE",
        "autoSpaceDN",
        "bidi",
        "adjustRightInd",
        "snapToGrid",
        "spacing",
        "ind",
        "contextualSpacing",
        "mirrorIndents",
        "suppressOverlap",
        "jc",
        "textDirection",
        "textAlignment",
        "textboxTightWrap",
        "outlineLvl",
        "divId",
        "cnfStyle",
        "rPr",
        "sectPr",
        "pPrChange",
    ),
    "rPr": (
        "rStyle",
        "rFonts",
        "b",
        "bCs",
        "i",
        "iCs",
        "caps",
        "smallCaps",
        "strike",
        "dstrike",
        "outline",
        "shadow",
        "emboss",
        "imprint",
        "noProof",
        "snapToGrid",
        "vanish",
        "webHidden",
        "color",
        "spacing",
        "w",
        "kern",
        "position",
        "sz",
        "szCs",
        "highlight",
        "u",
        "effect",
        "bdr",
        "shd",
        "fitText",
        "vertAlign",
        "rtl",
        "cs",
        "em",
        "lang",
        "eastAsianLayout",
        "specVanish",
        "oMath",
    ),
    "tblPr": (
        "tblStyle",
        "tblpPr",
        "tblOverlap",
        "bidiVisual",
        "tblStyleRowBandSize",
        "tblStyleColBandSize",
        "tblW",
        "jc",
        "tblCellSpacing",
        "tblInd",
        "tblBorders",
        "shd",
        "tblLayout",
        "tblCellMar",
        "tblLook",
        "tblCaption",
        "tblDescription",
    ),
    "tcPr": (
        "cnfStyle",
        "tcW",
        "gridSpan",
        "hMerge",
        "vMerge",
        "tcBorders",
        "shd",
        "noWrap",
        "tcMar",
        "textDirection",
        "tcFitText",
        "vAlign",
        "hideMark",
    ),
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def ooxml_insert(parent: Any, child: Any) -> Any:
    """Insert ``child`` into a w:pPr/w:rPr/w:tblPr/w:tcPr at its schema position,
    replacing an existing element of the same name; return ``child``."""
    order = OOXML_ORDER[_local(parent.tag)]
    name = _local(child.tag)
    for old in parent.findall(child.tag):
        parent.remove(old)
    later = set(order[order.index(name) + 1 :])
    for i, existing in enumerate(parent):
        if _local(existing.tag) in later:
            parent.insert(i, child)
            return child
    parent.append(child)
    return child


def ooxml_out_of_order(root: Any) -> list[str]:
    """Property elements under ``root`` whose children break the schema order (tests)."""
    problems: list[str] = []
    for parent_name, order in OOXML_ORDER.items():
        for parent in root.iter(qn(f"w:{parent_name}")):
            names = [_local(c.tag) for c in parent if _local(c.tag) in order]
            positions = [order.index(n) for n in names]
            if positions != sorted(positions):
                problems.append(f"{parent_name}: {' '.join(names)}")
    return problems
