"""Which months of the ledger a refresh pulls again (DESIGN "Incremental refresh").

The ERP's ledger summary (one row per month and account: lines, Σdebit, Σcredit, in one call) is
compared with the summary stored at the last successful load. A month is pulled again when it is
not settled (not signed off: it may still change) or when its summary changed (a backdated entry or
a reclassification in a closed month: that is how restatements are seen). Everything is pulled when
there is no earlier summary, or when the months to pull would be all of them anyway.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

SummaryRow = tuple[str, str, int, Decimal, Decimal]  # period, account_id, lines, debit, credit


@dataclass(frozen=True)
class Baseline:
    """What the warehouse held after its last load: the ledger summary and the settled months."""

    summary: frozenset[SummaryRow]
    settled: frozenset[str] = field(default_factory=frozenset)


def summary_rows(items: Iterable[Mapping[str, Any]]) -> frozenset[SummaryRow]:
    return frozenset(
        (
            str(i["period"]) if i.get("period") else "",
            str(i["account_id"]),
            int(i["lines"]),
            Decimal(str(i["debit"])),
            Decimal(str(i["credit"])),
        )
        for i in items
    )


def periods_to_pull(current: frozenset[SummaryRow], baseline: Baseline | None) -> list[str] | None:
    """The months to pull again, or None for everything."""
    if baseline is None or not baseline.summary:
        return None
    months = {row[0] for row in current}
    if "" in months:  # lines without a date cannot be windowed
        return None
    changed = {row[0] for row in current ^ baseline.summary}
    wanted = (changed | (months - baseline.settled)) & months
    gone = changed - months  # a month that vanished from the ledger: its rows must go too
    if gone or wanted >= months:
        return None
    return sorted(wanted)


def windows(periods: Iterable[str]) -> list[tuple[str, str]]:
    """Contiguous runs of months as inclusive (date_from, date_to) ISO windows."""
    runs: list[list[str]] = []
    for period in sorted(periods):
        if runs and _next(runs[-1][-1]) == period:
            runs[-1].append(period)
        else:
            runs.append([period])
    return [(f"{run[0]}-01", _month_end(run[-1])) for run in runs]


def _next(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def _month_end(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{period}-{calendar.monthrange(year, month)[1]:02d}"
