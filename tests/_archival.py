"""A small numbered archive built in-process, and the CLI called in-process, for the tests of
corrections, 档号, 归档章, catalogues and 四性检测."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from pypdf import PdfReader, PdfWriter

from archive.core.config import Archive, init_archive
from archive.intake.pipeline import extractor_for, make_intake
from archive.records.reindex import open_catalog
from cli.main import cli
from samples.bench_archive import mini_pdf

LICENCE_A = "610522100001"
LICENCE_B = "610522100002"
CASE = "潼烟罚〔2011〕12号"


def multi_pdf(*pages: tuple[str, list[str]]) -> bytes:
    """A PDF of several one-page documents (a scan holding several papers)."""
    writer = PdfWriter()
    for title, lines in pages:
        writer.add_page(PdfReader(io.BytesIO(mini_pdf(title, lines))).pages[0])
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def household_pdf(licence: str, name: str, doc: str, date: str = "2011-03-05") -> bytes:
    return mini_pdf(
        f"烟草专卖零售许可证{doc}",
        [
            f"许可证号：{licence}",
            f"企业名称：{name}",
            f"申请日期：{date}",
            f"{doc} 第{licence[-3:]}号",
        ],
    )


def build_small_archive(root: Path, fonds: str = "J001") -> Archive:
    """Two households, a case and a meeting, filed through the real intake (no OCR)."""
    archive = init_archive(root, "潼关县烟草专卖局", ("610522",), ("潼烟罚",), fonds)
    text = archive.config_path.read_text(encoding="utf-8")
    text = text.replace("settle_seconds = 2.0", "settle_seconds = 0.0")
    archive.config_path.write_text(text.replace("enabled = true", "enabled = false"), "utf-8")
    archive = Archive(root)
    inbox = archive.inbox
    files = {
        f"许可证/{LICENCE_A}_张三烟酒店/申请表.pdf": household_pdf(
            LICENCE_A, "张三烟酒店", "申请表"
        ),
        f"许可证/{LICENCE_A}_张三烟酒店/营业执照.pdf": household_pdf(
            LICENCE_A, "张三烟酒店", "营业执照"
        ),
        f"许可证/{LICENCE_B}_李四商店/申请表.pdf": household_pdf(LICENCE_B, "李四商店", "申请表"),
        f"许可证/{LICENCE_B}_李四商店/混扫.pdf": multi_pdf(
            ("烟草专卖零售许可证申请表", [f"许可证号：{LICENCE_B}", "企业名称：李四商店"]),
            ("实地核查记录", [f"许可证号：{LICENCE_B}", "核查时间：2011-03-09"]),
            ("送达回证", [f"许可证号：{LICENCE_B}", "送达时间：2011-03-20"]),
        ),
        "案卷/潼烟罚[2011]12号/询问笔录.pdf": mini_pdf("询问笔录", [f"案号：{CASE}", "问：答："]),
        "会议记录/专销联动会议/2011-03-05 会议记录.pdf": mini_pdf(
            "专销联动会议记录", ["会议时间：2011年3月5日", "主持人：王建国"]
        ),
    }
    for rel, data in files.items():
        path = inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    with (
        archive.writer_lock(),
        open_catalog(archive) as catalog,
        extractor_for(archive, ocr=False) as ex,
    ):
        outcomes = make_intake(archive, catalog, ex, settle_seconds=0).run()
    assert all(o.outcome == "filed" for o in outcomes), [o.as_dict() for o in outcomes]
    return archive


def invoke(archive: Archive | Path, *args: str) -> Result:
    """``dangan ARGS --archive ROOT`` in-process (errors land in ``result.exception``)."""
    root = archive.root if isinstance(archive, Archive) else archive
    return CliRunner().invoke(
        cli, ["--archive", str(root), *args], standalone_mode=False, catch_exceptions=True
    )


def invoke_json(archive: Archive | Path, *args: str) -> Any:
    result = invoke(archive, *args, "--json")
    assert result.exception is None, result.exception
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return lines[0] if len(lines) == 1 else lines


def sidecar(archive: Archive, rel: str) -> dict[str, Any]:
    path = archive.root / rel
    data: dict[str, Any] = json.loads(path.with_name(path.name + ".json").read_text("utf-8"))
    return data
