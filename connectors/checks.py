"""The reconciliation checks R1-R7 (DESIGN "Reconciliation"): the one registry of what each check is.

The recon SQL (``warehouse/sql/recon/*.sql``) computes them; everything that names, describes or
grades them reads this table: closeboard.yaml's validation (``reconciliation.severity`` keys), the
recon runner (ids, severities, the sources each needs), the Dagster asset checks (titles,
descriptions), the great-expectations suites (which are exact, and their wording), the page (labels)
and the CLI. Plain data that imports nothing of closeboard's, so every package may read it: it lives
here, at the head of the one-way flow connectors -> warehouse -> pipelines -> reports, because the
config (connectors) validates check ids at load and may not import the warehouse; `warehouse.checks`
is the same registry under the warehouse's name. Importing it opens no database.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    id: str  # recon_results.check_id
    title: str  # in the CLI, the Dagster UI and messages
    label: str  # on the page's reconciliation cards
    severity: str  # the default: 'error' blocks sign-off, 'warn' is shown (reconciliation.severity overrides)
    sources: tuple[str, ...]  # without one of them configured the check is `not_configured`
    description: str  # what holds when it passes (the Dagster asset check's description)
    exact: str | None = None  # for a check that must agree to the cent: the expectation's wording


CHECKS: tuple[Check, ...] = (
    Check(
        "R1_trial_balance",
        "R1 trial balance",
        "Trial balance",
        "error",
        ("erp",),
        "Every entry balances; debits = credits each month; every account known; assets = liabilities + "
        "equity at every month-end.",
        "At every month-end, liabilities + equity + earnings equal assets to the cent.",
    ),
    Check(
        "R2_bank_vs_book",
        "R2 bank vs book",
        "Bank vs book",
        "error",
        ("bank", "erp"),
        "Per bank account at each month-end: statement + deposits in transit - outstanding payments = "
        "ledger + bank-only receipts - bank-only charges + opening difference; no stale items.",
        "At every month-end, the statement balance adjusted for deposits in transit and outstanding "
        "payments equals the ledger balance adjusted for bank-only items and the opening difference, to "
        "the cent.",
    ),
    Check(
        "R3_ar",
        "R3 AR subledger vs control",
        "Receivables vs GL",
        "error",
        ("erp",),
        "AR open items at each month-end equal the AR control account; each invoice's balance is its "
        "total less its payments.",
        "At every month-end, the open customer documents (less unapplied cash) equal the AR control "
        "account, to the cent.",
    ),
    Check(
        "R4_ap",
        "R4 AP subledger vs control",
        "Payables vs GL",
        "error",
        ("erp",),
        "AP open items at each month-end equal the AP control account; each bill's balance is its total "
        "less its payments.",
        "At every month-end, the open vendor bills equal the AP control account, to the cent.",
    ),
    Check(
        "R5_bookings_vs_billings",
        "R5 bookings vs billings",
        "Bookings vs billings",
        "warn",
        ("crm", "erp"),
        "Won deals map to ERP customers and get invoiced; invoicing stays within the tolerance of bookings.",
    ),
    Check(
        "R6_completeness",
        "R6 completeness and freshness",
        "Completeness",
        "error",
        (),
        "Rows loaded equal each source's total; keys unique; required fields present; no future-dated "
        "lines; sources fresh.",
        "Every source served exactly as many rows as it said it holds.",
    ),
    Check(
        "R7_erp_report",
        "R7 ERP report tie-out",
        "Ties to the ERP's reports",
        "error",
        ("erp",),
        "Every account's balance at each month-end equals the ERP's own trial balance report (where the "
        "ERP source gives one).",
        "At every month-end, every account's balance equals the ERP's own trial balance, to the cent.",
    ),
)
BY_ID = {c.id: c for c in CHECKS}
CHECK_IDS = tuple(BY_ID)
