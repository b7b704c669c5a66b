"""The household roster (零售户名册) exported from the licence system: import and validate."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archive.core.bounded import read_csv_rows, read_xlsx_rows
from archive.core.config import Archive
from archive.core.errors import ArchiveError, Problem, ValidationError
from archive.core.keys import find_dates, is_valid_licence, to_halfwidth
from archive.core.names import safe_component
from archive.records.store import TOP_FOLDERS, write_bytes_atomic

CLASSES = ("守法经营户", "非重点监控户", "重点监控户")
FIELDS = ("licence_no", "name", "operator", "address", "class", "valid_from", "valid_to")
ROSTER_HEADER = ("许可证号", "户名", "经营者", "经营地址", "类别", "有效期起", "有效期止")

_ALIASES: dict[str, tuple[str, ...]] = {
    "licence_no": ("许可证号", "许可证编号", "许可证号码", "证号", "专卖许可证号"),
    "name": ("户名", "企业名称", "字号名称", "零售户名称", "店名", "名称", "商户名称"),
    "operator": ("经营者", "负责人", "经营者姓名", "法定代表人", "业主"),
    "address": ("经营地址", "地址", "经营场所", "经营场所地址"),
    "class": ("类别", "分类", "监管类别", "零售户类别", "管理类别"),
    "valid_from": ("有效期起", "有效期自", "发证日期", "有效期开始"),
    "valid_to": ("有效期止", "有效期至", "到期日期", "有效期截止", "有效期结束"),
    "validity": ("有效期限", "有效期"),
}
_REQUIRED = ("licence_no", "name")


def _norm_header(text: str) -> str:
    return re.sub(r"[\s:：*（）()]", "", to_halfwidth(str(text)))


def _map_headers(header: Sequence[Any], source: str) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = _norm_header(cell or "")
        for field, aliases in _ALIASES.items():
            if name in aliases and field not in mapping:
                mapping[field] = index
    missing = [f for f in _REQUIRED if f not in mapping]
    if missing:
        wanted = " / ".join(_ALIASES[f][0] for f in missing)
        raise ValidationError(
            source,
            [Problem(1, "表头", f"包含列 {wanted}", "、".join(str(h) for h in header if h))],
        )
    return mapping


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return to_halfwidth(str(value)).strip()


def _parse_date(text: str) -> dt.date | None:
    if not text:
        return None
    found = find_dates(text.replace("/", "-"))
    return found[0] if found else None


def _read_rows(path: Path) -> list[list[Any]]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx_rows(path)
    if suffix in (".csv", ".txt"):
        return list(read_csv_rows(path))
    raise ArchiveError(f"{path}: 不支持的名册格式 {suffix or '(无扩展名)'}; 请用 .csv 或 .xlsx")


def parse_roster(path: Path, area_codes: Sequence[str] = ()) -> list[dict[str, str | None]]:
    """Read and validate a roster; all problems are reported at once, nothing half-read."""
    rows = [r for r in _read_rows(path) if any(_cell_text(c) for c in r)]
    if not rows:
        raise ValidationError(
            str(path), [Problem(None, "内容", "至少一行表头和一行数据", "空文件")]
        )
    mapping = _map_headers(rows[0], str(path))
    problems: list[Problem] = []
    out: list[dict[str, str | None]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):

        def get(field: str, row: list[Any] = row) -> str:
            index = mapping.get(field)
            return _cell_text(row[index]) if index is not None and index < len(row) else ""

        licence = re.sub(r"\s", "", get("licence_no"))
        if not is_valid_licence(licence, area_codes):
            expected = "12位数字许可证号" + (
                f", 以 {'/'.join(area_codes)} 开头" if area_codes else ""
            )
            problems.append(Problem(number, "许可证号", expected, licence))
        elif licence in seen:
            problems.append(
                Problem(number, "许可证号", f"不重复 (第{seen[licence]}行已有)", licence)
            )
        else:
            seen[licence] = number
        name = get("name")
        if not name:
            problems.append(Problem(number, "户名", "非空", ""))
        klass = get("class")
        if klass and klass not in CLASSES:
            problems.append(Problem(number, "类别", "/".join(CLASSES), klass))
        start_text, end_text = get("valid_from"), get("valid_to")
        if not (start_text or end_text) and get("validity"):
            dates = find_dates(get("validity").replace("/", "-"))
            start_text = dates[0].isoformat() if dates else get("validity")
            end_text = dates[1].isoformat() if len(dates) > 1 else ""
        start, end = _parse_date(start_text), _parse_date(end_text)
        if start_text and start is None:
            problems.append(Problem(number, "有效期起", "日期, 如 2024-01-31", start_text))
        if end_text and end is None:
            problems.append(Problem(number, "有效期止", "日期, 如 2029-01-30", end_text))
        if start and end and end < start:
            problems.append(Problem(number, "有效期止", f"不早于有效期起 {start}", end_text))
        out.append(
            {
                "licence_no": licence,
                "name": name,
                "operator": get("operator") or None,
                "address": get("address") or None,
                "class": klass or None,
                "valid_from": start.isoformat() if start else None,
                "valid_to": end.isoformat() if end else None,
            }
        )
    if problems:
        raise ValidationError(str(path), problems)
    return out


def write_roster(path: Path, rows: Sequence[dict[str, str | None]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ROSTER_HEADER)
    for row in rows:
        writer.writerow([row[f] or "" for f in FIELDS])
    write_bytes_atomic(path, buffer.getvalue().encode("utf-8-sig"))


def load_roster(path: Path) -> list[dict[str, str | None]]:
    """The archive's own roster.csv (written by :func:`write_roster`)."""
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return [{f: (row[i] or None) for i, f in enumerate(FIELDS)} for row in rows if row]


def rename_household_folders(
    archive: Archive, rows: Sequence[dict[str, str | None]]
) -> list[tuple[str, str]]:
    """Give each household folder its retailer's name; returns (old, new) relative paths."""
    top = archive.records / TOP_FOLDERS["household"]
    if not top.is_dir():
        return []
    names = {r["licence_no"]: r["name"] for r in rows}
    moved: list[tuple[str, str]] = []
    for folder in sorted(top.iterdir()):
        licence = folder.name[:12]
        name = names.get(licence)
        if not folder.is_dir() or not name:
            continue
        wanted = f"{licence}_{safe_component(name)}"
        if folder.name != wanted and not (top / wanted).exists():
            os.rename(folder, top / wanted)
            moved.append(
                (
                    folder.relative_to(archive.records).as_posix(),
                    (top / wanted).relative_to(archive.records).as_posix(),
                )
            )
    return moved
