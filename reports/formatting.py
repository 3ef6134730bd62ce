"""Numbers formatted in one place: templates reach these only through filters."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CHF": "CHF "}
# the KPIs that are not money in the company currency, with their unit (one list: the page, the PDF,
# the workbook, `closeboard explain` and the MCP server's answers all read it)
KPI_UNITS = {"gross_margin_pct": "percent", "runway_months": "months", "dso": "days", "dpo": "days"}
PERCENT_KPIS = {kpi for kpi, unit in KPI_UNITS.items() if unit == "percent"}
PLAIN_KPIS = {kpi for kpi, unit in KPI_UNITS.items() if unit != "percent"}


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        if value != value:  # pandas NA / NaN
            return None
    except TypeError:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def money(value: Any, currency: str = "USD", *, cents: bool = False) -> str:
    """1234.5 -> "$1,234" (or "$1,234.50" with cents); negatives in parentheses."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    places = Decimal("0.01") if cents else Decimal("1")
    rounded = amount.quantize(places, rounding=ROUND_HALF_UP)
    text = f"{abs(rounded):,.2f}" if cents else f"{abs(rounded):,.0f}"
    symbol = _SYMBOLS.get(currency, f"{currency} ")
    return f"({symbol}{text})" if rounded < 0 else f"{symbol}{text}"


def number(value: Any, places: int = 1, suffix: str = "") -> str:
    amount = _decimal(value)
    if amount is None:
        return "—"
    rounded = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{abs(rounded):,.{places}f}{suffix}"
    return f"({text})" if rounded < 0 else text


def kpi(value: Any, name: str, currency: str) -> str:
    if name in PERCENT_KPIS:
        return number(value, 1, "%")
    if name in PLAIN_KPIS:
        return number(value, 1)
    return money(value, currency)


def symbol(currency: str) -> str:
    """The prefix money is shown with: "$" for USD, "CHF " for CHF, else the code and a space."""
    return _SYMBOLS.get(currency, f"{currency} ")


def display(value: Any, fmt: str = "money", currency: str = "USD") -> str:
    """A value as the page shows it for a sections.yaml `format` (the page's script mirrors this)."""
    if fmt == "money":
        return money(value, currency)
    if fmt == "money_cents":
        return money(value, currency, cents=True)
    if fmt == "percent":
        return number(value, 1, "%")
    if fmt == "number":
        return number(value, 1)
    if fmt == "integer":
        return number(value, 0)
    if value is None:
        return "—"
    return str(value)
