"""The page's explanations kept in the warehouse (issue 21: render <= 1 s at scale 100). Computing the
page's click-to-explain is most of a page's render (~0.7 s of ~1.4 s at scale 100); `page_explanations`
keeps the last ones under the fingerprint of everything they are a function of (`explain.page_inputs`),
and a page whose inputs are unchanged reads them back, its sources (this run's loads and calls) read
again. On a copy of the demo home's warehouse:

- read back, they equal a fresh computation, and nothing is computed;
- a change to any input, however small (one journal line's description in the first reported month, an
  account's name, the reporting currency), computes them again, equal to a fresh computation;
- a change to the sources' loads and calls alone computes nothing, and the page shows the new ones;
- a read-only warehouse (the read copy) computes them and keeps nothing;
- a CFO view with a statement, rendered from the read copy as each refresh publishes it, reads back the
  ones the page kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from reports import explain, render
from reports.views import load_views, render_view_html
from warehouse.db import connect
from warehouse.models import load_functions

COMPUTE = render._explanations  # the computation itself (the tests below count its calls)


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The periods of each computation of the explanations (none when they are read back)."""
    calls: list[list[str]] = []
    compute = render._explanations

    def counting(con: Any, tables: set[str], periods: list[str], spec: Any) -> dict[str, Any]:
        calls.append(periods)
        return compute(con, tables, periods, spec)

    monkeypatch.setattr(render, "_explanations", counting)
    return calls


def page(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The explanations the page gets (as `page_data` asks for them)."""
    return render._page_explanations(con, render.existing_tables(con), render.layout(None))


def fresh(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The explanations computed from the warehouse as it is, for the periods the page lists."""
    spec = render.layout(None)
    load_functions(con)
    listed = render.run_query(con, render.query_text(spec["periods_query"]))
    periods = [row[listed["columns"].index("period")] for row in listed["rows"]]
    return COMPUTE(con, render.existing_tables(con), periods, spec.get("explain", {}))


def kept(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("select digest from page_explanations").fetchall()]


def test_unchanged_inputs_read_them_back_and_any_change_computes_them_again(
    con: duckdb.DuckDBPyConnection, computed: list[list[str]]
) -> None:
    page(con)  # the demo's own render kept them already, or this one does
    digest = kept(con)
    assert len(digest) == 1
    computed.clear()

    again = page(con)
    assert computed == [] and kept(con) == digest
    expected = fresh(con)
    assert again == expected and list(again) == list(expected)  # the same keys in the same order

    first_period = con.execute("select min(period) from periods").fetchone()[0]
    changes = [
        # one journal line's description, in the first reported month
        f"""update erp_journal_lines set description = description || ' (corrected)'
            where (entry_id, line_no) = (select (entry_id, line_no) from erp_journal_lines
                                         where strftime(posted_date, '%Y-%m') = '{first_period}'
                                         order by entry_id, line_no limit 1)""",
        "update erp_accounts set name = name || ' (renamed)' where account_id = (select min(account_id) from erp_accounts)",
        "update run_context set currency = 'EUR'",
    ]
    for change in changes:
        con.execute(change)
        computed.clear()
        changed = page(con)
        assert len(computed) == 1, change
        assert kept(con) != digest, change
        digest = kept(con)
        assert changed == fresh(con), change
        computed.clear()
        assert page(con) == changed and computed == []  # and kept again


def test_the_sources_are_read_again_with_the_rest_read_back(
    con: duckdb.DuckDBPyConnection, computed: list[list[str]]
) -> None:
    page(con)
    before = page(con)["sources"]
    con.execute("update connector_calls set status = 'error', error = 'a retried page' where page = 1")
    computed.clear()
    after = page(con)
    assert computed == []
    assert after["sources"] != before and after["sources"] == explain.page_sources(con)
    assert after == fresh(con)
    assert any(c["status"] == "error" for s in after["sources"] for c in s["calls"])


def test_a_read_only_warehouse_computes_them_and_keeps_nothing(home: Path, computed: list[list[str]]) -> None:
    with connect(home / "warehouse.duckdb") as writable:
        writable.execute("delete from page_explanations")
    with connect(home / "warehouse.duckdb", read_only=True) as read_only:
        first = page(read_only)
        assert len(computed) == 1 and kept(read_only) == []
        assert page(read_only) == first and len(computed) == 2


def test_a_view_with_a_statement_reads_back_the_ones_the_page_kept(
    demo_home: Path, tmp_path: Path, computed: list[list[str]]
) -> None:
    folder = tmp_path / "views"
    folder.mkdir()
    (folder / "statements.md").write_text("# Statements\n\n```statement\nstatement: income_statement\n```\n")
    (view,) = load_views(folder)
    with connect(demo_home / "warehouse.read.duckdb", read_only=True) as read_copy:  # as the demo's refresh left it
        assert len(kept(read_copy)) == 1
        html, problems = render_view_html(view, read_copy, company="Demo Co", run_id="kept-test")
    assert problems == [] and "view-statement" in html
    assert computed == []
