"""A local stand-in for the part of the QuickBooks Online Accounting API (v3) that Intuit's MCP server
(intuit/quickbooks-online-mcp-server, through node-quickbooks 2.0.x and intuit-oauth 4.x) calls, answering
as Intuit's API reference documents it (developer.intuit.com, "Accounting API": Query operations,
Reports "TrialBalance" / "GeneralLedger", "OAuth 2.0" token endpoint, "Error codes"):

- ``POST /oauth2/v1/tokens/bearer`` (host oauth.platform.intuit.com), ``Authorization: Basic
  base64(client_id:client_secret)``, form ``grant_type=refresh_token&refresh_token=...`` -> 200
  ``{token_type: "bearer", access_token, expires_in: 3600, refresh_token, x_refresh_token_expires_in}``
  (the same refresh token back, so the server never rewrites its ``.env``); a wrong client -> 401
  ``{error: "invalid_client"}``, a wrong refresh token -> 400 ``{error: "invalid_grant"}``.
- ``GET /v3/company/{realm}/query?query=select * from Entity [where F op V [and ...]] [orderby F
  [asc|desc]] [startposition N] [maxresults M]&minorversion=..`` (host sandbox-quickbooks.api.intuit.com
  or quickbooks.api.intuit.com) -> 200 ``{QueryResponse: {Entity: [...], startPosition, maxResults},
  time}``; no match -> ``{QueryResponse: {}, time}`` (as QBO answers); ``startposition`` is 1-based;
  ``maxresults`` defaults to 100 and is capped at 1000 (QBO answers at most 1000 whatever is asked);
  ``select count(*)`` -> ``{QueryResponse: {totalCount}}``. A query it cannot parse -> 400
  ``{Fault: {Error: [{Message: "Error parsing query", Detail: "QueryParserError: ...", code: "4000"}],
  type: "ValidationFault"}, time}``.
- ``GET /v3/company/{realm}/reports/TrialBalance?start_date&end_date&accounting_method`` and
  ``/reports/GeneralLedger?...`` -> the report JSON: ``Header {Time, ReportName, ReportBasis,
  StartPeriod, EndPeriod, Currency, Option [{Name: NoReportData, Value}]}``, ``Columns {Column [{ColTitle,
  ColType, MetaData [{Name: ColKey, Value}]}]}``, ``Rows {Row [...]}`` with ``ColData [{value, id?}]``.
  TrialBalance: one Data row per account with a balance (``[{value: name, id}, {value: debit}, {value:
  credit}]``), balance-sheet accounts since inception, P&L accounts from the fiscal-year start (January)
  of ``end_date``, earlier years' profit in Retained Earnings; then the ``TOTAL`` Summary (group
  GrandTotal). GeneralLedger (QBO's default columns tx_date, txn_type, doc_num, name, memo, split_acc,
  subt_nat_amount, rbal_nat_amount): one Section per account (Header ``ColData[0] {value: name, id}``) with
  a "Beginning Balance" row (balance-sheet accounts), one Data row per posting dated in the window
  (``txn_type {value, id: the transaction Id}``, ``name {value, id}``, amounts signed by the account's
  natural side: debit-positive for assets and expenses, credit-positive for liabilities, equity and
  income) and a ``Total for ...`` Summary. An unknown report -> 400 ``{Fault: {Error: [{Message:
  "Invalid report name", code: "5020"}]}}``. Amounts in entities are JSON numbers (as QBO sends them,
  so they pass through the server's doubles); report cells are text.
- A missing or wrong bearer token -> 401 ``{fault: {error: [{message: "message=AuthenticationFailed;
  errorCode=003200; statusCode=401", code: "3200"}], type: "AUTHENTICATION"}}``; another realm -> 403
  ``{Fault: {Error: [{Message: "Forbidden", code: "3100"}], type: "AuthorizationFault"}}``.

The books (``Books``) are small and hand-checked: every document posts through ``postings()``, so the
reports, the documents and the expected figures in the tests come from the same few lines. Every request
is recorded in ``requests`` (method, path, query, original host).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.vendors import HTTPStandIn

D = Decimal
REALM = "9341452000000001"
CLIENT_ID = "ABcloseboardTestClientId0000000000000000000000000"
CLIENT_SECRET = "closeboardTestClientSecret0000000000000"
REFRESH_TOKEN = "AB11700000000closeboardRefreshToken"
ACCESS_TOKEN = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..closeboard-access-token"
USD = {"value": "USD", "name": "United States Dollar"}
TIME = "2024-03-15T09:00:00.000-07:00"


def _meta(day: str) -> dict[str, str]:
    return {"CreateTime": f"{day}T10:00:00-08:00", "LastUpdatedTime": f"{day}T10:00:00-08:00"}


def _account(id_: str, name: str, classification: str, account_type: str, subtype: str) -> dict[str, Any]:
    return {
        "Id": id_,
        "Name": name,
        "SubAccount": False,
        "FullyQualifiedName": name,
        "Active": True,
        "Classification": classification,
        "AccountType": account_type,
        "AccountSubType": subtype,
        "CurrentBalance": 0,
        "CurrentBalanceWithSubAccounts": 0,
        "CurrencyRef": USD,
        "domain": "QBO",
        "sparse": False,
        "SyncToken": "0",
        "MetaData": _meta("2023-11-01"),
    }


ACCOUNTS = [
    _account("35", "Checking", "Asset", "Bank", "Checking"),
    _account("84", "Accounts Receivable (A/R)", "Asset", "Accounts Receivable", "AccountsReceivable"),
    _account("33", "Accounts Payable (A/P)", "Liability", "Accounts Payable", "AccountsPayable"),
    _account("34", "Opening Balance Equity", "Equity", "Equity", "OpeningBalanceEquity"),
    _account("2", "Retained Earnings", "Equity", "Equity", "RetainedEarnings"),
    _account("79", "Services", "Revenue", "Income", "ServiceFeeIncome"),
    _account("80", "Cost of Goods Sold", "Expense", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    _account("77", "Rent or Lease", "Expense", "Expense", "RentOrLeaseOfBuildings"),
]
NAMES = {a["Id"]: a["Name"] for a in ACCOUNTS}
DEBIT_NATURAL = {a["Id"]: a["Classification"] in ("Asset", "Expense") for a in ACCOUNTS}
PL = {a["Id"]: a["Classification"] in ("Revenue", "Expense") for a in ACCOUNTS}
CUSTOMERS = {"1": "Acme Corp", "2": "Globex Ltd"}
VENDORS = {"51": "Paper Co", "52": "Landlord LLC"}


def invoice(id_: str, num: str, day: str, due: str, customer: str, amount: str, balance: str) -> dict[str, Any]:
    return {
        "Id": id_,
        "DocNumber": num,
        "TxnDate": day,
        "DueDate": due,
        "domain": "QBO",
        "sparse": False,
        "SyncToken": "0",
        "MetaData": _meta(day),
        "CustomField": [],
        "LinkedTxn": [],
        "Line": [
            {
                "Id": "1",
                "LineNum": 1,
                "Amount": D(amount),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": "1", "name": "Services"},
                    "Qty": 1,
                    "UnitPrice": D(amount),
                    "ItemAccountRef": {"value": "79", "name": "Services"},
                },
            },
            {"Amount": D(amount), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
        ],
        "CustomerRef": {"value": customer, "name": CUSTOMERS[customer]},
        "CurrencyRef": USD,
        "TotalAmt": D(amount),
        "Balance": D(balance),
        "HomeBalance": D(balance),
        "PrintStatus": "NeedToPrint",
        "EmailStatus": "NotSet",
    }


def bill(
    id_: str, num: str, day: str, due: str, vendor: str, account: str, amount: str, balance: str
) -> dict[str, Any]:
    return {
        "Id": id_,
        "DocNumber": num,
        "TxnDate": day,
        "DueDate": due,
        "domain": "QBO",
        "sparse": False,
        "SyncToken": "0",
        "MetaData": _meta(day),
        "Line": [
            {
                "Id": "1",
                "LineNum": 1,
                "Amount": D(amount),
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {
                    "AccountRef": {"value": account, "name": NAMES[account]},
                    "BillableStatus": "NotBillable",
                },
            }
        ],
        "VendorRef": {"value": vendor, "name": VENDORS[vendor]},
        "APAccountRef": {"value": "33", "name": NAMES["33"]},
        "CurrencyRef": USD,
        "TotalAmt": D(amount),
        "Balance": D(balance),
    }


def payment(id_: str, day: str, customer: str, total: str, applied: list[tuple[str, str]]) -> dict[str, Any]:
    total_amt = D(total)
    unapplied = total_amt - sum((D(a) for _, a in applied), D(0))
    return {
        "Id": id_,
        "TxnDate": day,
        "domain": "QBO",
        "sparse": False,
        "SyncToken": "0",
        "MetaData": _meta(day),
        "CustomerRef": {"value": customer, "name": CUSTOMERS[customer]},
        "CurrencyRef": USD,
        "DepositToAccountRef": {"value": "35"},
        "TotalAmt": total_amt,
        "UnappliedAmt": unapplied,
        "ProcessPayment": False,
        "Line": [
            {
                "Amount": D(a),
                "LinkedTxn": [{"TxnId": doc, "TxnType": "Invoice"}],
                "LineEx": {
                    "any": [
                        {
                            "name": "{http://schema.intuit.com/finance/v3}NameValue",
                            "declaredType": "com.intuit.schema.finance.v3.NameValue",
                            "scope": "javax.xml.bind.JAXBElement$GlobalScope",
                            "value": {"Name": "txnId", "Value": doc},
                            "nil": False,
                            "globalScope": True,
                            "typeSubstituted": False,
                        }
                    ]
                },
            }
            for doc, a in applied
        ],
    }


def bill_payment(id_: str, day: str, vendor: str, total: str, applied: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "Id": id_,
        "TxnDate": day,
        "domain": "QBO",
        "sparse": False,
        "SyncToken": "0",
        "MetaData": _meta(day),
        "VendorRef": {"value": vendor, "name": VENDORS[vendor]},
        "PayType": "Check",
        "CheckPayment": {"BankAccountRef": {"value": "35", "name": "Checking"}, "PrintStatus": "NotSet"},
        "CurrencyRef": USD,
        "TotalAmt": D(total),
        "Line": [{"Amount": D(a), "LinkedTxn": [{"TxnId": doc, "TxnType": "Bill"}]} for doc, a in applied],
    }


# Each account's balance since inception at each month-end, debits positive, worked by hand from the
# transactions listed in ``Books`` (R7's "theirs" on the journal's basis). QuickBooks' own TrialBalance
# differs from 2024-01-31 on: P&L runs from 1 January and 2023's 1,500.00 revenue sits in Retained
# Earnings (2), so its report at 2024-01-31 says 79 credit 2,000.00 and 2 credit 1,500.00.
MONTH_END_BALANCES: dict[str, dict[str, Decimal]] = {
    "2023-12-31": {"35": D("10000.00"), "34": D("-10000.00"), "84": D("1500.00"), "79": D("-1500.00")},
    "2024-01-31": {
        "35": D("11500.00"),
        "34": D("-10000.00"),
        "84": D("2000.00"),
        "79": D("-3500.00"),
        "80": D("800.00"),
        "33": D("-800.00"),
    },
    "2024-02-29": {
        "35": D("11700.00"),
        "34": D("-10000.00"),
        "84": D("4000.50"),
        "79": D("-6500.50"),
        "80": D("800.00"),
        "33": D("-1200.00"),
        "77": D("1200.00"),
    },
    "2024-03-15": {
        "35": D("14300.50"),
        "34": D("-10000.00"),
        "84": D("1250.25"),
        "79": D("-6950.75"),
        "80": D("800.00"),
        "33": D("-600.00"),
        "77": D("1200.00"),
    },
}


@dataclass
class Books:
    """A small company (USD, fiscal year from January) and everything QBO would answer about it.

    2023-12-01 JE 1     owner funds Checking 10,000.00 (Opening Balance Equity)
    2023-12-15 Inv 2    Acme 1,500.00 (last fiscal year's only revenue)
    2024-01-05 Pmt 3    Acme pays Inv 2 in full
    2024-01-10 Inv 4    Acme 2,000.00, due 2024-02-09
    2024-01-20 Bill 5   Paper Co 800.00 (COGS), due 2024-02-19
    2024-02-01 Bill 6   Landlord 1,200.00 (rent), due 2024-03-02
    2024-02-10 BillPmt 7  Paper Co pays Bill 5 in full
    2024-02-15 Inv 8    Globex 3,000.50, due 2024-03-16
    2024-02-20 Pmt 9    Acme pays 1,000.00 of Inv 4
    2024-03-05 BillPmt 10 Landlord 600.00: 500.00 on Bill 6, 100.00 unapplied
    2024-03-10 Pmt 11   Globex 3,200.50: 3,000.50 on Inv 8, 200.00 unapplied
    2024-03-12 Inv 12   Globex 450.25, due 2024-04-11

    ``missing_from_ledger``: transaction Ids the GeneralLedger report leaves out (a transaction type it
    does not list, a filter) while TrialBalance still counts them: what R7 exists to catch.
    """

    invoices: list[dict[str, Any]] = field(
        default_factory=lambda: [
            invoice("2", "1001", "2023-12-15", "2024-01-14", "1", "1500.00", "0"),
            invoice("4", "1002", "2024-01-10", "2024-02-09", "1", "2000.00", "1000.00"),
            invoice("8", "1003", "2024-02-15", "2024-03-16", "2", "3000.50", "0"),
            invoice("12", "1004", "2024-03-12", "2024-04-11", "2", "450.25", "450.25"),
        ]
    )
    bills: list[dict[str, Any]] = field(
        default_factory=lambda: [
            bill("5", "P-77", "2024-01-20", "2024-02-19", "51", "80", "800.00", "0"),
            bill("6", "R-2024-02", "2024-02-01", "2024-03-02", "52", "77", "1200.00", "700.00"),
        ]
    )
    payments: list[dict[str, Any]] = field(
        default_factory=lambda: [
            payment("3", "2024-01-05", "1", "1500.00", [("2", "1500.00")]),
            payment("9", "2024-02-20", "1", "1000.00", [("4", "1000.00")]),
            payment("11", "2024-03-10", "2", "3200.50", [("8", "3000.50")]),
        ]
    )
    bill_payments: list[dict[str, Any]] = field(
        default_factory=lambda: [
            bill_payment("7", "2024-02-10", "51", "800.00", [("5", "800.00")]),
            bill_payment("10", "2024-03-05", "52", "600.00", [("6", "500.00")]),
        ]
    )
    accounts: list[dict[str, Any]] = field(default_factory=lambda: [dict(a) for a in ACCOUNTS])
    missing_from_ledger: frozenset[str] = frozenset()

    def entities(self, name: str) -> list[dict[str, Any]] | None:
        return {
            "account": self.accounts,
            "invoice": self.invoices,
            "bill": self.bills,
            "payment": self.payments,
            "billpayment": self.bill_payments,
        }.get(name.lower())

    def postings(self) -> list[dict[str, Any]]:
        """Every transaction's GL lines (account, debit-positive amount), as QBO posts them."""
        out = [
            {
                "type": "Journal Entry",
                "id": "1",
                "date": "2023-12-01",
                "num": "JE-1",
                "name": None,
                "memo": "Owner's investment",
                "lines": [("35", D("10000.00")), ("34", D("-10000.00"))],
            }
        ]
        for i in self.invoices:
            out.append(
                {
                    "type": "Invoice",
                    "id": i["Id"],
                    "date": i["TxnDate"],
                    "num": i["DocNumber"],
                    "name": i["CustomerRef"],
                    "memo": "",
                    "lines": [("84", i["TotalAmt"]), ("79", -i["TotalAmt"])],
                }
            )
        for b in self.bills:
            expense = b["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"]["value"]
            out.append(
                {
                    "type": "Bill",
                    "id": b["Id"],
                    "date": b["TxnDate"],
                    "num": b["DocNumber"],
                    "name": b["VendorRef"],
                    "memo": "",
                    "lines": [(expense, b["TotalAmt"]), ("33", -b["TotalAmt"])],
                }
            )
        for p in self.payments:
            out.append(
                {
                    "type": "Payment",
                    "id": p["Id"],
                    "date": p["TxnDate"],
                    "num": "",
                    "name": p["CustomerRef"],
                    "memo": "",
                    "lines": [("35", p["TotalAmt"]), ("84", -p["TotalAmt"])],
                }
            )
        for p in self.bill_payments:
            out.append(
                {
                    "type": "Bill Payment (Check)",
                    "id": p["Id"],
                    "date": p["TxnDate"],
                    "num": "",
                    "name": p["VendorRef"],
                    "memo": "",
                    "lines": [("33", p["TotalAmt"]), ("35", -p["TotalAmt"])],
                }
            )
        return sorted(out, key=lambda t: (t["date"], int(t["id"])))

    # -- reports ------------------------------------------------------------------------------
    def trial_balance(self, start: str, end: str) -> dict[str, Any]:
        end_d = date.fromisoformat(end)
        fy = date(end_d.year, 1, 1).isoformat()
        net: dict[str, Decimal] = {}
        for t in self.postings():
            if t["date"] > end:
                continue
            for account, amount in t["lines"]:
                if PL[account] and t["date"] < fy:
                    account = "2"  # earlier years' profit sits in Retained Earnings
                net[account] = net.get(account, D(0)) + amount
        rows, debits, credits = [], D(0), D(0)
        for a in ACCOUNTS:
            n = net.get(a["Id"], D(0))
            if n == 0:
                continue
            debits, credits = debits + max(n, D(0)), credits + max(-n, D(0))
            rows.append(
                {
                    "ColData": [
                        {"value": a["Name"], "id": a["Id"]},
                        {"value": _amt(n) if n > 0 else ""},
                        {"value": _amt(-n) if n < 0 else ""},
                    ]
                }
            )
        rows.append(
            {
                "Summary": {"ColData": [{"value": "TOTAL"}, {"value": _amt(debits)}, {"value": _amt(credits)}]},
                "type": "Section",
                "group": "GrandTotal",
            }
        )
        columns = [
            _col("", "Account", "account"),
            _col("Debit", "Money", "debt_amt"),
            _col("Credit", "Money", "credit_amt"),
        ]
        return {
            "Header": _header("TrialBalance", start, end, not net),
            "Columns": {"Column": columns},
            "Rows": {"Row": rows},
        }

    def general_ledger(self, start: str, end: str) -> dict[str, Any]:
        postings = [t for t in self.postings() if t["id"] not in self.missing_from_ledger]
        sections = []
        grand = D(0)
        for a in ACCOUNTS:
            aid = a["Id"]
            sign = D(1) if DEBIT_NATURAL[aid] else D(-1)
            opening = sum((amt for t in postings if t["date"] < start for acc, amt in t["lines"] if acc == aid), D(0))
            if PL[aid]:
                opening = D(0)
            rows = []
            running = opening * sign
            if not PL[aid]:
                rows.append(
                    {
                        "ColData": [{"value": "Beginning Balance"}] + [{"value": ""}] * 6 + [{"value": _amt(running)}],
                        "type": "Data",
                    }
                )
            total = D(0)
            for t in postings:
                if not start <= t["date"] <= end:
                    continue
                for acc, amt in t["lines"]:
                    if acc != aid:
                        continue
                    nat = amt * sign
                    running += nat
                    total += nat
                    others = [o for o, _ in t["lines"] if o != aid]
                    split = {"value": NAMES[others[0]], "id": others[0]} if len(others) == 1 else {"value": "-Split-"}
                    name = {"value": t["name"]["name"], "id": t["name"]["value"]} if t["name"] else {"value": ""}
                    rows.append(
                        {
                            "ColData": [
                                {"value": t["date"]},
                                {"value": t["type"], "id": t["id"]},
                                {"value": t["num"]},
                                name,
                                {"value": t["memo"]},
                                split,
                                {"value": _amt(nat)},
                                {"value": _amt(running)},
                            ],
                            "type": "Data",
                        }
                    )
            if len(rows) == (0 if PL[aid] else 1) and running == 0:
                continue
            grand += total
            sections.append(
                {
                    "Header": {"ColData": [{"value": a["Name"], "id": aid}] + [{"value": ""}] * 7},
                    "Rows": {"Row": rows},
                    "Summary": {
                        "ColData": [{"value": f"Total for {a['Name']}"}]
                        + [{"value": ""}] * 5
                        + [{"value": _amt(total)}, {"value": ""}]
                    },
                    "type": "Section",
                }
            )
        sections.append(
            {
                "Summary": {
                    "ColData": [{"value": "TOTAL"}] + [{"value": ""}] * 5 + [{"value": _amt(grand)}, {"value": ""}]
                },
                "type": "Section",
            }
        )
        columns = [
            _col("Date", "Date", "tx_date"),
            _col("Transaction Type", "String", "txn_type"),
            _col("Num", "String", "doc_num"),
            _col("Name", "String", "name"),
            _col("Memo/Description", "String", "memo"),
            _col("Split", "String", "split_acc"),
            _col("Amount", "Money", "subt_nat_amount"),
            _col("Balance", "Money", "rbal_nat_amount"),
        ]
        return {
            "Header": _header("GeneralLedger", start, end, len(sections) == 1),
            "Columns": {"Column": columns},
            "Rows": {"Row": sections},
        }


def _amt(value: Decimal) -> str:
    return format(value.quantize(D("0.01")), "f")


def _col(title: str, kind: str, key: str) -> dict[str, Any]:
    return {"ColTitle": title, "ColType": kind, "MetaData": [{"Name": "ColKey", "Value": key}]}


def _header(name: str, start: str, end: str, empty: bool) -> dict[str, Any]:
    return {
        "Time": TIME,
        "ReportName": name,
        "ReportBasis": "Accrual",
        "StartPeriod": start,
        "EndPeriod": end,
        "SummarizeColumnsBy": "Total",
        "Currency": "USD",
        "Option": [
            {"Name": "AccountingStandard", "Value": "GAAP"},
            {"Name": "NoReportData", "Value": str(empty).lower()},
        ],
    }


_QUERY = re.compile(
    r"^\s*select\s+(\*|count\(\*\))\s+from\s+(\w+)(?:\s+where\s+(.+?))?(?:\s+orderby\s+([\w.]+)"
    r"(?:\s+(asc|desc))?)?(?:\s+startposition\s+(\d+))?(?:\s+maxresults\s+(\d+))?\s*$",
    re.I,
)
_COND = re.compile(r"^\s*([\w.]+)\s*(=|<=|>=|<|>|IN|LIKE)\s*('(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?)\s*$", re.I)


def _numbers(value: Any) -> Any:
    """Decimals as JSON numbers, as QBO sends entity amounts (``"TotalAmt": 3000.5``)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _field(entity: dict[str, Any], name: str) -> Any:
    value: Any = entity
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value.get("value") if isinstance(value, dict) else value


class QuickBooksStandIn(HTTPStandIn):
    """``with QuickBooksStandIn() as api: api.url`` -> http://127.0.0.1:PORT, for every Intuit host."""

    content_type = "application/json;charset=UTF-8"

    def __init__(self, books: Books | None = None) -> None:
        self.books = books or Books()
        self.requests: list[dict[str, Any]] = []
        self.tokens_issued = 0
        self._lock = threading.Lock()
        super().__init__("quickbooks-standin")

    def redirect(self) -> dict[str, str]:
        """CLOSEBOARD_REDIRECT for redirect.cjs: every host the server and its SDKs call."""
        return {
            h: self.url
            for h in (
                "oauth.platform.intuit.com",
                "sandbox-quickbooks.api.intuit.com",
                "quickbooks.api.intuit.com",
                "appcenter.intuit.com",
            )
        }

    def encode(self, value: Any) -> bytes:
        return json.dumps(_numbers(value)).encode()

    # -- the API ---------------------------------------------------------------------------
    @staticmethod
    def _fault(status: int, message: str, detail: str, code: str, kind: str = "ValidationFault") -> tuple[int, Any]:
        return status, {
            "Fault": {"Error": [{"Message": message, "Detail": detail, "code": code}], "type": kind},
            "time": TIME,
        }

    def token(self, headers: Any, body: bytes) -> tuple[int, Any]:
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if headers.get("Authorization") != f"Basic {basic}":
            return 401, {"error": "invalid_client"}
        form = parse_qs(body.decode())
        if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [REFRESH_TOKEN]:
            return 400, {"error": "invalid_grant"}
        self.tokens_issued += 1
        return 200, {
            "token_type": "bearer",
            "access_token": ACCESS_TOKEN,
            "expires_in": 3600,
            "refresh_token": REFRESH_TOKEN,
            "x_refresh_token_expires_in": 8726400,
        }

    def query(self, text: str) -> tuple[int, Any]:
        found = _QUERY.match(text)
        if not found:
            return self._fault(400, "Error parsing query", f'QueryParserError: Encountered " "{text[:40]}"', "4000")
        what, entity, where, order, direction, start, limit = found.groups()
        rows = self.books.entities(entity)
        if rows is None:
            return self._fault(400, "Error parsing query", f"QueryParserError: Invalid entity {entity}", "4000")
        for condition in re.split(r"\s+and\s+", where or "", flags=re.I) if where else []:
            c = _COND.match(condition)
            if not c:
                return self._fault(
                    400,
                    "Error parsing query",
                    f'QueryParserError: Encountered " <INTEGER> "{condition.strip()[:60]}"',
                    "4000",
                )
            name, op, raw = c.group(1), c.group(2).upper(), c.group(3)
            value: Any = raw[1:-1].replace("\\'", "'") if raw.startswith("'") else D(raw)
            ops = {
                "=": lambda a, b: a == b,
                "<": lambda a, b: a < b,
                ">": lambda a, b: a > b,
                "<=": lambda a, b: a <= b,
                ">=": lambda a, b: a >= b,
            }
            if op not in ops:
                return self._fault(400, "Error parsing query", f"QueryParserError: operator {op}", "4000")
            rows = [
                r
                for r in rows
                if _field(r, name) is not None
                and ops[op](type(value)(_field(r, name)) if isinstance(value, Decimal) else str(_field(r, name)), value)
            ]
        if what.lower().startswith("count"):
            return 200, {"QueryResponse": {"totalCount": len(rows)}, "time": TIME}
        if order:
            key = (lambda r: int(r["Id"])) if order == "Id" else (lambda r: str(_field(r, order)))
            rows = sorted(rows, key=key, reverse=(direction or "asc").lower() == "desc")
        first = int(start or 1)
        size = min(int(limit or 100), 1000)
        page = rows[first - 1 : first - 1 + size] if first >= 1 else []
        if not page:
            return 200, {"QueryResponse": {}, "time": TIME}
        canonical = {
            "account": "Account",
            "invoice": "Invoice",
            "bill": "Bill",
            "payment": "Payment",
            "billpayment": "BillPayment",
        }[entity.lower()]
        return 200, {"QueryResponse": {canonical: page, "startPosition": first, "maxResults": len(page)}, "time": TIME}

    def report(self, name: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        start = query.get("start_date", ["2024-01-01"])[0]
        end = query.get("end_date", ["2024-03-15"])[0]
        try:
            date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            return self._fault(400, "Invalid date", f"The date {start} / {end} is not valid", "2040")
        if query.get("accounting_method", ["Accrual"])[0] != "Accrual":
            return self._fault(400, "Unsupported", "this stand-in keeps accrual books only", "5010")
        if name == "TrialBalance":
            return 200, self.books.trial_balance(start, end)
        if name == "GeneralLedger":
            return 200, self.books.general_ledger(start, end)
        return self._fault(400, "Invalid report name", f"Report {name} is not supported", "5020")

    def answer(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        with self._lock:
            self.requests.append(
                {"method": method, "path": parts.path, "query": query, "host": headers.get("x-forwarded-host")}
            )
        if method == "POST" and parts.path == "/oauth2/v1/tokens/bearer":
            return self.token(headers, body)
        segments = parts.path.strip("/").split("/")
        if method != "GET" or segments[:2] != ["v3", "company"] or len(segments) < 4:
            return 404, {"Fault": {"Error": [{"Message": "Resource not found", "code": "610"}]}, "time": TIME}
        if headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return 401, {
                "fault": {
                    "error": [
                        {
                            "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                            "detail": None,
                            "code": "3200",
                        }
                    ],
                    "type": "AUTHENTICATION",
                },
                "time": TIME,
            }
        if segments[2] != REALM:
            return self._fault(
                403, "Forbidden", "The realm does not belong to this token", "3100", "AuthorizationFault"
            )
        if segments[3] == "query" and len(segments) == 4:
            return self.query(query.get("query", [""])[0])
        if segments[3] == "reports" and len(segments) == 5:
            return self.report(segments[4], query)
        return 404, {"Fault": {"Error": [{"Message": "Resource not found", "code": "610"}]}, "time": TIME}
