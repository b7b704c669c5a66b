"""Write the scoring standard as the Word and Excel tables bureaus actually receive.

The tables look like a province's 考核验收评分标准: a title, then 考核项目 (merged down the
rows of its area, ``一、班子建设（12分）``), 考核要素 (merged, when an area is grouped),
序号 ``1.1``, 考核内容, 评分标准, 标准分, and a 合计 row.  The same rows go to .docx and
.xlsx so that importing either gives the same standard.  Tests mutate the rows to make
malformed tables.

    python -m samples.criteria.make_tables OUT_DIR   # writes 评分标准.docx and 评分标准.xlsx
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from archive.assess.audit_inputs import SAMPLE_STANDARD
from archive.assess.criteria import Standard, load_standard

HEADERS = ("考核项目", "考核要素", "序号", "考核内容", "评分标准", "标准分")
_CN = "一二三四五六七八九十"


@dataclass(frozen=True)
class TableRow:
    """One printed row; ``area``/``item`` are the (merged) cell texts as printed."""

    area: str
    item: str
    number: str
    text: str
    scoring: str
    points: str


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _area_label(index: int, name: str, points: float, style: str) -> str:
    n = _CN[index] if index < len(_CN) else str(index + 1)
    head = {"cn": f"{n}、", "paren": f"（{n}）", "arabic": f"{index + 1}、"}[style]
    return f"{head}{name}（{_fmt(points)}分）"


def standard_rows(std: Standard, area_style: str = "cn") -> list[TableRow]:
    """The rows of the printed table for a standard (area numbering ``一、``/``（一）``/``1、``)."""
    rows = []
    for ai, area in enumerate(std.areas):
        label = _area_label(ai, area.name, area.points, area_style)
        for item in area.items:
            item_label = f"{item.name}（{_fmt(item.points)}分）" if item.points else item.name
            for c in item.criteria:
                rows.append(
                    TableRow(label, item_label, c.code, c.text, c.scoring or "", _fmt(c.points))
                )
    return rows


def _blocks(values: Sequence[str]) -> list[tuple[int, int]]:
    """(first, last) index ranges of equal consecutive values."""
    out: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            out.append((start, i - 1))
            start = i
    return out


def _set_east_asian(document: object, font: str) -> None:
    from docx.oxml.ns import qn

    style = document.styles["Normal"]  # type: ignore[attr-defined]
    style.font.name = font
    rpr = style.element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), font)


def write_docx(
    path: Path,
    title: str,
    rows: Sequence[TableRow],
    total: str | None = None,
    headers: Sequence[str] = HEADERS,
) -> Path:
    """A Word table with the area (and item) column merged down its rows."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    document = docx.Document()
    _set_east_asian(document, "宋体")
    document.add_paragraph("附件2")
    heading = document.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = heading.add_run(title)
    run.bold = True
    run.font.size = Pt(16)
    n = len(rows) + 1 + (1 if total is not None else 0)
    table = document.add_table(rows=n, cols=len(headers))
    table.style = "Table Grid"
    for c, h in enumerate(headers):
        table.cell(0, c).text = h
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(
            (row.area, row.item, row.number, row.text, row.scoring, row.points)
        ):
            if c >= 2 or _differs(rows, r - 1, c):
                table.cell(r, c).text = value
    _merge_docx(table, rows)
    if total is not None:
        last = table.rows[n - 1]
        last.cells[0].text = "合计"
        table.cell(n - 1, 0).merge(table.cell(n - 1, len(headers) - 2))
        table.cell(n - 1, len(headers) - 1).text = total
    path = Path(path)
    document.save(str(path))
    return path


def _differs(rows: Sequence[TableRow], i: int, col: int) -> bool:
    prev = rows[i - 1] if i > 0 else None
    cur = rows[i]
    if prev is None:
        return True
    if col == 0:
        return cur.area != prev.area
    return cur.area != prev.area or cur.item != prev.item


def _merge_docx(table: object, rows: Sequence[TableRow]) -> None:
    cell = table.cell  # type: ignore[attr-defined]
    for first, last in _blocks([r.area for r in rows]):
        grouped = any(rows[i].item for i in range(first, last + 1))
        if not grouped:
            cell(first + 1, 0).merge(cell(last + 1, 1))
            continue
        if last > first:
            cell(first + 1, 0).merge(cell(last + 1, 0))
        items = [rows[i].item for i in range(first, last + 1)]
        for a, b in _blocks(items):
            if b > a:
                cell(first + a + 1, 1).merge(cell(first + b + 1, 1))
            else:
                cell(first + a + 1, 1).text = items[a]


def write_xlsx(
    path: Path,
    title: str,
    rows: Sequence[TableRow],
    total: str | None = None,
    headers: Sequence[str] = HEADERS,
) -> Path:
    """The same table in Excel: a merged title row, merged area/item cells, numbers as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "评分标准"
    width = len(headers)
    ws.cell(1, 1, title).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    for c, h in enumerate(headers, start=1):
        ws.cell(2, c, h).font = Font(bold=True)
    base = 3
    for i, row in enumerate(rows):
        r = base + i
        pts: float | str = row.points
        try:
            pts = float(row.points)
            pts = int(pts) if pts.is_integer() else pts
        except ValueError:
            pass
        for c, value in enumerate((row.number, row.text, row.scoring, pts), start=3):
            ws.cell(r, c, value if value != "" else None)
        if _differs(rows, i, 0):
            ws.cell(r, 1, row.area)
        if _differs(rows, i, 1) and row.item:
            ws.cell(r, 2, row.item)
    for first, last in _blocks([r.area for r in rows]):
        grouped = any(rows[i].item for i in range(first, last + 1))
        if not grouped:
            ws.merge_cells(
                start_row=base + first, start_column=1, end_row=base + last, end_column=2
            )
            continue
        if last > first:
            ws.merge_cells(
                start_row=base + first, start_column=1, end_row=base + last, end_column=1
            )
        for a, b in _blocks([rows[i].item for i in range(first, last + 1)]):
            if b > a:
                ws.merge_cells(
                    start_row=base + first + a,
                    start_column=2,
                    end_row=base + first + b,
                    end_column=2,
                )
    if total is not None:
        r = base + len(rows)
        ws.cell(r, 1, "合计")
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=width - 1)
        ws.cell(r, width, float(total) if total.replace(".", "", 1).isdigit() else total)
    for col, w in zip("ABCDEF", (16, 16, 6, 50, 40, 8), strict=False):
        ws.column_dimensions[col].width = w
    for line in ws.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="center")
    path = Path(path)
    wb.save(path)
    return path


Merge = tuple[int, int, int, int]  # first row, first column, last row, last column (0-based)


def write_grid_docx(
    path: Path, title: str, grid: Sequence[Sequence[str]], merges: Sequence[Merge] = ()
) -> Path:
    """Any table shape in Word: ``grid`` rows (header first), text only in the top-left
    cell of each merge.  For tests of layouts the sample table does not have."""
    import docx

    document = docx.Document()
    _set_east_asian(document, "宋体")
    if title:
        document.add_paragraph(title)
    table = document.add_table(rows=len(grid), cols=max(len(r) for r in grid))
    table.style = "Table Grid"
    covered = {
        (r, c)
        for r1, c1, r2, c2 in merges
        for r in range(r1, r2 + 1)
        for c in range(c1, c2 + 1)
        if (r, c) != (r1, c1)
    }
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if (r, c) not in covered and value:
                table.cell(r, c).text = value
    for r1, c1, r2, c2 in merges:
        table.cell(r1, c1).merge(table.cell(r2, c2))
    path = Path(path)
    document.save(str(path))
    return path


def write_grid_xlsx(
    path: Path, title: str, grid: Sequence[Sequence[str]], merges: Sequence[Merge] = ()
) -> Path:
    """The same grid in Excel, below a title row when ``title`` is given."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    base = 1
    if title:
        ws.cell(1, 1, title)
        base = 2
    covered = {
        (r, c)
        for r1, c1, r2, c2 in merges
        for r in range(r1, r2 + 1)
        for c in range(c1, c2 + 1)
        if (r, c) != (r1, c1)
    }
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if (r, c) not in covered and value:
                ws.cell(base + r, c + 1, value)
    for r1, c1, r2, c2 in merges:
        ws.merge_cells(
            start_row=base + r1, start_column=c1 + 1, end_row=base + r2, end_column=c2 + 1
        )
    path = Path(path)
    wb.save(path)
    return path


def make_tables(out_dir: Path, std: Standard | None = None) -> tuple[Path, Path]:
    """Write 评分标准.docx and 评分标准.xlsx for a standard (the sample by default)."""
    std = std or load_standard(SAMPLE_STANDARD)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = standard_rows(std)
    title = std.name
    total = _fmt(std.points)
    return (
        write_docx(out_dir / "评分标准.docx", title, rows, total),
        write_xlsx(out_dir / "评分标准.xlsx", title, rows, total),
    )


if __name__ == "__main__":
    for written in make_tables(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        sys.stdout.write(f"{written}\n")
