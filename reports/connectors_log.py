"""`closeboard connectors log`: the audit trail of MCP calls (`connector_calls`), from the read copy.

One row per call: when, run, source, tool, page, items, bytes, duration, status, the arguments as
recorded (secrets were redacted before they were written) and the error.
"""

from __future__ import annotations

from pathlib import Path

import click

from connectors.plain import printable
from warehouse.db import connect

COLUMNS = (
    "called_at",
    "run_id",
    "source",
    "tool",
    "page",
    "items",
    "bytes",
    "duration_ms",
    "session_ms",  # a call that opened its session: the opening's time (the server's start), not in duration_ms
    "status",
    "arguments",
    "error",
)


def _cell(value: object) -> str:
    """A value as plain text for the terminal: server text (errors, arguments) loses its control
    characters and escape sequences here and is shown as rich Text, never read as markup."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return printable(str(value))


def print_log(
    read_copy: Path, *, source: str | None = None, run: str | None = None, last: bool = False, limit: int = 50
) -> int:
    """Print the calls (the most recent `limit`, in call order); returns the exit status (2: nothing)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if not read_copy.exists():
        click.echo(f"no warehouse yet at {read_copy}: run `closeboard refresh` (or `closeboard demo`) first", err=True)
        return 2
    con = connect(read_copy, read_only=True)
    try:
        columns = {
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where table_name = 'connector_calls'"
            ).fetchall()
        }
        if not columns:
            click.echo("the warehouse has no connector_calls table yet: run `closeboard refresh`", err=True)
            return 2
        called_at = "called_at" if "called_at" in columns else "null::timestamptz"
        session_ms = "session_ms" if "session_ms" in columns else "null::integer"  # a warehouse from before it
        where, params = [], []
        if source:
            where.append("source = ?")
            params.append(source)
        if last:  # the run whose calls came last (rowid: insertion order of this append-only table)
            where.append("run_id = (select run_id from connector_calls order by rowid desc limit 1)")
        elif run:
            where.append("starts_with(run_id, ?)")
            params.append(run)
        sql = f"""
            select * from (
                select strftime({called_at} at time zone 'UTC', '%Y-%m-%d %H:%M:%S') as called_at, run_id, source,
                       tool, page, items, bytes, duration_ms, {session_ms} as session_ms, status, arguments, error,
                       rowid as seq
                from connector_calls {"where " + " and ".join(where) if where else ""}
                order by rowid desc limit ?
            ) order by seq"""
        rows = con.execute(sql, [*params, int(limit)]).fetchall()
        totals = con.execute(
            f"""select source, count(*), count(*) filter (where status = 'ok'), count(*) filter (where status <> 'ok'),
                       sum(items)::bigint, sum(bytes)::bigint
                from connector_calls {"where " + " and ".join(where) if where else ""}
                group by source order by source""",
            params,
        ).fetchall()
    finally:
        con.close()
    if not rows:
        click.echo("no connector calls match", err=True)
        return 2
    console = Console(highlight=False, soft_wrap=False, width=None if click.get_text_stream("stdout").isatty() else 220)
    table = Table(title="connector calls (UTC)", show_lines=False)
    for name in COLUMNS:
        numeric = name in ("page", "items", "bytes", "duration_ms", "session_ms")
        table.add_column(
            {"duration_ms": "ms", "session_ms": "session ms", "run_id": "run"}.get(name, name),
            justify="right" if numeric else "left",
            overflow="fold",
        )
    for row in rows:
        values = list(row[: len(COLUMNS)])
        values[1] = str(values[1])[:8]  # a run id's first characters are enough to tell runs apart
        table.add_row(*(Text(_cell(v)) for v in values), style="red" if row[COLUMNS.index("status")] != "ok" else None)
    console.print(table)
    for src, calls, ok, failed, items, nbytes in totals:
        console.print(
            Text(
                f"{printable(str(src))}: {calls:,} calls ({ok:,} ok, {failed:,} failed), {items or 0:,} "
                f"items, {nbytes or 0:,} bytes"
            )
        )
    return 0
