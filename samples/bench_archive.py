"""A realistic archive, generated and filed through the real intake: for tests and benchmarks.

:func:`write_year_inbox` drops everything a county bureau files in a year into an inbox, as
clerks name things: household dossiers (``inbox/许可证/<licence>_<name>/<文书>.pdf``), case
files (``inbox/案卷/<案号>/<文书>.pdf``), minutes (``inbox/会议记录/<会议>/<日期> 会议记录.pdf``)
and the work materials the standard asks for (``inbox/其他/<年>/<年月><名称>.pdf``), plus the
evidence of the bureau's figures.  Every file is a small distinct text-layer PDF (a CJK font
referenced, not embedded: about 1.3 KB, made in microseconds), so a 1,000-household archive
is written in seconds and filed by ``dangan ingest --no-ocr`` semantics.

:func:`build_bench_archive` builds (or reuses) the 1,000-household benchmark archive:

    .venv/bin/python -m samples.bench_archive OUT_DIR [--households 1000]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.assess.audit_inputs import SAMPLE_STANDARD
from archive.assess.criteria import Standard, load_standard
from archive.core.yaml_lines import dump_yaml
from archive.records.reindex import open_catalog
from samples.textpdf import Household, make_households, write_roster_csv

HOUSEHOLD_DOCS = (
    "申请表",
    "身份证复印件",
    "营业执照",
    "实地核查记录",
    "准予许可决定书",
    "零售许可证副本",
    "送达回证",
)
CASE_DOCS = (
    "立案报告表",
    "检查笔录",
    "询问笔录",
    "行政处罚事先告知书",
    "行政处罚决定书",
    "送达回证",
    "结案报告",
)
CASE_PREFIX = "潼烟罚"
# Figures that meet the sample standard's thresholds (value, unit).
GOOD_METRICS: dict[str, float] = {
    "技能鉴定初级通过率": 85,
    "技能鉴定中级通过率": 75,
    "技能鉴定高级通过率": 100,
    "人均培训课时": 42,
    "执法资格考试通过率": 100,
    "行政执法案卷评查优秀率": 92.86,
    "行政许可案卷评查优秀率": 92,
    "内管专职人员占比": 12.5,
    "市场净化率": 95.6,
    "案件移送率": 100,
    "宣传活动次数": 3,
}
_CN_Q = "一二三四"


# ------------------------------------------------------------------------ PDFs


def mini_pdf(title: str, lines: Sequence[str]) -> bytes:
    """A one-page text-layer PDF (Adobe-GB1 STSong-Light, not embedded; pypdf and poppler
    read its text)."""

    def hexs(s: str) -> str:
        return "<" + s.encode("utf-16-be").hex().upper() + ">"

    ops = ["BT", "/F1 20 Tf", f"1 0 0 1 72 770 Tm {hexs(title)} Tj", "/F1 12 Tf"]
    for i, line in enumerate(lines):
        ops.append(f"1 0 0 1 72 {730 - 20 * i} Tm {hexs(line)} Tj")
    ops.append("ET")
    content = "\n".join(ops).encode("ascii")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UTF16-H "
        b"/DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo "
        b"<< /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor 7 0 R >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] "
        b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def _write(path: Path, title: str, lines: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(mini_pdf(title, lines))
    return path


# ------------------------------------------------------------------------ what to write


def current_households(count: int, year: int, seed: int = 0) -> list[Household]:
    """``count`` households whose licences run well past ``year``."""
    out = []
    for h in make_households(count, seed=seed):
        start = h.valid_from.replace(year=year - 1 - h.valid_from.year % 3)
        end = start.replace(year=start.year + 5) - dt.timedelta(days=1)
        out.append(dataclasses.replace(h, valid_from=start, valid_to=end))
    return out


def household_files(inbox: Path, h: Household, docs: Sequence[str] = HOUSEHOLD_DOCS) -> list[Path]:
    folder = inbox / "许可证" / f"{h.licence_no}_{h.name}"
    return [
        _write(
            folder / f"{doc}.pdf",
            f"烟草专卖零售许可证{doc}",
            [
                f"许可证号：{h.licence_no}",
                f"企业名称：{h.name}",
                f"负责人：{h.operator}",
                f"经营地址：{h.address}",
                f"有效期限：{h.valid_from.isoformat()} 至 {h.valid_to.isoformat()}",
            ],
        )
        for doc in docs
    ]


def case_number(year: int, serial: int) -> str:
    return f"{CASE_PREFIX}〔{year}〕第{serial}号"


def case_files(
    inbox: Path, year: int, serial: int, docs: Sequence[str] = CASE_DOCS, retailer: str = ""
) -> list[Path]:
    case = case_number(year, serial)
    return [
        _write(
            inbox / "案卷" / case / f"{doc}.pdf",
            doc,
            [f"案号：{case}", f"当事人：{retailer or '某零售户'}", f"涉案卷烟 {serial * 3} 条"],
        )
        for doc in docs
    ]


def meeting_file(inbox: Path, meeting: str, day: dt.date) -> Path:
    return _write(
        inbox / "会议记录" / meeting / f"{day.isoformat()} 会议记录.pdf",
        f"{meeting}会议记录",
        [
            f"会议时间：{day.year}年{day.month}月{day.day}日",
            "参会人员：局长、专卖股长、内管专干、市管员",
            f"议题：{meeting}（{day.month}月）",
            "主持人签字：王强",
            "记录人：李卫东",
        ],
    )


def standard_work(standard: Standard, year: int) -> tuple[list[str], dict[str, list[dt.date]]]:
    """(work-material file stems, meeting dates by type) that give full marks for ``year``."""
    stems: list[str] = []
    meetings: dict[str, list[dt.date]] = {}
    for c in standard.criteria:
        for ev in c.evidence:
            if ev.kind == "documents":
                period = ev.period or "year"
                for t in ev.doc_types:
                    for n in range(1, ev.min_count + 1):
                        tag = "" if ev.min_count == 1 else f"（第{n}次）"
                        if period == "month":
                            stems += [f"{year}年{m}月{t}{tag}" for m in range(1, 13)]
                        elif period == "quarter":
                            stems += [f"{year}年第{_CN_Q[q]}季度{t}{tag}" for q in range(4)]
                        else:
                            stems.append(f"{year}年{t}{tag}")
            elif ev.kind == "meeting" and ev.meeting:
                if ev.every == "month":
                    days = [dt.date(year, m, 10) for m in range(1, 13)]
                elif ev.every == "quarter":
                    days = [dt.date(year, m, 15) for m in (2, 5, 8, 11)]
                else:
                    days = [dt.date(year, 6, 20 + i) for i in range(ev.min_per_year or 1)]
                meetings[ev.meeting] = days
    return list(dict.fromkeys(stems)), meetings


def work_files(inbox: Path, year: int, stems: Sequence[str]) -> list[Path]:
    folder = inbox / "其他" / str(year)
    return [
        _write(folder / f"{stem}.pdf", stem, [f"{year}年度", "潼关县烟草专卖局", stem])
        for stem in stems
    ]


def metric_files(inbox: Path, year: int, values: dict[str, float]) -> dict[str, str]:
    """An evidence PDF per figure; returns key → the evidence's record id (its SHA-256)."""
    out = {}
    for key, value in values.items():
        stem = f"{year}年{key}测算表"
        path = _write(inbox / "其他" / str(year) / f"{stem}.pdf", stem, [f"{key}：{value:g}"])
        out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def metrics_yaml(path: Path, year: int, evidence: dict[str, str], values: dict[str, float]) -> Path:
    from archive.assess.metrics import metric_def

    rows = []
    for key, value in values.items():
        mdef = metric_def(key)
        rows.append(
            {
                "key": key,
                "value": value,
                "unit": mdef.unit if mdef else "",
                "evidence": evidence[key],
            }
        )
    path.write_text(
        "# 自查数据（生成）\n" + dump_yaml({"period": str(year), "metrics": rows}), encoding="utf-8"
    )
    return path


@dataclass
class YearInbox:
    """What :func:`write_year_inbox` wrote (for tests to plant defects in)."""

    households: list[Household]
    cases: list[str]
    meetings: dict[str, list[Path]]
    work: dict[str, Path]  # file stem → path
    metric_evidence: dict[str, str] = field(default_factory=dict)
    files: int = 0


def write_year_inbox(
    inbox: Path,
    year: int,
    households: Sequence[Household],
    cases: int,
    standard: Standard | None = None,
    metrics: dict[str, float] | None = None,
) -> YearInbox:
    """A complete year for ``standard`` (the sample by default): nothing missing."""
    standard = standard or load_standard(SAMPLE_STANDARD)
    written = 0
    for h in households:
        written += len(household_files(inbox, h))
    case_keys = []
    for serial in range(1, cases + 1):
        retailer = households[serial % len(households)].name if households else ""
        written += len(case_files(inbox, year, serial, retailer=retailer))
        case_keys.append(f"{CASE_PREFIX}〔{year}〕{serial}号")
    stems, meeting_days = standard_work(standard, year)
    work = dict(zip(stems, work_files(inbox, year, stems), strict=True))
    meetings = {m: [meeting_file(inbox, m, d) for d in days] for m, days in meeting_days.items()}
    written += len(work) + sum(len(v) for v in meetings.values())
    values = GOOD_METRICS if metrics is None else metrics
    evidence = metric_files(inbox, year, values)
    written += len(evidence)
    return YearInbox(list(households), case_keys, meetings, work, evidence, written)


# ------------------------------------------------------------------------ the benchmark archive


def build_bench_archive(
    root: Path, households: int = 1000, seed: int = 0, year: int = 2024, cases: int = 100
) -> dict[str, Any]:
    """Build the benchmark archive at ``root`` through the real intake (no OCR), or reuse it
    when ``root/bench.json`` says it was built with the same parameters.

    Planted defects (a few, as in a real county): 3 households without 送达回证, 2 licences
    expired in the year, 1 case file without its 送达回证, no 专销联动会议 minutes in March, one
    unresolved scan in the tray and one duplicate.  Returns the manifest (also bench.json).
    """
    from archive.core.config import init_archive
    from archive.intake.pipeline import extractor_for, make_intake
    from archive.records.households import parse_roster, write_roster

    root = Path(root)
    params = {
        "households": households,
        "seed": seed,
        "year": year,
        "cases": cases,
        "v": 2,
    }  # v2: documents numbered (档号)
    manifest_path = root / "bench.json"
    if manifest_path.is_file():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("params") == params:
            return manifest
        raise FileExistsError(f"{root}: 已有另一组参数生成的基准档案库; 请换目录或删除它")
    archive = init_archive(root, "潼关县烟草专卖局", ("610522",), (CASE_PREFIX,))
    rng = random.Random(seed)
    hh = current_households(households, year, seed)
    expired = rng.sample(range(households), 2)
    for i in expired:
        h = hh[i]
        hh[i] = dataclasses.replace(
            h, valid_from=dt.date(year - 5, 3, 1), valid_to=dt.date(year, 3, 1)
        )
    roster = root / "名册.csv"
    write_roster_csv(roster, hh)
    rows = parse_roster(roster, archive.config.area_codes)
    write_roster(archive.roster_path, rows)
    inbox = archive.inbox
    made = write_year_inbox(inbox, year, hh, cases)
    no_receipt = rng.sample([i for i in range(households) if i not in expired], 3)
    for i in no_receipt:
        h = hh[i]
        (inbox / "许可证" / f"{h.licence_no}_{h.name}" / "送达回证.pdf").unlink()
    (inbox / "案卷" / case_number(year, min(7, cases)) / "送达回证.pdf").unlink()
    made.meetings["专销联动会议"][2].unlink()
    _write(inbox / "其他" / "扫描0001.pdf", "扫描件", ["无法识别的扫描件", str(seed)])
    dup = made.work[next(iter(made.work))]
    (inbox / "其他" / str(year) / "重复扫描.pdf").write_bytes(dup.read_bytes())
    metrics_yaml(root / "自查数据.yaml", year, made.metric_evidence, GOOD_METRICS)
    with (
        archive.writer_lock(),
        open_catalog(archive) as catalog,
        extractor_for(archive, ocr=False) as extractor,
    ):
        catalog.replace_households(rows)
        outcomes = make_intake(archive, catalog, extractor, settle_seconds=0).run()
        filed = sum(o.outcome in ("filed", "unfiled") for o in outcomes)
    manifest = {
        "params": params,
        "root": str(root),
        "files": len(outcomes),
        "records": filed,
        "planted": {
            "households_without_receipt": [hh[i].licence_no for i in no_receipt],
            "expired_licences": [hh[i].licence_no for i in expired],
            "case_without_receipt": f"{CASE_PREFIX}〔{year}〕{min(7, cases)}号",
            "missing_meeting": f"专销联动会议 {year}年3月",
            "unresolved": "扫描0001.pdf",
            "duplicate": "重复扫描.pdf",
        },
    }
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


if __name__ == "__main__":
    args = sys.argv[1:]
    count = 1000
    if "--households" in args:
        i = args.index("--households")
        count = int(args[i + 1])
        del args[i : i + 2]
    info = build_bench_archive(Path(args[0] if args else "bench/out/archive"), count)
    sys.stdout.write(json.dumps(info, ensure_ascii=False, indent=1) + "\n")
