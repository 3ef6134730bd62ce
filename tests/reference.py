"""Independent reference computation of the DESIGN.md KPIs from the demo company's CSV files.

Plain Python: the csv module and ``decimal.Decimal`` / ``fractions.Fraction``; no duckdb, no pandas, nothing
from the closeboard packages. The warehouse marts are compared against it to the cent.

Definitions (DESIGN.md "The read side"), per period ``YYYY-MM`` from ``first_period`` to as_of's month:

- revenue      = Σ(credit − debit) on accounts of type revenue, lines posted in the period
- cogs         = Σ(debit − credit) on expense accounts with subtype ``cogs``, posted in the period
- opex         = Σ(debit − credit) on the other expense accounts (subtype null or not ``cogs``)
- gross_profit = revenue − cogs;  net_income = revenue − cogs − opex
- cash, ar, ap = balances of the ``cash``, ``ar``, ``ap`` subtype accounts over every line posted up to the
  period's end (all postings before ``first_period`` included; for the open month: up to as_of, i.e. every
  line since nothing is posted later); assets debit-positive, ap credit-positive (6,000 owed = 6000.00)
- net_burn     = −Σ(debit − credit) on cash accounts in the period, over the entries that post to no
  account of type equity and to no liability of subtype ``debt`` (an entry is judged on all its lines)
- runway_months = cash / mean(net_burn) over this period and the two calendar months before it, always
  three months (DESIGN, read literally): a month with no cash spent, including a month before the ledger
  starts, has net_burn 0. Null when the mean <= 0.
- dso = ar / revenue × days (null when revenue <= 0); dpo = ap / (cogs + opex) × days (null when
  cogs + opex <= 0); days = the month's days, or as_of.day for the open month (as_of's month)
- gross_margin_pct = gross_profit / revenue × 100 (null when revenue = 0)
- pipeline_open = Σ amount of opportunities with is_closed false (same value for every period: "as of
  the refresh"); bookings_won = Σ amount of opportunities with is_won true and close_date in the period

Money values are Decimals quantized to 0.01 (exact sums, so quantize never rounds). Ratios (gross_margin_pct,
runway_months, dso, dpo) are computed exactly as fractions and rounded half away from zero to 2 places.
"""

from __future__ import annotations

import csv
import math
from calendar import monthrange
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

KPIS = (
    "revenue",
    "cogs",
    "gross_profit",
    "gross_margin_pct",
    "opex",
    "net_income",
    "cash",
    "ar",
    "ap",
    "net_burn",
    "runway_months",
    "dso",
    "dpo",
    "pipeline_open",
    "bookings_won",
)
CENT = Decimal("0.01")
ZERO = Decimal("0")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def round_half_away(value: Fraction) -> Decimal:
    """Round an exact fraction half away from zero to 2 decimals."""
    sign = -1 if value < 0 else 1
    hundredths = math.floor(abs(value) * 100 + Fraction(1, 2))
    return (Decimal(sign * hundredths) / 100).quantize(CENT)


def _ratio(numerator: Decimal, denominator: Decimal, factor: int | Fraction = 1) -> Decimal:
    return round_half_away(Fraction(numerator) / Fraction(denominator) * factor)


def _shift(period: str, months: int) -> str:
    y, m = int(period[:4]), int(period[5:7])
    t = y * 12 + (m - 1) + months
    return f"{t // 12:04d}-{t % 12 + 1:02d}"


def _periods(first: str, last: str) -> list[str]:
    out, p = [], first
    while p <= last:
        out.append(p)
        p = _shift(p, 1)
    return out


def _rows(path: Path):
    with open(path, newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def reference_kpis(data_dir: Path, first_period: str, as_of: date) -> dict[str, dict[str, Decimal | None]]:
    """KPIs per period (first_period .. as_of's month) -> {kpi: Decimal or None}."""
    data_dir = Path(data_dir)
    accounts = {r["account_id"]: (r["type"], r["subtype"] or None) for r in _rows(data_dir / "erp" / "accounts.csv")}

    revenue: dict[str, Decimal] = {}
    cogs: dict[str, Decimal] = {}
    opex: dict[str, Decimal] = {}
    delta: dict[str, dict[str, Decimal]] = {"cash": {}, "ar": {}, "ap": {}}  # period -> debit − credit
    entries: dict[str, list] = {}  # entry_id -> [period, Σ cash debit − credit, excluded]
    ledger_periods: set[str] = set()

    for r in _rows(data_dir / "erp" / "journal_lines.csv"):
        period = r["posted_date"][:7]
        ledger_periods.add(period)
        amount = Decimal(r["debit"]) - Decimal(r["credit"])
        kind, subtype = accounts[r["account_id"]]
        entry = entries.get(r["entry_id"])
        if entry is None:
            entry = entries[r["entry_id"]] = [period, ZERO, False]
        if kind == "revenue":
            revenue[period] = revenue.get(period, ZERO) - amount
        elif kind == "expense":
            target = cogs if subtype == "cogs" else opex
            target[period] = target.get(period, ZERO) + amount
        elif kind == "equity" or (kind == "liability" and subtype == "debt"):
            entry[2] = True
        if subtype in ("cash", "ar", "ap"):
            d = delta[subtype]
            d[period] = d.get(period, ZERO) + amount
            if subtype == "cash":
                entry[1] += amount

    burn: dict[str, Decimal] = {}
    for period, cash_delta, excluded in entries.values():
        if not excluded and cash_delta:
            burn[period] = burn.get(period, ZERO) - cash_delta

    pipeline_open = ZERO
    bookings: dict[str, Decimal] = {}
    for r in _rows(data_dir / "crm" / "opportunities.csv"):
        amount = Decimal(r["amount"])
        if r["is_closed"] != "true":
            pipeline_open += amount
        if r["is_won"] == "true" and r["close_date"]:
            p = r["close_date"][:7]
            bookings[p] = bookings.get(p, ZERO) + amount

    last_period = f"{as_of.year:04d}-{as_of.month:02d}"
    earliest = min(ledger_periods | {first_period})
    balances = {k: ZERO for k in delta}
    net_burn: dict[str, Decimal] = {}
    result: dict[str, dict[str, Decimal | None]] = {}
    for period in _periods(earliest, last_period):
        for k in delta:
            balances[k] += delta[k].get(period, ZERO)
        net_burn[period] = burn.get(period, ZERO)
        if period < first_period:
            continue
        rev = revenue.get(period, ZERO)
        cg = cogs.get(period, ZERO)
        ox = opex.get(period, ZERO)
        cash, ar, ap = balances["cash"], balances["ar"], -balances["ap"]
        if period == last_period:
            days = as_of.day
        else:
            days = monthrange(int(period[:4]), int(period[5:7]))[1]
        window = [_shift(period, -2), _shift(period, -1), period]
        burn_sum = sum((net_burn.get(p, ZERO) for p in window), ZERO)
        # runway = cash / (burn_sum / n) = cash * n / burn_sum, exact
        runway = _ratio(cash, burn_sum, len(window)) if burn_sum > 0 else None
        result[period] = {
            "revenue": _money(rev),
            "cogs": _money(cg),
            "gross_profit": _money(rev - cg),
            "gross_margin_pct": _ratio(rev - cg, rev, 100) if rev != 0 else None,
            "opex": _money(ox),
            "net_income": _money(rev - cg - ox),
            "cash": _money(cash),
            "ar": _money(ar),
            "ap": _money(ap),
            "net_burn": _money(net_burn[period]),
            "runway_months": runway,
            "dso": _ratio(ar, rev, days) if rev > 0 else None,
            "dpo": _ratio(ap, cg + ox, days) if cg + ox > 0 else None,
            "pipeline_open": _money(pipeline_open),
            "bookings_won": _money(bookings.get(period, ZERO)),
        }
    return result


# ----------------------------------------------------------------------------------------------------
# Statements (DESIGN "The artifact page": income statement, balance sheet, cash flow by the indirect
# method), again from the CSVs alone. Per period and line (statement, line_id) four columns:
#   amount = the month; prior_month; prior_year = 12 months before; ytd = the fiscal year's first
#   month through the period. Income-statement lines and cash-flow lines are flows over those months;
#   balance-sheet lines are month-end balances, and in ytd the change since the month before the
#   fiscal year began. A column is None when its first month precedes the ledger's first month.
# Lines: every account (leaves and parents; a parent is its subtree within the same section) plus
#   income_statement  total_revenue, total_cogs, gross_profit, total_opex, net_income
#   balance_sheet     _retained_earnings (profit before the fiscal year of the column's month),
#                     _current_earnings, total_assets, total_liabilities, total_equity,
#                     total_liabilities_and_equity
#   cash_flow         net_income, net_cash_operating, net_cash_investing, net_cash_financing,
#                     net_change_in_cash, cash_begin, cash_end
# Cash-flow classes (by type/subtype): cash accounts are the result; investing = asset subtypes
# fixed_asset, intangible_asset, investment, long_term_investment; financing = liability subtype debt
# and every equity account; everything else non-cash on the balance sheet is operating.

STATEMENT_COLUMNS = ("amount", "prior_month", "prior_year", "ytd")
INVESTING_SUBTYPES = ("fixed_asset", "intangible_asset", "investment", "long_term_investment")


def reference_statements(
    data_dir: Path, first_period: str, as_of: date, fiscal_year_start_month: int = 1
) -> dict[str, dict[tuple[str, str], dict[str, Decimal | None]]]:
    """{period: {(statement, line_id): {column: Decimal or None}}} for first_period .. as_of's month."""
    data_dir = Path(data_dir)
    accounts = {r["account_id"]: r for r in _rows(data_dir / "erp" / "accounts.csv")}

    def section(account_id: str) -> str:
        kind, subtype = accounts[account_id]["type"], accounts[account_id]["subtype"] or None
        if kind == "expense":
            return "cogs" if subtype == "cogs" else "opex"
        return kind

    activity: dict[str, dict[str, Decimal]] = {}  # period -> account -> debit − credit
    for r in _rows(data_dir / "erp" / "journal_lines.csv"):
        if r["account_id"] not in accounts:
            continue
        by_account = activity.setdefault(r["posted_date"][:7], {})
        by_account[r["account_id"]] = by_account.get(r["account_id"], ZERO) + Decimal(r["debit"]) - Decimal(r["credit"])
    ledger_start = min(activity)
    last_period = f"{as_of.year:04d}-{as_of.month:02d}"
    months = _periods(min(ledger_start, _shift(first_period, -25)), last_period)

    balance: dict[str, dict[str, Decimal]] = {}  # month -> account -> debit − credit to month-end
    running = dict.fromkeys(accounts, ZERO)
    for month in months:
        for account_id, amount in activity.get(month, {}).items():
            running[account_id] += amount
        balance[month] = dict(running)

    def bal(month: str, account_id: str) -> Decimal:
        return balance[month][account_id] if month in balance else ZERO

    def profit_to(month: str) -> Decimal:
        return -sum((bal(month, a) for a in accounts if section(a) in ("revenue", "cogs", "opex")), ZERO)

    def fiscal_start(month: str) -> str:
        y, m = int(month[:4]), int(month[5:7])
        return f"{y - (1 if m < fiscal_year_start_month else 0):04d}-{fiscal_year_start_month:02d}"

    def earnings(month: str) -> tuple[Decimal, Decimal]:
        retained = profit_to(_shift(fiscal_start(month), -1))
        return retained, profit_to(month) - retained

    def descendants(account_id: str) -> list[str]:
        out = [account_id]
        for child, row in accounts.items():
            if row["parent_id"] == account_id and child != account_id and section(child) == section(account_id):
                out += descendants(child)
        return out

    normal = {a: (Decimal(1) if r["type"] in ("asset", "expense") else Decimal(-1)) for a, r in accounts.items()}

    def window_lines(start: str, end: str, point_in_time: bool) -> dict[tuple[str, str], Decimal]:
        """Every line's figure over months start..end (a balance at end when point_in_time)."""
        before = _shift(start, -1)
        change = {a: bal(end, a) - bal(before, a) for a in accounts}  # debit − credit over the window
        out: dict[tuple[str, str], Decimal] = {}
        sums: dict[str, Decimal] = {}
        for a in accounts:
            sec = section(a)
            if sec in ("revenue", "cogs", "opex"):
                value = normal[a] * sum((change[d] for d in descendants(a)), ZERO)
                out[("income_statement", a)] = value
                sums[sec] = sums.get(sec, ZERO) + normal[a] * change[a]
            else:
                if point_in_time:
                    value = normal[a] * sum((bal(end, d) for d in descendants(a)), ZERO)
                    own = normal[a] * bal(end, a)
                else:
                    value = normal[a] * sum((change[d] for d in descendants(a)), ZERO)
                    own = normal[a] * change[a]
                out[("balance_sheet", a)] = value
                sums[sec] = sums.get(sec, ZERO) + own
        retained_end, current_end = earnings(end)
        if point_in_time:
            retained, current = retained_end, current_end
        else:
            retained_before, current_before = earnings(before)
            retained, current = retained_end - retained_before, current_end - current_before
        out[("balance_sheet", "_retained_earnings")] = retained
        out[("balance_sheet", "_current_earnings")] = current
        sums["equity"] = sums.get("equity", ZERO) + retained + current
        rev, cg, ox = (sums.get(k, ZERO) for k in ("revenue", "cogs", "opex"))
        out.update(
            {
                ("income_statement", "total_revenue"): rev,
                ("income_statement", "total_cogs"): cg,
                ("income_statement", "gross_profit"): rev - cg,
                ("income_statement", "total_opex"): ox,
                ("income_statement", "net_income"): rev - cg - ox,
                ("balance_sheet", "total_assets"): sums.get("asset", ZERO),
                ("balance_sheet", "total_liabilities"): sums.get("liability", ZERO),
                ("balance_sheet", "total_equity"): sums["equity"],
                ("balance_sheet", "total_liabilities_and_equity"): sums.get("liability", ZERO) + sums["equity"],
            }
        )
        # cash flow over the window: each non-cash balance-sheet account's effect is −(debit − credit)
        flows = {"operating": rev - cg - ox, "investing": ZERO, "financing": ZERO}
        cash_begin = cash_end = ZERO
        for a, row in accounts.items():
            kind, subtype = row["type"], row["subtype"] or None
            if kind in ("revenue", "expense"):
                continue
            if subtype == "cash":
                cash_begin += bal(before, a)
                cash_end += bal(end, a)
            elif kind == "asset" and subtype in INVESTING_SUBTYPES:
                flows["investing"] -= change[a]
            elif kind == "equity" or (kind == "liability" and subtype == "debt"):
                flows["financing"] -= change[a]
            else:
                flows["operating"] -= change[a]
        out.update(
            {
                ("cash_flow", "net_income"): rev - cg - ox,
                ("cash_flow", "net_cash_operating"): flows["operating"],
                ("cash_flow", "net_cash_investing"): flows["investing"],
                ("cash_flow", "net_cash_financing"): flows["financing"],
                ("cash_flow", "net_change_in_cash"): sum(flows.values(), ZERO),
                ("cash_flow", "cash_begin"): cash_begin,
                ("cash_flow", "cash_end"): cash_end,
            }
        )
        return {k: _money(v) for k, v in out.items()}

    result: dict[str, dict[tuple[str, str], dict[str, Decimal | None]]] = {}
    for period in _periods(first_period, last_period):
        windows = {
            "amount": (period, period),
            "prior_month": (_shift(period, -1), _shift(period, -1)),
            "prior_year": (_shift(period, -12), _shift(period, -12)),
            "ytd": (fiscal_start(period), period),
        }
        lines: dict[tuple[str, str], dict[str, Decimal | None]] = {}
        for column, (start, end) in windows.items():
            known = start >= ledger_start
            flows = window_lines(start, end, point_in_time=False) if known else {}
            points = window_lines(start, end, point_in_time=True) if known and column != "ytd" else {}
            for key, value in flows.items():
                figure = points[key] if key[0] == "balance_sheet" and column != "ytd" else value
                lines.setdefault(key, dict.fromkeys(STATEMENT_COLUMNS))[column] = figure
        result[period] = lines
    return result


if __name__ == "__main__":  # python tests/reference.py DATA_DIR
    import json
    import sys

    root = Path(sys.argv[1])
    company = json.loads((root / "company.json").read_text())
    table = reference_kpis(root, company["first_period"], date.fromisoformat(company["as_of"]))
    print("period  " + " ".join(f"{k[:12]:>13}" for k in KPIS))
    for p, row in table.items():
        print(p + " " + " ".join(f"{'' if row[k] is None else str(row[k]):>13}" for k in KPIS))
