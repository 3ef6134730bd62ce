"""warehouse.db.ensure_schema: the schema files run on a warehouse that needs them (new, from an earlier
closeboard, missing a table or a view), and not again on one already at their schema (its stamp)."""

from __future__ import annotations

import duckdb

from warehouse.db import SCHEMA_FILES, ensure_schema, scalar, sql_text

MARKER = "create or replace view configured_loads as select 42 as marker"  # a view the files replace


def stamped(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("select * from warehouse_schema").fetchall()


def test_a_new_warehouse_gets_every_table_and_the_stamp_once() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    assert len(stamped(con)) == 1
    for name in ("erp_journal_lines", "connector_calls", "recon_bank_match_spans", "close_snapshot_seals"):
        assert scalar(con, f"select count(*) from {name}") == 0
    ensure_schema(con)
    assert len(stamped(con)) == 1


def test_a_warehouse_at_the_schema_is_left_as_it_is() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    con.execute(MARKER)
    ensure_schema(con)  # the stamp matches and every relation exists: no schema file runs
    assert con.execute("select * from configured_loads").fetchall() == [(42,)]


def test_a_missing_table_or_view_is_created_again() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    con.execute("drop table close_snapshot_seals")
    con.execute("drop view recon_bank_matches")
    ensure_schema(con)
    assert scalar(con, "select count(*) from close_snapshot_seals") == 0
    assert scalar(con, "select count(*) from recon_bank_matches") == 0


def test_a_stamp_of_other_schema_files_runs_them_again() -> None:
    """A warehouse stamped by a closeboard whose schema files differed (an upgrade): they run, then
    the stamp is this closeboard's."""
    con = duckdb.connect()
    ensure_schema(con)
    stamp = stamped(con)
    con.execute(MARKER)
    con.execute("update warehouse_schema set digest = 'an earlier schema'")
    ensure_schema(con)
    assert "marker" not in [d[0] for d in con.execute("select * from configured_loads").description]
    assert stamped(con) == stamp


def test_the_stamp_is_part_of_the_schema_files() -> None:
    assert any("create table if not exists warehouse_schema" in sql_text("schema", f) for f in SCHEMA_FILES)
