"""One definition per rule (issue 17), held to figures computed here from the canonical rows, on the
demo's read copy:

- calendar() (sql/marts/00_functions.sql): the reported months and their cut-offs, which the
  `periods` mart, the reconciliation and the page take;
- open_documents(): "a document open at a cutoff", which R3/R4, the page's AR/AP tables and the
  export read: equal to a Python walk over invoices, bills and payments, and what R3/R4 reconcile.
"""

from __future__ import annotations

import calendar as months
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from warehouse.models import load_functions


@pytest.fixture(scope="module")
def con(demo_home: Path):
    con = duckdb.connect(str(demo_home / "warehouse.read.duckdb"), read_only=True)
    load_functions(con)
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def expected_calendar(first_period: str, as_of: date, fy_start: int) -> list[dict]:
    year, month = map(int, first_period.split("-"))
    out = []
    while (year, month) <= (as_of.year, as_of.month):
        start = date(year, month, 1)
        end = date(year, month, months.monthrange(year, month)[1])
        is_open = (year, month) == (as_of.year, as_of.month)
        previous = (as_of.replace(day=1) - timedelta(days=1)).replace(day=1)
        out.append(
            {
                "period": f"{year:04d}-{month:02d}",
                "period_start": start,
                "period_end": end,
                "days": as_of.day if is_open else end.day,
                "cutoff": as_of if is_open else end,
                "is_open": is_open,
                "is_latest_ended": start == previous,
                "fiscal_year_start": date(year - (month < fy_start), fy_start, 1),
            }
        )
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def test_calendar_is_the_reported_months_and_the_periods_mart_is_it(con) -> None:
    first, as_of, fy = con.execute("select first_period, as_of, fiscal_year_start_month from run_context").fetchone()
    expected = expected_calendar(first, as_of, fy)
    assert len(expected) == 25  # the demo: 24 ended months and the open one
    assert rows(con, "select * from calendar() order by period") == expected
    columns = ("period", "period_start", "period_end", "days", "is_open", "fiscal_year_start")
    assert rows(con, "select * from periods order by period") == [{k: r[k] for k in columns} for r in expected]


def expected_open_documents(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], Decimal]:
    """(period, kind, document) -> open balance at the cutoff, walked in Python."""
    applied = defaultdict(list)
    for doc, paid, amount in con.execute(
        "select document_id, paid_date, amount from erp_payments where document_id is not null"
    ).fetchall():
        applied[doc].append((paid, amount))
    documents = [
        ("ar", *r)
        for r in con.execute("select invoice_id, issue_date, total, status, voided_date from erp_invoices").fetchall()
    ]
    documents += [
        ("ap", *r)
        for r in con.execute("select bill_id, issue_date, total, status, voided_date from erp_bills").fetchall()
    ]
    out = {}
    for period, cutoff in con.execute("select period, cutoff from calendar()").fetchall():
        for kind, doc, issued, total, status, voided in documents:
            if status == "draft" or issued > cutoff or (status == "void" and voided is None):
                continue
            if voided is not None and voided <= cutoff:
                continue
            left = total - sum((a for d, a in applied[doc] if d <= cutoff), Decimal("0"))
            if left != 0:
                out[(period, kind, doc)] = left
    return out


def test_open_documents_are_the_documents_open_at_each_cutoff_and_what_r3_r4_reconcile(con) -> None:
    got = {
        (r["period"], r["kind"], r["document_id"]): r["open_balance"]
        for r in rows(con, "select * from open_documents()")
    }
    expected = expected_open_documents(con)
    assert got == expected
    assert {kind for _, kind, _ in got} == {"ar", "ap"}  # the demo has both, in every sense
    # R3/R4's subledger figure (recon_results.actual, one currency) is these documents, less unapplied
    # cash on the AR side, at every reported period
    currency = con.execute("select currency from run_context").fetchone()[0]
    unapplied = con.execute("select paid_date, amount from erp_payments where document_id is null").fetchall()
    for period, cutoff in con.execute("select period, cutoff from calendar()").fetchall():
        for check_id, kind in (("R3_ar", "ar"), ("R4_ap", "ap")):
            (actual,) = con.execute(
                "select actual from recon_results where period = ? and check_id = ?", [period, check_id]
            ).fetchone()
            subledger = sum((v for (p, k, _), v in expected.items() if p == period and k == kind), Decimal("0"))
            if kind == "ar":
                subledger -= sum((a for d, a in unapplied if d <= cutoff), Decimal("0"))
            assert actual == subledger, (period, check_id, currency)
