"""The page's tables (a `table` section): the top rows of each period the file embeds, and every row
the served page fetches (GET /api/table).

`table_top` answers a table section in ONE statement over its query (issue 21, "pages that scale"):
the query runs once as a materialized CTE; the rows embedded are its first `rows` per period (and
facet) in the table's order, chosen with `qualify row_number() over (partition by ...)`; the count
and the `total` columns' sums of EVERY row per period, facet and currency come from the same CTE, so
the totals under a table are those of all its rows, never of the rows embedded. Both parts travel in
one result (`union all by name`, told apart by `_cb_part`) and are split here.

`full_table` is every row of one table (of one period): what the served page shows in place of the
top rows.

`open_documents_once` computes the warehouse's open_documents() once for a whole render, where the
page's tables and charts would each compute it again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import duckdb

DEFAULT_TABLE_ROWS = 50
_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


# what open_documents() reads (and calendar() under it): without them the macro fails, and so would
# every query over it; a kept copy is read back while these hold the same rows
OPEN_DOCUMENTS_READS = {"erp_invoices", "erp_bills", "erp_payments", "run_context"}
KEPT_INPUTS = "kept_open_documents_inputs"  # warehouse.loads.keep_open_documents


@contextmanager
def open_documents_once(con: duckdb.DuckDBPyConnection, tables: set[str]) -> Iterator[None]:
    """Inside the block, open_documents() on `con` reads one copy made on entry (a temp table:
    reports/queries/_open_documents_once.sql) instead of computing the open documents again for each
    query; on exit the warehouse's macro is back and the copy dropped, so later readers on the same
    connection (a run's next step) compute them from the tables as they are then. The copy is the one
    an earlier render kept in the warehouse when everything it is a function of is unchanged (the
    tables it reads, the macros' SQL, DuckDB's version: `open_documents_inputs`), else computed and
    kept there in its place (~0.17 s of a render at scale 100; a read-only `con` keeps nothing).
    Expects load_functions(con) done; does nothing when the warehouse has no documents yet."""
    from reports.render import query_text
    from warehouse import loads
    from warehouse.models import load_functions

    if not OPEN_DOCUMENTS_READS <= tables:
        yield
        return
    inputs = open_documents_inputs(con)
    kept = loads.kept_open_documents(con) if KEPT_INPUTS in tables else None
    if kept == inputs:
        con.execute(query_text("_open_documents_kept.sql"))
    else:
        con.execute(query_text("_open_documents_once.sql"))
        if KEPT_INPUTS in tables:
            try:
                loads.keep_open_documents(con, inputs)
            except duckdb.Error:  # a read-only warehouse (the readers' copy): computed again next time
                pass
    con.execute(query_text("_open_documents_macro.sql"))
    try:
        yield
    finally:
        load_functions(con)
        con.execute("drop table if exists temp.page_open_documents")


def open_documents_inputs(con: duckdb.DuckDBPyConnection) -> str:
    """A fingerprint of what open_documents() gives: the rows of the tables it reads, the SQL of the
    warehouse's functions and DuckDB's version (hex)."""
    from warehouse.db import inputs_digest
    from warehouse.models import functions_sql

    return inputs_digest(con, OPEN_DOCUMENTS_READS, functions_sql(), duckdb.__version__)


def _ident(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name or ""):
        raise ValueError(f"sections.yaml: {name!r} is not a column name")
    return f'"{name}"'


def _groups(section: Mapping[str, Any]) -> list[str]:
    """The columns a table's top rows are chosen within: its period and its facet (each check's items)."""
    return [c for c in (section.get("period_column"), (section.get("facet") or {}).get("column")) if c]


def _top_order(section: Mapping[str, Any]) -> str:
    """The order the top rows are chosen by: the table's own sort (`top` when it differs; `abs`: by
    size), blanks last, then its columns in their order, so the same rows are chosen every time, ties
    included (two items of one check with the same amount: by record, not by chance)."""
    order = section.get("top") or section.get("sort") or {"column": section["columns"][0]["name"]}
    column = f"abs({_ident(order['column'])})" if order.get("abs") else _ident(order["column"])
    terms = [f"{column} {'desc' if order.get('descending') else 'asc'} nulls last"]
    terms += [f"{_ident(c['name'])} asc nulls last" for c in section["columns"] if c["name"] != order["column"]]
    return ", ".join(terms)


def _drawn(section: Mapping[str, Any]) -> set[str]:
    """The columns a table section's rows need on the page: its columns, period, currency, facet and
    the columns it is sorted and cut by."""
    named = {c["name"] for c in section["columns"]} | set(_groups(section))
    named |= {(section.get(k) or {}).get("column") for k in ("sort", "top")} | {section.get("currency_column")}
    return named - {None}


# `max(x, n)` takes n below a million; a cut that large is no cut
_MAX_CUT = 100_000


def _cut(section: Mapping[str, Any], groups: list[str], limit: int) -> str:
    """The CTE `_cb_candidates`: the rows that can be among the first `limit` of their period (and
    facet), so that only those are ordered whole (ordering every row by every column cost each large
    table most of its time at scale 100). A row comes after at least `limit` others when its first
    order key is beyond the `limit`-th value of that key in its group (`max(key, limit)` gives the
    largest values; ascending, `min`); blanks, ordered last, stay candidates. Ties stay: the whole
    order then chooses among them, as it did among all the rows."""
    if limit >= _MAX_CUT:
        return "_cb_candidates as (select * from _cb_base),"
    order = section.get("top") or section.get("sort") or {"column": section["columns"][0]["name"]}
    column = _ident(order["column"])
    key, of_b = (f"abs({column})", f"abs(b.{column})") if order.get("abs") else (column, f"b.{column}")
    top, edge, beyond = ("max", "list_min", ">=") if order.get("descending") else ("min", "list_max", "<=")
    on = " and ".join(f"c.{g} is not distinct from b.{g}" for g in groups) or "true"
    return f"""_cb_cut as (
            select {"".join(g + ", " for g in groups)}{edge}({top}({key}, {limit})) as _cb_edge
            from _cb_base
            {"group by all" if groups else ""}
        ),
        _cb_candidates as (
            select b.* from _cb_base as b
            inner join _cb_cut as c on {on}
            where {of_b} is null or {of_b} {beyond} c._cb_edge
        ),"""


def table_rows(section: Mapping[str, Any], spec: Mapping[str, Any]) -> int:
    return int(section.get("rows", spec.get("table_rows", DEFAULT_TABLE_ROWS)))


def _body(section: Mapping[str, Any]) -> str:
    from reports.render import query_text  # render imports this module: imported here, not at the top

    return query_text(section["query"]).strip().rstrip(";")


# a query's closing ORDER BY: nothing after it but its terms (no parenthesis, literal, comment, LIMIT)
_CLOSING_ORDER = re.compile(r"\border\s+by\s[^()'\"]*$", re.IGNORECASE)


def _unordered(body: str) -> str:
    """The query without its closing ORDER BY, which `table_top` does not need (it ranks the rows
    itself): sorting every row of a materialized query first cost open invoices a third of its time
    at scale 100. A query whose end is anything else, or whose rows the order picks (DISTINCT ON), is
    left as it is."""
    found = _CLOSING_ORDER.search(body)
    if found is None or re.search(r"--|/\*|\b(limit|offset|fetch)\b", found.group(0), re.IGNORECASE):
        return body
    if re.search(r"\bdistinct\s+on\b", body, re.IGNORECASE):
        return body
    return body[: found.start()]


def table_top(
    con: duckdb.DuckDBPyConnection, section: Mapping[str, Any], spec: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A table section's rows for the page and what it says about the rest: the first `rows` of each
    period (and facet) in the table's order, and per period, facet and currency the count of ALL
    rows and the sums of the `total` columns, in one statement over the section's query.

    Returns ({columns, rows} of the top rows, ordered by period, facet and rank; {limit, order,
    summary: {columns: [*groups, _currency, _rows, *totals], rows}} ordered by its keys)."""
    from reports.render import run_query

    groups = [_ident(c) for c in _groups(section)]
    partition = f"partition by {', '.join(groups)} " if groups else ""
    limit = table_rows(section, spec)
    currency = section.get("currency_column")
    keys = [*groups, _ident(currency) if currency else "null::varchar"]
    totals = [c["name"] for c in section["columns"] if c.get("total")]
    sums = "".join(f", sum({_ident(name)}) as {_ident('_cb_sum_' + name)}" for name in totals)
    result = run_query(
        con,
        f"""
        with _cb_base as materialized ({_unordered(_body(section))}),
        {_cut(section, groups, limit)}
        _cb_top as (
            select *, 0 as _cb_part,
                row_number() over ({partition}order by {_top_order(section)}) as _cb_rank
            from _cb_candidates
            qualify _cb_rank <= {limit}
        ),
        _cb_summary as (
            select {", ".join(f"{k} as {n}" for k, n in zip(keys, [*groups, '"_currency"'], strict=True))},
                1 as _cb_part, count(*)::bigint as _cb_rows{sums}
            from _cb_base
            group by all
        )
        select * from _cb_top
        union all by name
        select * from _cb_summary
        order by _cb_part, {", ".join([*groups, "_currency", "_cb_rank"])}
        """,
    )
    columns = result["columns"]
    at = {name: i for i, name in enumerate(columns)}
    part = at["_cb_part"]
    # the query's own columns come first (`union all by name` keeps the first part's order); the page
    # embeds those it draws, sorts, filters or picks by (the served page's every row has them all)
    drawn = _drawn(section)
    own = [c for c in columns[:part] if c in drawn]
    summary_columns = [*_groups(section), "_currency", "_rows", *totals]
    summary_at = [at[c] for c in [*_groups(section), "_currency", "_cb_rows", *(f"_cb_sum_{t}" for t in totals)]]
    top_rows, summary_rows = [], []
    for row in result["rows"]:
        if row[part] == 0:
            top_rows.append([row[at[c]] for c in own])
        else:
            summary_rows.append([row[i] for i in summary_at])
    described = section.get("top") or section.get("sort") or {}
    return (
        {"columns": own, "rows": top_rows},
        {
            "limit": limit,
            "order": described.get("label"),
            "summary": {"columns": summary_columns, "rows": summary_rows},
        },
    )


def full_table(
    con: duckdb.DuckDBPyConnection, section_id: str, period: str | None, view: str | None = None
) -> dict[str, Any]:
    """Every row of a table section (of `period`, for a table by period): what the served page shows
    in place of the top rows. ValueError for an unknown section or a missing period."""
    from reports.render import existing_tables, layout, query_text, run_query
    from warehouse.models import load_functions

    spec = layout(view) if view is not None else layout()
    tables = {s["id"]: s for s in spec["sections"] if s["component"] == "table"}
    if section_id not in tables:
        raise ValueError(f"no table {section_id!r} on the page (tables: {', '.join(tables)})")
    section = tables[section_id]
    missing = [t for t in section.get("requires", []) if t not in existing_tables(con)]
    if missing:
        raise ValueError(f"table {section_id!r} has no data yet (missing {', '.join(missing)})")
    load_functions(con)
    con.execute(query_text("_kpis_through.sql"))
    body = _body(section)
    column = section.get("period_column")
    if not column:
        return run_query(con, body)
    if not _PERIOD.fullmatch(period or ""):
        raise ValueError(f"table {section_id!r} needs period=YYYY-MM")
    return run_query(con, f"select * from ({body}) as q where {_ident(column)} = ?", [period])
