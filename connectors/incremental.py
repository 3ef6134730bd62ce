"""Which months of a table a refresh pulls again (DESIGN "Incremental refresh").

A source's summary (one call: for the ledger one row per month and account with lines, Σdebit,
Σcredit; for documents or bank lines one row per month with a count, sums and a digest of the rows)
is compared with the summary stored at the last successful load. A month is pulled again when its
summary changed (a backdated entry or a reclassification in a closed month: that is how restatements
are seen) or when it is not settled: for journal and bank lines the open month (the report date's),
whose lines may change in ways a count and sums do not show, unless the summary holds a digest of its
lines (`DIGEST_ACCOUNTS`). Sign-off does not decide what is pulled;
the periodic full pull is the safety net. Everything is pulled when there is no earlier summary, or
when the months to pull would be all of them anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.periods import month_end, shift

SummaryRow = tuple[str, str, int, Decimal, Decimal]  # period, account_id, lines, debit, credit


@dataclass(frozen=True)
class Baseline:
    """What the warehouse held after its last load: the summary, and the months pulled again only
    when their summary changes (`settled`)."""

    summary: frozenset[SummaryRow]
    settled: frozenset[str] = field(default_factory=frozenset)


# ledger summary rows that are no account but a digest of all the month's lines: the beancount file
# server's own (its ledger summary's), and the bundled ERP's journal summary as
# the ERP adapter adds it; the digest travels as a whole amount modulo DIGEST_MODULUS (DECIMAL(18,2))
LINES_DIGEST, JOURNAL_DIGEST = "#lines", "#journal"
DIGEST_ACCOUNTS = frozenset({LINES_DIGEST, JOURNAL_DIGEST})
DIGEST_MODULUS = 10**15


def stored_baseline(summary: frozenset[SummaryRow], open_month: str | None) -> Baseline:
    """The baseline of a stored summary: every month settled but `open_month` (None: every month,
    for a summary that sees any change to a row, such as a digest of the rows). The open month is
    settled too when the summary holds a digest of its lines (`DIGEST_ACCOUNTS`): any change to them
    then changes the summary, which pulls it again."""
    digested = {row[0] for row in summary if row[1] in DIGEST_ACCOUNTS}
    return Baseline(summary, frozenset(row[0] for row in summary) - ({open_month} - digested))


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
    # a kind of digest read for the first time (the load before read none of it) is compared from the next
    # refresh on (one that vanished is a change: the summary no longer sees what it saw)
    known = {row[1] for row in baseline.summary if row[1] in DIGEST_ACCOUNTS}
    current = frozenset(row for row in current if row[1] not in DIGEST_ACCOUNTS or row[1] in known)
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
        if runs and shift(runs[-1][-1], 1) == period:
            runs[-1].append(period)
        else:
            runs.append([period])
    return [(f"{run[0]}-01", month_end(run[-1]).isoformat()) for run in runs]


@dataclass(frozen=True)
class MonthSummary:
    """A table pulled by months of `period_column`: `tool` (with `arguments`) answers one row per
    month in one call, with `count`, the sums named in `amounts` (at most two) and a `digest` of the
    rows, split by the field `by` when given (a bank account). Only the months whose row changed (the
    digest sees any change to a row: the open month is no exception) are pulled again, through the
    table's list tool with `date_from` / `date_to` on `period_column`. A list tool without that window (`windowed` False)
    pulls the table whole when any month changed, and not at all when none did."""

    table: str
    tool: str
    period_column: str
    amounts: tuple[str, ...]
    arguments: Mapping[str, Any] = field(default_factory=dict)
    by: str | None = None
    windowed: bool = True

    def rows(self, items: Iterable[Mapping[str, Any]]) -> frozenset[SummaryRow]:
        """The tool's items as summary rows: (period, by:digest, count, first sum, second sum). The
        sums are kept to the cent as the warehouse stores them: the digest sees every exact value."""
        first, second = (*self.amounts, None, None)[:2]
        return frozenset(
            (
                str(i["period"]) if i.get("period") else "",
                f"{i[self.by] if self.by else ''}:{i['digest']}",
                int(i["count"]),
                _cents(i[first]) if first else CENT * 0,
                _cents(i[second]) if second else CENT * 0,
            )
            for i in items
        )


CENT = Decimal("0.01")


def _cents(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT)
