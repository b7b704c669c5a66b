"""The Chinese analyzer of dangan's full-text index.

Two token streams are made from every searchable text:

* **characters** (field ``chars``): the text is *folded* (full-width forms to ASCII,
  upper to lower case, traditional to simplified characters, whitespace between two
  Chinese characters dropped, any other whitespace run made one ``␣``) and every
  remaining character is one token at its own position.  A query term is folded the
  same way and searched as a phrase of its characters, so any run of two or more
  characters is found -- a retailer's name no dictionary knows, a village, a brand,
  the last digits of a number -- exactly where plain substring search over the folded
  text would find it (recall and precision both complete).
* **words** (field ``words``): jieba's words of the folded text.  They are only used to
  *rank*: a document where the query is a whole word scores above one where the same
  characters are part of a longer word.

The folding is the single definition of "the same text" for index, query and
highlighter; :func:`fold_with_map` gives the same string plus, for every folded
character, the offset of the character it came from, so snippets are cut from the
original text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

#: Chinese characters (CJK unified ideographs incl. extensions, compatibility ideographs, 〇).
CJK_CLASS = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK_RE = re.compile(f"[{CJK_CLASS}]")
#: Whitespace that separates two Chinese characters: OCR and layout artefacts, dropped.
_CJK_GAP_RE = re.compile(f"(?<=[{CJK_CLASS}])\\s+(?=[{CJK_CLASS}])")
_SPACE_RE = re.compile(r"\s+")
#: What a run of whitespace not between two Chinese characters becomes (one token).
SPACE_MARK = "\u2423"

#: The regex the index's character tokenizer uses (Rust regex syntax): every non-space
#: character of folded text is a token.
CHAR_TOKEN_PATTERN = r"\S"


def _width_table() -> dict[int, int]:
    table: dict[int, int] = {}
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII forms
        table[code] = code - 0xFEE0
    table[0x3000] = 0x20  # ideographic space
    for code in range(ord("A"), ord("Z") + 1):
        table[code] = code + 32
    for code in range(0xFF21, 0xFF3B):  # full-width A-Z to ASCII a-z
        table[code] = code - 0xFEE0 + 32
    return table


_WIDTH = _width_table()
_NEEDS_WIDTH = re.compile("[A-Z\u3000\uff01-\uff5e]")


class _T2S:
    """OpenCC's traditional→simplified converter, loaded once per process."""

    _lock = threading.Lock()
    _converter: Any = None

    @classmethod
    def convert(cls, text: str) -> str:
        if cls._converter is None:
            with cls._lock:
                if cls._converter is None:
                    import opencc

                    cls._converter = opencc.OpenCC("t2s")
        out: str = cls._converter.convert(text)
        return out


def _fold_chars(text: str) -> str:
    """Length-preserving part of the fold: width, case, traditional→simplified."""
    if _NEEDS_WIDTH.search(text):
        text = text.translate(_WIDTH)
    if not text.isascii():
        converted = _T2S.convert(text)
        # t2s is character-for-character in practice; if a phrase rule ever changed the
        # length, keep the unconverted text so that offsets stay exact.
        if len(converted) == len(text):
            text = converted
    return text


def fold(text: str) -> str:
    """The normalised form of *text* that both the index and the query see."""
    text = _fold_chars(text)
    text = _CJK_GAP_RE.sub("", text)
    return _SPACE_RE.sub(SPACE_MARK, text).strip(SPACE_MARK)


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """:func:`fold` plus, for each folded character, its offset in *text*."""
    chars = _fold_chars(text)
    out: list[str] = []
    offsets: list[int] = []
    prev, n = 0, len(chars)
    for m in _SPACE_RE.finditer(chars):
        start, end = m.span()
        out.append(chars[prev:start])
        offsets.extend(range(prev, start))
        prev = end
        if start == 0 or end == n:  # leading and trailing whitespace: stripped
            continue
        if _CJK_RE.match(chars[start - 1]) and _CJK_RE.match(chars[end]):
            continue  # between two Chinese characters: dropped
        out.append(SPACE_MARK)
        offsets.append(start)
    out.append(chars[prev:])
    offsets.extend(range(prev, n))
    return "".join(out), offsets


def char_tokens(folded: str) -> list[str]:
    """The character tokens of already folded text (what the index's tokenizer makes)."""
    return list(folded)


def is_cjk(ch: str) -> bool:
    """True for a Chinese character."""
    return bool(_CJK_RE.fullmatch(ch))


class _Jieba:
    """jieba's segmenter (rjieba: jieba-rs, the same dictionary and the same cuts as the
    Python jieba, its dictionary loaded in about a tenth of a second instead of one), loaded
    once per process."""

    _lock = threading.Lock()
    _cut: Callable[..., list[str]] | None = None

    @classmethod
    def get(cls) -> Callable[..., list[str]]:
        if cls._cut is None:
            with cls._lock:
                if cls._cut is None:
                    import rjieba

                    rjieba.cut("档案")  # the dictionary is built on the first cut
                    cls._cut = rjieba.cut
        return cls._cut


def _word_stream(folded: str) -> Iterator[str]:
    for word in _Jieba.get()(folded, hmm=False):
        if len(word) >= 2 and (_CJK_RE.search(word) or word.isalnum()):
            yield word


def words(folded: str) -> list[str]:
    """jieba's words (two characters or more) of already folded text, for ranking."""
    return list(_word_stream(folded))


#: Longest word looked for in a query (jieba's words in the index are rarely longer).
MAX_QUERY_WORD = 8


def segment(folded: str, known: Callable[[str], bool]) -> tuple[str, ...]:
    """The ranking words of a folded query term, cut by the index's own vocabulary.

    Forward longest match: at each position the longest piece (2 to :data:`MAX_QUERY_WORD`
    characters) that ``known`` says is a word of some indexed document, else one character
    on. The documents' words came from jieba, so the query is cut the way they were, and the
    query needs no dictionary: a command-line search does not load jieba's.
    A term with no known word ranks by itself (when it has two characters or more).
    """
    found: list[str] = []
    i, n = 0, len(folded)
    while i < n:
        for j in range(min(n, i + MAX_QUERY_WORD), i + 1, -1):
            if known(folded[i:j]):
                found.append(folded[i:j])
                i = j
                break
        else:
            i += 1
    words = tuple(dict.fromkeys(found))
    return words if words else ((folded,) if len(folded) >= 2 else ())


def warm_up() -> None:
    """Load jieba's dictionary and OpenCC now instead of on the first document."""
    _Jieba.get()
    _T2S.convert("臺")


def _hit_spans(folded: str, words: list[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for word in set(words):
        if not word:
            continue
        start = folded.find(word)
        while start >= 0:
            spans.append((start, start + len(word)))
            start = folded.find(word, start + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def make_snippet(text: str, words: list[str], width: int = 80) -> str:
    """A one-line extract of *text* around the densest matches, each marked 【…】.

    *words* are folded query words; matching is done on the folded text and the extract
    is cut from the original, so traditional characters or full-width digits in the
    record show as written.
    """
    return mark(snippet_parts(text, words, width))


def mark(parts: list[tuple[str, bool]]) -> str:
    """Pieces of :func:`snippet_parts` as one line, matches in 【…】 (for the command line)."""
    return "".join(f"【{part}】" if hit else part for part, hit in parts)


def snippet_parts(text: str, words: list[str], width: int = 80) -> list[tuple[str, bool]]:
    """The extract of :func:`make_snippet` as (text, is_match) pieces, for a page that marks
    matches itself (and escapes the text: a record may contain 【】 or markup)."""
    spans, offsets = _spans(text, words)
    if not spans or not offsets:
        flat = " ".join(text.split())
        return _tidy([(flat[:width] + ("…" if len(flat) > width else ""), False)])
    best_i, best_n = 0, 0
    for i, (s, _) in enumerate(spans):  # window with the most matches
        n = sum(1 for s2, _ in spans[i:] if s2 < s + width)
        if n > best_n:
            best_i, best_n = i, n
    first = spans[best_i][0]
    lo = max(0, offsets[first] - width // 4)
    hi = min(len(text), lo + width)
    out: list[tuple[str, bool]] = []
    lead = "…" if lo > 0 else ""
    pos = lo
    for s, e in spans[best_i:]:
        os_, oe = offsets[s], offsets[e - 1] + 1
        if os_ >= hi:
            break
        out += [(lead + text[pos:os_], False), (text[os_:oe], True)]
        lead = ""
        pos = oe
    tail = text[pos : max(hi, pos)]
    out.append((lead + tail + ("…" if max(hi, pos) < len(text) else ""), False))
    return _tidy(out)


def highlight(text: str, words: list[str]) -> list[tuple[str, bool]]:
    """All of *text* (a name, a title) as (text, is_match) pieces."""
    spans, offsets = _spans(text, words)
    out: list[tuple[str, bool]] = []
    pos = 0
    for s, e in spans if offsets else ():
        os_, oe = offsets[s], offsets[e - 1] + 1
        out += [(text[pos:os_], False), (text[os_:oe], True)]
        pos = oe
    out.append((text[pos:], False))
    return _tidy(out)


def _spans(text: str, words: list[str]) -> tuple[list[tuple[int, int]], Sequence[int]]:
    """Where *words* match: spans in *text* itself or in its fold, and the map back."""
    offsets: Sequence[int] = range(len(text))
    spans = _hit_spans(text, words)  # fast path: the words occur as written
    if not spans:
        folded, offsets = fold_with_map(text)
        spans = _hit_spans(folded, words)
    return spans, offsets


def _tidy(parts: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Whitespace runs made one space, none at the ends, empty pieces dropped."""
    out: list[tuple[str, bool]] = []
    for part, hit in parts:
        part = _SPACE_RE.sub(" ", part)
        if out and out[-1][0].endswith(" ") and part.startswith(" "):
            part = part[1:]
        if not out:
            part = part.lstrip()
        if not part:
            continue
        if out and out[-1][1] == hit:
            out[-1] = (out[-1][0] + part, hit)
        else:
            out.append((part, hit))
    if out:
        last, hit = out[-1]
        out[-1] = (last.rstrip(), hit)
        if not out[-1][0]:
            out.pop()
    return out
