"""The text summary printed after a run: rows per table and the last ended month's key figures.

Reads only the readers' copy of the warehouse, never the live file."""

from __future__ import annotations

from warehouse.db import connect, frame, scalar
from warehouse.home import Home
from reports import formatting


def summary_lines(home: Home) -> list[str]:
    con = connect(home.read_copy, read_only=True)
    try:
        currency = scalar(con, "select currency from run_context")
        loads = frame(con, "select source, table_name, rows_loaded, rows_quarantined from source_loads order by source, table_name")
        focus = scalar(con, "select max(period) from periods where not is_open")
        figures = dict(
            con.execute(
                "select kpi, value from mart_kpis where period = ? and kpi in ('revenue', 'net_income', 'cash')",
                [focus],
            ).fetchall()
        )
    finally:
        con.close()
    lines = ["", "rows per table:"]
    for source, table, rows, bad in loads.itertuples(index=False):
        lines.append(f"  {table:<22} {rows:>10,}" + (f"  ({bad:,} quarantined)" if bad else ""))
    if focus:
        lines += [
            "",
            f"last ended month {focus}:",
            f"  revenue     {formatting.money(figures.get('revenue'), currency, cents=True):>18}",
            f"  net income  {formatting.money(figures.get('net_income'), currency, cents=True):>18}",
            f"  cash        {formatting.money(figures.get('cash'), currency, cents=True):>18}",
        ]
    lines += ["", f"dashboard: {home.reports / 'latest.html'}"]
    return lines
