"""dangan's full-text index: tantivy behind a small interface the catalog and CLI call.

Chosen by measurement (docs/benchmarks.md, "Search"): whoosh-reloaded with character
bigrams built 268 records/s at 20,000 records (target: 300/s) before any word field;
tantivy 0.27 with per-character tokens builds more than 1,000 records/s *with* jieba
words and answers every query kind in milliseconds at 100,000 records.

* Chinese analysis: :mod:`indexers.analyzer` (character phrases for recall, jieba words
  for ranking); query syntax: :mod:`indexers.query`.
* Upsert and delete by record id, batched commits, the corpus streamed from an iterable.
  Every commit is atomic: a writer killed at any instant leaves the last commit intact,
  and :meth:`SearchIndex.indexed_ids` tells a resumed rebuild what is already in.
* The schema carries a version; an index written with another version (or unreadable)
  is emptied and reported as needing a full rebuild.
* One writer at a time: a second one waits up to ``lock_timeout`` seconds, then raises
  :class:`archive.core.errors.LockedError`.  The lock is an OS file lock, released by the
  kernel when its process dies, so a killed writer never leaves a stale lock.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import tantivy

from archive.core.errors import ArchiveError, LockedError
from indexers import analyzer
from indexers import query as ql
from indexers.analyzer import highlight, mark, snippet_parts
from indexers.query import suggest_names

__all__ = ["Hit", "IndexDoc", "SearchIndex", "SearchIndexError", "SearchResult"]

_META = "dangan-search.json"
#: Largest terms aggregation tantivy allows is 65,000 buckets.
_AGG_LIMIT = 60_000
_CHARS = "dangan_chars"


class SearchIndexError(ArchiveError):
    """The index on disk cannot be read or written (it can always be rebuilt)."""

    exit_code = 6


@dataclass
class IndexDoc:
    """One filed record as the index sees it."""

    record_id: str
    path: str
    dossier: str
    dossier_kind: str
    title: str
    doc_type: str | None
    licence_no: str | None
    case_no: str | None
    retailer: str | None
    household_class: str | None
    meeting_type: str | None
    date: str | None
    text: str
    seals: str | None = None  # the bodies on the document's seals, joined by ｜
    also_in: tuple[str, ...] = ()  # other dossiers it belongs to (the cases minutes name)


@dataclass
class Hit:
    """One found record; *snippet* marks the matched words with 【…】, *parts* is the same
    extract as (text, is_match) pieces for a page that marks them itself."""

    record_id: str
    path: str
    dossier: str
    doc_type: str | None
    date: str | None
    title: str
    score: float
    snippet: str
    archival_code: str | None = None  # 档号, filled in from the catalog by the caller
    parts: list[tuple[str, bool]] = field(default_factory=list, repr=False)
    retailer: str | None = None
    retailer_parts: list[tuple[str, bool]] = field(default_factory=list, repr=False)


@dataclass
class SearchResult:
    """Hits (best first), how many records matched, and names to try when none did."""

    hits: list[Hit]
    total: int
    suggestions: list[str] = field(default_factory=list)
    message: str = ""


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("record_id", tokenizer_name="raw", fast=True)
    sb.add_bytes_field("payload", stored=True)
    for name in ("chars", "head", "retailer", "meeting", "seal"):
        sb.add_text_field(name, tokenizer_name=_CHARS, index_option="position")
    sb.add_text_field("words", tokenizer_name="whitespace", index_option="freq")
    for name in (
        "dossier",
        "dossier_kind",
        "doc_type",
        "licence_no",
        "licence_tail",
        "case_no",
        "case_year",
        "case_serial",
        "household_class",
    ):
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("date", indexed=True, fast=True)
    return sb.build()


class _WriterLock:
    """An exclusive OS lock on a file beside the index; waits up to *timeout* seconds."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fh: IO[str] | None = None

    def __enter__(self) -> _WriterLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")
        deadline = time.monotonic() + self.timeout
        while not _try_lock(fh):
            if time.monotonic() >= deadline:
                fh.seek(0)
                holder = fh.read().strip() or "未知"
                fh.close()
                raise LockedError(
                    f"搜索索引 {self.path.parent} 正被另一个 dangan 进程写入（{holder}），"
                    f"等了 {self.timeout:g} 秒仍未结束：请等它完成后重试。"
                )
            time.sleep(0.05)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            _unlock(self._fh)
            self._fh.close()
            self._fh = None


def _try_lock(fh: IO[str]) -> bool:
    if sys.platform == "win32":  # pragma: no cover - Windows clerk PCs
        import msvcrt

        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fh: IO[str]) -> None:
    if sys.platform == "win32":  # pragma: no cover
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _read_stamp(meta: Path) -> Any:
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _date_int(value: str | None) -> int | None:
    if not value:
        return None
    digits = value.replace("-", "")[:8]
    return int(digits) if len(digits) == 8 and digits.isdigit() else None


def _to_document(doc: IndexDoc) -> tantivy.Document:
    d = tantivy.Document()
    d.add_text("record_id", doc.record_id)
    payload = {
        "record_id": doc.record_id,
        "path": doc.path,
        "dossier": doc.dossier,
        "doc_type": doc.doc_type,
        "date": doc.date,
        "title": doc.title,
        "retailer": doc.retailer,
        "text": doc.text,
    }
    d.add_bytes("payload", json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    head = analyzer.fold("｜".join(x for x in (doc.title, doc.retailer, doc.dossier) if x))
    body = analyzer.fold(
        "｜".join(
            x
            for x in (
                doc.title,
                doc.retailer,
                doc.doc_type,
                doc.meeting_type,
                doc.dossier,
                doc.text,
            )
            if x
        )
    )
    d.add_text("chars", body)
    d.add_text("head", head)
    d.add_text("words", " ".join(analyzer.words(body)))
    if doc.retailer:
        d.add_text("retailer", analyzer.fold(doc.retailer))
    if doc.seals:
        d.add_text("seal", analyzer.fold(doc.seals))
    if doc.meeting_type:
        d.add_text("meeting", analyzer.fold(doc.meeting_type))
        d.add_text("doc_type", analyzer.fold(doc.meeting_type))
    for dossier in (doc.dossier, *doc.also_in):
        d.add_text("dossier", ql.normalize_case(dossier) or analyzer.fold(dossier))
    d.add_text("dossier_kind", doc.dossier_kind)
    if doc.doc_type:
        d.add_text("doc_type", analyzer.fold(doc.doc_type))
    if doc.household_class:
        d.add_text("household_class", doc.household_class)
    if doc.licence_no:
        lic = analyzer.fold(doc.licence_no).replace(analyzer.SPACE_MARK, "")
        d.add_text("licence_no", lic)
        for k in range(4, len(lic)):
            d.add_text("licence_tail", lic[-k:])
    for number in dict.fromkeys(n for n in (doc.case_no, *doc.also_in) if n):
        case = ql.case_parts(number)
        if case is not None:
            d.add_text("case_no", case.canonical or number)
            d.add_text("case_year", case.year)
            d.add_text("case_serial", case.serial)
    day = _date_int(doc.date)
    if day is not None:
        d.add_integer("date", day)
    return d


class SearchIndex:
    """The full-text index in *directory* (derived data: it can always be rebuilt)."""

    SCHEMA_VERSION: int = 2  # 2: the seal field

    def __init__(self, directory: Path, *, lock_timeout: float = 10.0) -> None:
        self.directory = Path(directory)
        self.lock_timeout = lock_timeout
        self._lock_path = self.directory.with_name(self.directory.name + ".lock")
        self.needs_rebuild = False
        self._schema = _schema()
        self._index: tantivy.Index | None = self._open()

    @classmethod
    def open_existing(cls, directory: Path) -> SearchIndex:
        """Open the index for reading only: nothing is created, emptied or locked (a server
        beside the watcher); a missing or other-version index is refused with the fix."""
        index = cls.__new__(cls)
        index.directory = Path(directory)
        index.lock_timeout = 0.0
        index._lock_path = index.directory.with_name(index.directory.name + ".lock")
        index.needs_rebuild = False
        index._schema = _schema()
        fix = "请运行 dangan reindex 重建 (档案本身不受影响)"
        if _read_stamp(index.directory / _META) != cls._stamp():
            raise SearchIndexError(f"检索索引 {index.directory} 缺失或版本不符; {fix}")
        try:
            index._index = index._register(tantivy.Index.open(str(index.directory)))
        except (OSError, ValueError) as exc:
            raise SearchIndexError(f"检索索引 {index.directory} 无法读取 ({exc}); {fix}") from exc
        return index

    @classmethod
    def open_or_create(
        cls, directory: Path, *, lock_timeout: float = 10.0
    ) -> tuple[SearchIndex, bool]:
        """Open the index (creating it); the flag is True when a full rebuild is needed."""
        index = cls(directory, lock_timeout=lock_timeout)
        return index, index.needs_rebuild

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def _stamp(cls) -> dict[str, Any]:
        return {"schema_version": cls.SCHEMA_VERSION, "engine": "tantivy", "format": 1}

    @classmethod
    def peek(cls, directory: Path) -> int | None:
        """How many records the index holds, read without creating, locking or rebuilding
        anything; None when it is missing, of another version, or unreadable."""
        if _read_stamp(directory / _META) != cls._stamp():
            return None
        try:
            index = tantivy.Index.open(str(directory))
            index.reload()
            return int(index.searcher().num_docs)
        except (OSError, ValueError):
            return None

    def _open(self) -> tantivy.Index:
        meta = self.directory / _META
        if _read_stamp(meta) == self._stamp():
            try:
                return self._register(tantivy.Index.open(str(self.directory)))
            except (OSError, ValueError):
                pass  # unreadable: rebuilt below
        with _WriterLock(self._lock_path, self.lock_timeout):
            if _read_stamp(meta) == self._stamp():  # another process made it meanwhile
                try:
                    return self._register(tantivy.Index.open(str(self.directory)))
                except (OSError, ValueError):
                    pass
            if self.directory.exists():
                shutil.rmtree(self.directory)
            self.directory.mkdir(parents=True)
            index = self._register(tantivy.Index(self._schema, path=str(self.directory)))
            meta.write_text(json.dumps(self._stamp()), encoding="utf-8")
        self.needs_rebuild = True
        return index

    def _register(self, index: tantivy.Index) -> tantivy.Index:
        chars = tantivy.TextAnalyzerBuilder(
            tantivy.Tokenizer.regex(analyzer.CHAR_TOKEN_PATTERN)
        ).build()
        index.register_tokenizer(_CHARS, chars)
        return index

    # -- writing -------------------------------------------------------------------------

    def _writer(self) -> Any:
        try:
            return self._live().writer(heap_size=100_000_000, num_threads=1)
        except ValueError as exc:
            if "lock" in str(exc).lower():
                raise LockedError(
                    f"搜索索引 {self.directory} 正被另一个程序写入：请等它完成后重试。"
                ) from exc
            raise SearchIndexError(
                f"搜索索引 {self.directory} 无法写入（{exc}）：请运行 dangan reindex 重建。"
            ) from exc

    def _write(self, work: Any) -> int:
        self._live()
        with _WriterLock(self._lock_path, self.lock_timeout):
            writer = self._writer()
            try:
                count: int = work(writer)
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()
        self._live().reload()
        return count

    def add(self, docs: Iterable[IndexDoc], *, batch_size: int = 500) -> int:
        """Add or replace (by record id) *docs*, committing every *batch_size* records."""
        analyzer.warm_up()

        def work(writer: Any) -> int:
            count = 0
            for doc in docs:
                writer.delete_documents_by_term("record_id", doc.record_id)
                writer.add_document(_to_document(doc))
                count += 1
                if count % batch_size == 0:
                    writer.commit()
            return count

        return self._write(work)

    def delete(self, record_ids: Iterable[str]) -> int:
        """Remove records by id; returns how many of them were in the index."""
        searcher = self._searcher()

        def work(writer: Any) -> int:
            count = 0
            for rid in dict.fromkeys(record_ids):
                term = tantivy.Query.term_query(self._schema, "record_id", rid)
                if searcher.search(term, limit=1, count=True).count:
                    count += 1
                writer.delete_documents_by_term("record_id", rid)
            return count

        return self._write(work)

    def clear(self) -> None:
        """Remove every record (the schema stays)."""

        def work(writer: Any) -> int:
            writer.delete_all_documents()
            return 0

        self._write(work)

    # -- reading -------------------------------------------------------------------------

    def _live(self) -> tantivy.Index:
        if self._index is None:
            raise SearchIndexError(f"搜索索引 {self.directory} 已关闭：请重新打开后再用。")
        return self._index

    def _searcher(self) -> Any:
        index = self._live()
        index.reload()
        return index.searcher()

    def __len__(self) -> int:
        return int(self._searcher().num_docs)

    def indexed_ids(self) -> set[str]:
        """Ids of every record in the last commit (a resumed rebuild skips these)."""
        searcher = self._searcher()
        found: set[str] = set()
        if searcher.num_docs:
            self._collect_ids(searcher, "", found)
        return found

    def _collect_ids(self, searcher: Any, prefix: str, out: set[str]) -> None:
        """Ids starting with *prefix*: one terms aggregation per part of at most
        :data:`_AGG_LIMIT` records (tantivy refuses bigger ones), split by hex digit."""
        pattern = re.escape(prefix) + ".*"
        part = tantivy.Query.regex_query(self._schema, "record_id", pattern)
        count = int(searcher.search(part, limit=1, count=True).count)
        if count == 0:
            return
        if count <= _AGG_LIMIT:
            spec = {"ids": {"terms": {"field": "record_id", "size": count + 1}}}
            result = searcher.aggregate(part, spec)
            out.update(str(b["key"]) for b in result["ids"]["buckets"])
            return
        for ch in "0123456789abcdef":
            self._collect_ids(searcher, prefix + ch, out)
        other = re.escape(prefix) + "([^0-9a-f].*)?"  # ids that are not sha256 hex
        rest = tantivy.Query.regex_query(self._schema, "record_id", other)
        hits = searcher.search(rest, limit=max(1, count), count=False).hits
        for _, addr in hits:
            payload = json.loads(bytes(searcher.doc(addr).get_first("payload")).decode("utf-8"))
            out.add(payload["record_id"])

    def search(
        self,
        query: str,
        *,
        limit: int = 20,
        offset: int = 0,
        filters: Sequence[ql.Clause] = (),
        names: Sequence[str] | Callable[[], Sequence[str]] = (),
    ) -> SearchResult:
        """Run a clerk's query (see :mod:`indexers.query`), narrowed by *filters* (clauses
        that must also match); hits from *offset* on. *names*: the roster (or a function
        giving it, called only when nothing is found), for suggestions."""
        parsed = ql.parse(query)
        parsed.must.extend(filters)
        if parsed.empty:
            return SearchResult([], 0, [], "请输入要查找的内容，例如 户名、许可证号或案号。")
        searcher = self._searcher()
        tq = _build(self._schema, parsed, lambda word: searcher.doc_freq("words", word) > 0)
        window = {"limit": max(1, limit), "count": True, "offset": max(0, offset)}
        if parsed.has_text:
            found = searcher.search(tq, **window)
        else:
            found = searcher.search(tq, **window, order_by_field="date", order=tantivy.Order.Desc)
        hits = [
            self._hit(searcher, score if parsed.has_text else 0.0, addr, parsed.highlight)
            for score, addr in found.hits
        ]
        if found.count:
            return SearchResult(hits, int(found.count))
        suggestions = suggest_names(parsed.free_text(), names() if callable(names) else names)
        message = f"没有找到与“{query.strip()}”匹配的记录。"
        if suggestions:
            message += "您是不是要找：" + "、".join(suggestions) + "？"
        return SearchResult([], 0, suggestions, message)

    def _hit(self, searcher: Any, score: Any, addr: Any, words: list[str]) -> Hit:
        doc = searcher.doc(addr)
        data = json.loads(bytes(doc.get_first("payload")).decode("utf-8"))
        parts = snippet_parts(data["text"], words)
        retailer = data.get("retailer")
        return Hit(
            record_id=data["record_id"],
            path=data["path"],
            dossier=data["dossier"],
            doc_type=data["doc_type"],
            date=data["date"],
            title=data["title"],
            score=float(score) if isinstance(score, int | float) else 0.0,
            snippet=mark(parts),
            parts=parts,
            retailer=retailer,
            retailer_parts=highlight(retailer, words) if retailer else [],
        )

    def close(self) -> None:
        """Release the index (no writer is held between calls; nothing to flush)."""
        self._index = None

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chars_query(schema: tantivy.Schema, field_name: str, text: str) -> tantivy.Query:
    tokens: list[str | tuple[int, str]] = list(analyzer.char_tokens(text))
    if len(tokens) == 1:
        return tantivy.Query.term_query(schema, field_name, text)
    return tantivy.Query.phrase_query(schema, field_name, tokens)


Known = Callable[[str], bool]  # is this a word of some indexed document?


def _text_query(schema: tantivy.Schema, clause: ql.Text, known: Known) -> tantivy.Query:
    must = _chars_query(schema, "chars", clause.text)
    parts: list[tuple[Any, tantivy.Query]] = [(tantivy.Occur.Must, must)]
    parts.append(
        (
            tantivy.Occur.Should,
            tantivy.Query.boost_query(_chars_query(schema, "head", clause.text), 2.0),
        )
    )
    for word in analyzer.segment(clause.text, known):
        term = tantivy.Query.term_query(schema, "words", word, index_option="freq")
        parts.append((tantivy.Occur.Should, tantivy.Query.boost_query(term, 1.5)))
    return tantivy.Query.boolean_query(parts)


def _term(schema: tantivy.Schema, name: str, value: str) -> tantivy.Query:
    return tantivy.Query.term_query(schema, name, value, index_option="basic")


def _key_query(schema: tantivy.Schema, key: ql.Licence | ql.Case) -> tantivy.Query:
    if isinstance(key, ql.Licence):
        return _term(schema, "licence_no" if key.full else "licence_tail", key.digits)
    if key.canonical is not None:
        return _term(schema, "case_no", key.canonical)
    return tantivy.Query.boolean_query(
        [
            (tantivy.Occur.Must, _term(schema, "case_year", key.year)),
            (tantivy.Occur.Must, _term(schema, "case_serial", key.serial)),
        ]
    )


def _clause_query(schema: tantivy.Schema, clause: ql.Clause, known: Known) -> tantivy.Query:
    if isinstance(clause, ql.Text):
        return _text_query(schema, clause, known)
    if isinstance(clause, ql.Licence | ql.Case):
        return tantivy.Query.const_score_query(_key_query(schema, clause), 10.0)
    if isinstance(clause, ql.Exact):
        return tantivy.Query.const_score_query(_term(schema, clause.field, clause.value), 1.0)
    if isinstance(clause, ql.Within):
        return _chars_query(schema, clause.field, clause.text)
    if isinstance(clause, ql.DateRange):
        return tantivy.Query.range_query(
            schema, "date", tantivy.FieldType.Integer, clause.low, clause.high
        )
    texts = [(tantivy.Occur.Must, _text_query(schema, t, known)) for t in clause.text]
    key = tantivy.Query.const_score_query(_key_query(schema, clause.key), 10.0)
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Should, key), (tantivy.Occur.Should, tantivy.Query.boolean_query(texts))]
    )


def _build(schema: tantivy.Schema, parsed: ql.ParsedQuery, known: Known) -> tantivy.Query:
    parts: list[tuple[Any, tantivy.Query]] = [
        (tantivy.Occur.Must, _clause_query(schema, c, known)) for c in parsed.must
    ]
    if not parts:
        parts.append((tantivy.Occur.Must, tantivy.Query.all_query()))
    parts += [(tantivy.Occur.MustNot, _clause_query(schema, c, known)) for c in parsed.must_not]
    return tantivy.Query.boolean_query(parts)


def iter_batches(items: Iterable[IndexDoc], size: int) -> Iterator[list[IndexDoc]]:
    """Group *items* into lists of *size* (for callers that report progress per batch)."""
    batch: list[IndexDoc] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
