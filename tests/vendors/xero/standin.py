"""A local stand-in for the Xero cloud the official ``@xeroapi/xero-mcp-server`` talks to.

Follows Xero's published API (github.com/XeroAPI/Xero-OpenAPI ``xero_accounting.yaml``,
``xero-identity.yaml``) for what the server's read tools call:

- ``POST identity.xero.com/connect/token``: the client-credentials grant (custom connections),
  Basic client auth; ``{"error": "invalid_client"}`` / ``{"error": "invalid_scope"}`` with 400.
- ``GET api.xero.com/connections``: the tenants the token may reach.
- ``GET api.xero.com/api.xro/2.0/{Accounts, Invoices, CreditNotes, Payments, Organisation,
  Reports/TrialBalance}``: PascalCase JSON, dates as ``/Date(ms+0000)/`` (midnight UTC for a date),
  numbers as JSON numbers with two decimals, ``page`` / ``pageSize`` paging with ``order``
  (the page after the last answers an empty list), the response envelope ``{Id, Status,
  ProviderName, DateTimeUTC, pagination, <Things>}``; a bad bearer token answers 401 with Xero's
  problem body, a wrong ``xero-tenant-id`` 403.

The redirect preload (tests/vendors/redirect.cjs) sends the server's HTTPS here as plain HTTP with
``x-forwarded-host`` naming the host it meant; both hosts share this one port. Books: ``books.py``.

    with XeroStandIn() as xero:         # 127.0.0.1, a free port, a daemon thread
        xero.redirect                   # {host: url} for CLOSEBOARD_REDIRECT (tests.vendors.node_server)
        xero.requests                   # every request received: (method, host, path, query)
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.vendors import HTTPStandIn, Reply
from tests.vendors.xero import books

CLIENT_ID = "CLOSEBOARDTESTCLIENTID0000000000"
CLIENT_SECRET = "stand-in-secret-3f9a0c7e"  # noqa: S105 - a test value, asserted never to leak
HOSTS = ("identity.xero.com", "api.xero.com")
V1_SCOPES = {
    "accounting.transactions",
    "accounting.contacts",
    "accounting.settings",
    "accounting.reports.read",
    "payroll.settings",
    "payroll.employees",
    "payroll.timesheets",
}
V2_SCOPES = {
    "accounting.invoices",
    "accounting.payments",
    "accounting.banktransactions",
    "accounting.manualjournals",
    "accounting.reports.aged.read",
    "accounting.reports.balancesheet.read",
    "accounting.reports.profitandloss.read",
    "accounting.reports.trialbalance.read",
    "accounting.contacts",
    "accounting.settings",
    "payroll.settings",
    "payroll.employees",
    "payroll.timesheets",
}


def ms_date(day: date | datetime) -> str:
    """Xero's JSON date: ``/Date(ms+0000)/``; a date is its midnight UTC."""
    moment = day if isinstance(day, datetime) else datetime(day.year, day.month, day.day)
    ms = int(moment.replace(tzinfo=UTC).timestamp() * 1000)
    return f"/Date({ms}+0000)/"


def _dumps(obj: Any) -> bytes:
    """JSON with every Decimal as a number of two decimals (Xero sends ``"AmountDue":0.00``)."""

    def encode(o: Any) -> Any:
        if isinstance(o, dict):
            return {k: encode(v) for k, v in o.items()}
        if isinstance(o, list):
            return [encode(v) for v in o]
        if isinstance(o, Decimal):
            return _Raw(f"{o:.2f}")
        return o

    text = json.dumps(encode(obj), default=lambda r: r.token, separators=(",", ":"))
    return re.sub(r'"@@RAW:([-0-9.]+)@@"', r"\1", text).encode()


class _Raw:
    """A number written as is: json cannot write a Decimal without a float."""

    def __init__(self, digits: str) -> None:
        self.token = f"@@RAW:{digits}@@"


# --- the organisation as Xero's API shows it ----------------------------------------------------
def account_json(code: str, name: str, kind: str, system: str | None, tax: str, section: str) -> dict[str, Any]:
    cls = {
        "Assets": "ASSET",
        "Liabilities": "LIABILITY",
        "Equity": "EQUITY",
        "Revenue": "REVENUE",
        "Expenses": "EXPENSE",
    }[section]
    out: dict[str, Any] = {
        "AccountID": books.guid(f"account-{code}"),
        "Code": code,
        "Name": name,
        "Status": "ACTIVE",
        "Type": kind,
        "TaxType": tax,
        "Class": cls,
        "EnablePaymentsToAccount": False,
        "ShowInExpenseClaims": False,
        "ReportingCode": cls[:3],
        "ReportingCodeName": section,
        "HasAttachments": False,
        "UpdatedDateUTC": ms_date(datetime(2025, 11, 1, 8, 0)),
        "AddToWatchlist": False,
    }
    if system:
        out["SystemAccount"] = system
    if kind == "BANK":
        out.update({"BankAccountNumber": "0102030405060708", "BankAccountType": "BANK", "CurrencyCode": "NZD"})
    return out


def contact_json(key: str) -> dict[str, Any]:
    return {
        "ContactID": books.guid(f"contact-{key}"),
        "Name": books.CONTACTS[key],
        "Addresses": [],
        "Phones": [],
        "ContactGroups": [],
        "ContactPersons": [],
        "HasValidationErrors": False,
    }


def invoice_json(doc: books.Doc, *, summary: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Type": doc.type,
        "InvoiceID": doc.id,
        "InvoiceNumber": doc.number,
        "Reference": "",
        "Payments": [],
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": doc.due_amount,
        "AmountPaid": doc.paid,
        "AmountCredited": doc.credited,
        "CurrencyRate": Decimal(1),
        "IsDiscounted": False,
        "HasAttachments": False,
        "HasErrors": False,
        "Contact": contact_json(doc.contact),
        "DateString": f"{doc.day:%Y-%m-%d}T00:00:00",
        "Date": ms_date(doc.day),
        "Status": doc.status,
        "LineAmountTypes": "Exclusive" if doc.tax else "NoTax",
        "LineItems": [],
        "SubTotal": doc.subtotal,
        "TotalTax": doc.tax,
        "Total": doc.total,
        "UpdatedDateUTC": ms_date(doc.updated),
        "CurrencyCode": books.BASE_CURRENCY,
    }
    if doc.due:
        out.update({"DueDateString": f"{doc.due:%Y-%m-%d}T00:00:00", "DueDate": ms_date(doc.due)})
    if doc.fully_paid_on:
        out["FullyPaidOnDate"] = ms_date(doc.fully_paid_on)
    if summary:  # as a payment's Invoice: no amounts
        for key in (
            "AmountDue",
            "AmountPaid",
            "AmountCredited",
            "SubTotal",
            "TotalTax",
            "Total",
            "CurrencyRate",
            "DateString",
            "Date",
            "DueDateString",
            "DueDate",
            "Status",
            "LineAmountTypes",
            "UpdatedDateUTC",
            "FullyPaidOnDate",
            "Reference",
            "HasAttachments",
        ):
            out.pop(key, None)
    return out


def credit_note_json(doc: books.Doc) -> dict[str, Any]:
    allocated = [a for a in books.ALLOCATIONS if a[0] == doc.number]
    remaining = doc.total - sum((a[2] for a in allocated), Decimal(0)) if doc.status in ("AUTHORISED", "PAID") else 0
    out = {
        "CreditNoteID": doc.id,
        "CreditNoteNumber": doc.number,
        "Type": doc.type,
        "Reference": "",
        "Contact": contact_json(doc.contact),
        "DateString": f"{doc.day:%Y-%m-%d}T00:00:00",
        "Date": ms_date(doc.day),
        "Status": doc.status,
        "LineAmountTypes": "Exclusive" if doc.tax else "NoTax",
        "LineItems": [],
        "SubTotal": doc.subtotal,
        "TotalTax": doc.tax,
        "Total": doc.total,
        "CISDeduction": Decimal(0),
        "UpdatedDateUTC": ms_date(doc.updated),
        "CurrencyCode": books.BASE_CURRENCY,
        "CurrencyRate": Decimal(1),
        "RemainingCredit": remaining,
        "Payments": [],
        "HasAttachments": False,
        "HasErrors": False,
        "Allocations": [
            {"Amount": a, "Date": ms_date(d), "Invoice": invoice_json(books.DOCS[i], summary=True)}
            for _, i, a, d in allocated
        ],
    }
    if doc.status == "PAID":
        out["FullyPaidOnDate"] = ms_date(max(a[3] for a in allocated))
    return out


def payment_json(p: books.Pay) -> dict[str, Any]:
    doc = books.DOCS[p.document]
    kind = {"ACCREC": "ACCRECPAYMENT", "ACCPAY": "ACCPAYPAYMENT"}[doc.type]
    stamp = datetime.combine(p.day, datetime.min.time()).replace(hour=15)
    if p.status == "DELETED":
        stamp = stamp.replace(hour=17)
    return {
        "PaymentID": p.id,
        "Date": ms_date(p.day),
        "BankAmount": p.amount,
        "Amount": p.amount,
        "Reference": "",
        "CurrencyRate": Decimal(1),
        "PaymentType": kind,
        "Status": p.status,
        "UpdatedDateUTC": ms_date(stamp),
        "HasAccount": True,
        "IsReconciled": False,
        "Account": {"AccountID": books.guid("account-090"), "Code": "090"},
        "Invoice": invoice_json(doc, summary=True),
        "HasValidationErrors": False,
    }


def organisation_json() -> dict[str, Any]:
    return {
        "OrganisationID": books.TENANT_ID,
        "Name": books.ORG_NAME,
        "LegalName": books.ORG_NAME,
        "ShortCode": "!cbT3s",
        "BaseCurrency": books.BASE_CURRENCY,
        "CountryCode": "NZ",
        "FinancialYearEndDay": 31,
        "FinancialYearEndMonth": books.FY_END_MONTH,
        "OrganisationType": "COMPANY",
        "Version": "NZ",
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "CreatedDateUTC": ms_date(datetime(2025, 11, 1, 8, 0)),
        "Timezone": "NEWZEALANDSTANDARDTIME",
    }


def _cell(value: str, code: str | None) -> dict[str, Any]:
    cell: dict[str, Any] = {"Value": value}
    if code:
        cell["Attributes"] = [{"Value": books.guid(f"account-{code}"), "Id": "account"}]
    return cell


def _side(amount: Decimal, debit: bool) -> str:
    """A report cell: the amount on its side with two decimals, "" on the other."""
    value = amount if debit else -amount
    return f"{value:.2f}" if value > 0 else ""


def trial_balance_json(as_at: date, payments_only: bool = False) -> dict[str, Any]:
    """Xero's Trial Balance report at ``as_at`` (accrual basis): Debit / Credit the month's movement,
    YTD Debit / YTD Credit the balance (P&L accounts from the financial-year start); an account with
    neither is left out, as Xero does; the Total row sums each column."""
    ytd = books.balances(as_at)
    month = books.balances(as_at, since=as_at.replace(day=1))
    rows: list[dict[str, Any]] = [
        {
            "RowType": "Header",
            "Cells": [{"Value": v} for v in ("Account", "Debit", "Credit", "YTD Debit", "YTD Credit")],
        }
    ]
    totals = [Decimal(0)] * 4
    for title in ("Revenue", "Expenses", "Assets", "Liabilities", "Equity"):
        section: list[dict[str, Any]] = []
        for code, name, *_ in sorted(books.ACCOUNTS, key=lambda a: a[1]):
            if books.SECTION[code] != title:
                continue
            move, net = month.get(code, Decimal(0)), ytd.get(code, Decimal(0))
            if move == 0 and net == 0:
                continue
            values = [max(move, Decimal(0)), max(-move, Decimal(0)), max(net, Decimal(0)), max(-net, Decimal(0))]
            totals = [t + v for t, v in zip(totals, values, strict=True)]
            section.append(
                {
                    "RowType": "Row",
                    "Cells": [
                        _cell(f"{name} ({code})", code),
                        _cell(_side(move, True), code),
                        _cell(_side(move, False), code),
                        _cell(_side(net, True), code),
                        _cell(_side(net, False), code),
                    ],
                }
            )
        rows.append({"RowType": "Section", "Title": title, "Rows": section})
    rows.append(
        {
            "RowType": "Section",
            "Title": "",
            "Rows": [
                {"RowType": "SummaryRow", "Cells": [{"Value": "Total"}, *({"Value": f"{t:.2f}"} for t in totals)]}
            ],
        }
    )
    return {
        "ReportID": "TrialBalance",
        "ReportName": "Trial Balance",
        "ReportType": "TrialBalance",
        "ReportTitles": ["Trial Balance", books.ORG_NAME, f"As at {as_at.day} {as_at:%B %Y}"],
        "ReportDate": f"{as_at.day} {as_at:%B %Y}",
        "UpdatedDateUTC": ms_date(datetime(2026, 2, 20, 8, 0)),
        "Fields": [],
        "Rows": rows,
    }


def _order(records: list[dict[str, Any]], order: str | None) -> list[dict[str, Any]]:
    """Xero's ``order`` parameter: ``Field [ASC|DESC]``, ties in a stable order."""
    if not order:
        return records
    name, _, direction = order.strip().partition(" ")
    return sorted(records, key=lambda r: _sortable(r.get(name)), reverse=direction.strip().upper() == "DESC")


def _sortable(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("/Date("):
        return int(value[6:].split("+")[0].split(")")[0])
    return value


@dataclass
class Fault:
    """An answer given instead of the real one, for requests whose path ends with ``path``."""

    path: str
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None  # None: every time


class XeroStandIn(HTTPStandIn):
    """The stand-in, serving ``books`` on 127.0.0.1 (one port for both hosts)."""

    def __init__(self, *, app_scopes: set[str] | None = None) -> None:
        self.app_scopes = V1_SCOPES | V2_SCOPES if app_scopes is None else app_scopes
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str, str, dict[str, list[str]]]] = []
        self.faults: list[Fault] = []
        # called after a list answer is built: (path, query) -> None; lets a test change the books
        # between two pages, as another Xero user would
        self.after: Callable[[str, dict[str, list[str]]], None] | None = None
        self.updated_override: dict[str, datetime] = {}  # record ID -> a later UpdatedDateUTC
        self._lock = threading.Lock()
        super().__init__("xero-standin")

    @property
    def redirect(self) -> dict[str, str]:
        """CLOSEBOARD_REDIRECT for redirect.cjs: both hosts to this one port."""
        return {host: self.url for host in HOSTS}

    def api_calls(self, path: str) -> list[dict[str, list[str]]]:
        """The query of every API request for ``path`` (e.g. ``Invoices``), in order."""
        return [q for _, host, p, q in self.requests if host == "api.xero.com" and p == f"/api.xro/2.0/{path}"]

    # -- answers -------------------------------------------------------------------------------
    def respond(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        split = urlsplit(target)
        host = (headers.get("x-forwarded-host") or headers.get("Host") or "").split(":")[0]
        return self.route(method, host, split.path, parse_qs(split.query), headers, body)

    def _records(self, path: str) -> tuple[str, list[dict[str, Any]]] | None:
        if path == "Invoices":
            return "Invoices", [invoice_json(d) for d in books.INVOICES]
        if path == "CreditNotes":
            return "CreditNotes", [credit_note_json(d) for d in books.CREDIT_NOTES]
        if path == "Payments":
            return "Payments", [payment_json(p) for p in books.PAYMENTS]
        if path == "Accounts":
            return "Accounts", [account_json(*a) for a in books.ACCOUNTS]
        if path == "Organisation":
            return "Organisations", [organisation_json()]
        return None

    def route(
        self, method: str, host: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:  # a token request is logged with its form (grant_type, scope) as the query
            self.requests.append((method, host, path, parse_qs(body.decode()) if path == "/connect/token" else query))
            for fault in self.faults:
                if path.endswith(fault.path) and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    payload = fault.body if isinstance(fault.body, bytes) else _dumps(fault.body)
                    return fault.status, {"Content-Type": "application/json", **fault.headers}, payload
        if host == "identity.xero.com" and method == "POST" and path == "/connect/token":
            return self._token(headers, body)
        if host != "api.xero.com":
            return 404, {"Content-Type": "text/plain"}, b"Not Found"
        status = self._authorise(headers, tenant=path.startswith("/api.xro/"))
        if status is not None:
            return status
        if path == "/connections":
            return (
                200,
                _JSON,
                _dumps(
                    [
                        {
                            "id": books.guid("connection"),
                            "authEventId": books.guid("auth-event"),
                            "tenantId": books.TENANT_ID,
                            "tenantType": "ORGANISATION",
                            "tenantName": books.ORG_NAME,
                            "createdDateUtc": "2025-11-01T08:00:00.0000000",
                            "updatedDateUtc": "2025-11-01T08:00:00.0000000",
                        }
                    ]
                ),
            )
        if not path.startswith("/api.xro/2.0/") or method != "GET":
            return _not_found()
        name = path[len("/api.xro/2.0/") :]
        if name == "Reports/TrialBalance":
            raw = (query.get("date") or [""])[0]
            try:
                as_at = date.fromisoformat(raw) if raw else books.AS_OF
            except ValueError:
                return 400, _JSON, _dumps(_validation(f"'{raw}' is not a valid date"))
            report = trial_balance_json(as_at, (query.get("paymentsOnly") or ["false"])[0] == "true")
            return 200, _JSON, _dumps({**_envelope(), "Reports": [report]})
        found = self._records(name)
        if found is None:
            return _not_found()
        key, records = found
        for record in records:
            for id_key in ("InvoiceID", "CreditNoteID", "PaymentID"):
                if record.get(id_key) in self.updated_override:
                    record["UpdatedDateUTC"] = ms_date(self.updated_override[record[id_key]])
        records = _order(records, (query.get("order") or [None])[0])
        envelope = _envelope()
        page = (query.get("page") or [None])[0]
        if page is not None and key != "Accounts":
            number = int(page)
            size = min(int((query.get("pageSize") or ["100"])[0]), 1000)
            count = len(records)
            records = records[(number - 1) * size : number * size]
            envelope["pagination"] = {
                "page": number,
                "pageSize": size,
                "pageCount": -(-count // size),
                "itemCount": count,
            }
        answer = _dumps({**envelope, key: records})
        if self.after is not None:
            self.after(name, query)
        return 200, _JSON, answer

    def _token(self, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = parse_qs(body.decode())
        if headers.get("Authorization") != f"Basic {expected}":
            return 400, _JSON, _dumps({"error": "invalid_client"})
        if form.get("grant_type") != ["client_credentials"]:
            return 400, _JSON, _dumps({"error": "unsupported_grant_type"})
        scopes = set(" ".join(form.get("scope", [""])).split())
        if not scopes or not scopes <= self.app_scopes:
            return 400, _JSON, _dumps({"error": "invalid_scope"})
        token = uuid.uuid4().hex
        with self._lock:
            self.tokens.add(token)
        return (
            200,
            _JSON,
            _dumps(
                {"access_token": token, "expires_in": 1800, "token_type": "Bearer", "scope": " ".join(sorted(scopes))}
            ),
        )

    def _authorise(self, headers: Any, *, tenant: bool) -> tuple[int, dict[str, str], bytes] | None:
        auth = headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or auth[len("Bearer ") :] not in self.tokens:
            return (
                401,
                {**_JSON, "WWW-Authenticate": 'Bearer error="invalid_token"'},
                _dumps(
                    {
                        "Type": None,
                        "Title": "Unauthorized",
                        "Status": 401,
                        "Detail": "AuthenticationUnsuccessful",
                        "Instance": str(uuid.uuid4()),
                        "Extensions": {},
                    }
                ),
            )
        if tenant and headers.get("xero-tenant-id") != books.TENANT_ID:
            return (
                403,
                _JSON,
                _dumps(
                    {
                        "Type": None,
                        "Title": "Forbidden",
                        "Status": 403,
                        "Detail": "AuthorizationUnsuccessful",
                        "Instance": str(uuid.uuid4()),
                        "Extensions": {},
                    }
                ),
            )
        return None


_JSON = {"Content-Type": "application/json; charset=utf-8"}


def _envelope() -> dict[str, Any]:
    return {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": "closeboard tests",
        "DateTimeUTC": ms_date(datetime(2026, 2, 20, 8, 0)),
    }


def _validation(message: str) -> dict[str, Any]:
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [{"ValidationErrors": [{"Message": message}]}],
    }


def _not_found() -> tuple[int, dict[str, str], bytes]:
    return 404, {"Content-Type": "text/html"}, b"The resource you're looking for cannot be found"
