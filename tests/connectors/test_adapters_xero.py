"""The `xero` adapter against an in-memory fake of Xero's official MCP server: the cases the real
server cannot be made to show, or that need no server.

tests/connectors/test_adapters_xero_server.py runs the real ``@xeroapi/xero-mcp-server`` 0.0.17
against a stand-in for Xero's API and supersedes what used to be tested here for paging, records
moving between pages, error text with isError false and the trial-balance ledger across a
financial-year start. What stays: mapping edge cases (an unknown account type, an account without a
code, overpayments, a foreign-currency invoice), a page whose "Found N" disagrees with what it sends,
manual journals, an unbalanced trial balance and the config rules. The fake prints what the server
prints (ported from its ``src/tools/list/*.tool.ts``), dates as JavaScript Date text in a GMT-0500
process, as the real server does under TZ=America/New_York.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date
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
from warehouse.db import ensure_schema
from warehouse.home import Home

D = Decimal


def js_date(value: str | None) -> str | None:
    """An ISO date as the server prints Xero's date (midnight UTC) from a process at GMT-0500."""
    if not value:
        return None
    from datetime import UTC, datetime, timedelta, timezone

    moment = datetime.fromisoformat(value).replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=-5)))
    return moment.strftime("%a %b %d %Y %H:%M:%S GMT-0500 (Eastern Standard Time)")


def js(value: Any) -> str:
    """A number as JavaScript's template literal prints it (shortest text, no trailing zeros)."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return str(value)


# --- fixture data: what the Xero organisation holds (xero-node model fields) -------------------
ACCOUNTS = [
    {"name": "Business Bank Account", "code": "090", "accountID": "a-090", "type": "BANK", "status": "ACTIVE"},
    {"name": "Accounts Receivable", "code": "610", "accountID": "a-610", "type": "CURRENT", "status": "ACTIVE"},
    {"name": "Accounts Payable", "code": "800", "accountID": "a-800", "type": "CURRLIAB", "status": "ACTIVE"},
    {
        "name": "Loan",
        "code": "900",
        "accountID": "a-900",
        "type": "TERMLIAB",
        "status": "ACTIVE",
        "description": "Bank loan: 5 years",
    },
    {"name": "Owner A Funds Introduced", "code": "970", "accountID": "a-970", "type": "EQUITY", "status": "ACTIVE"},
    {"name": "Retained Earnings", "code": "960", "accountID": "a-960", "type": "EQUITY", "status": "ACTIVE"},
    {"name": "Sales", "code": "200", "accountID": "a-200", "type": "REVENUE", "status": "ACTIVE", "taxType": "OUTPUT"},
    {"name": "Cost of Goods Sold", "code": "310", "accountID": "a-310", "type": "DIRECTCOSTS", "status": "ACTIVE"},
    {"name": "Rent", "code": "469", "accountID": "a-469", "type": "OVERHEADS", "status": "ARCHIVED"},
    {"name": "Savings (no code)", "accountID": "a-sav", "type": "BANK", "status": "ACTIVE"},
    {"name": "Mystery", "code": "999", "accountID": "a-999", "type": "HISTORICAL", "status": "ACTIVE"},
]
EXPECTED_ACCOUNT_TYPES = {  # code -> (type, subtype): the documented mapping
    "090": ("asset", "cash"),
    "610": ("asset", "ar"),
    "800": ("liability", "ap"),
    "900": ("liability", "debt"),
    "970": ("equity", None),
    "960": ("equity", None),
    "200": ("revenue", None),
    "310": ("expense", "cogs"),
    "469": ("expense", None),
    "a-sav": ("asset", "cash"),
}
STATUSES = ["AUTHORISED", "PAID", "DRAFT", "VOIDED", "SUBMITTED"]


def _invoices() -> list[dict[str, Any]]:
    rows = []
    for n in range(1, 24):  # 23 invoices: 3 pages of list-invoices (10, 10, 3)
        kind = "ACCREC" if n % 3 else "ACCPAY"
        total = D(n * 137) + D("0.5") * (n % 2)
        status = STATUSES[n % len(STATUSES)]
        due = D(0) if status in ("PAID", "VOIDED") else (total if n % 4 else total - D(50))
        rows.append(
            {
                "invoiceID": f"inv-{n:03d}",
                "invoiceNumber": f"INV-{n:04d}",
                "type": kind,
                "status": status,
                "contact": {"name": f"Contact {n % 5}", "contactID": f"c-{n % 5}"},
                "date": f"2026-0{1 + n % 5}-{1 + n:02d}",
                "dueDate": f"2026-0{2 + n % 5}-{n:02d}" if n % 6 else None,
                "lineAmountTypes": "Exclusive",
                "subTotal": total,
                "totalTax": D(0),
                "total": total,
                "currencyCode": "EUR" if n == 6 else "NZD",
                "amountDue": due,
                "amountPaid": total - due,
                "updatedDateUTC": f"2026-06-{n:02d}T10:00:00",
                "reference": "Ref: with colon" if n == 4 else None,
            }
        )
    return list(reversed(rows))  # UpdatedDateUTC DESC


INVOICES = _invoices()
CREDIT_NOTES = [
    {
        "creditNoteID": "cn-1",
        "creditNoteNumber": "CN-1",
        "type": "ACCRECCREDIT",
        "status": "PAID",
        "contact": {"name": "Contact 1", "contactID": "c-1"},
        "date": "2026-03-02",
        "total": D("120.25"),
        "currencyCode": "NZD",
    },
    {
        "creditNoteID": "cn-2",
        "creditNoteNumber": "CN-2",
        "type": "ACCPAYCREDIT",
        "status": "DRAFT",
        "contact": {"name": "Contact 3", "contactID": "c-3"},
        "date": "2026-04-11",
        "total": D("80"),
        "currencyCode": "NZD",
    },
    {
        "creditNoteID": "cn-3",
        "creditNoteNumber": "CN-3",
        "type": "ACCRECCREDIT",
        "status": "AUTHORISED",
        "contact": {"name": "Contact 2", "contactID": "c-2"},
        "date": "2026-05-20",
        "total": D("40"),
        "currencyCode": "NZD",
    },
]


def _payments() -> list[dict[str, Any]]:
    rows = []
    paid = [i for i in INVOICES if i["status"] in ("PAID", "AUTHORISED")]
    for n in range(20):  # exactly 2 full pages: the third page is empty
        inv = paid[n % len(paid)]
        kind = "ACCRECPAYMENT" if inv["type"] == "ACCREC" else "ACCPAYPAYMENT"
        rows.append(
            {
                "paymentID": f"pay-{n:02d}",
                "date": f"2026-05-{1 + n:02d}",
                "amount": D(10 + n) + D("0.05"),
                "status": "DELETED" if n == 5 else "AUTHORISED",
                "paymentType": kind,
                "account": {"name": "Business Bank Account", "accountID": "a-090"},
                "invoice": {
                    "invoiceNumber": inv["invoiceNumber"],
                    "invoiceID": inv["invoiceID"],
                    "contact": inv["contact"],
                    "type": inv["type"],
                    "total": inv["total"],
                    "amountDue": inv["amountDue"],
                },
            }
        )
    rows[7]["paymentType"] = "AROVERPAYMENTPAYMENT"
    rows[7]["invoice"] = None
    return rows


PAYMENTS = _payments()
MANUAL_JOURNALS = [
    {
        "manualJournalID": "mj-1",
        "narration": "Accrue rent",
        "date": "2026-03-31",
        "status": "POSTED",
        "lineAmountTypes": "NoTax",
        "journalLines": [
            {"lineAmount": D("1500"), "accountCode": "469", "description": "March rent", "taxAmount": D(0)},
            {"lineAmount": D("-1500"), "accountCode": "800", "taxAmount": D(0)},
        ],
    },
    {
        "manualJournalID": "mj-2",
        "narration": None,
        "date": "2026-04-30",
        "status": "POSTED",
        "lineAmountTypes": "NoTax",
        "journalLines": [
            {"lineAmount": D("250.75"), "accountCode": "310", "description": "Stock adj", "taxAmount": D(0)},
            {"lineAmount": D("-200"), "accountCode": "090", "taxAmount": D(0)},
            {"lineAmount": D("-50.75"), "accountCode": "900", "description": "Loan part", "taxAmount": D(0)},
        ],
    },
    {
        "manualJournalID": "mj-3",
        "narration": "Draft",
        "date": "2026-04-30",
        "status": "DRAFT",
        "lineAmountTypes": "NoTax",
        "journalLines": [
            {"lineAmount": D("1"), "accountCode": "469", "taxAmount": D(0)},
            {"lineAmount": D("-1"), "accountCode": "090", "taxAmount": D(0)},
        ],
    },
    {
        "manualJournalID": "mj-4",
        "narration": "With GST",
        "date": "2026-05-31",
        "status": "POSTED",
        "lineAmountTypes": "Exclusive",
        "journalLines": [
            {"lineAmount": D("100"), "accountCode": "469", "taxType": "INPUT2", "taxAmount": D("15")},
            {"lineAmount": D("-115"), "accountCode": "090", "taxAmount": D(0)},
        ],
    },
]


# --- the server's formatting (ported line by line from src/tools/list/*.tool.ts) ----------------
def fmt_account(a: dict[str, Any]) -> str:
    lines = [
        f"Account: {a.get('name') or 'Unnamed'}",
        f"Code: {a.get('code') or 'No code'}",
        f"ID: {a.get('accountID') or 'No ID'}",
        f"Type: {a.get('type') or 'Unknown type'}",
        f"Status: {a.get('status') or 'Unknown status'}",
        f"Description: {a['description']}" if a.get("description") else None,
        f"Tax Type: {a['taxType']}" if a.get("taxType") else None,
    ]
    return "\n".join(x for x in lines if x)


def fmt_invoice(i: dict[str, Any]) -> str:
    c = i.get("contact")
    lines = [
        f"Invoice ID: {i['invoiceID']}",
        f"Invoice: {i['invoiceNumber']}",
        f"Reference: {i['reference']}" if i.get("reference") else None,
        f"Type: {i.get('type') or 'Unknown'}",
        f"Status: {i.get('status') or 'Unknown'}",
        f"Contact: {c['name']} ({c['contactID']})" if c else None,
        f"Date: {js_date(i['date'])}" if i.get("date") else None,
        f"Due Date: {js_date(i['dueDate'])}" if i.get("dueDate") else None,
        f"Line Amount Types: {i['lineAmountTypes']}" if i.get("lineAmountTypes") else None,
        f"Sub Total: {js(i['subTotal'])}" if i.get("subTotal") else None,
        f"Total Tax: {js(i['totalTax'])}" if i.get("totalTax") else None,
        f"Total: {js(i.get('total') or 0)}",
        f"Currency: {i['currencyCode']}" if i.get("currencyCode") else None,
        f"Last Updated: {i['updatedDateUTC']}" if i.get("updatedDateUTC") else None,
        f"Amount Due: {js(i['amountDue'])}" if i.get("amountDue") else None,
        f"Amount Paid: {js(i['amountPaid'])}" if i.get("amountPaid") else None,
    ]
    return "\n".join(x for x in lines if x)


def fmt_credit_note(n: dict[str, Any]) -> str:
    c = n.get("contact")
    lines = [
        f"Credit Note ID: {n['creditNoteID']}",
        f"Credit Note Number: {n['creditNoteNumber']}",
        f"Type: {n.get('type') or 'Unknown'}",
        f"Status: {n.get('status') or 'Unknown'}",
        f"Contact: {c['name']} ({c['contactID']})" if c else None,
        f"Date: {js_date(n['date'])}" if n.get("date") else None,
        f"Total: {js(n.get('total') or 0)}",
        f"Currency: {n['currencyCode']}" if n.get("currencyCode") else None,
    ]
    return "\n".join(x for x in lines if x)


def fmt_payment(p: dict[str, Any]) -> str:
    inv = p.get("invoice")
    invoice = None
    if inv:
        invoice = "\n".join(
            x
            for x in [
                "Invoice:",
                f"  Invoice Number: {inv.get('invoiceNumber') or 'Unknown'}",
                f"  Invoice ID: {inv.get('invoiceID') or 'Unknown'}",
                f"  Contact: {inv['contact']['name']} ({inv['contact']['contactID']})" if inv.get("contact") else None,
                f"  Type: {inv['type']}" if inv.get("type") else None,
                f"  Total: {js(inv['total'])}" if inv.get("total") is not None else None,
                f"  Amount Due: {js(inv['amountDue'])}" if inv.get("amountDue") is not None else None,
            ]
            if x
        )
    lines = [
        f"Payment ID: {p.get('paymentID') or 'Unknown'}",
        f"Date: {js_date(p.get('date')) or 'Unknown date'}",
        f"Amount: {js(p.get('amount') or 0)}",
        f"Status: {p['status']}" if p.get("status") else None,
        f"Payment Type: {p['paymentType']}" if p.get("paymentType") else None,
        f"Account: {p['account']['name']} ({p['account']['accountID']})" if p.get("account") else None,
        invoice,
    ]
    return "\n".join(x for x in lines if x)


def fmt_manual_journal(j: dict[str, Any]) -> str:
    lines = "\n\n".join(
        "\n".join(
            [
                f"Line Amount: {js(x['lineAmount'])}",
                f"Account Code: {x['accountCode']}" if x.get("accountCode") else "No account code",
                f"Description: {x['description']}" if x.get("description") else "No description",
                f"Tax Type: {x['taxType']}" if x.get("taxType") else "No tax type",
                f"Tax Amount: {js(x['taxAmount'])}",
            ]
        )
        for x in j["journalLines"]
    )
    return "\n".join(
        [
            f"Manual Journal ID: {j['manualJournalID']}",
            f"Description: {j['narration']}" if j.get("narration") else "No description",
            f"Date: {js_date(j['date'])}",
            lines,
            f"Line Amount Types: {j['lineAmountTypes']}",
            f"Status: {j['status']}",
            "No URL",
            "Show on Cash Basis Reports: true",
            "Has Attachments: false",
            "Last Updated: 6/1/2026",
        ]
    )


class FakeXero:
    """The tools of xero-mcp-server that matter here, serving the fixture data above."""

    def __init__(self) -> None:
        self.drop_one_on_page: int | None = None  # a page whose "Found N" overstates what it sends
        self.fail_with: str | None = None
        self.unbalanced_at: date | None = None  # a trial balance whose rows do not balance
        self.tb_error: str | None = None
        # (page, invoice ID): once that page of list-invoices is answered, the invoice is updated in
        # Xero and, UpdatedDateUTC DESC, moves to the front (the first time only)
        self.update_after_page: tuple[int, str] | None = None
        self.invoices = list(INVOICES)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.server = new_server("xero-mcp-server", title="Xero MCP Server", instructions="fake")
        srv = self.server

        def answer(noun: str, records: list[dict[str, Any]], fmt: Any, page: int | None) -> list[TextContent]:
            if self.fail_with:
                return [TextContent(type="text", text=f"Error listing {noun}: {self.fail_with}")]
            chunk = records if page is None else records[(page - 1) * 10 : page * 10]
            blocks = [fmt(r) for r in chunk]
            head = f"Found {len(blocks)} {noun}:"
            if page is not None and page == self.drop_one_on_page:
                blocks = blocks[:-1]
            return [TextContent(type="text", text=head), *(TextContent(type="text", text=b) for b in blocks)]

        @srv.tool(name="list-accounts", structured_output=False)
        def list_accounts() -> list[TextContent]:
            self.calls.append(("list-accounts", {}))
            return answer("accounts", ACCOUNTS, fmt_account, None)

        @srv.tool(name="list-invoices", structured_output=False)
        def list_invoices(
            page: int,
            contactIds: list[str] | None = None,  # noqa: N803
            invoiceNumbers: list[str] | None = None,
        ) -> list[TextContent]:  # noqa: N803
            self.calls.append(("list-invoices", {"page": page}))
            answered = answer("invoices", self.invoices, fmt_invoice, page)
            if self.update_after_page and self.update_after_page[0] == page:
                moved = next(i for i in self.invoices if i["invoiceID"] == self.update_after_page[1])
                self.invoices = [moved, *(i for i in self.invoices if i is not moved)]
                self.update_after_page = None
            return answered

        @srv.tool(name="list-credit-notes", structured_output=False)
        def list_credit_notes(page: int, contactId: str | None = None) -> list[TextContent]:  # noqa: N803
            self.calls.append(("list-credit-notes", {"page": page}))
            return answer("credit notes", CREDIT_NOTES, fmt_credit_note, page)

        @srv.tool(name="list-payments", structured_output=False)
        def list_payments(
            page: int = 1,
            invoiceNumber: str | None = None,
            invoiceId: str | None = None,  # noqa: N803
            paymentId: str | None = None,
            reference: str | None = None,
        ) -> list[TextContent]:  # noqa: N803
            self.calls.append(("list-payments", {"page": page}))
            return answer("payments", PAYMENTS, fmt_payment, page)

        @srv.tool(name="list-manual-journals", structured_output=False)
        def list_manual_journals(
            manualJournalId: str | None = None,
            modifiedAfter: str | None = None,  # noqa: N803
            page: int | None = None,
        ) -> list[TextContent]:
            self.calls.append(("list-manual-journals", {"page": page}))
            return answer("manual journals", MANUAL_JOURNALS, fmt_manual_journal, page or 1)

        @srv.tool(name="list-trial-balance", structured_output=False)
        def list_trial_balance(date: str | None = None, paymentsOnly: bool | None = None) -> list[TextContent]:  # noqa: N803
            self.calls.append(("list-trial-balance", {"date": date}))
            if self.tb_error:
                return [TextContent(type="text", text=f"Error listing trial balance: {self.tb_error}")]
            return trial_balance_answer(_date(date) or AS_OF, self.unbalanced_at)

        @srv.tool(name="create-invoice", structured_output=False)
        def create_invoice(contactId: str, lineItems: list[dict[str, Any]], type: str) -> str:  # noqa: N803, A002
            self.calls.append(("create-invoice", {}))
            raise AssertionError("a write tool was called")


def raw_config(allow: list[str] | None = None, **options: Any) -> dict[str, Any]:
    return {
        "company": {
            "name": "Xero Co",
            "currency": "NZD",
            "first_period": "2026-01",
            "fiscal_year_start_month": FY_START,
        },
        "connectors": {
            "erp": {
                "adapter": "xero",
                "server": {"command": "npx", "args": ["-y", "@xeroapi/xero-mcp-server@latest"]},
                "allow_tools": allow or ["list-accounts", "list-invoices", "list-credit-notes", "list-payments"],
                "client": {"call_timeout_s": 20, "retries": 0},
                "options": {"currency": "NZD", **options},
            }
        },
    }


def ingest(fake: FakeXero, tmp_path: Path, raw: dict[str, Any] | None = None) -> tuple[duckdb.DuckDBPyConnection, Any]:
    config = parse_config(raw or raw_config())
    con = duckdb.connect()
    ensure_schema(con)

    @contextmanager
    def connect():  # noqa: ANN202
        yield con

    result = ingest_source(
        config, "erp", home=Home(tmp_path / "home"), run_id="r1", connect=connect, server=fake.server
    )
    return con, result


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


STATUS = {"DRAFT": "draft", "SUBMITTED": "draft", "AUTHORISED": "open", "PAID": "paid", "VOIDED": "void"}


def expected_documents(kind: str, credit_kind: str) -> list[tuple[Any, ...]]:
    rows = [
        (
            i["invoiceID"],
            i["contact"]["contactID"],
            i["contact"]["name"],
            _date(i["date"]),
            _date(i["dueDate"]),
            i["total"],
            i["amountDue"],
            i["currencyCode"],
            STATUS[i["status"]],
            "invoice",
            None,
        )
        for i in INVOICES
        if i["type"] == kind
    ]
    rows += [
        (
            n["creditNoteID"],
            n["contact"]["contactID"],
            n["contact"]["name"],
            _date(n["date"]),
            None,
            -n["total"],
            -n["total"] if n["status"] in ("DRAFT", "SUBMITTED") else D(0),
            n["currencyCode"],
            STATUS[n["status"]],
            "credit_note",
            None,
        )
        for n in CREDIT_NOTES
        if n["type"] == credit_kind and n["status"] != "AUTHORISED"
    ]
    return sorted(rows)


def test_xero_tables_load_exactly_paging_pages_of_ten(tmp_path: Path) -> None:
    fake = FakeXero()
    con, result = ingest(fake, tmp_path)

    accounts = con.execute(
        "select account_id, name, type, subtype, currency, parent_id from erp_accounts order by account_id"
    ).fetchall()
    by_id = {(a.get("code") or a["accountID"]): a for a in ACCOUNTS}
    assert accounts == sorted((k, by_id[k]["name"], t, s, "NZD", None) for k, (t, s) in EXPECTED_ACCOUNT_TYPES.items())

    cols = "select * from {} order by 1"
    assert con.execute(cols.format("erp_invoices")).fetchall() == expected_documents("ACCREC", "ACCRECCREDIT")
    assert con.execute(cols.format("erp_bills")).fetchall() == expected_documents("ACCPAY", "ACCPAYCREDIT")

    currency = {i["invoiceID"]: i["currencyCode"] for i in INVOICES}
    expected_payments = sorted(
        (
            p["paymentID"],
            1,
            p["invoice"]["invoiceID"] if p["invoice"] else None,
            _date(p["date"]),
            p["amount"],
            currency[p["invoice"]["invoiceID"]] if p["invoice"] else "NZD",
            "payment",
        )
        for p in PAYMENTS
        if p["status"] != "DELETED"
    )
    assert con.execute(cols.format("erp_payments")).fetchall() == expected_payments

    # pages of 10: 23 invoices are 3 pages (read once for invoices and once for bills), 20 payments
    # are 2 full pages and an empty third
    invoice_pages = [a["page"] for t, a in fake.calls if t == "list-invoices"]
    assert invoice_pages == [1, 2, 3, 1, 2, 3]
    assert [a["page"] for t, a in fake.calls if t == "list-payments"] == [1, 2, 3]
    assert result.pull.tables["erp_payments"].pages == 3
    assert result.pull.tables["erp_invoices"].tool == "list-invoices, list-credit-notes"

    # what could not be mapped is quarantined with the reason, not dropped
    rows = con.execute("select tool, reason from quarantine order by reason").fetchall()
    assert [tool for tool, _ in rows] == ["list-accounts", "list-credit-notes"]  # the tool that sent it
    reasons = [r for _, r in rows]
    assert len(reasons) == 2
    assert reasons[0].startswith("erp_accounts from list-accounts: account type 'HISTORICAL'")
    assert reasons[1].startswith("erp_invoices from list-credit-notes: an AUTHORISED credit note")
    assert not any(t == "create-invoice" for t, _ in fake.calls)


def test_manual_journals_as_signed_lines_when_asked(tmp_path: Path) -> None:
    fake = FakeXero()
    raw = raw_config(
        ["list-accounts", "list-invoices", "list-credit-notes", "list-payments", "list-manual-journals"],
        journals="manual",
    )
    con, _ = ingest(fake, tmp_path, raw)
    expected = sorted(
        (
            j["manualJournalID"],
            n,
            _date(j["date"]),
            x["accountCode"],
            max(x["lineAmount"], D(0)),
            max(-x["lineAmount"], D(0)),
            "NZD",
            None,
            x.get("description") or j["narration"],
            None,
            None,
            None,
        )
        for j in MANUAL_JOURNALS
        if j["status"] == "POSTED" and all(x["taxAmount"] == 0 for x in j["journalLines"])
        for n, x in enumerate(j["journalLines"], start=1)
    )
    assert con.execute("select * from erp_journal_lines order by 1, 2").fetchall() == expected
    reason = con.execute("select reason from quarantine where tool = 'list-manual-journals'").fetchall()
    assert len(reason) == 1 and "carries tax 15" in reason[0][0]


def test_a_page_whose_count_disagrees_fails_the_source_naming_the_tool(tmp_path: Path) -> None:
    fake = FakeXero()
    fake.drop_one_on_page = 2
    with pytest.raises(ConnectorError) as info:
        ingest(fake, tmp_path)
    message = str(info.value)
    assert "tool 'list-invoices'" in message
    assert "said 'Found 10 invoices:' but sent 9 records" in message


@pytest.mark.parametrize("tool", ["create-invoice", "update-invoice", "create-payment"])
def test_a_write_tool_in_allow_tools_is_refused_at_config_load(tool: str) -> None:
    with pytest.raises(ConfigError, match=rf"\['{tool}'\] not declared as read tools by adapter 'xero'"):
        parse_config(raw_config(["list-accounts", tool]))


def test_the_base_currency_follows_the_company_and_must_equal_it() -> None:
    raw = raw_config()
    del raw["connectors"]["erp"]["options"]["currency"]
    assert parse_config(raw).connectors["erp"].options["currency"] == "NZD"
    raw["connectors"]["erp"]["options"]["currency"] = "AUD"
    with pytest.raises(ConfigError, match=r"options.currency: 'AUD' differs from company.currency 'NZD'"):
        parse_config(raw)


# --- the general ledger from month-end trial balances (list-trial-balance) ---------------------
# The organisation's postings: (date, {account code: net, debits positive}); each balances. Its
# financial year starts in April (Xero NZ default), so 2026-04 crosses the fiscal-year end.
FY_START = 4
AS_OF = date(2026, 6, 15)
TB_SECTIONS = {
    "200": "Revenue",
    "310": "Expenses",
    "469": "Expenses",
    "090": "Assets",
    "610": "Assets",
    "800": "Liabilities",
    "970": "Equity",
    "960": "Equity",
}
TB_NAMES = {a["code"]: a["name"] for a in ACCOUNTS if a.get("code")}
POSTINGS: list[tuple[date, dict[str, Decimal]]] = [
    (date(2024, 5, 3), {"090": D("5000"), "970": D("-5000")}),
    (date(2024, 9, 9), {"610": D("1200.50"), "200": D("-1200.50")}),
    (date(2025, 2, 1), {"310": D("300.25"), "800": D("-300.25")}),
    (date(2025, 6, 30), {"090": D("1200.50"), "610": D("-1200.50")}),
    (date(2025, 11, 2), {"610": D("800"), "200": D("-800")}),
    (date(2026, 1, 20), {"469": D("150"), "090": D("-150")}),
    (date(2026, 2, 14), {"610": D("2500.75"), "200": D("-2500.75")}),
    (date(2026, 2, 20), {"310": D("900.10"), "800": D("-900.10")}),
    (date(2026, 3, 5), {"610": D("1000"), "200": D("-1000")}),
    (date(2026, 3, 31), {"469": D("150"), "090": D("-150")}),
    # 2026-04: the new financial year
    (date(2026, 4, 10), {"610": D("640.40"), "200": D("-640.40")}),
    (date(2026, 4, 11), {"090": D("2500.75"), "610": D("-2500.75")}),
    (date(2026, 4, 30), {"469": D("150"), "090": D("-150")}),
    # 2026-05: no activity
    (date(2026, 6, 2), {"610": D("99.99"), "200": D("-99.99")}),
    (date(2026, 6, 28), {"610": D("1"), "200": D("-1")}),  # after AS_OF: not yet in the open month
]


def _fy_start(day: date) -> date:
    return date(day.year if day.month >= FY_START else day.year - 1, FY_START, 1)


def xero_balances(as_at: date) -> dict[str, Decimal]:
    """Xero's as-at balances: balance-sheet accounts since inception, P&L accounts from the
    fiscal-year start, and earlier years' P&L rolled into Retained Earnings (960)."""
    start = _fy_start(as_at)
    out: dict[str, Decimal] = {}
    for day, lines in POSTINGS:
        if day > as_at:
            continue
        for code, net in lines.items():
            pl = TB_SECTIONS[code] in ("Revenue", "Expenses")
            if pl and day < start:
                code = "960"
            out[code] = out.get(code, D(0)) + net
    return out


def _cell(value: str, code: str | None = None) -> dict[str, Any]:
    return {"value": value, **({"attributes": [{"value": f"a-{code}", "id": "account"}]} if code else {})}


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}" if amount else ""


def trial_balance_answer(as_at: date, unbalanced_at: date | None = None) -> list[TextContent]:
    """What list-trial-balance.tool.ts prints: four text contents, the last JSON.stringify(rows, null, 2)
    of xero-node's ReportRows (camelCase keys; values as Xero's API sends them, "" for none)."""
    ytd = xero_balances(as_at)
    month_start = as_at.replace(day=1)
    month = {c: n for c, n in (xero_balances(as_at).items())}
    before = xero_balances(month_start.fromordinal(month_start.toordinal() - 1))
    if unbalanced_at == as_at:
        ytd["090"] += D("0.01")
    sections = []
    total_dr = total_cr = D(0)
    for title in ("Revenue", "Expenses", "Assets", "Liabilities", "Equity"):
        rows = []
        for code in sorted(c for c, t in TB_SECTIONS.items() if t == title and c in ytd):
            net, move = ytd[code], month[code] - before.get(code, D(0))
            total_dr, total_cr = total_dr + max(net, D(0)), total_cr + max(-net, D(0))
            rows.append(
                {
                    "rowType": "Row",
                    "cells": [
                        _cell(f"{TB_NAMES[code]} ({code})", code),
                        _cell(_money(max(move, D(0))), code),
                        _cell(_money(max(-move, D(0))), code),
                        _cell(_money(max(net, D(0))), code),
                        _cell(_money(max(-net, D(0))), code),
                    ],
                }
            )
        sections.append({"rowType": "Section", "title": title, "rows": rows})
    if unbalanced_at == as_at:
        total_dr -= D("0.01")  # the Total row says it balances; the rows do not
    sections.append(
        {
            "rowType": "Section",
            "title": "",
            "rows": [
                {
                    "rowType": "SummaryRow",
                    "cells": [_cell("Total"), _cell(""), _cell(""), _cell(f"{total_dr:.2f}"), _cell(f"{total_cr:.2f}")],
                }
            ],
        }
    )
    header = {
        "rowType": "Header",
        "cells": [_cell(v) for v in ("Account", "Debit", "Credit", "YTD Debit", "YTD Credit")],
    }
    return [
        TextContent(type="text", text="Trial Balance Report: Trial Balance"),
        TextContent(type="text", text=f"Date: {as_at.day} {as_at:%B %Y}"),
        TextContent(type="text", text="Updated At: 2026-06-15T08:00:00.000Z"),
        TextContent(type="text", text=json.dumps([header, *sections], indent=2)),
    ]


TB_ALLOW = ["list-accounts", "list-invoices", "list-credit-notes", "list-payments", "list-trial-balance"]


def tb_config(**extra: Any) -> dict[str, Any]:
    return raw_config(
        TB_ALLOW, from_period="2026-02", fiscal_year_start_month=FY_START, as_of=AS_OF.isoformat(), **extra
    )


MONTH_ENDS = [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31), AS_OF]


def test_an_unbalanced_trial_balance_quarantines_the_months_it_feeds(tmp_path: Path) -> None:
    fake = FakeXero()
    fake.unbalanced_at = date(2026, 3, 31)
    con, _ = ingest(fake, tmp_path, tb_config())
    entries = {e for (e,) in con.execute("select distinct entry_id from erp_journal_lines").fetchall()}
    assert entries == {"TB-2026-01", "TB-2026-02", "TB-2026-06"}  # March and April depend on March's report
    reasons = [
        r
        for (r,) in con.execute(
            "select reason from quarantine where tool = 'list-trial-balance' order by reason"
        ).fetchall()
    ]
    assert len(reasons) == 2
    assert reasons[0].startswith(
        "erp_journal_lines from list-trial-balance: TB-2026-03: the trial balance at 2026-03-31 does not balance"
    )
    assert reasons[1].startswith(
        "erp_journal_lines from list-trial-balance: TB-2026-04: the trial balance at 2026-03-31 does not balance"
    )


def test_trial_balance_mode_is_the_default_and_needs_its_months() -> None:
    from connectors.adapters import adapter_for

    config = parse_config(tb_config())
    adapter = adapter_for(config.connectors["erp"])
    assert ("erp_journal_lines", "list-trial-balance") in [(s.table, s.tool) for s in adapter.streams()]
    raw = tb_config()  # the months follow company: when left out
    del raw["connectors"]["erp"]["options"]["from_period"]
    del raw["connectors"]["erp"]["options"]["fiscal_year_start_month"]
    options = parse_config(raw).connectors["erp"].options
    assert (options["from_period"], options["fiscal_year_start_month"]) == ("2026-01", FY_START)
    raw["connectors"]["erp"]["options"]["fiscal_year_start_month"] = FY_START % 12 + 1
    with pytest.raises(ConfigError, match="options.fiscal_year_start_month: .* differs from company"):
        parse_config(raw)
    raw["company"]["fiscal_year_start_month"] = 13
    raw["connectors"]["erp"]["options"]["fiscal_year_start_month"] = 13
    with pytest.raises(ConfigError, match="options.fiscal_year_start_month"):
        parse_config(raw)
    with pytest.raises(ConfigError, match="add it to allow_tools"):
        parse_config(raw_config(journals="trial_balance", from_period="2026-02"))


def test_xero_reads_no_erp_trial_balance_so_r7_is_not_available(tmp_path: Path) -> None:
    """The journal is Xero's trial balance (a tie-out would pass by construction) or manual journals only
    (which no whole-ledger report can tie out to): no mode reads erp_trial_balance."""
    from connectors.adapters import adapter_for

    manual = raw_config([*TB_ALLOW, "list-manual-journals"], journals="manual")
    for raw in (tb_config(), manual, raw_config()):
        adapter = adapter_for(parse_config(raw).connectors["erp"])
        assert "erp_trial_balance" not in [s.table for s in adapter.streams()]
    con, _ = ingest(FakeXero(), tmp_path, tb_config())
    assert con.execute("select count(*) from erp_journal_lines").fetchone()[0]
    assert con.execute("select count(*) from erp_trial_balance").fetchone()[0] == 0


def test_trial_balance_error_text_fails_the_source(tmp_path: Path) -> None:
    fake = FakeXero()
    fake.tb_error = "Forbidden"
    with pytest.raises(ConnectorError, match=r"tool 'list-trial-balance'.*Error listing trial balance: Forbidden"):
        ingest(fake, tmp_path, tb_config())
