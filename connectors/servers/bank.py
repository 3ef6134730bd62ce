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

from connectors.servers.hosting import new_server, serve
from connectors.servers.specs import (
    DATE,
    MONEY,
    READ_ONLY,
    Cursor,
    DateFrom,
    DateTo,
    Limit,
    S,
    TableSpec,
    page_description,
)
from connectors.servers.store import DataSource, Query, parse_date

BANK_ACCOUNTS = TableSpec(
    "bank_accounts",
    "bank/bank_accounts.csv",
    (
        S("bank_account_id", "string, key", True),
        S("name"),
        S("currency", "ISO 4217 code", True),
        S("gl_account_id", "the ERP account_id this bank account is booked to", True),
    ),
)
TRANSACTIONS = TableSpec(
    "transactions",
    "bank/transactions.csv",
    (
        S("txn_id", "string, key", True),
        S("bank_account_id", "string", True),
        S("booked_date", DATE, True),
        S("amount", MONEY + ", signed: receipts positive, payments negative", True),
        S("description"),
        S("reference", "payer/payee reference, often an invoice, bill or entry id"),
    ),
    date_column="booked_date",
)
BALANCES = TableSpec(
    "balances",
    "bank/balances.csv",
    (
        S("bank_account_id", "string; key with balance_date", True),
        S("balance_date", DATE, True),
        S("closing_balance", MONEY + " at the end of balance_date", True),
    ),
    date_column="balance_date",
)
TABLES = (BANK_ACCOUNTS, TRANSACTIONS, BALANCES)
TOOL_NAMES = ("list_bank_accounts", "list_transactions", "get_balances")

BankAccountId = Annotated[str | None, Field(description="Only this bank account; omit for every account.")]

_FILTERS = "Filters: bank_account_id (omit for all accounts); date_from / date_to on {col}, both inclusive."


def _equals(bank_account_id: str | None) -> tuple[tuple[str, str], ...]:
    return (("bank_account_id", bank_account_id),) if bank_account_id else ()


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
        query = Query(
            "transactions",
            parse_date(date_from, "date_from"),
            parse_date(date_to, "date_to"),
            equals=_equals(bank_account_id),
        )
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
        query = Query(
            "balances",
            parse_date(date_from, "date_from"),
            parse_date(date_to, "date_to"),
            equals=_equals(bank_account_id),
        )
        return src.page(query, cursor, limit)

    return server


def build_server(data_dir: Path) -> MCPServer:
    server = new_server(
        "closeboard-bank",
        title="closeboard bank (read-only)",
        instructions="Read-only bank feed: accounts, statement lines, daily closing balances. "
        "List tools page with cursor/limit and answer compact JSON text.",
    )
    return add_bank_tools(server, DataSource(data_dir, TABLES), "The bank accounts of the company.")


def main(argv: Sequence[str] | None = None) -> None:
    serve(build_server, sys.argv[1:] if argv is None else argv, prog="python -m connectors.servers.bank")


if __name__ == "__main__":
    main()
