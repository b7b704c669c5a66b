"""Realistic synthetic scans with their ground truth, for the demo, the tests and the bench.

``generate_scans(out_dir)`` writes licences, applications, on-site check records, penalty
decisions with a red seal, delivery receipts, interview records and meeting minutes as
JPEG, PNG, multi-page TIFF, image-only PDF, mixed PDF and text-layer PDF: A4 at 200–300 dpi,
slightly skewed, noisy, blurred and JPEG-compressed, some sideways or upside down, some
deliberately unreadable. ``manifest.json`` beside them holds the truth of every file.

Seeded: the same seed writes the same files.  ``python -m samples.scans OUT_DIR``.
"""

from __future__ import annotations

import argparse
import io
import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from indexers.searchable_pdf import PdfPage, TextBox, build_pdf, page_from_image
from samples import _content
from samples._draw import (
    Placed,
    degrade,
    make_near_blank,
    render_page,
    seal_image,
    seal_spot,
    stamp,
    turn,
)

FORMAT_EXT = {
    "jpeg": ".jpg",
    "png": ".png",
    "tiff": ".tif",
    "pdf-image": ".pdf",
    "pdf-mixed": ".pdf",
    "pdf-text": ".pdf",
}


@dataclass
class PageTruth:
    """What is on one page: its lines, how it was turned, whether a clerk could read it."""

    lines: list[str]
    scanned: bool  # False: a text-layer page
    rotation: int  # degrees clockwise that turn the page upright (0/90/180/270)
    readable: bool
    condition: str  # "clear" | "heavy_blur" | "low_res" | "blank" | "text"
    dpi: int | None
    # seals stamped on the page: body, colour (红/灰), centre x and y and diameter as
    # fractions of the upright page's width, height and width, and what it was put across
    seals: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ScanTruth:
    """Ground truth of one generated file."""

    path: str  # relative to out_dir, with "/" separators
    format: str  # a key of FORMAT_EXT
    mime: str
    doc_type: str  # what the content is
    filename_type: str  # what the folder/file name says it is
    mismatch: bool  # filename_type contradicts the content
    keys: dict[str, str]  # licence / case / meeting_type / meeting_date / name
    pages: list[PageTruth] = field(default_factory=list)

    @property
    def rotation(self) -> int:
        return self.pages[0].rotation if self.pages else 0

    @property
    def readable(self) -> bool:
        return all(p.readable for p in self.pages)

    @property
    def lines(self) -> list[str]:
        return [line for p in self.pages for line in p.lines]


@dataclass(frozen=True)
class _Spec:
    doc_type: str
    fmt: str
    rotation: int = 0
    condition: str = "clear"
    named_as: str | None = None  # a contradicting filename type
    unknown_key: bool = False  # filed under 其他/ with a scanner name


# The default set: every type, every format, rotations, unreadable pages, a mismatch.
_PLAN: tuple[_Spec, ...] = (
    _Spec("零售许可证", "jpeg"),
    _Spec("申请表", "jpeg"),
    _Spec("实地核查记录", "png", rotation=90),
    _Spec("行政处罚决定书", "pdf-image"),
    _Spec("送达回证", "jpeg", rotation=180),
    _Spec("询问笔录", "tiff"),
    _Spec("专销联动会议", "jpeg"),
    _Spec("党员大会", "png", rotation=270),
    _Spec("支部委员会", "pdf-text"),
    _Spec("行政处罚决定书", "pdf-mixed"),
    _Spec("零售许可证", "jpeg", condition="heavy_blur"),
    _Spec("申请表", "jpeg", condition="low_res"),
    _Spec("空白页", "png", condition="blank", unknown_key=True),
    _Spec("实地核查记录", "jpeg", named_as="申请表"),
    _Spec("零售许可证", "jpeg", unknown_key=True),
    _Spec("创建工作例会", "jpeg", rotation=90, named_as="党员大会"),
    _Spec("行政处罚决定书", "jpeg", rotation=270),
)

# what each position of the default set holds, for ``pick``
PLAN_NAMES: tuple[str, ...] = tuple(
    f"{s.doc_type}/{s.fmt}/{s.rotation}/{s.condition}{'/named:' + s.named_as if s.named_as else ''}"
    for s in _PLAN
)

MIMES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "tiff": "image/tiff",
    "pdf-image": "application/pdf",
    "pdf-mixed": "application/pdf",
    "pdf-text": "application/pdf",
}


def _scan_image(
    doc: _content.Doc, rng: random.Random, spec: _Spec, *, page: int = 0
) -> tuple[Image.Image, PageTruth]:
    """Render one page of ``doc`` and make it look scanned according to ``spec``."""
    dpi = rng.choice((200, 240, 300))
    if spec.condition == "blank":
        img = make_near_blank(dpi, rng)
        return img, PageTruth([], True, 0, False, "blank", dpi)
    color = doc.seal is not None and page == 0
    img, placed = render_page(doc.pages[page], dpi, color=color)
    seals: list[dict[str, Any]] = []
    if color and doc.seal:
        mask = seal_image(doc.seal, dpi, rng)
        cx, cy = seal_spot(dpi, img.width, img.height, rng)
        img = stamp(img, mask, (cx, cy))
        seals.append(seal_truth(doc.seal, "红", (cx, cy), mask.width, img.size, "signature"))
    blur = {"heavy_blur": dpi / 40}.get(spec.condition, rng.uniform(0.2, 0.7))
    img = degrade(img, rng, skew=rng.uniform(-1.2, 1.2), blur=blur, noise=rng.uniform(4, 9))
    readable = spec.condition == "clear"
    if spec.condition == "low_res":
        small = (img.width * 60 // dpi, img.height * 60 // dpi)
        img = img.resize(small, Image.Resampling.BILINEAR)
        dpi = 60
    img = turn(img, spec.rotation)
    lines = [p.text for p in placed]
    if spec.fmt == "tiff":  # a greyscale scan: the seal is there, but grey
        seals = [{**s, "colour": "灰"} for s in seals]
    return img, PageTruth(lines, True, spec.rotation, readable, spec.condition, dpi, seals)


def seal_truth(
    body: str,
    colour: str,
    centre: tuple[float, float],
    diameter: int,
    size: tuple[int, int],
    across: str,
) -> dict[str, Any]:
    """One seal's truth, as fractions of the upright page (see :class:`PageTruth`)."""
    return {
        "body": body,
        "colour": colour,
        "x": round(centre[0] / size[0], 4),
        "y": round(centre[1] / size[1], 4),
        "diameter": round(diameter / size[0], 4),
        "across": across,
    }


def _encode(img: Image.Image, fmt: str, dpi: int, rng: random.Random) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpeg":
        img.save(buf, "JPEG", quality=rng.randint(70, 88), dpi=(dpi, dpi))
    else:
        img.save(buf, "PNG", dpi=(dpi, dpi), compress_level=1)
    return buf.getvalue()


def _text_page(placed: list[Placed], dpi: int) -> PdfPage:
    from samples._draw import A4_MM

    w, h = round(A4_MM[0] / 25.4 * dpi), round(A4_MM[1] / 25.4 * dpi)
    texts = [
        TextBox(
            p.text,
            ((p.x, p.y), (p.x + p.width, p.y), (p.x + p.width, p.y + p.size), (p.x, p.y + p.size)),
        )
        for p in placed
    ]
    return PdfPage(w, h, dpi, texts=texts, visible=True)


def _write_doc(doc: _content.Doc, spec: _Spec, rng: random.Random) -> tuple[bytes, list[PageTruth]]:
    """Encode the document in the spec's format; return the bytes and per-page truth."""
    fmt = spec.fmt
    if fmt in ("jpeg", "png"):
        img, truth = _scan_image(doc, rng, spec)
        return _encode(img, fmt, truth.dpi or 200, rng), [truth]
    if fmt == "tiff":
        frames, truths = [], []
        for i in range(len(doc.pages)):
            img, truth = _scan_image(doc, rng, spec, page=i)
            frames.append(img.convert("L"))
            truths.append(truth)
        buf = io.BytesIO()
        dpi = truths[0].dpi or 200
        frames[0].save(
            buf,
            "TIFF",
            save_all=True,
            append_images=frames[1:],
            compression="tiff_lzw",
            dpi=(dpi, dpi),
        )
        return buf.getvalue(), truths
    if fmt == "pdf-text":
        dpi = 200
        pages, truths = [], []
        for blocks in doc.pages:
            _img, placed = render_page(blocks, dpi)
            pages.append(_text_page(placed, dpi))
            truths.append(PageTruth([p.text for p in placed], False, 0, True, "text", None))
        return build_pdf(pages), truths
    # image-only PDF, or mixed: page 1 typed (text layer), the rest scanned
    pages, truths = [], []
    for i in range(len(doc.pages)):
        if fmt == "pdf-mixed" and i == 0:
            _img, placed = render_page(doc.pages[0], 200)
            pages.append(_text_page(placed, 200))
            truths.append(PageTruth([p.text for p in placed], False, 0, True, "text", None))
            continue
        img, truth = _scan_image(doc, rng, spec, page=i)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=rng.randint(72, 88))
        pages.append(page_from_image(img, truth.dpi, [], original_jpeg=buf.getvalue()))
        truths.append(truth)
    return build_pdf(pages), truths


def scan_document(
    doc: _content.Doc, rng: random.Random, fmt: str = "jpeg", rotation: int = 0
) -> bytes:
    """One document scanned as the default set scans it (skewed, noisy, compressed)."""
    return _write_doc(doc, _Spec(doc.doc_type, fmt, rotation=rotation), rng)[0]


def _inbox_path(doc: _content.Doc, spec: _Spec, name_type: str, serial: int) -> str:
    ext = FORMAT_EXT[spec.fmt]
    if spec.unknown_key or doc.group == "other":
        return f"其他/扫描{serial:04d}{ext}"
    if doc.group == "licence":
        return f"许可证/{doc.keys['licence']}/{name_type}{ext}"
    if doc.group == "case":
        return f"案卷/{doc.keys['case']}/{name_type}{ext}"
    date = doc.keys["meeting_date"]
    return f"会议记录/{name_type}/{date} {name_type}纪要{ext}"


def generate_scans(
    out_dir: Path,
    *,
    seed: int = 0,
    count: int | None = None,
    layout: str = "flat",
    pick: Sequence[int] | None = None,
) -> list[ScanTruth]:
    """Write sample scans into ``out_dir`` and return their truth (also in manifest.json).

    ``count`` None writes the default set (every type and format, rotated and unreadable
    pages, title/content mismatches); a number cycles through that set with new content.
    ``layout`` "flat" writes ``NN_类型.ext``; "inbox" writes ``inbox/<kind>/<key>/<类型>.ext``.
    ``pick`` (0-based positions in the default set, see :data:`PLAN_NAMES`) writes only those
    files, for tests that need a few.
    """
    if layout not in ("flat", "inbox"):
        raise ValueError(f"layout must be 'flat' or 'inbox', not {layout!r}")
    rng = random.Random(seed)
    world = _content.World(rng)
    n = len(_PLAN) if count is None else count
    positions = list(range(n)) if pick is None else list(pick)
    out_dir.mkdir(parents=True, exist_ok=True)
    truths: list[ScanTruth] = []
    used: set[str] = set()
    serial = 0
    for i in positions:
        spec = _PLAN[i % len(_PLAN)]
        doc = world.document(spec.doc_type)
        data, pages = _write_doc(doc, spec, rng)
        name_type = spec.named_as or doc.name_type
        if layout == "flat":
            rel = f"{i + 1:02d}_{doc.name_type}{FORMAT_EXT[spec.fmt]}"
        else:
            if spec.unknown_key or doc.group == "other":
                serial += 1
            rel = "inbox/" + _inbox_path(doc, spec, name_type, serial)
            stem, dot, ext = rel.rpartition(".")
            k = 2
            while rel in used:
                rel = f"{stem}-{k}{dot}{ext}"
                k += 1
        used.add(rel)
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        truths.append(
            ScanTruth(
                path=rel,
                format=spec.fmt,
                mime=MIMES[spec.fmt],
                doc_type=doc.doc_type,
                filename_type=name_type,
                mismatch=spec.named_as is not None,
                keys=dict(doc.keys),
                pages=pages,
            )
        )
    manifest = [asdict(t) for t in truths]
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return truths


def load_manifest(out_dir: Path) -> list[ScanTruth]:
    """Read back the truth written by :func:`generate_scans`."""
    raw = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    out = []
    for item in raw:
        pages = [PageTruth(**p) for p in item.pop("pages")]
        out.append(ScanTruth(**item, pages=pages))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.scans", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--layout", choices=("flat", "inbox"), default="flat")
    args = parser.parse_args(argv)
    truths = generate_scans(args.out_dir, seed=args.seed, count=args.count, layout=args.layout)
    for t in truths:
        flag = "" if t.readable else "  [不清晰]"
        mism = f"  [名为{t.filename_type}]" if t.mismatch else ""
        print(f"{t.path}\t{t.doc_type}\t旋转{t.rotation}°{flag}{mism}")
    print(f"{len(truths)} files, manifest: {args.out_dir / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
