"""The month calendar, one definition for every package: a period is a month ``YYYY-MM`` (DESIGN
"Money and time"), and these are the only month sums closeboard does in Python.

A plain module like ``connectors.plain``: it imports nothing of closeboard's, so the warehouse and
the reports may use it without pointing back up the flow. (tests/reference.py keeps its own: it is
the independent reference.)
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date, timedelta

_PERIOD = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])")


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    """(year, month) `months` months after (before, when negative) `year`-`month`."""
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


def parse(period: str) -> tuple[int, int]:
    """(year, month) of a period ``YYYY-MM``; a ValueError naming it otherwise."""
    if not isinstance(period, str) or not _PERIOD.fullmatch(period):
        raise ValueError(f"not a period (YYYY-MM): {period!r}")
    return int(period[:4]), int(period[5:])


def period_of(day: date) -> str:
    """The period holding `day`."""
    return f"{day.year:04d}-{day.month:02d}"


def shift(period: str, months: int) -> str:
    """The period `months` months after `period` (before it, when negative): shift("2026-01", -1) is
    "2025-12"."""
    year, month = add_months(*parse(period), months)
    return f"{year:04d}-{month:02d}"


def month_start(period: str) -> date:
    """The first day of `period`."""
    year, month = parse(period)
    return date(year, month, 1)


def month_end(period: str) -> date:
    """The last day of `period`."""
    year, month = parse(period)
    return date(year, month, calendar.monthrange(year, month)[1])


def months_between(first: str, last: str) -> int:
    """How many months `last` lies after `first` (negative when before): months_between("2025-11",
    "2026-02") is 3, so shift(first, months_between(first, last)) == last."""
    (y0, m0), (y1, m1) = parse(first), parse(last)
    return (y1 - y0) * 12 + m1 - m0


def period_range(first: str, last: str) -> list[str]:
    """Every period from `first` to `last`, both included (none when `last` is before `first`)."""
    return [shift(first, k) for k in range(months_between(first, last) + 1)]


def month_ends(from_period: str, through: date) -> list[date]:
    """Month-end dates from the month before `from_period` (the opening balances) to the month of
    `through`, whose date is `through` itself (the open month is read as at that day)."""
    return [min(month_end(p), through) for p in period_range(shift(from_period, -1), period_of(through))]


def fiscal_year_start(day: date, start_month: int) -> date:
    """The first day of the fiscal year (starting in `start_month`) that holds `day`."""
    return date(day.year if day.month >= start_month else day.year - 1, start_month, 1)


def windows(periods: Iterable[str]) -> list[tuple[str, str]]:
    """Months ('YYYY-MM') and days ('YYYY-MM-DD') as inclusive (date_from, date_to) ISO windows, each run
    of them that follows on without a gap as one."""
    runs: list[list[date]] = []
    for period in sorted(periods):
        first, last = (
            (date.fromisoformat(period),) * 2 if len(period) == 10 else (month_start(period), month_end(period))
        )
        if runs and runs[-1][1] + timedelta(days=1) == first:
            runs[-1][1] = last
        else:
            runs.append([first, last])
    return [(first.isoformat(), last.isoformat()) for first, last in runs]
