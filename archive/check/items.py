"""The items of a 四性检测 and their verdicts.

Items carry the numbers of DA/T 70-2018 表1 (归档环节, ``GD-<性>-<项>``): 1 真实性, 2 完整性,
3 可用性, 4 安全性. The same numbers are used for the archive and for a packet (the checks are
the same checks; what is checked is said in the report). The standard's text was not at hand
where this was written: the numbers follow archive-system vendors' implementations of the
table (GD-1-1 固化信息有效性 … GD-1-7 档号规范性, GD-1-8 重复性; GD-2-6 连续性元数据项;
GD-3-8 内容数据格式合规性 (加密, 非公开压缩); GD-4-1 杀毒软件, GD-4-2 病毒感染).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS, FAIL, NOT_DONE = "通过", "不通过", "未执行"
NATURES = {"1": "真实性", "2": "完整性", "3": "可用性", "4": "安全性"}

ITEMS: dict[str, str] = {
    "GD-1-1": "固化信息有效性检测 (数字摘要)",
    "GD-1-2": "元数据项数据长度检测",
    "GD-1-3": "元数据项数据类型、格式检测",
    "GD-1-4": "设定值域的元数据项值域符合度检测",
    "GD-1-5": "元数据项数据值合理性检测",
    "GD-1-6": "元数据项数据包含特殊字符检测",
    "GD-1-7": "档号规范性检测",
    "GD-1-8": "元数据项数据重复性检测",
    "GD-1-10": "内容数据的电子属性一致性检测 (文件名、大小、格式、页数、时间)",
    "GD-1-11": "元数据与内容关联检测 (存储位置)",
    "GD-2-1": "总件数相符性检测",
    "GD-2-2": "总字节数相符性检测",
    "GD-2-3": "元数据项完整性检测 (每个文件有其元数据)",
    "GD-2-4": "元数据必填著录项目检测",
    "GD-2-5": "过程信息完整性检测",
    "GD-2-6": "连续性元数据项检测 (件号)",
    "GD-2-7": "内容数据完整性检测 (每条元数据有其文件)",
    "GD-2-8": "附件数据完整性检测 (检索副本、归档副本)",
    "GD-2-11": "信息包内容数据完整性检测",
    "GD-3-1": "元数据的可读性检测",
    "GD-3-2": "目标数据库中的元数据可访问性检测",
    "GD-3-3": "内容数据格式检测 (GB/T 18894 长期保存格式)",
    "GD-3-4": "内容数据的可读性检测 (能打开、能显示)",
    "GD-3-8": "内容数据格式合规性检测 (加密、非公开压缩、未知格式)",
    "GD-4-1": "系统环境中是否安装杀毒软件检测",
    "GD-4-2": "病毒感染检测",
    "GD-4-4": "归档过程安全性检测",
}
MAX_LISTED = 200  # problems listed per item (the count is always exact)


@dataclass
class Item:
    """One item's outcome."""

    code: str
    checked: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)
    problem_count: int = 0
    not_done: str | None = None  # why it was not performed
    note: str = ""

    @property
    def name(self) -> str:
        return ITEMS[self.code]

    @property
    def nature(self) -> str:
        return NATURES[self.code.split("-")[1]]

    @property
    def verdict(self) -> str:
        if self.not_done is not None:
            return NOT_DONE
        return FAIL if self.problem_count else PASS

    def fail(self, where: str, detail: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append({"where": where, "detail": detail})

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "nature": self.nature,
            "name": self.name,
            "verdict": self.verdict,
            "checked": self.checked,
            "problem_count": self.problem_count,
            "problems": self.problems,
            "not_done": self.not_done,
            "note": self.note,
        }


@dataclass
class CheckReport:
    """A whole 四性检测: what was checked, when, and every item."""

    subject: str  # 档案库 or 验收包
    target: str
    at: str
    items: dict[str, Item] = field(default_factory=dict)

    def item(self, code: str) -> Item:
        if code not in self.items:
            self.items[code] = Item(code)
        return self.items[code]

    @property
    def ok(self) -> bool:
        return all(i.verdict != FAIL for i in self.items.values())

    def ordered(self) -> list[Item]:
        def key(code: str) -> tuple[int, ...]:
            return tuple(int(p) for p in code.split("-")[1:])

        return [self.items[c] for c in sorted(self.items, key=key)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "target": self.target,
            "at": self.at,
            "ok": self.ok,
            "items": [i.as_dict() for i in self.ordered()],
        }
