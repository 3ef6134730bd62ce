"""The stand-in organisation's books: small and hand-checked.

"Closeboard Test Co" keeps NZD books, its financial year starts in January (Xero: FinancialYearEndMonth
12). 12 sales invoices (15% GST, exclusive) and 4 bills make 16 ``Invoices`` (two pages of 10); 11
payments (two pages); a sales credit note fully allocated to INV-0009 and a supplier credit note not yet
allocated. Postings follow from the documents as Xero books them (invoice: Dr AR total, Cr Sales
subtotal, Cr GST tax; bill: Dr expense, Cr AP; payment: bank against AR/AP; credit notes the reverse);
drafts, voided documents and deleted payments post nothing. The trial balance the stand-in serves is
computed from those postings, so it agrees with the documents by construction.

Hand-checked figures (tests/connectors/test_adapters_xero_server.py asserts them literally):

    balance at            090 bank   610 AR    820 GST   800 AP    200 sales (FY to date)
    2025-11-30             9950.00   2300.00   -450.00      0.00   -3000.00
    2025-12-31            12250.00   2875.00   -825.00  -1200.00   -5500.00
    2026-01-31            12730.00   4013.08  -1192.58  -3000.00   -2450.50
    2026-02-20 (as of)    12730.00   3990.57  -1320.08  -2440.25   -3300.49

Open sales invoices at 2026-02-20: INV-0004 1000, INV-0005 920, INV-0008 805.58, INV-0010 1150,
INV-0012 114.99 = 3990.57 (the AR balance). Open bills: B-103 2000, B-104 640.25 = 2640.25, less the
unallocated supplier credit SCN-1 200 = 2440.25 (the AP balance).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

D = Decimal
_NS = uuid.UUID("6f1c1a52-8a3e-4c55-9d7e-3b1f0c2a7e10")


def guid(name: str) -> str:
    """A stable Xero-style GUID for a record's human name (``ID["INV-0001"]``)."""
    return str(uuid.uuid5(_NS, name))


TENANT_ID = guid("tenant")
ORG_NAME = "Closeboard Test Co"
BASE_CURRENCY = "NZD"
FY_END_MONTH = 12  # the financial year starts in January
AS_OF = date(2026, 2, 20)

# code, name, Xero Type, SystemAccount, TaxType, trial-balance section
ACCOUNTS = [
    ("090", "Business Bank Account", "BANK", None, "NONE", "Assets"),
    ("610", "Accounts Receivable", "CURRENT", "DEBTORS", "NONE", "Assets"),
    ("800", "Accounts Payable", "CURRLIAB", "CREDITORS", "NONE", "Liabilities"),
    ("820", "GST", "CURRLIAB", "GST", "NONE", "Liabilities"),
    ("960", "Retained Earnings", "EQUITY", "RETAINEDEARNINGS", "NONE", "Equity"),
    ("970", "Owner A Funds Introduced", "EQUITY", None, "NONE", "Equity"),
    ("200", "Sales", "REVENUE", None, "OUTPUT2", "Revenue"),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", None, "INPUT2", "Expenses"),
    ("469", "Rent", "OVERHEADS", None, "INPUT2", "Expenses"),
]
SECTION = {code: section for code, _, _, _, _, section in ACCOUNTS}
NAME = {code: name for code, name, *_ in ACCOUNTS}
PL = {c for c, s in SECTION.items() if s in ("Revenue", "Expenses")}

CONTACTS = {
    "C1": "Acme Ltd",
    "C2": "Beta Corp",
    "C3": "Gamma & Sons (NZ)",  # parentheses in a name: the server prints "Name (ContactID)"
    "V1": "Landlord Ltd",
    "V2": "Parts Supply Co",
}


@dataclass
class Doc:
    number: str
    type: str  # ACCREC | ACCPAY | ACCRECCREDIT | ACCPAYCREDIT
    contact: str
    day: date
    due: date | None
    subtotal: Decimal
    tax: Decimal
    status: str
    account: str  # the line's account code
    credited: Decimal = D(0)  # credit notes allocated to it (invoices)
    paid: Decimal = D(0)  # filled from PAYMENTS
    updated: datetime = field(default_factory=lambda: datetime(2026, 1, 1))
    fully_paid_on: date | None = None

    @property
    def id(self) -> str:
        return guid(self.number)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax

    @property
    def due_amount(self) -> Decimal:
        if self.status in ("VOIDED", "DELETED"):
            return D(0)
        return self.total - self.paid - self.credited


def _d(text: str) -> date:
    return date.fromisoformat(text)


def _inv(number: str, contact: str, day: str, due: str, sub: str, tax: str, status: str, **kw: object) -> Doc:
    return Doc(number, "ACCREC", contact, _d(day), _d(due), D(sub), D(tax), status, "200", **kw)  # type: ignore[arg-type]


def _bill(number: str, contact: str, day: str, due: str, sub: str, status: str, account: str) -> Doc:
    return Doc(number, "ACCPAY", contact, _d(day), _d(due), D(sub), D(0), status, account)


INVOICES = [
    _inv("INV-0001", "C1", "2025-11-10", "2025-12-10", "1000.00", "150.00", "PAID"),
    _inv("INV-0002", "C2", "2025-11-20", "2025-12-20", "2000.00", "300.00", "PAID"),
    _inv("INV-0003", "C3", "2025-12-01", "2025-12-31", "500.00", "75.00", "PAID"),
    _inv("INV-0004", "C1", "2025-12-15", "2026-01-14", "1200.00", "180.00", "AUTHORISED"),
    _inv("INV-0005", "C2", "2025-12-31", "2026-01-30", "800.00", "120.00", "AUTHORISED"),
    _inv("INV-0006", "C3", "2026-01-01", "2026-01-31", "300.00", "45.00", "VOIDED"),
    _inv("INV-0007", "C1", "2026-01-05", "2026-02-04", "1500.00", "225.00", "PAID"),
    _inv("INV-0008", "C2", "2026-01-20", "2026-02-19", "700.50", "105.08", "AUTHORISED"),
    _inv("INV-0009", "C3", "2026-01-31", "2026-03-02", "250.00", "37.50", "PAID", credited=D("287.50")),
    _inv("INV-0010", "C1", "2026-02-01", "2026-03-03", "1000.00", "150.00", "AUTHORISED"),
    _inv("INV-0011", "C2", "2026-02-10", "2026-03-12", "400.00", "60.00", "DRAFT"),
    _inv("INV-0012", "C1", "2026-02-18", "2026-03-20", "99.99", "15.00", "AUTHORISED"),
    _bill("B-101", "V1", "2025-11-05", "2025-12-05", "1200.00", "PAID", "469"),
    _bill("B-102", "V1", "2025-12-05", "2026-01-05", "1200.00", "PAID", "469"),
    _bill("B-103", "V2", "2026-01-12", "2026-02-11", "3000.00", "AUTHORISED", "310"),
    _bill("B-104", "V2", "2026-02-05", "2026-03-07", "640.25", "AUTHORISED", "310"),
]
CREDIT_NOTES = [
    # allocated in full to INV-0009 on its date: PAID, no credit left
    Doc("CN-0001", "ACCRECCREDIT", "C3", _d("2026-02-05"), None, D("250.00"), D("37.50"), "PAID", "200"),
    # a supplier credit not yet allocated: AUTHORISED, all 200 remaining
    Doc("SCN-1", "ACCPAYCREDIT", "V2", _d("2026-02-15"), None, D("200.00"), D(0), "AUTHORISED", "310"),
]
ALLOCATIONS = [("CN-0001", "INV-0009", D("287.50"), _d("2026-02-05"))]


@dataclass
class Pay:
    name: str
    document: str
    day: date
    amount: Decimal
    status: str = "AUTHORISED"

    @property
    def id(self) -> str:
        return guid(self.name)


PAYMENTS = [
    Pay("P-01", "INV-0001", _d("2025-11-28"), D("1150.00")),
    Pay("P-02", "INV-0002", _d("2025-12-10"), D("1300.00")),
    Pay("P-03", "INV-0002", _d("2025-12-19"), D("1000.00")),
    Pay("P-04", "INV-0003", _d("2026-01-01"), D("575.00")),
    Pay("P-05", "INV-0004", _d("2026-01-15"), D("380.00")),
    Pay("P-06", "INV-0005", _d("2026-01-20"), D("500.00"), status="DELETED"),  # entered, then deleted
    Pay("P-07", "INV-0007", _d("2026-01-25"), D("725.00")),
    Pay("P-08", "INV-0007", _d("2026-02-01"), D("1000.00")),
    Pay("P-09", "B-101", _d("2025-11-05"), D("1200.00")),
    Pay("P-10", "B-102", _d("2026-01-05"), D("1200.00")),
    Pay("P-11", "B-103", _d("2026-02-11"), D("1000.00")),
]
# the opening manual journal: the owner's money into the bank
OPENING = (_d("2025-11-03"), {"090": D("10000.00"), "970": D("-10000.00")})


def _settle() -> None:
    by_number = {d.number: d for d in INVOICES + CREDIT_NOTES}
    for doc in INVOICES + CREDIT_NOTES:  # last edited a little after its own date, in document order
        doc.updated = datetime.combine(doc.day, datetime.min.time()).replace(hour=9)
    for p in PAYMENTS:
        doc = by_number[p.document]
        stamp = datetime.combine(p.day, datetime.min.time()).replace(hour=15)
        if p.status == "AUTHORISED":
            doc.paid += p.amount
        doc.updated = max(doc.updated, stamp)
    for note, invoice, _amount, day in ALLOCATIONS:
        stamp = datetime.combine(day, datetime.min.time()).replace(hour=16)
        by_number[invoice].updated = max(by_number[invoice].updated, stamp)
        by_number[note].updated = max(by_number[note].updated, stamp)
    for doc in INVOICES:
        if doc.status == "PAID":
            assert doc.due_amount == 0, doc.number
            last = [p.day for p in PAYMENTS if p.document == doc.number and p.status == "AUTHORISED"]
            last += [day for _, inv, _, day in ALLOCATIONS if inv == doc.number]
            doc.fully_paid_on = max(last)


_settle()
DOCS = {d.number: d for d in INVOICES + CREDIT_NOTES}


def postings() -> list[tuple[date, dict[str, Decimal]]]:
    """Every posting, as Xero books it from the documents: (date, {account code: net, debit positive})."""
    out: list[tuple[date, dict[str, Decimal]]] = [OPENING]
    for doc in INVOICES + CREDIT_NOTES:
        if doc.status not in ("AUTHORISED", "PAID"):
            continue
        sign = D(1) if doc.type in ("ACCREC", "ACCPAYCREDIT") else D(-1)  # +: the contact owes us
        control = "610" if doc.type.startswith("ACCREC") else "800"
        lines = {control: sign * doc.total, doc.account: -sign * doc.subtotal}
        if doc.tax:
            lines["820"] = lines.get("820", D(0)) - sign * doc.tax
        out.append((doc.day, lines))
    for p in PAYMENTS:
        if p.status != "AUTHORISED":
            continue
        doc = DOCS[p.document]
        if doc.type == "ACCREC":
            out.append((p.day, {"090": p.amount, "610": -p.amount}))
        else:
            out.append((p.day, {"090": -p.amount, "800": p.amount}))
    for day, lines in out:
        assert sum(lines.values()) == 0, (day, lines)
    return out


def fy_start(day: date) -> date:
    start_month = FY_END_MONTH % 12 + 1
    return date(day.year if day.month >= start_month else day.year - 1, start_month, 1)


def balances(as_at: date, since: date | None = None) -> dict[str, Decimal]:
    """Xero's trial-balance view at ``as_at``: balance-sheet accounts since inception, P&L accounts
    from the financial-year start, earlier years' P&L in Retained Earnings (960). With ``since``,
    only the postings dated from it (the month's movement column)."""
    start = fy_start(as_at)
    out: dict[str, Decimal] = {}
    for day, lines in postings():
        if day > as_at or (since is not None and day < since):
            continue
        for code, net in lines.items():
            if code in PL and day < start:
                code = "960"
            out[code] = out.get(code, D(0)) + net
    return out
