"""The `sql` adapter's exact-value check takes each column's decimal places from the canonical schema
(connectors.records.TABLES), so a column declared with other places there is checked at those places.
Compared with DuckDB's own reading of warehouse/sql/schema/canonical.sql."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from connectors.adapters.sql import MONEY_SCALE, SqlAdapter
from connectors.records import CANONICAL, SCHEMA_FILE


def test_money_scale_is_the_schemas_decimal_places_per_table() -> None:
    con = duckdb.connect()
    con.execute(SCHEMA_FILE.read_text(encoding="utf-8"))
    declared: dict[str, dict[str, int]] = {table: {} for table in CANONICAL}
    for table, column, scale in con.execute(
        "select table_name, column_name, numeric_scale from information_schema.columns where data_type like 'DECIMAL%'"
    ).fetchall():
        declared[table][column] = scale
    con.close()
    assert MONEY_SCALE == declared
    assert MONEY_SCALE["erp_fx_rates"]["rate"] != MONEY_SCALE["erp_journal_lines"]["debit"]  # not one figure for all


def test_a_real_is_checked_at_its_own_columns_places() -> None:
    places = MONEY_SCALE["erp_fx_rates"]["rate"]
    exact = Decimal("1." + "1" * places)
    assert SqlAdapter.problems({"rate": exact}, "erp_fx_rates") == []
    (problem,) = SqlAdapter.problems({"rate": Decimal(str(exact) + "1")}, "erp_fx_rates")
    assert f"not exact at {places} decimal places" in problem
    (problem,) = SqlAdapter.problems({"debit": Decimal("1.005")}, "erp_journal_lines")
    assert "not exact at 2 decimal places" in problem
