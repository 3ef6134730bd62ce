"""The ERP's own trial balance at every month-end (R7's input, ``erp_trial_balance``), shared by the
adapters that can read one: which dates to read it at, and how a report's rows become canonical rows.

The dates follow the company: the month-ends from ``first_period`` to the report date (the open month
is read as at ``as_of``, default today in the company's time zone). An adapter mixes in
``MonthEndReports``, declares ``REPORT_OPTIONS`` among its options, calls ``configure_report_dates``
and reads one report per ``report_dates()`` day with ``dated_reports``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.adapters._vendor import month_ends
from connectors.client import ConnectorError, Page

TABLE = "erp_trial_balance"
# the options a month-end report reads; config load fills them from `company:` when left out
REPORT_OPTIONS = ("from_period", "as_of", "timezone")
REPORT_COMPANY_OPTIONS = {
    "from_period": ("first_period", False),
    "as_of": ("as_of", False),
    "timezone": ("timezone", False),
}


class MonthEndReports:
    """The month-ends the ERP's own report is read at (from the company settings by default)."""

    from_period: str | None = None
    as_of: date | None = None
    timezone = "UTC"

    def configure_report_dates(self, options: Mapping[str, Any]) -> None:
        self.from_period = str(options["from_period"]) if options.get("from_period") else None
        as_of = options.get("as_of")
        try:
            self.as_of = date.fromisoformat(str(as_of)) if as_of not in (None, "") else None
        except ValueError:
            raise ValueError(f"options.as_of: {as_of!r} is not YYYY-MM-DD") from None
        self.timezone = str(options.get("timezone") or "UTC")
        ZoneInfo(self.timezone)  # an unknown zone fails at config load

    def report_dates(self) -> list[date]:
        """The month-ends of the reported periods and the report date (the open month's cut-off)."""
        through = self.as_of or datetime.now(ZoneInfo(self.timezone)).date()
        return month_ends(self.from_period, through)[1:] if self.from_period else [through]


async def dated_reports(
    source: str,
    tool: str,
    dates: Sequence[date],
    read: Callable[[date, int], Awaitable[tuple[list[dict[str, Any]], int | None, str | None, int]]],
) -> AsyncIterator[Page]:
    """One report per date, read whole with ``read(day, page_number) -> (rows, total, as_of, bytes)``;
    each row is dated with its report date (``balance_date``). A report whose stated total differs from
    the rows it carries fails the pull. The pages are yielded once every report is read, with the total
    of all rows, so progress and R6 count the reports as one stream."""
    reports = []
    for number, day in enumerate(dates, start=1):
        rows, total, as_of, nbytes = await read(day, number)
        if total is not None and total != len(rows):
            raise ConnectorError(
                source, tool, f"the trial balance at {day} lists {len(rows)} accounts but says total {total}"
            )
        reports.append(([{**row, "balance_date": day.isoformat()} for row in rows], as_of, number, nbytes))
    grand = sum(len(rows) for rows, *_ in reports)
    for rows, as_of, number, nbytes in reports:
        yield Page(rows, None, grand, as_of, number, nbytes)
