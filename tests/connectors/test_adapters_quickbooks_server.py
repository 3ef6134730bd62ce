"""The `quickbooks` adapter against Intuit's own, unmodified MCP server (intuit/quickbooks-online-mcp-server
at the commit in tests/vendors/quickbooks/UPSTREAM.md, built by tests/conformance.py into
``built_dir("quickbooks")``) on Node 22 over stdio. Its outbound HTTPS (intuit-oauth to
oauth.platform.intuit.com, node-quickbooks to sandbox-quickbooks.api.intuit.com) goes through
``tests/vendors/redirect.cjs`` to ``tests/vendors/quickbooks/standin.py``, a stand-in of the QuickBooks
Online Accounting API. Real here: the server's OAuth refresh (client id/secret + refresh token from its
environment, no browser), its zod schemas, the queries node-quickbooks builds (STARTPOSITION/MAXRESULTS),
its text answers (raw QueryResponse for bill payments, two text blocks for the reports), its error texts.
The books are the stand-in's dozen hand-checked transactions; every expected figure below is worked out
by hand from them (see ``Books``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.client import ConnectorError
from connectors.config import Config, parse_config
from pipelines.ingest import ingest_source
from tests.conformance import built_dir, ensure
from tests.vendors import memory_warehouse, node_server
from tests.vendors.quickbooks import standin as qbo
from tests.vendors.quickbooks.standin import Books, QuickBooksStandIn
from warehouse.home import Home

ALLOW = [
    "search_accounts",
    "search_invoices",
    "search_bills",
    "search_bill_payments",
    "search_payments",
    "get_trial_balance",
    "get_general_ledger",
]
AS_OF = "2024-03-15"
D = Decimal


@pytest.fixture(scope="module")
def server_js() -> Path:
    ensure()
    path = built_dir("quickbooks") / "dist" / "index.js"
    if not path.exists():
        pytest.skip(
            "Intuit's QuickBooks MCP server is not built: its source belongs in tests/vendors/quickbooks/"
            "upstream (see UPSTREAM.md), then `python tests/conformance.py install`"
        )
    return path


def config(
    server_js: Path,
    api: QuickBooksStandIn,
    *,
    refresh_token: str = qbo.REFRESH_TOKEN,
    allow: list[str] | None = None,
    **options: Any,
) -> Config:
    return parse_config(
        {
            "company": {"name": "QBO Co", "currency": "USD", "fiscal_year_start_month": 1, "first_period": "2024-01"},
            "connectors": {
                "erp": {
                    "adapter": "quickbooks",
                    "server": node_server(
                        server_js,
                        redirect=api.redirect(),
                        env={
                            "QUICKBOOKS_CLIENT_ID": qbo.CLIENT_ID,
                            "QUICKBOOKS_CLIENT_SECRET": qbo.CLIENT_SECRET,
                            "QUICKBOOKS_REFRESH_TOKEN": refresh_token,
                            "QUICKBOOKS_REALM_ID": qbo.REALM,
                            "QUICKBOOKS_ENVIRONMENT": "sandbox",
                            "TZ": "UTC",
                        },
                    ),
                    "allow_tools": allow or ALLOW,
                    "client": {"call_timeout_s": 60, "retries": 0},
                    "options": {"as_of": AS_OF, **options},
                }
            },
        }
    )


def line(
    entry: str,
    no: int,
    day: str,
    account: str,
    debit: str,
    credit: str,
    customer: str | None = None,
    vendor: str | None = None,
    document: str | None = None,
) -> tuple[Any, ...]:
    return (entry, str(no), date.fromisoformat(day), account, D(debit), D(credit), "USD", customer, vendor, document)


# Worked by hand from Books: the opening trial balance at 2023-12-31 (from 2023-01-01: last year's
# 1,500.00 revenue is P&L dated in that year), then each transaction of Jan-Mar 2024 from the General
# Ledger, lines in the report's account order (Checking 35, A/R 84, A/P 33, ..., Services 79, COGS 80,
# Rent 77), amounts turned from the account's natural side into debit/credit.
EXPECTED_LINES = sorted(
    [
        line("OPENING", 1, "2023-12-31", "34", "0", "10000.00"),
        line("OPENING", 2, "2023-12-31", "35", "10000.00", "0"),
        line("OPENING", 3, "2023-12-31", "79", "0", "1500.00"),
        line("OPENING", 4, "2023-12-31", "84", "1500.00", "0"),
        line("Payment 3", 1, "2024-01-05", "35", "1500.00", "0", customer="1", document="2"),
        line("Payment 3", 2, "2024-01-05", "84", "0", "1500.00", customer="1", document="2"),
        line("Invoice 4", 1, "2024-01-10", "84", "2000.00", "0", customer="1", document="4"),
        line("Invoice 4", 2, "2024-01-10", "79", "0", "2000.00", customer="1", document="4"),
        line("Bill 5", 1, "2024-01-20", "33", "0", "800.00", vendor="51", document="5"),
        line("Bill 5", 2, "2024-01-20", "80", "800.00", "0", vendor="51", document="5"),
        line("Bill 6", 1, "2024-02-01", "33", "0", "1200.00", vendor="52", document="6"),
        line("Bill 6", 2, "2024-02-01", "77", "1200.00", "0", vendor="52", document="6"),
        line("Bill Payment (Check) 7", 1, "2024-02-10", "35", "0", "800.00", vendor="51", document="5"),
        line("Bill Payment (Check) 7", 2, "2024-02-10", "33", "800.00", "0", vendor="51", document="5"),
        line("Invoice 8", 1, "2024-02-15", "84", "3000.50", "0", customer="2", document="8"),
        line("Invoice 8", 2, "2024-02-15", "79", "0", "3000.50", customer="2", document="8"),
        line("Payment 9", 1, "2024-02-20", "35", "1000.00", "0", customer="1", document="4"),
        line("Payment 9", 2, "2024-02-20", "84", "0", "1000.00", customer="1", document="4"),
        line("Bill Payment (Check) 10", 1, "2024-03-05", "35", "0", "600.00", vendor="52", document="6"),
        line("Bill Payment (Check) 10", 2, "2024-03-05", "33", "600.00", "0", vendor="52", document="6"),
        line("Payment 11", 1, "2024-03-10", "35", "3200.50", "0", customer="2", document="8"),
        line("Payment 11", 2, "2024-03-10", "84", "0", "3200.50", customer="2", document="8"),
        line("Invoice 12", 1, "2024-03-12", "84", "450.25", "0", customer="2", document="12"),
        line("Invoice 12", 2, "2024-03-12", "79", "0", "450.25", customer="2", document="12"),
    ]
)
EXPECTED_INVOICES = [  # invoice_id, customer, issue, due, total, balance, status
    ("12", "2", "2024-03-12", "2024-04-11", "450.25", "450.25", "open"),
    ("2", "1", "2023-12-15", "2024-01-14", "1500.00", "0.00", "paid"),
    ("4", "1", "2024-01-10", "2024-02-09", "2000.00", "1000.00", "open"),
    ("8", "2", "2024-02-15", "2024-03-16", "3000.50", "0.00", "paid"),
]
EXPECTED_BILLS = [
    ("5", "51", "2024-01-20", "2024-02-19", "800.00", "0.00", "paid"),
    ("6", "52", "2024-02-01", "2024-03-02", "1200.00", "700.00", "open"),
]
EXPECTED_PAYMENTS = [  # payment_id, line_no, document_id, paid_date, amount
    ("10", "1", "6", "2024-03-05", "500.00"),
    ("10", "2", None, "2024-03-05", "100.00"),
    ("11", "1", "8", "2024-03-10", "3000.50"),
    ("11", "2", None, "2024-03-10", "200.00"),
    ("3", "1", "2", "2024-01-05", "1500.00"),
    ("7", "1", "5", "2024-02-10", "800.00"),
    ("9", "1", "4", "2024-02-20", "1000.00"),
]
# month-end figures from the same books: AR = open invoices less Globex's 200.00 unapplied cash,
# AP = Landlord's 700.00 less the 100.00 paid ahead
EXPECTED_KPIS = {
    "2024-01": {
        "revenue": D("2000.00"),
        "cogs": D("800.00"),
        "net_income": D("1200.00"),
        "ar": D("2000.00"),
        "ap": D("800.00"),
        "cash": D("11500.00"),
    },
    "2024-02": {
        "revenue": D("3000.50"),
        "cogs": D("0"),
        "net_income": D("1800.50"),
        "ar": D("4000.50"),
        "ap": D("1200.00"),
        "cash": D("11700.00"),
    },
    "2024-03": {
        "revenue": D("450.25"),
        "cogs": D("0"),
        "net_income": D("450.25"),
        "ar": D("1250.25"),
        "ap": D("600.00"),
        "cash": D("14300.50"),
    },
}


def test_the_real_server_loads_the_books_and_the_kpis_add_up(server_js: Path, tmp_path: Path) -> None:
    con, connect = memory_warehouse()
    with QuickBooksStandIn() as api, con:
        ingest_source(
            config(server_js, api, page_size=2), "erp", home=Home(tmp_path / "home"), run_id="r1", connect=connect
        )
        quarantined = con.execute("select tool, reason from quarantine").fetchall()
        accounts = con.execute("select account_id, type, subtype from erp_accounts order by 1").fetchall()
        invoices = con.execute(
            "select invoice_id, customer_id, issue_date::varchar, due_date::varchar, total::varchar, "
            "balance::varchar, status from erp_invoices order by 1"
        ).fetchall()
        bills = con.execute(
            "select bill_id, vendor_id, issue_date::varchar, due_date::varchar, total::varchar, "
            "balance::varchar, status from erp_bills order by 1"
        ).fetchall()
        payments = con.execute(
            "select payment_id, line_no::varchar, document_id, paid_date::varchar, amount::varchar "
            "from erp_payments order by 1, 2"
        ).fetchall()
        lines = con.execute(
            "select entry_id, line_no::varchar, posted_date, account_id, debit, credit, currency, customer_id, "
            "vendor_id, document_id from erp_journal_lines order by 1, 2"
        ).fetchall()
        tie_out = con.execute(
            "select balance_date::varchar, account_id, debit, credit from erp_trial_balance order by 1, 2"
        ).fetchall()
        from warehouse.models import build_marts
        from warehouse.recon import ReconParams, build_recon

        con.execute(f"insert into run_context values ('2024-01', date '{AS_OF}', 1, 'USD')")
        build_marts(con)
        build_recon(con, "r1", ReconParams())
        r7 = dict(con.execute("select period, status from recon_results where check_id = 'R7_erp_report'").fetchall())
        kpis = {
            p: dict(
                con.execute(
                    "select kpi, value from mart_kpis where period = ? and kpi in "
                    "('revenue', 'cogs', 'net_income', 'ar', 'ap', 'cash')",
                    [p],
                ).fetchall()
            )
            for p in EXPECTED_KPIS
        }
        sides = con.execute(
            "select period, sum(case when type = 'asset' then balance else -balance end) "
            "from mart_balance_sheet group by 1"
        ).fetchall()
        requests = list(api.requests)

    assert quarantined == []
    assert accounts == [
        ("2", "equity", None),
        ("33", "liability", "ap"),
        ("34", "equity", None),
        ("35", "asset", "cash"),
        ("77", "expense", None),
        ("79", "revenue", None),
        ("80", "expense", "cogs"),
        ("84", "asset", "ar"),
    ]
    assert invoices == EXPECTED_INVOICES
    assert bills == EXPECTED_BILLS
    assert payments == EXPECTED_PAYMENTS
    assert lines == EXPECTED_LINES
    assert kpis == EXPECTED_KPIS
    assert sides and all(diff == 0 for _, diff in sides)
    # R7: QuickBooks' own trial balance at each month-end, re-based to the journal's basis (P&L since
    # inception, no rollover into Retained Earnings), hand-worked in the stand-in; every month ties out
    assert tie_out == [
        (end, account, max(net, D(0)), max(-net, D(0)))
        for end, balances in qbo.MONTH_END_BALANCES.items()
        if end >= "2024-01"
        for account, net in sorted(balances.items())
    ]
    assert r7 == {"2024-01": "pass", "2024-02": "pass", "2024-03": "pass"}

    # what the server asked QuickBooks: one token refresh, then pages of two by STARTPOSITION until a
    # short page; customer payments in one call of 1000; the opening trial balance; one ledger per month;
    # the trial balance at each month-end for R7 (the opening one is not read again)
    assert [r["host"] for r in requests if r["method"] == "POST"] == ["oauth.platform.intuit.com"]
    queries = [r["query"]["query"][0] for r in requests if r["path"].endswith("/query")]
    assert [q for q in queries if " invoice " in q] == [
        f"select * from invoice orderby Id asc startposition {n} maxresults 2" for n in (1, 3, 5)
    ]
    assert [q for q in queries if " billPayment " in q] == [
        "select * from billPayment orderby Id asc startposition 1 maxresults 2",
        "select * from billPayment orderby Id asc startposition 3 maxresults 2",
    ]  # a short first page: one probe
    assert [q for q in queries if " payment " in q] == ["select * from payment startposition 1 maxresults 1000"]
    reports = [
        (r["path"].rsplit("/", 1)[1], r["query"]["start_date"][0], r["query"]["end_date"][0])
        for r in requests
        if "/reports/" in r["path"]
    ]
    assert reports == [
        ("TrialBalance", "2023-01-01", "2023-12-31"),
        ("GeneralLedger", "2024-01-01", "2024-01-31"),
        ("GeneralLedger", "2024-02-01", "2024-02-29"),
        ("GeneralLedger", "2024-03-01", AS_OF),
        ("TrialBalance", "2024-01-01", "2024-01-31"),
        ("TrialBalance", "2024-01-01", "2024-02-29"),
        ("TrialBalance", "2024-01-01", AS_OF),
    ]
    assert all(r["host"] == "sandbox-quickbooks.api.intuit.com" for r in requests if r["method"] == "GET")


def test_a_transaction_the_general_ledger_leaves_out_fails_r7_naming_its_accounts(
    server_js: Path, tmp_path: Path
) -> None:
    con, connect = memory_warehouse()
    with QuickBooksStandIn(Books(missing_from_ledger=frozenset({"6"}))) as api, con:  # Bill 6: rent 1,200.00
        ingest_source(config(server_js, api), "erp", home=Home(tmp_path / "home"), run_id="r1", connect=connect)
        from warehouse.models import build_marts
        from warehouse.recon import ReconParams, build_recon

        con.execute(f"insert into run_context values ('2024-01', date '{AS_OF}', 1, 'USD')")
        build_marts(con)
        build_recon(con, "r1", ReconParams())
        r1 = {
            s for (s,) in con.execute("select status from recon_results where check_id = 'R1_trial_balance'").fetchall()
        }
        r7 = dict(con.execute("select period, status from recon_results where check_id = 'R7_erp_report'").fetchall())
        items = con.execute(
            "select period, record_id, amount from recon_items where check_id = 'R7_erp_report' order by 1, 2"
        ).fetchall()
    assert r1 == {"pass"}  # closeboard's books balance without it: only QuickBooks' own report shows the gap
    assert r7 == {"2024-01": "pass", "2024-02": "fail", "2024-03": "fail"}
    assert items == [
        ("2024-02", "33", D("1200.00")),
        ("2024-02", "77", D("-1200.00")),
        ("2024-03", "33", D("1200.00")),
        ("2024-03", "77", D("-1200.00")),
    ]


def test_a_thousand_customer_payments_fail_the_pull_instead_of_cutting_it_short(
    server_js: Path, tmp_path: Path
) -> None:
    books = Books(payments=[qbo.payment(str(100 + n), "2024-01-05", "1", "1.00", []) for n in range(1000)])
    con, connect = memory_warehouse()
    with QuickBooksStandIn(books) as api, con:
        with pytest.raises(ConnectorError) as failed:
            ingest_source(
                config(server_js, api, journals="none"),
                "erp",
                home=Home(tmp_path / "home"),
                run_id="r1",
                connect=connect,
            )
    assert failed.value.tool == "search_payments"
    assert "cannot page" in str(failed.value) and "Remove search_payments from allow_tools" in str(failed.value)


def test_a_refused_refresh_token_fails_the_source_with_the_servers_error(server_js: Path, tmp_path: Path) -> None:
    con, connect = memory_warehouse()
    with QuickBooksStandIn() as api, con:
        with pytest.raises(ConnectorError) as failed:
            ingest_source(
                config(server_js, api, refresh_token="AB11-revoked", journals="none"),
                "erp",
                home=Home(tmp_path / "home"),
                run_id="r1",
                connect=connect,
            )
    assert failed.value.tool == "search_accounts"
    assert "Failed to refresh Quickbooks token" in str(failed.value)
