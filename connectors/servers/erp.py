"""closeboard-erp: the ERP's chart of accounts, general ledger and documents, read-only.

Data root: ``company.json`` and ``erp/{accounts,journal_lines,invoices,bills,payments}.csv``
(optional ``erp/fx_rates.csv``). Run: ``python -m connectors.servers.erp --data DIR [--http PORT]``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from mcp.server.mcpserver import MCPServer

from connectors.servers.hosting import new_server, serve
from connectors.servers.specs import (
    DATE,
    MONEY,
    READ_ONLY,
    Cursor,
    DateFrom,
    DateTo,
    Limit,
    ReportDate,
    S,
    SourceError,
    TableSpec,
    page_description,
)
from connectors.servers.store import DataSource, Query, dumps, parse_date

_DOC_COLUMNS = (
    S("status", "draft | open | paid | void", True),
    S("doc_type", "invoice | credit_note (credit notes carry negative amounts)", True),
    S("voided_date", DATE),
)

ACCOUNTS = TableSpec(
    "accounts",
    "erp/accounts.csv",
    (
        S("account_id", "string, key", True),
        S("name", "string", True),
        S("type", "asset | liability | equity | revenue | expense", True),
        S("subtype", "cash | ar | ap | cogs | debt | ... "),
        S("currency", "ISO 4217 code", True),
        S("parent_id", "account_id of the parent account"),
    ),
)
JOURNAL_LINES = TableSpec(
    "journal_lines",
    "erp/journal_lines.csv",
    (
        S("entry_id", "string; key with line_no", True),
        S("line_no", "integer as string", True),
        S("posted_date", DATE + " (GL date, shared by all lines of an entry)", True),
        S("account_id", "string", True),
        S("debit", MONEY + " in the company currency, >= 0", True),
        S("credit", MONEY + " in the company currency, >= 0", True),
        S("currency", "ISO 4217 code of the transaction", True),
        S("amount_currency", MONEY + ", signed debit-positive, in the transaction currency"),
        S("description"),
        S("customer_id"),
        S("vendor_id"),
        S("document_id", "invoice_id or bill_id the line belongs to"),
    ),
    date_column="posted_date",
)
INVOICES = TableSpec(
    "invoices",
    "erp/invoices.csv",
    (
        S("invoice_id", "string, key", True),
        S("customer_id", "string", True),
        S("customer_name"),
        S("issue_date", DATE, True),
        S("due_date", DATE),
        S("total", MONEY, True),
        S("balance", MONEY + " still open", True),
        S("currency", "ISO 4217 code", True),
        *_DOC_COLUMNS,
    ),
    date_column="issue_date",
)
BILLS = TableSpec(
    "bills",
    "erp/bills.csv",
    (
        S("bill_id", "string, key", True),
        S("vendor_id", "string", True),
        S("vendor_name"),
        S("issue_date", DATE, True),
        S("due_date", DATE),
        S("total", MONEY, True),
        S("balance", MONEY + " still open", True),
        S("currency", "ISO 4217 code", True),
        *_DOC_COLUMNS,
    ),
    date_column="issue_date",
)
PAYMENTS = TableSpec(
    "payments",
    "erp/payments.csv",
    (
        S("payment_id", "string; key with line_no", True),
        S("line_no", "integer as string (one payment settling several documents is several lines)", True),
        S("document_id", "invoice_id or bill_id; null = unapplied cash"),
        S("paid_date", DATE, True),
        S("amount", MONEY, True),
        S("currency", "ISO 4217 code", True),
        S("kind", "payment | refund | credit_applied | write_off", True),
    ),
    date_column="paid_date",
)
FX_RATES = TableSpec(
    "fx_rates",
    "erp/fx_rates.csv",
    (
        S("currency", "ISO 4217 code; key with rate_date", True),
        S("rate_date", DATE, True),
        S("rate", "decimal string: units of the reporting currency for one unit of currency", True),
    ),
    date_column="rate_date",
    optional=True,
)
TABLES = (ACCOUNTS, JOURNAL_LINES, INVOICES, BILLS, PAYMENTS, FX_RATES)

TOOL_NAMES = (
    "get_company",
    "list_accounts",
    "list_journal_lines",
    "list_invoices",
    "list_bills",
    "list_payments",
    "get_ledger_summary",
    "get_trial_balance",
    "list_fx_rates",
)


def build_server(data_dir: Path) -> MCPServer:
    src = DataSource(data_dir, TABLES)
    server = new_server(
        "closeboard-erp",
        title="closeboard ERP (read-only)",
        instructions="Read-only ERP: chart of accounts, journal lines, invoices, bills, payments. "
        "List tools page with cursor/limit and answer compact JSON text.",
    )

    def tool(title: str, description: str):  # noqa: ANN202
        return server.tool(title=title, description=description, annotations=READ_ONLY, structured_output=False)

    @tool(
        "Company",
        "The company the ledger belongs to. Returns compact JSON text "
        '{"name": string, "currency": ISO 4217 reporting currency, "fiscal_year_start_month": int 1-12, '
        '"timezone": IANA name, "as_of": date YYYY-MM-DD the data runs to (or null), '
        '"first_period": YYYY-MM first reported period (or null)}.',
    )
    def get_company() -> str:
        company = src.company()
        fields = ("name", "currency", "fiscal_year_start_month", "timezone", "as_of", "first_period")
        return dumps({key: company.get(key) for key in fields})

    @tool("Chart of accounts", page_description("The chart of accounts.", ACCOUNTS))
    def list_accounts(cursor: Cursor = None, limit: Limit = 1000) -> str:
        return src.page(Query("accounts"), cursor, limit)

    @tool(
        "Journal lines",
        page_description(
            "Posted general-ledger lines in posted_date order.",
            JOURNAL_LINES,
            "Filters: date_from / date_to on posted_date, both inclusive.",
        ),
    )
    def list_journal_lines(
        date_from: DateFrom = None, date_to: DateTo = None, cursor: Cursor = None, limit: Limit = 1000
    ) -> str:
        query = Query("journal_lines", parse_date(date_from, "date_from"), parse_date(date_to, "date_to"))
        return src.page(query, cursor, limit)

    @tool("Invoices", page_description("Customer invoices and credit notes (all of them, any status).", INVOICES))
    def list_invoices(cursor: Cursor = None, limit: Limit = 1000) -> str:
        return src.page(Query("invoices"), cursor, limit)

    @tool("Bills", page_description("Vendor bills and vendor credit notes (all of them, any status).", BILLS))
    def list_bills(cursor: Cursor = None, limit: Limit = 1000) -> str:
        return src.page(Query("bills"), cursor, limit)

    @tool("Payments", page_description("Payment lines applied to invoices and bills.", PAYMENTS))
    def list_payments(cursor: Cursor = None, limit: Limit = 1000) -> str:
        return src.page(Query("payments"), cursor, limit)

    @tool(
        "Ledger summary",
        "One row per month and account over the journal lines, in a single call, so a client can tell "
        "which months changed without pulling them. Filters: date_from / date_to on posted_date, both "
        "inclusive. Returns compact JSON text "
        '{"items": [...], "next_cursor": null, "total": int (number of items), "as_of": ISO-8601 UTC time}. '
        "Each item: "
        '{"period": "YYYY-MM", "account_id": string, "lines": int (number of journal lines), '
        '"debit": exact decimal string (sum), "credit": exact decimal string (sum)}, '
        "ordered by period then account_id (period null for lines without a posted_date).",
    )
    def get_ledger_summary(date_from: DateFrom = None, date_to: DateTo = None) -> str:
        return src.ledger_summary("journal_lines", parse_date(date_from, "date_from"), parse_date(date_to, "date_to"))

    @tool(
        "Trial balance",
        "The ERP's own trial balance report at a date, in a single call: per account, the cumulative "
        "sums of debit and credit of every posted journal line dated up to `date` (inclusive), since "
        "inception. Returns compact JSON text "
        '{"items": [...], "next_cursor": null, "total": int (number of items), "as_of": ISO-8601 UTC time}. '
        'Each item: {"account_id": string, "debit": exact decimal string, "credit": exact decimal string}, '
        "ordered by account_id.",
    )
    def get_trial_balance(date: ReportDate) -> str:
        day = parse_date(date, "date")
        if day is None:
            raise SourceError("date is required: the report date, YYYY-MM-DD")
        return src.trial_balance("journal_lines", day)

    @tool(
        "FX rates",
        page_description(
            "Exchange rates into the reporting currency (empty when the ERP keeps none).",
            FX_RATES,
            "Filters: date_from / date_to on rate_date, both inclusive.",
        ),
    )
    def list_fx_rates(
        date_from: DateFrom = None, date_to: DateTo = None, cursor: Cursor = None, limit: Limit = 1000
    ) -> str:
        query = Query("fx_rates", parse_date(date_from, "date_from"), parse_date(date_to, "date_to"))
        return src.page(query, cursor, limit)

    return server


def main(argv: Sequence[str] | None = None) -> None:
    serve(build_server, sys.argv[1:] if argv is None else argv, prog="python -m connectors.servers.erp")


if __name__ == "__main__":
    main()
