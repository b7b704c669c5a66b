"""Resource bombs and broken tables: each ends in bounded time and memory with a reason a
clerk reads, replaces nothing, and touches nothing outside the archive.

YAML alias bombs in every YAML the bureau edits, an XLSX that inflates to gigabytes, CSV
lines of megabytes, a million-row roster, a quote left open, a damaged sheet, PDFs and TIFFs
whose pages would need gigapixels, a packet manifest of hundreds of megabytes; and
spreadsheet cells from data that must never become formulas.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from _hostile import LIMIT, MEMORY_MB, Outside, dangan_bounded, within
from conftest import json_lines, run_dangan

from archive.assess.audit_inputs import SAMPLE_STANDARD


def _laughs() -> str:
    """The "billion laughs": nine levels of nine aliases, 10⁹ strings once expanded."""
    levels = ['&l0 ["哈","哈","哈","哈","哈","哈","哈","哈","哈"]']
    levels += [f"&l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, 10)]
    return "[" + ", ".join(levels) + "]"


_LOOP = "&self [回, *self]"  # a list that contains itself

# (file name, where it goes, the command that reads it, the file with the bomb in a field
# the program reads: where today's code expands it)
_YAML_FILES = [
    ("评分标准.yaml", "root", ["audit"], "name: {bomb}\ntotal: 100\nareas: []\n"),
    ("档案清单.yaml", "root", ["audit"], "household:\n  新办:\n    - name: {bomb}\n"),
    ("rules.yaml", "root", ["ingest"], "equivalent:\n  - {bomb}\n"),
    ("报告素材.yaml", "root", ["report", "summary", "--no-pdf"], "upper_bureau: {bomb}\n"),
    ("标准.yaml", "import", ["criteria", "import"], "name: {bomb}\ntotal: 100\nareas: []\n"),
    (
        "发现.yaml",
        "import",
        ["findings", "import"],
        "inspection:\n  date: 2024-01-24\n  body: {bomb}\n  deadline: 2024-03-31\n"
        "findings:\n  - {{area: 班子建设, owner: 刘红霞, problem: 记录不全}}\n",
    ),
    (
        "自查.yaml",
        "import",
        ["metrics", "import"],
        "period: 2024\nmetrics:\n  - key: 市场净化率\n    value: 96\n    evidence: {bomb}\n",
    ),
]


@pytest.mark.parametrize("bomb", ["laughs", "loop"])
@pytest.mark.parametrize(
    ("name", "where", "command", "text"), _YAML_FILES, ids=[f[0] for f in _YAML_FILES]
)
def test_yaml_alias_bombs_are_refused(
    archive_dir: Path,
    outside: Outside,
    bomb: str,
    name: str,
    where: str,
    command: list[str],
    text: str,
) -> None:
    folder = archive_dir if where == "root" else outside.folder.parent / "交来的文件"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text.format(bomb=_laughs() if bomb == "laughs" else _LOOP), encoding="utf-8")
    args = [*command, *([path] if where == "import" else []), "--archive", archive_dir]
    done = within(dangan_bounded(*args, limit=LIMIT))
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr
    assert name in done.stderr and "已拒绝读取" in done.stderr
    assert ("别名" in done.stderr) and ("炸弹" in done.stderr or "循环" in done.stderr)
    outside.assert_untouched()


# ------------------------------------------------------------------ tables


def _xlsx_bomb(path: Path, inflated_mb: int = 300) -> None:
    """A real workbook whose one sheet inflates to ``inflated_mb`` MB (a few hundred KB zipped)."""
    from openpyxl import Workbook

    buffer = io.BytesIO()
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["许可证号", "户名"])
    wb.save(buffer)
    row = "<row><c t='inlineStr'><is><t>610522100123</t></is></c></row>" * 1000
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as zin,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout,
    ):
        for info in zin.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                zout.writestr(info, zin.read(info))
                continue
            with zout.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
                out.write(
                    b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                )
                chunk = row.encode()
                for _ in range(inflated_mb * 1024 * 1024 // len(chunk)):
                    out.write(chunk)
                out.write(b"</sheetData></worksheet>")
    assert path.stat().st_size < 5 * 1024 * 1024


@pytest.mark.parametrize(
    "command",
    [
        ["households", "import"],
        ["metrics", "import"],
        ["findings", "import"],
        ["criteria", "import"],
    ],
    ids=lambda c: c[0],
)
def test_an_xlsx_inflating_to_gigabytes_is_refused(
    archive_dir: Path, outside: Outside, tmp_path: Path, command: list[str]
) -> None:
    bomb = tmp_path / "名册.xlsx"
    _xlsx_bomb(bomb)
    done = dangan_bounded(*command, bomb, "--archive", archive_dir, limit=LIMIT)
    assert not done.hung
    assert done.returncode == 15, done.stderr
    assert "压缩炸弹" in done.stderr or "解压后共" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.peak_mb < MEMORY_MB and done.seconds < LIMIT
    assert not (archive_dir / "roster.csv").exists()
    outside.assert_untouched()


def _roster_line(n: int) -> str:
    return f"610522{100000 + n:06d},户{n},经营者{n},地址{n},守法经营户,2024-01-01,2029-01-01\n"


_HEADER = "许可证号,户名,经营者,经营地址,类别,有效期起,有效期止\n"


def _import(archive_dir: Path, path: Path) -> tuple[int | None, str, float, float]:
    done = dangan_bounded("households", "import", path, "--archive", archive_dir, limit=LIMIT)
    return done.returncode, done.stderr, done.seconds, done.peak_mb


def _roster(archive_dir: Path, tmp_path: Path) -> str:
    good = tmp_path / "名册.csv"
    good.write_text(_HEADER + "".join(_roster_line(n) for n in range(12)), encoding="utf-8")
    assert run_dangan("households", "import", good, "--archive", archive_dir).returncode == 0
    return (archive_dir / "roster.csv").read_text(encoding="utf-8-sig")


def test_one_stray_quote_is_named_and_the_roster_is_kept(
    archive_dir: Path, tmp_path: Path, outside: Outside
) -> None:
    before = _roster(archive_dir, tmp_path)
    lines = [_roster_line(n) for n in range(12)]
    lines[3] = lines[3].replace("地址3", '"地址3')  # the quote is never closed
    bad = tmp_path / "新名册.csv"
    bad.write_text(_HEADER + "".join(lines), encoding="utf-8")
    code, stderr, _seconds, _mb = _import(archive_dir, bad)
    assert code == 8, stderr
    assert "第5行" in stderr and "引号" in stderr
    assert "未导入任何内容" in stderr and "Traceback" not in stderr
    assert (archive_dir / "roster.csv").read_text(encoding="utf-8-sig") == before
    outside.assert_untouched()


@pytest.mark.parametrize("size_mb", [1, 100])
def test_a_megabyte_line_is_refused_with_a_reason(
    archive_dir: Path, tmp_path: Path, outside: Outside, size_mb: int
) -> None:
    before = _roster(archive_dir, tmp_path)
    bad = tmp_path / "长行.csv"
    with bad.open("w", encoding="utf-8") as fh:
        fh.write(_HEADER + _roster_line(1))
        fh.write("610522100099,")
        for _ in range(size_mb):
            fh.write("很" * (1024 * 1024 // 3))
        fh.write("\n")
    code, stderr, seconds, peak = _import(archive_dir, bad)
    assert code in (8, 15), stderr
    assert ("字段超过" in stderr) or ("超过上限" in stderr)
    assert "Traceback" not in stderr and "_csv.Error" not in stderr
    assert seconds < LIMIT and peak < MEMORY_MB
    assert (archive_dir / "roster.csv").read_text(encoding="utf-8-sig") == before
    outside.assert_untouched()


def test_a_million_row_roster_is_refused_quickly(
    archive_dir: Path, tmp_path: Path, outside: Outside
) -> None:
    big = tmp_path / "百万户.csv"
    with big.open("w", encoding="utf-8") as fh:
        fh.write(_HEADER)
        for n in range(1_000_000):
            fh.write(f"{100000000000 + n},户{n},,,,,\n")
    code, stderr, seconds, peak = _import(archive_dir, big)
    assert code == 15, stderr
    assert "超过 100000 行" in stderr
    assert seconds < LIMIT and peak < MEMORY_MB
    assert not (archive_dir / "roster.csv").exists()
    outside.assert_untouched()


def test_a_damaged_sheet_is_reported_not_a_parse_error(
    archive_dir: Path, tmp_path: Path, outside: Outside
) -> None:
    from openpyxl import Workbook

    good = tmp_path / "好.xlsx"
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["许可证号", "户名"])
    ws.append(["610522100123", "张三烟酒店"])
    wb.save(good)
    bad = tmp_path / "坏.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # cut off in the middle of the XML
            zout.writestr(info, data)
    for command in (["households", "import"], ["metrics", "import"], ["findings", "import"]):
        done = within(dangan_bounded(*command, bad, "--archive", archive_dir))
        assert done.returncode == 4, (command, done.stderr)
        assert "已损坏" in done.stderr and "另存" in done.stderr
        assert "Traceback" not in done.stderr
    outside.assert_untouched()


def _docx_bomb(path: Path) -> None:
    """A Word file whose document part inflates to 300 MB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as out:
            for _ in range(300):
                out.write(b"<w:p/>" * (1024 * 1024 // 6))


def test_a_docx_bomb_is_refused(archive_dir: Path, tmp_path: Path, outside: Outside) -> None:
    bomb = tmp_path / "评分标准.docx"
    _docx_bomb(bomb)
    done = dangan_bounded("criteria", "import", bomb, "--archive", archive_dir, limit=LIMIT)
    assert done.returncode == 15, done.stderr
    within(done)
    assert "压缩炸弹" in done.stderr
    outside.assert_untouched()


# ------------------------------------------------------------------ pages and pixels


def _huge_page_pdf() -> bytes:
    """A 14,400 pt (200 inch) square page: 1.6 gigapixels at 200 dpi. About 470 bytes."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] /Contents 4 0 R >>",
        b"<< /Length 0 >>\nstream\n\nendstream",
    ]
    return _pdf_from(objs)


def _many_pages_pdf(pages: int) -> bytes:
    """``pages`` pages sharing one empty content stream."""
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Length 0 >>\nstream\n\nendstream",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R >>"
    return _pdf_from(objs + [page] * pages)


def _pdf_from(objs: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def _tiff_of_frames(path: Path, frames: int, side: int) -> None:
    """A multi-page TIFF of ``frames`` blank ``side``×``side`` bilevel pages (Group 4)."""
    from PIL import Image

    page = Image.new("1", (side, side), 1)
    page.save(
        path, "TIFF", save_all=True, append_images=[page] * (frames - 1), compression="group4"
    )


def _pdftoppm_children() -> int:
    out = subprocess.run(["pgrep", "-c", "pdftoppm"], capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


@pytest.mark.parametrize("case", ["huge_page", "many_pages", "tiff_frames", "docx_bomb"])
def test_page_and_pixel_budgets_are_decided_before_rendering(
    archive_dir: Path, outside: Outside, case: str
) -> None:
    folder = archive_dir / "inbox" / "其他"
    if case == "huge_page":
        (folder / "巨幅.pdf").write_bytes(_huge_page_pdf())
        code, words = "page_too_large", "页面尺寸异常"
    elif case == "many_pages":
        (folder / "十万页.pdf").write_bytes(_many_pages_pdf(100_000))
        code, words = "too_many_pages", "页数超过上限"
    elif case == "docx_bomb":
        _docx_bomb(folder / "通知.docx")
        code, words = "zip_bomb", "压缩炸弹"
    else:
        _tiff_of_frames(folder / "三百页.tif", 300, 4000)
        assert (folder / "三百页.tif").stat().st_size < 10 * 1024 * 1024
        code, words = "document_too_large", "像素总量超过上限"
    text = (archive_dir / "dangan.toml").read_text(encoding="utf-8")
    (archive_dir / "dangan.toml").write_text(
        text.replace("enabled = false", "enabled = true"), encoding="utf-8"
    )  # OCR on: the pages would be rendered and read if they were let through
    done = dangan_bounded("ingest", "--json", "--archive", archive_dir, limit=LIMIT)
    assert not done.hung
    assert done.returncode == 0, done.stderr
    [outcome] = json_lines(done.stdout)
    assert outcome["outcome"] == "quarantined" and outcome["code"] == code
    assert words in outcome["reason"]
    within(done, LIMIT, 1500)  # the OCR models alone take about 1 GB
    assert _pdftoppm_children() == 0
    outside.assert_untouched()


# ------------------------------------------------------------------ packet manifests


def test_a_huge_bag_manifest_is_refused_unread(tmp_path: Path, outside: Outside) -> None:
    bag = tmp_path / "包"
    (bag / "data").mkdir(parents=True)
    (bag / "data" / "a.txt").write_text("a", encoding="utf-8")
    (bag / "bagit.txt").write_text(
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8"
    )
    line = "0" * 64 + " data/" + "很长的文件名" * 10 + "{n}.pdf\n"
    with (bag / "manifest-sha256.txt").open("w", encoding="utf-8") as fh:
        n = 0
        while fh.tell() < 236 * 1024 * 1024:
            fh.write(line.format(n=n) * 1000)
            n += 1
    done = dangan_bounded("verify", bag, "--json", limit=LIMIT)
    assert not done.hung and done.returncode == 6
    report = json.loads(done.stdout)
    assert any("manifest-sha256.txt" in e and "超过上限" in e for e in report["errors"])
    within(done, LIMIT, 300)
    outside.assert_untouched()


# ------------------------------------------------------------------ cells from data

_FORMULAS = {
    "1.1": "=1+2",
    "1.2": "+3+4",
    "1.3": "-5+6",
    "1.4": "@SUM(7,8)",
    "2.1": '=HYPERLINK("http://127.0.0.1:9/","点此")',
}


def _standard_with_formulas(archive_dir: Path) -> None:
    text = SAMPLE_STANDARD.read_text(encoding="utf-8")
    for code, formula in _FORMULAS.items():
        quoted = json.dumps(formula, ensure_ascii=False).replace("\\", "\\\\")
        text, n = re.subn(
            rf'(- code: "{re.escape(code)}"\n\s+text: )[^\n]+', rf"\g<1>{quoted}", text, count=1
        )
        assert n == 1, code
    (archive_dir / "评分标准.yaml").write_text(text, encoding="utf-8")


def _formula_cells(xlsx: Path) -> list[str]:
    with zipfile.ZipFile(xlsx) as zf:
        sheets = [n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
        return [n for n in sheets if re.search(rb"<f[ >]", zf.read(n))]


def _sheets_as_text(xlsx: Path, work: Path) -> set[str]:
    """Every cell of every sheet as LibreOffice Calc shows it (a formula would show its result)."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed")
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
            "--outdir",
            str(work),
            str(xlsx),
        ],
        capture_output=True,
        check=True,
        timeout=300,
    )
    cells: set[str] = set()
    for sheet in sorted(work.glob("*.csv")):
        for row in csv.reader(io.StringIO(sheet.read_text(encoding="utf-8"))):
            cells.update(row)
    assert cells, "LibreOffice wrote no sheet"
    return cells


def test_criteria_from_data_are_text_cells_in_every_sheet(
    archive_dir: Path, tmp_path: Path, outside: Outside
) -> None:
    _standard_with_formulas(archive_dir)
    out = tmp_path / "自查问题清单.xlsx"
    done = within(dangan_bounded("audit", "--xlsx", out, "--archive", archive_dir))
    assert done.returncode in (0, 1), done.stderr
    bag = tmp_path / "验收包"
    built = dangan_bounded("bundle", "--out", bag, "--archive", archive_dir, limit=300)
    within(built, 300, 1500)
    assert built.returncode == 0, built.stderr
    gaps = next((bag / "data").rglob("缺项清单.xlsx"))
    for sheet in (out, gaps):
        assert _formula_cells(sheet) == []
        shown = _sheets_as_text(sheet, tmp_path / sheet.stem)
        for formula in _FORMULAS.values():
            assert formula in shown, f"{formula} is not shown as typed in {sheet.name}"
    from openpyxl import load_workbook

    wb = load_workbook(out)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    risky = [
        c for c in cells if isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@"))
    ]
    assert risky and all(c.data_type == "s" and c.quotePrefix for c in risky)
    outside.assert_untouched()


def test_archival_sheets_keep_titles_and_reasons_as_text(tmp_path: Path, outside: Outside) -> None:
    """归档文件目录 and 销毁清册: a 题名 and a 销毁原因 typed by a clerk (or read off a file
    name) that look like formulas stay text in the workbooks."""
    from _archival import build_small_archive, invoke_json
    from openpyxl import load_workbook

    archive = build_small_archive(tmp_path / "档案库")
    minutes = "records/会议记录/专销联动会议/2011/001_会议记录.pdf"
    title = '=HYPERLINK("http://127.0.0.1:9/","会议记录")'
    invoke_json(archive, "edit", minutes, "--title", title, "--reason", "题名更正")
    sheet = invoke_json(archive, "edit", minutes, "--type", "签到表", "--reason", "实为签到表")
    reason = "+1+1 鉴定小组意见"
    invoke_json(
        archive, "destroy", sheet["record"], "--reason", reason, "--approver", "@王局长",
        "--as-of", "2022-01-01",
    )  # fmt: skip
    done = invoke_json(archive, "catalogue", "--year", "2011", "--out", str(tmp_path / "目录"))
    register = archive.root / "报告" / "销毁清册.xlsx"
    for book, wanted in ((Path(done["xlsx"]), [title]), (register, [title, reason, "@王局长"])):
        assert _formula_cells(book) == [], book.name
        cells = [c for ws in load_workbook(book).worksheets for row in ws.iter_rows() for c in row]
        shown = {c.value for c in cells}
        for text in wanted:
            assert text in shown, f"{text} is not in {book.name} as typed"
        risky = [c for c in cells if isinstance(c.value, str) and c.value[:1] in "=+-@"]
        assert risky and all(c.data_type == "s" and c.quotePrefix for c in risky), book.name
    outside.assert_untouched()
