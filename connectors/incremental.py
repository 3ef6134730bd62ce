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

A month to pull again is narrowed to its days when the source digests each day's lines too
(`DAY_DIGEST` rows, kept with the summary: every month's read at the first refresh after a whole pull,
`days_to_ask`): only the days whose digest changed are pulled and replaced (`days_to_pull`), so one new
entry, in the open month or backdated, pulls that day, not the month.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


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
# a day's digest row: (day 'YYYY-MM-DD', DAY_DIGEST, lines, digest modulo DIGEST_MODULUS, 0); kept with the
# ledger summary, never part of the comparison by month
DAY_DIGEST = "#day"


def _by_month(summary: frozenset[SummaryRow]) -> frozenset[SummaryRow]:
    """The summary without its days' digest rows."""
    return frozenset(row for row in summary if row[1] != DAY_DIGEST)


def stored_baseline(summary: frozenset[SummaryRow], open_month: str | None) -> Baseline:
    """The baseline of a stored summary: every month settled but `open_month` (None: every month,
    for a summary that sees any change to a row, such as a digest of the rows). The open month is
    settled too when the summary holds a digest of its lines (`DIGEST_ACCOUNTS`): any change to them
    then changes the summary, which pulls it again."""
    digested = {row[0] for row in summary if row[1] in DIGEST_ACCOUNTS}
    return Baseline(summary, frozenset(row[0] for row in _by_month(summary)) - ({open_month} - digested))


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
    stored = _by_month(baseline.summary)
    # a kind of digest read for the first time (the load before read none of it) is compared from the next
    # refresh on (one that vanished is a change: the summary no longer sees what it saw)
    known = {row[1] for row in stored if row[1] in DIGEST_ACCOUNTS}
    current = frozenset(row for row in _by_month(current) if row[1] not in DIGEST_ACCOUNTS or row[1] in known)
    months = {row[0] for row in current}
    if "" in months:  # lines without a date cannot be windowed
        return None
    changed = {row[0] for row in current ^ stored}
    wanted = (changed | (months - baseline.settled)) & months
    gone = changed - months  # a month that vanished from the ledger: its rows must go too
    if gone or wanted >= months:
        return None
    return sorted(wanted)


def days_to_ask(summary: frozenset[SummaryRow], baseline: Baseline | None, months: list[str]) -> list[str] | None:
    """The months whose days a refresh reads before pulling `months`: those, or None (every month's, one
    call) while some month of the summary has no day rows kept, as after a whole pull."""
    stored = baseline.summary if baseline is not None else frozenset()
    kept = {row[0][:7] for row in stored if row[1] == DAY_DIGEST}
    return None if {row[0] for row in _by_month(summary)} - kept else months


def days_to_pull(
    months: list[str], days: frozenset[SummaryRow], baseline: Baseline | None
) -> tuple[list[str], frozenset[SummaryRow]]:
    """`months` (to pull again) narrowed by their days' digests: (what to pull, each a month 'YYYY-MM'
    or a day 'YYYY-MM-DD'; the day rows to keep with the summary). `days` are this refresh's day rows
    of `months` (and maybe of others: `days_to_ask`). A month whose day rows the baseline keeps is
    narrowed to the days whose row changed (one that appeared or vanished included); any other month is
    pulled whole. The day rows kept are this refresh's, and the baseline's of a month it did not read:
    the lines of a month not pulled are the loaded ones (and one that changed after its summary was read
    shows in that summary next time, its days unchanged: then it is pulled whole)."""
    stored = baseline.summary if baseline is not None else frozenset()
    read = {row[0][:7] for row in days}
    kept = frozenset(row for row in stored if row[1] == DAY_DIGEST and row[0][:7] not in {*months, *read})
    keys: list[str] = []
    for month in months:
        before = {row for row in stored if row[1] == DAY_DIGEST and row[0][:7] == month}
        now = {row for row in days if row[0][:7] == month}
        changed = sorted({row[0] for row in before ^ now})
        keys += changed if before and changed else [month]
    return sorted(keys), kept | days


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
