"""Bounded readers for the tables and documents the bureau hands in: XLSX, CSV, DOCX.

Every budget is decided before the work starts, from what the file says about itself (its
size on disk, a zip's table of contents), and checked again while reading (rows, the length
of a field), so that a hostile or broken file ends quickly with a reason, never in an hour
of work or gigabytes of memory:

- a file larger than :data:`MAX_TABLE_BYTES` is not opened;
- an Office file (a zip) whose parts would inflate past :data:`MAX_INFLATED_BYTES` in all,
  or one part by more than :data:`MAX_RATIO` times, or with more than
  :data:`MAX_MEMBERS` parts, is refused from its table of contents (a zip cannot inflate a
  part past the size its table gives: Python's reader stops there and checks the CRC);
- a sheet or CSV with more than ``max_rows`` rows is refused when row ``max_rows + 1`` is
  reached (the reading stops there);
- a CSV field longer than :data:`MAX_FIELD_CHARS`, or holding a line break (a quote left
  open swallows the rows after it), is refused naming the line where it starts.

Whatever the parser raises on a broken file (``zipfile.BadZipFile``, ``xml`` ``ParseError``,
``_csv.Error``, ``KeyError`` …) becomes a :class:`~archive.core.errors.ConfigError` naming
the file and the fix. Budgets refused are :class:`LimitExceeded`.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from archive.core.errors import ArchiveError, ConfigError, Problem, ValidationError

MAX_TABLE_BYTES = 64 * 1024 * 1024  # a roster of 100,000 households is about 15 MB
MAX_INFLATED_BYTES = 256 * 1024 * 1024  # every part of an Office file, inflated
MAX_RATIO = 200  # one part inflating more than this …
RATIO_FLOOR = 8 * 1024 * 1024  # … and to more than this is a bomb, not a spreadsheet
MAX_MEMBERS = 10_000
MAX_ROWS = 100_000  # rows of a roster, metrics or findings table
MAX_FIELD_CHARS = 32_768  # Excel's own limit for one cell


class LimitExceeded(ArchiveError):
    """A file is beyond a budget (size, inflation, rows, field length): refused unread."""

    exit_code = 15


def _mb(n: float) -> str:
    return f"{n / 1048576:.0f} MB" if n >= 1048576 else f"{n / 1024:.0f} KB"


def check_size(path: Path, limit: int = MAX_TABLE_BYTES, *, what: str = "文件") -> int:
    """The size of ``path``; :class:`LimitExceeded` when it is over ``limit``."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"{path}: 无法读取{what} ({exc.strerror}); 请检查路径和权限") from exc
    if size > limit:
        raise LimitExceeded(
            f"{path}: {what}有 {_mb(size)}, 超过上限 {_mb(limit)}; 请检查是否选错了文件, "
            "或拆分后分批导入"
        )
    return size


def check_zip(path: Path, *, what: str = "Office 文件") -> None:
    """Refuse a zip-based file (XLSX, DOCX) whose table of contents promises a bomb."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ConfigError(
            f"{path}: 不是完整的{what} ({type(exc).__name__}); 请用 Excel/Word 打开后另存再试"
        ) from exc
    if len(infos) > MAX_MEMBERS:
        raise LimitExceeded(f"{path}: {what}包含 {len(infos)} 个部件, 超过上限 {MAX_MEMBERS}")
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise LimitExceeded(
                f"{path}: {what}中的 {info.filename} 解压后 {_mb(info.file_size)}, "
                f"是压缩后的 {ratio:.0f} 倍 (上限 {MAX_RATIO} 倍), 疑为压缩炸弹; 已拒绝读取"
            )
    if total > MAX_INFLATED_BYTES:
        raise LimitExceeded(
            f"{path}: {what}解压后共 {_mb(total)}, 超过上限 {_mb(MAX_INFLATED_BYTES)}; "
            "请检查是否选错了文件, 或拆分后分批导入"
        )


def _too_many_rows(path: Path, max_rows: int) -> LimitExceeded:
    return LimitExceeded(
        f"{path}: 超过 {max_rows} 行, 超过上限; 请检查是否选错了文件或表格中有大量空行, 或拆分后分批导入"
    )


def read_xlsx_rows(
    path: Path,
    *,
    max_rows: int = MAX_ROWS,
    sheet: int = 0,
) -> list[list[Any]]:
    """The cell values of one sheet, row by row, within the budgets (read-only, values)."""
    check_size(path, what="Excel 文件")
    check_zip(path, what="Excel 文件")
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a bad file
        raise ConfigError(
            f"{path}: 无法作为 Excel 文件打开 ({type(exc).__name__}); 请用 Excel 另存为 .xlsx 再试"
        ) from exc
    try:
        if sheet >= len(workbook.worksheets):
            raise ConfigError(f"{path}: 没有第 {sheet + 1} 个工作表")
        rows: list[list[Any]] = []
        for row in workbook.worksheets[sheet].iter_rows(values_only=True):
            if len(rows) >= max_rows:
                raise _too_many_rows(path, max_rows)
            rows.append(list(row))
        return rows
    except ArchiveError:
        raise
    except Exception as exc:  # a damaged sheet fails only when it is read (ParseError …)
        raise ConfigError(
            f"{path}: Excel 文件内容已损坏, 第 {len(rows) + 1} 行附近无法读取 "
            f"({type(exc).__name__}); 请用 Excel 打开后另存再试"
        ) from exc
    finally:
        workbook.close()


def decode_table_text(path: Path, data: bytes) -> str:
    """A text table's bytes as text: UTF-8 (with or without BOM) or GBK as Excel writes it."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ConfigError(f"{path}: 编码无法识别 (应为 UTF-8 或 GBK); 请用 Excel 另存为 CSV UTF-8")


class _BrokenCsv(Exception):
    def __init__(self, line: int, detail: str) -> None:
        super().__init__(detail)
        self.line = line


def _csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) of each CSV record; :class:`_BrokenCsv` naming the line where
    the record that cannot be parsed starts."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _BrokenCsv(start, str(exc)) from exc
        yield start, fields
        start = reader.line_num + 1


def _csv_reason(detail: str) -> str:
    if "field larger than field limit" in detail:
        return f"字段超过 {MAX_FIELD_CHARS} 个字符, 可能有未闭合的引号"
    if "unexpected end of data" in detail:
        return "引号未闭合, 直到文件末尾"
    if "expected after" in detail:
        return "引号后紧跟了其他字符, 引号不成对"
    return detail


def read_csv_rows(path: Path, *, max_rows: int = MAX_ROWS) -> list[list[str]]:
    """The rows of a CSV file within the budgets; every field on one line (a line break in a
    field means a quote left open, which would swallow the rows after it)."""
    check_size(path, what="CSV 文件")
    text = decode_table_text(path, path.read_bytes())
    rows: list[list[str]] = []
    problems: list[Problem] = []
    previous = csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        records = _csv_records(text)
        while True:
            try:
                line, fields = next(records)
            except StopIteration:
                break
            except _BrokenCsv as exc:
                problems.append(
                    Problem(
                        exc.line,
                        "CSV 格式",
                        "成对的引号, 每条记录占一行",
                        f"从此行起无法解析 ({_csv_reason(str(exc))})",
                    )
                )
                break
            if len(rows) >= max_rows:
                raise _too_many_rows(path, max_rows)
            for field in fields:
                if "\n" in field or "\r" in field:
                    swallowed = field.count("\n") + 1
                    problems.append(
                        Problem(
                            line,
                            "引号",
                            "成对的引号 (每条记录占一行)",
                            f"从此行起引号未闭合, 其后 {swallowed - 1} 行被并入一个字段: "
                            + field[:40].replace("\n", "⏎"),
                        )
                    )
                    break
            rows.append(fields)
    finally:
        csv.field_size_limit(previous)
    if problems:
        raise ValidationError(str(path), problems)
    return rows


def open_docx(path: Path) -> Any:
    """A python-docx document, within the budgets."""
    check_size(path, what="Word 文件")
    check_zip(path, what="Word 文件")
    import docx

    try:
        return docx.Document(str(path))
    except Exception as exc:  # python-docx raises many kinds for a bad file
        raise ConfigError(
            f"{path}: 无法作为 Word 文档打开 ({type(exc).__name__}); 请用 Word 另存为 .docx 再试"
        ) from exc
