"""An example 整改情况报告 (rectification report) as an OfficialDocument, for the demo.

The wording follows the real 2010 rectification report in seed 001 (关于2009年创建优秀
县级局活动整改工作情况报告): the inspection and the notice, 一、组织领导, 二、整改情况
per area (the problem as the inspectors wrote it → measures → result), 特此报告, issuing
bureau and date.  Masked names in the seed (**) are filled with the demo county
(潼关县, under 渭南市) and the people are invented.  The figures here are the seed's
prose, not computed from an archive; real reports take theirs from the catalog.

``build_example_summary`` is a shorter 工作汇报 (campaign summary) with a figures table.
Run ``python -m samples.example_report OUT_DIR`` to write both as .docx and .pdf.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from archive.paperwork.officialdoc import (
    Attachment,
    Block,
    Heading,
    OfficialDocument,
    Paragraph,
    Table,
    format_doc_number,
)

BUREAU = "潼关县烟草专卖局"
UPPER = "渭南市烟草专卖局"

# (area, problem as the inspectors wrote it, measures, result, evidence)
FINDINGS: list[tuple[str, str, str, str, str]] = [
    (
        "班子建设",
        "“三会一课”制度及执行方面不规范。",
        "充实健全党支部“三会一课”工作制度，制定学习活动计划；支部党员大会定于2010年1月10日、"
        "4月14日、6月24日、10月8日召开，支部委员会每月召开，党课定于2010年2月18日、5月12日、"
        "8月16日、10月15日，从县委党校、市局政工科、县纪委、县委组织部聘请4名党课老师按期授课。",
        "党员会、支部会、党小组会议均已排定日程，按期召开并记录。",
        "三会一课制度、2010年学习活动计划、会议记录",
    ),
    (
        "企业文化",
        "企业文化建设计划资料欠缺，领导带头宣贯企业文化无照片等资料支撑。",
        "制定《企业文化建设三年规划》和《企业文化建设2010年工作计划》，提出强化领导、服务品牌"
        "宣贯培训、内训师培训、视觉识别系统宣贯、扶贫帮困五条措施；局长、副局长带头宣贯，"
        "副经理深入卷烟客户开展服务品牌宣贯培训。",
        "规划和年度计划已印发，宣贯活动留存照片。",
        "三年规划、年度计划、宣贯照片",
    ),
    (
        "队伍建设",
        "专卖人员档案不完整；职业技能鉴定工作计划及措施需进一步完善；专卖职业技能鉴定初级合格率"
        "为50%，没有达到80%以上的标准。",
        "按档案管理要求健全专卖人员档案，一人一档，专柜保存，并建立电子版；制定职业技能鉴定"
        "工作计划，落实参考人员，组织参加省市培训并自行组织培训，拓宽培训内容，建立培训制度。",
        "专卖人员档案已补齐；初级鉴定合格率目标由50%提升到80%以上。",
        "专卖人员档案、技能鉴定工作计划、培训记录",
    ),
    (
        "内管工作",
        "预警处理意见表述不准确，个别预警附件上传内容与预警内容不符；系统中内管制度备案内容与"
        "标题不符；营销备案不完整。",
        "规范预警处理和上报，按单品牌销量月预警、单品销量周预警、订单总量异常预警、属性频繁变动"
        "预警、零售户违规活动预警、零售户违规订货预警分类上报；组织内管人员业务培训；补齐日、"
        "月销售报表、每月自查方案、自查表、自查报告等备案资料。",
        "预警附件上传内容与预警内容一致，备案内容与标题相符。",
        "预警处理记录、培训记录、备案资料目录",
    ),
    (
        "市场监管",
        "行政处罚案卷电子卷宗、部分案卷缺附件；市管员工作日志未按时审批；12313举报电话方面"
        "痕迹资料缺失。",
        "补齐所有案卷附件；建立市管员工作日志审批制度；整理2010年12313举报电话资料，做到"
        "举报信息有台帐、有记录；与工商、公安、高速交警召开座谈会，出台联合打假工作方案。",
        "案卷附件齐全，工作日志按时审批，举报台帐建立。",
        "案卷目录、日志审批记录、举报台帐、联合打假工作方案",
    ),
    (
        "证件管理",
        "无证户档案建立需进一步完整；个别行政许可电子卷宗中工商营业执照上传附件不能清晰显示，"
        "附件标题与实际内容不符。",
        "将2009年以来发现的无证户全部建立档案；对相关行政许可电子卷宗中的营业执照重新扫描，"
        "确保上传附件显示清晰、附件标题与实际内容一致。",
        "无证户档案已建立，电子卷宗附件已重新扫描核对。",
        "无证户档案、重新扫描的许可电子卷宗",
    ),
]


def _rectification_blocks() -> list[Block]:
    blocks: list[Block] = []
    for area, problem, measures, result, _evidence in FINDINGS:
        blocks.append(Heading(2, f"{area}方面。"))
        blocks.append(Paragraph(problem, bold_lead="存在问题："))
        blocks.append(Paragraph(measures, bold_lead="整改措施："))
        blocks.append(Paragraph(result, bold_lead="整改结果："))
    return blocks


def build_example_report() -> OfficialDocument:
    """The example rectification report (a pure value: no archive access)."""
    blocks: list[Block] = [
        Paragraph(
            "2010年1月24日—1月26日，省局考核验收组对我局创建优秀县级局工作进行了严格的考核验收，"
            "并指出了工作中存在的问题和不足。3月8日，市局转发了《陕西省烟草专卖局关于对渭南市局"
            "创建优秀县级局工作的整改通知》。根据通知精神，我局确定专人负责，明确了具体工作负责人，"
            "制定了严格的整改落实措施，按照省局验收标准，逐条进行了完善整改，相关工作和资料、"
            "档案都得到了进一步的完善和健全。现将整改情况报告如下："
        ),
        Heading(1, "组织领导"),
        Paragraph(
            "3月9日，市局转发省局通知之后，局长召集由专卖、内管、营销等相关人员参加的创建优秀"
            "县级局工作整改专题会议，通报了我局存在的问题，充实加强了整改工作的组织领导，制定了"
            "整改工作的具体措施。主要是："
        ),
        Heading(
            2,
            "成立整改工作领导组。",
            run_in="组长由局长王建国担任，常务副组长李红梅，副组长赵志强。领导组下设整改工作"
            "办公室，确定王建国为整改工作第一责任人，具体分工见下表。",
        ),
        Table(
            columns=["整改方面", "责任人", "完成时限"],
            rows=[
                ["班子建设", "刘文斌", "2010年3月31日"],
                ["企业文化", "孙立新", "2010年3月31日"],
                ["队伍建设", "刘文斌", "2010年3月31日"],
                ["内管工作", "陈晓燕", "2010年3月20日"],
                ["市场监管", "周海涛", "2010年3月20日"],
                ["证件管理", "吴明", "2010年3月20日"],
            ],
            caption="表1 整改工作分工",
            widths=[2, 1.5, 2],
        ),
        Heading(
            2,
            "制定严格的工作措施。",
            run_in="所有整改工作必须按照省烟草专卖局考核验收细则高标准、高质量进行整改。",
        ),
        Heading(
            2,
            "严格督促把关。",
            run_in="所有整改工作完善健全后，由部门领导检查督促，分管副局长把关。",
        ),
        Heading(
            2,
            "组织复验。",
            run_in="整改工作结束后，由局长组织人员进行复验。通过一个月精心组织、严格整改，"
            "圆满完成了省局考核验收组提出的各项整改工作任务。",
        ),
        Heading(1, "整改情况"),
        Paragraph(
            "省局考核验收组在对我局创建优秀县级局的考核验收中，共提出六个方面的问题。验收之后，"
            "我局进行了认真的“复验”和“回头看”活动，对照省局验收标准逐一落实整改，情况如下："
        ),
        *_rectification_blocks(),
        Heading(1, "下一步工作"),
        Heading(3, "巩固整改成果。", run_in="每月对照考核验收评分标准开展自查，按月上报自查报告。"),
        Heading(3, "完善痕迹资料。", run_in="凡是评价标准中规定的条目都要有工作材料支撑。"),
    ]
    checklist = Table(
        columns=["问题", "措施", "结果", "证据"],
        rows=[
            [f"{area}：{problem}", measures, result, evidence]
            for area, problem, measures, result, evidence in FINDINGS
        ],
        caption="表2 整改问题清单",
        widths=[3, 4, 2.2, 2],
    )
    return OfficialDocument(
        title="关于2009年创建优秀县级局活动\n整改工作情况的报告",
        header_org=f"{BUREAU}文件",
        doc_number=format_doc_number("潼烟专", 2010, 6),
        addressee=f"{UPPER}：",
        blocks=blocks,
        closing="特此报告。",
        issuer=BUREAU,
        date=dt.date(2010, 3, 22),
        attachments=[Attachment("创建优秀县级局整改问题清单", [checklist])],
    )


# Figures as the seed's 2011 汇报 states them (seed 001); a real summary computes them.
SUMMARY_FIGURES: list[tuple[str, str, str]] = [
    ("辖区卷烟零售户", "513", "户"),
    ("其中：守法经营户", "473", "户"),
    ("非重点监控户", "26", "户"),
    ("重点监控户", "14", "户"),
    ("一季度办理行政处罚案件", "14", "起"),
    ("一季度查获违法卷烟", "700.2", "条"),
    ("联合整治无证经营专项行动", "2", "次"),
    ("查处和取缔无证经营户", "8", "户"),
    ("一季度累计培训", "4", "学时"),
]


def build_example_summary() -> OfficialDocument:
    """An example 工作汇报 (campaign summary) without 版头, with a figures table and
    run-in lead sentences ("一是……"), following the 2011 汇报 in seed 001."""
    blocks: list[Block] = [
        Paragraph(
            "我局按照市局关于优秀县级烟草专卖局创建活动的工作安排，以加强专卖建设和基础管理为"
            "重点，大力提升市场监管、内部监管、科学管理和队伍建设水平。现将今年1—4月份开展"
            "情况汇报如下："
        ),
        Heading(1, "创建优秀县局工作开展情况"),
        Heading(
            2,
            "健全组织机构，分工负责，确保工作顺利开展。",
            run_in="成立创建活动领导小组，由局长任组长，班子其他成员任副组长，各部门负责人为"
            "成员，并下设办公室；将班子建设、队伍建设、市场监管、内部专卖管理监督、证件管理、"
            "企业文化等创建内容分解到个人，责任到具体岗位。",
        ),
        Heading(2, "加强基础设施建设，完善各种工作制度"),
        Paragraph(
            "我局共有专卖管理人员8人，“双证”上岗率达到100%；参加技能鉴定8人，中级已通过4人，"
            "初级2人，通过率已经达到75%。",
            bold_lead="一是强化了硬件设施基础。",
        ),
        Paragraph(
            "坚持每季度进行一次案卷评查；按照“一户一档、立卷归档”的要求，全面清理了辖区513户"
            "零售户行政许可档案。主要数字见下表。",
            bold_lead="二是强化了行政执法质量基础。",
        ),
        Table(
            columns=["项目", "数量", "单位"],
            rows=[list(row) for row in SUMMARY_FIGURES],
            caption="表1 一季度主要工作数字",
            widths=[4, 1.5, 1],
            align=["left", "right", "center"],
        ),
        Heading(1, "存在的不足"),
        Heading(3, "思想认识还不够深入。", run_in="个别人员认为创建是临时性工作。"),
        Heading(
            3,
            "创建资料的内容还不够充实。",
            run_in="相互对应的痕迹资料还需要完善。",
        ),
        Heading(1, "下一步工作计划"),
        Heading(
            3,
            "完备资料，统一规范。",
            run_in="凡是评价标准中规定的条目都要有工作材料支撑，每个创建工作程序都要留存完整资料。",
        ),
    ]
    return OfficialDocument(
        title="2011年创建优秀县级局开展情况工作汇报",
        addressee=f"{UPPER}：",
        blocks=blocks,
        issuer=BUREAU,
        date=dt.date(2011, 4, 30),
    )


def main(argv: list[str] | None = None) -> int:
    from archive.paperwork.render_docx import render_docx
    from archive.paperwork.render_pdf import render_pdf

    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else Path("build/example")
    for name, doc in (
        ("整改情况报告", build_example_report()),
        ("工作汇报", build_example_summary()),
    ):
        for path in (
            render_docx(doc, out_dir / f"{name}.docx"),
            render_pdf(doc, out_dir / f"{name}.pdf"),
        ):
            sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
