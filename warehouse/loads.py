"""The operational records of a refresh, next to the published tables: what each source's ledger
summary was, when a table was last pulled whole, what was set aside and why, which MCP calls were
made, how each source is reached, the settings the marts are built for, and the page's explanations
and open documents as last computed.

Each statement lives in ``sql/ops/<name>.sql``; this module registers Arrow rows and runs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from warehouse.db import sql_text, transaction

# The tool recorded in source_loads for a source closeboard.yaml leaves out (its tables published
# empty); the view configured_loads (sql/schema/ops.sql) leaves those loads out.
NOT_CONFIGURED = "(not configured)"

SUMMARY_SCHEMA = pa.schema(
    [
        ("period", pa.string()),
        ("account_id", pa.string()),
        ("lines", pa.int64()),
        ("debit", pa.decimal128(18, 2)),
        ("credit", pa.decimal128(18, 2)),
    ]
)


def run(con: duckdb.DuckDBPyConnection, name: str, params: Sequence[Any] = ()) -> duckdb.DuckDBPyConnection:
    """Run every statement of ``sql/ops/<name>.sql``; those that take parameters get ``params``."""
    for statement in sql_text("ops", f"{name}.sql").split(";"):
        code = "\n".join(line for line in statement.splitlines() if not line.strip().startswith("--")).strip()
        if code:
            con.execute(code, list(params) if "$" in code else None)
    return con


def _with_rows(
    con: duckdb.DuckDBPyConnection, view: str, rows: pa.Table, name: str, params: Sequence[Any] = ()
) -> None:
    con.register(view, rows)
    try:
        run(con, name, params)
    finally:
        con.unregister(view)


def stored_summary(con: duckdb.DuckDBPyConnection, source: str) -> list[tuple[str, str, int, Any, Any]]:
    """The summary stored at the last load under `source` (a source's ledger summary, or
    `source/table` for a table pulled by months): (period, account or key, lines, debit, credit)."""
    return run(con, "baseline_summary", [source]).fetchall()


def replace_summary(con: duckdb.DuckDBPyConnection, source: str, rows: Iterable[Sequence[Any]]) -> None:
    """Store the summary rows (period, account or key, lines, debit, credit) under `source` (see
    `stored_summary`)."""
    table = pa.Table.from_pylist(
        [dict(zip(SUMMARY_SCHEMA.names, row, strict=True)) for row in rows], schema=SUMMARY_SCHEMA
    )
    _with_rows(con, "_summary", table, "ledger_summary_replace", [source])


def pulled_whole_within(con: duckdb.DuckDBPyConnection, source: str, days: float) -> bool:
    """True when `source`'s tables pulled by months were last pulled whole within the last `days`."""
    return bool(run(con, "full_pull_recent", [source, int(days * 86_400_000)]).fetchone()[0])  # type: ignore[index]


def record_full_pull(con: duckdb.DuckDBPyConnection, source: str, table: str) -> None:
    run(con, "full_pull_record", [source, table])


def append_rejected(con: duckdb.DuckDBPyConnection, rows: list[Mapping[str, Any]]) -> None:
    """Items an adapter set aside (run_id, source, tool, record, reason) into `quarantine`."""
    if rows:
        _with_rows(con, "_rejected", pa.Table.from_pylist(list(rows)), "quarantine_append")


def append_calls(con: duckdb.DuckDBPyConnection, rows: list[Mapping[str, Any]]) -> None:
    """A run's MCP calls (run_id and the call record's fields) into `connector_calls`."""
    if rows:
        _with_rows(con, "_calls", pa.Table.from_pylist(list(rows)), "connector_calls_append")


def replace_run_context(
    con: duckdb.DuckDBPyConnection, first_period: str, report_date: Any, fiscal_year_start_month: int, currency: str
) -> None:
    """The settings the marts are built for (one row)."""
    run(con, "run_context_replace", [first_period, report_date, fiscal_year_start_month, currency])


def replace_connector_sources(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Per configured source: (source, adapter, transport, auth kind), never a secret."""
    names = ("source", "adapter", "transport", "auth_kind")
    table = pa.Table.from_pylist(
        [dict(zip(names, row, strict=True)) for row in rows], schema=pa.schema([(n, pa.string()) for n in names])
    )
    with transaction(con):
        _with_rows(con, "_sources", table, "connector_sources_replace")


def stored_explanations(con: duckdb.DuckDBPyConnection, digest: str) -> str | None:
    """The page's explanations (JSON text) stored under `digest`, or None."""
    row = run(con, "page_explanations_stored", [digest]).fetchone()
    return None if row is None else row[0]


def replace_explanations(con: duckdb.DuckDBPyConnection, digest: str, text: str) -> None:
    """Keep the page's explanations (JSON text) under `digest`, in place of the stored ones."""
    with transaction(con):
        run(con, "page_explanations_replace", [digest, text])


def kept_open_documents(con: duckdb.DuckDBPyConnection) -> str | None:
    """The fingerprint the page's kept open documents (kept_open_documents) were computed under, or None."""
    row = run(con, "open_documents_kept").fetchone()
    return None if row is None else row[0]


def keep_open_documents(con: duckdb.DuckDBPyConnection, digest: str) -> None:
    """Keep the render's open documents (its temp table page_open_documents) under `digest`, in place of
    the kept ones."""
    with transaction(con):
        run(con, "open_documents_replace", [digest])


def source_freshness(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """Per configured source, the as-of its server reported at its last load."""
    return dict(run(con, "source_freshness").fetchall())
