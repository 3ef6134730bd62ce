"""The page's tables in one statement each (reports/tables.py, issue 21 item 4): what `table_top` and
`full_table` give equals, row for row, what the previous definition gave (kept below as the
reference: the query materialized once, then the top rows and the summary in two more passes), for
every table section of the page on the demo's read copy, and `full_table` for several months.

The open documents behind three of the tables come from the set-based open_documents()
(warehouse/sql/marts/00_functions.sql); tests/warehouse/test_open_documents.py holds that one to a
walk in Python, tests/warehouse/test_shared_definitions.py to the demo."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reports.render import layout, query_text, run_query
from reports.tables import _groups, _ident, _top_order, full_table, table_rows, table_top
from warehouse.models import load_functions


def reference_table_top(
    con: duckdb.DuckDBPyConnection, section: Mapping[str, Any], spec: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The definition before issue 21 (reports/render.py at 6f59478), verbatim but for its name; its
    `_top_order` is today's, which breaks ties by the section's columns where the old one left a tie
    inside a facet to chance (test_items_tied_on_the_order_are_chosen_by_their_next_columns)."""
    body = query_text(section["query"]).strip().rstrip(";")
    groups = [_ident(c) for c in _groups(section)]
    partition = f"partition by {', '.join(groups)} " if groups else ""
    limit = table_rows(section, spec)
    con.execute(f"create or replace temp table _cb_table as {body}")
    try:
        top = run_query(
            con,
            f"select * exclude (_cb_rank) from (select *, row_number() over ({partition}order by "
            f"{_top_order(section)}) as _cb_rank from _cb_table) where _cb_rank <= {limit} "
            f"order by {', '.join([*groups, '_cb_rank'])}",
        )
        currency = section.get("currency_column")
        keys = [*groups, _ident(currency) if currency else "null::varchar"]
        sums = [f"sum({_ident(c['name'])}) as {_ident(c['name'])}" for c in section["columns"] if c.get("total")]
        summary = run_query(
            con,
            f"select {', '.join(f'{k} as {n}' for k, n in zip(keys, [*groups, '_currency'], strict=True))}, "
            f"count(*)::bigint as _rows{''.join(', ' + s for s in sums)} from _cb_table group by all",
        )
    finally:
        con.execute("drop table if exists _cb_table")
    described = section.get("top") or section.get("sort") or {}
    return top, {"limit": limit, "order": described.get("label"), "summary": summary}


SPEC = layout()
TABLES = {s["id"]: s for s in SPEC["sections"] if s["component"] == "table"}


@pytest.fixture(scope="module")
def con(demo_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(demo_home / "warehouse.read.duckdb"), read_only=True)
    load_functions(con)
    con.execute(query_text("_kpis_through.sql"))
    yield con
    con.close()


def test_the_page_has_tables_that_cut_rows_by_period_and_facet() -> None:
    assert {"open_invoices", "bills_due", "top_customers", "recon_items", "sources"} <= TABLES.keys()
    assert TABLES["recon_items"].get("facet")  # grouped by period and check


@pytest.mark.parametrize("section_id", sorted(TABLES))
def test_table_top_equals_the_previous_definition(con, section_id: str) -> None:
    section = TABLES[section_id]
    if not set(section.get("requires", [])) <= {r[0] for r in con.execute("show tables").fetchall()}:
        pytest.fail(f"the demo's read copy lacks what {section_id} requires: {section.get('requires')}")
    top, about = table_top(con, section, SPEC)
    ref_top, ref_about = reference_table_top(con, section, SPEC)
    assert top == ref_top  # the same columns, rows and order
    assert about["limit"] == ref_about["limit"] and about["order"] == ref_about["order"]
    summary, ref_summary = about["summary"], ref_about["summary"]
    assert summary["columns"] == ref_summary["columns"]
    # the previous summary came in no particular order; this one by period, facet and currency (nulls last)
    keys = len(_groups(section)) + 1
    assert summary["rows"] == sorted(ref_summary["rows"], key=lambda r: tuple((v is None, v) for v in r[:keys]))
    # the cut is real: rows of every period are there, and where a period has more than the limit,
    # exactly `limit` of them are embedded and the count says how many there are
    if section.get("period_column"):
        at = {c: i for i, c in enumerate(summary["columns"])}
        keys = [at[c] for c in _groups(section)]
        counts: dict[tuple, int] = {}
        for row in summary["rows"]:
            counts[tuple(row[i] for i in keys)] = counts.get(tuple(row[i] for i in keys), 0) + row[at["_rows"]]
        shown: dict[tuple, int] = {}
        cols = {c: i for i, c in enumerate(top["columns"])}
        for row in top["rows"]:
            key = tuple(row[cols[c]] for c in _groups(section))
            shown[key] = shown.get(key, 0) + 1
        assert shown == {k: min(n, about["limit"]) for k, n in counts.items()}


def test_the_demo_has_a_table_with_more_rows_than_the_page_embeds(con) -> None:
    section = TABLES["open_invoices"]
    _, about = table_top(con, section, SPEC)
    rows = about["summary"]["rows"]
    assert max(r[about["summary"]["columns"].index("_rows")] for r in rows) > about["limit"]


@pytest.mark.parametrize("section_id", sorted(TABLES))
def test_full_table_is_every_row_of_the_query_for_the_month(con, section_id: str) -> None:
    section = TABLES[section_id]
    body = query_text(section["query"]).strip().rstrip(";")
    column = section.get("period_column")
    if not column:
        assert full_table(con, section_id, None) == run_query(con, body)
        return
    periods = [r[0] for r in con.execute("select period from periods order by period").fetchall()]
    top, about = table_top(con, section, SPEC)
    summary = about["summary"]
    for period in (periods[0], periods[len(periods) // 2], periods[-2], periods[-1]):
        expected = run_query(con, f"select * from ({body}) where {column} = ?", [period])
        got = full_table(con, section_id, period)
        assert got == expected
        # every row the page's count says there is, and every row the page embeds among them
        count = sum(r[summary["columns"].index("_rows")] for r in summary["rows"] if r[0] == period)
        assert len(got["rows"]) == count
        embedded = [r for r in top["rows"] if r[top["columns"].index(column)] == period]
        assert len(embedded) == min(count, about["limit"]) or section.get("facet")
        assert all(r in got["rows"] for r in embedded)
    with pytest.raises(ValueError, match="needs period=YYYY-MM"):
        full_table(con, section_id, "2026-13")


def test_full_table_names_an_unknown_table(con) -> None:
    with pytest.raises(ValueError, match="no table 'nope' on the page"):
        full_table(con, "nope", None)


def test_reconciliation_items_are_counted_and_totalled_whole_not_capped(demo_home: Path, tmp_path: Path) -> None:
    """A check with more items in a month than any cap (here 250 more than the demo's) is counted and
    totalled whole, so the page says how many are left out; the page embeds the largest `rows`."""
    copy = tmp_path / "read.duckdb"
    shutil.copyfile(demo_home / "warehouse.read.duckdb", copy)
    section = TABLES["recon_items"]
    with duckdb.connect(str(copy)) as con:
        period = con.execute("select max(period) from periods where not is_open").fetchone()[0]
        con.execute(
            """insert into recon_items
            select 'test', ?, 'R2_bank_vs_book', 'bank', 'TX-MANY-' || n, date '2026-01-01' + n::integer,
                   (n * 1.01)::decimal(18, 2), 'unmatched bank line (test)'
            from range(1, 251) as t(n)""",
            [period],
        )
        expected_n, expected_sum, expected_max = con.execute(
            "select count(*), sum(amount), max(abs(amount)) from recon_items "
            "where period = ? and check_id = 'R2_bank_vs_book'",
            [period],
        ).fetchone()
        load_functions(con)
        top, about = table_top(con, section, SPEC)
    assert expected_n > 250
    summary = about["summary"]
    at = {c: i for i, c in enumerate(summary["columns"])}
    (row,) = [r for r in summary["rows"] if r[at["period"]] == period and r[at["check_id"]] == "R2_bank_vs_book"]
    assert row[at["_rows"]] == expected_n
    assert Decimal(row[at["amount"]]) == expected_sum
    cols = {c: i for i, c in enumerate(top["columns"])}
    shown = [r for r in top["rows"] if r[cols["period"]] == period and r[cols["check_id"]] == "R2_bank_vs_book"]
    assert len(shown) == about["limit"] < expected_n
    assert max(abs(Decimal(r[cols["amount"]])) for r in shown) == expected_max  # the largest are embedded


def test_items_tied_on_the_order_are_chosen_by_their_next_columns(demo_home: Path, tmp_path: Path) -> None:
    """Items with the same amount across the cut are chosen by record (the section's next columns),
    the same ones at every render, not whichever the database meets first."""
    copy = tmp_path / "read.duckdb"
    shutil.copyfile(demo_home / "warehouse.read.duckdb", copy)
    section = TABLES["recon_items"]
    with duckdb.connect(str(copy)) as con:
        period = con.execute("select max(period) from periods where not is_open").fetchone()[0]
        big = con.execute("select coalesce(max(abs(amount)), 0) + 1000 from recon_items").fetchone()[0]
        con.execute(  # inserted in the reverse of the order they should be chosen in
            """insert into recon_items
            select 'test', ?, 'R2_bank_vs_book', 'bank', 'TX-TIE-' || lpad((100 - n)::varchar, 3, '0'),
                   date '2026-01-01', ?, 'unmatched bank line (test)'
            from range(0, 45) as t(n)""",
            [period, big],
        )
        load_functions(con)
        top, about = table_top(con, section, SPEC)
    cols = {c: i for i, c in enumerate(top["columns"])}
    shown = [
        r[cols["record_id"]]
        for r in top["rows"]
        if r[cols["period"]] == period and r[cols["check_id"]] == "R2_bank_vs_book"
    ]
    tied = sorted(f"TX-TIE-{100 - n:03d}" for n in range(45))
    assert len(tied) > about["limit"]
    assert shown == tied[: about["limit"]]
