"""Glue between connectors and the warehouse: pull one source into staging, then publish it.

No DuckDB connection is open while MCP pages arrive; the publish is one short transaction.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pandas as pd
import pyarrow as pa

from connectors.adapters import get_adapter
from connectors.client import CallLog, SourceSession
from connectors.config import Config
from connectors.pull import SourcePull, pull_source
from connectors.records import KEYS
from warehouse.db import frame
from warehouse.home import Home
from warehouse.publish import Published, StagedTable, publish
from warehouse.staging import Stager


@dataclass
class Ingested:
    source: str
    pull: SourcePull
    published: dict[str, Published]
    previews: dict[str, str]  # table -> markdown of its first rows, for the Dagster UI


def preview_markdown(con: duckdb.DuckDBPyConnection, table: str, rows: int = 5) -> str:
    """The first rows of a table as a markdown table (values as text, escaped for the pipe)."""
    sample = frame(con, f'select * from "{table}" limit {int(rows)}')
    cells = [[("" if v is None or v is pd.NA else str(v)).replace("|", "\\|") for v in row]
             for row in sample.astype(object).itertuples(index=False)]
    header = "| " + " | ".join(sample.columns) + " |"
    rule = "|" + "---|" * len(sample.columns)
    return "\n".join([header, rule, *("| " + " | ".join(r) + " |" for r in cells)])


async def _pull(config: Config, source: str, home: Home, stager: Stager, log: CallLog, server: Any) -> SourcePull:
    connector = config.connectors[source]
    adapter = get_adapter(connector.adapter)
    async with SourceSession(connector, home=home.root, log=log, server=server) as session:
        return await pull_source(session, adapter, stager.write)


def write_rejected(con: duckdb.DuckDBPyConnection, run_id: str, source: str, pull: SourcePull) -> None:
    """Items the adapter could not map at all go to `quarantine` with its reason."""
    rows = [{"run_id": run_id, "source": source, "tool": t.tool, "record": record, "reason": reason}
            for t in pull.tables.values() for record, reason in t.rejected]
    if rows:
        con.register("_rejected", pa.Table.from_pylist(rows))
        try:
            con.execute("insert into quarantine select run_id, source, tool, record, reason from _rejected")
        finally:
            con.unregister("_rejected")


def write_calls(con: duckdb.DuckDBPyConnection, run_id: str, log: CallLog) -> None:
    if not log.records:
        return
    calls = pa.Table.from_pylist([{"run_id": run_id, **vars(r)} for r in log.records])
    con.register("_calls", calls)
    try:
        con.execute(
            "insert into connector_calls select run_id, source, tool, arguments, page, items, bytes, "
            "duration_ms, status, error from _calls"
        )
    finally:
        con.unregister("_calls")


def ingest_source(
    config: Config,
    source: str,
    *,
    home: Home,
    run_id: str,
    connect: Any,
    server: Any = None,
) -> Ingested:
    """Pull `source` (every table its adapter feeds) and publish it atomically.

    `connect` is a context-manager factory for the live warehouse. On any failure the staged
    pages are dropped and the warehouse keeps its previous tables; the calls made are still
    written to `connector_calls` so the failure can be audited."""
    stage_dir: Path = home.staging / run_id / source
    stager = Stager(stage_dir)
    log = CallLog()
    try:
        pull = anyio.run(_pull, config, source, home, stager, log, server)
        staged = stager.close()
        tables = [
            StagedTable(t.table, staged[t.table], source, t.tool, KEYS[t.table], t.reported_total, t.as_of)
            for t in pull.tables.values()
        ]
        with connect() as con:
            published = publish(con, tables, run_id=run_id)
            write_rejected(con, run_id, source, pull)
            write_calls(con, run_id, log)
            previews = {t.table: preview_markdown(con, t.table) for t in tables}
        return Ingested(source, pull, published, previews)
    except BaseException:
        stager.discard()
        try:
            with connect() as con:
                write_calls(con, run_id, log)
        except Exception:
            pass  # the audit trail must not hide the original error
        raise
    finally:
        shutil.rmtree(stage_dir, ignore_errors=True)
        if stage_dir.parent.exists() and not any(stage_dir.parent.iterdir()):
            stage_dir.parent.rmdir()
