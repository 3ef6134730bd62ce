"""closeboard-erp: the ERP's chart of accounts, general ledger and documents, read-only.

Data root: ``company.json`` and ``erp/{accounts,journal_lines,invoices,bills,payments}.csv``
(optional ``erp/fx_rates.csv``). Run: ``python -m connectors.servers.erp --data DIR [--http PORT]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal

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

_DOC_FILTERS = "Filters: date_from / date_to on {col}, both inclusive (omit both for every document)."
# get_document_summary: per kind (the table list_<kind> serves, by its date column), the amounts summed
JOURNAL_AMOUNTS = ("debit", "credit")  # what get_journal_summary sums per month
DOCUMENT_KINDS = {"invoices": ("total", "balance"), "bills": ("total", "balance"), "payments": ("amount",)}
DocumentKind = Annotated[
    Literal["invoices", "bills", "payments"],
    Field(description="Which documents: invoices, bills or payments (what list_<kind> serves)."),
]

# the ERP's read tools, in the order they are listed, with their titles (the same on every server that
# offers them: this one, and beanfile over a beancount ledger); each server gives its own descriptions
TOOL_TITLES = {
    "get_company": "Company",
    "list_accounts": "Chart of accounts",
    "list_journal_lines": "Journal lines",
    "list_invoices": "Invoices",
    "list_bills": "Bills",
    "list_payments": "Payments",
    "get_ledger_summary": "Ledger summary",
    "get_trial_balance": "Trial balance",
    "list_fx_rates": "FX rates",
    "get_document_summary": "Document summary",
    "get_journal_summary": "Journal summary",
    "get_journal_days": "Journal days",
}
TOOL_NAMES = tuple(TOOL_TITLES)
# the dated list tools (date_from, date_to, cursor, limit) and the table each one pages
DATED_LISTS = {
    "list_journal_lines": JOURNAL_LINES.name,
    "list_invoices": INVOICES.name,
    "list_bills": BILLS.name,
    "list_payments": PAYMENTS.name,
    "list_fx_rates": FX_RATES.name,
}
COMPANY_FIELDS = ("name", "currency", "fiscal_year_start_month", "timezone", "as_of", "first_period")
_PAGE_REPORT = '{"items": [...], "next_cursor": null, "total": int (number of items), "as_of": ISO-8601 UTC time}'

# the same on every server that offers get_journal_days (this one, beanfile)
JOURNAL_DAYS_DESCRIPTION = (
    "get_journal_summary by day: one row per day of posted_date over the journal lines in a window, in a "
    "single call, so a client that saw a month's lines change can pull only the days that changed "
    "(list_journal_lines with date_from / date_to). Filters: date_from / date_to on posted_date, both "
    f"inclusive (a month's days: its first and last day). Returns compact JSON text {_PAGE_REPORT}. Each item: "
    '{"date": "YYYY-MM-DD" (null for lines without a posted_date), "count": int (lines), "debit" and '
    '"credit": exact decimal strings (sums), "digest": 16 hex digits, a hash of every field of every line of '
    "the day (independent of their order; the month's digest in get_journal_summary is the sum of its days' "
    "modulo 2**64)}, ordered by date."
)

DESCRIPTIONS = {
    "get_company": "The company the ledger belongs to. Returns compact JSON text "
    '{"name": string, "currency": ISO 4217 reporting currency, "fiscal_year_start_month": int 1-12, '
    '"timezone": IANA name, "as_of": date YYYY-MM-DD the data runs to (or null), '
    '"first_period": YYYY-MM first reported period (or null)}.',
    "list_accounts": page_description("The chart of accounts.", ACCOUNTS),
    "list_journal_lines": page_description(
        "Posted general-ledger lines in posted_date order.",
        JOURNAL_LINES,
        "Filters: date_from / date_to on posted_date, both inclusive.",
    ),
    **{
        name: page_description(intro, spec, _DOC_FILTERS.format(col=spec.date_column))
        for name, intro, spec in (
            (
                "list_invoices",
                "Customer invoices and credit notes (all of them, any status), in issue_date order.",
                INVOICES,
            ),
            (
                "list_bills",
                "Vendor bills and vendor credit notes (all of them, any status), in issue_date order.",
                BILLS,
            ),
            ("list_payments", "Payment lines applied to invoices and bills, in paid_date order.", PAYMENTS),
        )
    },
    "get_ledger_summary": "One row per month and account over the journal lines, in a single call, so a client "
    "can tell which months changed without pulling them. Filters: date_from / date_to on posted_date, both "
    f"inclusive. Returns compact JSON text {_PAGE_REPORT}. Each item: "
    '{"period": "YYYY-MM", "account_id": string, "lines": int (number of journal lines), '
    '"debit": exact decimal string (sum), "credit": exact decimal string (sum)}, '
    "ordered by period then account_id (period null for lines without a posted_date).",
    "get_trial_balance": "The ERP's own trial balance report at a date, in a single call: per account, the "
    "cumulative sums of debit and credit of every posted journal line dated up to `date` (inclusive), since "
    f"inception. Returns compact JSON text {_PAGE_REPORT}. "
    'Each item: {"account_id": string, "debit": exact decimal string, "credit": exact decimal string}, '
    "ordered by account_id.",
    "list_fx_rates": page_description(
        "Exchange rates into the reporting currency (empty when the ERP keeps none).",
        FX_RATES,
        "Filters: date_from / date_to on rate_date, both inclusive.",
    ),
    "get_document_summary": "One row per month for invoices, bills or payments, in a single call, so a client "
    "can tell which months of documents changed without pulling them and then pull only those months "
    "(list_<kind> with date_from / date_to). The month is the issue_date's (invoices, bills) or "
    "the paid_date's (payments): a document is counted in the month it was issued, however late "
    "it is paid, and its balance, status or any other field changing changes that month's row. "
    f"Filters: date_from / date_to on that date, both inclusive. Returns compact JSON text {_PAGE_REPORT}. "
    'Each item: {"period": "YYYY-MM" (null for documents without a date), "count": int (documents '
    'or payment lines), "total" and "balance" (invoices, bills) or "amount" (payments): exact decimal '
    'strings (sums), "digest": 16 hex digits, a hash of every field of every document of the month '
    "(independent of their order; it changes when any of them changes)}, ordered by period.",
    "get_journal_summary": "One row per month of posted_date over the journal lines, in a single call, so a client "
    "can tell whether a month's lines changed in any field (a description, a customer, a line moved between "
    "entries), which the ledger summary's counts and sums per account do not show, without pulling them. "
    f"Filters: date_from / date_to on posted_date, both inclusive. Returns compact JSON text {_PAGE_REPORT}. "
    'Each item: {"period": "YYYY-MM" (null for lines without a posted_date), "count": int (lines), "debit" '
    'and "credit": exact decimal strings (sums), "digest": 16 hex digits, a hash of every field of every line '
    "of the month (independent of their order; it changes when any of them changes)}, ordered by period.",
    "get_journal_days": JOURNAL_DAYS_DESCRIPTION,
}


def _dated(table: str, date_from: str | None, date_to: str | None) -> Query:
    return Query(table, parse_date(date_from, "date_from"), parse_date(date_to, "date_to"))


def add_erp_tools(
    server: MCPServer,
    src: DataSource,
    descriptions: Mapping[str, str],
    *,
    company_fields: Sequence[str] | None = COMPANY_FIELDS,
    balances: str = JOURNAL_LINES.name,
) -> None:
    """The ERP's read tools (TOOL_TITLES, in that order) on `server`, answering from `src`: the same names,
    titles, arguments, cursor paging and compact JSON text on every server that offers them, each with its
    own `descriptions` (one per tool name). `get_company` answers `company_fields` of `src.company()`
    (None: all of them); `get_trial_balance` sums the table `balances`."""

    def tool(name: str):  # noqa: ANN202
        return server.tool(
            title=TOOL_TITLES[name], description=descriptions[name], annotations=READ_ONLY, structured_output=False
        )

    def dated_list(name: str) -> None:
        """A list tool over one table, filtered by date_from / date_to on its date column."""
        table = DATED_LISTS[name]

        def list_rows(
            date_from: DateFrom = None, date_to: DateTo = None, cursor: Cursor = None, limit: Limit = 1000
        ) -> str:
            return src.page(_dated(table, date_from, date_to), cursor, limit)

        list_rows.__name__ = name  # the tool's name and its input schema's title: <name>Arguments
        tool(name)(list_rows)

    @tool("get_company")
    def get_company() -> str:
        company = src.company()
        return dumps(company if company_fields is None else {key: company.get(key) for key in company_fields})

    @tool("list_accounts")
    def list_accounts(cursor: Cursor = None, limit: Limit = 1000) -> str:
        return src.page(Query(ACCOUNTS.name), cursor, limit)

    for name in ("list_journal_lines", "list_invoices", "list_bills", "list_payments"):
        dated_list(name)

    @tool("get_ledger_summary")
    def get_ledger_summary(date_from: DateFrom = None, date_to: DateTo = None) -> str:
        return src.ledger_summary(
            JOURNAL_LINES.name, parse_date(date_from, "date_from"), parse_date(date_to, "date_to")
        )

    @tool("get_trial_balance")
    def get_trial_balance(date: ReportDate) -> str:
        day = parse_date(date, "date")
        if day is None:
            raise SourceError("date is required: the report date, YYYY-MM-DD")
        return src.trial_balance(balances, day)

    dated_list("list_fx_rates")

    @tool("get_document_summary")
    def get_document_summary(kind: DocumentKind, date_from: DateFrom = None, date_to: DateTo = None) -> str:
        return src.month_summary(_dated(kind, date_from, date_to), DOCUMENT_KINDS[kind])

    @tool("get_journal_summary")
    def get_journal_summary(date_from: DateFrom = None, date_to: DateTo = None) -> str:
        return src.month_summary(_dated(JOURNAL_LINES.name, date_from, date_to), JOURNAL_AMOUNTS)

    @tool("get_journal_days")
    def get_journal_days(date_from: DateFrom = None, date_to: DateTo = None) -> str:
        return src.month_summary(_dated(JOURNAL_LINES.name, date_from, date_to), JOURNAL_AMOUNTS, by_day=True)


def build_server(data_dir: Path, cache: Path | None = None) -> MCPServer:
    server = new_server(
        "closeboard-erp",
        title="closeboard ERP (read-only)",
        instructions="Read-only ERP: chart of accounts, journal lines, invoices, bills, payments. "
        "List tools page with cursor/limit and answer compact JSON text.",
    )
    src = DataSource(data_dir, TABLES, cache)
    add_erp_tools(server, src, DESCRIPTIONS)
    return warm_up(server, src.load_all, *first_answers(src))


def first_answers(src: DataSource) -> list[Callable[[], object]]:
    """What a refresh asks the ERP first, whole, computed as the server starts (`warm_up`): the ledger
    summary, each document kind's month summary, the per-day sums every trial balance reads and the
    journal's summary (~0.7 s of the ERP step at scale 100 without the last, otherwise paid at the first
    calls)."""
    return [
        lambda: src.ledger_summary(JOURNAL_LINES.name, None, None),
        *(
            lambda kind=kind: src.month_summary(_dated(kind, None, None), DOCUMENT_KINDS[kind])
            for kind in DOCUMENT_KINDS
        ),
        lambda: src.daily_sums(JOURNAL_LINES.name, src.load(JOURNAL_LINES.name)),
        # last: the dearest (~3 s of CPU at 1.1M lines), and a whole pull does not ask for it
        lambda: src.month_summary(_dated(JOURNAL_LINES.name, None, None), JOURNAL_AMOUNTS),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    serve(build_server, sys.argv[1:] if argv is None else argv, prog="python -m connectors.servers.erp", cache=True)


if __name__ == "__main__":
    main()
