"""The deterministic demo company: determinism, ledger integrity, sub-ledgers, bank, CRM, reference KPIs."""

from __future__ import annotations

import csv
import json
import re
from calendar import monthrange
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from connectors.demo import generate
from connectors.demo.generator import (
    ACCOUNT_COLUMNS,
    BANK_ACCOUNT_COLUMNS,
    BANK_BALANCE_COLUMNS,
    BANK_TRANSACTION_COLUMNS,
    BILL_COLUMNS,
    INVOICE_COLUMNS,
    JOURNAL_COLUMNS,
    OPPORTUNITY_COLUMNS,
    PAYMENT_COLUMNS,
)
from tests.reference import KPIS, reference_kpis

AS_OF = date(2026, 11, 24)


def _shift(period: str, months: int) -> str:
    t = int(period[:4]) * 12 + int(period[5:7]) - 1 + months
    return f"{t // 12:04d}-{t % 12 + 1:02d}"


OPEN_PERIOD = AS_OF.isoformat()[:7]
FIRST_PERIOD = _shift(OPEN_PERIOD, -24)  # "2024-11"
OPENING = date(int(FIRST_PERIOD[:4]), int(FIRST_PERIOD[5:]), 1) - timedelta(days=1)
PERIODS = [_shift(FIRST_PERIOD, k) for k in range(25)]
MONEY = re.compile(r"^-?\d+\.\d{2}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FILES = {
    "erp/accounts.csv": ACCOUNT_COLUMNS,
    "erp/journal_lines.csv": JOURNAL_COLUMNS,
    "erp/invoices.csv": INVOICE_COLUMNS,
    "erp/bills.csv": BILL_COLUMNS,
    "erp/payments.csv": PAYMENT_COLUMNS,
    "bank/bank_accounts.csv": BANK_ACCOUNT_COLUMNS,
    "bank/transactions.csv": BANK_TRANSACTION_COLUMNS,
    "bank/balances.csv": BANK_BALANCE_COLUMNS,
    "crm/opportunities.csv": OPPORTUNITY_COLUMNS,
}


def _read(root: Path, rel: str) -> list[dict]:
    with open(root / rel, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class Demo:
    def __init__(self, root: Path, summary: dict) -> None:
        self.root = root
        self.summary = summary
        self.accounts = _read(root, "erp/accounts.csv")
        self.lines = _read(root, "erp/journal_lines.csv")
        self.invoices = _read(root, "erp/invoices.csv")
        self.bills = _read(root, "erp/bills.csv")
        self.payments = _read(root, "erp/payments.csv")
        self.bank_accounts = _read(root, "bank/bank_accounts.csv")
        self.txns = _read(root, "bank/transactions.csv")
        self.balances = _read(root, "bank/balances.csv")
        self.opps = _read(root, "crm/opportunities.csv")
        self.subtype = {a["account_id"]: a["subtype"] for a in self.accounts}

    def account_of(self, subtype: str) -> str:
        (acct,) = [a["account_id"] for a in self.accounts if a["subtype"] == subtype]
        return acct

    def gl_balance(self, account_id: str, until: str) -> Decimal:
        """debit − credit of the account's lines posted up to ``until`` (inclusive)."""
        return sum(
            (
                Decimal(r["debit"]) - Decimal(r["credit"])
                for r in self.lines
                if r["account_id"] == account_id and r["posted_date"] <= until
            ),
            Decimal(0),
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    root = tmp_path_factory.mktemp("demo")
    summary = generate(root, as_of=AS_OF, seed=42, scale=1)
    return Demo(root, summary)


def _r2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _month_ends() -> list[str]:
    """The opening date, every ended month's last day, and as_of (statement dates)."""
    out = [OPENING.isoformat()]
    for p in PERIODS[:-1]:
        y, m = int(p[:4]), int(p[5:])
        out.append(date(y, m, monthrange(y, m)[1]).isoformat())
    return out + ([] if AS_OF.isoformat() in out else [AS_OF.isoformat()])


# --------------------------------------------------------------------------------------------------
def test_same_arguments_give_identical_bytes(demo, tmp_path):
    again = generate(tmp_path / "again", as_of=AS_OF, seed=42, scale=1)
    assert again == demo.summary
    for rel in [*FILES, "company.json"]:
        assert (tmp_path / "again" / rel).read_bytes() == (demo.root / rel).read_bytes(), rel
    other = generate(tmp_path / "other", as_of=AS_OF, seed=7, scale=1)
    assert other["first_period"] == FIRST_PERIOD
    assert (tmp_path / "other" / "erp/journal_lines.csv").read_bytes() != (
        demo.root / "erp/journal_lines.csv"
    ).read_bytes()


def test_company_and_counts(demo):
    company = json.loads((demo.root / "company.json").read_text())
    assert company == {
        "name": "Demo Co",
        "currency": "USD",
        "fiscal_year_start_month": 1,
        "timezone": "UTC",
        "first_period": FIRST_PERIOD,
        "as_of": AS_OF.isoformat(),
        "seed": 42,
        "scale": 1,
    }
    assert FIRST_PERIOD == "2024-11" or AS_OF != date(2026, 11, 24)
    assert demo.summary["first_period"] == FIRST_PERIOD and demo.summary["as_of"] == AS_OF.isoformat()
    counts = demo.summary["counts"]
    for rel in FILES:
        assert counts[rel] == len(_read(demo.root, rel)), rel
    assert counts["erp/journal_lines.csv"] >= 10_000
    customers = {i["customer_id"] for i in demo.invoices}
    assert 55 <= len(customers) <= 60
    assert 22 <= len({b["vendor_id"] for b in demo.bills}) <= 30
    assert len(demo.bank_accounts) == 2
    assert 25 <= len(demo.accounts) <= 40
    assert 150 <= len(demo.opps) <= 270
    assert {a["type"] for a in demo.accounts} == {"asset", "liability", "equity", "revenue", "expense"}


def test_headers_and_value_formats(demo):
    for rel, columns in FILES.items():
        with open(demo.root / rel, newline="", encoding="utf-8") as f:
            assert tuple(next(csv.reader(f))) == columns, rel
    money_cols = {"debit", "credit", "total", "balance", "amount", "closing_balance"}
    date_cols = {
        "posted_date",
        "issue_date",
        "due_date",
        "voided_date",
        "paid_date",
        "booked_date",
        "balance_date",
        "close_date",
        "updated_at",
    }
    for rel in FILES:
        for row in _read(demo.root, rel):
            for col, value in row.items():
                if col in money_cols:
                    assert MONEY.match(value), (rel, col, value)
                elif col in date_cols and value:
                    assert DAY.match(value), (rel, col, value)
                    if col not in ("due_date", "close_date"):
                        assert value <= AS_OF.isoformat(), (rel, col, value)
                elif col == "currency":
                    assert value == "USD"
    parents = {a["account_id"] for a in demo.accounts}
    assert all(a["parent_id"] in parents for a in demo.accounts if a["parent_id"])


def test_journal_sorted_and_every_entry_balances(demo):
    keys = [(r["posted_date"], r["entry_id"], int(r["line_no"])) for r in demo.lines]
    assert keys == sorted(keys)
    assert keys[0][0] == OPENING.isoformat() and keys[-1][0] <= AS_OF.isoformat()
    accounts = {a["account_id"] for a in demo.accounts}
    sums: dict[str, Decimal] = defaultdict(Decimal)
    dates: dict[str, set] = defaultdict(set)
    for r in demo.lines:
        debit, credit = Decimal(r["debit"]), Decimal(r["credit"])
        assert (debit == 0) != (credit == 0) and debit >= 0 and credit >= 0, r
        assert r["account_id"] in accounts and r["amount_currency"] == ""
        sums[r["entry_id"]] += debit - credit
        dates[r["entry_id"]].add(r["posted_date"])
    assert all(v == 0 for v in sums.values())
    assert all(len(d) == 1 for d in dates.values())
    # the opening entry is the funding: it posts cash and share capital on the day before first_period
    opening = [r for r in demo.lines if r["posted_date"] == OPENING.isoformat()]
    assert {demo.subtype[r["account_id"]] for r in opening} >= {"cash", "share_capital"}


def _applications(rows) -> dict[str, list[tuple[str, Decimal]]]:
    out: dict[str, list] = defaultdict(list)
    for p in rows:
        assert Decimal(p["amount"]) > 0 and p["kind"] in ("payment", "write_off")
        out[p["document_id"]].append((p["paid_date"], Decimal(p["amount"])))
    return out


@pytest.mark.parametrize("table,key,subtype", [("invoices", "invoice_id", "ar"), ("bills", "bill_id", "ap")])
def test_subledger_equals_control_account(demo, table, key, subtype):
    docs = getattr(demo, table)
    applications = _applications(demo.payments)
    control = demo.account_of(subtype)
    sign = 1 if subtype == "ar" else -1
    posted_docs = {r["document_id"] for r in demo.lines if r["account_id"] == control}
    for d in docs:
        applied = sum((a for _, a in applications.get(d[key], ())), Decimal(0))
        assert Decimal(d["balance"]) == Decimal(d["total"]) - applied, d
        if d["status"] in ("open", "paid"):
            assert (d["status"] == "paid") == (Decimal(d["balance"]) == 0), d
        if d["status"] == "draft":
            assert d[key] not in posted_docs and not applications.get(d[key])
        if d["doc_type"] == "credit_note":
            assert Decimal(d["total"]) < 0
        if d["status"] == "void":
            assert d["voided_date"] >= d["issue_date"] and not applications.get(d[key])
    assert all(r["document_id"] for r in demo.lines if r["account_id"] == control)
    # R3 / R4: at every month-end and at as_of, Σ open items = GL control balance
    for day in _month_ends():
        open_items = Decimal(0)
        for d in docs:
            if d["status"] == "draft" or d["issue_date"] > day:
                continue
            if d["status"] == "void" and d["voided_date"] <= day:
                continue
            open_items += Decimal(d["total"]) - sum(
                (a for paid, a in applications.get(d[key], ()) if paid <= day), Decimal(0)
            )
        assert open_items == sign * demo.gl_balance(control, day), (table, day)


def test_document_variety(demo):
    statuses = {(i["status"], i["doc_type"]) for i in demo.invoices}
    assert {
        ("paid", "invoice"),
        ("open", "invoice"),
        ("void", "invoice"),
        ("draft", "invoice"),
        ("open", "credit_note"),
    } <= statuses
    assert {("paid", "invoice"), ("open", "invoice"), ("void", "invoice"), ("open", "credit_note")} <= {
        (b["status"], b["doc_type"]) for b in demo.bills
    }
    assert any(p["kind"] == "write_off" for p in demo.payments)
    assert any(p["line_no"] == "2" and p["kind"] == "payment" for p in demo.payments)  # one payment, two invoices
    # long-overdue open invoices exist
    old = AS_OF - timedelta(days=90)
    assert any(
        i["status"] == "open" and i["doc_type"] == "invoice" and i["due_date"] < old.isoformat() for i in demo.invoices
    )
    # every non-draft invoice is posted on its issue date
    issued = {(r["document_id"], r["posted_date"]) for r in demo.lines if r["account_id"] == demo.account_of("ar")}
    for i in demo.invoices:
        if i["status"] != "draft":
            assert (i["invoice_id"], i["issue_date"]) in issued


def test_bank_statement_and_book(demo):
    gl_of = {b["bank_account_id"]: b["gl_account_id"] for b in demo.bank_accounts}
    assert sorted(demo.subtype[g] for g in gl_of.values()) == ["cash", "cash"]
    keys = [(t["booked_date"], t["txn_id"]) for t in demo.txns]
    assert keys == sorted(keys) and len({t["txn_id"] for t in demo.txns}) == len(demo.txns)
    assert [(b["bank_account_id"], b["balance_date"]) for b in demo.balances] == sorted(
        (b["bank_account_id"], b["balance_date"]) for b in demo.balances
    )
    # the statement is the transactions: each closing balance is their running sum
    for b in demo.balances:
        assert Decimal(b["closing_balance"]) == sum(
            (
                Decimal(t["amount"])
                for t in demo.txns
                if t["bank_account_id"] == b["bank_account_id"] and t["booked_date"] <= b["balance_date"]
            ),
            Decimal(0),
        )
    assert {b["balance_date"] for b in demo.balances} == set(_month_ends())

    # pair every cash book line with its bank line: same account, reference, amount
    bank_of = {g: b for b, g in gl_of.items()}
    pending: dict[tuple, list] = defaultdict(list)
    for t in demo.txns:
        pending[(t["bank_account_id"], t["reference"], Decimal(t["amount"]))].append(t["booked_date"])
    book_only, bank_only, pairs = [], [], []
    for r in demo.lines:
        if r["account_id"] not in bank_of:
            continue
        bank = bank_of[r["account_id"]]
        amount = Decimal(r["debit"]) - Decimal(r["credit"])
        queue = pending.get((bank, r["document_id"] or r["entry_id"], amount))
        if queue:
            booked = queue.pop(0)
            pairs.append((bank, r["posted_date"], booked, amount))
            lag = (date.fromisoformat(booked) - date.fromisoformat(r["posted_date"])).days
            assert (0 <= lag <= 7) or (r["document_id"].startswith("FEE-") and -5 <= lag <= 0), (r, booked)
        else:
            book_only.append((bank, r["posted_date"], amount))
    for (bank, ref, amount), queue in pending.items():
        bank_only += [(bank, ref, d, amount) for d in queue]
    # only the last days' book lines are not on the statement yet; every bank line is booked, but for
    # a month's fee charged in the last days before as_of and booked on the 1st-3rd of the next month
    recent = (AS_OF - timedelta(days=7)).isoformat()
    assert all(d >= recent for _, d, _ in book_only)
    assert all(d >= recent and ref.startswith("FEE-") for _, ref, d, _ in bank_only)
    # at each month-end: GL − statement = book lines not yet on the statement − fees not yet booked
    for day in _month_ends():
        for bank, gl in gl_of.items():
            statement = Decimal(
                next(
                    b["closing_balance"]
                    for b in demo.balances
                    if b["bank_account_id"] == bank and b["balance_date"] == day
                )
            )
            in_transit = sum((a for b, p, k, a in pairs if b == bank and p <= day < k), Decimal(0))
            in_transit += sum((a for b, p, a in book_only if b == bank and p <= day), Decimal(0))
            unbooked = sum((a for b, p, k, a in pairs if b == bank and k <= day < p), Decimal(0))
            unbooked += sum((a for b, _, k, a in bank_only if b == bank and k <= day), Decimal(0))
            assert demo.gl_balance(gl, day) - statement == in_transit - unbooked, (bank, day)
    # some month-ends do have deposits in transit / outstanding payments and unbooked fees
    assert any(p <= d < k for _, p, k, _ in pairs for d in _month_ends())
    assert any(k <= d < p for _, p, k, _ in pairs for d in _month_ends())


def test_crm_opportunities(demo):
    names = {i["customer_id"]: i["customer_name"] for i in demo.invoices}
    stages = {"prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"}
    first_invoice: dict[str, list[str]] = defaultdict(list)
    for i in demo.invoices:
        if i["status"] != "draft" and i["doc_type"] == "invoice":
            first_invoice[i["customer_id"]].append(i["issue_date"])
    for o in demo.opps:
        assert o["stage"] in stages
        assert o["is_won"] == ("true" if o["stage"] == "closed_won" else "false")
        assert o["is_closed"] == ("true" if o["stage"].startswith("closed") else "false")
        assert 0 <= Decimal(o["probability"]) <= 100 and Decimal(o["amount"]) > 0 and o["owner"]
        assert o["updated_at"] <= AS_OF.isoformat()
        if o["is_closed"] == "true":
            assert o["close_date"] <= AS_OF.isoformat()
        else:
            assert o["close_date"] > AS_OF.isoformat()
        if o["is_won"] == "true":
            assert names[o["customer_id"]] == o["customer_name"]
            close = date.fromisoformat(o["close_date"])
            if OPENING < close <= AS_OF - timedelta(days=45):  # invoiced within 45 days of the close
                assert any(
                    o["close_date"] <= d <= (close + timedelta(days=45)).isoformat()
                    for d in first_invoice[o["customer_id"]]
                ), o
    assert {o["stage"] for o in demo.opps} == stages
    # bookings vs billings (R5): per customer, cumulative invoiced (net of credit notes) never exceeds won
    for day in _month_ends():
        won: dict[str, Decimal] = defaultdict(Decimal)
        invoiced: dict[str, Decimal] = defaultdict(Decimal)
        for o in demo.opps:
            if o["is_won"] == "true" and o["close_date"] <= day:
                won[o["customer_id"]] += Decimal(o["amount"])
        for i in demo.invoices:
            if i["status"] not in ("draft", "void") and i["issue_date"] <= day:
                invoiced[i["customer_id"]] += Decimal(i["total"])
        for customer, amount in invoiced.items():
            assert amount <= won[customer], (customer, day)


def test_reference_kpis(demo):
    table = reference_kpis(demo.root, FIRST_PERIOD, AS_OF)
    assert list(table) == PERIODS
    revenue_accounts = {a["account_id"] for a in demo.accounts if a["type"] == "revenue"}
    # revenue comes only from documents: invoices and credit notes on their issue date, voids reversed
    assert all(r["document_id"] for r in demo.lines if r["account_id"] in revenue_accounts)
    pipeline = sum((Decimal(o["amount"]) for o in demo.opps if o["is_closed"] == "false"), Decimal(0))
    for period, k in table.items():
        assert set(k) == set(KPIS)
        expected = sum(
            (Decimal(i["total"]) for i in demo.invoices if i["status"] != "draft" and i["issue_date"][:7] == period),
            Decimal(0),
        )
        expected -= sum(
            (Decimal(i["total"]) for i in demo.invoices if i["status"] == "void" and i["voided_date"][:7] == period),
            Decimal(0),
        )
        assert k["revenue"] == expected, period
        assert k["gross_profit"] == k["revenue"] - k["cogs"]
        assert k["net_income"] == k["revenue"] - k["cogs"] - k["opex"]
        assert k["pipeline_open"] == pipeline
        assert k["bookings_won"] == sum(
            (Decimal(o["amount"]) for o in demo.opps if o["is_won"] == "true" and o["close_date"][:7] == period),
            Decimal(0),
        )
        end = min(date(int(period[:4]), int(period[5:]), monthrange(int(period[:4]), int(period[5:]))[1]), AS_OF)
        assert k["cash"] == sum(
            (demo.gl_balance(a["account_id"], end.isoformat()) for a in demo.accounts if a["subtype"] == "cash"),
            Decimal(0),
        )
        assert k["ap"] == -demo.gl_balance(demo.account_of("ap"), end.isoformat())
        for ratio in ("gross_margin_pct", "dso", "dpo", "runway_months"):
            assert k[ratio] is None or k[ratio] == k[ratio].quantize(Decimal("0.01"))
    now = table[OPEN_PERIOD]  # the open month: days elapsed = as_of.day
    if now["revenue"] > 0:
        assert now["dso"] == _r2(now["ar"] / now["revenue"] * AS_OF.day)
    last = table[PERIODS[-2]]
    burns = [table[p]["net_burn"] for p in PERIODS[-4:-1]]
    if sum(burns) > 0:
        assert last["runway_months"] == _r2(last["cash"] * 3 / sum(burns))
    else:
        assert last["runway_months"] is None
    # the first period's runway still averages three calendar months: the two before the ledger's
    # first reported month spent no cash (the opening entry posts to equity), so they count as 0
    first = table[FIRST_PERIOD]
    if first["net_burn"] > 0:
        assert first["runway_months"] == _r2(first["cash"] * 3 / first["net_burn"])
    else:
        assert first["runway_months"] is None
