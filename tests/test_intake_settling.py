"""One-shot ingest right after a copy: nothing skipped in silence, the inbox never called empty
when it is not; keys only where the document states them; area codes from the first roster."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from conftest import json_lines, make_archive, run_dangan

from archive.core.config import Archive
from archive.intake.pipeline import extractor_for, make_intake
from archive.intake.settling import ingest_inbox
from archive.records.reindex import open_catalog
from samples.badfiles import _jpeg, _pdf
from samples.textpdf import make_households, render_pages, write_roster_csv


def _settling_archive(root: Path, settle: float = 2.0) -> Path:
    archive = make_archive(root)
    config = archive / "dangan.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("settle_seconds = 0.0", f"settle_seconds = {settle}"), encoding="utf-8"
    )
    return archive


def test_copy_then_ingest_files_everything_at_once(tmp_path: Path) -> None:
    # settle long enough that the files are still fresh when a slow machine starts dangan
    archive = _settling_archive(tmp_path / "档案库", settle=6.0)
    scans = tmp_path / "scans"
    scans.mkdir()
    for n in range(5):
        (scans / f"申请表{n}.jpg").write_bytes(_jpeg((600 + n, 800)))
    folder = archive / "inbox" / "许可证" / "610522100123"
    folder.mkdir(parents=True)
    for path in scans.iterdir():  # cp scans/* inbox/许可证/610522100123/ && dangan ingest
        (folder / path.name).write_bytes(path.read_bytes())
    result = run_dangan("ingest", "--json", "--archive", archive)
    assert result.returncode == 0, result.stderr
    outcomes = json_lines(result.stdout)
    assert sorted(o["outcome"] for o in outcomes) == ["filed"] * 5
    assert all(isinstance(o["elapsed"], float) for o in outcomes)
    assert "写入完成" in result.stderr  # it said it was waiting
    assert not any(folder.iterdir())


def test_every_inbox_file_gets_an_outcome_even_when_it_cannot_wait(tmp_path: Path) -> None:
    archive = _settling_archive(tmp_path / "档案库", settle=30.0)
    folder = archive / "inbox" / "许可证" / "610522100123"
    folder.mkdir(parents=True)
    (folder / "申请表.pdf").write_bytes(_pdf(1))
    (folder / "核查记录.pdf.part").write_bytes(b"%PDF-1.4 half")
    (folder / "Thumbs.db").write_bytes(b"\x00" * 64)
    result = run_dangan("ingest", "--json", "--wait", "0", "--archive", archive)
    assert result.returncode == 0, result.stderr
    outcomes = {o["source"].rsplit("/", 1)[-1]: o for o in json_lines(result.stdout)}
    assert set(outcomes) == {"申请表.pdf", "核查记录.pdf.part", "Thumbs.db"}
    assert outcomes["申请表.pdf"]["outcome"] == "waiting"
    assert "仍在写入" in outcomes["申请表.pdf"]["reason"]
    assert outcomes["核查记录.pdf.part"]["outcome"] == "waiting"
    assert "正在复制" in outcomes["核查记录.pdf.part"]["reason"]
    assert (outcomes["Thumbs.db"]["outcome"], outcomes["Thumbs.db"]["code"]) == (
        "skipped",
        "ignored",
    )
    text = run_dangan("ingest", "--wait", "0", "--archive", archive)
    assert "收件箱为空" not in text.stderr and "等待中 2" in text.stderr, text.stderr


def test_a_file_still_being_written_is_waited_for_then_filed(tmp_path: Path) -> None:
    """The library loop with a real file that keeps growing while intake waits."""
    root = _settling_archive(tmp_path / "档案库", settle=0.6)
    archive = Archive(root)
    folder = archive.inbox / "许可证" / "610522100123"
    folder.mkdir(parents=True)
    growing = folder / "申请表.jpg"
    data = _jpeg()
    growing.write_bytes(data[:100])
    sleeps: list[float] = []
    told: list[int] = []

    def scanner_writes_on(seconds: float) -> None:  # the scanner finishes while we wait
        sleeps.append(seconds)
        time.sleep(seconds)
        if len(sleeps) == 1:  # at the end of the first wait: the file is young again
            growing.write_bytes(data)

    with archive.writer_lock(), open_catalog(archive) as catalog:
        intake = make_intake(archive, catalog, None, sleep=scanner_writes_on)
        outcomes = ingest_inbox(
            intake, wait_seconds=20, on_waiting=lambda w, _s: told.append(len(w))
        )
    assert [o.outcome for o in outcomes] == ["filed"], outcomes
    assert len(sleeps) >= 2 and told == [1]
    record = archive.root / str(outcomes[0].record)
    assert record.read_bytes() == data  # the whole file, not the first 100 bytes


def _english_pdf() -> bytes:
    return render_pages(
        [
            (
                "Memory layout of a 32-bit process",
                [
                    "A 32-bit address space holds 2^32 = 32 4294967296 bytes.",
                    "Page table entries: 1024 1048576 4096 and 100 200 300 400 500 600.",
                    "Order no. 610522 100123, invoice 2011 12 05.",
                ],
            )
        ]
    )[0]


def test_a_file_rewritten_after_it_was_read_ahead_is_left_for_the_next_run(
    tmp_path: Path,
) -> None:
    """Files are hashed and read ahead of their turn. One rewritten after that is not filed
    under its old hash nor quarantined: it stays in the inbox, said to be still changing,
    and the next run files what it holds then."""
    root = make_archive(tmp_path / "arc")
    folder = root / "inbox" / "许可证" / "610522100123_张三烟酒店"
    folder.mkdir(parents=True)
    for n, name in enumerate(["申请表.pdf", "承诺书.pdf", "送达回证.pdf"], 1):
        (folder / name).write_bytes(_pdf(n))
    changed = folder / "承诺书.pdf"
    archive = Archive(root)
    with archive.writer_lock(), open_catalog(archive) as catalog, extractor_for(archive) as ex:

        def rewrite_after_reading(path: Path, checked: object, **kw: object) -> object:
            read = ex(path, checked, **kw)  # type: ignore[arg-type,misc]
            if path == changed and changed.read_bytes() != _pdf(4):  # the scanner adds a page
                changed.write_bytes(_pdf(4))
            return read

        intake = make_intake(archive, catalog, rewrite_after_reading, prefetch=2)
        first = {o.source.rsplit("/", 1)[1]: o for o in intake.run()}
        again = intake.run()
    assert first["承诺书.pdf"].outcome == "skipped" and first["承诺书.pdf"].code == "changing"
    assert "稍后再处理" in (first["承诺书.pdf"].reason or "")
    assert {first[n].outcome for n in ("申请表.pdf", "送达回证.pdf")} == {"filed"}
    assert [o.source.rsplit("/", 1)[1] for o in again] == ["承诺书.pdf"]
    assert again[0].outcome == "filed"
    filed = root / str(again[0].record)
    assert filed.read_bytes() == _pdf(4)  # what the file held when it was filed
    assert list((root / "quarantine").rglob("*.pdf")) == []
    assert not changed.exists()


def test_digits_across_spaces_never_make_a_licence_number(tmp_path: Path) -> None:
    root = tmp_path / "新档案库"
    assert run_dangan("init", root).returncode == 0  # a new archive: no area codes yet
    config = root / "dangan.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        .replace("settle_seconds = 2.0", "settle_seconds = 0.0")
        .replace("enabled = true", "enabled = false"),
        encoding="utf-8",
    )
    (root / "inbox" / "其他" / "manual.pdf").write_bytes(_english_pdf())
    [outcome] = json_lines(run_dangan("ingest", "--json", "--archive", root).stdout)
    assert "licence_no" not in outcome["keys"], outcome
    assert not outcome["record"].startswith("records/许可证档案/"), outcome


def test_init_takes_the_area_codes_from_the_first_roster(tmp_path: Path) -> None:
    root = tmp_path / "新档案库"
    done = run_dangan("init", root)
    assert done.returncode == 0 and "未设区划码" in done.stderr
    assert Archive(root).config.area_codes == ()
    roster = tmp_path / "名册.csv"
    write_roster_csv(roster, make_households(30, seed=3))
    imported = run_dangan("households", "import", roster, "--json", "--archive", root)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["area_codes"] == ["610522"]
    text = (root / "dangan.toml").read_text(encoding="utf-8")
    assert re.search(r'(?m)^area_codes = \["610522"\]$', text)
    assert "# County area codes" in text  # the clerk's file kept as it was
    assert Archive(root).config.area_codes == ("610522",)
    bad = run_dangan("init", tmp_path / "另一个", "--area-code", "潼关")
    assert bad.returncode != 0 and "区划码应为数字" in bad.stderr
