"""Hand-checked books of a small Odoo 17 company (USD), as the stand-in serves them.

January 2026
- MISC/2026/01/0001  01-01 opening capital: Bank 10,000.00 / Capital 10,000.00
- INV/2026/00001     01-10 Azure Interior 1,000.00 + 15% tax = 1,150.00, paid by PBNK1/2026/00001 (01-25)
- INV/2026/00002     01-20 Deco Addict 2,000.00 + 300.00 = 2,300.00, 800.00 paid by PBNK1/2026/00002 (01-31)
- RINV/2026/00001    01-25 Deco Addict credit note 200.00 + 30.00 = 230.00, open
- INV/2026/00003     01-22 Azure Interior 345.00, cancelled (a document, void; no journal items)
- draft invoice      01-30 Azure Interior 999.00 (not a document, not in the ledger)
- BILL/2026/01/0001  01-15 Wood Corner 500.25 office expenses, paid by PBNK1/2026/00003 (01-29)
- BILL/2026/01/0002  01-28 Wood Corner 1,200.10 cost of goods, open
- a draft payment    01-30 Deco Addict 50.00 (not in the ledger, not a payment)
February 2026
- INV/2026/00004     02-05 Azure Interior EUR 1,000.00 at 1.085 = USD 1,085.00, open
- INV/2026/00005     02-10 Deco Addict 200.00 + 30.00 = 230.00
- PBNK1/2026/00004   02-15 Deco Addict 75.00 received, reconciled with nothing (unapplied cash)
- PBNK1/2026/00005   02-16 Deco Addict 530.00 received for INV/2026/00005 (230.00) and 300.00 of
  INV/2026/00002: two documents, quarantined by the adapter (its journal items still load)
Today INV/2026/00002 has 1,200.00 left (2,300 - 800 - 300), INV/2026/00005 is paid.

Figures (company currency): January revenue 2,800.00 (1,000 + 2,000 - 200), COGS 1,200.10, other
expenses 500.25, net income 1,099.65; at 01-31 AR 1,270.00 (1,500.00 then open on INV/2026/00002 -
230.00 credit note), AP 1,200.10, cash 11,449.75. February revenue 1,285.00 (1,085 + 200); at 02-28
AR 1,980.00 (1,270 + 1,085 + 230 - 75 - 530), AP 1,200.10, cash 12,054.75.

The ledger's own trial balance (cumulative Σdebit / Σcredit of posted items, per account):
- at 01-31: Bank 11,950.00 / 500.25; Capital 0 / 10,000.00; AR 3,450.00 / 2,180.00; AP 500.25 /
  1,700.35; Tax 30.00 / 450.00; Sales 200.00 / 3,000.00; COGS 1,200.10 / 0; Expenses 500.25 / 0
  (17,830.60 each side, 21 items)
- at 02-20 (and 02-28): Bank 12,555.00 / 500.25; AR 4,765.00 / 2,785.00; Tax 30.00 / 480.00; Sales
  200.00 / 4,285.00; the others as at 01-31 (19,750.60 each side, 30 items). Bank EUR has no items.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.vendors.odoo.standin import Database, Field, Model, User

DB, LOGIN, PASSWORD, API_KEY = "odoo17", "admin", "admin-password", "6f1f0c1e2d3b4a5968778695a4b3c2d1e0f1a2b3"
USD, EUR = 1, 2
AZURE, DECO, WOOD = 7, 8, 9
ACCOUNT_TYPES = [
    "asset_receivable",
    "asset_cash",
    "asset_current",
    "asset_non_current",
    "asset_prepayments",
    "asset_fixed",
    "liability_payable",
    "liability_credit_card",
    "liability_current",
    "liability_non_current",
    "equity",
    "equity_unaffected",
    "income",
    "income_other",
    "expense",
    "expense_depreciation",
    "expense_direct_cost",
    "off_balance",
]
# id: (code, name, account_type, currency)
ACCOUNTS = {
    1: ("101401", "Bank", "asset_cash", False),
    2: ("121000", "Account Receivable", "asset_receivable", False),
    3: ("211000", "Account Payable", "liability_payable", False),
    4: ("251000", "Tax Received", "liability_current", False),
    5: ("400000", "Product Sales", "income", False),
    6: ("600000", "Expenses", "expense", False),
    7: ("500000", "Cost of Goods Sold", "expense_direct_cost", False),
    8: ("101402", "Bank EUR", "asset_cash", EUR),
    9: ("110000", "Capital", "equity", False),
    10: ("999999", "Guarantees given", "off_balance", False),
}
BANK, AR, AP, TAX, SALES, EXPENSES, COGS, CAPITAL = 1, 2, 3, 4, 5, 6, 7, 9
M2O = "many2one"


def _models() -> list[Model]:
    sel = lambda values: [[v, v] for v in values]  # noqa: E731
    return [
        Model(
            "res.currency",
            "Currency",
            {
                "name": Field("char", "Currency"),
                "symbol": Field("char", "Symbol"),
                "rounding": Field("float", "Rounding Factor"),
                "active": Field("boolean", "Active"),
            },
            order="name",
        ),
        Model(
            "res.company",
            "Companies",
            {"name": Field("char", "Company Name"), "currency_id": Field(M2O, "Currency", "res.currency")},
        ),
        Model(
            "res.users",
            "User",
            {
                "name": Field("char", "Name"),
                "login": Field("char", "Login"),
                "tz": Field("selection", "Timezone"),
                "company_id": Field(M2O, "Company", "res.company"),
                "company_ids": Field("many2many", "Companies", "res.company"),
                "password": Field("char", "Password"),
            },
        ),
        Model(
            "res.partner",
            "Contact",
            {
                "name": Field("char", "Name"),
                "is_company": Field("boolean", "Is a Company"),
                "customer_rank": Field("integer", "Customer Rank"),
                "supplier_rank": Field("integer", "Supplier Rank"),
            },
            order="name, id",
        ),
        Model(
            "account.account",
            "Account",
            {
                "code": Field("char", "Code"),
                "name": Field("char", "Account Name"),
                "account_type": Field("selection", "Type", selection=sel(ACCOUNT_TYPES)),
                "currency_id": Field(M2O, "Account Currency", "res.currency"),
                "company_id": Field(M2O, "Company", "res.company"),
                "reconcile": Field("boolean", "Allow Reconciliation"),
                "deprecated": Field("boolean", "Deprecated"),
            },
            order="code, company_id",
            rec_name=lambda r: f"{r['code']} {r['name']}",
        ),
        Model(
            "account.journal",
            "Journal",
            {
                "name": Field("char", "Journal Name"),
                "code": Field("char", "Short Code"),
                "type": Field("selection", "Type", selection=sel(["sale", "purchase", "cash", "bank", "general"])),
            },
            order="code",
        ),
        Model(
            "account.move",
            "Journal Entry",
            {
                "name": Field("char", "Number"),
                "ref": Field("char", "Reference"),
                "date": Field("date", "Date"),
                "state": Field("selection", "Status", selection=sel(["draft", "posted", "cancel"])),
                "move_type": Field(
                    "selection",
                    "Type",
                    selection=sel(
                        ["entry", "out_invoice", "out_refund", "in_invoice", "in_refund", "out_receipt", "in_receipt"]
                    ),
                ),
                "journal_id": Field(M2O, "Journal", "account.journal"),
                "partner_id": Field(M2O, "Partner", "res.partner"),
                "currency_id": Field(M2O, "Currency", "res.currency"),
                "company_currency_id": Field(M2O, "Company Currency", "res.currency", store=False),
                "invoice_date": Field("date", "Invoice/Bill Date"),
                "invoice_date_due": Field("date", "Due Date"),
                "amount_untaxed": Field("monetary", "Untaxed Amount"),
                "amount_tax": Field("monetary", "Tax"),
                "amount_total": Field("monetary", "Total"),
                "amount_residual": Field("monetary", "Amount Due"),
                "amount_total_signed": Field("monetary", "Total Signed"),
                "amount_residual_signed": Field("monetary", "Amount Due Signed"),
                "payment_state": Field(
                    "selection",
                    "Payment Status",
                    selection=sel(["not_paid", "in_payment", "paid", "partial", "reversed"]),
                ),
                "line_ids": Field("one2many", "Journal Items", "account.move.line"),
            },
            order="date desc, name desc, id desc",
        ),
        Model(
            "account.move.line",
            "Journal Item",
            {
                "move_id": Field(M2O, "Journal Entry", "account.move"),
                "move_name": Field("char", "Number"),
                "date": Field("date", "Date"),
                "parent_state": Field("selection", "Status", selection=sel(["draft", "posted", "cancel"])),
                "move_type": Field("selection", "Type", store=False),
                "journal_id": Field(M2O, "Journal", "account.journal"),
                "account_id": Field(M2O, "Account", "account.account"),
                "account_type": Field("selection", "Internal Type", selection=sel(ACCOUNT_TYPES), store=False),
                "partner_id": Field(M2O, "Partner", "res.partner"),
                "name": Field("char", "Label"),
                "debit": Field("monetary", "Debit"),
                "credit": Field("monetary", "Credit"),
                "balance": Field("monetary", "Balance"),
                "amount_currency": Field("monetary", "Amount in Currency"),
                "currency_id": Field(M2O, "Currency", "res.currency"),
                "company_currency_id": Field(M2O, "Company Currency", "res.currency"),
                "display_type": Field(
                    "selection", "Display Type", selection=sel(["product", "tax", "payment_term", "line_section"])
                ),
                "reconciled": Field("boolean", "Reconciled"),
            },
            order="date desc, move_name desc, id",
        ),
        Model(
            "account.payment",
            "Payments",
            {
                "name": Field("char", "Number"),
                "move_id": Field(M2O, "Journal Entry", "account.move"),
                "date": Field("date", "Date"),
                "amount": Field("monetary", "Amount"),
                "currency_id": Field(M2O, "Currency", "res.currency"),
                "partner_id": Field(M2O, "Customer/Vendor", "res.partner"),
                "payment_type": Field("selection", "Payment Type", selection=sel(["outbound", "inbound"])),
                "partner_type": Field("selection", "Partner Type", selection=sel(["customer", "supplier"])),
                "state": Field("selection", "Status", selection=sel(["draft", "posted", "cancel"])),
                "journal_id": Field(M2O, "Journal", "account.journal"),
                "reconciled_invoice_ids": Field("many2many", "Reconciled Invoices", "account.move", store=False),
                "reconciled_bill_ids": Field("many2many", "Reconciled Bills", "account.move", store=False),
                "is_reconciled": Field("boolean", "Is Reconciled", store=False),
            },
            order="date desc, name desc",
        ),
    ]


class _Builder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.moves = db.models["account.move"].rows
        self.lines = db.models["account.move.line"].rows
        self.payments = db.models["account.payment"].rows

    def move(
        self,
        mid: int,
        name: str,
        move_type: str,
        state: str,
        date: str,
        partner: int | bool,
        lines: list[tuple[int, str, str, str | bool, float | None]],
        *,
        journal: int,
        currency: int = USD,
        due: str | bool = False,
        untaxed: float = 0.0,
        tax: float = 0.0,
        residual: float = 0.0,
        rate: float = 1.0,
    ) -> None:
        """lines: (account, debit, credit, label, amount_currency or None for the company currency)."""
        total = round(untaxed + tax, 2)
        sign = 1 if move_type in ("entry", "out_invoice", "in_refund") else -1
        self.moves[mid] = {
            "id": mid,
            "name": name,
            "ref": False,
            "date": date,
            "state": state,
            "move_type": move_type,
            "journal_id": journal,
            "partner_id": partner,
            "currency_id": currency,
            "company_currency_id": USD,
            "invoice_date": date if move_type != "entry" else False,
            "invoice_date_due": due,
            "amount_untaxed": untaxed,
            "amount_tax": tax,
            "amount_total": total,
            "amount_residual": residual,
            "amount_total_signed": round(sign * total * rate, 2),
            "amount_residual_signed": round(sign * residual * rate, 2),
            "payment_state": ("paid" if residual == 0 else "partial" if residual < total else "not_paid")
            if move_type != "entry"
            else "not_paid",
            "line_ids": [],
        }
        for account, debit, credit, label, amount_currency in lines:
            lid = 1000 + len(self.lines) + 1
            d, c = float(Decimal(debit)), float(Decimal(credit))
            self.lines[lid] = {
                "id": lid,
                "move_id": mid,
                "move_name": name,
                "date": date,
                "parent_state": state,
                "move_type": move_type,
                "journal_id": journal,
                "account_id": account,
                "account_type": ACCOUNTS[account][2],
                "partner_id": partner,
                "name": label,
                "debit": d,
                "credit": c,
                "balance": round(d - c, 2),
                "amount_currency": amount_currency if amount_currency is not None else round(d - c, 2),
                "currency_id": currency,
                "company_currency_id": USD,
                "display_type": "payment_term" if account in (AR, AP) else ("tax" if account == TAX else "product"),
                "reconciled": False,
            }
            self.moves[mid]["line_ids"].append(lid)

    def payment(
        self,
        pid: int,
        name: str,
        mid: int,
        date: str,
        amount: str,
        partner: int,
        payment_type: str,
        partner_type: str,
        state: str,
        invoices: list[int],
        bills: list[int],
    ) -> None:
        counter = AR if partner_type == "customer" else AP
        dr, cr = (BANK, counter) if payment_type == "inbound" else (counter, BANK)
        self.move(
            mid,
            name if state == "posted" else "/",
            "entry",
            state,
            date,
            partner,
            [(dr, amount, "0", f"Payment {name}", None), (cr, "0", amount, f"Payment {name}", None)],
            journal=3,
        )
        self.payments[pid] = {
            "id": pid,
            "name": name,
            "move_id": mid,
            "date": date,
            "amount": float(Decimal(amount)),
            "currency_id": USD,
            "partner_id": partner,
            "payment_type": payment_type,
            "partner_type": partner_type,
            "state": state,
            "journal_id": 3,
            "reconciled_invoice_ids": invoices,
            "reconciled_bill_ids": bills,
            "is_reconciled": bool(invoices or bills),
        }


MISC_JOURNAL = 4  # Miscellaneous Operations: only the opening capital entry (Bank / Capital 10,000.00)


def database(
    *, mcp_models: dict[str, dict[str, bool]] | None = None, journals_outside_scope: frozenset[int] = frozenset()
) -> Database:
    """The books; ``journals_outside_scope``: journals whose items the user's searches do not return
    (``Database.search_scope``), while ``read_group`` still sums them, as Odoo's reports do."""
    db = Database(DB, _models(), [User(2, LOGIN, PASSWORD, (API_KEY,))], mcp_models=mcp_models)
    if journals_outside_scope:
        db.search_scope["account.move.line"] = lambda row: row["journal_id"] not in journals_outside_scope
    m = db.models
    m["res.currency"].rows = {
        USD: {"id": USD, "name": "USD", "symbol": "$", "rounding": 0.01, "active": True},
        EUR: {"id": EUR, "name": "EUR", "symbol": "€", "rounding": 0.01, "active": True},
    }
    m["res.company"].rows = {1: {"id": 1, "name": "Odoo Co", "currency_id": USD}}
    m["res.users"].rows = {
        2: {
            "id": 2,
            "name": "Mitchell Admin",
            "login": LOGIN,
            "tz": "Europe/Brussels",
            "company_id": 1,
            "company_ids": [1],
            "password": False,
        }
    }
    m["res.partner"].rows = {
        AZURE: {"id": AZURE, "name": "Azure Interior", "is_company": True, "customer_rank": 2, "supplier_rank": 0},
        DECO: {"id": DECO, "name": "Deco Addict", "is_company": True, "customer_rank": 3, "supplier_rank": 0},
        WOOD: {"id": WOOD, "name": "Wood Corner", "is_company": True, "customer_rank": 0, "supplier_rank": 2},
    }
    m["account.account"].rows = {
        i: {
            "id": i,
            "code": code,
            "name": name,
            "account_type": kind,
            "currency_id": ccy,
            "company_id": 1,
            "reconcile": kind in ("asset_receivable", "liability_payable"),
            "deprecated": False,
        }
        for i, (code, name, kind, ccy) in ACCOUNTS.items()
    }
    m["account.journal"].rows = {
        1: {"id": 1, "name": "Customer Invoices", "code": "INV", "type": "sale"},
        2: {"id": 2, "name": "Vendor Bills", "code": "BILL", "type": "purchase"},
        3: {"id": 3, "name": "Bank", "code": "BNK1", "type": "bank"},
        4: {"id": 4, "name": "Miscellaneous Operations", "code": "MISC", "type": "general"},
    }
    b = _Builder(db)
    b.move(
        1,
        "MISC/2026/01/0001",
        "entry",
        "posted",
        "2026-01-01",
        False,
        [(BANK, "10000", "0", "Opening capital", None), (CAPITAL, "0", "10000", "Opening capital", None)],
        journal=4,
    )
    b.move(
        2,
        "INV/2026/00001",
        "out_invoice",
        "posted",
        "2026-01-10",
        AZURE,
        [
            (SALES, "0", "1000", "[FURN_8888] Office Lamp", None),
            (TAX, "0", "150", "Tax 15%", None),
            (AR, "1150", "0", "INV/2026/00001", None),
        ],
        journal=1,
        due="2026-02-09",
        untaxed=1000.0,
        tax=150.0,
    )
    b.move(
        3,
        "INV/2026/00002",
        "out_invoice",
        "posted",
        "2026-01-20",
        DECO,
        [
            (SALES, "0", "2000", "[FURN_6666] Acoustic Bloc Screens", None),
            (TAX, "0", "300", "Tax 15%", None),
            (AR, "2300", "0", "INV/2026/00002", None),
        ],
        journal=1,
        due="2026-02-19",
        untaxed=2000.0,
        tax=300.0,
        residual=1200.0,
    )
    b.move(
        4,
        "RINV/2026/00001",
        "out_refund",
        "posted",
        "2026-01-25",
        DECO,
        [
            (SALES, "200", "0", "[FURN_6666] Acoustic Bloc Screens", None),
            (TAX, "30", "0", "Tax 15%", None),
            (AR, "0", "230", "RINV/2026/00001", None),
        ],
        journal=1,
        due="2026-01-25",
        untaxed=200.0,
        tax=30.0,
        residual=230.0,
    )
    b.move(
        5,
        "BILL/2026/01/0001",
        "in_invoice",
        "posted",
        "2026-01-15",
        WOOD,
        [(EXPENSES, "500.25", "0", "Office cleaning", None), (AP, "0", "500.25", False, None)],
        journal=2,
        due="2026-02-14",
        untaxed=500.25,
    )
    b.move(
        6,
        "BILL/2026/01/0002",
        "in_invoice",
        "posted",
        "2026-01-28",
        WOOD,
        [(COGS, "1200.10", "0", "Oak planks", None), (AP, "0", "1200.10", False, None)],
        journal=2,
        due="2026-02-27",
        untaxed=1200.10,
        residual=1200.10,
    )
    b.move(
        7,
        "/",
        "out_invoice",
        "draft",
        "2026-01-30",
        AZURE,
        [(SALES, "0", "999", "Draft line", None), (AR, "999", "0", False, None)],
        journal=1,
        untaxed=999.0,
        residual=999.0,
    )
    b.move(
        8,
        "INV/2026/00003",
        "out_invoice",
        "cancel",
        "2026-01-22",
        AZURE,
        [(SALES, "0", "300", "Cancelled", None), (TAX, "0", "45", "Tax 15%", None), (AR, "345", "0", False, None)],
        journal=1,
        due="2026-02-21",
        untaxed=300.0,
        tax=45.0,
        residual=0.0,
    )
    b.payment(1, "PBNK1/2026/00001", 9, "2026-01-25", "1150", AZURE, "inbound", "customer", "posted", [2], [])
    b.payment(2, "PBNK1/2026/00002", 10, "2026-01-31", "800", DECO, "inbound", "customer", "posted", [3], [])
    b.payment(3, "PBNK1/2026/00003", 11, "2026-01-29", "500.25", WOOD, "outbound", "supplier", "posted", [], [5])
    b.payment(4, "/", 12, "2026-01-30", "50", DECO, "inbound", "customer", "draft", [], [])
    b.move(
        13,
        "INV/2026/00004",
        "out_invoice",
        "posted",
        "2026-02-05",
        AZURE,
        [(SALES, "0", "1085.00", "[E-COM07] Large Cabinet", -1000.0), (AR, "1085.00", "0", "INV/2026/00004", 1000.0)],
        journal=1,
        currency=EUR,
        due="2026-03-07",
        untaxed=1000.0,
        residual=1000.0,
        rate=1.085,
    )
    b.payment(5, "PBNK1/2026/00004", 14, "2026-02-15", "75", DECO, "inbound", "customer", "posted", [], [])
    b.move(
        16,
        "INV/2026/00005",
        "out_invoice",
        "posted",
        "2026-02-10",
        DECO,
        [
            (SALES, "0", "200", "[FURN_7777] Office Chair", None),
            (TAX, "0", "30", "Tax 15%", None),
            (AR, "230", "0", "INV/2026/00005", None),
        ],
        journal=1,
        due="2026-03-12",
        untaxed=200.0,
        tax=30.0,
    )
    b.payment(6, "PBNK1/2026/00005", 15, "2026-02-16", "530", DECO, "inbound", "customer", "posted", [3, 16], [])
    return db


def posted_lines(db: Database) -> list[dict[str, Any]]:
    return [r for r in db.models["account.move.line"].rows.values() if r["parent_state"] == "posted"]
