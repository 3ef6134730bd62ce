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
from connectors.adapters.base import Stream
from connectors.client import ConnectorError, Page
from connectors.periods import period_of, shift

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

    def report_dates(self, since: str | None = None) -> list[date]:
        """The month-ends of the reported periods and the report date (the open month's cut-off); with
        `since` ('YYYY-MM'), only those of that month and later."""
        through = self.as_of or datetime.now(ZoneInfo(self.timezone)).date()
        dates = month_ends(self.from_period, through)[1:] if self.from_period else [through]
        return [d for d in dates if since is None or period_of(d) >= since]

    def reports_since(self, windows: Sequence[tuple[str, str]] | None) -> str | None:
        """The first month whose report a refresh reads again when the journal is pulled only for
        `windows` (None: every month, a whole pull). A month-end report holds every line dated up to it,
        so a changed month changes the reports of its month-end and every later one; and the month
        before the earliest one pulled is read again too: it may be the month that was open at the last
        refresh, whose report was read then at that run's date, not at its month-end (and the months a
        refresh missed are new in the summary, hence pulled, right after it)."""
        if windows is None:
            return None
        first = min(w[0] for w in windows)[:7] if windows else period_of(self.report_dates()[-1])
        return shift(first, -1)

    def stream_periods(self, stream: Stream) -> list[str] | None:
        """The months of the reports a stream with `months_from` reads (those it replaces)."""
        if stream.table != TABLE or stream.months_from is None:
            return None
        return sorted({period_of(d) for d in self.report_dates(stream.months_from)})


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
