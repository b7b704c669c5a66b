"""Sealed scans: red official seals stamped across the keys, with their ground truth.

``generate_sealed(out_dir)`` writes a small inbox of licence and case papers whose round red
seal (ring text and a star) lands on the licence-number or case-number line, or on the
date, in colour and as greyscale scans, some turned sideways or upside down, one page with
two seals and one decision with none; plus the roster of the county's households
(``roster.csv``) and ``manifest.json`` with the truth of every file (keys, the document's
date, each seal's body, colour, centre and size on the upright page).

Files are named ``inbox/<kind>/扫描NNNN.jpg`` so that the keys must come from the page, not
the path. Clean papers of two of the cases come first, so that those case numbers are in
the archive when their sealed, partly covered decisions arrive.

Seeded: the same seed writes the same files.  ``python -m samples.sealed OUT_DIR``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from archive.core.keys import find_dates
from samples import _content
from samples._draw import SERIF, Placed, degrade, font, render_page, seal_image, stamp, turn
from samples.scans import PageTruth, ScanTruth, seal_truth

SECOND_BODY = "潼关县烟草专卖局稽查大队"


@dataclass(frozen=True)
class _SealedSpec:
    doc_type: str
    colour: bool
    rotation: int = 0
    across: tuple[str, ...] = ("key",)  # where each seal lands: "key" or "date"
    case: int | None = None  # which case (0, 1 …) for case papers; None: a new one


# Two clean interview records first (their case numbers are then in the archive), then
# the sealed papers. Cases 0 and 1 are shared with the interviews.
_PLAN: tuple[_SealedSpec, ...] = (
    _SealedSpec("询问笔录", False, across=(), case=0),
    _SealedSpec("询问笔录", False, across=(), case=1),
    _SealedSpec("零售许可证", True),
    _SealedSpec("零售许可证", False),
    _SealedSpec("申请表", True, rotation=90),
    _SealedSpec("实地核查记录", False, rotation=180),
    _SealedSpec("行政处罚决定书", True, case=0),
    _SealedSpec("行政处罚决定书", False, case=1),
    _SealedSpec("送达回证", False, rotation=270, case=0),
    _SealedSpec("行政处罚决定书", True, across=("date",)),
    _SealedSpec("行政处罚决定书", True, across=("date", "key")),
    _SealedSpec("行政处罚决定书", True, across=()),
)

PLAN_NAMES: tuple[str, ...] = tuple(
    f"{s.doc_type}/{'colour' if s.colour else 'grey'}/{s.rotation}/"
    f"{'+'.join(s.across) or 'unsealed'}"
    for s in _PLAN
)


def _key_span(doc: _content.Doc, placed: list[Placed]) -> tuple[float, float, float, float]:
    """(x0, x1, y_top, size) of the key on the page: the licence or the case number."""
    key = doc.keys["case"] if doc.group == "case" else doc.keys["licence"]
    for p in placed:
        at = p.text.find(key)
        if at < 0:
            continue
        fnt = font(str(SERIF), round(p.size))  # key lines are body text
        x0 = p.x + fnt.getlength(p.text[:at])
        return x0, x0 + fnt.getlength(key), p.y, p.size
    raise ValueError(f"{doc.doc_type}: key {key} not on the page")


def _date_line(placed: list[Placed]) -> Placed:
    """The line carrying the document's own date: the last line with a date on it."""
    return next(p for p in reversed(placed) if find_dates(p.text))


def _doc_date(doc: _content.Doc, placed: list[Placed]) -> str:
    labels = ("发证日期", "申请日期", "核查时间", "送达时间")
    for p in placed:
        if p.text.startswith(labels):
            return find_dates(p.text)[0].isoformat()
    return find_dates(_date_line(placed).text)[-1].isoformat()


def _sealed_page(
    doc: _content.Doc, spec: _SealedSpec, rng: random.Random
) -> tuple[Image.Image, PageTruth]:
    dpi = rng.choice((200, 240, 300))
    img, placed = render_page(doc.pages[0], dpi, color=True)
    seals: list[dict[str, Any]] = []
    bodies = [_content.BUREAU, SECOND_BODY]
    for n, where in enumerate(spec.across):
        body = bodies[n % len(bodies)]
        mask = seal_image(body, dpi, rng)
        d = mask.width
        if where == "key":
            x0, x1, y, size = _key_span(doc, placed)
            cx = x0 + (x1 - x0) * rng.uniform(0.35, 0.65)
            # the star, the ring text or the ring itself across the digits
            reach = rng.choice((0.0, 0.33, 0.45)) + rng.uniform(-0.04, 0.04)
            cy = y + size * 0.6 + rng.choice((-1, 1)) * d * reach
        else:
            line = _date_line(placed)
            cx = line.x + line.width * rng.uniform(0.3, 0.6)
            cy = line.y + line.size * 0.6 + rng.uniform(-0.2, 0.2) * d
        img = stamp(img, mask, (cx, cy))
        seals.append(seal_truth(body, "红" if spec.colour else "灰", (cx, cy), d, img.size, where))
    if not spec.colour:
        img = img.convert("L")
    img = degrade(
        img, rng, skew=rng.uniform(-1.0, 1.0), blur=rng.uniform(0.2, 0.6), noise=rng.uniform(4, 8)
    )
    img = turn(img, spec.rotation)
    lines = [p.text for p in placed]
    return img, PageTruth(lines, True, spec.rotation, True, "clear", dpi, seals)


def _roster(world: _content.World, rng: random.Random, path: Path) -> None:
    """The county's roster: every household of the papers and as many others besides."""
    rows = [(h.licence, h.name, h.owner, h.address) for h in world.households]
    taken = {r[0] for r in rows}
    wanted = 3 * len(rows) + 20
    while len(rows) < wanted:
        h = world.household()
        if h.licence not in taken:
            taken.add(h.licence)
            rows.append((h.licence, h.name, h.owner, h.address))
    rng.shuffle(rows)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("许可证号", "户名", "经营者", "经营地址"))
        writer.writerows(rows)


def generate_sealed(out_dir: Path, *, seed: int = 0) -> list[ScanTruth]:
    """Write the sealed inbox, ``roster.csv`` and ``manifest.json`` into ``out_dir``."""
    rng = random.Random(seed)
    world = _content.World(rng)
    cases: dict[int, _content._Case] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    truths: list[ScanTruth] = []
    for serial, spec in enumerate(_PLAN, 1):
        doc = world.document(spec.doc_type, cases.get(spec.case) if spec.case is not None else None)
        if spec.case is not None and spec.case not in cases:
            cases[spec.case] = next(c for c in world.cases if c.number == doc.keys["case"])
        img, page = _sealed_page(doc, spec, rng)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=rng.randint(80, 90), dpi=(page.dpi, page.dpi))
        kind = "案卷" if doc.group == "case" else "许可证"
        rel = f"inbox/{kind}/扫描{serial:04d}.jpg"
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / rel).write_bytes(buf.getvalue())
        keys = dict(doc.keys)
        keys["date"] = _doc_date(doc, render_page(doc.pages[0], page.dpi or 200)[1])
        truths.append(
            ScanTruth(
                path=rel,
                format="jpeg",
                mime="image/jpeg",
                doc_type=doc.doc_type,
                filename_type="",
                mismatch=False,
                keys=keys,
                pages=[page],
            )
        )
    _roster(world, rng, out_dir / "roster.csv")
    (out_dir / "manifest.json").write_text(
        json.dumps([asdict(t) for t in truths], ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return truths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.sealed", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for t in generate_sealed(args.out_dir, seed=args.seed):
        where = ", ".join(f"{s['body']}→{s['across']}" for s in t.pages[0].seals) or "无印章"
        print(f"{t.path}\t{t.doc_type}\t旋转{t.rotation}°\t{where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
