"""The budget adapter (`builtin.budget`): the bundled budget server's `list_budgets` (a CSV file) or
any server whose tool answers the same canonical items (docs/budget.md).

Each item is one amount for a month and either an account or a KPI. What the warehouse cannot see
from a single value is checked here, and the item set aside (to `quarantine`, with the reason):
a period that is not `YYYY-MM`, neither or both of account_id and kpi, a KPI that cannot be
budgeted, an amount in a currency other than the reporting currency (`company.currency`: closeboard
never converts a budget nor sums two currencies), and a second amount for the same month and account or KPI (which one is right is not ours
to guess: every copy after the first is set aside). Amounts that do not parse or lose cents are the
warehouse's to quarantine, as for every source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from connectors.adapters.base import Adapter, Mapped, Stream, item_json

if TYPE_CHECKING:
    from connectors.config import ConnectorConfig

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# the flows a month's budget can set as a whole (a ratio such as gross_margin_pct follows from them)
BUDGET_KPIS = ("revenue", "cogs", "gross_profit", "opex", "net_income", "net_burn")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class BudgetAdapter(Adapter):
    name = "builtin.budget"
    default_tools = ("list_budgets",)
    options = ("currency",)
    # the reporting currency, filled from `company.currency` at config load (must equal it when given)
    company_options = {"currency": ("currency", True)}

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        self._currency = _text(config.options.get("currency"))
        self._seen: dict[tuple[str, str, str], int] = {}
        self._count = 0

    def streams(self) -> list[Stream]:
        return [Stream("budgets", "list_budgets")]

    def problem(self, item: Any, number: int) -> str | None:
        """Why `item` (the `number`th of the pull, from 1) cannot be a budget line, or None."""
        if not isinstance(item, dict):
            return f"budget item {number}: not an object"
        period, account, kpi = (_text(item.get(k)) for k in ("period", "account_id", "kpi"))
        label = f"budget item {number} (period={period!r}, account_id={account!r}, kpi={kpi!r})"
        if period is None or not PERIOD.match(period):
            return f"{label}: period must be a month YYYY-MM"
        if (account is None) == (kpi is None):
            return f"{label}: give exactly one of account_id and kpi"
        if kpi is not None and kpi not in BUDGET_KPIS:
            return f"{label}: kpi must be one of {', '.join(BUDGET_KPIS)}"
        currency = _text(item.get("currency"))
        reporting = getattr(self, "_currency", None)
        if currency is not None and reporting is not None and currency.upper() != reporting.upper():
            return (
                f"{label}: currency {currency} is not the reporting currency {reporting} "
                "(a budget is never converted; give it in the reporting currency)"
            )
        key = (period, account or "", kpi or "")
        first = self._seen.setdefault(key, number)
        if first != number:
            return f"{label}: a second amount for the same month and {'account' if account else 'kpi'} (item {first} came first)"
        return None

    def map_items(self, stream: Stream, items: Sequence[Any]) -> Mapped:
        if not hasattr(self, "_seen"):  # mapped without `configure` (a test, `connectors check`)
            self._seen, self._count = {}, 0
        kept: list[Any] = []
        rejected: list[tuple[str, str]] = []
        for item in items:  # numbered across the pages of the pull, from 1
            self._count += 1
            reason = self.problem(item, self._count)
            if reason is None:
                kept.append({**item, **{k: _text(item.get(k)) for k in ("period", "account_id", "kpi")}})
            else:
                rejected.append((item_json(item), reason))
        return Mapped(self.to_batch(stream, kept), rejected)
