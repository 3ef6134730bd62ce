"""Publishing staged pages: typed, exact, with every rejected row quarantined with its reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.records import KEYS, text_schema
from warehouse.db import ensure_schema
from warehouse.publish import StagedTable, publish


def stage(tmp_path: Path, table: str, rows: list[dict]) -> StagedTable:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{table}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=text_schema(table)), path)
    return StagedTable(table, path, "erp", "list_payments", KEYS[table], reported_total=len(rows), source_as_of="t")


def payment(pid: str, **values: str | None) -> dict:
    row = dict(
        payment_id=pid,
        line_no="1",
        document_id="INV1",
        paid_date="2024-01-02",
        amount="10.50",
        currency="USD",
        kind="payment",
    )
    row.update(values)
    return row


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_schema(con)
    return con


def test_rows_are_typed_deduplicated_and_rejected_with_reasons(con, tmp_path: Path) -> None:
    rows = [
        payment("P1", kind=None, line_no=" ", amount=" 10.50"),  # defaults apply; numbers are trimmed
        payment("P1", kind=None, line_no=None),  # an identical copy collapses
        payment("P2", paid_date="2024-13-02", amount="10.505"),
        payment("P3", currency=None),
        payment("P4", document_id="A"),
        payment("P4", document_id="B"),  # same key, different values: both rejected
    ]
    result = publish(con, [stage(tmp_path, "erp_payments", rows)], run_id="r1")["erp_payments"]
    assert (result.received, result.loaded, result.quarantined) == (6, 1, 4)
    assert con.execute("select * from erp_payments").fetchall() == [
        ("P1", 1, "INV1", date(2024, 1, 2), Decimal("10.50"), "USD", "payment")
    ]
    reasons = con.execute(
        "select json_extract_string(record, '$.payment_id'), reason from quarantine order by all"
    ).fetchall()
    assert reasons == [
        ("P2", "paid_date: not a valid date: 2024-13-02; amount: more decimal places than decimal(18,2) holds: 10.505"),
        ("P3", "currency: required but missing"),
        ("P4", "duplicate key (payment_id, line_no) with different values in other rows"),
        ("P4", "duplicate key (payment_id, line_no) with different values in other rows"),
    ]
    assert con.execute(
        "select rows_received, rows_loaded, rows_quarantined, reported_total from source_loads"
    ).fetchall() == [(6, 1, 4, 6)]


def test_a_failed_publish_leaves_every_table_as_it_was(con, tmp_path: Path) -> None:
    publish(con, [stage(tmp_path, "erp_payments", [payment("P1"), payment("P2")])], run_id="r1")
    good = stage(tmp_path, "erp_payments", [payment("P9")])
    missing = StagedTable("erp_bills", tmp_path / "absent.parquet", "erp", "list_bills", KEYS["erp_bills"])
    with pytest.raises(duckdb.IOException):
        publish(con, [good, missing], run_id="r2")
    assert con.execute("select payment_id from erp_payments order by 1").fetchall() == [("P1",), ("P2",)]
    assert con.execute("select distinct run_id from source_loads").fetchall() == [("r1",)]


def test_the_columns_of_every_table_published_are_read_at_once_in_their_order(con: duckdb.DuckDBPyConnection) -> None:
    from warehouse.publish import columns

    found = columns(con, ["erp_payments", "bank_balances"])
    for table in ("erp_payments", "bank_balances"):  # the canonical table's own columns, in its order
        assert [c.name for c in found[table]] == text_schema(table).names
    assert [c.name for c in found["erp_payments"] if c.required][:2] == ["payment_id", "line_no"]
    with pytest.raises(KeyError, match="no canonical table 'erp_nothing'"):
        columns(con, ["erp_payments", "erp_nothing"])


def test_the_months_and_days_replaced_are_deleted_by_the_windows_they_were_pulled_by() -> None:
    """The windows (connectors.periods.windows) the delete compares the period column with: a run of
    months and days that follow on is one window, across a year's end too; one inside another stands apart
    (deleting by either is the same)."""
    from connectors.periods import windows

    assert windows(["2024-02", "2024-12-31", "2024-03", "2025-01-01", "2024-04-01"]) == [
        ("2024-02-01", "2024-04-01"),  # February, March and April's first day follow on
        ("2024-12-31", "2025-01-01"),  # the last day of one year and the first of the next
    ]
    assert windows(["2024-03", "2024-03-15"]) == [("2024-03-01", "2024-03-31"), ("2024-03-15", "2024-03-15")]
    assert windows([]) == []


def test_an_incremental_publish_replaces_exactly_its_months_and_days(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Rows dated in the replaced months and days go (a month's last day and a day's neighbours
    included or kept as they should be), the staged rows come in, every other row stays."""
    dates = ["2024-01-31", "2024-02-01", "2024-02-29", "2024-03-01", "2024-03-09", "2024-03-10", "2024-03-11"]
    before = [payment(f"P{n}", paid_date=d) for n, d in enumerate(dates)]
    publish(con, [stage(tmp_path / "a", "erp_payments", before)], run_id="r1")
    staged = replace(
        stage(tmp_path / "b", "erp_payments", [payment("NEW", paid_date="2024-02-15")]),
        replace_periods=("2024-02", "2024-03-10"),
        period_column="paid_date",
    )
    publish(con, [staged], run_id="r2")
    kept = con.execute("select payment_id, paid_date::varchar from erp_payments order by paid_date").fetchall()
    assert kept == [
        ("P0", "2024-01-31"),
        ("NEW", "2024-02-15"),
        ("P3", "2024-03-01"),
        ("P4", "2024-03-09"),
        ("P6", "2024-03-11"),
    ]
    # nothing received and nothing to replace (no month changed): the table as it was, its raw copy empty
    # (what this load received), its load recorded
    empty = replace(stage(tmp_path / "c", "erp_payments", []), replace_periods=(), period_column="paid_date")
    published = publish(con, [empty], run_id="r3")["erp_payments"]
    assert (published.received, published.loaded, published.quarantined) == (0, 5, 0)
    assert con.execute("select payment_id, paid_date::varchar from erp_payments order by paid_date").fetchall() == kept
    assert con.execute("select count(*) from raw_erp_payments").fetchone() == (0,)
    assert con.execute(
        "select rows_received, rows_loaded, rows_quarantined from source_loads where run_id = 'r3'"
    ).fetchall() == [(0, 5, 0)]
