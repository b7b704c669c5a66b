"""Work materials the rules have no type for: filed under 工作材料/<年> by their title.

The bureau's own papers (内管预警处理报告, 宣传活动记录, 测算表, 岗位职责 …) dropped into
``inbox/其他/`` go to the work materials when their title and year are clear, not to the tray;
scanner names, papers without a year and papers without a title still wait there, and
``dangan status`` says why each waits. Real archives, the real CLI.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import json_lines, run_dangan

from archive.core.titles import title_line, work_title
from samples.textpdf import render_pages

BUREAU = "潼关县烟草专卖局"


def _pdf(path: Path, title: str, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_pages([(title, lines)])[0])
    return path


def _ingest(archive: Path) -> dict[str, dict[str, Any]]:
    result = run_dangan("ingest", "--json", "--archive", archive)
    assert result.returncode == 0, result.stderr
    return {o["source"]: o for o in json_lines(result.stdout)}


def _sidecar(archive: Path, record: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((archive / f"{record}.json").read_text(encoding="utf-8"))
    return data


def _status(archive: Path) -> dict[str, Any]:
    result = run_dangan("status", "--json", "--archive", archive)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("2024年10月内管预警处理报告", "内管预警处理报告"),
        ("2024年宣传活动记录（第2次）", "宣传活动记录"),
        ("2024年市场净化率测算表", "市场净化率测算表"),
        ("2024年第一季度企务公开记录", "企务公开记录"),
        ("2024.10 内管预警处理报告", "内管预警处理报告"),
        ("20241015_内管预警处理报告(2)", "内管预警处理报告"),
        ("二〇二四年十二月份月报", "月报"),
        ("潼关县烟草专卖局2024年工作制度汇编-副本", "工作制度汇编"),
        ("01_扫描件-岗位职责（定稿）", "岗位职责"),
        ("扫描0001", None),
        ("IMG_1234", None),
        ("新建 Microsoft Word 文档", None),
        ("微信图片_20241015102233", None),
        ("扫描全能王 2024-10-15 10.23", None),
        ("2024年10月", None),
        ("文档1", None),
        ("图", None),
    ],
)
def test_a_file_names_title(name: str, title: str | None) -> None:
    assert work_title(name, BUREAU) == title


def test_a_title_line_is_taken_only_when_it_plainly_is_one() -> None:
    assert title_line(["2024年度", BUREAU, "2024年岗位职责"], BUREAU) == "岗位职责"
    assert title_line(["单位：潼关县烟草专卖局", "我们开会讨论了问题，形成了意见，如下"]) is None
    assert title_line(["第一条 总则"]) is None


def test_work_materials_are_filed_by_title_and_year(archive_dir: Path) -> None:
    other = archive_dir / "inbox" / "其他"
    _pdf(other / "2024" / "2024年10月内管预警处理报告.pdf", "内管预警处理报告", ["发现异常户3户"])
    _pdf(other / "2024年宣传活动记录（第2次）.pdf", "宣传活动记录", ["地点：城关镇"])
    _pdf(other / "2024年市场净化率测算表.pdf", "测算表", ["市场净化率：96%"])
    _pdf(other / "2023" / "岗位职责.pdf", "岗位职责", ["一、专卖管理员"])  # the folder's year
    # a scanner's name: the title at the top of the text, and the year written there
    _pdf(other / "扫描0002.pdf", "2024年工作制度汇编", [BUREAU, "第一章 总则"])
    # still the tray: no title anywhere, no year, a name that is only a date
    _pdf(other / "扫描0001.pdf", "", ["无法识别的扫描件"])
    _pdf(other / "工作制度汇编.pdf", "", ["第一章 总则"])
    _pdf(other / "2024年10月.pdf", "", ["内容见附件"])
    # the household folder is not for work materials: it waits for a licence number
    _pdf(archive_dir / "inbox" / "许可证" / "2024年岗位职责.pdf", "", ["一、专卖管理员"])

    out = _ingest(archive_dir)
    filed = {
        src.removeprefix("inbox/"): (o["record"].rsplit("/", 1)[0], o["kind"], o["note"])
        for src, o in out.items()
        if o["outcome"] == "filed"
    }
    by_name, by_text = "类型按文件名确定", "类型按正文标题确定"
    assert filed == {
        "其他/2024/2024年10月内管预警处理报告.pdf": (
            "records/工作材料/2024",
            "内管预警处理报告",
            by_name,
        ),
        "其他/2024年宣传活动记录（第2次）.pdf": ("records/工作材料/2024", "宣传活动记录", by_name),
        "其他/2024年市场净化率测算表.pdf": ("records/工作材料/2024", "市场净化率测算表", by_name),
        "其他/2023/岗位职责.pdf": ("records/工作材料/2023", "岗位职责", by_name),
        "其他/扫描0002.pdf": ("records/工作材料/2024", "工作制度汇编", by_text),
    }
    assert all(o["record"].endswith(f"_{o['kind']}.pdf") for o in out.values() if o["kind"])
    unfiled = {src: o["reason"] for src, o in out.items() if o["outcome"] == "unfiled"}
    assert set(unfiled) == {
        "inbox/其他/扫描0001.pdf",
        "inbox/其他/工作制度汇编.pdf",
        "inbox/其他/2024年10月.pdf",
        "inbox/许可证/2024年岗位职责.pdf",
    }
    assert "没有标题" in unfiled["inbox/其他/扫描0001.pdf"]
    assert "没有标题" in unfiled["inbox/其他/2024年10月.pdf"]
    assert "年份" in unfiled["inbox/其他/工作制度汇编.pdf"]

    side = _sidecar(archive_dir, out["inbox/其他/2024/2024年10月内管预警处理报告.pdf"]["record"])
    assert side["doc_type"] == "内管预警处理报告" and side["keys"]["year"] == 2024
    assert side["title"] == "2024年10月内管预警处理报告"  # the name as written, month and all
    typed = [e for e in side["events"] if e["event"] == "typed"]
    assert [e["detail"] for e in typed] == ["类型按文件名确定"]
    history = run_dangan("history", side["sha256"], "--archive", archive_dir)
    assert history.returncode == 0 and "类型按文件名确定" in history.stdout

    status = _status(archive_dir)
    assert status["by_kind"] == {"materials": 5, "tray": 4}
    assert status["tray_reasons"] == {"no_title": 2, "household": 1, "no_year": 1}
    [step] = [s for s in status["next_steps"] if s.startswith("待归档")]
    assert step.startswith("待归档 4 份, 2 份不知是什么材料")
    assert "1 份不知属于哪一户" in step and "1 份工作材料不知是哪一年的" in step
    assert "哪一案" not in step
    # the filed ones are work materials: listed under their year, found by their type
    shown = json.loads(
        run_dangan("show", "工作材料/2024", "--json", "--archive", archive_dir).stdout
    )
    assert sorted(d["doc_type"] for d in shown[0]["documents"]) == [
        "内管预警处理报告",
        "宣传活动记录",
        "工作制度汇编",
        "市场净化率测算表",
    ]


def test_the_standards_name_for_a_paper_wins(archive_dir: Path) -> None:
    from archive.assess.audit_inputs import SAMPLE_STANDARD

    shutil.copy(SAMPLE_STANDARD, archive_dir / "评分标准.yaml")  # its evidence: 企务公开记录 …
    other = archive_dir / "inbox" / "其他"
    _pdf(other / "城关所2024年第一季度企务公开记录.pdf", "企务公开", ["公开内容：价格"])
    _pdf(other / "2024年综合岗位职责.pdf", "岗位职责", ["一、专卖管理员"])
    _pdf(other / "2024年车辆管理台账.pdf", "台账", ["车牌号"])  # not in the standard
    out = _ingest(archive_dir)
    got = {o["source"].removeprefix("inbox/其他/"): (o["kind"], o["note"]) for o in out.values()}
    assert got == {
        "城关所2024年第一季度企务公开记录.pdf": (
            "企务公开记录",
            "类型按文件名对应评分标准中的“企务公开记录”确定",
        ),
        "2024年综合岗位职责.pdf": ("岗位职责", "类型按文件名对应评分标准中的“岗位职责”确定"),
        "2024年车辆管理台账.pdf": ("车辆管理台账", "类型按文件名确定"),
    }


def test_refile_moves_a_work_material_an_older_intake_left_in_the_tray(
    archive_dir: Path,
) -> None:
    from archive.core.config import Archive
    from archive.intake.intake import Intake
    from archive.intake.pipeline import extractor_for
    from archive.records.reindex import open_catalog

    _pdf(archive_dir / "inbox" / "其他" / "2024年岗位职责.pdf", "岗位职责", ["一、专卖管理员"])
    _pdf(archive_dir / "inbox" / "其他" / "扫描0001.pdf", "", ["无法识别的扫描件"])
    archive = Archive(archive_dir)
    # an intake that knows no work material but the rules' (as dangan did before)
    with (
        archive.writer_lock(),
        open_catalog(archive) as catalog,
        extractor_for(archive, ocr=False) as extractor,
    ):
        outcomes = Intake(archive, catalog, extractor=extractor, settle_seconds=0).run()
    assert sorted(o.record or "" for o in outcomes) == [
        "records/待归档/001_2024年岗位职责.pdf",
        "records/待归档/002_扫描0001.pdf",
    ]
    status = _status(archive_dir)
    assert status["tray_reasons"] == {"work_material": 1, "no_title": 1}
    assert "1 份可按名称归入工作材料: 运行 dangan refile" in "\n".join(status["next_steps"])

    result = run_dangan("refile", "--json", "--archive", archive_dir)
    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == [
        {
            "source": "records/待归档/001_2024年岗位职责.pdf",
            "record": "records/工作材料/2024/001_岗位职责.pdf",
            "dossier_kind": "materials",
            "dossier_key": "工作材料/2024",
            "doc_type": "岗位职责",
            "keys_source": "path",
            "note": "类型按文件名确定",
        }
    ]
    side = _sidecar(archive_dir, "records/工作材料/2024/001_岗位职责.pdf")
    events = [e for e in side["events"] if e["event"] in ("typed", "refiled")]
    assert [e["event"] for e in events] == ["typed", "refiled"]
    assert events[0]["detail"] == "类型按文件名确定"
    assert events[1]["detail"] == (
        "records/待归档/001_2024年岗位职责.pdf → records/工作材料/2024/001_岗位职责.pdf"
    )
    status = _status(archive_dir)
    assert status["tray"] == 1 and status["tray_reasons"] == {"no_title": 1}
