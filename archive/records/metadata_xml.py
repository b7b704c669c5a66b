"""Each 件's metadata as XML with the DA/T 46-2009 core elements (文书类电子文件元数据方案):
文件实体 (档号 and its parts, 内容描述, 形式特征, 存储位置, 电子属性, 数字摘要), 机构人员实体 (who
acted on it), 业务实体 (each event: 业务行为, 行为时间, 行为依据, 行为描述) and 实体关系 (a
re-scan that replaced it, the parts it was split into). Element names are the standard's
Chinese names; values are escaped by the XML writer. Made from the sidecar alone."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from archive.core.names import safe_component
from archive.records.store import write_bytes_atomic

_ACTIONS = {
    "received": "接收",
    "checked": "检测",
    "filed": "归档",
    "numbered": "编号",
    "stamped": "加盖归档章",
    "refiled": "重新归档",
    "typed": "确定类型",
    "moved": "移动",
    "corrected": "更正",
    "withdrawn": "撤出",
    "replaces": "替换",
    "split_from": "拆分",
    "destroyed": "销毁",
    "verified": "校验",
    "duplicate": "重复收件",
}


def _sub(parent: ET.Element, tag: str, value: Any = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attrs)
    if value is not None:
        node.text = str(value)
    return node


def metadata_element(side: dict[str, Any], path: str, bureau: str) -> ET.Element:
    """The DA/T 46 metadata of one 件 (``path``: where it is, ``records/…``)."""
    archival = side.get("archival") or {}
    keys = side.get("keys") or {}
    root = ET.Element("文书类电子文件元数据", {"标准": "DA/T 46-2009"})
    entity = _sub(root, "文件实体")
    _sub(entity, "聚合层次", "文件")
    source = _sub(entity, "来源")
    _sub(source, "立档单位名称", bureau)
    _sub(entity, "电子文件号", side.get("sha256"))
    _sub(entity, "档号", archival.get("code", ""))
    parts = _sub(entity, "档号构成")
    _sub(parts, "全宗号", archival.get("fonds", ""))
    _sub(parts, "年度", archival.get("year", ""))
    _sub(parts, "保管期限", archival.get("retention", ""))
    _sub(parts, "机构或问题", archival.get("org_name") or archival.get("org", ""))
    _sub(parts, "件号", archival.get("item", ""))
    content = _sub(entity, "内容描述")
    _sub(content, "题名", side.get("title") or "")
    _sub(content, "文件编号", keys.get("case_no") or "")
    _sub(content, "责任者", keys.get("retailer") or bureau)
    _sub(content, "日期", str(keys.get("date") or "").replace("-", ""))
    _sub(content, "文种", side.get("doc_type") or "")
    _sub(content, "密级", "")
    form = _sub(entity, "形式特征")
    _sub(form, "件数", 1)
    _sub(form, "页数", side.get("pages") or "")
    place = _sub(entity, "存储位置")
    _sub(place, "当前位置", path)
    electronic = _sub(entity, "电子属性")
    _sub(electronic, "格式信息", side.get("mime", ""))
    _sub(electronic, "计算机文件名", side.get("original_name", ""))
    _sub(electronic, "计算机文件大小", side.get("size", ""))
    _sub(entity, "数字摘要", side.get("sha256"), 算法="SHA-256")
    _sub(
        entity,
        "状态",
        {"withdrawn": "已撤出", "destroyed": "已销毁"}.get(side.get("status") or "", "在档"),
    )
    people = sorted({str(e["by"]) for e in side.get("events", []) if e.get("by")})
    agents = _sub(root, "机构人员实体")
    _sub(_sub(agents, "机构人员"), "机构人员名称", bureau)
    for person in people:
        _sub(_sub(agents, "机构人员", 机构人员类型="个人"), "机构人员名称", person)
    business = _sub(root, "业务实体")
    for event in side.get("events", []):
        act = _sub(business, "业务")
        _sub(act, "业务行为", _ACTIONS.get(str(event.get("event")), str(event.get("event"))))
        _sub(act, "行为时间", event.get("at", ""))
        _sub(act, "行为描述", event.get("detail", ""))
        if event.get("reason"):
            _sub(act, "行为依据", event["reason"])
        if event.get("by"):
            _sub(act, "机构人员名称", event["by"])
    relations = _sub(root, "实体关系")
    links = [("替换", side.get("replaces"))]
    withdrawn = side.get("withdrawn") or {}
    links += [("被替换为", s) for s in withdrawn.get("replaced_by") or []]
    links += [("拆分为", s) for s in withdrawn.get("split_into") or []]
    if side.get("split_from"):
        links.append(("拆分自", side["split_from"].get("sha256")))
    for kind, target in links:
        if target:
            rel = _sub(relations, "关系")
            _sub(rel, "关系类型", kind)
            _sub(rel, "被关联实体标识", target)
    return root


def export_metadata(
    sides: list[tuple[str, dict[str, Any]]], bureau: str, folder: Path
) -> list[Path]:
    """One XML file per 件 in ``folder``, named by its 档号 (or its SHA-256 when it has none)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path, side in sides:
        element = metadata_element(side, path, bureau)
        ET.indent(element)
        data = ET.tostring(element, encoding="utf-8", xml_declaration=True)
        code = (side.get("archival") or {}).get("code") or side["sha256"][:16]
        out = folder / f"{safe_component(code)}.xml"
        write_bytes_atomic(out, data)
        written.append(out)
    return written
