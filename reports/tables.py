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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import duckdb

DEFAULT_TABLE_ROWS = 50
_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


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


def table_rows(section: Mapping[str, Any], spec: Mapping[str, Any]) -> int:
    return int(section.get("rows", spec.get("table_rows", DEFAULT_TABLE_ROWS)))


def _body(section: Mapping[str, Any]) -> str:
    from reports.render import query_text  # render imports this module: imported here, not at the top

    return query_text(section["query"]).strip().rstrip(";")


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
        with _cb_base as materialized ({_body(section)}),
        _cb_top as (
            select *, 0 as _cb_part,
                row_number() over ({partition}order by {_top_order(section)}) as _cb_rank
            from _cb_base
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
    own = columns[:part]  # the query's own columns come first (`union all by name` keeps the first part's order)
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
