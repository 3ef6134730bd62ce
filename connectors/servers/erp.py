"""closeboard-erp: the ERP's chart of accounts, general ledger and documents, read-only.

Data root: ``company.json`` and ``erp/{accounts,journal_lines,invoices,bills,payments}.csv``
(optional ``erp/fx_rates.csv``). Run: ``python -m connectors.servers.erp --data DIR [--http PORT]``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

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
    ReportDate,
    SourceError,
    TableSpec,
    page_description,
)
from connectors.servers.store import DataSource, Query, dumps, parse_date

# Each table's columns, their order and which are required come from canonical.sql
# (connectors/records.py); here only what the tool descriptions say of each column.
_DOCUMENT_DOCS = {
    "issue_date": DATE,
    "due_date": DATE,
    "total": MONEY,
    "balance": MONEY + " still open",
    "currency": "ISO 4217 code",
    "status": "draft | open | paid | void",
    "doc_type": "invoice | credit_note (credit notes carry negative amounts)",
    "voided_date": DATE,
}

ACCOUNTS = TableSpec(
    "accounts",
    "erp/accounts.csv",
    "erp_accounts",
    {
        "account_id": "string, key",
        "name": "string",
        "type": "asset | liability | equity | revenue | expense",
        "subtype": "cash | ar | ap | cogs | debt | ... ",
        "currency": "ISO 4217 code",
        "parent_id": "account_id of the parent account",
    },
)
JOURNAL_LINES = TableSpec(
    "journal_lines",
    "erp/journal_lines.csv",
    "erp_journal_lines",
    {
        "entry_id": "string; key with line_no",
        "line_no": "integer as string",
        "posted_date": DATE + " (GL date, shared by all lines of an entry)",
        "account_id": "string",
        "debit": MONEY + " in the company currency, >= 0",
        "credit": MONEY + " in the company currency, >= 0",
        "currency": "ISO 4217 code of the transaction",
        "amount_currency": MONEY + ", signed debit-positive, in the transaction currency",
        "description": "string",
        "customer_id": "string",
        "vendor_id": "string",
        "document_id": "invoice_id or bill_id the line belongs to",
    },
    date_column="posted_date",
)
INVOICES = TableSpec(
    "invoices",
    "erp/invoices.csv",
    "erp_invoices",
    {"invoice_id": "string, key", "customer_id": "string", "customer_name": "string", **_DOCUMENT_DOCS},
    date_column="issue_date",
)
BILLS = TableSpec(
    "bills",
    "erp/bills.csv",
    "erp_bills",
    {"bill_id": "string, key", "vendor_id": "string", "vendor_name": "string", **_DOCUMENT_DOCS},
    date_column="issue_date",
)
PAYMENTS = TableSpec(
    "payments",
    "erp/payments.csv",
    "erp_payments",
    {
        "payment_id": "string; key with line_no",
        "line_no": "integer as string (one payment settling several documents is several lines)",
        "document_id": "invoice_id or bill_id; null = unapplied cash",
        "paid_date": DATE,
        "amount": MONEY,
        "currency": "ISO 4217 code",
        "kind": "payment | refund | credit_applied | write_off",
    },
    date_column="paid_date",
)
FX_RATES = TableSpec(
    "fx_rates",
    "erp/fx_rates.csv",
    "erp_fx_rates",
    {
        "currency": "ISO 4217 code; key with rate_date",
        "rate_date": DATE,
        "rate": "decimal string: units of the reporting currency for one unit of currency",
    },
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
    "get_document_summary",
)

_DOC_FILTERS = "Filters: date_from / date_to on {col}, both inclusive (omit both for every document)."
# get_document_summary: per kind (the table list_<kind> serves, by its date column), the amounts summed
DOCUMENT_KINDS = {"invoices": ("total", "balance"), "bills": ("total", "balance"), "payments": ("amount",)}
DocumentKind = Annotated[
    Literal["invoices", "bills", "payments"],
    Field(description="Which documents: invoices, bills or payments (what list_<kind> serves)."),
]


def _dated(table: str, date_from: str | None, date_to: str | None) -> Query:
    return Query(table, parse_date(date_from, "date_from"), parse_date(date_to, "date_to"))


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

    def dated_list(name: str, title: str, intro: str, spec: TableSpec) -> None:
        """A list tool over one document table, filtered by date_from / date_to on its date column."""

        def list_rows(
            date_from: DateFrom = None, date_to: DateTo = None, cursor: Cursor = None, limit: Limit = 1000
        ) -> str:
            return src.page(_dated(spec.name, date_from, date_to), cursor, limit)

        list_rows.__name__ = name  # the input schema's title: <name>Arguments
        tool(title, page_description(intro, spec, _DOC_FILTERS.format(col=spec.date_column)))(list_rows)

    dated_list(
        "list_invoices",
        "Invoices",
        "Customer invoices and credit notes (all of them, any status), in issue_date order.",
        INVOICES,
    )
    dated_list(
        "list_bills",
        "Bills",
        "Vendor bills and vendor credit notes (all of them, any status), in issue_date order.",
        BILLS,
    )
    dated_list(
        "list_payments", "Payments", "Payment lines applied to invoices and bills, in paid_date order.", PAYMENTS
    )

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

    @tool(
        "Document summary",
        "One row per month for invoices, bills or payments, in a single call, so a client can tell "
        "which months of documents changed without pulling them and then pull only those months "
        "(list_<kind> with date_from / date_to). The month is the issue_date's (invoices, bills) or "
        "the paid_date's (payments): a document is counted in the month it was issued, however late "
        "it is paid, and its balance, status or any other field changing changes that month's row. "
        "Filters: date_from / date_to on that date, both inclusive. Returns compact JSON text "
        '{"items": [...], "next_cursor": null, "total": int (number of items), "as_of": ISO-8601 UTC time}. '
        'Each item: {"period": "YYYY-MM" (null for documents without a date), "count": int (documents '
        'or payment lines), "total" and "balance" (invoices, bills) or "amount" (payments): exact decimal '
        'strings (sums), "digest": 16 hex digits, a hash of every field of every document of the month '
        "(independent of their order; it changes when any of them changes)}, ordered by period.",
    )
    def get_document_summary(kind: DocumentKind, date_from: DateFrom = None, date_to: DateTo = None) -> str:
        return src.month_summary(_dated(kind, date_from, date_to), DOCUMENT_KINDS[kind])

    return server


def main(argv: Sequence[str] | None = None) -> None:
    serve(build_server, sys.argv[1:] if argv is None else argv, prog="python -m connectors.servers.erp")


if __name__ == "__main__":
    main()
