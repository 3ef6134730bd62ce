"""The canonical record contract is declared twice (connectors' text columns, the warehouse's SQL
types); they must name the same tables and columns in the same order."""

from __future__ import annotations

import duckdb

from connectors.records import CANONICAL, KEYS
from warehouse.db import ensure_schema


def test_connector_records_match_the_warehouse_schema() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    for table, columns in CANONICAL.items():
        declared = [name for (name,) in con.execute(
            "select column_name from duckdb_columns() where table_name = ? order by column_index", [table]
        ).fetchall()]
        assert tuple(declared) == columns, table
        keys = con.execute(
            "select constraint_column_names from duckdb_constraints() "
            "where table_name = ? and constraint_type = 'PRIMARY KEY'", [table]
        ).fetchall()
        assert tuple(keys[0][0]) == KEYS[table], table
