"""Independent reference of budget vs actual from the demo company's CSV files (budget.csv,
erp/accounts.csv, erp/journal_lines.csv), in the style of tests/reference.py: the csv module and
Decimal / Fraction only, nothing from closeboard.

Per period, for the income statement's account lines (every revenue or expense account, and every
parent account, whose line adds up its subtree) and its totals:
- budget: the sum of the budget rows of the accounts under the line (none: no budget, not 0);
  total_revenue / total_cogs / total_opex the section's, gross_profit = revenue - cogs, net_income =
  revenue - cogs - opex (KPI rows for them take precedence; the demo writes only net_burn KPI rows)
- actual: revenue Σ(credit - debit), expenses Σ(debit - credit) of the lines posted in the month
- variance = actual - budget; variance_pct = variance / |budget| x 100 half away from zero (None at 0)
- favourable: revenue, gross profit and net income at or above budget; cogs and opex at or below
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from tests.reference import _rows, round_half_away

ZERO = Decimal("0")


def budget_rows(data: Path) -> list[dict[str, str]]:
    return list(_rows(data / "budget.csv"))


def reference_budget(data: Path, periods: list[str]) -> dict[tuple[str, str], dict[str, object]]:
    """(period, line_id) -> {budget, actual, variance, variance_pct, favourable} for every
    income-statement line (rollup account) with a budget."""
    accounts = {a["account_id"]: a for a in _rows(data / "erp" / "accounts.csv")}

    def section(account_id: str) -> str | None:
        a = accounts[account_id]
        if a["type"] == "revenue":
            return "revenue"
        if a["type"] == "expense":
            return "cogs" if a["subtype"] == "cogs" else "opex"
        return None

    budget: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    kpi_budget: dict[tuple[str, str], Decimal] = {}
    for row in budget_rows(data):
        if row["period"] not in periods:
            continue
        if row["account_id"]:
            if section(row["account_id"]):
                budget[(row["period"], row["account_id"])] += Decimal(row["amount"])
        else:
            kpi_budget[(row["period"], row["kpi"])] = Decimal(row["amount"])
    actual: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in _rows(data / "erp" / "journal_lines.csv"):
        period, account = line["posted_date"][:7], line["account_id"]
        if period in periods and account in accounts and section(account):
            dc = Decimal(line["debit"]) - Decimal(line["credit"])
            actual[(period, account)] += -dc if accounts[account]["type"] == "revenue" else dc

    def ancestors(account_id: str) -> list[str]:  # itself, then its parents within its section
        chain, current = [account_id], account_id
        while (
            accounts[current]["parent_id"]
            and accounts[current]["parent_id"] in accounts
            and section(accounts[current]["parent_id"]) == section(account_id)
        ):
            current = accounts[current]["parent_id"]
            chain.append(current)
        return chain

    out: dict[tuple[str, str], dict[str, object]] = {}
    for period in periods:
        lines_budget: dict[str, Decimal] = defaultdict(Decimal)
        lines_actual: dict[str, Decimal] = defaultdict(Decimal)
        budgeted: set[str] = set()
        sections_b: dict[str, Decimal] = {}
        sections_a: dict[str, Decimal] = defaultdict(Decimal)
        for account_id in accounts:
            sec = section(account_id)
            if not sec:
                continue
            a = actual.get((period, account_id), ZERO)
            sections_a[sec] += a
            for line in ancestors(account_id):
                lines_actual[line] += a
            if (period, account_id) in budget:
                b = budget[(period, account_id)]
                sections_b[sec] = sections_b.get(sec, ZERO) + b
                for line in ancestors(account_id):
                    lines_budget[line] += b
                    budgeted.add(line)
        better = {line: section(line) == "revenue" for line in budgeted}
        figures = {line: (lines_budget[line], lines_actual[line], better[line]) for line in budgeted}
        rev, cogs, opex = (kpi_budget.get((period, k), sections_b.get(k)) for k in ("revenue", "cogs", "opex"))
        totals = {
            "total_revenue": (rev, sections_a["revenue"], True),
            "total_cogs": (cogs, sections_a["cogs"], False),
            "total_opex": (opex, sections_a["opex"], False),
            "gross_profit": (
                kpi_budget.get((period, "gross_profit"), None if rev is None or cogs is None else rev - cogs),
                sections_a["revenue"] - sections_a["cogs"],
                True,
            ),
            "net_income": (
                kpi_budget.get((period, "net_income"), None if None in (rev, cogs, opex) else rev - cogs - opex),
                sections_a["revenue"] - sections_a["cogs"] - sections_a["opex"],
                True,
            ),
        }
        figures.update({k: v for k, v in totals.items() if v[0] is not None})
        for line, (b, a, higher_is_better) in figures.items():
            variance = a - b
            out[(period, line)] = {
                "budget": b,
                "actual": a,
                "variance": variance,
                "variance_pct": None if b == 0 else round_half_away(Fraction(variance) * 100 / abs(Fraction(b))),
                "favourable": variance >= 0 if higher_is_better else variance <= 0,
            }
    return out
