"""The text summary printed after a run: rows per table and the last ended month's key figures.

Reads only the readers' copy of the warehouse, never the live file."""

from __future__ import annotations

from warehouse.db import connect, frame, scalar
from warehouse.home import Home
from warehouse.loads import NOT_CONFIGURED
from reports import formatting


def summary_lines(home: Home) -> list[tuple[str, str | None]]:
    """(line, style) pairs: style "red" for what failed, "yellow" for what is not configured."""
    con = connect(home.read_copy, read_only=True)
    try:
        currency = scalar(con, "select currency from run_context")
        loads = frame(
            con,
            """select source, table_name, tool, rows_loaded, rows_received + rows_rejected as sent,
                                     rows_rejected + rows_quarantined as rejected
                              from source_loads order by source, table_name""",
        )
        checks = (
            con.execute(
                """select check_id, any_value(detail order by period desc) filter (where status = 'fail'),
                      count(*) filter (where status = 'fail')
               from recon_results group by check_id order by check_id"""
            ).fetchall()
            if scalar(con, "select count(*) from duckdb_tables() where table_name = 'recon_results'")
            else []
        )
        focus = scalar(con, "select max(period) from periods where not is_open")
        figures = dict(
            con.execute(
                "select kpi, value from reported_kpis where period = ? and kpi in ('revenue', 'net_income', 'cash')",
                [focus],
            ).fetchall()
        )
    finally:
        con.close()
    lines: list[tuple[str, str | None]] = [("", None), ("rows per table:", None)]
    unconfigured = sorted({source for source, _t, tool, *_ in loads.itertuples(index=False) if tool == NOT_CONFIGURED})
    for _source, table, tool, rows, sent, bad in loads.itertuples(index=False):
        if tool == NOT_CONFIGURED:
            continue
        if bad:
            whole = " (every row)" if bad == sent else ""
            lines.append(
                (f"  {table:<22} {rows:>10,}  ({bad:,} of {sent:,} rejected{whole}: see `closeboard checks`)", "red")
            )
        else:
            lines.append((f"  {table:<22} {rows:>10,}", None))
    for source in unconfigured:
        lines.append((f"  {source}: not configured (optional; add connectors.{source} to closeboard.yaml)", "yellow"))
    failing = [(check_id, detail, n) for check_id, detail, n in checks if n]
    if failing:
        lines += [("", None), ("checks failing (ERROR):", "red")]
        lines += [(f"  {check_id} in {n} period(s): {detail}", "red") for check_id, detail, n in failing]
    if focus:
        lines += [
            ("", None),
            (f"last ended month {focus}:", None),
            (f"  revenue     {formatting.money(figures.get('revenue'), currency, cents=True):>18}", None),
            (f"  net income  {formatting.money(figures.get('net_income'), currency, cents=True):>18}", None),
            (f"  cash        {formatting.money(figures.get('cash'), currency, cents=True):>18}", None),
        ]
    lines += [("", None), (f"dashboard: {home.reports / 'latest.html'}", None)]
    return lines
