"""Glue between connectors and the warehouse: pull one source into staging, then publish it.

No DuckDB connection is open while MCP pages arrive; the publish is one short transaction.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import duckdb

from connectors.adapters import Adapter, get_adapter
from connectors.adapters.base import to_text_batch
from connectors.audit import scrub
from connectors.periods import period_of
from connectors.plain import printable
from connectors.client import CallLog, SourceSession
from connectors.config import Config
from connectors.incremental import Baseline, stored_baseline, summary_rows
from connectors.prestart import ServerPool
from connectors.pull import SourcePull, TablePull, pull_source
from connectors.records import KEYS, source_tables
from pipelines import progress
from warehouse import loads
from warehouse.db import row_count
from warehouse.home import Home
from warehouse.loads import NOT_CONFIGURED
from warehouse.publish import Published, StagedTable, publish
from warehouse.staging import Stager

PERIOD_COLUMNS = {"erp_journal_lines": "posted_date", "erp_trial_balance": "balance_date"}


@dataclass
class Ingested:
    source: str
    pull: SourcePull
    published: dict[str, Published]
    previews: dict[str, str]  # table -> markdown of its first rows, for the Dagster UI


_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|~&])")  # what makes a link, image, HTML, code or a new cell


def markdown_cell(value: object) -> str:
    """A value as the text of one markdown table cell: control characters and escape sequences
    removed, line breaks as spaces, and every character markdown (or HTML in it) would read as
    syntax backslash-escaped, so a server's text shows as the text it is: no link, image, HTML or
    broken table."""
    if value is None:
        return ""
    text = printable(str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " "))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def preview_markdown(con: duckdb.DuckDBPyConnection, table: str, rows: int = 5) -> str:
    """The first rows of a table as a markdown table (values as text, exact: DECIMAL as Decimal, escaped
    for markdown). Read as Python values, not through pandas (a dozen tables per refresh)."""
    cursor = con.execute(f'select * from "{table}" limit {int(rows)}')
    names = [d[0] for d in cursor.description]
    cells = [[markdown_cell(v) for v in row] for row in cursor.fetchall()]
    header = "| " + " | ".join(markdown_cell(c) for c in names) + " |"
    rule = "|" + "---|" * len(names)
    return "\n".join([header, rule, *("| " + " | ".join(r) + " |" for r in cells)])


async def _pull(
    config: Config,
    source: str,
    adapter: Adapter,
    home: Home,
    stager: Stager,
    log: CallLog,
    server: Any,
    servers: ServerPool | None,
    baseline: Baseline | None,
    month_baselines: dict[str, Baseline],
) -> SourcePull:
    connector = config.connectors[source]
    async with SourceSession(connector, home=home.root, log=log, server=server, servers=servers) as session:
        return await pull_source(session, adapter, stager.write, baseline, month_baselines)


def summary_scope(source: str, table: str | None = None) -> str:
    """Under which name a summary is stored in `ledger_summary`: the source for its ledger summary,
    `source/table` for a table pulled by months (documents, bank lines)."""
    return source if table is None else f"{source}/{table}"


def read_baseline(con: duckdb.DuckDBPyConnection, scope: str, table: str, open_month: str | None) -> Baseline | None:
    """The summary stored under `scope` at the last load, every month settled but `open_month`
    (sign-off does not decide what is pulled). None when `table` is empty, so a first load is whole."""
    if not row_count(con, table):
        return None
    summary = summary_rows(
        {"period": p, "account_id": a, "lines": n, "debit": d, "credit": c}
        for p, a, n, d, c in loads.stored_summary(con, scope)
    )
    return stored_baseline(summary, open_month)


def full_pull_due(con: duckdb.DuckDBPyConnection, source: str, every_days: float | None) -> bool:
    """True when the source's windowed table was last pulled whole more than `every_days` ago (or
    never, as far as this warehouse knows)."""
    return every_days is not None and not loads.pulled_whole_within(con, source, every_days)


def write_rejected(con: duckdb.DuckDBPyConnection, run_id: str, source: str, pull: SourcePull) -> None:
    """Items the adapter could not map at all go to `quarantine` with its reason; a secret the server
    echoed into one (a value closeboard expanded, a token) is blanked first, as in the call log."""
    loads.append_rejected(
        con,
        [
            {"run_id": run_id, "source": source, "tool": tool, "record": scrub(record), "reason": scrub(reason)}
            for t in pull.tables.values()
            for record, reason, tool in t.rejected
        ],
    )


def write_calls(con: duckdb.DuckDBPyConnection, run_id: str, log: CallLog) -> None:
    loads.append_calls(con, [{"run_id": run_id, **vars(r)} for r in log.records])


def ingest_source(
    config: Config,
    source: str,
    *,
    home: Home,
    run_id: str,
    connect: Any,
    server: Any = None,
    servers: ServerPool | None = None,
) -> Ingested:
    """Pull `source` (every table its adapter feeds) and publish it atomically; on `servers`' event
    loop, adopting the server it started ahead for this source, when given (connectors/prestart.py).

    `connect` is a context-manager factory for the live warehouse. On any failure the staged
    pages are dropped and the warehouse keeps its previous tables; the calls made are still
    written to `connector_calls` so the failure can be audited."""
    stage_dir: Path = home.staging / run_id / source
    stager = Stager(stage_dir)
    log = CallLog()
    if source not in config.connectors:
        return _publish_not_configured(source, home=home, run_id=run_id, connect=connect, stager=stager)
    adapter = get_adapter(config.connectors[source].adapter)
    baseline = None
    month_baselines: dict[str, Baseline] = {}
    by_month = [m.table for m in adapter.month_summaries]
    if adapter.windowed_table or by_month:  # a brief read before any MCP I/O; closed again at once
        open_month = period_of(config.company.report_date())
        with connect() as con:
            if adapter.windowed_table:
                baseline = read_baseline(con, source, adapter.windowed_table, open_month)
            for months in adapter.month_summaries:  # a digest of every row: no month is pulled unchanged
                if (stored := read_baseline(con, summary_scope(source, months.table), months.table, None)) is not None:
                    month_baselines[months.table] = stored
            due = full_pull_due(con, source, config.connectors[source].full_pull_every_days)
            if (baseline is not None or month_baselines) and due:
                whole = ", ".join(t for t in (adapter.windowed_table, *by_month) if t)
                progress.emit(f"{source}: pulling {whole} whole (the periodic full pull)")
                baseline, month_baselines = None, {}
    try:
        run = servers.call if servers is not None else anyio.run
        pull = run(_pull, config, source, adapter, home, stager, log, server, servers, baseline, month_baselines)
        for note in log.notes:  # e.g. the tools approved on trust at the first connection
            progress.emit(f"{source}: {note}")
        for table in source_tables(source):  # a table the adapter does not feed is emptied, not left stale
            if table not in pull.tables:
                pull.tables[table] = TablePull(table, f"(none: adapter {adapter.name!r} does not read it)")
                stager.write(table, to_text_batch(table, []))
        staged = stager.close()
        tables = [
            StagedTable(
                t.table,
                staged[t.table],
                source,
                t.tool,
                KEYS[t.table],
                t.reported_total,
                t.as_of,
                replace_periods=_replaced(pull, t.table, adapter.windowed_table),
                period_column=pull.by_month[t.table].period_column
                if t.table in pull.by_month
                else PERIOD_COLUMNS.get(t.table),
                rejected=len(t.rejected),
            )
            for t in pull.tables.values()
        ]
        with connect() as con:
            published = publish(con, tables, run_id=run_id)
            # after the publish: a failure here only makes the next pull wider
            if pull.summary is not None:
                loads.replace_summary(con, summary_scope(source), pull.summary)
            for table, months in pull.by_month.items():
                loads.replace_summary(con, summary_scope(source, table), months.summary)
            windowed = [t for t in (adapter.windowed_table, *(m.table for m in adapter.month_summaries)) if t]
            if windowed and all(_replaced(pull, t, adapter.windowed_table) is None for t in windowed):
                loads.record_full_pull(con, source, ", ".join(windowed))
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


def _replaced(pull: SourcePull, table: str, windowed_table: str | None) -> tuple[str, ...] | None:
    """The months of `table` this pull replaces (None: the whole table)."""
    if table == windowed_table:
        periods = pull.replaced_periods
    elif table in pull.months_read:
        periods = pull.months_read[table]
    else:
        periods = pull.by_month[table].periods if table in pull.by_month else None
    return tuple(periods) if periods is not None else None


def _publish_not_configured(source: str, *, home: Home, run_id: str, connect: Any, stager: Stager) -> Ingested:
    """A source closeboard.yaml does not configure (bank and CRM are optional): its tables are
    published empty, so nothing stale from an earlier configuration is reported, and `source_loads`
    says "(not configured)" for them; the checks that need it report `not configured`."""
    try:
        pull = SourcePull(source, {t: TablePull(t, NOT_CONFIGURED) for t in source_tables(source)})
        for table in pull.tables:
            stager.write(table, to_text_batch(table, []))
        staged = stager.close()
        tables = [StagedTable(t, staged[t], source, NOT_CONFIGURED, KEYS[t], None, None) for t in pull.tables]
        with connect() as con:
            published = publish(con, tables, run_id=run_id)
        return Ingested(source, pull, published, {t: "" for t in pull.tables})
    except BaseException:
        stager.discard()
        raise
    finally:
        shutil.rmtree(stager.root, ignore_errors=True)
