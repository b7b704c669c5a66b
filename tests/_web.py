"""Helpers for the web tests: a small real archive with hostile data planted, its users,
and signing in through the real forms."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

from archive.access.log import Actor
from archive.access.store import AccessStore
from archive.access.users import Users
from archive.core.config import Archive
from archive.core.keys import normalize_case_number
from archive.intake.pipeline import extractor_for, make_intake
from archive.records.catalog import Catalog
from archive.records.reindex import reindex_catalog
from archive.records.search_sync import rebuild_index
from archive.records.store import read_sidecar, write_json_atomic
from samples.bench_archive import build_bench_archive, case_number, mini_pdf

PASSWORDS = {
    "管理员": "admin-pass-1",
    "档案员": "clerk-pass-1",
    "王科长": "reader-pass-1",
    "审计员": "auditor-pass-1",
}
ROLES = {"管理员": "admin", "档案员": "clerk", "王科长": "reader", "审计员": "auditor"}
HOSTILE_NAME = "<script>window.__pwned=2</script>鑫垚便民店"
HOSTILE_FINDING = "<script>window.__pwned=1</script>标题与内容不符"
HOSTILE_FILE = "<img src=x onerror=window.__pwned=3>申请表.pdf"
HOSTILE_MINUTES = "<img src=x onerror=window.__pwned=4>案审会.pdf"


def build_web_archive(root: Path) -> dict[str, Any]:
    """A year of a small county (6 households, 2 cases, minutes, work materials) filed
    through the real intake, with the 案审会 minutes that discussed the first case (its
    dossier lists them as 参见), with markup planted where data reaches a page: a retailer's
    name in the roster, a finding and an original file name in a sidecar, the minutes'
    original file name; a searchable PDF beside one record; the catalog and index rebuilt
    from it all."""
    build_bench_archive(root, households=6, cases=2)
    archive = Archive(root)
    rows = list(csv.reader(io.StringIO(archive.roster_path.read_text(encoding="utf-8-sig"))))
    hostile_licence = rows[1][0]
    rows[1][1] = HOSTILE_NAME
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    archive.roster_path.write_text(out.getvalue(), encoding="utf-8-sig")
    folder = next((archive.records / "许可证档案").glob(f"{hostile_licence}_*"))
    sidecar = sorted(folder.glob("*.pdf.json"))[0]
    side = read_sidecar(sidecar)
    side.setdefault("findings", []).append({"code": "title_mismatch", "message": HOSTILE_FINDING})
    side["original_name"] = HOSTILE_FILE
    write_json_atomic(sidecar, side)
    case = _minutes_of_a_case(archive)
    record = sidecar.with_name(sidecar.name[: -len(".json")])
    searchable = record.with_name(record.stem + ".ocr.pdf")
    shutil.copy(record, searchable)
    with archive.writer_lock(), Catalog(archive.catalog_path) as catalog:
        reindex_catalog(archive, catalog)
        rebuild_index(archive, catalog)
    return {
        "hostile_licence": hostile_licence,
        "hostile_record": side["sha256"],
        "household": rows[2][0],
        "household_name": rows[2][1],
        "case": case,
        "case_minutes": "案审会/2024",
    }


def _minutes_of_a_case(archive: Archive) -> str:
    """The case review (案审会) minutes that discussed the first case, filed by the real
    intake in the meeting's folder: the case's dossier lists them as 参见. Returns the
    case's dossier key."""
    lines = [
        "时间：2024年3月12日",
        "主持人：王强",
        "参加人员：局长、专卖股长、法制员",
        "记录人：李卫东",
        f"议题：审理{case_number(2024, 1)}案件",
    ]
    minutes = archive.inbox / "会议记录" / "案审会" / "2024-03-12 案审会会议记录.pdf"
    minutes.parent.mkdir(parents=True, exist_ok=True)
    minutes.write_bytes(mini_pdf("案审会会议记录", lines))
    with (
        archive.writer_lock(),
        Catalog(archive.catalog_path) as catalog,
        extractor_for(archive, ocr=False) as extractor,
    ):
        [filed] = make_intake(archive, catalog, extractor, settle_seconds=0).run()
    assert filed.outcome == "filed" and filed.record, filed
    assert filed.record.startswith("records/会议记录/案审会/2024/"), filed.record
    sidecar = archive.root / f"{filed.record}.json"
    side = read_sidecar(sidecar)
    side["original_name"] = HOSTILE_MINUTES
    write_json_atomic(sidecar, side)
    return normalize_case_number(case_number(2024, 1)) or ""


def add_users(root: Path, names: dict[str, str] = ROLES) -> None:
    users = Users(AccessStore.of(Archive(root)))
    for name, role in names.items():
        users.add(name, role, PASSWORDS[name], actor=Actor("测试", "", "本机"))


def token_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


def sign_in(client: Any, name: str, password: str | None = None) -> Any:
    """Sign in through the real form (its token from the page, its cookie kept)."""
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "name": name,
            "password": PASSWORDS[name] if password is None else password,
            "csrf_token": token_in(page.text),
            "next": "/",
        },
        follow_redirects=False,
    )


def sidecar_path(root: Path, record_id: str) -> Path:
    for side in (root / "records").rglob("*.json"):
        if json.loads(side.read_text(encoding="utf-8")).get("sha256") == record_id:
            return side
    raise AssertionError(record_id)
