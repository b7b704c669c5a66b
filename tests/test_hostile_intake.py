"""Hostile and clumsy inbox contents: pipes, odd names, the archive fed to itself, a file
replaced mid-way, a full disk, folders that cannot be read. Each ends in bounded time with
the reason a clerk reads, loses nothing, and touches nothing outside the archive."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from _hostile import DANGAN, LIMIT, Outside, dangan_bounded, run_bounded, within
from conftest import json_lines, make_archive, run_dangan

from archive.access.log import AccessLog, LogFilter
from archive.access.store import AccessStore
from archive.core.config import Archive
from archive.intake.intake import Intake
from archive.records.catalog import Catalog
from samples.badfiles import _jpeg, _pdf

# ------------------------------------------------------------------ pipes and names


@pytest.mark.parametrize(
    "name",
    [b"\xff\xfe\xb5\xb5.pdf", "扫描\n第2页.pdf".encode(), "申请表.pdf".encode()],
    ids=["not-utf8", "newline", "plain"],
)
def test_a_fifo_in_the_inbox_is_set_aside_unread(
    archive_dir: Path, outside: Outside, name: bytes
) -> None:
    folder = archive_dir / "inbox" / "其他"
    fifo = os.path.join(os.fsencode(folder), name)
    os.mkfifo(fifo)
    done = within(dangan_bounded("ingest", "--json", "--archive", archive_dir, limit=LIMIT))
    assert done.returncode == 0, done.stderr
    [outcome] = json_lines(done.stdout)
    assert outcome["outcome"] == "quarantined"
    assert outcome["code"] == "not_regular"
    assert "管道" in outcome["reason"]
    assert not os.path.lexists(fifo)
    # the writer lock was let go: a second ingest runs at once
    again = dangan_bounded("ingest", "--archive", archive_dir, limit=LIMIT)
    assert within(again).returncode == 0
    quarantine = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in (archive_dir / "quarantine").rglob("*.why.json")
    ]
    assert [q["code"] for q in quarantine] == ["not_regular"]
    outside.assert_untouched()


def test_names_with_control_characters_are_not_called_an_encoding_problem(
    archive_dir: Path, outside: Outside
) -> None:
    folder = archive_dir / "inbox" / "其他"
    (folder / "通知\n第二页.pdf").write_bytes(_pdf())
    os.close(os.open(os.path.join(os.fsencode(folder), b"\xd5\xc5\xff\xfe.pdf"), os.O_CREAT))
    out = json_lines(within(dangan_bounded("ingest", "--json", "--archive", archive_dir)).stdout)
    reasons = {o["code"]: o["reason"] for o in out}
    assert set(reasons) == {"name_control_chars", "name_undecodable"}
    assert "控制字符" in reasons["name_control_chars"]
    assert "编码" not in reasons["name_control_chars"]
    assert "编码无法识别" in reasons["name_undecodable"]
    outside.assert_untouched()


def test_a_255_byte_name_keeps_its_extension_in_quarantine(
    archive_dir: Path, outside: Outside
) -> None:
    name = "很" * 83 + ".pdf"  # 249 + 4 = 253 bytes
    assert len(name.encode()) <= 255
    (archive_dir / "inbox" / "其他" / name).write_bytes(b"")
    done = within(dangan_bounded("ingest", "--json", "--archive", archive_dir))
    [outcome] = json_lines(done.stdout)
    assert outcome["code"] == "empty"
    kept = Path(outcome["record"]).name
    assert kept.endswith(".pdf") and kept.startswith("很很很")
    assert len(kept.encode()) <= 180
    outside.assert_untouched()


# ------------------------------------------------------------------ what intake may take


@pytest.mark.parametrize(
    "source", [".", "records", "records/许可证档案", "quarantine", ".dangan", "报告"]
)
def test_the_archive_is_never_ingested_into_itself(
    archive_dir: Path, outside: Outside, source: str
) -> None:
    inbox = archive_dir / "inbox" / "许可证" / "610522100123_张三烟酒店"
    inbox.mkdir(parents=True)
    (inbox / "申请表.jpg").write_bytes(_jpeg())
    (archive_dir / "inbox" / "其他" / "空.pdf").write_bytes(b"")
    assert run_dangan("ingest", "--archive", archive_dir).returncode == 0
    (archive_dir / "报告").mkdir(exist_ok=True)
    (archive_dir / "报告" / "工作总结.pdf").write_bytes(_pdf())
    (archive_dir / source).mkdir(parents=True, exist_ok=True)
    before = {p: p.stat().st_mtime_ns for p in archive_dir.rglob("*") if p.is_file()}
    refused = within(dangan_bounded("ingest", source, "--json", cwd=archive_dir))
    assert refused.returncode == 14, refused.stdout
    assert refused.stdout == ""
    assert "不能" in refused.stderr and "inbox/" in refused.stderr
    after = {p: p.stat().st_mtime_ns for p in archive_dir.rglob("*") if p.is_file()}
    changed = {p for p in after if before.get(p) != after[p]} | (before.keys() - after.keys())
    # nothing but the archive's own state and the access log, where the refusal is entered
    assert {p for p in changed if not {".dangan", "access"} & set(p.parts)} == set()
    log = AccessLog(AccessStore.of(Archive(archive_dir)))
    refusal = log.query(LogFilter(action="command_failed"), limit=5).entries
    assert [e.target for e in refusal] == ["dangan ingest"] and "不能" in refusal[0].detail
    assert run_dangan("verify", "--archive", archive_dir).returncode == 0
    outside.assert_untouched()


def test_an_explicit_folder_outside_the_archive_is_still_taken(
    archive_dir: Path, tmp_path: Path
) -> None:
    scans = tmp_path / "扫描"
    scans.mkdir()
    (scans / "610522100123_张三烟酒店_申请表.jpg").write_bytes(_jpeg())
    done = run_dangan("ingest", scans, "--json", "--archive", archive_dir)
    assert done.returncode == 0, done.stderr
    assert [o["outcome"] for o in json_lines(done.stdout)] == ["filed"]


# ------------------------------------------------------------------ replaced in the inbox


class _ClerkSavesAgain(Catalog):
    """The real catalog; once the record is published and its row is being committed (the
    inbox copy not yet removed), a clerk saves a new version over the scan: as a new file
    renamed over it, or (``in_place``) written into the same file, the same inode and size,
    so that only its times can tell."""

    source: Path
    second: bytes
    records: Path
    in_place: bool

    def commit(self) -> None:
        published = any(self.records.rglob("*.jpg"))
        if published and self.source.exists() and self.source.read_bytes() != self.second:
            if self.in_place:
                with self.source.open("r+b") as fh:
                    fh.write(self.second)
            else:
                tmp = self.source.with_name(self.source.name + ".new")
                tmp.write_bytes(self.second)
                os.replace(tmp, self.source)
        super().commit()


def _file_while_the_clerk_saves(
    archive_dir: Path, first: bytes, second: bytes, *, in_place: bool, aged: bool = False
) -> Path:
    """File one scan while a clerk saves ``second`` over it; the inbox file. ``aged``: it
    was last modified long ago, as far as its mtime says."""
    folder = archive_dir / "inbox" / "许可证" / "610522100123_张三烟酒店"
    folder.mkdir(parents=True)
    source = folder / "申请表.jpg"
    source.write_bytes(first)
    if aged:
        os.utime(source, (1_600_000_000, 1_600_000_000))
    archive = Archive(archive_dir)
    with archive.writer_lock(), _ClerkSavesAgain(archive.catalog_path) as catalog:
        catalog.source, catalog.second, catalog.in_place = source, second, in_place
        catalog.records = archive.records
        [outcome] = Intake(archive, catalog, settle_seconds=0).run()
    assert outcome.outcome == "filed"
    assert outcome.reason is not None and "被替换" in outcome.reason
    assert source.read_bytes() == second, "the new version was deleted"
    [record] = (archive_dir / "records").rglob("*.jpg")
    assert record.read_bytes() == first
    return source


def test_a_file_replaced_in_the_inbox_after_filing_is_kept(
    archive_dir: Path, outside: Outside
) -> None:
    """The version that was filed becomes the record; the new one stays in the inbox."""
    first, second = _jpeg((600, 800)), _jpeg((640, 800), shade=200)
    source = _file_while_the_clerk_saves(archive_dir, first, second, in_place=False)
    assert list((archive_dir / ".dangan" / "journal").iterdir()) == []
    again = json_lines(run_dangan("ingest", "--json", "--archive", archive_dir).stdout)
    assert [o["outcome"] for o in again] == ["filed"]
    assert not source.exists()
    outside.assert_untouched()


@pytest.mark.parametrize("times_vouch", [True, False], ids=["by-status", "re-hashed"])
def test_a_file_edited_in_place_after_filing_is_kept(
    archive_dir: Path, monkeypatch: pytest.MonkeyPatch, times_vouch: bool
) -> None:
    """Whether the inbox file is checked by its status (it was last changed long before it
    was copied) or hashed again (changed too recently for its times to tell), the edited
    version stays in the inbox and the filed one is the record."""
    from archive.records import copies_ahead

    first = _jpeg((600, 800))
    second = bytes(b ^ 0xFF if 100 <= i < 200 else b for i, b in enumerate(first))
    # the change time cannot be set back: say how long "still" is instead
    monkeypatch.setattr(copies_ahead, "STILL_FOR", -3600.0 if times_vouch else 3600.0)
    _file_while_the_clerk_saves(archive_dir, first, second, in_place=True, aged=True)


# ------------------------------------------------------------------ watch beside ingest


def test_a_file_gone_before_its_turn_leaves_no_stray_note(
    archive_dir: Path, outside: Outside
) -> None:
    """The watcher had a file in view that an ``ingest`` filed meanwhile: no quarantine note
    without its file (``status`` and ``quarantine list`` agree)."""
    path = archive_dir / "inbox" / "其他" / "通知.pdf"
    path.write_bytes(_pdf())
    archive = Archive(archive_dir)
    assert run_dangan("ingest", "--archive", archive_dir).returncode == 0  # the other door
    with archive.writer_lock(), Catalog(archive.catalog_path) as catalog:
        outcome = Intake(archive, catalog, settle_seconds=0).process(path, archive.inbox)
    assert outcome is not None and outcome.code == "vanished"
    assert list((archive_dir / "quarantine").rglob("*.why.json")) == []
    status = json.loads(run_dangan("status", "--json", "--archive", archive_dir).stdout)
    listed = json.loads(run_dangan("quarantine", "list", "--json", "--archive", archive_dir).stdout)
    assert status["quarantine"] == {} and listed == []
    outside.assert_untouched()


# ------------------------------------------------------------------ passed over in silence


def test_hidden_linked_and_unreadable_folders_are_named() -> None:
    # In a folder every user can pass through: the unreadable folder is tested as an
    # ordinary user (root reads every folder, whatever its mode)
    base = Path(tempfile.mkdtemp(prefix="dangan-perm-"))
    base.chmod(0o755)
    try:
        _hidden_linked_and_unreadable(make_archive(base / "档案库"), Outside(base / "outside"))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _hidden_linked_and_unreadable(archive_dir: Path, outside: Outside) -> None:
    inbox = archive_dir / "inbox" / "其他"
    (inbox / ".隐藏的扫描.pdf").write_bytes(_pdf())
    (inbox / ".临时").mkdir()
    (inbox / ".临时" / "a.pdf").write_bytes(_pdf())
    (inbox / "链接的文件夹").symlink_to(outside.folder, target_is_directory=True)
    locked = inbox / "锁住的文件夹"
    locked.mkdir()
    (locked / "b.pdf").write_bytes(_pdf())
    (inbox / "Thumbs.db").write_bytes(b"litter")
    try:
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "nobody", str(archive_dir)], check=True)
        locked.chmod(0)
        done = _as_plain_user("ingest", "--json", "--archive", archive_dir)
        status = _as_plain_user("status", "--json", "--archive", archive_dir)
    finally:
        locked.chmod(0o755)
        outside.stop()
    assert done.returncode == 0, done.stderr
    by_code: dict[str, list[str]] = {}
    for o in json_lines(done.stdout):
        by_code.setdefault(o["code"], []).append(o["source"])
    assert sorted(by_code["hidden"]) == ["inbox/其他/.临时", "inbox/其他/.隐藏的扫描.pdf"]
    assert by_code["folder_unreadable"] == ["inbox/其他/锁住的文件夹"]
    assert by_code["symlink"] == ["inbox/其他/链接的文件夹"]  # set aside, not followed
    assert by_code["ignored"] == ["inbox/其他/Thumbs.db"]  # named as litter, never filed
    reasons = " ".join(o["reason"] for o in json_lines(done.stdout))
    assert "隐藏" in reasons and "权限" in reasons and "链接" in reasons
    state = json.loads(status.stdout)
    assert state["inbox"]["not_taken"] == {"hidden": 2, "folder_unreadable": 1}
    assert any("不会被归档" in step for step in state["next_steps"])
    outside.assert_untouched()


def _as_plain_user(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run dangan as an unprivileged user when the tests run as root."""
    if os.geteuid() != 0:
        return run_dangan(*args)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root without setpriv cannot test an unreadable folder")
    return subprocess.run(
        [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(DANGAN)]
        + [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=300,
    )


# ------------------------------------------------------------------ a full disk

_FULL_DISK = r"""
import json, os, subprocess, sys
from pathlib import Path
dangan, mnt, scans = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
need = sum(p.stat().st_size for p in scans.iterdir())
size = need + 1_200_000  # the scans fit, with room for the archive, not for a copy
subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
subprocess.run([dangan, "init", str(mnt / "a"), "--area-code", "610522"], check=True,
               capture_output=True)
cfg = mnt / "a" / "dangan.toml"
cfg.write_text(cfg.read_text().replace("settle_seconds = 2.0", "settle_seconds = 0.0")
               .replace("enabled = true", "enabled = false"))
folder = mnt / "a" / "inbox" / "许可证" / "610522100123_张三烟酒店"
folder.mkdir(parents=True)
for scan in sorted(scans.iterdir()):
    (folder / scan.name).write_bytes(scan.read_bytes())
full = subprocess.run([dangan, "ingest", "--json", "--archive", str(mnt / "a")],
                      capture_output=True, text=True, timeout=300)
state = {
    "rc": full.returncode, "stdout": full.stdout, "stderr": full.stderr,
    "inbox": sorted(p.name for p in folder.iterdir()),
    "quarantine": sorted(str(p) for p in (mnt / "a" / "quarantine").rglob("*")),
    "tmp": sorted(str(p) for p in (mnt / "a").rglob(".tmp-*")),
}
subprocess.run(["mount", "-o", f"remount,size={size * 4}", str(mnt)], check=True)
again = subprocess.run([dangan, "ingest", "--json", "--archive", str(mnt / "a")],
                       capture_output=True, text=True, timeout=300)
state["again"] = {"rc": again.returncode, "stdout": again.stdout, "stderr": again.stderr,
                  "inbox": sorted(p.name for p in folder.iterdir())}
print(json.dumps(state, ensure_ascii=False))
"""


def _noise_jpeg(seed: int) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (1000, 1000, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _namespace_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is needed to mount a small disk")
    for prefix in ([unshare, "--mount"], [unshare, "--mount", "--map-root-user"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    pytest.skip("this system allows no mount namespace (needed for a small real disk)")


def test_a_full_disk_stops_filing_and_leaves_the_files_in_the_inbox(
    tmp_path: Path, outside: Outside
) -> None:
    """A real full disk: a 6 MB tmpfs in a mount namespace of the test's own."""
    mnt, scans = tmp_path / "disk", tmp_path / "scans"
    mnt.mkdir()
    scans.mkdir()
    for n in range(3):
        (scans / f"申请表{n}.jpg").write_bytes(_noise_jpeg(n))
    done = run_bounded(
        [*_namespace_prefix(), sys.executable, "-c", _FULL_DISK, DANGAN, mnt, scans], limit=600
    )
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    assert state["rc"] == 16, state
    assert "磁盘空间已满" in state["stderr"] and "仍在收件箱" in state["stderr"]
    assert "Traceback" not in state["stderr"]
    assert state["inbox"] == ["申请表0.jpg", "申请表1.jpg", "申请表2.jpg"]
    assert state["quarantine"] == [] and state["tmp"] == []
    assert state["again"]["rc"] == 0, state["again"]
    assert state["again"]["inbox"] == []
    assert len(json_lines(state["again"]["stdout"])) == 3
    assert done.seconds < 600
    outside.assert_untouched()
