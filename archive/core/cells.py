"""Spreadsheet cells from data are text, never formulas: one writer for every sheet dangan
writes (``audit --xlsx``, the packet's 缺项清单.xlsx, the metrics and findings sheets) and
every CSV a clerk opens in Excel.

A cell whose text begins with ``=``, ``+``, ``-``, ``@`` (or their full-width forms, or a
tab or carriage return) is what Excel and LibreOffice take as a formula — "formula
injection" (OWASP: CSV injection). In an XLSX such text is written as a string cell with
Excel's quote-prefix flag: shown exactly as typed, and still text when a clerk edits the
cell. In a CSV, which has no types, it gets a leading apostrophe, as OWASP advises.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def formula_like(value: Any) -> bool:
    """Text a spreadsheet program would take for a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def text_cell(cell: Any) -> None:
    """Make an openpyxl cell holding a string a plain text cell (never a formula)."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
        if formula_like(cell.value):
            cell.quotePrefix = True


def append_row(ws: Any, values: Iterable[Any]) -> None:
    """``ws.append(values)``, every string written as text (see the module docstring)."""
    ws.append(list(values))
    for cell in ws[ws.max_row]:
        text_cell(cell)


def csv_field(value: Any) -> Any:
    """A CSV field that Excel will show as the text it is."""
    return "'" + value if formula_like(value) else value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_field(v) for v in values]
