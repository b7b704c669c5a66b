"""The full-text index on generated records: recall and precision against plain substring
search, keys in every written form, filters, snippets, schema versions and writers."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import rjieba
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.core.errors import ArchiveError, LockedError
from indexers.analyzer import fold, fold_with_map, segment
from indexers.query import Case, DateRange, Exact, QueryError, Within, parse
from indexers.search import IndexDoc, SearchIndex

REPO = Path(__file__).resolve().parents[1]

# Shop names made of characters no dictionary puts together, and two-character names.
SHOPS = ["犇淼便民店", "垚昇烟酒行", "焱禄副食店", "鑫犇小卖部", "淼垚商行", "昇焱超市"]
PEOPLE = ["毛辉", "邵磊", "龚婷", "乔晗", "赖栋", "尹岚"]
VILLAGES = ["槐峪村", "杏塬村", "桃坪村"]
TYPES = ["询问笔录", "现场检查笔录", "延续申请表", "送达回证"]
CLASSES = ["守法经营户", "非重点监控户", "重点监控户"]


def _rid(i: int) -> str:
    return hashlib.sha256(f"test/{i}".encode()).hexdigest()


def _records(n: int = 90, seed: int = 3) -> list[IndexDoc]:
    rng = random.Random(seed)
    out: list[IndexDoc] = []
    for i in range(n):
        k = i % len(SHOPS)
        licence = f"6105221{k:02d}{123 + k:03d}"  # 6105221 00 123, 6105221 01 124, …
        shop, who, village = SHOPS[k], PEOPLE[rng.randrange(6)], VILLAGES[rng.randrange(3)]
        year, serial = 2010 + (i // 3) % 3, 10 + i % 4
        is_case = i % 3 == 0
        date = f"{year}-{1 + i % 12:02d}-{1 + i % 27:02d}"
        doc_type = TYPES[i % len(TYPES)]
        written = [f"潼烟罚〔{year}〕{serial}号", f"潼烟罚[{year}]第{serial}号"][i % 2]
        text = (
            f"{doc_type}\n当事人：{who}，地址：潼关县城关镇{village}，字号：{shop}。"
            f"许可证号：{licence}。" + (f"案号：{written}。" if is_case else "") + "\n"
            "现场检查发现柜台内摆放卷烟若干，当事人不能提供合法来源证明。"
            f"{year}年{1 + i % 12}月{1 + i % 27}日"
        )
        out.append(
            IndexDoc(
                record_id=_rid(i),
                path=f"{licence}/{date}_{doc_type}.pdf",
                dossier=f"潼烟罚〔{year}〕{serial}号" if is_case else licence,
                dossier_kind="case" if is_case else "household",
                title=f"{shop}{doc_type}",
                doc_type=doc_type,
                licence_no=licence,
                case_no=f"潼烟罚〔{year}〕{serial}号" if is_case else None,
                retailer=shop,
                household_class=CLASSES[k % 3],
                meeting_type=None,
                date=date,
                text=text,
            )
        )
    out.append(
        IndexDoc(
            record_id=_rid(1000),
            path="专销联动会议/2011/2011-03-05_会议记录.pdf",
            dossier="专销联动会议/2011",
            dossier_kind="meeting",
            title="专销联动会议记录",
            doc_type="会议记录",
            licence_no=None,
            case_no=None,
            retailer=None,
            household_class=None,
            meeting_type="专销联动会议",
            date="2011-03-05",
            text="會議記錄：煙草專賣局召開專銷聯動會議，與會人員張三，李四。",
        )
    )
    return out


def _body(doc: IndexDoc) -> str:
    """What free text searches: the same fields the index folds into its text."""
    parts = (doc.title, doc.retailer, doc.doc_type, doc.meeting_type, doc.dossier, doc.text)
    return fold("｜".join(p for p in parts if p))


@pytest.fixture(scope="module")
def docs() -> list[IndexDoc]:
    return _records()


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, docs: list[IndexDoc]) -> Iterator[SearchIndex]:
    idx, rebuild = SearchIndex.open_or_create(tmp_path_factory.mktemp("idx") / "index")
    assert rebuild  # a new index must be filled
    assert idx.add(iter(docs), batch_size=16) == len(docs)
    yield idx
    idx.close()


def _ids(index: SearchIndex, query: str) -> set[str]:
    result = index.search(query, limit=1000)
    assert result.total == len(result.hits)
    return {h.record_id for h in result.hits}


def _truth(docs: list[IndexDoc], *needles: str) -> set[str]:
    return {d.record_id for d in docs if all(fold(n) in _body(d) for n in needles)}


def test_names_unknown_to_jieba_are_found_by_every_two_character_part(
    index: SearchIndex, docs: list[IndexDoc]
) -> None:
    for shop in SHOPS:
        assert rjieba.cut(shop[:2], hmm=False) == list(shop[:2])  # really no dictionary word
        for i in range(len(shop) - 1):
            part = shop[i : i + 2]
            assert _ids(index, part) == _truth(docs, part), part
        assert _ids(index, shop) == _truth(docs, shop)
        assert _ids(index, f'"{shop}"') == _truth(docs, shop)


def test_two_character_personal_names_full_recall_and_precision(
    index: SearchIndex, docs: list[IndexDoc]
) -> None:
    for who in PEOPLE:
        expected = _truth(docs, who)
        assert expected
        assert _ids(index, who) == expected
    # several words: all must occur
    assert _ids(index, f"{PEOPLE[0]} {VILLAGES[1]}") == _truth(docs, PEOPLE[0], VILLAGES[1])


def test_phrase_does_not_match_across_punctuation(index: SearchIndex) -> None:
    assert index.search("张三").total == 1
    assert index.search("三李").total == 0  # "张三，李四": not a substring


def test_licence_number_and_its_last_five_digits(index: SearchIndex, docs: list[IndexDoc]) -> None:
    licence = docs[1].licence_no
    assert licence is not None
    expected = {d.record_id for d in docs if d.licence_no == licence}
    assert _ids(index, f"许可证号:{licence}") == expected
    assert _ids(index, f"许可证号：{licence[-5:]}") == expected
    assert expected <= _ids(index, licence[-5:])  # bare digits: the key or the text
    assert _ids(index, "许可证号:99999") == set()
    with pytest.raises(QueryError, match="许可证号"):
        index.search("许可证号:61052A")


@pytest.mark.parametrize(
    "written",
    [
        "案号:潼烟罚〔2011〕12号",
        "案号:潼烟罚[2011]第12号",
        "潼烟罚【2011】12号",
        "潼烟罚（２０１１）第１２号",
        "案号:2011 12",
        "案号:2011-12",
        "2011 12",
    ],
)
def test_case_number_in_every_written_form(
    index: SearchIndex, docs: list[IndexDoc], written: str
) -> None:
    expected = {d.record_id for d in docs if d.case_no == "潼烟罚〔2011〕12号"}
    assert expected
    found = _ids(index, written)
    assert expected <= found
    if written.startswith("案号") or "罚" in written:
        assert found == expected  # exact key: nothing else
    assert not _ids(index, "案号:2011 1") & expected  # serial 1 is not serial 12


def test_field_filters_and_date_ranges(index: SearchIndex, docs: list[IndexDoc]) -> None:
    assert _ids(index, "类型:询问笔录") == {d.record_id for d in docs if d.doc_type == "询问笔录"}
    in_range = {d.record_id for d in docs if d.date and "2010-01-01" <= d.date <= "2010-06-30"}
    assert _ids(index, "日期:2010-01..2010-06") == in_range
    both = {d.record_id for d in docs if d.doc_type == "送达回证" and d.record_id in in_range}
    assert _ids(index, "类型:送达回证 日期:2010-01..2010-06") == both
    assert _ids(index, "日期:2011") == {d.record_id for d in docs if (d.date or "")[:4] == "2011"}
    assert _ids(index, "类别:重点监控户") == {
        d.record_id for d in docs if d.household_class == "重点监控户"
    }  # not 非重点监控户
    assert _ids(index, "户名:犇淼") == {d.record_id for d in docs if d.retailer == "犇淼便民店"}
    assert len(_ids(index, "会议:专销联动")) == 1
    excluded = _ids(index, f"{SHOPS[0]} -{PEOPLE[0]}")
    assert excluded == _truth(docs, SHOPS[0]) - _truth(docs, PEOPLE[0])
    with pytest.raises(QueryError, match="月份"):
        index.search("日期:2010-13")
    with pytest.raises(ArchiveError):
        index.search("类别:好户")


def test_hits_carry_dossier_type_date_and_highlighted_snippet(index: SearchIndex) -> None:
    result = index.search("垚昇烟酒行")
    assert result.hits
    hit = result.hits[0]
    assert hit.dossier and hit.doc_type in TYPES and hit.date and hit.path
    assert "【垚昇烟酒行】" in hit.snippet


def test_traditional_query_finds_simplified_text_and_back(index: SearchIndex) -> None:
    assert _ids(index, "煙草專賣") == _ids(index, "烟草专卖") != set()
    hit = index.search("专销联动会议").hits[0]
    assert "【專銷聯動會議】" in hit.snippet  # the record is shown as written


def test_no_match_says_so_and_suggests_closest_names(index: SearchIndex) -> None:
    result = index.search("犇森便民店", names=[*SHOPS, "王强商店"])
    assert result.total == 0 and not result.hits
    assert "没有找到" in result.message
    assert result.suggestions[0] == "犇淼便民店"
    assert all(set(name) & set("犇森便民店") for name in result.suggestions)
    assert "垚昇烟酒行" not in result.suggestions  # nothing in common


def test_update_and_delete_by_record_id(tmp_path: Path, docs: list[IndexDoc]) -> None:
    idx = SearchIndex(tmp_path / "index")
    idx.add(docs[:10])
    changed = IndexDoc(**{**docs[0].__dict__, "text": "更正后的笔录：当事人鑫昇。"})
    assert idx.add([changed]) == 1
    assert len(idx) == 10
    assert _ids(idx, "鑫昇") == {docs[0].record_id}
    assert docs[0].record_id not in _ids(idx, "现场检查发现")
    assert idx.delete([docs[0].record_id, "no-such-id"]) == 1
    assert idx.indexed_ids() == {d.record_id for d in docs[1:10]}
    idx.clear()
    assert idx.indexed_ids() == set()


def test_whole_word_ranks_first_and_the_query_is_cut_by_the_index_vocabulary(
    tmp_path: Path, docs: list[IndexDoc]
) -> None:
    """Both texts hold 专卖; in one it is a word of its own (jieba cut it so when indexing),
    in the other part of 专卖局. The query is cut by the index's vocabulary, no dictionary."""
    idx = SearchIndex(tmp_path / "index")
    inside = IndexDoc(**{**docs[0].__dict__, "record_id": _rid(900), "text": "潼关县专卖局检查。"})
    whole = IndexDoc(**{**docs[1].__dict__, "record_id": _rid(901), "text": "本局加强专卖管理。"})
    idx.add([inside, whole])
    hits = idx.search("专卖").hits
    assert [h.record_id for h in hits] == [whole.record_id, inside.record_id]
    known = {"潼关县", "专卖局", "专卖", "管理"}.__contains__
    assert segment("潼关县专卖局", known) == ("潼关县", "专卖局")
    assert segment("加强专卖管理", known) == ("专卖", "管理")
    assert segment("犇淼", known) == ("犇淼",)  # no known word: the term ranks by itself
    assert segment("犇", known) == ()


def test_changed_schema_version_signals_full_rebuild(tmp_path: Path, docs: list[IndexDoc]) -> None:
    idx, rebuild = SearchIndex.open_or_create(tmp_path / "index")
    assert rebuild
    idx.add(docs[:5])
    idx.close()
    again, rebuild = SearchIndex.open_or_create(tmp_path / "index")
    assert not rebuild and len(again) == 5

    class NewSchema(SearchIndex):
        SCHEMA_VERSION = SearchIndex.SCHEMA_VERSION + 1

    newer, rebuild = NewSchema.open_or_create(tmp_path / "index")
    assert rebuild and len(newer) == 0


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from tests.test_search import _records
    from indexers.search import SearchIndex
    docs = _records()
    def slow():
        for i, d in enumerate(docs):
            if i == 25:
                Path({flag!r}).write_text("started")
                time.sleep(600)
            yield d
    SearchIndex(Path({index!r})).add(slow(), batch_size=10)
    """
)


def _start_writer(tmp_path: Path) -> subprocess.Popen[bytes]:
    flag = tmp_path / "started"
    code = _WRITER.format(repo=str(REPO), flag=str(flag), index=str(tmp_path / "index"))
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    while not flag.exists():
        try:
            proc.wait(0.05)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError("the writer process ended before it started writing")
    return proc


def test_second_writer_gets_a_clear_error_and_killed_writer_leaves_index_usable(
    tmp_path: Path, docs: list[IndexDoc]
) -> None:
    SearchIndex(tmp_path / "index")  # create before the writer process starts
    proc = _start_writer(tmp_path)
    try:
        second = SearchIndex(tmp_path / "index", lock_timeout=0.2)
        with pytest.raises(LockedError, match="另一个 dangan 进程"):
            second.add(docs[:1])
        assert second.search("犇淼").total >= 0  # reading is never blocked
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # The kernel dropped the dead process's lock; its two committed batches survived.
    idx, rebuild = SearchIndex.open_or_create(tmp_path / "index")
    assert not rebuild
    done = idx.indexed_ids()
    assert done == {d.record_id for d in docs[:20]}
    assert idx.add(d for d in docs if d.record_id not in done) == len(docs) - 20
    assert idx.indexed_ids() == {d.record_id for d in docs}
    assert _ids(idx, SHOPS[0]) == _truth(docs, SHOPS[0])


def test_stale_lock_file_from_dead_process_does_not_block(
    tmp_path: Path, docs: list[IndexDoc]
) -> None:
    idx = SearchIndex(tmp_path / "index", lock_timeout=0.2)
    (tmp_path / "index.lock").write_text("pid 999999")  # left behind, nobody holds it
    assert idx.add(docs[:3]) == 3
    assert len(idx) == 3


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("王建国煙草 \n\t　ＡＢab1２,，。")), max_size=40).map("".join))
def test_snippet_offsets_follow_the_same_fold_as_the_index(text: str) -> None:
    folded, offsets = fold_with_map(text)
    assert folded == fold(text)
    assert len(offsets) == len(folded)
    assert all(0 <= o < len(text) for o in offsets)


def test_query_forms_clerks_type() -> None:
    parsed = parse("户名：“鑫垚 便民店” 日期:2010-02 類型:询问笔录")
    assert parsed.must == [
        Within("retailer", "鑫垚便民店"),
        DateRange(20100201, 20100228),
        Exact("doc_type", "询问笔录"),
    ]
    assert parse("日期:2010-01..").must == [DateRange(20100101, None)]
    assert parse("日期:2010年3月至2010年5月").must == [DateRange(20100301, 20100531)]
    assert parse("案号:潼煙罰［2011］第１２號").must == [Case("潼烟罚〔2011〕12号", "2011", "12")]
    with pytest.raises(QueryError, match="开始晚于结束"):
        parse("日期:2011..2010")


def test_closed_index_says_so(tmp_path: Path) -> None:
    idx = SearchIndex(tmp_path / "index")
    idx.close()
    with pytest.raises(ArchiveError, match="已关闭"):
        idx.search("王强")


def test_indexed_ids_beyond_one_aggregation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import indexers.search as search_mod

    monkeypatch.setattr(search_mod, "_AGG_LIMIT", 7)  # tantivy's real limit is 65,000
    docs = _records(60)
    docs[5].record_id = "not-hex-5"  # ids that are not sha256 hex still come back
    idx = SearchIndex(tmp_path / "index")
    idx.add(docs)
    idx.delete([docs[0].record_id])
    assert idx.indexed_ids() == {d.record_id for d in docs[1:]}
