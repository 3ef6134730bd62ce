"""The `xero` adapter against Xero's own MCP server, ``@xeroapi/xero-mcp-server`` 0.0.17 from npm,
unmodified, run on Node 22 over stdio exactly as a user configures it. Its outbound HTTPS goes to a
local stand-in for Xero's cloud (tests/vendors/xero/standin.py: the identity token endpoint,
/connections and the Accounting API, wire formats from Xero's published OpenAPI spec) through the
preload tests/vendors/redirect.cjs. The stand-in's books (tests/vendors/xero/books.py) are small and
hand-checked; every expected figure below is written out, not derived from the stand-in.

The server prints dates as JavaScript Date text in its own process's time zone, so each pull runs
under several TZ settings for the server and must load the same records.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.client import ConnectorError
from connectors.config import parse_config
from pipelines.ingest import ingest_source
from tests.vendors import memory_warehouse, node_server, npm_entry
from tests.vendors.xero import books
from tests.vendors.xero.standin import CLIENT_ID, CLIENT_SECRET, Fault, XeroStandIn
from warehouse.home import Home

D = Decimal
ID = {d.number: d.id for d in books.INVOICES + books.CREDIT_NOTES} | {p.name: p.id for p in books.PAYMENTS}
CONTACT = {k: books.guid(f"contact-{k}") for k in books.CONTACTS}
ALL_TOOLS = ["list-accounts", "list-invoices", "list-credit-notes", "list-payments", "list-trial-balance"]
TIME_ZONES = ["UTC", "America/New_York", "Asia/Tokyo"]


@pytest.fixture(scope="module")
def xero_server() -> Path:
    """The server's entry point, installed once; skips when the npm registry is unreachable."""
    return npm_entry("@xeroapi/xero-mcp-server")


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("XERO_CLIENT_SECRET", CLIENT_SECRET)  # the config refers to it as ${XERO_CLIENT_SECRET}
    with XeroStandIn() as xero:
        yield xero


def raw_config(
    server: Path, xero: XeroStandIn, tz: str, allow: list[str] | None = None, **options: Any
) -> dict[str, Any]:
    return {
        "company": {"name": books.ORG_NAME, "currency": "NZD", "first_period": "2025-12", "fiscal_year_start_month": 1},
        "connectors": {
            "erp": {
                "adapter": "xero",
                "server": node_server(
                    server,
                    redirect=xero.redirect,
                    env={"XERO_CLIENT_ID": CLIENT_ID, "XERO_CLIENT_SECRET": "${XERO_CLIENT_SECRET}", "TZ": tz},
                ),
                "allow_tools": allow or ALL_TOOLS,
                "client": {"call_timeout_s": 30, "retries": 0},
                "options": {"currency": "NZD", "as_of": books.AS_OF.isoformat(), **options},
            }
        },
    }


def pull(tmp_path: Path, raw: dict[str, Any]) -> tuple[duckdb.DuckDBPyConnection, Any]:
    config = parse_config(raw)
    con, connect = memory_warehouse()
    result = ingest_source(config, "erp", home=Home(tmp_path / "home"), run_id="r1", connect=connect)
    return con, result


def _d(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


# --- what the pull must load (hand-checked from books.py's documents) ----------------------------
# number: (contact, issue date, due date, total, balance, status)
INVOICES = {
    "INV-0001": ("C1", "2025-11-10", "2025-12-10", "1150.00", "0.00", "paid"),
    "INV-0002": ("C2", "2025-11-20", "2025-12-20", "2300.00", "0.00", "paid"),
    "INV-0003": ("C3", "2025-12-01", "2025-12-31", "575.00", "0.00", "paid"),
    "INV-0004": ("C1", "2025-12-15", "2026-01-14", "1380.00", "1000.00", "open"),  # 380 paid
    "INV-0005": ("C2", "2025-12-31", "2026-01-30", "920.00", "920.00", "open"),  # its payment was deleted
    "INV-0006": ("C3", "2026-01-01", "2026-01-31", "345.00", "0.00", "void"),
    "INV-0007": ("C1", "2026-01-05", "2026-02-04", "1725.00", "0.00", "paid"),
    "INV-0008": ("C2", "2026-01-20", "2026-02-19", "805.58", "805.58", "open"),
    "INV-0009": ("C3", "2026-01-31", "2026-03-02", "287.50", "0.00", "paid"),  # settled by CN-0001
    "INV-0010": ("C1", "2026-02-01", "2026-03-03", "1150.00", "1150.00", "open"),
    "INV-0011": ("C2", "2026-02-10", "2026-03-12", "460.00", "460.00", "draft"),
    "INV-0012": ("C1", "2026-02-18", "2026-03-20", "114.99", "114.99", "open"),
    "CN-0001": ("C3", "2026-02-05", None, "-287.50", "0.00", "paid"),
}
BILLS = {
    "B-101": ("V1", "2025-11-05", "2025-12-05", "1200.00", "0.00", "paid"),
    "B-102": ("V1", "2025-12-05", "2026-01-05", "1200.00", "0.00", "paid"),
    "B-103": ("V2", "2026-01-12", "2026-02-11", "3000.00", "2000.00", "open"),
    "B-104": ("V2", "2026-02-05", "2026-03-07", "640.25", "640.25", "open"),
    # SCN-1, an AUTHORISED supplier credit note: quarantined (the server does not print its remaining credit)
}
# payment: (document, date, amount); P-06 was deleted in Xero and is left out
PAYMENTS = {
    "P-01": ("INV-0001", "2025-11-28", "1150.00"),
    "P-02": ("INV-0002", "2025-12-10", "1300.00"),
    "P-03": ("INV-0002", "2025-12-19", "1000.00"),
    "P-04": ("INV-0003", "2026-01-01", "575.00"),
    "P-05": ("INV-0004", "2026-01-15", "380.00"),
    "P-07": ("INV-0007", "2026-01-25", "725.00"),
    "P-08": ("INV-0007", "2026-02-01", "1000.00"),
    "P-09": ("B-101", "2025-11-05", "1200.00"),
    "P-10": ("B-102", "2026-01-05", "1200.00"),
    "P-11": ("B-103", "2026-02-11", "1000.00"),
}
# TB-YYYY-MM: {account: movement, debit positive}: the month's postings (the opening entry: the balances
# at 2025-11-30, sales year to date). January starts the financial year: sales restart from zero and
# the 3100 of 2025 profit Xero rolls into Retained Earnings (960) is not a movement.
JOURNAL = {
    ("TB-2025-11", "2025-11-30"): {
        "090": "9950.00",
        "200": "-3000.00",
        "469": "1200.00",
        "610": "2300.00",
        "820": "-450.00",
        "970": "-10000.00",
    },
    ("TB-2025-12", "2025-12-31"): {
        "090": "2300.00",
        "200": "-2500.00",
        "469": "1200.00",
        "610": "575.00",
        "800": "-1200.00",
        "820": "-375.00",
    },
    ("TB-2026-01", "2026-01-31"): {
        "090": "480.00",
        "200": "-2450.50",
        "310": "3000.00",
        "610": "1138.08",
        "800": "-1800.00",
        "820": "-367.58",
    },
    ("TB-2026-02", "2026-02-20"): {
        "200": "-849.99",
        "310": "440.25",
        "610": "-22.51",
        "800": "559.75",
        "820": "-127.50",
    },
}
KPIS = {  # period: revenue, cogs, opex, net_income, cash, ar, ap
    "2025-12": ("2500.00", "0.00", "1200.00", "1300.00", "12250.00", "2875.00", "1200.00"),
    "2026-01": ("2450.50", "3000.00", "0.00", "-549.50", "12730.00", "4013.08", "3000.00"),
    "2026-02": ("849.99", "440.25", "0.00", "409.74", "12730.00", "3990.57", "2440.25"),
}
KPI_NAMES = ("revenue", "cogs", "opex", "net_income", "cash", "ar", "ap")


def expected_documents(docs: dict[str, tuple[Any, ...]], party: str) -> list[tuple[Any, ...]]:
    return sorted(
        (
            ID[n],
            CONTACT[c],
            books.CONTACTS[c],
            _d(issue),
            _d(due),
            D(total),
            D(balance),
            "NZD",
            status,
            "credit_note" if n.startswith("CN") else "invoice",
            None,
        )
        for n, (c, issue, due, total, balance, status) in docs.items()
    )


@pytest.mark.parametrize("tz", TIME_ZONES)
def test_the_official_server_loads_the_books_exactly_in_any_server_time_zone(
    tmp_path: Path, xero_server: Any, standin: XeroStandIn, tz: str
) -> None:
    con, result = pull(tmp_path, raw_config(xero_server, standin, tz))

    assert con.execute("select * from erp_accounts order by 1").fetchall() == [
        ("090", "Business Bank Account", "asset", "cash", "NZD", None),
        ("200", "Sales", "revenue", None, "NZD", None),
        ("310", "Cost of Goods Sold", "expense", "cogs", "NZD", None),
        ("469", "Rent", "expense", None, "NZD", None),
        ("610", "Accounts Receivable", "asset", "ar", "NZD", None),
        ("800", "Accounts Payable", "liability", "ap", "NZD", None),
        ("820", "GST", "liability", None, "NZD", None),
        ("960", "Retained Earnings", "equity", None, "NZD", None),
        ("970", "Owner A Funds Introduced", "equity", None, "NZD", None),
    ]
    # dates are the documents' own, whatever the server's time zone (it prints e.g. "Sat Jan 31 2026
    # 19:00:00 GMT-0500" for 2026-02-01 under New York, "Sun Feb 01 2026 09:00:00 GMT+0900" in Tokyo)
    assert con.execute("select * from erp_invoices order by 1").fetchall() == expected_documents(INVOICES, "customer")
    assert con.execute("select * from erp_bills order by 1").fetchall() == expected_documents(BILLS, "vendor")
    assert con.execute("select * from erp_payments order by 1").fetchall() == sorted(
        (ID[p], 1, ID[doc], _d(day), D(amount), "NZD", "payment") for p, (doc, day, amount) in PAYMENTS.items()
    )
    lines = con.execute(
        "select entry_id, posted_date, account_id, debit - credit, currency, description "
        "from erp_journal_lines order by entry_id, line_no"
    ).fetchall()
    assert [(e, p, a, m) for e, p, a, m, _, _ in lines] == [
        (entry, _d(day), account, D(move))
        for (entry, day), moves in JOURNAL.items()
        for account, move in sorted(moves.items())
    ]
    assert {c for *_, c, _ in lines} == {"NZD"}
    assert lines[-1][-1] == "Xero trial balance movement 2026-01-31 to 2026-02-20"

    # the one record that cannot be mapped is set aside with the reason
    reason = (
        "erp_bills from list-credit-notes: an AUTHORISED credit note: list-credit-notes does not print its "
        "remaining credit, so its open balance is unknown"
    )
    assert con.execute("select tool, reason from quarantine").fetchall() == [("list-credit-notes", reason)]
    assert f'Credit Note ID": "{ID["SCN-1"]}' in con.execute("select record from quarantine").fetchone()[0]

    # the marts: KPIs and balances from the trial-balance ledger
    from warehouse.models import build_marts

    con.execute(f"insert into run_context values ('2025-12', date '{books.AS_OF}', 1, 'NZD')")
    build_marts(con)
    for period, values in KPIS.items():
        kpis = dict(
            con.execute(
                f"select kpi, value from mart_kpis where period = ? and kpi in ({', '.join('?' * len(KPI_NAMES))})",
                [period, *KPI_NAMES],
            ).fetchall()
        )
        assert kpis == {k: D(v) for k, v in zip(KPI_NAMES, values, strict=True)}, period
    sides = con.execute(
        "select period, sum(case when type = 'asset' then balance else -balance end) "
        "from mart_balance_sheet group by 1 order by 1"
    ).fetchall()
    assert [p for p, _ in sides] == ["2025-12", "2026-01", "2026-02"] and all(d == 0 for _, d in sides)
    # AR and AP from the documents tie to the ledger: open invoices = AR; open bills less the
    # quarantined, unallocated supplier credit (200) = AP
    ar_docs, ap_docs = con.execute(
        "select (select sum(balance) from erp_invoices where status = 'open'), "
        "(select sum(balance) from erp_bills where status = 'open')"
    ).fetchone()
    assert (ar_docs, ap_docs) == (D("3990.57"), D("2640.25"))
    assert ap_docs - D("200.00") == D(KPIS["2026-02"][6])

    # how the server was read: pages of a fixed 10 newest-updated first, one page past 10 for the
    # 16 invoices (read once for invoices, once for bills) and the 11 payments; one trial balance per
    # month end; and a fresh sign-in (token + connections) before every tool call
    invoices = standin.api_calls("Invoices")
    assert [q["page"] for q in invoices] == [["1"], ["2"], ["1"], ["2"]]
    assert all(q["pageSize"] == ["10"] and q["order"] == ["UpdatedDateUTC DESC"] for q in invoices)
    assert [q["page"] for q in standin.api_calls("Payments")] == [["1"], ["2"]]
    assert [q["page"] for q in standin.api_calls("CreditNotes")] == [["1"], ["1"]]
    assert [q["date"] for q in standin.api_calls("Reports/TrialBalance")] == [
        ["2025-11-30"],
        ["2025-12-31"],
        ["2026-01-31"],
        ["2026-02-20"],
    ]
    tool_calls = 1 + 4 + 2 + 2 + 4  # accounts, invoices, credit notes, payments, trial balances
    tokens = [r for r in standin.requests if r[2] == "/connect/token"]
    assert len(tokens) == len([r for r in standin.requests if r[2] == "/connections"]) == tool_calls
    assert result.pull.tables["erp_invoices"].pages == 3  # list-invoices 2 + list-credit-notes 1
    # the client secret travels only in the server's environment: never in the warehouse
    for table in ("connector_calls", "quarantine"):
        dump = str(con.execute(f"select * from {table}").fetchall())
        assert CLIENT_SECRET not in dump, table


def test_a_failed_api_call_fails_the_source_as_transient_and_a_bad_secret_permanently(
    tmp_path: Path, xero_server: Any, standin: XeroStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Xero's rate limit: 429 with Retry-After. The server answers "Error listing invoices: ..." as
    # ordinary text (isError false), and with the same words for every failed API call
    standin.faults.append(
        Fault("/Invoices", 429, b"", {"Retry-After": "30", "X-Rate-Limit-Problem": "minute"}, times=1)
    )
    with pytest.raises(ConnectorError) as info:
        pull(tmp_path, raw_config(xero_server, standin, "UTC"))
    assert str(info.value).startswith(
        "source 'erp', tool 'list-invoices': the server reported an error: Error "
        "listing invoices: An unexpected error occurred while communicating with Xero."
    )
    assert info.value.transient  # the step's retry reads again

    monkeypatch.setenv("XERO_CLIENT_SECRET", "not-the-secret")
    with pytest.raises(ConnectorError) as info:
        pull(tmp_path, raw_config(xero_server, standin, "UTC"))
    assert str(info.value) == (
        "source 'erp', tool 'list-accounts': the server reported an error: Error listing "
        'accounts: Failed to get Xero token with V1 scopes: {"error":"invalid_client"}'
    )
    assert not info.value.transient


def test_an_invoice_updated_during_the_pull_fails_it_transiently_and_the_retry_reads_every_invoice_once(
    tmp_path: Path, xero_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XERO_CLIENT_SECRET", CLIENT_SECRET)
    from tests.vendors.xero.standin import V1_SCOPES, V2_SCOPES

    # a new Xero app has granular scopes only: the server's first token request (legacy scopes) is
    # refused with invalid_scope and it asks again with the granular ones
    with XeroStandIn(app_scopes=V2_SCOPES) as standin:

        def edit_after_first_page(name: str, query: dict[str, list[str]]) -> None:
            if name == "Invoices" and query.get("page") == ["1"] and not standin.updated_override:
                # someone edits B-101 (on page 2) while page 1 is read: newest first, it jumps to page 1
                standin.updated_override[ID["B-101"]] = datetime(2026, 2, 20, 7, 30)

        standin.after = edit_after_first_page
        with pytest.raises(ConnectorError) as info:
            pull(tmp_path, raw_config(xero_server, standin, "America/New_York"))
        assert info.value.transient
        assert "tool 'list-invoices': records moved between pages while reading; retry (Invoice ID " in str(info.value)
        assert "came on page 1 and again on page 2" in str(info.value)

        con, _ = pull(tmp_path, raw_config(xero_server, standin, "America/New_York"))  # the retry
        assert con.execute("select * from erp_invoices order by 1").fetchall() == expected_documents(
            INVOICES, "customer"
        )
        assert con.execute("select * from erp_bills order by 1").fetchall() == expected_documents(BILLS, "vendor")
        # every sign-in: refused with the legacy scopes, then granted with the granular ones
        scopes = [set(form["scope"][0].split()) for _, _, path, form in standin.requests if path == "/connect/token"]
        assert len(scopes) % 2 == 0 and scopes[0::2] == [V1_SCOPES] * (len(scopes) // 2)
        assert scopes[1::2] == [V2_SCOPES] * (len(scopes) // 2)
