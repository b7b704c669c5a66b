"""Sealed scans through the whole pipeline with the real OCR engine (slow).

The generator's sealed set (samples.sealed): a red seal across the licence or case number in
colour and in grey, turned pages, a seal across a date, two seals on a page, a decision with
none; scanner-named files, so every key comes from the page. One ``dangan ingest`` after the
roster is imported; each outcome is compared with the ground truth.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import json_lines, make_archive, run_dangan
from PIL import Image
from pypdf import PdfReader

from archive.core.keys import normalize_case_number
from samples.scans import ScanTruth
from samples.sealed import SECOND_BODY, generate_sealed

pytestmark = pytest.mark.slow

BUREAU = "潼关县烟草专卖局"


@dataclass
class Ingested:
    archive: Path
    truths: list[ScanTruth]
    outcomes: dict[str, dict[str, Any]]

    def sidecar(self, truth: ScanTruth) -> dict[str, Any]:
        record = self.archive / self.outcomes[truth.path]["record"]
        data: dict[str, Any] = json.loads(
            record.with_name(record.name + ".json").read_text(encoding="utf-8")
        )
        return data


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    root = tmp_path_factory.mktemp("sealed")
    archive = make_archive(root / "档案库", ocr=True, workers=2)
    truths = generate_sealed(root / "生成")
    result = run_dangan("households", "import", root / "生成" / "roster.csv", "--archive", archive)
    assert result.returncode == 0, result.stderr
    shutil.copytree(root / "生成" / "inbox", archive / "inbox", dirs_exist_ok=True)
    result = run_dangan("ingest", "--json", "--archive", archive, timeout=3600)
    assert result.returncode == 0, result.stderr
    outcomes = {o["source"]: o for o in json_lines(result.stdout)}
    return Ingested(archive, truths, outcomes)


def test_the_set_has_what_the_issue_asks_for(ingested: Ingested) -> None:
    seals = [t.pages[0].seals for t in ingested.truths]
    assert any(s and s[0]["colour"] == "红" and s[0]["across"] == "key" for s in seals)
    assert any(s and s[0]["colour"] == "灰" and s[0]["across"] == "key" for s in seals)
    assert any(s and t.rotation for s, t in zip(seals, ingested.truths, strict=True))
    assert any(any(x["across"] == "date" for x in s) for s in seals)
    assert any(len(s) == 2 for s in seals)
    assert any(
        not s and t.doc_type == "行政处罚决定书"
        for s, t in zip(seals, ingested.truths, strict=True)
    )


def test_every_key_and_date_is_filed_right(ingested: Ingested) -> None:
    wrong = []
    for truth in ingested.truths:
        out = ingested.outcomes[truth.path]
        keys = out["keys"]
        got = {"outcome": out["outcome"], "type": out["kind"], "date": keys.get("date")}
        want = {"outcome": "filed", "type": truth.doc_type, "date": truth.keys["date"]}
        if "case" in truth.keys:
            got["case"] = keys.get("case_no")
            want["case"] = normalize_case_number(truth.keys["case"])
        else:
            got["licence"] = keys.get("licence_no")
            want["licence"] = truth.keys["licence"]
        if got != want:
            wrong.append((truth.path, got, want))
    assert wrong == []


def test_seals_are_recorded_where_they_are(ingested: Ingested) -> None:
    for truth in ingested.truths:
        page = ingested.sidecar(truth)["text"]["pages"][0]
        want, got = truth.pages[0].seals, page["seals"]
        assert len(got) == len(want), (truth.path, got)
        for w in want:
            near = [g for g in got if abs(g["x"] - w["x"]) < 0.03 and abs(g["y"] - w["y"]) < 0.03]
            assert len(near) == 1, (truth.path, w, got)
            g = near[0]
            assert g["colour"] == w["colour"]
            assert abs(g["diameter"] - w["diameter"]) < 0.025
            if w["colour"] == "红":  # in colour the ring text is read and named
                assert g["body"] == w["body"], (truth.path, g)
            else:
                assert g["body"] in (w["body"], None), (truth.path, g)


def test_orientation_quality_and_searchable_pdf_on_sealed_pages(ingested: Ingested) -> None:
    for truth in ingested.truths:
        side = ingested.sidecar(truth)
        page = side["text"]["pages"][0]
        assert page["rotation"] == truth.rotation, truth.path
        assert page["quality"]["verdict"] == "清晰", (truth.path, page["quality"])
        record = ingested.archive / ingested.outcomes[truth.path]["record"]
        pdf = PdfReader(record.with_name(record.stem + ".ocr.pdf"))
        layer = pdf.pages[0].extract_text().replace(" ", "")
        key = truth.keys.get("licence") if "case" not in truth.keys else "罚"
        assert key in layer, truth.path
        if truth.pages[0].seals and truth.pages[0].seals[0]["colour"] == "红":
            # the page image is the page as scanned: the seal is still there, in red
            image = pdf.pages[0].images[0].image
            assert image is not None
            rgb = np.asarray(image.convert("RGB").reduce(4)).astype(int)
            assert int(((rgb[..., 0] - rgb[..., 1]) > 60).sum()) > 200, truth.path
        original = Image.open(io.BytesIO(record.read_bytes()))
        assert original.size[0] > 0  # the record is the original file, untouched
        assert side["sha256"] and record.stat().st_size == side["size"]


def test_search_finds_documents_by_the_body_on_their_seal(ingested: Ingested) -> None:
    result = run_dangan("search", "--json", "印章:稽查大队", "--archive", ingested.archive)
    assert result.returncode == 0, result.stderr
    hits = [h for line in json_lines(result.stdout) for h in line.get("hits", [line])]
    two = [t for t in ingested.truths if len(t.pages[0].seals) == 2]
    assert [h["path"] for h in hits] == [
        ingested.outcomes[two[0].path]["record"][len("records/") :]
    ]
    assert SECOND_BODY.endswith("稽查大队")
    result = run_dangan("search", "--json", f"公章:{BUREAU}", "--archive", ingested.archive)
    hits = [h for line in json_lines(result.stdout) for h in line.get("hits", [line])]
    sealed_red = [
        t for t in ingested.truths if t.pages[0].seals and t.pages[0].seals[0]["colour"] == "红"
    ]
    assert len(hits) >= len(sealed_red)


def test_audit_reports_the_unsealed_decision_only(ingested: Ingested) -> None:
    years = sorted({t.keys["date"][:4] for t in ingested.truths})
    reported = []
    for year in years:
        result = run_dangan(
            "audit", "--json", "--no-fixity", "--year", year, "--archive", ingested.archive
        )
        assert result.returncode in (0, 1), result.stderr
        data = json.loads(result.stdout)
        findings = data["findings"] if isinstance(data, dict) else data
        reported += [f["record"] for f in findings if f["code"] == "seal_missing"]
    unsealed = [
        ingested.outcomes[t.path]["record"]
        for t in ingested.truths
        if not t.pages[0].seals and t.doc_type == "行政处罚决定书"
    ]
    assert sorted(set(reported)) == unsealed
