"""Text-layer PDFs and a household roster, generated: for tests, benchmarks and the demo.

Many PDFs are made from one weasyprint render split page by page, so a thousand distinct
Chinese text-layer PDFs take seconds, not minutes.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, PdfWriter

AREA_CODE = "610522"
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾田"
_GIVEN = "强伟芳娜敏静丽军磊洋勇艳杰娟涛明超秀霞平刚桂英华建国志文辉海红玉兰成林卫东"
_SHOPS = ("便利店", "烟酒商店", "副食店", "超市", "商行", "百货部", "烟酒行", "小卖部")
_TOWNS = ("城关镇", "秦东镇", "太要镇", "桐峪镇", "代字营镇", "安乐镇")
_STREETS = ("东大街", "西大街", "金城大道", "风陵路", "南街村", "吊桥村", "港口路")
_CLASSES = ("守法经营户",) * 18 + ("非重点监控户",) + ("重点监控户",)


@dataclass(frozen=True)
class Household:
    licence_no: str
    name: str
    operator: str
    address: str
    klass: str
    valid_from: dt.date
    valid_to: dt.date


def make_households(count: int, seed: int = 0, area_code: str = AREA_CODE) -> list[Household]:
    """``count`` distinct households with realistic names, classes and licence terms."""
    rng = random.Random(seed)
    out: list[Household] = []
    serials = rng.sample(range(100000, 999999), count)
    for serial in serials:
        operator = rng.choice(_SURNAMES) + "".join(
            rng.choice(_GIVEN) for _ in range(rng.choice((1, 2)))
        )
        name = f"{operator}{rng.choice(_SHOPS)}"
        start = dt.date(rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28))
        out.append(
            Household(
                licence_no=f"{area_code}{serial}",
                name=name,
                operator=operator,
                address=f"潼关县{rng.choice(_TOWNS)}{rng.choice(_STREETS)}{rng.randint(1, 300)}号",
                klass=rng.choice(_CLASSES),
                valid_from=start,
                valid_to=start.replace(year=start.year + 5) - dt.timedelta(days=1),
            )
        )
    return out


def write_roster_csv(
    path: Path, households: Sequence[Household], encoding: str = "utf-8-sig"
) -> None:
    """The roster as the licence system exports it (GBK when ``encoding='gbk'``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["许可证号", "企业名称", "负责人", "经营地址", "类别", "有效期起", "有效期止"])
    for h in households:
        writer.writerow(
            [
                h.licence_no,
                h.name,
                h.operator,
                h.address,
                h.klass,
                h.valid_from.isoformat(),
                h.valid_to.isoformat(),
            ]
        )
    path.write_bytes(buffer.getvalue().encode(encoding))


_CSS = """
@page { size: A4; margin: 37mm 26mm 35mm 28mm; }
body { font-family: "Noto Serif CJK SC", serif; font-size: 16pt; line-height: 1.6; }
h1 { font-family: "Noto Sans CJK SC", sans-serif; font-size: 22pt; text-align: center; }
section { page-break-after: always; }
"""


def render_pages(pages: Sequence[tuple[str, Sequence[str]]]) -> list[bytes]:
    """One single-page text-layer PDF per (title, lines), from one weasyprint render."""
    from weasyprint import HTML

    body = "".join(
        "<section><h1>"
        + html.escape(title)
        + "</h1>"
        + "".join(f"<p>{html.escape(line)}</p>" for line in lines)
        + "</section>"
        for title, lines in pages
    )
    document = HTML(string=f"<html><head><style>{_CSS}</style></head><body>{body}</body></html>")
    merged = document.write_pdf()
    assert merged is not None
    reader = PdfReader(io.BytesIO(merged))
    out: list[bytes] = []
    sections = len(pages)
    # Each section starts a new page; a long section may run to more pages: keep them together.
    starts = _section_starts(reader, [title for title, _ in pages])
    for index in range(sections):
        writer = PdfWriter()
        end = starts[index + 1] if index + 1 < sections else len(reader.pages)
        for number in range(starts[index], end):
            writer.add_page(reader.pages[number])
        writer.add_metadata({"/Title": pages[index][0]})
        buf = io.BytesIO()
        writer.write(buf)
        out.append(buf.getvalue())
    return out


def _section_starts(reader: PdfReader, titles: Sequence[str]) -> list[int]:
    starts: list[int] = []
    page = 0
    for title in titles:
        while page < len(reader.pages) and title.replace(" ", "") not in (
            reader.pages[page].extract_text() or ""
        ).replace(" ", "").replace("\n", ""):
            page += 1
        starts.append(page)
        page += 1
    return starts


def licence_documents(
    households: Sequence[Household], seed: int = 0
) -> list[tuple[str, str, list[str]]]:
    """(licence no, doc type, lines) for a text-layer document per household."""
    rng = random.Random(seed)
    docs = []
    kinds = ("申请表", "实地核查记录", "准予许可决定书", "送达回证")
    for h in households:
        kind = rng.choice(kinds)
        lines = [
            f"许可证号：{h.licence_no}",
            f"企业名称：{h.name}",
            f"负责人：{h.operator}",
            f"经营地址：{h.address}",
            f"有效期限：{h.valid_from.year}年{h.valid_from.month}月{h.valid_from.day}日至"
            f"{h.valid_to.year}年{h.valid_to.month}月{h.valid_to.day}日",
            f"经办人：{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}  编号 {rng.randint(1000, 9999)}",
        ]
        docs.append((h.licence_no, kind, lines))
    return docs


def write_licence_pdfs(
    inbox: Path, households: Sequence[Household], seed: int = 0, batch: int = 25
) -> list[Path]:
    """Drop one text-layer PDF per household into ``inbox/许可证/<licence>_<name>/<type>.pdf``."""
    docs = licence_documents(households, seed)
    by_licence = {h.licence_no: h for h in households}
    written: list[Path] = []
    for start in range(0, len(docs), batch):
        chunk = docs[start : start + batch]
        pdfs = render_pages([(f"烟草专卖零售许可证{kind}", lines) for _, kind, lines in chunk])
        for (licence, kind, _), data in zip(chunk, pdfs, strict=True):
            folder = inbox / "许可证" / f"{licence}_{by_licence[licence].name}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{kind}.pdf"
            path.write_bytes(data)
            written.append(path)
    return written
