"""Build the read-side marts (DESIGN "The read side") from the canonical tables and `run_context`.

The models are the `.sql` files in `sql/marts/`, run in file-name order; each holds one or more
statements (`create or replace table <name> as ...`, or a view such as `reported_kpis`). `build_marts`
runs them all in one transaction when the caller has none open, so a failing model leaves the
previous marts in place. `00_functions.sql` holds the macros every reader shares (`load_functions`):
the calendar, the open documents, exact division and the subtype label.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import duckdb

from warehouse.db import scalar, sql_text

MART_DIR = Path(__file__).parent / "sql" / "marts"
# the temp macros the models, the reconciliation and the report queries share (calendar(),
# open_documents(), div_round2, subtype_label): they live in a connection, so each reader loads them
FUNCTIONS_FILE = MART_DIR / "00_functions.sql"

_LINE_COMMENT = re.compile(r"--[^\n]*")
_CREATE_TABLE = re.compile(r"\bcreate\s+or\s+replace\s+table\s+([a-z_][a-z0-9_]*)", re.IGNORECASE)


def build_marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Run every model against `con`; return the names of the tables built, in build order."""
    contexts = con.execute("select count(*) from run_context").fetchone()[0]
    if contexts != 1:
        raise ValueError(f"run_context must hold exactly one row, found {contexts}")

    owns_transaction = _begin(con)
    built: list[str] = []
    try:
        # the reported_kpis view reads the close history: its (append-only) tables must exist
        if not scalar(con, "select count(*) from duckdb_tables() where table_name = 'close_snapshots'"):
            con.execute(sql_text("schema", "snapshots.sql"))
        for path in sorted(MART_DIR.glob("*.sql")):
            sql = path.read_text(encoding="utf-8")
            con.execute(sql)
            built.extend(name.lower() for name in _CREATE_TABLE.findall(_LINE_COMMENT.sub("", sql)))
    except BaseException:
        if owns_transaction:
            con.execute("rollback")
        raise
    if owns_transaction:
        con.execute("commit")
    return built


def load_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Define the shared macros (sql/marts/00_functions.sql) in `con`; idempotent."""
    con.execute(functions_sql())


@functools.cache
def functions_sql() -> str:
    """The shared macros' SQL (read once per process)."""
    return FUNCTIONS_FILE.read_text(encoding="utf-8")


def _begin(con: duckdb.DuckDBPyConnection) -> bool:
    """Open a transaction unless the caller already holds one; True when we opened it.

    A failed BEGIN aborts the caller's transaction, so it is not tried blindly: in autocommit mode
    every statement runs in a new transaction, so two reads of the id differ; inside one they match.
    """
    first, second = (con.execute("select current_transaction_id()").fetchall()[0][0] for _ in range(2))
    if first == second:
        return False
    con.execute("begin transaction")
    return True
