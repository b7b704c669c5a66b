"""The library under the clerk's pages: uploads filed as the watcher files them (and nothing
half-filed when one is cut off), the tray assigned by two clerks at once, the quarantine
released and deleted, the writer lock's plain "must wait"."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _archival import LICENCE_B, build_small_archive, household_pdf

from archive.core.config import Archive
from archive.core.errors import LockedError, NotFoundError, UsageError
from archive.intake.pipeline import extractor_for, make_intake
from archive.intake.quarantine import delete, find, release
from archive.intake.rules import load_rules
from archive.intake.tray import AlreadyAssigned, assign, suggestions
from archive.intake.upload import (
    Staging,
    UploadInterrupted,
    UploadRefused,
    check_size,
    clear_stale_uploads,
    file_upload,
    upload_path,
)
from archive.records.corrections import locate, type_dossiers_from
from archive.records.fixity import verify_records
from archive.records.reindex import open_catalog
from samples.badfiles import bad_inputs
from samples.bench_archive import mini_pdf


@pytest.fixture
def small(tmp_path: Path) -> Archive:
    return build_small_archive(tmp_path / "档案库")


def _upload(archive: Archive, rel: str, data: bytes, chunk: int = 1000):  # type: ignore[no-untyped-def]
    kind, _, rest = rel.partition("/")
    parts = upload_path(archive, kind, rest)
    staging = Staging(archive)
    for i in range(0, len(data), chunk):
        staging.write(data[i : i + chunk])
    staged = staging.finish(len(data))
    with (
        archive.writer_lock(),
        open_catalog(archive) as catalog,
        extractor_for(archive, ocr=False) as ex,
    ):
        return file_upload(
            archive, make_intake(archive, catalog, ex, settle_seconds=0), staged, parts
        )


def _inbox_files(archive: Archive) -> list[Path]:
    return [p for p in archive.inbox.rglob("*") if p.is_file()]


def test_an_upload_is_filed_as_the_watcher_files_it_and_a_broken_one_quarantined(
    small: Archive,
) -> None:
    data = household_pdf(LICENCE_B, "李四商店", "营业执照")
    filed = _upload(small, f"许可证/{LICENCE_B}_李四商店/营业执照.pdf", data)
    assert filed.outcome == "filed", filed.as_dict()
    assert filed.record and filed.record.startswith(f"records/许可证档案/{LICENCE_B}_")
    assert filed.source == f"inbox/许可证/{LICENCE_B}_李四商店/营业执照.pdf"
    content, code = bad_inputs()["传输中断.pdf"]
    broken = _upload(small, "许可证/传输中断.pdf", content)
    assert broken.outcome == "quarantined" and broken.code == code == "pdf_truncated"
    assert "传输中断" in (broken.reason or "")
    again = _upload(small, "许可证/再传一次.pdf", data)
    assert again.outcome == "duplicate"  # the same content is not filed twice
    assert _inbox_files(small) == []
    assert list((small.state / "uploads").iterdir()) == []
    with open_catalog(small) as catalog:
        assert verify_records(small, catalog).ok


def test_an_upload_cut_off_half_way_leaves_nothing(small: Archive) -> None:
    with open_catalog(small) as catalog:
        before = catalog.snapshot()
    data = household_pdf(LICENCE_B, "李四商店", "营业执照")
    staging = Staging(small)
    staging.write(data[: len(data) // 2])
    with pytest.raises(UploadInterrupted, match="上传中断"):
        staging.finish(len(data))
    assert not staging.path.exists()
    assert _inbox_files(small) == []
    with open_catalog(small) as catalog:
        assert catalog.snapshot() == before


def test_upload_limits_and_names(small: Archive) -> None:
    limit = small.config.max_file_bytes
    with pytest.raises(UploadRefused, match="超过大小上限"):
        check_size(small, limit + 1)
    staging = Staging(small)
    staging.limit = 10  # the same check, reached by streaming (no length announced)
    with pytest.raises(UploadRefused, match="超过大小上限"):
        staging.write(b"x" * 11)
    assert not staging.path.exists()
    for bad in ("../../etc/passwd", "/etc/passwd", "a/../../x.pdf", ".hidden.pdf", "x.pdf.part"):
        with pytest.raises(UploadRefused):
            upload_path(small, "许可证", bad)
    with pytest.raises(UploadRefused, match="收件箱没有"):
        upload_path(small, "../records", "x.pdf")
    assert upload_path(small, "案卷", "潼烟罚[2011]12号/a<b>.pdf") == [
        "案卷",
        "潼烟罚[2011]12号",
        "a_b_.pdf",
    ]


def test_stale_staging_files_are_cleared(small: Archive) -> None:
    staging = Staging(small)
    staging.write(b"half")
    named = small.state / "uploads" / "upload-x.part.d"  # a re-scan staged under its own name
    named.mkdir()
    (named / "重扫.pdf").write_bytes(b"%PDF")
    assert clear_stale_uploads(small) == 0  # still being written
    assert clear_stale_uploads(small, older_than=0) == 2
    assert list((small.state / "uploads").iterdir()) == []


# --------------------------------------------------------------------------- the tray


def _tray_document(archive: Archive) -> str:
    """A scan intake cannot place: its folder and its text name no dossier."""
    out = _upload(archive, "许可证/扫描0001.pdf", mini_pdf("情况说明", ["该户已于三月停业。"]))
    assert out.outcome == "unfiled", out.as_dict()
    assert out.sha256
    return out.sha256


def test_two_clerks_assigning_one_tray_document_at_once(small: Archive) -> None:
    sha = _tray_document(small)
    types = type_dossiers_from(load_rules(small.root).types)
    start = threading.Barrier(2)
    results: dict[str, object] = {}

    def clerk(name: str, dossier: str) -> None:
        start.wait()
        try:
            with small.writer_lock(), open_catalog(small) as catalog:
                results[name] = assign(
                    small,
                    catalog,
                    sha,
                    dossier,
                    doc_type=None,
                    actor=name,
                    reason="核对原件",
                    type_dossiers=types,
                )
        except AlreadyAssigned as exc:
            results[name] = exc

    threads = [
        threading.Thread(target=clerk, args=("张会计", LICENCE_B)),
        threading.Thread(target=clerk, args=("李会计", "610522100001")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    refused = [v for v in results.values() if isinstance(v, AlreadyAssigned)]
    won = [k for k, v in results.items() if not isinstance(v, AlreadyAssigned)]
    assert len(refused) == 1 and len(won) == 1, results
    assert f"已由 {won[0]} 于" in refused[0].message and "不在待归档中了" in refused[0].message
    with open_catalog(small) as catalog:
        _, side = locate(small, catalog, sha)
        moves = [e for e in side["events"] if e["event"] == "moved"]
        assert len(moves) == 1 and moves[0]["by"] == won[0]
        assert verify_records(small, catalog).ok


def test_assign_with_a_type_and_suggestions_from_the_text(small: Archive) -> None:
    sha = _tray_document(small)
    types = type_dossiers_from(load_rules(small.root).types)
    with small.writer_lock(), open_catalog(small) as catalog:
        side = {"text": {"pages": [{"text": f"经查 {LICENCE_B} 号零售户, 见潼烟罚〔2011〕12号"}]}}
        found = suggestions(small, catalog, side)
        assert [s.dossier for s in found] == [LICENCE_B, "潼烟罚〔2011〕12号"]
        assert found[0].why == "正文中的许可证号"
        with pytest.raises(UsageError, match="不是已知的文书类型"):
            assign(small, catalog, sha, LICENCE_B, doc_type="无此类型", actor="张", reason="r",
                   type_dossiers=types)  # fmt: skip
        with pytest.raises(UsageError, match="原因"):
            assign(small, catalog, sha, LICENCE_B, doc_type=None, actor="张", reason=" ",
                   type_dossiers=types)  # fmt: skip
        done = assign(
            small, catalog, sha, LICENCE_B, doc_type="营业执照", actor="张会计", reason="核对原件",
            type_dossiers=types,
        )  # fmt: skip
        assert [d.op for d in done] == ["moved", "corrected"]
        _, side = locate(small, catalog, sha)
        assert side["doc_type"] == "营业执照"
        assert side["dossier"]["key"] == LICENCE_B
        assert verify_records(small, catalog).ok


# --------------------------------------------------------------------------- quarantine


def test_release_after_the_fix_and_delete_with_a_reason(small: Archive) -> None:
    text = small.config_path.read_text(encoding="utf-8")
    small.config_path.write_text(text.replace("max_file_mb = 200", "max_file_mb = 0"), "utf-8")
    tight = Archive(small.root)
    dropped = tight.inbox / f"许可证/{LICENCE_B}_李四商店/营业执照.pdf"  # from a scanner's share
    dropped.parent.mkdir(parents=True, exist_ok=True)
    dropped.write_bytes(household_pdf(LICENCE_B, "李四商店", "营业执照"))
    with tight.writer_lock(), open_catalog(tight) as catalog, extractor_for(tight, ocr=False) as ex:
        [big] = make_intake(tight, catalog, ex, settle_seconds=0).run()
    assert big.outcome == "quarantined" and big.code == "too_large"
    assert big.record
    with tight.writer_lock(), open_catalog(tight) as catalog, extractor_for(tight, ocr=False) as ex:
        # the cause is still there: quarantined again, with the reason
        again = release(
            tight, catalog, make_intake(tight, catalog, ex, settle_seconds=0), big.record
        )
        assert again.outcome == "quarantined" and again.code == "too_large"
    small.config_path.write_text(text, "utf-8")  # the fix: the limit raised again
    fixed = Archive(small.root)
    assert again.record
    with fixed.writer_lock(), open_catalog(fixed) as catalog, extractor_for(fixed, ocr=False) as ex:
        out = release(
            fixed, catalog, make_intake(fixed, catalog, ex, settle_seconds=0), again.record
        )
        assert out.outcome == "filed"
        assert out.source == f"inbox/许可证/{LICENCE_B}_李四商店/营业执照.pdf"  # where it came from
        assert catalog.quarantined() == []
    broken = _upload(fixed, "许可证/加密.pdf", bad_inputs()["加密.pdf"][0])
    assert broken.record
    with fixed.writer_lock(), open_catalog(fixed) as catalog:
        with pytest.raises(UsageError, match="原因"):
            delete(fixed, catalog, broken.record, actor="张会计", reason="")
        with pytest.raises(UsageError, match="不在隔离区"):
            delete(fixed, catalog, "records/../dangan.toml", actor="张会计", reason="x")
        gone = delete(fixed, catalog, broken.record, actor="张会计", reason="有密码, 已让窗口重扫")
        assert gone.why["code"] == "pdf_encrypted"
        assert catalog.quarantined() == []
        with pytest.raises(NotFoundError, match="已被放行或删除"):
            find(fixed, broken.record)
    assert [p for p in fixed.quarantine.rglob("*") if p.is_file()] == []


# --------------------------------------------------------------------------- the writer lock


def test_a_writer_waiting_is_told_what_it_waits_for(small: Archive) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from archive.core.config import Archive\n"
            "with Archive(Path(sys.argv[1])).writer_lock(purpose='dangan watch 正在归档收件箱'):\n"
            "    print('held', flush=True); time.sleep(60)\n",
            str(small.root),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        began = time.monotonic()
        with (
            pytest.raises(LockedError, match=r"dangan watch 正在归档收件箱.*请等待其结束后重试"),
            small.writer_lock(wait_seconds=0.3),
        ):
            pass
        assert time.monotonic() - began < 30
    finally:
        holder.kill()
        holder.wait()
    with small.writer_lock(wait_seconds=5):  # the kernel dropped the dead holder's lock
        pass
