"""The document types the archive knows, and how file names spell them."""

from __future__ import annotations

HOUSEHOLD_TYPES = (
    "零售许可证",
    "申请表",
    "身份证明",
    "营业执照",
    "经营场所证明",
    "实地核查记录",
    "准予许可决定书",
    "不予许可决定书",
    "送达回证",
    "变更申请",
    "延续申请",
    "停业申请",
    "歇业申请",
    "违规记录",
)
CASE_TYPES = (
    "立案报告表",
    "检查笔录",
    "现场笔录",
    "询问笔录",
    "先行登记保存通知书",
    "先行登记保存处理通知书",
    "行政处罚事先告知书",
    "行政处罚决定书",
    "送达回证",
    "结案报告",
    "案件移送书",
)
MEETING_DOC_TYPES = ("会议记录", "会议纪要", "签到表")
OTHER_TYPES = ("实施方案", "工作方案", "工作记录", "总结报告", "整改报告", "自查报告", "照片")

ALL_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys(HOUSEHOLD_TYPES + CASE_TYPES + MEETING_DOC_TYPES + OTHER_TYPES)
)

# Short forms clerks type in file names → the full type.
ALIASES = {
    "许可证": "零售许可证",
    "许可证副本": "零售许可证",
    "身份证": "身份证明",
    "执照": "营业执照",
    "核查记录": "实地核查记录",
    "准予决定": "准予许可决定书",
    "不予决定": "不予许可决定书",
    "回证": "送达回证",
    "立案": "立案报告表",
    "告知书": "行政处罚事先告知书",
    "处罚决定书": "行政处罚决定书",
    "决定书": "行政处罚决定书",
    "保存通知书": "先行登记保存通知书",
    "结案": "结案报告",
    "纪要": "会议纪要",
    "签到": "签到表",
}


def type_from_name(stem: str) -> str | None:
    """The document type a file name claims (longest full type first, then aliases)."""
    for name in sorted(ALL_TYPES, key=len, reverse=True):
        if name in stem:
            return name
    for alias in sorted(ALIASES, key=len, reverse=True):
        if alias in stem:
            return ALIASES[alias]
    return None


_BRACKETS = str.maketrans({"(": "（", ")": "）", "[": "（", "]": "）", "【": "（", "】": "）"})


def normalise_doc_type(name: str) -> str:
    """Compare-form of a document type: no spaces, one bracket width, 台账, no 《》 (how the
    audit matches a standard's evidence names, and intake a work material's title to them)."""
    s = "".join(name.split()).translate(_BRACKETS)
    return s.replace("台帐", "台账").replace("《", "").replace("》", "")


def doc_order(doc_type: str | None) -> int:
    """Position of a type in a dossier's 卷内目录 (the order the checklists list them in)."""
    for sequence in (HOUSEHOLD_TYPES, CASE_TYPES, MEETING_DOC_TYPES, OTHER_TYPES):
        if doc_type in sequence:
            return sequence.index(doc_type)
    return len(ALL_TYPES)


# Short names clerks use for meetings → the name the standard uses.
MEETING_ALIASES = {"支委会": "支部委员会", "专销联动会": "专销联动会议", "创建例会": "创建工作例会"}


def canonical_meeting(name: str | None) -> str | None:
    """The standard's name for a meeting type (``支委会`` → ``支部委员会``)."""
    if name is None:
        return None
    return MEETING_ALIASES.get(name, name)
