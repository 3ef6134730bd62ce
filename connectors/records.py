"""Canonical record columns, the contract every adapter maps its server's tools into.

The warehouse declares the same tables with their SQL types (warehouse/sql/schema/canonical.sql);
tests/test_contract.py keeps the two in step. Records travel as text: money as decimal strings,
dates ISO, so nothing passes through a float.
"""

from __future__ import annotations

import pyarrow as pa

CANONICAL: dict[str, tuple[str, ...]] = {
    "erp_accounts": ("account_id", "name", "type", "subtype", "currency", "parent_id"),
    "erp_journal_lines": (
        "entry_id",
        "line_no",
        "posted_date",
        "account_id",
        "debit",
        "credit",
        "currency",
        "amount_currency",
        "description",
        "customer_id",
        "vendor_id",
        "document_id",
    ),
    "erp_invoices": (
        "invoice_id",
        "customer_id",
        "customer_name",
        "issue_date",
        "due_date",
        "total",
        "balance",
        "currency",
        "status",
        "doc_type",
        "voided_date",
    ),
    "erp_bills": (
        "bill_id",
        "vendor_id",
        "vendor_name",
        "issue_date",
        "due_date",
        "total",
        "balance",
        "currency",
        "status",
        "doc_type",
        "voided_date",
    ),
    "erp_payments": ("payment_id", "line_no", "document_id", "paid_date", "amount", "currency", "kind"),
    "erp_fx_rates": ("currency", "rate_date", "rate"),
    # the ERP's own trial balance at each month-end (R7): cumulative Σdebit / Σcredit of the posted
    # lines dated up to balance_date, since inception, one row per account
    "erp_trial_balance": ("balance_date", "account_id", "debit", "credit"),
    "bank_accounts": ("bank_account_id", "name", "currency", "gl_account_id"),
    "bank_transactions": ("txn_id", "bank_account_id", "booked_date", "amount", "description", "reference"),
    "bank_balances": ("bank_account_id", "balance_date", "closing_balance"),
    "crm_opportunities": (
        "opportunity_id",
        "customer_id",
        "customer_name",
        "stage",
        "amount",
        "currency",
        "close_date",
        "probability",
        "owner",
        "is_won",
        "is_closed",
    ),
    # the budget (optional): one amount per period and account (revenue or expense), or per KPI
    # (exactly one of account_id and kpi), in the reporting currency
    "budgets": ("period", "account_id", "kpi", "amount", "currency"),
}

KEYS: dict[str, tuple[str, ...]] = {
    "erp_accounts": ("account_id",),
    "erp_journal_lines": ("entry_id", "line_no"),
    "erp_invoices": ("invoice_id",),
    "erp_bills": ("bill_id",),
    "erp_payments": ("payment_id", "line_no"),
    "erp_fx_rates": ("currency", "rate_date"),
    "erp_trial_balance": ("balance_date", "account_id"),
    "bank_accounts": ("bank_account_id",),
    "bank_transactions": ("txn_id",),
    "bank_balances": ("bank_account_id", "balance_date"),
    "crm_opportunities": ("opportunity_id",),
    "budgets": ("period", "account_id", "kpi"),
}


# A source feeds the family of tables named after it: the `erp` connector the erp_* tables, and so on.
# (the `budget` connector feeds the one table `budgets`)
SOURCES: tuple[str, ...] = ("erp", "bank", "crm", "budget")


def source_tables(source: str) -> tuple[str, ...]:
    """The canonical tables a source feeds (whichever adapter reads it)."""
    return tuple(t for t in CANONICAL if t.startswith(f"{source}_") or t == f"{source}s")


def text_schema(table: str) -> pa.Schema:
    """The staging schema of a canonical table: every column text, as received."""
    return pa.schema([(name, pa.string()) for name in CANONICAL[table]])
