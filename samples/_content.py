"""The words on the sample pages: households, cases, meetings and the documents about them.

A small invented world of 潼关县 (area code 610522): retailers with 12-digit licence numbers,
penalty cases numbered like 潼烟罚〔2011〕第12号, and the bureau's meetings. Deterministic for a
given ``random.Random``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from samples._draw import Block

AREA_CODE = "610522"
BUREAU = "潼关县烟草专卖局"
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾田"
_GIVEN = "强伟芳娜敏静丽军磊洋勇艳杰娟涛明超秀霞平刚桂英华建国志文辉海红玉兰成林卫东"
_TOWNS = ("城关镇", "秦东镇", "太要镇", "桐峪镇", "代字营镇", "安乐镇")
_STREETS = ("东大街", "西大街", "金城大道", "风陵路", "南街村", "吊桥村", "港口路")
_SHOPS = ("便利店", "烟酒商店", "副食店", "超市", "商行", "百货部")
_STAFF = ("张进明", "郭胜利", "李卫东", "王建国", "刘志强", "陈红梅", "杨海涛", "赵文辉")
_ROOMS = ("局三楼会议室", "局二楼会议室", "城关所会议室", "局党员活动室")
MEETINGS = ("专销联动会议", "党员大会", "支部委员会", "创建工作例会", "联席会议")
_CN_DIGITS = "〇一二三四五六七八九"


@dataclass
class Doc:
    """One document's content: type, keys and per-page blocks."""

    doc_type: str
    name_type: str  # how a clerk names the file (folder type)
    group: str  # "licence" | "case" | "meeting" | "other"
    keys: dict[str, str]
    pages: list[list[Block]]
    seal: str | None = None


@dataclass
class _Household:
    licence: str
    name: str
    owner: str
    address: str
    phone: str


@dataclass
class _Case:
    number: str
    year: int
    household: _Household
    day: tuple[int, int, int]


def cn_date(y: int, m: int, d: int) -> str:
    """二〇一一年三月五日."""
    year = "".join(_CN_DIGITS[int(c)] for c in str(y))
    return f"{year}年{_cn_num(m)}月{_cn_num(d)}日"


def _cn_num(n: int) -> str:
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _CN_DIGITS[tens]
    return f"{head}十{_CN_DIGITS[ones] if ones else ''}"


def _date(y: int, m: int, d: int) -> str:
    return f"{y}年{m}月{d}日"


@dataclass
class World:
    rng: random.Random
    households: list[_Household] = field(default_factory=list)
    cases: list[_Case] = field(default_factory=list)
    _serials: set[int] = field(default_factory=set)

    def _person(self) -> str:
        r = self.rng
        given = "".join(r.choice(_GIVEN) for _ in range(r.choice((1, 2, 2))))
        return r.choice(_SURNAMES) + given

    def _day(self) -> tuple[int, int, int]:
        r = self.rng
        return r.choice((2010, 2011, 2011, 2012)), r.randint(1, 12), r.randint(1, 28)

    def household(self) -> _Household:
        """A new household now and then, else one already seen (several papers per dossier)."""
        if self.households and self.rng.random() < 0.35:
            return self.rng.choice(self.households)
        r = self.rng
        serial = r.randint(100001, 100999)
        while serial in self._serials:
            serial = r.randint(100001, 100999)
        self._serials.add(serial)
        owner = self._person()
        town = r.choice(_TOWNS)
        shop = f"潼关县{town[:-1]}{owner}{r.choice(_SHOPS)}"
        address = f"潼关县{town}{r.choice(_STREETS)}{r.randint(1, 188)}号"
        phone = f"13{r.randint(0, 9)}{r.randint(10000000, 99999999)}"
        h = _Household(f"{AREA_CODE}{serial}", shop, owner, address, phone)
        self.households.append(h)
        return h

    def case(self) -> _Case:
        if self.cases and self.rng.random() < 0.3:
            return self.rng.choice(self.cases)
        day = self._day()
        number = f"潼烟罚〔{day[0]}〕第{self.rng.randint(1, 60)}号"
        c = _Case(number, day[0], self.household(), day)
        self.cases.append(c)
        return c

    # ------------------------------------------------------------------ documents

    def document(self, doc_type: str, case: _Case | None = None) -> Doc:
        """A new paper of ``doc_type``; a case paper of ``case`` when one is given."""
        if doc_type in ("零售许可证", "申请表", "实地核查记录"):
            return self._licence_doc(doc_type)
        if doc_type in ("行政处罚决定书", "送达回证", "询问笔录"):
            return self._case_doc(doc_type, case)
        if doc_type in MEETINGS:
            return self._meeting(doc_type)
        return Doc(doc_type, doc_type, "other", {}, [[]])

    def _licence_doc(self, doc_type: str) -> Doc:
        h = self.household()
        y, m, d = self._day()
        keys = {"licence": h.licence, "name": h.name}
        if doc_type == "零售许可证":
            blocks = [
                Block("烟草专卖零售许可证", "title"),
                Block(f"许可证号:{h.licence}"),
                Block(f"企业名称:{h.name}"),
                Block(f"负责人:{h.owner}"),
                Block(f"经营地址:{h.address}"),
                Block("经营范围:卷烟零售、雪茄烟零售"),
                Block(f"有效期限:{_date(y, m, d)}至{_date(y + 5, m, d)}"),
                Block(f"发证机关:{BUREAU}"),
                Block(f"发证日期:{_date(y, m, d)}", "right"),
            ]
        elif doc_type == "申请表":
            blocks = [
                Block("烟草专卖零售许可证申请表", "title"),
                Block(f"申请人:{h.owner}  联系电话:{h.phone}"),
                Block(f"企业名称:{h.name}"),
                Block(f"经营地址:{h.address}"),
                Block(f"许可证号:{h.licence}"),
                Block("申请事项:新办  经营方式:零售"),
                Block("本人承诺所提交的材料真实有效,并遵守烟草专卖法律法规,依法诚信经营。"),
                Block(f"申请人签字:{h.owner}"),
                Block(f"申请日期:{_date(y, m, d)}", "right"),
            ]
        else:
            staff = self.rng.sample(_STAFF, 2)
            blocks = [
                Block("烟草专卖零售许可证实地核查记录", "title"),
                Block(f"许可证号:{h.licence}"),
                Block(f"申请人:{h.owner}  企业名称:{h.name}"),
                Block(f"经营地址:{h.address}"),
                Block(f"核查时间:{_date(y, m, d)}"),
                Block(f"核查人员:{staff[0]}、{staff[1]}"),
                Block(
                    "核查情况:经营场所固定,面积符合要求,与申请材料一致;周边五十米内无中小学校,"
                    "符合零售网点合理布局规划。"
                ),
                Block("核查结论:符合发证条件。"),
                Block(f"核查人签字:{staff[0]}", "right"),
            ]
        seal = BUREAU if doc_type == "零售许可证" else None  # the licence bears the bureau's seal
        return Doc(doc_type, doc_type, "licence", keys, [blocks], seal=seal)

    def _case_doc(self, doc_type: str, case: _Case | None = None) -> Doc:
        c = case or self.case()
        h = c.household
        y, m, d = c.day
        qty = f"{self.rng.randint(2, 80)}.{self.rng.randint(0, 9)}"
        keys = {"case": c.number, "licence": h.licence, "name": h.name}
        receipt = [
            Block("送达回证", "title"),
            Block(f"案号:{c.number}"),
            Block("送达文书:行政处罚决定书"),
            Block(f"受送达人:{h.owner}({h.name})"),
            Block(f"送达地点:{h.address}"),
            Block(f"送达时间:{_date(y, m, min(d + 3, 28))}"),
            Block(f"送达人:{self.rng.choice(_STAFF)}"),
            Block(f"受送达人签收:{h.owner}", "right"),
        ]
        if doc_type == "送达回证":
            return Doc(doc_type, doc_type, "case", keys, [receipt], seal=BUREAU)
        if doc_type == "行政处罚决定书":
            decision = [
                Block(BUREAU, "subtitle"),
                Block("行政处罚决定书", "title"),
                Block(c.number, "right"),
                Block(f"当事人:{h.owner}  许可证号:{h.licence}"),
                Block(f"经营地址:{h.address}"),
                Block(
                    f"经查,当事人于{_date(y, m, d)}在其经营场所{h.name}销售无标志外国卷烟"
                    f"{qty}条,违反了《中华人民共和国烟草专卖法实施条例》的规定。"
                ),
                Block("依据有关规定,本局决定:没收违法销售的卷烟,并处罚款。"),
                Block("如不服本决定,可在收到本决定书之日起六十日内申请行政复议。"),
                Block(BUREAU, "right"),
                Block(_date(y, m, min(d + 2, 28)), "right"),
            ]
            return Doc(doc_type, doc_type, "case", keys, [decision, receipt], seal=BUREAU)
        staff = self.rng.sample(_STAFF, 2)
        p1 = [
            Block("询问笔录", "title"),
            Block(f"案号:{c.number}"),
            Block(f"时间:{_date(y, m, d)}  地点:{h.address}"),
            Block(f"询问人:{staff[0]}  记录人:{staff[1]}"),
            Block(f"被询问人:{h.owner}  单位:{h.name}"),
            Block("问:我们是潼关县烟草专卖局的执法人员,现依法向你询问,你要如实回答,听清楚了吗?"),
            Block("答:听清楚了。"),
            Block(f"问:你的烟草专卖零售许可证号是多少?答:{h.licence}。"),
        ]
        p2 = [
            Block(f"问:店内查获的{qty}条卷烟是从哪里进的货?"),
            Block("答:是从外地流动人员处购进的,没有发票。"),
            Block("问:你还有什么需要补充的吗?答:没有了。"),
            Block("以上笔录我已看过,与我说的一致。"),
            Block(f"被询问人签字:{h.owner}", "right"),
        ]
        return Doc(doc_type, doc_type, "case", keys, [p1, p2])

    def _meeting(self, meeting_type: str) -> Doc:
        r = self.rng
        y, m, d = self._day()
        when = cn_date(y, m, d) if r.random() < 0.5 else _date(y, m, d)
        title = "专销联动会议纪要" if meeting_type == "专销联动会议" else f"{meeting_type}会议记录"
        people = r.sample(_STAFF, 5)
        topics = {
            "专销联动会议": "通报本月内管预警核查情况,研究零售户违规订货处理意见",
            "党员大会": "学习上级文件精神,讨论发展党员工作",
            "支部委员会": "研究本月党建工作安排,落实三会一课制度",
            "创建工作例会": "通报创建优秀县级局工作进展,查找薄弱环节",
            "联席会议": "与公安、工商部门协调打假破网专项行动",
        }
        blocks = [
            Block(title, "title"),
            Block(f"时间:{when}"),
            Block(f"地点:{r.choice(_ROOMS)}"),
            Block(f"主持人:{people[0]}"),
            Block(f"参加人员:{'、'.join(people[1:])}"),
            Block(f"记录人:{people[-1]}"),
            Block(f"议题:{topics[meeting_type]}。"),
            Block(
                f"会议内容:{people[0]}同志传达了市局有关要求,各部门负责人汇报了上月工作完成情况,"
                "会议对存在的问题逐条进行了分析,明确了整改措施和责任人。"
            ),
            Block(f"会议决定:下月{r.randint(1, 28)}日前完成整改并报局办公室备案。"),
        ]
        keys = {"meeting_type": meeting_type, "meeting_date": f"{y:04d}-{m:02d}-{d:02d}"}
        return Doc(meeting_type, meeting_type, "meeting", keys, [blocks])
