"""Small helpers the accounting-vendor adapters (xero, quickbooks, odoo) share.

Every value leaves as canonical text: money as the decimal digits the server sent (never through a
float), dates ISO. An item that cannot be mapped raises ``Unmappable`` with the reason; the adapter
puts it in ``Mapped.rejected`` (quarantine).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from connectors.adapters.base import Mapped, item_json, to_text_batch
from connectors.adapters.paging import Paging
from connectors.client import ConnectorError, Page

# the month calendar (connectors/periods.py), named here too for the vendor adapters that read it from here
from connectors.periods import fiscal_year_start as fiscal_year_start
from connectors.periods import month_ends as month_ends

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from connectors.adapters.base import Adapter, Stream
    from connectors.client import SourceSession


class Unmappable(ValueError):
    """An item this adapter cannot turn into a canonical record; the message is the reason."""


def money(value: Any, what: str) -> Decimal:
    """A decimal amount from text or a number (a float only ever arrives as the Decimal of its
    digits: JSON is parsed with ``parse_float=Decimal``)."""
    if isinstance(value, bool) or value is None or value == "":
        raise Unmappable(f"{what}: no amount ({value!r})")
    if isinstance(value, float):  # defensive: never expected, kept exact to its shortest repr
        value = repr(value)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise Unmappable(f"{what}: {value!r} is not a number") from None
    if not amount.is_finite():
        raise Unmappable(f"{what}: {value!r} is not a finite number")
    return amount


def text(amount: Decimal) -> str:
    """A Decimal as canonical text (no exponent); -0 becomes 0."""
    if amount == 0:
        amount = abs(amount)
    return format(amount, "f")


_MS_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")


def iso_date(value: Any, what: str) -> str:
    """``YYYY-MM-DD`` from an ISO date or datetime, or a .NET ``/Date(ms+0000)/`` (Xero's JSON)."""
    if not isinstance(value, str) or not value.strip():
        raise Unmappable(f"{what}: no date ({value!r})")
    raw = value.strip()
    ms = _MS_DATE.match(raw)
    if ms:
        return datetime.fromtimestamp(int(ms.group(1)) / 1000, tz=UTC).date().isoformat()
    try:
        return date.fromisoformat(raw[:10]).isoformat()
    except ValueError:
        raise Unmappable(f"{what}: {value!r} is not a date") from None


def optional_date(value: Any, what: str) -> str | None:
    return None if value in (None, "", False) else iso_date(value, what)


def map_each(
    table: str, tool: str, items: Sequence[Any], one: Callable[[Any], list[dict[str, Any]] | dict[str, Any] | None]
) -> Mapped:
    """Map every item with ``one`` (a record, several records, or None to leave the item out: it
    belongs to another table); ``Unmappable`` sets the item aside with its reason. The reason names
    the tool: a table read from several tools is recorded under the first one's name."""
    rows: list[dict[str, Any]] = []
    rejected: list[tuple[str, str]] = []
    for item in items:
        try:
            mapped = one(item)
        except Unmappable as exc:
            rejected.append((item_json(item), f"{table} from {tool}: {exc}"))
            continue
        if mapped is None:
            continue
        rows.extend(mapped if isinstance(mapped, list) else [mapped])
    return Mapped(to_text_batch(table, rows), rejected)


# -- a general ledger from period-end trial balances ---------------------------------------------
# Some servers expose no journal but a trial balance "as at" a date (Xero's list-trial-balance,
# QuickBooks' TrialBalance report). closeboard then books one synthetic entry per month: each
# account's movement between consecutive month-end balances.


class Balances(dict):  # type: ignore[type-arg]
    """One trial balance: account id -> (net balance, debits positive, and whether it is a P&L
    account whose balance runs from the fiscal-year start). ``problems`` lists what made the report
    untrustworthy (it does not balance, its rows disagree with its total)."""

    def __init__(self, as_at: date, problems: list[str] | None = None) -> None:
        super().__init__()
        self.as_at = as_at
        self.problems = problems or []
        self.names: dict[str, str] = {}


def month_movements(
    previous: Balances | None, current: Balances, *, fiscal_year_start: bool, retained_earnings: str | None
) -> dict[str, Decimal]:
    """Each account's movement from ``previous`` to ``current`` (debits positive).

    Balance-sheet accounts carry their balance since inception: movement = current - previous.
    P&L accounts carry fiscal-year-to-date balances: the same, except in the first month of a
    fiscal year, where the balance restarted from zero and the movement is the current balance.
    At that restart the ledger rolls last year's profit into retained earnings without a
    transaction (Xero: the Retained Earnings row's balance jumps by last year's net P&L). That
    jump is not a movement in closeboard, whose marts derive retained and current-year earnings from
    the P&L lines themselves: it is taken out of the retained-earnings account's movement, so the
    entry still balances and the balance sheet is not counted twice.
    Without ``previous`` (the opening month) every balance is the movement: balance-sheet accounts
    open, P&L accounts post their year-to-date.
    """
    moves: dict[str, Decimal] = {}
    accounts = list(current) + [a for a in (previous or {}) if a not in current]
    for account in accounts:
        if account in current:
            now, pl = current[account]
        else:  # gone from the report: its balance is zero now
            now, pl = Decimal(0), previous[account][1]  # type: ignore[index]
        before = previous[account][0] if previous is not None and account in previous else Decimal(0)
        moves[account] = now if (pl and fiscal_year_start) else now - before
    if previous is not None and fiscal_year_start:
        rolled = sum((net for net, pl in previous.values() if pl), Decimal(0))
        if rolled != 0:
            if retained_earnings is None:
                raise Unmappable(
                    f"at the fiscal-year start {current.as_at} last year's P&L ({text(rolled)}) rolled into an "
                    "account this adapter cannot name: set options.retained_earnings to its account code"
                )
            moves[retained_earnings] = moves.get(retained_earnings, Decimal(0)) - rolled
    return moves


def synthetic_entry(
    entry_id: str, posted: date, moves: dict[str, Decimal], *, currency: str | None, description: str
) -> list[dict[str, Any]]:
    """Journal lines for one month's movements (zero movements left out), or ``Unmappable`` when
    they do not sum to exactly zero."""
    net = sum(moves.values(), Decimal(0))
    if net != 0:
        debits = sum((m for m in moves.values() if m > 0), Decimal(0))
        raise Unmappable(
            f"{entry_id}: the movements do not balance (debits {text(debits)}, credits "
            f"{text(debits - net)}, difference {text(net)})"
        )
    rows = []
    for number, account in enumerate(sorted(a for a, m in moves.items() if m != 0), start=1):
        amount = moves[account]
        rows.append(
            {
                "entry_id": entry_id,
                "line_no": str(number),
                "posted_date": posted.isoformat(),
                "account_id": account,
                "debit": text(max(amount, Decimal(0))),
                "credit": text(max(-amount, Decimal(0))),
                "currency": currency,
                "amount_currency": None,
                "description": description,
                "customer_id": None,
                "vendor_id": None,
                "document_id": None,
            }
        )
    return rows


class TrialBalanceLedger:
    """``erp_journal_lines`` from month-end trial balances, for servers that offer no journal (xero,
    quickbooks): the options the mode needs, and one balanced entry per month of movements."""

    vendor = ""  # in messages and entry descriptions
    from_period: str | None = None
    fiscal_year_start_month: int | None = None
    retained_earnings: str | None = None
    as_of: date | None = None
    currency: str | None = None

    def configure_trial_balance(self, options: dict[str, Any]) -> None:
        period = options.get("from_period")
        if not isinstance(period, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
            raise ValueError(
                "options.from_period: the first month (YYYY-MM, the company's first_period) is "
                "required to read journal lines from trial balances"
            )
        self.from_period = period
        month = options.get("fiscal_year_start_month")
        if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
            raise ValueError(
                f"options.fiscal_year_start_month: the month (1-12) the {self.vendor} fiscal year "
                "starts is required to read journal lines from trial balances (P&L balances restart then)"
            )
        self.fiscal_year_start_month = month
        if self.currency is None:
            raise ValueError("options.currency: the company's home currency is required to read journal lines")
        retained = options.get("retained_earnings")
        self.retained_earnings = str(retained) if retained not in (None, "") else None
        as_of = options.get("as_of")
        try:
            self.as_of = date.fromisoformat(str(as_of)) if as_of not in (None, "") else None
        except ValueError:
            raise ValueError(f"options.as_of: {as_of!r} is not YYYY-MM-DD") from None

    def trial_balance_arguments(self, as_at: date) -> dict[str, Any]:
        """The report tool's arguments for the trial balance at `as_at`."""
        raise NotImplementedError

    def retained_earnings_account(self, current: Balances) -> str | None:
        """Where last year's profit rolls: the configured account, else the balance-sheet account
        named "Retained Earnings"."""
        return self.retained_earnings or next(
            (a for a, n in current.names.items() if n.lower() == "retained earnings" and not current[a][1]), None
        )

    def movements(self, previous: Balances | None, current: Balances) -> dict[str, Decimal]:
        """``month_movements`` from ``previous`` to ``current`` with this ledger's fiscal year and
        retained-earnings account: the one definition of a month's movement, for the synthetic entries
        and for re-basing the vendor's trial balance to the journal's since-inception basis (R7)."""
        return month_movements(
            previous,
            current,
            fiscal_year_start=current.as_at.month == self.fiscal_year_start_month,
            retained_earnings=self.retained_earnings_account(current),
        )

    def trial_balance_entry(self, entry: dict[str, Any]) -> list[dict[str, Any]]:
        """The month's entry from the trial balances at its end (``current``) and the month before."""
        previous, current = entry["previous"], entry["current"]
        problems = current.problems + (previous.problems if previous is not None else [])
        if problems:
            raise Unmappable(f"{entry['entry_id']}: " + "; ".join(problems))
        posted: date = entry["posted_date"]
        if previous is None:
            source = f"{self.vendor} trial balance at {posted}: opening balances (P&L year to date)"
        else:
            source = f"{self.vendor} trial balance movement {previous.as_at} to {posted}"
        moves = self.movements(previous, current)
        return synthetic_entry(entry["entry_id"], posted, moves, currency=self.currency, description=source)


class TrialBalancePaging(Paging):
    """One trial-balance report per month end, from the month before ``from_period`` to ``as_of``;
    each page holds that month's entry (the balances at its end and at the month before)."""

    kind = "none"

    def __init__(self, ledger: TrialBalanceLedger) -> None:
        self.ledger = ledger

    async def pages(self, session: SourceSession, adapter: Adapter, stream: Stream) -> AsyncIterator[Page]:
        me = self.ledger
        assert me.from_period is not None and me.fiscal_year_start_month is not None
        previous: Balances | None = None
        for number, as_at in enumerate(month_ends(me.from_period, me.as_of or date.today()), start=1):
            env, nbytes = await self.fetch(session, adapter, stream, me.trial_balance_arguments(as_at), number)
            current = env.items[0]
            if current.as_at != as_at:
                raise ConnectorError(
                    session.name, stream.tool, f"asked for the trial balance at {as_at}, got one at {current.as_at}"
                )
            entry = {"entry_id": f"TB-{as_at:%Y-%m}", "posted_date": as_at, "previous": previous, "current": current}
            yield Page([entry], None, None, None, number, nbytes)
            previous = current


def text_contents(result: Any, *, limit_bytes: int, error: re.Pattern[str]) -> tuple[list[str], int]:
    """A result's text contents and their size, refusing one over the cap, one without text, and one
    whose first text is the server's error message (sent as text with ``isError`` false)."""
    texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
    size = sum(len(t) for t in texts)
    if size > limit_bytes:
        raise ValueError(f"response of {size} bytes exceeds the cap of {limit_bytes} bytes")
    if not texts:
        raise ValueError("the result has no text content")
    head = texts[0].strip()
    if error.match(head):
        raise ValueError(f"the server reported an error: {head[:500]}")
    return texts, size
