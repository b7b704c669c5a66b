"""Intake end to end through the CLI: filing, duplicates, bad input, GBK names, reindex."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from conftest import json_lines, run_dangan

from archive.core.config import Archive
from archive.intake.intake import Intake
from archive.records.catalog import Catalog
from samples.badfiles import _jpeg, _pdf, write_bad_inputs
from samples.textpdf import make_households, write_licence_pdfs


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_files_by_licence_case_and_meeting(archive_dir: Path) -> None:
    inbox = archive_dir / "inbox"
    (inbox / "许可证" / "610522100123_张三烟酒店").mkdir(parents=True)
    (inbox / "许可证" / "610522100123_张三烟酒店" / "申请表.jpg").write_bytes(_jpeg())
    (inbox / "案卷" / "潼烟罚〔2011〕第12号").mkdir(parents=True)
    (inbox / "案卷" / "潼烟罚〔2011〕第12号" / "询问笔录.pdf").write_bytes(_pdf(2))
    (inbox / "案卷" / "潼烟罚[2011]12号 结案报告.pdf").write_bytes(_pdf(3))
    (inbox / "会议记录" / "专销联动会议").mkdir(parents=True)
    (inbox / "会议记录" / "专销联动会议" / "2011年3月5日 会议记录.jpg").write_bytes(
        _jpeg((500, 700))
    )
    (inbox / "其他" / "扫描0001.jpg").write_bytes(_jpeg((520, 700)))

    result = run_dangan("ingest", "--json", "--archive", archive_dir)
    assert result.returncode == 0, result.stderr
    outcomes = {o["source"]: o for o in json_lines(result.stdout)}
    assert len(outcomes) == 5
    applic = outcomes["inbox/许可证/610522100123_张三烟酒店/申请表.jpg"]
    assert applic["outcome"] == "filed"
    assert applic["record"] == "records/许可证档案/610522100123_张三烟酒店/001_申请表.jpg"
    assert applic["keys"]["licence_no"] == "610522100123"
    assert applic["kind"] == "申请表"
    # Both spellings of the case number land in the same case file.
    assert outcomes["inbox/案卷/潼烟罚〔2011〕第12号/询问笔录.pdf"]["record"].startswith(
        "records/处罚案卷/潼烟罚〔2011〕12号/"
    )
    assert outcomes["inbox/案卷/潼烟罚[2011]12号 结案报告.pdf"]["record"].startswith(
        "records/处罚案卷/潼烟罚〔2011〕12号/"
    )
    meeting = outcomes["inbox/会议记录/专销联动会议/2011年3月5日 会议记录.jpg"]
    assert meeting["record"].startswith("records/会议记录/专销联动会议/2011/")
    assert meeting["keys"]["date"] == "2011-03-05"
    tray = outcomes["inbox/其他/扫描0001.jpg"]
    assert tray["outcome"] == "unfiled" and tray["record"].startswith("records/待归档/")
    # The inbox is empty; originals are byte for byte; sidecars carry events.
    assert [p for p in inbox.rglob("*") if p.is_file()] == []
    for outcome in outcomes.values():
        record = archive_dir / outcome["record"]
        assert sha(record) == outcome["sha256"]
        side = json.loads(record.with_name(record.name + ".json").read_text(encoding="utf-8"))
        numbered = ["numbered"] if outcome["outcome"] == "filed" else []  # 档号 given on filing
        assert [e["event"] for e in side["events"]] == ["received", "checked", "filed", *numbered]
        assert (side.get("archival") or {}).get("code") == outcome["archival_code"]

    shown = run_dangan("show", "潼烟罚[2011]第12号", "--json", "--archive", archive_dir)
    assert shown.returncode == 0, shown.stderr
    dossier = json.loads(shown.stdout)[0]
    assert dossier["dossier"] == "潼烟罚〔2011〕12号"
    assert [d["doc_type"] for d in dossier["documents"]] == ["询问笔录", "结案报告"]
    text = run_dangan("show", "610522100123", "--archive", archive_dir)
    assert "卷内目录" in text.stdout and "申请表" in text.stdout


def test_a_household_keeps_one_folder_across_runs_and_within_a_batch(archive_dir: Path) -> None:
    """The household folders are listed once a run: a document of a household filed before
    goes to its folder (whatever name the drop gives), and two documents of a new household
    staged in the same batch share one new folder, numbered in order."""
    inbox = archive_dir / "inbox" / "许可证"
    (inbox / "610522100123_张三烟酒店").mkdir(parents=True)
    (inbox / "610522100123_张三烟酒店" / "申请表.pdf").write_bytes(_pdf(1))
    first = run_dangan("ingest", "--json", "--archive", archive_dir)
    assert first.returncode == 0, first.stderr
    (inbox / "610522100123").mkdir()
    (inbox / "610522100123" / "送达回证.pdf").write_bytes(_pdf(2))
    (inbox / "610522100456_李四商店").mkdir()
    (inbox / "610522100456_李四商店" / "申请表.pdf").write_bytes(_pdf(3))
    (inbox / "610522100456_李四商店" / "承诺书.pdf").write_bytes(_pdf(4))
    second = run_dangan("ingest", "--json", "--archive", archive_dir)
    assert second.returncode == 0, second.stderr
    records = {o["source"].split("/", 2)[2]: o["record"] for o in json_lines(second.stdout)}
    assert records == {
        "610522100123/送达回证.pdf": "records/许可证档案/610522100123_张三烟酒店/002_送达回证.pdf",
        "610522100456_李四商店/承诺书.pdf": "records/许可证档案/610522100456_李四商店/001_承诺书.pdf",
        "610522100456_李四商店/申请表.pdf": "records/许可证档案/610522100456_李四商店/002_申请表.pdf",
    }
    folders = sorted(p.name for p in (archive_dir / "records" / "许可证档案").iterdir())
    assert folders == ["610522100123_张三烟酒店", "610522100456_李四商店"]


def test_a_catalog_row_without_its_record_does_not_make_a_duplicate(archive_dir: Path) -> None:
    """The catalog is a cache. A row whose record is not on disk (a batch a crash undid after
    its rows were committed) must not turn the scan into a "duplicate" of nothing: that left
    it in the inbox on every later run, said to have vanished while it was being filed."""
    folder = archive_dir / "inbox" / "许可证" / "610522100123_张三烟酒店"
    folder.mkdir(parents=True)
    data = _jpeg()
    (folder / "申请表.jpg").write_bytes(data)
    assert run_dangan("ingest", "--archive", archive_dir).returncode == 0
    record = archive_dir / "records" / "许可证档案" / "610522100123_张三烟酒店" / "001_申请表.jpg"
    record.unlink()
    record.with_name(record.name + ".json").unlink()  # gone from disk, still in the catalog
    (folder / "申请表.jpg").write_bytes(data)
    result = run_dangan("ingest", "--json", "--archive", archive_dir)
    assert result.returncode == 0, result.stderr
    [outcome] = json_lines(result.stdout)
    assert outcome["outcome"] == "filed", outcome
    assert not (folder / "申请表.jpg").exists() and (archive_dir / outcome["record"]).is_file()
    assert run_dangan("verify", "--archive", archive_dir).returncode == 0


class _CommitsWatched(Catalog):
    """The real catalog; after every commit, what another reader (or a process started
    after a crash) would see: catalogued records that are not on disk."""

    records: Path
    ghosts: list[str]

    def _look(self) -> None:
        db = sqlite3.connect(self.path)
        try:
            rows = [r[0] for r in db.execute("SELECT path FROM records")]
        finally:
            db.close()
        self.ghosts += [p for p in rows if not (self.records / p).is_file()]

    def add_quarantine(self, path: str, why: dict[str, Any], *, commit: bool = True) -> None:
        super().add_quarantine(path, why, commit=commit)
        self._look()

    def upsert(self, path: str, side: dict[str, Any], *, commit: bool = True) -> None:
        super().upsert(path, side, commit=commit)
        self._look()

    def commit(self) -> None:
        super().commit()
        self._look()


def test_no_commit_carries_rows_of_files_not_yet_filed(archive_dir: Path) -> None:
    """Files are staged in batches, their catalog rows written uncommitted. A quarantine or a
    duplicate in the middle of a batch commits the catalog: if that carried the batch's rows
    before the batch's files were committed, a kill at that instant left rows for files that
    never became records (found by the random-kill crash test)."""
    data = _jpeg()
    (archive_dir / "inbox" / "其他" / "甲.jpg").write_bytes(data)
    assert run_dangan("ingest", "--archive", archive_dir).returncode == 0
    write_licence_pdfs(archive_dir / "inbox", make_households(6))  # staged first
    late = archive_dir / "inbox" / "许可证" / "zzz"  # walked after the households' folders
    late.mkdir()
    (late / "坏文件.pdf").write_bytes(b"%PDF-1.4 not really")  # quarantined mid-batch
    (late / "乙.jpg").write_bytes(data)  # a duplicate mid-batch
    archive = Archive(archive_dir)
    with archive.writer_lock(), _CommitsWatched(archive.catalog_path) as catalog:
        catalog.records, catalog.ghosts = archive.records, []
        outcomes = Intake(archive, catalog, settle_seconds=0).run()
    kinds = sorted({o.outcome for o in outcomes})
    assert "quarantined" in kinds and "duplicate" in kinds and "filed" in kinds, kinds
    assert catalog.ghosts == []


def test_duplicate_is_set_aside_with_pointer(archive_dir: Path) -> None:
    inbox = archive_dir / "inbox" / "许可证" / "610522100123"
    inbox.mkdir(parents=True)
    data = _jpeg()
    (inbox / "申请表.jpg").write_bytes(data)
    first = json_lines(run_dangan("ingest", "--json", "--archive", archive_dir).stdout)
    assert first[0]["outcome"] == "filed"
    (inbox / "申请表(复印).jpg").write_bytes(data)
    second = json_lines(run_dangan("ingest", "--json", "--archive", archive_dir).stdout)
    assert second[0]["outcome"] == "duplicate"
    assert second[0]["record"] == first[0]["record"]
    why = list((archive_dir / "quarantine").rglob("*.why.json"))
    assert len(why) == 1
    note = json.loads(why[0].read_text(encoding="utf-8"))
    assert note["code"] == "duplicate" and note["existing_record"] == first[0]["record"]
    assert sha(why[0].with_name(why[0].name[: -len(".why.json")])) == first[0]["sha256"]
    record = archive_dir / first[0]["record"]
    side = json.loads(record.with_name(record.name + ".json").read_text(encoding="utf-8"))
    assert side["events"][-1]["event"] == "duplicate"
    # Only one record holds the content.
    assert len([p for p in (archive_dir / "records").rglob("*.jpg")]) == 1


def test_external_paths_are_copied_and_left_in_place(archive_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "U盘" / "许可证" / "610522100777_李四商店"
    outside.mkdir(parents=True)
    (outside / "营业执照.jpg").write_bytes(_jpeg())
    result = run_dangan("ingest", "--json", tmp_path / "U盘", "--archive", archive_dir)
    out = json_lines(result.stdout)
    assert out[0]["outcome"] == "filed"
    assert out[0]["record"].startswith("records/许可证档案/610522100777_李四商店/")
    assert (outside / "营业执照.jpg").exists()
    again = json_lines(
        run_dangan("ingest", "--json", tmp_path / "U盘", "--archive", archive_dir).stdout
    )
    assert again[0]["outcome"] == "duplicate"
    assert (outside / "营业执照.jpg").exists()


def test_every_bad_input_is_quarantined_with_a_reason(archive_dir: Path) -> None:
    folder = archive_dir / "inbox" / "其他"
    expected = write_bad_inputs(folder)
    # A scanner that cannot spell: a name that is neither UTF-8 nor GBK.
    os.symlink(archive_dir / "dangan.toml", folder / "快捷方式.pdf")
    expected["快捷方式.pdf"] = "symlink"
    raw_name = os.fsencode(folder) + b"/\xff\xfe\xfa.jpg"
    with open(raw_name, "wb") as fh:
        fh.write(_jpeg((300, 300)))
    config = archive_dir / "dangan.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("max_file_mb = 200", "max_file_mb = 1"),
        encoding="utf-8",
    )
    (folder / "超大.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024) + b"\n%%EOF\n")
    expected["超大.pdf"] = "too_large"
    # A good file among them is still filed: one bad file never stops the batch.
    (folder / "610522100123 申请表.jpg").write_bytes(_jpeg((640, 640)))

    result = run_dangan("ingest", "--json", "--archive", archive_dir)
    assert result.returncode == 0, result.stderr
    outcomes = json_lines(result.stdout)
    by_name = {o["source"].rsplit("/", 1)[-1]: o for o in outcomes}
    assert len(expected) >= 17
    for name, code in expected.items():
        got = by_name[name]
        assert (got["outcome"], got["code"]) == ("quarantined", code), name
        why = archive_dir / (got["record"] + ".why.json")
        note = json.loads(why.read_text(encoding="utf-8"))
        assert (
            note["code"] == code
            and note["reason"]
            and any("\u4e00" <= c <= "\u9fff" for c in note["reason"])
        )
    undecodable = [o for o in outcomes if o["code"] == "name_undecodable"]
    assert len(undecodable) == 1 and undecodable[0]["record"].startswith("quarantine/")
    assert by_name["610522100123 申请表.jpg"]["outcome"] == "filed"
    # Nothing left behind in the inbox and nothing lost.
    assert [p for p in (archive_dir / "inbox").rglob("*") if p.is_file()] == []
    listed = run_dangan("quarantine", "list", "--json", "--archive", archive_dir)
    assert len(json.loads(listed.stdout)) == len(expected) + 1


def test_misnamed_file_is_filed_by_content(archive_dir: Path) -> None:
    folder = archive_dir / "inbox" / "许可证" / "610522100123"
    folder.mkdir(parents=True)
    (folder / "身份证明.pdf").write_bytes(_jpeg())  # a JPEG saved as .pdf
    out = json_lines(run_dangan("ingest", "--json", "--archive", archive_dir).stdout)[0]
    assert out["outcome"] == "filed" and out["record"].endswith("001_身份证明.jpg")
    side = json.loads((archive_dir / (out["record"] + ".json")).read_text(encoding="utf-8"))
    assert side["mime"] == "image/jpeg"
    assert "extension_mismatch" in [f["code"] for f in side["findings"]]


def test_gbk_file_and_folder_names(archive_dir: Path) -> None:
    kind = os.fsencode(archive_dir / "inbox" / "许可证")
    folder = kind + b"/" + "610522100456_王五便利店".encode("gbk")
    os.mkdir(folder)
    with open(folder + b"/" + "营业执照.jpg".encode("gbk"), "wb") as fh:
        fh.write(_jpeg())
    out = json_lines(run_dangan("ingest", "--json", "--archive", archive_dir).stdout)[0]
    assert out["outcome"] == "filed"
    assert out["source"] == "inbox/许可证/610522100456_王五便利店/营业执照.jpg"
    assert out["record"] == "records/许可证档案/610522100456_王五便利店/001_营业执照.jpg"
    assert out["keys"]["retailer"] == "王五便利店"


def test_reindex_gives_identical_answers(archive_dir: Path) -> None:
    households = make_households(12, seed=3)
    write_licence_pdfs(archive_dir / "inbox", households)
    write_bad_inputs(archive_dir / "inbox" / "其他")
    (archive_dir / "inbox" / "其他" / "again.pdf").write_bytes(
        next((archive_dir / "inbox" / "许可证").rglob("*.pdf")).read_bytes()
    )
    assert run_dangan("ingest", "--archive", archive_dir).returncode == 0
    catalog = archive_dir / ".dangan" / "catalog.sqlite"

    def snapshot() -> str:
        from archive.records.catalog import Catalog

        with Catalog(catalog) as cat:
            return cat.snapshot()

    before = snapshot()
    shown_before = run_dangan(
        "show", households[0].licence_no, "--json", "--archive", archive_dir
    ).stdout
    for suffix in ("", "-wal", "-shm"):
        Path(str(catalog) + suffix).unlink(missing_ok=True)
    result = run_dangan("reindex", "--json", "--archive", archive_dir)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["records"] == 12
    assert snapshot() == before
    assert (
        run_dangan("show", households[0].licence_no, "--json", "--archive", archive_dir).stdout
        == shown_before
    )
    with sqlite3.connect(catalog) as db:
        assert db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 16


def test_verify_reports_changed_and_missing(archive_dir: Path) -> None:
    write_licence_pdfs(archive_dir / "inbox", make_households(3, seed=5))
    run_dangan("ingest", "--archive", archive_dir)
    assert run_dangan("verify", "--archive", archive_dir).returncode == 0
    records = sorted((archive_dir / "records").rglob("*.pdf"))
    with records[0].open("r+b") as fh:
        fh.seek(200)
        fh.write(b"X")
    records[1].unlink()
    (records[2].parent / "手工放入.pdf").write_bytes(_pdf())
    result = run_dangan("verify", "--json", "--archive", archive_dir)
    assert result.returncode == 6
    report = json.loads(result.stdout)
    assert [c["record"] for c in report["changed"]] == [
        f"records/{records[0].relative_to(archive_dir / 'records').as_posix()}"
    ]
    assert len(report["missing"]) == 1 and len(report["unexpected"]) == 1
    assert "校验发现 1 份被改动, 1 份缺失, 1 个未登记文件" in result.stderr


def test_commands_outside_an_archive_fail_clearly(tmp_path: Path) -> None:
    result = run_dangan("ingest", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.strip().startswith("错误: ")
    assert "dangan init" in result.stderr
