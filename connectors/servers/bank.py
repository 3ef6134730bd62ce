"""closeboard-bank: bank accounts, statement lines and closing balances, read-only.

Data root: ``bank/{bank_accounts,transactions,balances}.csv``.
Run: ``python -m connectors.servers.bank --data DIR [--http PORT [--oauth]]`` (``--oauth``: behind the built-in
authorization server of ``connectors/servers/oauth.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from connectors.servers.hosting import new_server, serve, warm_up
from connectors.servers.specs import (
    DATE,
    MONEY,
    READ_ONLY,
    Cursor,
    DateFrom,
    DateTo,
    Limit,
    TableSpec,
    page_description,
)
from connectors.servers.store import DataSource, Query, parse_date

# columns, order and required ones from canonical.sql (connectors/records.py); here their docs
BANK_ACCOUNTS = TableSpec(
    "bank_accounts",
    "bank/bank_accounts.csv",
    "bank_accounts",
    {
        "bank_account_id": "string, key",
        "name": "string",
        "currency": "ISO 4217 code",
        "gl_account_id": "the ERP account_id this bank account is booked to",
    },
)
TRANSACTIONS = TableSpec(
    "transactions",
    "bank/transactions.csv",
    "bank_transactions",
    {
        "txn_id": "string, key",
        "bank_account_id": "string",
        "booked_date": DATE,
        "amount": MONEY + ", signed: receipts positive, payments negative",
        "description": "string",
        "reference": "payer/payee reference, often an invoice, bill or entry id",
    },
    date_column="booked_date",
)
BALANCES = TableSpec(
    "balances",
    "bank/balances.csv",
    "bank_balances",
    {
        "bank_account_id": "string; key with balance_date",
        "balance_date": DATE,
        "closing_balance": MONEY + " at the end of balance_date",
    },
    date_column="balance_date",
)
TABLES = (BANK_ACCOUNTS, TRANSACTIONS, BALANCES)
TOOL_NAMES = ("list_bank_accounts", "list_transactions", "get_balances", "get_transaction_summary")

BankAccountId = Annotated[str | None, Field(description="Only this bank account; omit for every account.")]

_FILTERS = "Filters: bank_account_id (omit for all accounts); date_from / date_to on {col}, both inclusive."


def _query(table: str, bank_account_id: str | None, date_from: str | None, date_to: str | None) -> Query:
    equals = (("bank_account_id", bank_account_id),) if bank_account_id else ()
    return Query(table, parse_date(date_from, "date_from"), parse_date(date_to, "date_to"), equals=equals)


def transaction_summary(
    src: DataSource, bank_account_id: str | None = None, date_from: str | None = None, date_to: str | None = None
) -> str:
    """get_transaction_summary's answer: per month and bank account, the lines' count, sum and digest."""
    return src.month_summary(
        _query("transactions", bank_account_id, date_from, date_to), ("amount",), by="bank_account_id"
    )


def add_bank_tools(server: MCPServer, src: DataSource, accounts_doc: str) -> MCPServer:
    """The three bank tools over any source answering `page(Query, cursor, limit)`: the bundled bank
    server and the statement-file server serve exactly the same contract."""

    def tool(title: str, description: str):  # noqa: ANN202
        return server.tool(title=title, description=description, annotations=READ_ONLY, structured_output=False)

    @tool("Bank accounts", page_description(accounts_doc, BANK_ACCOUNTS))
    def list_bank_accounts(cursor: Cursor = None, limit: Limit = 1000) -> str:
        return src.page(Query("bank_accounts"), cursor, limit)

    @tool(
        "Bank transactions",
        page_description(
            "Booked statement lines in booked_date order.", TRANSACTIONS, _FILTERS.format(col="booked_date")
        ),
    )
    def list_transactions(
        bank_account_id: BankAccountId = None,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        cursor: Cursor = None,
        limit: Limit = 1000,
    ) -> str:
        query = _query("transactions", bank_account_id, date_from, date_to)
        return src.page(query, cursor, limit)

    @tool(
        "Bank balances",
        page_description(
            "Closing balances per bank account and day, in balance_date order.",
            BALANCES,
            _FILTERS.format(col="balance_date"),
        ),
    )
    def get_balances(
        bank_account_id: BankAccountId = None,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        cursor: Cursor = None,
        limit: Limit = 1000,
    ) -> str:
        query = _query("balances", bank_account_id, date_from, date_to)
        return src.page(query, cursor, limit)

    @tool(
        "Transaction summary",
        "One row per bank account and month of booked_date over the statement lines, in a single call, "
        "so a client can tell which months changed without pulling them and then pull only those months "
        "(list_transactions with date_from / date_to). " + _FILTERS.format(col="booked_date") + " Returns "
        'compact JSON text {"items": [...], "next_cursor": null, "total": int (number of items), '
        '"as_of": ISO-8601 UTC time}. Each item: {"period": "YYYY-MM" (null for lines without a date), '
        '"bank_account_id": string, "count": int (lines), "amount": exact decimal string (signed sum), '
        '"digest": 16 hex digits, a hash of every field of every line of the month (independent of '
        "their order; it changes when any of them changes)}, ordered by period then bank_account_id.",
    )
    def get_transaction_summary(
        bank_account_id: BankAccountId = None, date_from: DateFrom = None, date_to: DateTo = None
    ) -> str:
        return transaction_summary(src, bank_account_id, date_from, date_to)

    return server


def build_server(data_dir: Path, cache: Path | None = None) -> MCPServer:
    server = new_server(
        "closeboard-bank",
        title="closeboard bank (read-only)",
        instructions="Read-only bank feed: accounts, statement lines, daily closing balances. "
        "List tools page with cursor/limit and answer compact JSON text.",
    )
    src = DataSource(data_dir, TABLES, cache)
    # the summary a refresh asks first, whole, computed as the server starts
    return warm_up(
        add_bank_tools(server, src, "The bank accounts of the company."), src.load_all, lambda: transaction_summary(src)
    )


def main(argv: Sequence[str] | None = None) -> None:
    serve(build_server, sys.argv[1:] if argv is None else argv, prog="python -m connectors.servers.bank", cache=True)


if __name__ == "__main__":
    main()
