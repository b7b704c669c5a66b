"""Search benchmark: dangan's index against SQLite FTS5 (trigram) on synthetic records.

    .venv/bin/python bench/search.py            # 100,000 records
    .venv/bin/python bench/search.py --docs 20000

Prints, for both engines built from the same records in the same run: build rate, index
size, p50/p99 latency per query kind, and recall/precision on a labelled query set whose
truth is plain substring search over the same (folded) texts.  FTS5 is asked the same
questions; its keys are handed over already normalised, which favours it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexers.analyzer import fold
from indexers.analyzer import warm_up as analyzer_warm_up
from indexers.search import IndexDoc, SearchIndex

# ----------------------------------------------------------------- synthetic records
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯董程曹袁邓许沈曾彭吕苏卢蒋"
    "蔡贾丁魏薛叶阎潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦史顾侯邵孟段"
    "雷钱汤尹黎常武乔贺赖龚"
)
GIVEN = (
    "强娜磊静敏军伟芳勇艳杰涛明超秀霞平刚桂英华玲红兰峰建民利辉鹏飞宇浩俊琳婷倩岚凯斌博鑫淼垚昊晗栋"
)
SHOP_CHARS = (
    "犇鑫淼焱垚森晶壹昇旺祥瑞福禄喜兴隆昌盛泰和顺达丰源聚汇鼎通宏"
    "茂信诚德润佳美嘉惠恒益康乐群星荣耀永吉"
)
SHOP_SUFFIX = [
    "便民店",
    "超市",
    "商店",
    "烟酒店",
    "副食店",
    "批发部",
    "商行",
    "小卖部",
    "烟酒行",
    "百货",
]
VILLAGE_CHARS = "东西南北上下前后大小新老高柳桃杏槐榆沟坡营寨堡庄屯湾河桥峪塬梁岭川坪寺庙吉禾"
TOWNS = ["城关镇", "秦东镇", "太要镇", "桐峪镇", "代字营镇", "安乐镇"]
STREETS = ["金陵路", "风陵路", "潼河街", "东大街", "西街", "南新街", "人民路", "黄河路"]
BRANDS = [
    "中华",
    "芙蓉王",
    "红塔山",
    "好猫",
    "延安",
    "猴王",
    "白沙",
    "利群",
    "黄鹤楼",
    "玉溪",
    "云烟",
    "苏烟",
]
DOC_TYPES = [
    "询问笔录",
    "现场检查笔录",
    "行政处罚决定书",
    "许可证申请表",
    "延续申请表",
    "送达回证",
    "先行登记保存通知书",
    "案件调查终结报告",
    "内管预警核查记录",
    "会议记录",
]
MEETINGS = ["专销联动会议", "党员大会", "支委会", "党课", "打假协作会", "听证会", "创建工作例会"]
CLASSES = ["守法经营户", "非重点监控户", "重点监控户"]
CN_DIGITS = "〇一二三四五六七八九"
BOILER = [
    "经查，当事人未在当地烟草专卖批发企业进货，涉嫌违反《中华人民共和国烟草专卖法实施条例》第二十三条第二款的规定。",
    "执法人员出示执法证件，表明身份，告知当事人依法享有陈述、申辩和要求听证的权利。",
    "现场检查发现柜台内摆放卷烟若干，当事人不能提供合法来源证明，执法人员依法予以先行登记保存。",
    "根据《烟草专卖许可证管理办法》的规定，经审查，申请人符合许可条件，准予办理烟草专卖零售许可证。",
    "市场管理员按照分类监管要求对辖区零售户开展检查，填写检查记录，处理结果已录入系统。",
    "会议传达了市局关于创建优秀县级烟草专卖局的工作安排，要求各部门对照评价标准查漏补缺。",
    "内管预警信息经分析研判后，专卖人员电话核实并实地走访，签字确认的核查记录已归档。",
    "以上笔录已向我宣读，我看过，与我说的一致。",
]


@dataclass
class CorpusDoc:
    """One synthetic record: the fields an :class:`indexers.search.IndexDoc` carries."""

    record_id: str
    path: str
    dossier: str
    dossier_kind: str
    title: str
    doc_type: str | None
    licence_no: str | None
    case_no: str | None
    case_written: str | None
    retailer: str | None
    person: str
    village: str
    brand: str
    household_class: str | None
    meeting_type: str | None
    date: str | None
    text: str


def person(rng: random.Random, two_chars: bool | None = None) -> str:
    """A personal name; two characters (surname + one) about half the time."""
    short = rng.random() < 0.5 if two_chars is None else two_chars
    given = rng.choice(GIVEN) if short else rng.choice(GIVEN) + rng.choice(GIVEN)
    return rng.choice(SURNAMES) + given


def retailer_name(rng: random.Random) -> str:
    """A shop name no dictionary knows (e.g. 鑫垚便民店, 刘强副食店)."""
    if rng.random() < 0.7:
        head = rng.choice(SHOP_CHARS) + rng.choice(SHOP_CHARS)
    else:
        head = person(rng, two_chars=True)
    return head + rng.choice(SHOP_SUFFIX)


def village(rng: random.Random) -> str:
    return rng.choice(VILLAGE_CHARS) + rng.choice(VILLAGE_CHARS) + "村"


def _cn_date(y: int, m: int, d: int) -> str:
    def num(n: int) -> str:
        if n < 10:
            return "一二三四五六七八九"[n - 1]
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")

    return "".join(CN_DIGITS[int(c)] for c in str(y)) + f"年{num(m)}月{num(d)}日"


def written_case(rng: random.Random, year: int, serial: int) -> str:
    """A case number as clerks and OCR write it (brackets, 第, spaces, full-width digits)."""
    opening, closing = rng.choice(
        [("〔", "〕"), ("[", "]"), ("【", "】"), ("［", "］"), ("(", ")")]
    )
    di = "第" if rng.random() < 0.4 else ""
    text = f"潼烟罚{opening}{year}{closing}{di}{serial}号"
    if rng.random() < 0.1:
        text = text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    return text


@dataclass
class _Household:
    licence: str
    name: str
    owner: str
    village: str
    town: str
    klass: str


def generate(n_docs: int, seed: int = 7) -> Iterator[CorpusDoc]:
    """Yield *n_docs* records, one at a time (the corpus is never held in memory)."""
    rng = random.Random(seed)
    n_households = max(20, n_docs // 20)
    households: list[_Household] = []
    used: set[str] = set()
    for _ in range(n_households):
        while True:
            lic = "610522" + f"{rng.randrange(10**6):06d}"
            if lic not in used:
                used.add(lic)
                break
        households.append(
            _Household(
                lic,
                retailer_name(rng),
                person(rng),
                village(rng),
                rng.choice(TOWNS),
                rng.choices(CLASSES, weights=[473, 26, 14])[0],
            )
        )
    for i in range(n_docs):
        h = rng.choice(households)
        year = rng.randrange(2008, 2013)
        month, day = rng.randrange(1, 13), rng.randrange(1, 29)
        date = f"{year}-{month:02d}-{day:02d}"
        brand = rng.choice(BRANDS)
        inspector = person(rng, two_chars=True)
        roll = rng.random()
        case_no = case_written = meeting = None
        if roll < 0.3:
            kind = "case"
            serial = rng.randrange(1, 120)
            case_no = f"潼烟罚〔{year}〕{serial}号"
            case_written = written_case(rng, year, serial)
            dossier = case_no
            doc_type: str | None = rng.choice(DOC_TYPES[:3] + DOC_TYPES[5:8])
        elif roll < 0.4:
            kind = "meeting"
            meeting = rng.choice(MEETINGS)
            dossier = f"{meeting}/{year}"
            doc_type = "会议记录"
        else:
            kind = "household"
            dossier = h.licence
            doc_type = rng.choice(DOC_TYPES[3:5] + DOC_TYPES[1:2] + DOC_TYPES[8:9])
        parts = [
            f"{doc_type}",
            f"当事人：{h.owner}，经营地址：潼关县{h.town}{h.village}"
            f"{rng.choice(STREETS)}{rng.randrange(1, 300)}号，字号：{h.name}。",
            f"许可证号：{h.licence}。" if kind != "meeting" or rng.random() < 0.2 else "",
            f"案号：{case_written}。" if case_written else "",
            f"会议名称：{meeting}，主持人：{inspector}。" if meeting else f"检查人：{inspector}。",
            rng.choice(BOILER),
            f"现场查获{brand}卷烟{rng.randrange(1, 60)}条，"
            f"{rng.choice(BRANDS)}{rng.randrange(1, 30)}条。",
            rng.choice(BOILER),
            _cn_date(year, month, day) if rng.random() < 0.5 else f"{year}年{month}月{day}日",
        ]
        text = "\n".join(p for p in parts if p)
        if rng.random() < 0.1:  # OCR puts spaces between characters now and then
            cut = rng.randrange(1, len(text) - 1)
            if "\n" not in text[cut - 1 : cut + 1]:
                text = text[:cut] + " " + text[cut:]
        rid = hashlib.sha256(f"{seed}/{i}".encode()).hexdigest()
        yield CorpusDoc(
            record_id=rid,
            path=f"{dossier}/{date}_{doc_type}_{i}.pdf",
            dossier=dossier,
            dossier_kind=kind,
            title=f"{h.name}{doc_type}" if kind != "meeting" else f"{meeting}{date}",
            doc_type=doc_type,
            licence_no=h.licence if kind != "meeting" else None,
            case_no=case_no,
            case_written=case_written,
            retailer=h.name if kind != "meeting" else None,
            person=inspector,
            village=h.village,
            brand=brand,
            household_class=h.klass if kind == "household" else None,
            meeting_type=meeting,
            date=date,
            text=text,
        )


# ------------------------------------------------------------------------ the benchmark


def _index_doc(c: CorpusDoc) -> IndexDoc:
    return IndexDoc(
        record_id=c.record_id,
        path=c.path,
        dossier=c.dossier,
        dossier_kind=c.dossier_kind,
        title=c.title,
        doc_type=c.doc_type,
        licence_no=c.licence_no,
        case_no=c.case_no,
        retailer=c.retailer,
        household_class=c.household_class,
        meeting_type=c.meeting_type,
        date=c.date,
        text=c.text,
    )


def _body(c: CorpusDoc) -> str:
    parts = (c.title, c.retailer, c.doc_type, c.meeting_type, c.dossier, c.text)
    return "｜".join(p for p in parts if p)


@dataclass
class _Query:
    kind: str
    dangan: str  # what a clerk types into dangan
    fts: str | None  # the same question for FTS5 (None: FTS5 cannot ask it)
    fts_column: str
    truth: set[str]


def _queries(corpus: list[CorpusDoc], folded: list[str], per_kind: int) -> list[_Query]:
    rng = random.Random(11)
    ids = [c.record_id for c in corpus]

    def substr(*needles: str) -> set[str]:
        keys = [fold(n) for n in needles]
        return {ids[i] for i, body in enumerate(folded) if all(k in body for k in keys)}

    def fts_phrase(*terms: str) -> str:
        return " AND ".join('"' + fold(t).replace('"', '""') + '"' for t in terms)

    out: list[_Query] = []
    by_licence: dict[str, set[str]] = {}
    by_case: dict[str, set[str]] = {}
    for c in corpus:
        if c.licence_no:
            by_licence.setdefault(c.licence_no, set()).add(c.record_id)
        if c.case_no:
            by_case.setdefault(c.case_no, set()).add(c.record_id)
    for lic in rng.sample(sorted(by_licence), min(per_kind, len(by_licence))):
        out.append(
            _Query("licence lookup", f"许可证号:{lic}", fts_phrase(lic), "licence", by_licence[lic])
        )
    cases = [c for c in corpus if c.case_no]
    for c in rng.sample(cases, min(per_kind, len(cases))):
        assert c.case_written and c.case_no
        out.append(
            _Query(
                "case lookup (as written)",
                f"案号:{c.case_written}",
                fts_phrase(c.case_no),
                "case_no",
                by_case[c.case_no],
            )
        )
    shops = sorted({c.retailer for c in corpus if c.retailer})
    for name in rng.sample(shops, min(per_kind, len(shops))):
        out.append(_Query("retailer full name", name, fts_phrase(name), "body", substr(name)))
    people = sorted({c.person for c in corpus if len(c.person) == 2})
    for name in rng.sample(people, min(per_kind, len(people))):
        out.append(_Query("2-char personal name", name, fts_phrase(name), "body", substr(name)))
    for c in rng.sample(corpus, per_kind):
        m = re.search(f"{c.village}[^，。\\d]+?(?=\\d)", c.text)
        street = m.group(0)[len(c.village) :] if m else ""
        phrase = c.village + street
        out.append(
            _Query(
                "two-word phrase",
                f'"{c.village} {street}"',
                fts_phrase(phrase),
                "body",
                substr(phrase),
            )
        )
    for c in rng.sample(corpus, per_kind):
        out.append(
            _Query(
                "free text (brand + village)",
                f"{c.brand} {c.village}",
                fts_phrase(c.brand, c.village),
                "body",
                substr(c.brand, c.village),
            )
        )
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _fts_build(path: Path, corpus: list[CorpusDoc]) -> float:
    con = sqlite3.connect(path)
    con.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(record_id UNINDEXED, licence, case_no, body,"
        " tokenize='trigram')"
    )
    start = time.perf_counter()
    for i in range(0, len(corpus), 500):
        with con:
            con.executemany(
                "INSERT INTO docs VALUES (?, ?, ?, ?)",
                [
                    (c.record_id, c.licence_no or "", c.case_no or "", fold(_body(c)))
                    for c in corpus[i : i + 500]
                ],
            )
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed


COMMON = ["卷烟", "当事人", "执法人员", "许可证", "烟草专卖", "检查", "规定", "条"]


def _common_words(index: SearchIndex, con: sqlite3.Connection) -> None:
    """Worst case: words in most records (latency of the first page and the count)."""
    lat_d: list[float] = []
    lat_f: list[float] = []
    counts = []
    for word in COMMON:
        t0 = time.perf_counter()
        result = index.search(word, limit=20)
        lat_d.append(time.perf_counter() - t0)
        counts.append(result.total)
        if len(word) >= 3:
            t0 = time.perf_counter()
            con.execute("SELECT record_id FROM docs WHERE body MATCH ? LIMIT 20", (f'"{word}"',))
            lat_f.append(time.perf_counter() - t0)
    row = f"{_pct(lat_d, 0.5):.1f}/{_pct(lat_d, 0.99):.1f} ms"
    peer = f"{_pct(lat_f, 0.5):.1f}/{_pct(lat_f, 0.99):.1f} ms (3+ chars)" if lat_f else "n/a"
    print(f"{f'common words ({len(COMMON)}), p50/p99':34}{row:>27}{peer:>29}")
    print(f"  records matched: {dict(zip(COMMON, counts, strict=True))}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100, help="queries per kind")
    parser.add_argument("--keep", type=Path, default=None, help="build here and keep it")
    args = parser.parse_args(argv)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="dangan-bench-search-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        _run(args, workdir)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, workdir: Path) -> None:
    print(f"generating {args.docs} records …", file=sys.stderr)
    corpus = list(generate(args.docs))
    folded = [fold(_body(c)) for c in corpus]
    queries = _queries(corpus, folded, args.queries)
    del folded

    analyzer_warm_up()
    index_dir = workdir / "index"
    if index_dir.exists():
        shutil.rmtree(index_dir)
    index, _ = SearchIndex.open_or_create(index_dir)
    load_before = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    index.add((_index_doc(c) for c in corpus), batch_size=5000)
    dangan_build = time.perf_counter() - start
    dangan_cpu = time.process_time() - cpu
    fts_path = workdir / "fts5.sqlite"
    fts_path.unlink(missing_ok=True)
    fts_build = _fts_build(fts_path, corpus)
    del corpus

    print(
        f"\nsearch benchmark: {args.docs} records, {len(queries)} queries, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}"
    )
    print(f"load average (1 min) before build {load_before:.1f}, now {os.getloadavg()[0]:.1f}")
    print(f"dangan build used {dangan_cpu:.0f} s CPU for {dangan_build:.0f} s wall")
    print(f"{'':34}{'dangan (tantivy)':>27}{'SQLite FTS5 trigram':>29}")
    print(
        f"{'build rate (records/s)':34}{args.docs / dangan_build:>27,.0f}"
        f"{args.docs / fts_build:>29,.0f}"
    )
    print(
        f"{'index size (MB)':34}{_dir_size(index_dir) / 1e6:>27.1f}"
        f"{fts_path.stat().st_size / 1e6:>29.1f}"
    )

    con = sqlite3.connect(fts_path)
    kinds = list(dict.fromkeys(q.kind for q in queries))
    header = "p50/p99 ms, recall, prec."
    print(f"\n{'query kind (n)':34}{header:>27}{header:>29}")
    totals: dict[str, list[int]] = {"dangan": [0, 0, 0], "fts5": [0, 0, 0]}
    for kind in kinds:
        group = [q for q in queries if q.kind == kind]
        lat_d: list[float] = []
        lat_f: list[float] = []
        score = {"dangan": [0, 0, 0], "fts5": [0, 0, 0]}  # true positives, found, expected
        for q in group:
            t0 = time.perf_counter()
            index.search(q.dangan, limit=20)
            lat_d.append(time.perf_counter() - t0)
            everything = index.search(q.dangan, limit=max(20, len(q.truth) * 3 + 20))
            found = {h.record_id for h in everything.hits}
            score["dangan"] = [
                a + b
                for a, b in zip(
                    score["dangan"], (len(found & q.truth), len(found), len(q.truth)), strict=True
                )
            ]
            if q.fts is None:
                continue
            sql = f"SELECT record_id FROM docs WHERE {q.fts_column} MATCH ? LIMIT 20"
            t0 = time.perf_counter()
            con.execute(sql, (q.fts,)).fetchall()
            lat_f.append(time.perf_counter() - t0)
            sql_all = f"SELECT record_id FROM docs WHERE {q.fts_column} MATCH ?"
            got = {r[0] for r in con.execute(sql_all, (q.fts,))}
            score["fts5"] = [
                a + b
                for a, b in zip(
                    score["fts5"], (len(got & q.truth), len(got), len(q.truth)), strict=True
                )
            ]
        cells = []
        for name, lat in (("dangan", lat_d), ("fts5", lat_f)):
            tp, nfound, nexp = score[name]
            totals[name] = [a + b for a, b in zip(totals[name], score[name], strict=True)]
            rec = tp / nexp if nexp else 1.0
            prec = tp / nfound if nfound else (1.0 if not nexp else 0.0)
            cells.append(
                f"{_pct(lat, 0.5):.1f}/{_pct(lat, 0.99):.1f}, {rec:.3f}, {prec:.3f}"
                if lat
                else "n/a"
            )
        print(f"{f'{kind} ({len(group)})':34}{cells[0]:>27}{cells[1]:>29}")
    cells = []
    for name in ("dangan", "fts5"):
        tp, nfound, nexp = totals[name]
        cells.append(f"recall {tp / nexp:.3f}, prec {tp / max(nfound, 1):.3f}")
    print(f"{'all labelled queries':34}{cells[0]:>27}{cells[1]:>29}")
    _common_words(index, con)
    t0 = time.perf_counter()
    n_ids = len(index.indexed_ids())
    print(f"\nindexed_ids(): {n_ids} ids in {(time.perf_counter() - t0) * 1000:.0f} ms")
    print(f"load average (1 min) at the end {os.getloadavg()[0]:.1f}")
    con.close()
    index.close()


if __name__ == "__main__":
    main()
