"""open_documents() (warehouse/sql/marts/00_functions.sql), computed set-based since issue 21 (each
document's balance as segments between the days it changes), held row for row to a walk in Python over
hypothesis-made documents and applications, on an in-memory DuckDB: drafts, voids with and without a
voided date (before, on or after a cut-off), credit notes, applications before the issue date, on the
same day, after the voiding, refunds that reopen a document, partial payments, an invoice and a bill
sharing an id (an application names the id, so it counts for both, as it always has), unapplied cash,
and `from_period`. Every column is compared: period, cut-off, the document's fields, the open balance
and the days overdue."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse import loads
from warehouse.db import ensure_schema
from warehouse.models import load_functions

FIRST = date(2025, 1, 1)
AS_OF = date(2025, 4, 17)  # periods 2025-01..2025-04, the last one open (its cut-off is the as-of)
CUTOFFS = [("2025-01", date(2025, 1, 31)), ("2025-02", date(2025, 2, 28)), ("2025-03", date(2025, 3, 31))]
CUTOFFS.append(("2025-04", AS_OF))
PROPERTY = settings(deadline=None, max_examples=50, derandomize=True, database=None)
IDS = [f"D{i}" for i in range(6)]
KEY = lambda row: (row[0], row[2], row[3])  # noqa: E731 - period, kind, document: one row each  # few ids, so invoices and bills share some

days = st.integers(min_value=-40, max_value=130).map(lambda n: FIRST + timedelta(days=n))
cents = st.integers(min_value=-50_000, max_value=200_000).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def document(draw, kind: str, doc_id: str) -> dict:
    issue = draw(days)
    status = draw(st.sampled_from(["open", "paid", "draft", "void"]))
    voided = draw(st.one_of(st.none(), days)) if status in ("void", "open") else None
    return {
        "kind": kind,
        "id": doc_id,
        "party": f"P-{doc_id}",
        "issue": issue,
        "due": draw(st.one_of(st.none(), st.just(issue + timedelta(days=30)))),
        "total": draw(cents),
        "currency": draw(st.sampled_from(["USD", "EUR"])),
        "status": status,
        "doc_type": draw(st.sampled_from(["invoice", "credit_note"])),
        "voided": voided,
    }


@st.composite
def book(draw) -> tuple[list[dict], list[tuple]]:
    invoice_ids = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=5))
    bill_ids = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=4))
    docs = [draw(document("ar", i)) for i in invoice_ids] + [draw(document("ap", i)) for i in bill_ids]
    payments = draw(st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(IDS)), days, cents), max_size=12))
    return docs, payments


def load(con: duckdb.DuckDBPyConnection, docs: list[dict], payments: list[tuple]) -> None:
    for table in ("erp_invoices", "erp_bills", "erp_payments"):
        con.execute(f"delete from {table}")
    for d in docs:
        con.execute(
            f"insert into {'erp_invoices' if d['kind'] == 'ar' else 'erp_bills'} "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [d["id"], d["party"], f"Party {d['id']}", d["issue"], d["due"], d["total"], d["total"], d["currency"],
             d["status"], d["doc_type"], d["voided"]],
        )  # fmt: skip
    for n, (doc, paid, amount) in enumerate(payments):
        con.execute(
            "insert into erp_payments values (?, 1, ?, ?, ?, 'USD', ?)",
            [f"PAY-{n}", doc, paid, amount, "refund" if amount < 0 else "payment"],
        )


def walk(docs: list[dict], payments: list[tuple], from_period: str | None) -> list[tuple]:
    """Every (document, cut-off) with something open, as open_documents() gives its rows."""
    out = []
    for period, cutoff in CUTOFFS:
        if from_period is not None and period < from_period:
            continue
        for d in docs:
            if d["status"] == "draft" or d["issue"] > cutoff:
                continue
            if d["status"] == "void" and d["voided"] is None:
                continue
            if d["voided"] is not None and d["voided"] <= cutoff:
                continue
            applied = sum((a for doc, paid, a in payments if doc == d["id"] and paid <= cutoff), Decimal("0"))
            left = d["total"] - applied
            if left == 0:
                continue
            overdue = (cutoff - (d["due"] or cutoff)).days
            out.append(
                (period, cutoff, d["kind"], d["id"], d["party"], f"Party {d['id']}", d["issue"], d["due"],
                 d["total"], d["currency"], d["doc_type"], left, overdue)
            )  # fmt: skip
    return sorted(out, key=KEY)


CON = duckdb.connect()
ensure_schema(CON)
loads.replace_run_context(CON, "2025-01", AS_OF, 1, "USD")
load_functions(CON)


@PROPERTY
@given(book(), st.sampled_from([None, "2025-03"]))
def test_open_documents_equal_a_walk_over_the_documents_and_their_applications(data, from_period) -> None:
    docs, payments = data
    load(CON, docs, payments)
    assert [c for (c,) in CON.execute("select cutoff from calendar() order by period").fetchall()] == [
        c for _, c in CUTOFFS
    ]
    sql = "select * from open_documents()" if from_period is None else "select * from open_documents(from_period := ?)"
    got = CON.execute(sql, [from_period] if from_period else []).fetchall()
    assert sorted(got, key=KEY) == walk(docs, payments, from_period)


def test_the_walk_sees_what_the_property_is_about() -> None:
    """The cases named above occur: a payment before the issue, a refund that reopens, a shared id."""
    docs = [
        {"kind": "ar", "id": "D1", "party": "P-D1", "issue": date(2025, 2, 10), "due": None, "total": Decimal("100.00"),
         "currency": "USD", "status": "open", "doc_type": "invoice", "voided": None},
        {"kind": "ap", "id": "D1", "party": "P-D1", "issue": date(2025, 1, 5), "due": date(2025, 2, 4),
         "total": Decimal("40.00"), "currency": "USD", "status": "void", "doc_type": "invoice",
         "voided": date(2025, 3, 31)},
    ]  # fmt: skip
    payments = [
        ("D1", date(2025, 1, 20), Decimal("100.00")),  # before the invoice's issue: counts from it on
        ("D1", date(2025, 3, 2), Decimal("-30.00")),  # a refund reopens both
        (None, date(2025, 1, 2), Decimal("5.00")),
    ]
    load(CON, docs, payments)
    got = sorted(CON.execute("select * from open_documents()").fetchall(), key=KEY)
    assert got == walk(docs, payments, None)
    by = {(r[0], r[2]): r[11] for r in got}
    # January: the bill is open at 40.00 less the 100.00 applied to its id (-60.00); the invoice not yet issued
    assert by == {
        ("2025-01", "ap"): Decimal("-60.00"),
        ("2025-02", "ap"): Decimal("-60.00"),
        ("2025-03", "ar"): Decimal("30.00"),
        ("2025-04", "ar"): Decimal("30.00"),
    }
