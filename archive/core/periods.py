"""Periods a standard counts in: months, quarters, the year; their ends, names and dues."""

from __future__ import annotations

import datetime as dt
from calendar import monthrange


def period_end(year: int, period: str, n: int) -> dt.date:
    """The last day of month/quarter ``n`` of ``year`` (the year's last day for "year")."""
    if period == "month":
        return dt.date(year, n, monthrange(year, n)[1])
    if period == "quarter":
        return dt.date(year, n * 3, monthrange(year, n * 3)[1])
    return dt.date(year, 12, 31)


def period_numbers(period: str) -> list[int]:
    """The periods of a year: months 1-12, quarters 1-4, or [0] for the year itself."""
    return list(range(1, 13)) if period == "month" else [1, 2, 3, 4] if period == "quarter" else [0]


def period_label(year: int, period: str, n: int) -> str:
    """ "2024年3月", "2024年第一季度", "2024年"."""
    if period == "month":
        return f"{year}年{n}月"
    if period == "quarter":
        return f"{year}年第{'一二三四'[n - 1]}季度"
    return f"{year}年"


def is_due(year: int, period: str, n: int, as_of: dt.date) -> bool:
    """Whether the period has ended on ``as_of`` (the year is due all year)."""
    if period == "year":
        return year <= as_of.year
    return period_end(year, period, n) <= as_of
