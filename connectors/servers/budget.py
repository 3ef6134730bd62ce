"""closeboard-budget: the budget, read-only, from one CSV file.

Data root: ``budget.csv`` (columns ``period,account_id,kpi,amount,currency``; docs/budget.md).
Run: ``python -m connectors.servers.budget --data DIR [--http PORT]`` (the demo serves
``$CLOSEBOARD_HOME/demo/budget.csv``; a user's budget is usually ``$CLOSEBOARD_HOME/budget.csv``, i.e.
``--data ${CLOSEBOARD_HOME}``).

The file is served as it is: checking each row (period format, exactly one of account_id and kpi,
amounts to the cent) is the adapter's and the warehouse's job, so a bad row reaches `quarantine`
with its reason instead of vanishing in the server.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from mcp.server.mcpserver import MCPServer

from connectors.servers.hosting import new_server, serve, warm_up
from connectors.servers.specs import MONEY, READ_ONLY, Cursor, Limit, TableSpec, page_description
from connectors.servers.store import DataSource, Query

BUDGETS = TableSpec(
    "budgets",
    "budget.csv",
    "budgets",
    # columns, order and required ones from canonical.sql (connectors/records.py); here their docs
    {
        "period": "month YYYY-MM",
        "account_id": "the ERP account (revenue or expense) budgeted; null when kpi is given",
        "kpi": "a KPI budgeted as a whole (revenue, cogs, gross_profit, opex, net_income, net_burn); "
        "null when account_id is given",
        "amount": MONEY + "; revenue and expenses positive, as on the income statement",
        "currency": "ISO 4217 code (the company's reporting currency)",
    },
)
TABLES = (BUDGETS,)
TOOL_NAMES = ("list_budgets",)


def build_server(data_dir: Path, cache: Path | None = None) -> MCPServer:
    server = new_server(
        "closeboard-budget",
        title="closeboard budget (read-only)",
        instructions="Read-only budget: one amount per month and account or KPI. Pages with cursor/limit, "
        "answers compact JSON text.",
    )
    src = DataSource(data_dir, TABLES, cache)

    @server.tool(
        title="Budget",
        description=page_description("The budget: one amount per month and account or KPI, in file order.", BUDGETS),
        annotations=READ_ONLY,
        structured_output=False,
    )
    def list_budgets(cursor: Cursor = None, limit: Limit = 1000) -> str:
        return src.page(Query("budgets"), cursor, limit)

    return warm_up(server, src.load_all)


def main(argv: Sequence[str] | None = None) -> None:
    serve(build_server, sys.argv[1:] if argv is None else argv, prog="python -m connectors.servers.budget", cache=True)


if __name__ == "__main__":
    main()
