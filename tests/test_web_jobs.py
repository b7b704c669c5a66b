"""Background jobs (archive.ops.jobs): reports and the packet made in the background, one at a
time per archive; progress and outcome kept in the archive; a job whose process was killed
is shown as failed after a restart, with the reason."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from _archival import build_small_archive

from archive.assess.audit_inputs import CRITERIA_FILE
from archive.core.config import Archive
from archive.core.errors import NotFoundError
from archive.ops.jobs import JobBusy, Jobs
from archive.ops.materials import material_label, material_work

TODAY = dt.date(2011, 12, 31)


@pytest.fixture
def small(tmp_path: Path) -> Archive:
    return build_small_archive(tmp_path / "档案库")


def _wait(jobs: Jobs, job_id: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while jobs.get(job_id).running:
        assert time.monotonic() < deadline, "the job never finished"
        time.sleep(0.2)


def test_a_report_is_made_in_the_background_and_kept(small: Archive) -> None:
    jobs = Jobs(small)
    work = material_work(small, "summary", 2011, None, TODAY)
    job = jobs.start(
        "summary", material_label("summary", 2011, None), {}, work, started_by="张会计"
    )
    assert job.running and job.started_by == "张会计" and job.label == "2011年工作总结"
    _wait(jobs, job.id)
    done = Jobs(small).get(job.id)  # as another page (or a restarted server) reads it
    assert done.state == "done" and done.percent == 100, done.error
    names = [Path(f).suffix for f in done.files]
    assert ".docx" in names and ".pdf" in names
    pdf = jobs.file(job.id, names.index(".pdf"))
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.is_relative_to(small.root)
    with pytest.raises(NotFoundError):
        jobs.file(job.id, len(done.files))


def test_one_job_at_a_time_and_the_packet_zipped(small: Archive) -> None:
    jobs = Jobs(small)
    packet = jobs.start(
        "packet",
        material_label("packet", 2011, None),
        {"year": 2011},
        material_work(small, "packet", 2011, None, TODAY),
        started_by="张会计",
    )
    with pytest.raises(JobBusy, match="正在生成“2011年考核验收材料包” \\(张会计 于"):
        jobs.start("summary", "x", {}, material_work(small, "summary", 2011, None, TODAY),
                   started_by="李会计")  # fmt: skip
    _wait(jobs, packet.id)
    done = jobs.get(packet.id)
    assert done.state == "done", done.error
    [bag] = done.files
    assert bag.endswith("验收材料.zip")
    with zipfile.ZipFile(small.root / bag) as zf:
        assert any(n.endswith("bagit.txt") for n in zf.namelist())
    assert any("样例" in n or "评分标准" in n for n in done.notes)  # the sample standard said
    again = jobs.start("summary", "x", {}, material_work(small, "summary", 2011, None, TODAY),
                       started_by="李会计", wait=True)  # fmt: skip
    assert again.state == "done"


def test_a_failure_keeps_its_reason(small: Archive) -> None:
    (small.root / CRITERIA_FILE).write_text("criteria: [oops\n", encoding="utf-8")
    jobs = Jobs(small)
    job = jobs.start("packet", "验收材料包", {}, material_work(small, "packet", 2011, None, TODAY),
                     started_by="张会计", wait=True)  # fmt: skip
    assert job.state == "failed"
    assert job.error and CRITERIA_FILE in job.error
    assert jobs.current() is None


_KILLED = """
import sys, time
from pathlib import Path
from archive.core.config import Archive
from archive.ops.jobs import JobResult, Jobs

def work(folder, progress):
    progress(3, 10, "归档章")
    print("working", flush=True)
    time.sleep(120)
    return JobResult([])

Jobs(Archive(Path(sys.argv[1]))).start("packet", "验收材料包", {}, work, started_by="张会计",
                                       wait=True)
"""


def test_a_job_killed_with_its_server_shows_as_failed(small: Archive) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", _KILLED, str(small.root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "working"
        jobs = Jobs(small)
        running = jobs.current()
        assert running is not None and running.percent == 30 and running.step == "归档章"
        with pytest.raises(JobBusy):
            jobs.start("summary", "x", {}, material_work(small, "summary", 2011, None, TODAY),
                       started_by="李会计")  # fmt: skip
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    [dead] = Jobs(small).list()  # the server restarted: nothing runs this job any more
    assert dead.state == "failed" and dead.error and "服务器停止" in dead.error
    assert dead.percent == 30  # how far it got is still shown
    fresh = Jobs(small).start("summary", "x", {},
                              material_work(small, "summary", 2011, None, TODAY),
                              started_by="李会计", wait=True)  # fmt: skip
    assert fresh.state == "done"
