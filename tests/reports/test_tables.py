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

from reports.render import existing_tables, layout, query_text, run_query
from reports.tables import _groups, _ident, _top_order, full_table, open_documents_once, table_rows, table_top
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
    assert top == drawn_only(ref_top, section)  # the same rows and order, of the columns the page uses
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


def drawn_only(result: dict[str, Any], section: Mapping[str, Any]) -> dict[str, Any]:
    """`result` cut to the columns the page draws, sorts, filters and picks a table's rows by: its
    columns, period, currency, facet, sort and top columns, in the query's order."""
    used = {c["name"] for c in section["columns"]}
    used |= {section.get("period_column"), section.get("currency_column")}
    used |= {(section.get(k) or {}).get("column") for k in ("facet", "sort", "top")}
    keep = [i for i, c in enumerate(result["columns"]) if c in used]
    return {"columns": [result["columns"][i] for i in keep], "rows": [[r[i] for i in keep] for r in result["rows"]]}


def test_a_table_embeds_only_the_columns_the_page_uses(con) -> None:
    """Bills due shows neither the document type nor the issue date its query gives: the page does not
    carry them (at scale 100 they were 30 KB); the served page's every row still has them."""
    section = TABLES["bills_due"]
    query_columns = run_query(con, f"select * from ({query_text(section['query']).rstrip().rstrip(';')}) limit 0")
    assert {"doc_type", "issue_date"} <= set(query_columns["columns"])
    top, _ = table_top(con, section, SPEC)
    assert not {"doc_type", "issue_date"} & set(top["columns"])
    assert top["columns"] == [c for c in query_columns["columns"] if c not in ("doc_type", "issue_date")]
    period = top["rows"][0][0]
    assert {"doc_type", "issue_date"} <= set(full_table(con, "bills_due", period)["columns"])


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
        every = [[r[got["columns"].index(c)] for c in top["columns"]] for r in got["rows"]]
        assert all(r in every for r in embedded)
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


def test_open_documents_are_computed_once_per_render_and_let_go_after(demo_home: Path, tmp_path: Path) -> None:
    """Inside `open_documents_once` the page's readers of open_documents() get what the macro gives
    (the AR aging, top customers, open invoices and bills due, and the macro's from_period) from one
    copy; after it the copy is dropped and the macro computes them from the tables as they are then,
    so a document voided after a render is no longer open for the next reader on the connection."""
    copy = tmp_path / "read.duckdb"
    shutil.copyfile(demo_home / "warehouse.read.duckdb", copy)
    queries = ["ar_aging.sql", "top_customers.sql", "open_invoices.sql", "bills_due.sql"]
    with duckdb.connect(str(copy)) as con:
        load_functions(con)
        periods = [r[0] for r in con.execute("select period from periods order by period").fetchall()]
        middle = periods[len(periods) // 2]
        macro = {q: run_query(con, query_text(q)) for q in queries}
        since = run_query(con, "select * from open_documents(from_period := ?) order by all", [middle])
        temp = "select count(*) from duckdb_tables() where temporary and table_name = 'page_open_documents'"
        with open_documents_once(con, existing_tables(con)):
            assert con.execute(temp).fetchone()[0] == 1  # the copy, read by every query below
            for q in queries:
                assert run_query(con, query_text(q)) == macro[q], q
            assert run_query(con, "select * from open_documents(from_period := ?) order by all", [middle]) == since
        assert con.execute(temp).fetchone()[0] == 0
        (invoice,) = con.execute(
            "select document_id from open_documents() where kind = 'ar' and period = ? order by document_id limit 1",
            [periods[-1]],
        ).fetchone()
        con.execute("update erp_invoices set status = 'void', voided_date = issue_date where invoice_id = ?", [invoice])
        assert con.execute("select count(*) from open_documents() where document_id = ?", [invoice]).fetchone()[0] == 0
        # a warehouse without documents (before the first refresh) renders without the copy
        with open_documents_once(con, existing_tables(con) - {"erp_bills"}):
            assert con.execute(temp).fetchone()[0] == 0


@pytest.mark.parametrize(
    ("query", "ranked_without_sorting"),
    [
        ("select * from t\norder by t.period, t.days desc, t.id", True),
        ("select * from t order by abs(t.amount)", False),  # a call: left as it is
        ("select * from t order by t.a limit 5", False),  # the order picks the rows
        ("select distinct on (t.a) * from t order by t.a, t.b", False),  # the order picks the rows
        ("select * from (select * from t order by t.a) as x", False),  # not the query's own order
        ("select row_number() over (order by t.a) as n from t", False),
        ("select * from t order by t.a -- a note", False),
    ],
)
def test_the_top_rows_skip_only_a_closing_order_that_picks_nothing(query: str, ranked_without_sorting: bool) -> None:
    """`table_top` ranks a query's rows itself, so a closing ORDER BY that only sorts is left out of
    the query it materializes; anything the order decides, or that is not plainly the closing order,
    stays."""
    from reports.tables import _unordered

    stripped = _unordered(query)
    assert (stripped != query) == ranked_without_sorting
    if ranked_without_sorting:
        assert stripped.rstrip() == query[: query.lower().rindex("order by")].rstrip()


# top_customers.sql before issue 21's rewrite (every customer of every period ranked and joined to
# what it owes), verbatim: the reference the rewrite is held to
TOP_CUSTOMERS = """
with

billed as (
    select
        c.period as period,
        i.customer_id as customer_id,
        any_value(i.customer_name order by i.issue_date desc) as customer,
        count(*) filter (where i.doc_type = 'invoice')::integer as invoices,
        sum(i.total)::decimal(18, 2) as billed_12m,
    from calendar() as c
    cross join run_context as rc
    inner join erp_invoices as i
        on i.issue_date <= c.cutoff
        and i.issue_date > c.cutoff - interval 12 month
        and i.currency = rc.currency
        and i.status <> 'draft'
        and not (i.status = 'void' and (i.voided_date is null or i.voided_date <= c.cutoff))
    group by c.period, i.customer_id
),

owed as (
    select
        od.period as period,
        od.party_id as customer_id,
        sum(od.open_balance)::decimal(18, 2) as open_balance,
    from open_documents() as od
    cross join run_context as rc
    where od.kind = 'ar'
        and od.currency = rc.currency
    group by all
),

ranked as (
    select
        b.*,
        coalesce(o.open_balance, 0)::decimal(18, 2) as open_balance,
        round(100 * b.billed_12m / nullif(sum(b.billed_12m) over (partition by b.period), 0), 1)::decimal(5, 1) as share_pct,
        row_number() over (partition by b.period order by b.billed_12m desc, b.customer_id) as rank,
    from billed as b
    left join owed as o
        on o.period = b.period
        and o.customer_id = b.customer_id
)

select
    r.period as period,
    r.rank::integer as rank,
    r.customer as customer,
    r.invoices as invoices,
    r.billed_12m as billed_12m,
    r.share_pct as share_pct,
    r.open_balance as open_balance,
from ranked as r
where r.rank <= 10
order by r.period, r.rank
"""


def test_top_customers_are_those_of_the_previous_definition(demo_home: Path, tmp_path: Path) -> None:
    """The ten customers per period, their billing, share and what they owe equal the previous
    definition's on the demo, and with twelve customers billed the same large amount in one month
    (more than ten tied across the cut) the same ten are chosen, by customer id."""
    copy = tmp_path / "read.duckdb"
    shutil.copyfile(demo_home / "warehouse.read.duckdb", copy)
    with duckdb.connect(str(copy)) as con:
        load_functions(con)
        assert run_query(con, query_text("top_customers.sql")) == run_query(con, TOP_CUSTOMERS)
        period, end, currency = con.execute(
            "select p.period, p.period_end, rc.currency from periods as p, run_context as rc "
            "where not p.is_open order by p.period desc limit 1"
        ).fetchone()
        big = con.execute("select sum(total) + 1000 from erp_invoices").fetchone()[0]
        con.execute(
            """insert into erp_invoices by name
            select 'INV-TIE-' || n as invoice_id, 'CUST-TIE-' || lpad((20 - n)::varchar, 2, '0') as customer_id,
                   'Tied customer ' || n as customer_name, $end::date - 2 as issue_date, $end::date + 28 as due_date,
                   $big::decimal(18, 2) as total, $big::decimal(18, 2) as balance, $currency as currency,
                   'open' as status, 'invoice' as doc_type
            from range(0, 12) as t(n)""",
            {"end": end, "big": big, "currency": currency},
        )
        got = run_query(con, query_text("top_customers.sql"))
        assert got == run_query(con, TOP_CUSTOMERS)
    at = {c: i for i, c in enumerate(got["columns"])}
    ten = [r[at["customer"]] for r in got["rows"] if r[at["period"]] == period]
    assert ten == [f"Tied customer {n}" for n in range(11, 1, -1)]  # customer ids 09..18, in order


@pytest.mark.parametrize("order", ["largest amounts first", "earliest first"])
def test_rows_with_blank_order_keys_are_ranked_as_before(demo_home: Path, tmp_path: Path, order: str) -> None:
    """A check's items of one month where most have no amount and no date (blanks are ordered last):
    the rows chosen and their order equal the previous definition's, by size (descending) or by date
    (ascending), with fewer sized or dated rows than the page shows and more rows than it shows."""
    copy = tmp_path / "read.duckdb"
    shutil.copyfile(demo_home / "warehouse.read.duckdb", copy)
    section = dict(TABLES["recon_items"])
    if order == "earliest first":
        section.pop("top")
        section["sort"] = {"column": "record_date"}
    with duckdb.connect(str(copy)) as con:
        period = con.execute("select max(period) from periods where not is_open").fetchone()[0]
        con.execute(
            """insert into recon_items
            select 'test', ?, 'R9_test', 'bank', 'TX-BLANK-' || lpad(n::varchar, 3, '0'),
                   case when n % 8 = 0 then date '2026-01-01' + n::integer end,
                   case when n % 7 = 0 then (n * 1.01)::decimal(18, 2) end, 'blank (test)'
            from range(0, 60) as t(n)""",
            [period],
        )
        load_functions(con)
        top, about = table_top(con, section, SPEC)
        ref_top, _ = reference_table_top(con, section, SPEC)
    assert top == drawn_only(ref_top, section)
    cols = {c: i for i, c in enumerate(top["columns"])}
    shown = [r for r in top["rows"] if r[cols["period"]] == period and r[cols["check_id"]] == "R9_test"]
    assert len(shown) == about["limit"]
    assert any(r[cols["amount"]] is None for r in shown) and any(r[cols["record_date"]] is None for r in shown)
