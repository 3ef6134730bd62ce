"""The offline page's click-to-explain (issue 21 item 4): `page_explanations` computes every figure's
values and largest rows for many months in a few set-based queries; each figure, month by month,
must be exactly what the per-figure path (`closeboard explain`, `GET /api/explain`) gives: the same
value, the same count and total of rows, the same largest rows in the same order.

The months are chosen apart (not one run of months) and include the first reported month (whose
balances start from the postings before it) and the open month, on the demo home's read copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reports import explain
from warehouse.db import connect
from warehouse.models import load_functions

LIMIT = 10


@pytest.fixture(scope="module")
def con(demo_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(demo_home / "warehouse.read.duckdb", read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def months(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The first reported month, two months apart in the middle, the last ended one and the open one."""
    periods = [r[0] for r in con.execute("select period from periods order by period").fetchall()]
    assert len(periods) > 8
    return [periods[0], periods[len(periods) // 2], periods[len(periods) // 2 + 3], periods[-2], periods[-1]]


def per_figure(con: duckdb.DuckDBPyConnection, node: explain.Node, period: str) -> dict[str, Any]:
    """One figure in one month the way `explain` computes it: its value and, for a sum, its rows."""
    ctx = explain._Context(con, explain.mart(), LIMIT)
    if node.kind == "sum":
        return explain._explain_node(ctx, node, period)
    return {"value": explain._plain(explain._value(ctx, node, period))}


def test_every_figure_of_the_page_is_the_per_figure_explanation(con, months: list[str]) -> None:
    page = explain.page_explanations(con, months, limit=LIMIT)
    model = explain.mart()
    load_functions(con)
    nodes = explain._nodes(explain.trace(model, explain._wide(model).name, k) for k in explain.kpis(model))
    assert set(page["figures"]) == {f"{n.where}.{n.name}" for n in nodes}
    compared = {"values": 0, "rows": 0, "shown": 0, "earlier": 0}
    starts = dict(con.execute("select period, period_start::varchar from periods").fetchall())
    for node in nodes:
        figure = page["figures"][f"{node.where}.{node.name}"]
        has_period = node.kind == "column" or "period" in model.ctes[node.where].items
        for period in months:
            expected = per_figure(con, node, period)
            if has_period:  # (a CTE without the month, e.g. no bookings, has no value: None both ways)
                assert figure["values"].get(period) == expected["value"], (node.name, period)
                compared["values"] += period in figure["values"]
            else:  # the same figure in every month: the page shows the KPI's own value
                assert figure["values"] == {}, node.name
            if node.kind != "sum":
                continue
            rows = expected["rows"]
            embedded = figure["rows"].get(period if rows["per_period"] else "*")
            if rows["count"] == 0:
                assert embedded is None, (node.name, period)
                continue
            assert (embedded["count"], embedded["total"]) == (rows["count"], rows["total"]), (node.name, period)
            assert embedded["shown"] == [[r.get(c) for c in figure["columns"]] for r in rows["shown"]], (
                node.name,
                period,
            )
            compared["rows"] += 1
            compared["shown"] += len(rows["shown"])
            # a balance's lines posted before the month, listed as that month's rows
            compared["earlier"] += sum(1 for r in rows["shown"] if (r.get("posted_date") or "9") < starts[period])
    # the comparison covered the ledger's sums (lines at the grain of a balance included) and records
    sums = [n for n in nodes if n.kind == "sum"]
    assert {"period_figures", "burn_by_month", "bookings", "pipeline"} <= {n.where for n in sums}
    assert compared["rows"] >= len(months) * (len(sums) - 2)
    assert compared["shown"] > compared["rows"] * (LIMIT // 2)
    assert compared["earlier"] > 0
    assert compared["values"] > len(nodes) * len(months) // 2
