"""归档文件目录 (A4 landscape, PDF and XLSX) and a dossier's 卷内目录 with its 备考表:
every number of the year listed without a gap, the workbook opened by LibreOffice."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from _archival import LICENCE_B, build_small_archive, invoke, invoke_json
from _docs import run, tool
from pypdf import PdfReader

from archive.core.config import Archive


@pytest.fixture(scope="module")
def corrected(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    archive = build_small_archive(tmp_path_factory.mktemp("cat") / "档案库")
    invoke_json(
        archive,
        "withdraw",
        f"records/许可证档案/{LICENCE_B}_李四商店/002_申请表.pdf",
        "--reason",
        "重复材料",
    )
    invoke_json(
        archive,
        "edit",
        "records/会议记录/专销联动会议/2011/001_会议记录.pdf",
        "--type",
        "签到表",
        "--reason",
        "实为签到表",
    )
    return archive


def test_year_catalogue_pdf_lists_every_number(corrected: Archive, tmp_path: Path) -> None:
    done = invoke_json(corrected, "catalogue", "--year", "2011", "--out", str(tmp_path))
    pdf = Path(done["pdf"])
    reader = PdfReader(pdf)
    box = reader.pages[0].mediabox
    assert float(box.width) > float(box.height)  # A4 landscape
    assert round(float(box.width)) == 842 and round(float(box.height)) == 595
    text = "".join(p.extract_text() for p in reader.pages).replace(" ", "").replace("\n", "")
    for column in ("序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注"):
        assert column in text
    assert "J001-WS·2011-D30-XK-0004" in text and "已撤出" in text  # withdrawn, number kept
    assert "J001-WS·2011-Y-HY-0001" in text and "已改号为J001-WS·2011-D10-HY-0001" in text
    fonts = run(tool("pdffonts"), str(pdf))
    assert "CID" in fonts and all(" yes " in line for line in fonts.splitlines()[2:])  # embedded
    run(tool("pdftoppm"), "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "cat"))
    assert (tmp_path / "cat-1.png").stat().st_size > 5000


def test_catalogue_xlsx_opens_in_libreoffice(corrected: Archive, tmp_path: Path) -> None:
    done = invoke_json(corrected, "catalogue", "--year", "2011", "--out", str(tmp_path))
    soffice = tool("soffice")
    run(
        soffice, f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}", "--headless",
        "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", str(tmp_path / "csv"),
        done["xlsx"],
    )  # fmt: skip
    rows = list(
        csv.reader(io.StringIO((tmp_path / "csv" / "归档文件目录_2011.csv").read_text("utf-8")))
    )
    header = next(r for r in rows if r and r[0] == "序号")
    assert header == ["序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注"]
    codes = [r[1] for r in rows if len(r) > 1 and r[1].startswith("J001-")]
    assert (
        len(codes) == done["entries"] == 7
    )  # 4 许可证, 1 案件, 会议: the vacated number and its new one
    xk = sorted(c for c in codes if "-XK-" in c)
    assert xk == [f"J001-WS·2011-D30-XK-{n:04d}" for n in range(1, len(xk) + 1)]


def test_dossier_catalogue_and_record_sheet(corrected: Archive, tmp_path: Path) -> None:
    done = invoke_json(corrected, "catalogue", "--dossier", LICENCE_B, "--out", str(tmp_path))
    text = "".join(p.extract_text() for p in PdfReader(done["pdf"]).pages).replace(" ", "")
    assert "卷内目录" in text and "备考表" in text and "撤出1件" in text
    assert "更正" in text
    result = invoke(corrected, "catalogue", "--year", "1999")
    assert "1999年没有已编档号的文件" in str(result.exception)
