"""Benchmark: build an acceptance-evidence bag from ~1,000 documents and ~5,000 pages.

Prints wall time and peak memory (ru_maxrss) of

- ``bundle``: dangan's ``build_bundle`` (copy + hash every record, merged stamped PDF
  with catalogue and outline, manifests, fsync, rename),
- ``packet``: dangan's merged PDF alone (``write_packet_pdf`` to a plain file),
- ``peer``:   a plain pypdf concatenation of the same pages (``PdfWriter.append`` of
  every evidence PDF with ``import_outline=False``, then ``write``),

and with ``--verify`` also ``verify`` (dangan's ``verify_bag`` on the bundle's bag) beside
``verify-peer`` (the Library of Congress ``bagit.Bag.validate``, one process), each in
its own child process, so peaks do not mix. Evidence: 10% photos (JPEG, one
page, no PDF version), 10% text-layer PDFs rendered by weasyprint, 80% scanned PDFs
(150 dpi grayscale JPEG pages, 3-8 pages each).

    .venv/bin/python bench/bundle.py [--docs 1000] [--work /tmp/dangan-bench-bundle] [--verify]
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from archive.packet.bundle import build_bundle  # noqa: E402
from archive.packet.model import AreaPlan, BundlePlan, CriterionPlan, EvidenceDoc  # noqa: E402

_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
_AREAS = ["班子建设", "企业文化", "队伍建设", "内管工作", "市场监管", "证件管理", "基础设施"]
_SCAN_PAGES = [3, 5, 6, 7, 8]


def _scan_jpeg(seed: int) -> bytes:
    """A 150 dpi A4 grayscale 'scan' with lines of Chinese text, as JPEG bytes."""
    rng = random.Random(seed)
    im = Image.new("L", (1240, 1754), 250)
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(_FONT, 30, index=2)
    words = "烟草专卖零售许可证申请表经营场所现场勘验记录行政处罚决定书会议记录检查情况"
    for row in range(40):
        y = 120 + row * 38
        text = "".join(rng.choice(words) for _ in range(rng.randint(15, 32)))
        draw.text((110, y), text, fill=rng.randint(10, 60), font=font)
    for _ in range(3000):  # scanner noise
        x, y = rng.randrange(1240), rng.randrange(1754)
        draw.point((x, y), fill=rng.randint(150, 230))
    from io import BytesIO

    buf = BytesIO()
    im.save(buf, "JPEG", quality=70, dpi=(150, 150))
    return buf.getvalue()


def _jpeg_pdf(pages: list[bytes], dest: Path) -> None:
    """A minimal PDF of full-page JPEG images (what a scanner's PDF looks like)."""
    objs: list[bytes] = []
    kids = []
    n = len(pages)
    for i, data in enumerate(pages):
        img, content, page = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
        kids.append(f"{page} 0 R")
        objs.append(
            b"<< /Type /XObject /Subtype /Image /Width 1240 /Height 1754 /ColorSpace "
            b"/DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n"
            % len(data)
            + data
            + b"\nendstream"
        )
        draw = b"q 595.2 0 0 841.92 0 0 cm /Im0 Do Q"
        objs.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(draw), draw))
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.2 841.92] /Contents {content} 0 R "
            f"/Resources << /XObject << /Im0 {img} 0 R >> >> >>".encode()
        )
    head = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Count {n} /Kids [{' '.join(kids)}] >>".encode(),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for num, body in enumerate(head + objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(offsets) + 1,
        xref,
    )
    dest.write_bytes(bytes(out))


def _text_pdfs(dest: Path, count: int) -> list[Path]:
    import weasyprint

    out = []
    for i in range(count):
        paras = "".join(
            f"<p>第{j + 1}条 本次会议研究了市场监管、证件管理和内管工作的落实情况，"
            f"明确了责任人和完成时限。参会人员对整改措施进行了讨论。</p>"
            for j in range(60)
        )
        html = (
            "<html><body style=\"font-family:'Noto Serif CJK SC';font-size:12pt\">"
            f"<h1>会议记录 第{i + 1}号</h1>{paras}</body></html>"
        )
        path = dest / f"text-{i}.pdf"
        weasyprint.HTML(string=html).write_pdf(path)
        out.append(path)
    return out


def generate(work: Path, docs: int) -> None:
    """Records, per-document PDFs and a plan.json under ``work`` (skipped if present)."""
    marker = work / "plan.json"
    if marker.exists():
        return
    rec = work / "records"
    peer = work / "peer"
    rec.mkdir(parents=True, exist_ok=True)
    peer.mkdir(exist_ok=True)
    scans = [_scan_jpeg(s) for s in range(12)]
    texts = _text_pdfs(work, 5)
    items = []
    for i in range(docs):
        kind = i % 10
        if kind == 0:
            src = rec / f"photo-{i:04d}.jpg"
            src.write_bytes(scans[i % len(scans)])
            _jpeg_pdf([scans[i % len(scans)]], peer / f"{i:04d}.pdf")  # the peer needs PDFs
            items.append({"source": str(src), "pdf": None, "peer": str(peer / f"{i:04d}.pdf")})
        elif kind == 1:
            src = rec / f"text-{i:04d}.pdf"
            shutil.copyfile(texts[i % len(texts)], src)
            items.append({"source": str(src), "pdf": None, "peer": str(src)})
        else:
            n = _SCAN_PAGES[i % len(_SCAN_PAGES)]
            src = rec / f"scan-{i:04d}.pdf"
            _jpeg_pdf([scans[(i + k) % len(scans)] for k in range(n)], src)
            items.append({"source": str(src), "pdf": None, "peer": str(src)})
    marker.write_text(json.dumps(items), encoding="utf-8")


def _plan(work: Path) -> tuple[BundlePlan, list[str]]:
    items = json.loads((work / "plan.json").read_text(encoding="utf-8"))
    areas = [AreaPlan(name) for name in _AREAS]
    crits: list[CriterionPlan] = []
    for a, area in enumerate(areas):
        for c in range(5):
            crit = CriterionPlan(f"{a + 1}.{c + 1}", f"{area.name}评价条目{c + 1}", 10, 8, "达标")
            area.criteria.append(crit)
            crits.append(crit)
    for i, it in enumerate(items):
        key = f"5002231{i:05d}" if i % 2 else f"潼烟罚〔2026〕第{i}号"
        doc = EvidenceDoc(Path(it["source"]), None, f"材料{i}", key, f"材料{i}")
        crits[i * len(crits) // len(items)].documents.append(doc)
    plan = BundlePlan("潼南县烟草专卖局", 2026, datetime.date(2026, 11, 21), areas)
    return plan, [it["peer"] for it in items]


def _child(mode: str, work: Path) -> dict[str, float]:
    plan, peer_files = _plan(work)
    out = work / f"out-{mode}"
    if not mode.startswith("verify"):
        shutil.rmtree(out, ignore_errors=True)
    if out.with_suffix(".pdf").exists():
        out.with_suffix(".pdf").unlink()
    start = time.perf_counter()
    pages = 0
    if mode == "peer":
        from pypdf import PdfWriter

        writer = PdfWriter()
        for f in peer_files:
            writer.append(f, import_outline=False)
        pages = len(writer.pages)
        writer.write(out.with_suffix(".pdf"))
    elif mode == "packet":
        from archive.packet.packet_pdf import write_packet_pdf

        with open(out.with_suffix(".pdf"), "wb") as fh:
            summary = write_packet_pdf(
                plan, fh, created=datetime.datetime(2026, 11, 21, tzinfo=datetime.UTC)
            )
        pages = summary.pages
    elif mode == "verify":
        from archive.packet.bag_verify import verify_bag

        report = verify_bag(work / "out-bundle")
        assert report.ok, report.lines()
        pages = report.payload_files
    elif mode == "verify-peer":
        import bagit

        bag = bagit.Bag(str(work / "out-bundle"))
        bag.validate(processes=1)
        pages = len(list(bag.payload_files()))
    else:
        build_bundle(plan, out, pin_date=datetime.date(2026, 11, 21))
        info = (out / "bag-info.txt").read_text(encoding="utf-8")
        pages = int(info.split("Packet-Pages: ")[1].split()[0])
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    return {"seconds": seconds, "cpu": cpu, "peak_mib": usage.ru_maxrss / 1024.0, "pages": pages}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/dangan-bench-bundle"))
    ap.add_argument("--child", choices=["peer", "packet", "bundle", "verify", "verify-peer"])
    ap.add_argument("--verify", action="store_true", help="also time dangan verify vs bagit.py")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.work)))
        return
    t = time.perf_counter()
    generate(args.work, args.docs)
    print(f"evidence generated in {time.perf_counter() - t:.1f} s under {args.work}")
    rows = {}
    modes = ["peer", "packet", "bundle"] + (["verify", "verify-peer"] if args.verify else [])
    for mode in modes:
        res = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--work", str(args.work)],
            check=True,
            capture_output=True,
            text=True,
        )
        rows[mode] = json.loads(res.stdout.strip().splitlines()[-1])
        r = rows[mode]
        print(
            f"{mode:11s} wall {r['seconds']:6.1f} s  cpu {r['cpu']:6.1f} s  "
            f"peak {r['peak_mib']:6.0f} MiB  {r['pages']} {'files' if 'verify' in mode else 'pages'}"
        )
    wall = rows["bundle"]["seconds"] / rows["peer"]["seconds"]
    cpu = rows["bundle"]["cpu"] / rows["peer"]["cpu"]
    print(
        f"bundle/peer: wall {wall:.2f}x, cpu {cpu:.2f}x (target <= 2x); "
        f"bundle peak {rows['bundle']['peak_mib']:.0f} MiB (target < 1024 MiB)"
    )


if __name__ == "__main__":
    main()
