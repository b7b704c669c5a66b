"""Content-based filing on generated scans read by the real OCR engine (slow).

One ``dangan ingest`` of the default scan set (every type and format, turned and unreadable
pages, a misnamed file, a misnamed meeting, scanner-named files under 其他/) into an archive
with OCR on; each outcome is compared with the generator's ground truth. Only scans the
generator flags unreadable may miss a key; none may carry a false title/content mismatch.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import json_lines, make_archive, run_dangan

from archive.core.config import Archive
from archive.core.keys import normalize_case_number
from archive.intake.classify import classify_text
from archive.intake.roster_match import Roster
from archive.intake.rules import load_rules
from samples.scans import ScanTruth, generate_scans

pytestmark = pytest.mark.slow


@dataclass
class Ingested:
    archive: Path
    truths: list[ScanTruth]
    outcomes: dict[str, dict[str, Any]]  # by inbox source path

    def sidecar(self, truth: ScanTruth) -> dict[str, Any]:
        record = self.archive / self.outcomes[truth.path]["record"]
        data: dict[str, Any] = json.loads(
            record.with_name(record.name + ".json").read_text(encoding="utf-8")
        )
        return data


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    root = tmp_path_factory.mktemp("scans")
    archive = make_archive(root / "档案库", ocr=True, workers=2)
    truths = generate_scans(root / "生成", layout="inbox")
    shutil.copytree(root / "生成" / "inbox", archive / "inbox", dirs_exist_ok=True)
    result = run_dangan("ingest", "--json", "--archive", archive, timeout=3600)
    assert result.returncode == 0, result.stderr
    outcomes = {o["source"]: o for o in json_lines(result.stdout)}
    return Ingested(archive, truths, outcomes)


def test_every_scan_has_an_outcome(ingested: Ingested) -> None:
    assert sorted(ingested.outcomes) == sorted(t.path for t in ingested.truths)
    assert {o["outcome"] for o in ingested.outcomes.values()} <= {"filed", "unfiled"}


def test_type_and_keys_of_each_readable_scan(ingested: Ingested) -> None:
    wrong = []
    for truth in ingested.truths:
        if not truth.readable:
            continue
        out = ingested.outcomes[truth.path]
        keys = out["keys"]
        got: dict[str, Any]
        want: dict[str, Any]
        if "meeting_type" in truth.keys:
            got = {"type": keys.get("meeting_type"), "date": keys.get("date")}
            want = {"type": truth.doc_type, "date": truth.keys["meeting_date"]}
        else:
            got = {"type": out["kind"]}
            want = {"type": truth.doc_type}
            if "case" in truth.keys:
                got["case"] = keys.get("case_no")
                want["case"] = normalize_case_number(truth.keys["case"])
            licence = truth.keys.get("licence")
            if licence and any(licence in line for line in truth.lines):
                got["licence"] = keys.get("licence_no")
                want["licence"] = licence
        if got != want:
            wrong.append((truth.path, got, want))
    assert wrong == []


def test_title_content_mismatch_is_flagged_exactly_where_it_is(ingested: Ingested) -> None:
    seen = []
    for truth in ingested.truths:
        side = ingested.sidecar(truth)
        codes = [f["code"] for f in side["findings"]]
        assert "key_mismatch" not in codes or not truth.readable, (truth.path, side["findings"])
        flagged = [f["message"] for f in side["findings"] if f["code"] == "title_mismatch"]
        if truth.mismatch:
            assert flagged == [f"文件名为「{truth.filename_type}」, 内容为「{truth.doc_type}」"]
            seen.append(truth.path)
        else:
            assert flagged == [], truth.path
    assert len(seen) == 2  # the default set misnames one licence paper and one meeting


def test_scanner_named_files_are_filed_by_their_content(ingested: Ingested) -> None:
    for truth in ingested.truths:
        if not truth.path.startswith("inbox/其他/"):
            continue
        out = ingested.outcomes[truth.path]
        if truth.pages[0].condition == "blank":
            assert out["outcome"] == "unfiled" and out["record"].startswith("records/待归档/")
            codes = {f["code"] for f in ingested.sidecar(truth)["findings"]}
            assert codes <= {"illegible"}  # said to be blank, nothing claimed about content
            continue
        assert out["outcome"] == "filed", out
        assert out["keys"]["licence_no"] == truth.keys["licence"]
        side = ingested.sidecar(truth)
        assert side["keys"]["source"] == "content"
        assert out["record"].startswith(f"records/许可证档案/{truth.keys['licence']}")


def test_retailer_names_are_matched_on_real_ocr_text(ingested: Ingested) -> None:
    """Every readable paper that prints the retailer's name is matched to the roster."""
    arc = Archive(ingested.archive)
    rules = load_rules(arc.root)
    roster = Roster.from_rows(
        {"licence_no": t.keys["licence"], "name": t.keys["name"]}
        for t in ingested.truths
        if "licence" in t.keys
    )
    checked = 0
    for truth in ingested.truths:
        name = truth.keys.get("name")
        if not truth.readable or not name or not any(name in ln for ln in truth.lines):
            continue
        side = ingested.sidecar(truth)
        text = "\n\f\n".join(p["text"] for p in side["text"]["pages"])
        c = classify_text(text, rules, roster, arc.config)
        assert c.retailer == name, (truth.path, text)
        checked += 1
    assert checked >= 8


def test_refile_leaves_only_the_blank_page_in_the_tray(ingested: Ingested) -> None:
    result = run_dangan("refile", "--json", "--archive", ingested.archive)
    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == []
    tray = sorted(p.name for p in (ingested.archive / "records" / "待归档").glob("*.json"))
    blanks = [t for t in ingested.truths if t.pages and t.pages[0].condition == "blank"]
    assert len(tray) == len(blanks) == 1
