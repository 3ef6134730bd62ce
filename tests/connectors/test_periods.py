"""The one month calendar (connectors/periods.py) against an independent count: walking day by day
with datetime, which knows nothing of `year * 12 + month` sums."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import periods

SETTINGS = settings(deadline=None, max_examples=50, derandomize=True, database=None)
DAYS = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


def _walk(day: date, months: int) -> str:
    """The period `months` months from `day`'s, by stepping over month boundaries one day at a time."""
    step = timedelta(days=1 if months >= 0 else -1)
    current, moved = day.replace(day=1), 0
    while moved != months:
        current += step
        while current.day != 1:
            current += step
        moved += 1 if months > 0 else -1
    return current.strftime("%Y-%m")


@SETTINGS
@given(DAYS, st.integers(min_value=-40, max_value=40))
def test_shift_and_months_between_agree_with_a_day_by_day_walk(day: date, months: int) -> None:
    period = periods.period_of(day)
    assert period == day.strftime("%Y-%m")
    shifted = periods.shift(period, months)
    assert shifted == _walk(day, months)
    assert periods.months_between(period, shifted) == months
    assert periods.add_months(day.year, day.month, months) == periods.parse(shifted)


@SETTINGS
@given(DAYS)
def test_month_start_and_end_hold_the_day_and_touch_the_next_month(day: date) -> None:
    period = periods.period_of(day)
    start, end = periods.month_start(period), periods.month_end(period)
    assert start <= day <= end and start.day == 1
    assert periods.period_of(end + timedelta(days=1)) == periods.shift(period, 1)
    assert periods.period_of(start - timedelta(days=1)) == periods.shift(period, -1)


def test_ranges_month_ends_and_fiscal_years() -> None:
    assert periods.period_range("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert periods.period_range("2026-02", "2025-11") == []
    assert periods.month_end("2024-02") == date(2024, 2, 29)
    # from the month before the first period (the opening balances) to the as-of day itself
    assert periods.month_ends("2024-01", date(2024, 3, 10)) == [
        date(2023, 12, 31),
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 10),
    ]
    assert periods.month_ends("2024-01", date(2023, 11, 30)) == []
    assert periods.fiscal_year_start(date(2026, 3, 31), 4) == date(2025, 4, 1)
    assert periods.fiscal_year_start(date(2026, 4, 1), 4) == date(2026, 4, 1)


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026-5", "26-05", "2026-05-01", "", "2026/05"])
def test_a_malformed_period_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match="not a period"):
        periods.shift(bad, 1)
