"""The page's open documents kept in the warehouse (issue 21: render <= 1 s at scale 100). A render
computes open_documents() once (reports/tables.py `open_documents_once`, ~0.17 s at scale 100) and keeps
the copy as `kept_open_documents` under the fingerprint of what it is a function of; the next render
reads it back while that is unchanged. On a copy of the demo home's warehouse:

- read back, the open documents equal a fresh computation by the warehouse's own macro, and nothing is
  computed;
- a change to any input (one payment's amount, the report date) computes them again, equal to a fresh
  computation, and keeps the new copy;
- a read-only warehouse (the readers' copy) keeps nothing;
- the fingerprint covers everything open_documents() reads: with every other table gone it still runs.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from reports import render, tables
from reports.render import existing_tables
from warehouse.db import connect
from warehouse.models import load_functions

ORDER = "order by all"


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The open documents' computations (each run of _open_documents_once.sql), none when read back."""
    calls: list[str] = []
    query_text = render.query_text

    def counting(name: str) -> str:
        if name == "_open_documents_once.sql":
            calls.append(name)
        return query_text(name)

    monkeypatch.setattr(render, "query_text", counting)
    return calls


def rendered(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The open documents a render's queries read (inside `open_documents_once`)."""
    load_functions(con)
    with tables.open_documents_once(con, existing_tables(con)):
        return con.execute(f"select * from open_documents() {ORDER}").fetchall()


def fresh(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The open documents by the warehouse's own macro, from the tables as they are."""
    load_functions(con)
    return con.execute(f"select * from open_documents() {ORDER}").fetchall()


def test_a_render_keeps_them_and_the_next_reads_them_back(con: duckdb.DuckDBPyConnection, computed: list) -> None:
    assert rendered(con) == fresh(con) and computed == []  # the demo's refresh kept them already
    con.execute("delete from kept_open_documents_inputs")  # nothing kept
    first = rendered(con)
    assert first == fresh(con) and first and computed == ["_open_documents_once.sql"]
    assert con.execute(f"select * from kept_open_documents {ORDER}").fetchall() == first
    computed.clear()
    assert rendered(con) == first and computed == []
    assert fresh(con) == first  # after the block the warehouse's own macro is back


@pytest.mark.parametrize(
    "change",
    [
        "update erp_payments set amount = amount + 0.01 where payment_id = (select min(payment_id) from erp_payments)",
        "update run_context set as_of = as_of - 1",
    ],
    ids=["one payment's amount", "the report date"],
)
def test_any_change_to_what_they_read_computes_them_again(
    con: duckdb.DuckDBPyConnection, computed: list, change: str
) -> None:
    before = rendered(con)
    con.execute(change)
    computed.clear()
    after = rendered(con)
    assert computed == ["_open_documents_once.sql"] and after == fresh(con) and after != before
    computed.clear()
    assert rendered(con) == after and computed == []  # the new copy is the one kept


def test_a_read_only_warehouse_keeps_nothing(home: Path, computed: list) -> None:
    with connect(home / "warehouse.duckdb") as writer:
        writer.execute("delete from kept_open_documents_inputs")  # nothing kept
    with connect(home / "warehouse.duckdb", read_only=True) as reader:
        load_functions(reader)
        assert rendered(reader) == fresh(reader) and computed == ["_open_documents_once.sql"]
        assert reader.execute("select count(*) from kept_open_documents_inputs").fetchone() == (0,)


def test_the_fingerprint_covers_everything_open_documents_reads(home: Path) -> None:
    """A database where only the tables the fingerprint hashes hold rows (every other one empty) gives
    the same open documents."""
    with connect(home / "warehouse.duckdb", read_only=True) as warehouse:
        load_functions(warehouse)
        expected = warehouse.execute(f"select * from open_documents() {ORDER}").fetchall()
        every = existing_tables(warehouse)
    alone = duckdb.connect()
    alone.execute(f"attach '{home / 'warehouse.duckdb'}' as w (read_only)")
    for name in sorted(every):
        rows = "" if name in tables.OPEN_DOCUMENTS_READS else " where false"
        alone.execute(f'create table main."{name}" as select * from w."{name}"{rows}')
    alone.execute("detach w")
    load_functions(alone)
    assert alone.execute(f"select * from open_documents() {ORDER}").fetchall() == expected and expected
