"""Evidence rules read from a criterion's wording, only where it says them plainly.

每月召开…会议 → a monthly meeting; 一户一档…达到95%以上 → a dossier rate; …率达到98%
→ a metric; 实施方案/自查报告 … → documents. Anything vaguer is left ``manual`` for a
person to judge: a wrong rule would score the bureau on something the standard never said.
"""

from __future__ import annotations

import re
from typing import Any

from archive.assess.metrics import find_metric
from archive.core.yaml_lines import FlowDict

_FREQ = {"每月": "month", "每个月": "month", "每季度": "quarter", "每季": "quarter", "每年": "year"}
_MEETING_SUFFIX = r"(?:会议|大会|例会|座谈会|联席会|协作会|听证会|委员会|支委会|民主生活会|党课)"
_MEETING_ALIASES = {
    "支部党员大会": "党员大会",
    "党员会": "党员大会",
    "支部委员会": "支委会",
    "支委会议": "支委会",
    "支部委员会议": "支委会",
}
_VERBS = ("召开", "组织", "举行", "开展", "定期", "按时", "坚持", "至少", "一次", "上")
_CN_COUNT = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_FREQ_RE = "|".join(sorted(_FREQ, key=len, reverse=True))
_MEET_AFTER = re.compile(
    rf"(?P<freq>{_FREQ_RE})(?:至少)?(?:召开|举行|组织召开|组织|开展|上)?"
    rf"(?:(?P<n>[一两二三四五六\d])次)?(?:召开|举行)?"
    rf"(?P<name>[\u4e00-\u9fff]{{0,10}}?{_MEETING_SUFFIX})"
)
_MEET_BEFORE = re.compile(
    rf"(?P<name>[\u4e00-\u9fff]{{0,10}}?{_MEETING_SUFFIX})(?:要|应|须|必须)?"
    rf"(?P<freq>{_FREQ_RE})(?:至少)?(?:召开|举行|上)?(?:(?P<n>[一两二三四五六\d])次)?"
)
_PERCENT = re.compile(
    r"(?P<pre>≥|>=|≤|<=|不低于|不少于|不高于|不超过|低于|达到|达|为|在|超过)?\s*"
    r"(?P<num>\d+(?:\.\d+)?)\s*[%％]\s*(?P<post>以上|以下|及以上|以内)?"
)
_HOURS = re.compile(
    r"(?P<pre>不少于|不低于|至少|达到)\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>课时|学时|小时)"
)
_RATE_NAME = re.compile(
    r"([\u4e00-\u9fff]{2,10}?率)\s*(?:均|要|应|须|必须)?(?:达到|达|为|不低于|在|≥|>=)?\s*$"
)
_KNOWN_DOCS = ("实施方案", "自查报告", "总结报告", "整改报告")
_CLAUSE = re.compile(r"[，,；;。]")


def _meeting_name(raw: str) -> str:
    name = raw
    changed = True
    while changed:
        changed = False
        for v in _VERBS:
            if name.startswith(v) and len(name) > len(v) + 1:
                name = name[len(v) :]
                changed = True
    for f in _FREQ:
        name = name.replace(f, "")
    return _MEETING_ALIASES.get(name, name)


def _infer_meetings(text: str) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    if "三会一课" in text:
        for name, every in (("党员大会", "quarter"), ("支委会", "month"), ("党课", "quarter")):
            found[name] = {"kind": "meeting", "meeting": name, "every": every}
    for clause in _CLAUSE.split(text):
        for rx in (_MEET_AFTER, _MEET_BEFORE):
            for m in rx.finditer(clause):
                name = _meeting_name(m.group("name"))
                if len(name) < 2 or name in found:
                    continue
                every = _FREQ[m.group("freq")]
                n = m.group("n")
                count = int(n) if n and n.isdigit() else _CN_COUNT.get(n or "一", 1)
                if every == "year":
                    found[name] = {"kind": "meeting", "meeting": name, "min_per_year": count}
                else:
                    found[name] = {"kind": "meeting", "meeting": name, "every": every}
        if "听证会" in clause and "听证会" not in found:
            found["听证会"] = {"kind": "meeting", "meeting": "听证会", "min_per_year": 1}
    return list(found.values())


def _op(pre: str | None, post: str | None) -> str:
    if (pre or "") in ("≤", "<=", "不高于", "不超过", "低于") or (post or "") in ("以下", "以内"):
        return "<="
    return ">="


def plain_number(s: str) -> int | float:
    """ "5" → 5, "2.5" → 2.5: points and thresholds as a clerk writes them."""
    f = float(s)
    return int(f) if f.is_integer() else f


def _infer_metrics(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for clause in _CLAUSE.split(text):
        for rx in (_PERCENT, _HOURS):
            for m in rx.finditer(clause):
                before = clause[: m.start()]
                mdef = find_metric(before) or find_metric(clause)
                name = mdef.key if mdef else None
                if name is None and rx is _PERCENT:
                    rate = _RATE_NAME.search(before)
                    name = rate.group(1) if rate else None
                if name is None or any(e["metric"] == name for e in out):
                    continue
                out.append(
                    {
                        "kind": "metric",
                        "metric": name,
                        "op": _op(m.group("pre"), m.groupdict().get("post")),
                        "threshold": plain_number(m.group("num")),
                    }
                )
    return out


def _infer_dossiers(text: str, scoring: str) -> list[dict[str, Any]]:
    kind = None
    if "一户一档" in text:
        kind = "household"
    elif "案卷" in text and ("完整" in text or "齐全" in text) and "评查" not in text:
        kind = "case"
    if kind is None:
        return []
    threshold: int | float = 100
    m = _PERCENT.search(scoring) or _PERCENT.search(text)
    if m:
        threshold = plain_number(m.group("num"))
    return [
        {"kind": "dossier_rate", "dossier": kind, "threshold": threshold, "partial": "proportional"}
    ]


def _infer_documents(text: str) -> list[dict[str, Any]]:
    out = []
    for clause in _CLAUSE.split(text):
        for doc in _KNOWN_DOCS:
            idx = clause.find(doc)
            if idx < 0:
                continue
            period = "year"
            for word, per in _FREQ.items():
                if word in clause[:idx] and per != "year":
                    period = per
            if "月底" in clause[:idx] or "月末" in clause[:idx]:
                period = "month"
            out.append({"kind": "documents", "doc_types": [doc], "period": period})
    return out


def infer_evidence(text: str, scoring: str = "") -> list[dict[str, Any]] | str:
    """Evidence rules that the wording states plainly; ``"manual"`` when it states none."""
    found = (
        _infer_meetings(text)
        + _infer_dossiers(text, scoring)
        + _infer_metrics(text)
        + _infer_documents(text)
    )
    return [FlowDict(f) for f in found] or "manual"
