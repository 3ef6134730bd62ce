"""How a beancount ledger becomes canonical records: one definition for the ``beancount`` adapter
(postings read as BQL text through beancount-mcp) and the bundled ``beanfile`` server (postings read
with beancount's own loader). Pure functions over plain values; imports nothing of closeboard's.

- An account's type comes from its root (``account_types``), its subtype from the first matching glob
  in ``subtypes``, its currency from its ``open`` directive when that allows exactly one (else the
  reporting currency), its parent is the nearest opened ancestor.
- A posting is money when its value in the reporting currency is known: its units when they are in it;
  else its weight (units at the ``@`` price or ``{cost}``) when that is in it; else the weight converted
  with the ledger's prices at the transaction's date. The value is rounded to cents half away from
  zero. Legs in a commodity without a price that balance within it (to beancount's inferred tolerance)
  are not money: left out and counted. A transaction whose money does not balance (an unpriced
  commodity that does not balance within itself, a posting without weight, cents beyond the rounding
  rule) is set aside whole with the reason. A residual of cent rounding within ``rounding_tolerance``
  is one more line on ``rounding_account`` when that is set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
RATE_PLACES = Decimal("0.00000001")  # erp_fx_rates.rate is DECIMAL(18,8)
DEFAULT_ACCOUNT_TYPES = {
    "Assets": "asset",
    "Liabilities": "liability",
    "Equity": "equity",
    "Income": "revenue",
    "Expenses": "expense",
}
DEFAULT_SUBTYPES: dict[str, tuple[str, ...]] = {
    "cash": ("Assets:Bank*", "Assets:Cash*"),
    "ar": ("Assets:Receivable*", "Assets:AccountsReceivable*"),
    "ap": ("Liabilities:Payable*", "Liabilities:AccountsPayable*"),
    "cogs": ("Expenses:COGS*", "Expenses:CostOfGoodsSold*", "Expenses:CostOfSales*"),
    "debt": ("Liabilities:Loan*", "Liabilities:Debt*"),
}


def cents(value: Decimal) -> Decimal:
    """To the cent, half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    return format(value, "f")


def rate(value: Decimal) -> Decimal:
    """A price as an erp_fx_rates rate: 8 places, half away from zero."""
    return value.quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def tolerance(numbers: Iterable[Decimal]) -> Decimal:
    """beancount's inferred tolerance for numbers of one commodity: half a unit of the last decimal
    place of the least precise non-integer among them; 0 (exact) when all are integers."""
    exponents = [n.as_tuple().exponent for n in numbers]
    places = [e for e in exponents if isinstance(e, int) and e < 0]
    return Decimal(5).scaleb(max(places) - 1) if places else Decimal(0)


@dataclass(frozen=True)
class Rules:
    """The mapping's settings: the reporting currency and the account and rounding rules."""

    currency: str
    account_types: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ACCOUNT_TYPES))
    subtypes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_SUBTYPES))
    rounding_account: str | None = None
    rounding_tolerance: Decimal = Decimal("0.05")

    def check(self) -> Rules:
        """The rules, or a ValueError naming the setting that is wrong."""
        allowed = set(DEFAULT_ACCOUNT_TYPES.values())
        if not self.account_types or any(v not in allowed for v in self.account_types.values()):
            raise ValueError(f"account_types: map each root account name to one of {sorted(allowed)}")
        rounding = self.rounding_account
        if rounding is not None and (rounding.partition(":")[0] not in self.account_types or ":" not in rounding):
            raise ValueError(
                f"rounding_account: {rounding!r} is not an account under one of the roots {sorted(self.account_types)}"
            )
        if not self.rounding_tolerance.is_finite() or self.rounding_tolerance < 0:
            raise ValueError("rounding_tolerance: expected a non-negative decimal amount")
        return self

    def account(
        self, account: str, currencies: Sequence[str], opened: Iterable[str] | set[str], *, name: str | None = None
    ) -> dict[str, Any]:
        """An erp_accounts record (``_error`` set when its root has no type)."""
        root = account.partition(":")[0]
        kind = self.account_types.get(root)
        subtype = next((s for s, globs in self.subtypes.items() if any(fnmatchcase(account, g) for g in globs)), None)
        parts = account.split(":")
        parent = next((p for p in (":".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)) if p in opened), None)
        return {
            "account_id": account,
            "name": name or account,
            "type": kind,
            "subtype": subtype,
            "currency": currencies[0] if len(currencies) == 1 else self.currency,
            "parent_id": parent,
            "_error": None
            if kind
            else f"account root {root!r} is not one of {sorted(self.account_types)} (options.account_types)",
        }


class Posting(NamedTuple):
    """One posting as the ledger holds it: units (None when absent), its weight and that weight
    converted with the ledger's prices at the transaction's date (None when not computed)."""

    account: str
    units: Decimal | None
    units_currency: str
    weight: tuple[Decimal, str] | None
    converted: tuple[Decimal, str] | None = None


@dataclass
class Entry:
    """A transaction mapped: its journal lines (money, with ``_amount`` in cents, and a rounding line
    when one was added), the legs left out as not money per commodity, and why it is set aside (empty:
    it is not). ``values`` is each posting's cents (None when not money); ``residual`` the cents of its
    money that do not sum to zero."""

    lines: list[dict[str, Any]]
    values: list[Decimal | None]
    residual: Decimal
    left_out: Counter[str]
    problems: list[str]
    unbalanced: set[int]  # line numbers of unpriced legs that do not balance (set aside with the rest)
    rounding: bool = False

    @property
    def set_aside(self) -> bool:
        return bool(self.problems)

    def set_aside_postings(self, postings: Sequence[Posting]) -> list[int]:
        """The line numbers of the postings a set-aside transaction puts in quarantine: those that are
        money or should have been."""
        money_lines = {int(line["line_no"]) for line in self.lines} | self.unbalanced
        return [n for n, p in enumerate(postings, start=1) if n in money_lines or p.weight is None]

    def reason(self) -> str:
        return "; ".join(self.problems) + ": the whole transaction is set aside so the journal stays balanced"


def _postings_text(legs: Sequence[tuple[int, str, Decimal, str]]) -> str:
    return ", ".join(f"posting {line_no} ({account} {weight})" for line_no, account, _n, weight in legs)


def map_entry(
    rules: Rules,
    entry_id: str,
    posted: str,
    description: str | None,
    document_id: str | None,
    postings: Sequence[Posting],
) -> Entry:
    """One transaction's postings as journal lines (see the module docstring)."""
    ccy = rules.currency
    lines: list[dict[str, Any]] = []
    values: list[Decimal | None] = []
    problems: list[str] = []
    left_out: Counter[str] = Counter()
    unpriced: dict[str, list[tuple[int, str, Decimal, str]]] = {}  # weight currency -> its legs
    for line_no, p in enumerate(postings, start=1):
        w = p.weight
        if w is None:
            problems.append(f"posting {line_no} ({p.account}) has no weight")
            values.append(None)
            continue
        if p.units is not None and p.units_currency == ccy:
            value = p.units  # booked in the reporting currency: exactly that
        elif w[1] == ccy:
            value = w[0]  # at its @ price or {cost} in the reporting currency
        elif p.converted is not None and p.converted[1] == ccy:
            value = p.converted[0]  # converted with the ledger's latest price on or before the date
        else:
            unpriced.setdefault(w[1], []).append((line_no, p.account, w[0], f"{money(w[0])} {w[1]}"))
            values.append(None)
            continue
        amount = cents(value)
        values.append(amount)
        foreign = p.units_currency != ccy and p.units is not None and p.units == cents(p.units)
        lines.append(
            {
                "entry_id": entry_id,
                "line_no": str(line_no),
                "posted_date": posted,
                "account_id": p.account,
                "debit": money(amount if amount > 0 else ZERO),
                "credit": money(-amount if amount < 0 else ZERO),
                "currency": p.units_currency or ccy,
                "amount_currency": money(cents(p.units)) if foreign and p.units is not None else None,
                "description": description,
                "customer_id": None,
                "vendor_id": None,
                "document_id": document_id,
                "_amount": amount,
            }
        )
    residual = sum((line["_amount"] for line in lines), ZERO)
    # legs in a commodity the ledger cannot price: not money when they balance within it
    unbalanced: set[int] = set()
    for commodity, legs in unpriced.items():
        rest = sum((n for _, _, n, _ in legs), Decimal(0))
        if abs(rest) <= tolerance(n for _, _, n, _ in legs):
            left_out[commodity] += len(legs)
            continue
        unbalanced.update(line_no for line_no, *_ in legs)
        problems.append(
            f"{_postings_text(legs)}: no {commodity}->{ccy} price in the ledger on or before {posted}, and the "
            f"transaction's {commodity} does not balance within {commodity} ({money(rest)} {commodity} left), "
            f"so its {ccy} does not balance without {'them' if len(legs) > 1 else 'it'}"
        )
    entry = Entry(lines, values, residual, left_out, problems, unbalanced)
    if problems or not residual:
        return entry
    if rules.rounding_account is not None and abs(residual) <= rules.rounding_tolerance:
        lines.append(
            {
                **lines[-1],
                "line_no": str(len(postings) + 1),
                "account_id": rules.rounding_account,
                "debit": money(-residual if residual < 0 else ZERO),
                "credit": money(residual if residual > 0 else ZERO),
                "currency": ccy,
                "amount_currency": None,
                "description": f"rounding of {entry_id} to cents ({ccy})",
                "_amount": -residual,
            }
        )
        entry.rounding = True
        return entry
    why = (
        "options.rounding_account is not set"
        if rules.rounding_account is None
        else f"more than options.rounding_tolerance {rules.rounding_tolerance}"
    )
    problems.append(f"the postings in {ccy}, rounded to cents, leave {residual} unbalanced ({why})")
    return entry


def books_rounding(rules: Rules, residual: Decimal) -> bool:
    """Whether the ledger's own trial balance books a transaction's cent residual on the rounding
    account (the journal adds a rounding line for it when the transaction is not set aside)."""
    return rules.rounding_account is not None and bool(residual) and abs(residual) <= rules.rounding_tolerance
