"""The canonical record contract is declared twice (connectors' text columns, the warehouse's SQL
types); they must name the same tables, columns and keys in the same order."""

from __future__ import annotations

import re

import duckdb

from connectors.records import CANONICAL, KEYS
from warehouse.db import ensure_schema, sql_text

SCHEMA = sql_text("schema", "canonical.sql")


def test_connector_records_match_the_warehouse_schema() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    for table, columns in CANONICAL.items():
        declared = [name for (name,) in con.execute(
            "select column_name from duckdb_columns() where table_name = ? order by column_index", [table]
        ).fetchall()]
        assert tuple(declared) == columns, table
        block = SCHEMA.split(f"create table if not exists {table} (")[1].split(");")[0]
        composite = re.search(r"-- key: \(([^)]*)\)", block)
        keys = composite.group(1).split(", ") if composite else re.findall(r"^\s+(\w+)\s.*-- key$", block, re.M)
        assert tuple(keys) == KEYS[table], table
