"""The `quickbooks` adapter against an in-memory FAKE of intuit/quickbooks-online-mcp-server (edge cases
the real-server test, test_adapters_quickbooks_server.py, does not reach):
arguments under ``params`` (register-tool.ts), ``search_accounts``/``search_invoices`` paging
criteria in ``params.criteria``, ``search_bills`` beside it, answers "Found N ..." then one
JSON.stringify(entity) text per record, node-quickbooks' 1-based offset, errors as text with
isError false. The R7 tests at the end serve the same texts over the stand-in's books
(tests/vendors/quickbooks/standin.py) and run recon on what was pulled."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from mcp.types import TextContent

from connectors.client import ConnectorError
from connectors.config import ConfigError, parse_config
from connectors.servers.hosting import new_server
from pipelines.ingest import ingest_source
from tests.vendors import memory_warehouse
from tests.vendors.quickbooks import standin as qbo
from warehouse.db import ensure_schema
from warehouse.home import Home

ACCOUNTS = [
    {"Id": "35", "Name": "Checking", "AccountType": "Bank", "Classification": "Asset"},
    {"Id": "84", "Name": "Accounts Receivable (A/R)", "AccountType": "Accounts Receivable", "Classification": "Asset"},
    {"Id": "33", "Name": "Accounts Payable (A/P)", "AccountType": "Accounts Payable", "Classification": "Liability"},
    {"Id": "79", "Name": "Sales of Product Income", "AccountType": "Income", "Classification": "Revenue"},
    {"Id": "80", "Name": "Cost of Goods Sold", "AccountType": "Cost of Goods Sold", "Classification": "Expense"},
    {
        "Id": "7",
        "Name": "Advertising",
        "AccountType": "Expense",
        "Classification": "Expense",
        "ParentRef": {"value": "80"},
    },
    {"Id": "90", "Name": "Notes Payable", "AccountType": "Long Term Liability", "Classification": "Liability"},
    {
        "Id": "2",
        "Name": "Retained Earnings",
        "AccountType": "Equity",
        "AccountSubType": "RetainedEarnings",
        "Classification": "Equity",
    },
    {"Id": "34", "Name": "Opening Balance Equity", "AccountType": "Equity", "Classification": "Equity"},
    {"Id": "99", "Name": "Weird", "AccountType": "Nonsense"},
]
for a in ACCOUNTS:
    a.update({"CurrencyRef": {"value": "USD", "name": "United States Dollar"}, "Active": True, "SyncToken": "0"})
EXPECTED_TYPES = {
    "35": ("asset", "cash"),
    "84": ("asset", "ar"),
    "33": ("liability", "ap"),
    "79": ("revenue", None),
    "80": ("expense", "cogs"),
    "7": ("expense", None),
    "90": ("liability", "debt"),
    "2": ("equity", None),
    "34": ("equity", None),
}


def _documents(party: str, n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, n + 1):
        total = Decimal(i * 73) + Decimal("0.15") * (i % 3)
        balance = Decimal(0) if i % 4 == 0 else (total if i % 2 else total - 1)
        doc = {
            "Id": str(i * 3 + (0 if party == "Customer" else 1)),
            "DocNumber": f"{1000 + i}",
            "TxnDate": f"2026-0{1 + i % 5}-{i:02d}",
            "DueDate": f"2026-0{2 + i % 5}-{i:02d}",
            f"{party}Ref": {"value": str(i % 4 + 1), "name": f"{party} {i % 4 + 1}"},
            "TotalAmt": total,
            "Balance": balance,
            "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
            "Line": [{"Amount": total, "DetailType": "SalesItemLineDetail"}],
            "SyncToken": "1",
        }
        if i == 6:
            doc.update({"TotalAmt": Decimal(0), "Balance": Decimal(0), "PrivateNote": "Voided"})
        rows.append(doc)
    return rows


INVOICES = _documents("Customer", 7)
BILLS = _documents("Vendor", 4)
D = Decimal
USD = {"value": "USD", "name": "United States Dollar"}
# BillPayment entities (Intuit's shape): lines each linking the Bill they pay
BILL_PAYMENTS: list[dict[str, Any]] = [
    {
        "Id": "201",
        "TxnDate": "2026-02-03",
        "TotalAmt": D("100.50"),
        "PayType": "Check",
        "CurrencyRef": USD,
        "VendorRef": {"value": "2", "name": "Vendor 2"},
        "Line": [
            {"Amount": D("60.25"), "LinkedTxn": [{"TxnId": BILLS[0]["Id"], "TxnType": "Bill"}]},
            {"Amount": D("40.25"), "LinkedTxn": [{"TxnId": BILLS[1]["Id"], "TxnType": "Bill"}]},
        ],
    },
    {
        "Id": "202",
        "TxnDate": "2026-02-09",
        "TotalAmt": D("80"),
        "PayType": "Check",
        "CurrencyRef": USD,
        "VendorRef": {"value": "3", "name": "Vendor 3"},  # 30 paid ahead of any bill
        "Line": [{"Amount": D("50"), "LinkedTxn": [{"TxnId": BILLS[2]["Id"], "TxnType": "Bill"}]}],
    },
    {
        "Id": "203",
        "TxnDate": "2026-03-01",
        "TotalAmt": D("20"),
        "PayType": "Check",
        "CurrencyRef": USD,
        "VendorRef": {"value": "4", "name": "Vendor 4"},
        "Line": [{"Amount": D("20"), "LinkedTxn": [{"TxnId": "9", "TxnType": "VendorCredit"}]}],
    },
    {
        "Id": "204",
        "TxnDate": "2026-03-04",
        "TotalAmt": D("12.34"),
        "PayType": "CreditCard",
        "CurrencyRef": USD,
        "VendorRef": {"value": "1", "name": "Vendor 1"},
        "Line": [{"Amount": D("12.34"), "LinkedTxn": [{"TxnId": BILLS[3]["Id"], "TxnType": "Bill"}]}],
    },
]

# --- the general ledger: the company's postings (date, {account Id: net, debits positive}) -------
# QuickBooks' fiscal year here starts in January, so 2026-01 crosses the fiscal-year end.
FY_START = 1
AS_OF = date(2026, 2, 15)
GROUPS = {
    "35": "BankAccounts",
    "84": "AccountsReceivable",
    "33": "AccountsPayable",
    "90": "LongTermLiabilities",
    "34": "Equity",
    "2": "Equity",
    "79": "Income",
    "80": "CostOfGoodsSold",
    "7": "Expenses",
}
PL = {"79", "80", "7"}
NAMES = {a["Id"]: a["Name"] for a in ACCOUNTS}
POSTINGS: list[tuple[date, dict[str, Decimal]]] = [
    (date(2025, 3, 1), {"35": D("10000"), "34": D("-10000")}),
    (date(2025, 6, 15), {"84": D("2400.40"), "79": D("-2400.40")}),
    (date(2025, 9, 30), {"80": D("700.10"), "33": D("-700.10")}),
    (date(2025, 10, 20), {"35": D("2400.40"), "84": D("-2400.40")}),
    (date(2025, 11, 3), {"84": D("1500"), "79": D("-1500")}),
    (date(2025, 11, 28), {"7": D("250.25"), "35": D("-250.25")}),
    (date(2025, 12, 10), {"80": D("400"), "33": D("-400")}),
    (date(2025, 12, 31), {"35": D("5000"), "90": D("-5000")}),
    # 2026: the new fiscal year
    (date(2026, 1, 5), {"84": D("3210.99"), "79": D("-3210.99")}),
    (date(2026, 1, 20), {"33": D("1100.10"), "35": D("-1100.10")}),
    (date(2026, 2, 2), {"7": D("99.90"), "35": D("-99.90")}),
    (date(2026, 2, 14), {"84": D("10"), "79": D("-10")}),
    (date(2026, 2, 20), {"84": D("1"), "79": D("-1")}),  # after AS_OF: not yet in the open month
]
TB_FROM = "2025-11"
MONTH_ENDS = [date(2025, 10, 31), date(2025, 11, 30), date(2025, 12, 31), date(2026, 1, 31), AS_OF]


def qbo_balances(start: date, end: date) -> dict[str, Decimal]:
    """QuickBooks' TrialBalance from start_date to end_date: balance-sheet accounts since inception,
    P&L accounts from start_date, earlier P&L in Retained Earnings (2)."""
    out: dict[str, Decimal] = {}
    for day, lines in POSTINGS:
        if day > end:
            continue
        for account, net in lines.items():
            if account in PL and day < start:
                account = "2"
            out[account] = out.get(account, D(0)) + net
    return out


def _amount(value: Decimal) -> str:
    return f"{value:.2f}" if value else ""


def trial_balance_report(
    start: date, end: date, *, unbalanced: bool = False, total_off: bool = False
) -> dict[str, Any]:
    """Intuit's TrialBalance report object: Header, Columns (Account, Debit, Credit), Rows of ColData
    with the account id, a TOTAL summary row; money as text, "" for none."""
    balances = qbo_balances(start, end)
    if unbalanced:
        balances["35"] += D("0.01")
    rows, dr, cr = [], D(0), D(0)
    for account in sorted(balances, key=lambda a: list(GROUPS).index(a)):
        net = balances[account]
        if not net:
            continue
        dr, cr = dr + max(net, D(0)), cr + max(-net, D(0))
        rows.append(
            {
                "ColData": [
                    {"value": NAMES[account], "id": account},
                    {"value": _amount(max(net, D(0)))},
                    {"value": _amount(max(-net, D(0)))},
                ],
                "type": "Data",
                "group": GROUPS[account],
            }
        )
    if unbalanced:
        dr -= D("0.01")  # the TOTAL row says it balances; the rows do not
    if total_off:
        dr, cr = dr + 1, cr + 1
    rows.append(
        {
            "Summary": {"ColData": [{"value": "TOTAL"}, {"value": f"{dr:.2f}"}, {"value": f"{cr:.2f}"}]},
            "type": "Section",
            "group": "GrandTotal",
        }
    )
    column = [("", "Account", "account"), ("Debit", "Money", "debit"), ("Credit", "Money", "credit")]
    return {
        "Header": {
            "Time": "2026-02-15T08:00:00-08:00",
            "ReportName": "TrialBalance",
            "ReportBasis": "Accrual",
            "StartPeriod": start.isoformat(),
            "EndPeriod": end.isoformat(),
            "Currency": "USD",
            "Option": [{"Name": "NoReportData", "Value": "false"}],
        },
        "Columns": {
            "Column": [
                {"ColTitle": t, "ColType": k, "MetaData": [{"Name": "ColKey", "Value": c}]} for t, k, c in column
            ]
        },
        "Rows": {"Row": rows},
    }


class FakeQuickBooks:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.overstate = False
        self.fail = False
        self.report_error: str | None = None
        self.unbalanced_at: date | None = None
        self.total_off_at: date | None = None
        self.caps: dict[str, int] = {}  # noun -> MAXRESULTS the server (a proxy) allows, whatever the limit
        self.server = new_server("QuickBooks Online MCP Server", title="QBO", instructions="fake")

        def answer(noun: str, colon: str, rows: list[dict[str, Any]], criteria: dict[str, Any]) -> list[TextContent]:
            if self.fail:
                return [TextContent(type="text", text=f"Error searching {noun}: AuthenticationFailed")]
            ordered = sorted(rows, key=lambda r: r["Id"]) if criteria.get("asc") == "Id" else rows
            start, limit = int(criteria.get("offset", 1)), int(criteria.get("limit", 1000))
            limit = min(limit, self.caps.get(noun, limit))
            page = ordered[start - 1 : start - 1 + limit]  # STARTPOSITION is 1-based
            head = f"Found {len(page) + (1 if self.overstate and page else 0)} {noun}{colon}"
            return [
                TextContent(type="text", text=head),
                *(TextContent(type="text", text=json.dumps(r, default=lambda d: float(d))) for r in page),
            ]

        @self.server.tool(structured_output=False)
        def search_accounts(params: dict[str, Any]) -> list[TextContent]:
            self.calls.append(("search_accounts", params))
            return answer("accounts", ":", ACCOUNTS, params["criteria"])

        @self.server.tool(structured_output=False)
        def search_invoices(params: dict[str, Any]) -> list[TextContent]:
            self.calls.append(("search_invoices", params))
            return answer("invoices", "", INVOICES, params["criteria"])

        @self.server.tool(structured_output=False)
        def search_bills(params: dict[str, Any]) -> list[TextContent]:
            self.calls.append(("search_bills", params))
            return answer("bills", ":", BILLS, {k: v for k, v in params.items() if k != "criteria"})

        @self.server.tool(structured_output=False)
        def search_bill_payments(params: dict[str, Any]) -> list[TextContent]:
            """search-bill-payments.tool.ts: 'Bill payments found:' then JSON.stringify(node-quickbooks' raw answer)."""
            self.calls.append(("search_bill_payments", params))
            ordered = sorted(BILL_PAYMENTS, key=lambda r: r["Id"]) if params.get("asc") == "Id" else BILL_PAYMENTS
            start, limit = int(params.get("offset", 1)), int(params.get("limit", 1000))
            page = ordered[start - 1 : start - 1 + min(limit, self.caps.get("bill payments", limit))]
            return [
                TextContent(type="text", text="Bill payments found:"),
                TextContent(
                    type="text",
                    text=json.dumps(
                        {
                            "QueryResponse": {"BillPayment": page, "startPosition": start, "maxResults": len(page)}
                            if page
                            else {},
                            "time": "2026-06-15T10:00:00.000-07:00",
                        },
                        default=lambda d: float(d),
                    ),
                ),
            ]

        @self.server.tool(structured_output=False)
        def get_trial_balance(params: dict[str, Any]) -> list[TextContent]:
            """get-trial-balance.tool.ts: 'Trial Balance Report:' then JSON.stringify(report, null, 2)."""
            self.calls.append(("get_trial_balance", params))
            if self.report_error:
                return [TextContent(type="text", text=f"Error: Error: {self.report_error}")]
            start, end = date.fromisoformat(params["start_date"]), date.fromisoformat(params["end_date"])
            report = trial_balance_report(
                start, end, unbalanced=end == self.unbalanced_at, total_off=end == self.total_off_at
            )
            return [
                TextContent(type="text", text="Trial Balance Report:"),
                TextContent(type="text", text=json.dumps(report, indent=2)),
            ]

        @self.server.tool(structured_output=False)
        def create_invoice(params: dict[str, Any]) -> str:
            raise AssertionError("a write tool was called")

        @self.server.tool(structured_output=False)
        def create_journal_entry(params: dict[str, Any]) -> str:
            raise AssertionError("a write tool was called")


def raw_config(allow: list[str] | None = None, **options: Any) -> dict[str, Any]:
    return {
        "company": {"name": "QBO Co", "currency": "USD", "first_period": "2026-01"},
        "connectors": {
            "erp": {
                "adapter": "quickbooks",
                "server": {"command": "node", "args": ["dist/index.js"]},
                "allow_tools": allow or ["search_accounts", "search_invoices", "search_bills"],
                "client": {"call_timeout_s": 20, "retries": 0},
                "options": {"page_size": 3, **options},
            }
        },
    }


def ingest(fake: FakeQuickBooks, tmp_path: Path, raw: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_schema(con)

    @contextmanager
    def connect():  # noqa: ANN202
        yield con

    ingest_source(
        parse_config(raw or raw_config()),
        "erp",
        home=Home(tmp_path / "home"),
        run_id="r1",
        connect=connect,
        server=fake.server,
    )
    return con


ALL_READS = ["search_accounts", "search_invoices", "search_bills", "search_bill_payments", "get_trial_balance"]


def tb_config(**extra: Any) -> dict[str, Any]:
    raw = raw_config(
        ALL_READS,
        from_period=TB_FROM,
        fiscal_year_start_month=FY_START,
        as_of=AS_OF.isoformat(),
        currency="USD",
        **extra,
    )
    raw["company"]["fiscal_year_start_month"] = FY_START
    return raw


def expected(rows: list[dict[str, Any]], party: str) -> list[tuple[Any, ...]]:
    out = []
    for r in rows:
        voided = r["TotalAmt"] == 0 and r.get("PrivateNote") == "Voided"
        status = "void" if voided else ("paid" if r["Balance"] == 0 else "open")
        out.append(
            (
                r["Id"],
                r[f"{party}Ref"]["value"],
                r[f"{party}Ref"]["name"],
                date.fromisoformat(r["TxnDate"]),
                date.fromisoformat(r["DueDate"]),
                r["TotalAmt"],
                r["Balance"],
                "USD",
                status,
                "invoice",
                None,
            )
        )
    return sorted(out)


def test_quickbooks_tables_load_exactly_paging_by_start_position(tmp_path: Path) -> None:
    fake = FakeQuickBooks()
    con = ingest(fake, tmp_path)
    assert con.execute(
        "select account_id, name, type, subtype, currency, parent_id from erp_accounts order by 1"
    ).fetchall() == sorted(
        (a["Id"], a["Name"], *EXPECTED_TYPES[a["Id"]], "USD", a.get("ParentRef", {}).get("value"))
        for a in ACCOUNTS
        if a["Id"] in EXPECTED_TYPES
    )
    assert con.execute("select * from erp_invoices order by 1").fetchall() == expected(INVOICES, "Customer")
    assert con.execute("select * from erp_bills order by 1").fetchall() == expected(BILLS, "Vendor")
    # 7 invoices by 3: offsets 1, 4, 7 (the third page is short); criteria nested for invoices,
    # beside them for bills (4 by 3: 1, 4)
    assert [p["criteria"]["offset"] for t, p in fake.calls if t == "search_invoices"] == [1, 4, 7]
    assert [p["offset"] for t, p in fake.calls if t == "search_bills"] == [1, 4]
    reasons = [r for (r,) in con.execute("select reason from quarantine").fetchall()]
    assert len(reasons) == 1 and reasons[0].startswith(
        "erp_accounts from search_accounts: Classification None / AccountType 'Nonsense'"
    )


def test_a_server_capping_its_pages_below_the_limit_fails_instead_of_cutting_short(tmp_path: Path) -> None:
    caps = {"accounts": 3, "invoices": 3, "bills": 3, "bill payments": 3}
    fake = FakeQuickBooks()
    fake.caps = caps
    with pytest.raises(ConnectorError) as info:  # asks for 1000, gets 3: without a check, 3 accounts of 10
        ingest(fake, tmp_path / "a", raw_config(page_size=1000))
    message = str(info.value)
    assert "tool 'search_accounts'" in message
    assert "the server caps pages at 3 records: asked for 1000, page 1 held 3 and offset 4 held 3 more" in message
    assert "set options.page_size to 3" in message
    for tool, noun in (("search_bills", "bills"), ("search_bill_payments", "bill payments")):  # beside the criteria
        fake = FakeQuickBooks()
        fake.caps = {noun: 3}
        with pytest.raises(ConnectorError, match=rf"tool '{tool}'.*the server caps pages at 3 records"):
            ingest(fake, tmp_path / tool, raw_config([*ALL_READS[:4]], page_size=1000))
    # with the cap as the page size everything loads (no first page is short: no extra call)
    fake = FakeQuickBooks()
    fake.caps = caps
    con = ingest(
        fake, tmp_path / "b", raw_config(["search_accounts", "search_invoices", "search_bills", "search_bill_payments"])
    )
    assert con.execute("select * from erp_invoices order by 1").fetchall() == expected(INVOICES, "Customer")
    assert [p["criteria"]["offset"] for t, p in fake.calls if t == "search_invoices"] == [1, 4, 7]
    assert [p["offset"] for t, p in fake.calls if t == "search_bill_payments"] == [1, 4]
    # a short first page that holds everything costs one more call, which comes back empty
    fake = FakeQuickBooks()
    con = ingest(fake, tmp_path / "c", raw_config(page_size=1000))
    assert con.execute("select * from erp_invoices order by 1").fetchall() == expected(INVOICES, "Customer")
    assert con.execute("select * from erp_bills order by 1").fetchall() == expected(BILLS, "Vendor")
    assert [p["criteria"]["offset"] for t, p in fake.calls if t == "search_invoices"] == [1, 1 + len(INVOICES)]
    assert [p["offset"] for t, p in fake.calls if t == "search_bills"] == [1, 1 + len(BILLS)]


def test_a_count_that_disagrees_with_the_records_fails_naming_the_tool(tmp_path: Path) -> None:
    fake = FakeQuickBooks()
    fake.overstate = True
    with pytest.raises(ConnectorError, match=r"tool 'search_accounts'.*said 'Found 4 accounts:' but sent 3 records"):
        ingest(fake, tmp_path)


def test_error_text_without_is_error_fails_the_source(tmp_path: Path) -> None:
    fake = FakeQuickBooks()
    fake.fail = True
    with pytest.raises(ConnectorError, match=r"tool 'search_accounts'.*Error searching accounts: AuthenticationFailed"):
        ingest(fake, tmp_path)


@pytest.mark.parametrize("tool", ["create_invoice", "update_bill", "delete_journal_entry", "create_journal_entry"])
def test_a_write_tool_in_allow_tools_is_refused_at_config_load(tool: str) -> None:
    with pytest.raises(ConfigError, match=rf"\['{tool}'\] not declared as read tools by adapter 'quickbooks'"):
        parse_config(raw_config(["search_invoices", tool]))


# --- bill payments -----------------------------------------------------------------------------
def expected_payments() -> tuple[list[tuple[Any, ...]], set[str]]:
    """One line per Line paying a Bill, the unapplied rest as a line without a document; a payment
    with a line linking anything but one Bill is set aside."""
    rows, aside = [], set()
    for p in BILL_PAYMENTS:
        if any([t["TxnType"] for t in line["LinkedTxn"]] != ["Bill"] for line in p["Line"]):
            aside.add(p["Id"])
            continue
        paid = date.fromisoformat(p["TxnDate"])
        for n, line in enumerate(p["Line"], start=1):
            rows.append((p["Id"], n, line["LinkedTxn"][0]["TxnId"], paid, line["Amount"], "USD", "payment"))
        rest = p["TotalAmt"] - sum((line["Amount"] for line in p["Line"]), D(0))
        if rest:
            rows.append((p["Id"], len(p["Line"]) + 1, None, paid, rest, "USD", "payment"))
    return sorted(rows, key=lambda r: (r[0], r[1])), aside


def test_bill_payments_load_as_lines_per_bill_paging_by_start_position(tmp_path: Path) -> None:
    fake = FakeQuickBooks()
    con = ingest(
        fake, tmp_path, raw_config(["search_accounts", "search_invoices", "search_bills", "search_bill_payments"])
    )
    rows, aside = expected_payments()
    assert con.execute("select * from erp_payments order by 1, 2").fetchall() == rows
    assert [p["offset"] for t, p in fake.calls if t == "search_bill_payments"] == [1, 4]  # 4 payments by 3
    assert all(p["asc"] == "Id" and p["criteria"] == [] for t, p in fake.calls if t == "search_bill_payments")
    reasons = [
        r for (r,) in con.execute("select reason from quarantine where tool = 'search_bill_payments'").fetchall()
    ]
    assert len(reasons) == len(aside) == 1
    assert (
        reasons[0]
        == "erp_payments from search_bill_payments: line 1 links ['VendorCredit']: only lines paying one Bill are read"
    )
    assert not [t for t, _ in fake.calls if t == "get_trial_balance"]  # not allow-listed: no journal lines asked


# --- the general ledger from month-end TrialBalance reports ---------------------------------------
def _fy_start(day: date) -> date:
    return date(day.year if day.month >= FY_START else day.year - 1, FY_START, 1)


def expected_tb_lines() -> list[tuple[Any, ...]]:
    """The opening entry is QuickBooks' balances at the first month end (P&L year to date, Retained
    Earnings with the earlier years); each later month, that month's postings."""
    rows = []
    for end in MONTH_ENDS:
        if end == MONTH_ENDS[0]:
            moves = qbo_balances(_fy_start(end), end)
            what = f"QuickBooks trial balance at {end}: opening balances (P&L year to date)"
        else:
            moves = {}
            for day, lines in POSTINGS:
                if end.replace(day=1) <= day <= end:
                    for account, net in lines.items():
                        moves[account] = moves.get(account, D(0)) + net
            what = f"QuickBooks trial balance movement {MONTH_ENDS[MONTH_ENDS.index(end) - 1]} to {end}"
        for n, account in enumerate(sorted(a for a, m in moves.items() if m), start=1):
            rows.append(
                (
                    f"TB-{end:%Y-%m}",
                    n,
                    end,
                    account,
                    max(moves[account], D(0)),
                    max(-moves[account], D(0)),
                    "USD",
                    None,
                    what,
                    None,
                    None,
                    None,
                )
            )
    return sorted(rows)


def test_trial_balances_become_monthly_movements_across_the_fiscal_year_end(tmp_path: Path) -> None:
    fake = FakeQuickBooks()
    con = ingest(fake, tmp_path, tb_config())
    lines = con.execute("select * from erp_journal_lines order by 1, 2").fetchall()
    assert lines == expected_tb_lines()
    asked = [p for t, p in fake.calls if t == "get_trial_balance"]
    assert asked == [
        {"start_date": _fy_start(end).isoformat(), "end_date": end.isoformat(), "accounting_method": "Accrual"}
        for end in MONTH_ENDS
    ]
    sums = con.execute("select entry_id, sum(debit) - sum(credit) from erp_journal_lines group by 1").fetchall()
    assert len(sums) == len(MONTH_ENDS) and all(diff == 0 for _, diff in sums)
    # January (the new year) posts January's P&L only; Retained Earnings (2) does not move: QuickBooks'
    # rollover of last year's profit is not a movement
    january = {r[3]: r[4] - r[5] for r in lines if r[0] == "TB-2026-01"}
    assert "2" not in january and january == {
        a: sum((n for d, ls in POSTINGS if (d.year, d.month) == (2026, 1) for b, n in ls.items() if b == a), D(0))
        for a in january
    }
    assert con.execute("select count(*) from quarantine where tool = 'get_trial_balance'").fetchone()[0] == 0

    from warehouse.models import build_marts

    con.execute(f"insert into run_context values ('{TB_FROM}', date '{AS_OF}', {FY_START}, 'USD')")
    build_marts(con)
    for period in ("2025-11", "2025-12", "2026-01", "2026-02"):
        start = date.fromisoformat(period + "-01")
        pl = [
            (a, n)
            for d, ls in POSTINGS
            if (d.year, d.month) == (start.year, start.month) and d <= AS_OF
            for a, n in ls.items()
            if a in PL
        ]
        revenue = -sum((n for a, n in pl if a == "79"), D(0))
        net_income = -sum((n for _, n in pl), D(0))
        kpis = dict(
            con.execute(
                "select kpi, value from mart_kpis where period = ? and kpi in ('revenue', 'net_income')", [period]
            ).fetchall()
        )
        assert kpis == {"revenue": revenue, "net_income": net_income}, period
    sides = con.execute(
        "select period, sum(case when type = 'asset' then balance else -balance end) from mart_balance_sheet group by 1"
    ).fetchall()
    assert sides and all(diff == 0 for _, diff in sides)


def test_an_unbalanced_trial_balance_quarantines_the_months_it_feeds(tmp_path: Path) -> None:
    fake = FakeQuickBooks()
    fake.unbalanced_at = date(2025, 12, 31)
    con = ingest(fake, tmp_path, tb_config())
    entries = {e for (e,) in con.execute("select distinct entry_id from erp_journal_lines").fetchall()}
    assert entries == {"TB-2025-10", "TB-2025-11", "TB-2026-02"}  # December and January use December's report
    reasons = [
        r
        for (r,) in con.execute(
            "select reason from quarantine where tool = 'get_trial_balance' order by reason"
        ).fetchall()
    ]
    assert [r.split(": the trial balance")[0] for r in reasons] == [
        "erp_journal_lines from get_trial_balance: TB-2025-12",
        "erp_journal_lines from get_trial_balance: TB-2026-01",
    ]
    assert all("the trial balance at 2025-12-31 does not balance: debits" in r for r in reasons)


def test_a_total_row_that_disagrees_with_the_rows_quarantines_the_month(tmp_path: Path) -> None:
    fake = FakeQuickBooks()
    fake.total_off_at = AS_OF
    con = ingest(fake, tmp_path, tb_config())
    assert "TB-2026-02" not in {e for (e,) in con.execute("select distinct entry_id from erp_journal_lines").fetchall()}
    (reason,) = [r for (r,) in con.execute("select reason from quarantine where tool = 'get_trial_balance'").fetchall()]
    assert reason.startswith(
        f"erp_journal_lines from get_trial_balance: TB-2026-02: the trial balance at {AS_OF}: its rows sum to"
    )
    assert "but its TOTAL row says" in reason


def test_report_error_text_fails_the_source(tmp_path: Path) -> None:
    fake = FakeQuickBooks()
    fake.report_error = "Forbidden"
    with pytest.raises(ConnectorError, match=r"tool 'get_trial_balance'.*Error: Error: Forbidden"):
        ingest(fake, tmp_path, tb_config())


def test_trial_balance_mode_is_the_default_with_get_trial_balance_and_needs_its_settings() -> None:
    from connectors.adapters import adapter_for

    adapter = adapter_for(parse_config(tb_config()).connectors["erp"])
    assert [(s.table, s.tool) for s in adapter.streams()] == [
        ("erp_accounts", "search_accounts"),
        ("erp_invoices", "search_invoices"),
        ("erp_bills", "search_bills"),
        ("erp_payments", "search_bill_payments"),
        ("erp_journal_lines", "get_trial_balance"),
    ]
    adapter = adapter_for(parse_config(raw_config()).connectors["erp"])
    assert [s.tool for s in adapter.streams()] == ["search_accounts", "search_invoices", "search_bills"]
    with pytest.raises(ConfigError, match="add get_trial_balance to allow_tools"):
        parse_config(raw_config(journals="trial_balance", from_period=TB_FROM, fiscal_year_start_month=FY_START))
    with pytest.raises(ConfigError, match="options.journals"):
        parse_config(tb_config(journals="general_ledger"))


# --- R7: the General Ledger journal tied out to QuickBooks' own trial balance ----------------------
# Intuit's server's answers (src/tools/*.tool.ts: "Found N accounts:" and one JSON.stringify(entity) per
# record; "Trial Balance Report:" / "General Ledger Report:" then the report) over the stand-in's books
# (tests/vendors/quickbooks/standin.py), whose reports are QuickBooks' own: P&L from 1 January, earlier
# profit in Retained Earnings. test_adapters_quickbooks_server.py reads the same books through the real
# server when it is built.
GL_READS = ["search_accounts", "search_invoices", "search_bills", "get_trial_balance", "get_general_ledger"]
QBO_AS_OF = "2024-03-15"


class IntuitAnswers:
    """The tools the general-ledger mode reads, answering as Intuit's server does from ``books``;
    ``unbalanced_at``: the TrialBalance at that end date has a row off by 0.01 (it no longer balances)."""

    def __init__(self, books: qbo.Books) -> None:
        self.books = books
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.unbalanced_at: str | None = None
        self.server = new_server("QuickBooks Online MCP Server", title="QBO", instructions="stand-in books")

        def found(noun: str, colon: str, rows: list[dict[str, Any]], window: dict[str, Any]) -> list[TextContent]:
            start, limit = int(window["offset"]), int(window["limit"])
            page = sorted(rows, key=lambda r: int(r["Id"]))[start - 1 : start - 1 + limit]
            return [
                TextContent(type="text", text=f"Found {len(page)} {noun}{colon}"),
                *(TextContent(type="text", text=json.dumps(qbo._numbers(r))) for r in page),
            ]

        def report(head: str, value: dict[str, Any]) -> list[TextContent]:
            return [TextContent(type="text", text=head), TextContent(type="text", text=json.dumps(value, indent=2))]

        @self.server.tool(structured_output=False)
        def search_accounts(params: dict[str, Any]) -> list[TextContent]:
            self.calls.append(("search_accounts", params))
            return found("accounts", ":", self.books.accounts, params["criteria"])

        @self.server.tool(structured_output=False)
        def search_invoices(params: dict[str, Any]) -> list[TextContent]:
            self.calls.append(("search_invoices", params))
            return found("invoices", "", self.books.invoices, params["criteria"])

        @self.server.tool(structured_output=False)
        def search_bills(params: dict[str, Any]) -> list[TextContent]:
            self.calls.append(("search_bills", params))
            return found("bills", ":", self.books.bills, params)

        @self.server.tool(structured_output=False)
        def get_trial_balance(params: dict[str, Any]) -> list[TextContent]:
            self.calls.append(("get_trial_balance", params))
            value = self.books.trial_balance(params["start_date"], params["end_date"])
            if params["end_date"] == self.unbalanced_at:
                cell = value["Rows"]["Row"][0]["ColData"][1]
                cell["value"] = qbo._amt(D(cell["value"]) + D("0.01"))
            return report("Trial Balance Report:", value)

        @self.server.tool(structured_output=False)
        def get_general_ledger(params: dict[str, Any]) -> list[TextContent]:
            self.calls.append(("get_general_ledger", params))
            return report("General Ledger Report:", self.books.general_ledger(params["start_date"], params["end_date"]))


def gl_config(first_period: str, allow: list[str] | None = None, **options: Any) -> dict[str, Any]:
    return {
        "company": {"name": "QBO Co", "currency": "USD", "fiscal_year_start_month": 1, "first_period": first_period},
        "connectors": {
            "erp": {
                "adapter": "quickbooks",
                "server": {"command": "node", "args": ["dist/index.js"]},
                "allow_tools": allow or GL_READS,
                "client": {"call_timeout_s": 20, "retries": 0},
                "options": {"as_of": QBO_AS_OF, **options},
            }
        },
    }


def pull_and_recon(answers: IntuitAnswers, tmp_path: Path, raw: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """Ingest the ERP into an in-memory warehouse, then build the marts and R1-R7 as a refresh does."""
    from warehouse.models import build_marts
    from warehouse.recon import ReconParams, build_recon

    con, connect = memory_warehouse()
    ingest_source(
        parse_config(raw), "erp", home=Home(tmp_path / "home"), run_id="r1", connect=connect, server=answers.server
    )
    con.execute("insert into run_context values (?, ?, 1, 'USD')", [raw["company"]["first_period"], QBO_AS_OF])
    build_marts(con)
    build_recon(con, "r1", ReconParams())
    return con


def statuses(con: duckdb.DuckDBPyConnection, check: str) -> dict[str, str]:
    return dict(con.execute("select period, status from recon_results where check_id = ?", [check]).fetchall())


@pytest.mark.parametrize("first_period", ["2023-12", "2024-01"])
def test_the_general_ledger_ties_out_to_quickbooks_trial_balance_rebased_across_the_fiscal_year_end(
    first_period: str, tmp_path: Path
) -> None:
    answers = IntuitAnswers(qbo.Books())
    con = pull_and_recon(answers, tmp_path, gl_config(first_period))
    with con:
        rows = con.execute(
            "select balance_date::varchar, account_id, debit, credit from erp_trial_balance order by 1, 2"
        ).fetchall()
        r7 = con.execute(
            "select period, status, detail from recon_results where check_id = 'R7_erp_report' order by 1"
        ).fetchall()
        r1 = statuses(con, "R1_trial_balance")
        quarantined = con.execute("select reason from quarantine").fetchall()
    # every month-end from first_period's (not the opening day), on the journal's basis: P&L since
    # inception, Retained Earnings (2) never moved by QuickBooks' rollover of 2023's profit
    ends = [e for e in qbo.MONTH_END_BALANCES if e[:7] >= first_period]
    assert rows == [
        (end, account, max(net, D(0)), max(-net, D(0)))
        for end in ends
        for account, net in sorted(qbo.MONTH_END_BALANCES[end].items())
    ]
    own = qbo.Books().trial_balance("2024-01-01", "2024-01-31")  # what QuickBooks itself says at 2024-01-31
    said = {
        r["ColData"][0]["id"]: (r["ColData"][1]["value"], r["ColData"][2]["value"])
        for r in own["Rows"]["Row"]
        if "ColData" in r
    }
    assert said["79"] == ("", "2000.00") and said["2"] == ("", "1500.00")  # re-based above to 79 3,500.00 Cr, no 2
    assert quarantined == []
    assert [(p, s) for p, s, _ in r7] == [(e[:7], "pass") for e in ends]
    assert all(d.startswith("every account's balance equals the ERP's own trial balance at") for *_, d in r7)
    assert set(r1.values()) == {"pass"}
    # the opening trial balance is read once (for the OPENING entry and as the tie-out's base), then
    # each month-end's once, from its fiscal-year start
    opening = date.fromisoformat(f"{first_period}-01") - timedelta(days=1)
    asked = [(p["start_date"], p["end_date"]) for t, p in answers.calls if t == "get_trial_balance"]
    assert asked == [(f"{opening.year}-01-01", opening.isoformat())] + [(f"{e[:4]}-01-01", e) for e in ends]


def test_a_transaction_the_general_ledger_report_leaves_out_fails_r7_naming_its_accounts(tmp_path: Path) -> None:
    answers = IntuitAnswers(qbo.Books(missing_from_ledger=frozenset({"6"})))  # Bill 6, 2024-02-01: rent 1,200.00
    con = pull_and_recon(answers, tmp_path, gl_config("2024-01"))
    with con:
        r7 = statuses(con, "R7_erp_report")
        r1 = statuses(con, "R1_trial_balance")
        items = con.execute(
            "select period, record_id, amount from recon_items where check_id = 'R7_erp_report' order by 1, 2"
        ).fetchall()
        detail = con.execute(
            "select detail from recon_results where check_id = 'R7_erp_report' and period = '2024-02'"
        ).fetchone()[0]
        lines = con.execute("select count(*) from erp_journal_lines where entry_id = 'Bill 6'").fetchone()[0]
    assert lines == 0
    assert set(r1.values()) == {"pass"}  # closeboard's own books still balance: only QuickBooks' report shows it
    assert r7 == {"2024-01": "pass", "2024-02": "fail", "2024-03": "fail"}
    # closeboard - QuickBooks: rent (77) 1,200.00 short, A/P (33) 1,200.00 less owed
    assert items == [
        ("2024-02", "33", D("1200.00")),
        ("2024-02", "77", D("-1200.00")),
        ("2024-03", "33", D("1200.00")),
        ("2024-03", "77", D("-1200.00")),
    ]
    assert detail == ("2 account(s) differ from the ERP's own trial balance at 2024-02-29: 33, 77")


@pytest.mark.parametrize("day", ["2023-12-31", "2024-02-29"])
def test_a_trial_balance_that_does_not_balance_fails_the_pull_instead_of_tying_out(day: str, tmp_path: Path) -> None:
    answers = IntuitAnswers(qbo.Books())
    answers.unbalanced_at = day  # the opening report (also the OPENING entry's) or a month-end's
    with pytest.raises(ConnectorError) as failed:
        pull_and_recon(answers, tmp_path, gl_config("2024-01"))
    assert failed.value.tool == "get_trial_balance"
    assert (
        f"R7 cannot tie out to QuickBooks' trial balance at {day}: the trial balance at {day} does not balance"
        in str(failed.value)
    )


def test_only_the_general_ledger_mode_reads_quickbooks_trial_balance_for_r7(tmp_path: Path) -> None:
    from connectors.adapters import adapter_for

    def reads(raw: dict[str, Any]) -> list[str]:
        adapter = adapter_for(parse_config(raw).connectors["erp"])
        return [s.tool for s in adapter.streams() if s.table == "erp_trial_balance"]

    assert reads(gl_config("2024-01")) == ["get_trial_balance"]
    # trial_balance mode: the journal is QuickBooks' trial balance, a tie-out would pass by construction
    assert reads(gl_config("2024-01", journals="trial_balance")) == []
    assert reads(gl_config("2024-01", GL_READS[:4])) == []
    assert reads(gl_config("2024-01", journals="none")) == []
    con = pull_and_recon(IntuitAnswers(qbo.Books()), tmp_path, gl_config("2024-01", journals="trial_balance"))
    with con:
        r7 = con.execute("select period, status, detail from recon_results where check_id = 'R7_erp_report'").fetchall()
        loaded = con.execute("select count(*) from erp_journal_lines").fetchone()[0]
    assert loaded and sorted((p, s) for p, s, _ in r7) == [
        (p, "not_configured") for p in ("2024-01", "2024-02", "2024-03")
    ]
    assert all(d.startswith("not available: the ERP source gives no trial balance") for *_, d in r7)
