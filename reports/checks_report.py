"""`closeboard checks [--period P]`: the reconciliation verdicts and offending items, from the read copy."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from connectors.plain import printable
from warehouse.checks import CHECK_IDS
from warehouse.db import connect, frame

SHORT = {c: c.split("_")[0] for c in CHECK_IDS}
MARK = {"pass": "ok", "warn": "WARN", "fail": "FAIL", "not_configured": "n/c"}


def _text(value) -> str:
    """A value as text for the terminal; record ids and reasons come from servers, so their control
    characters and escape sequences are removed (click.echo prints them raw)."""
    if value is None or value is pd.NA or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return printable(str(value))


def print_checks(read_copy: Path, period: str | None, limit: int = 50) -> int:
    """Print the verdict table (and the items of the shown periods); return the exit status:
    1 when any shown verdict is 'fail' (an ERROR finding), 0 otherwise, 2 when nothing to show."""
    if not read_copy.exists():
        click.echo(f"no warehouse yet at {read_copy}: run `closeboard refresh` (or `closeboard demo`) first", err=True)
        return 2
    con = connect(read_copy, read_only=True)
    try:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        if "recon_results" not in tables:
            click.echo("the warehouse has no reconciliation yet: run `closeboard refresh`", err=True)
            return 2
        where, params = ("where r.period = ?", [period]) if period else ("", [])
        results = frame(con, f"select r.* from recon_results as r {where} order by r.period, r.check_id", params)
        if results.empty:
            click.echo(f"no reconciliation verdicts{' for ' + period if period else ''}", err=True)
            return 2
        run_id = str(results["run_id"].iloc[0])
        click.echo(f"reconciliation of run {run_id}")
        if period:
            for r in results.itertuples(index=False):
                click.echo(
                    f"  {MARK[r.status]:<4}  {r.check_id:<24} expected {r.expected!s:>16}  "
                    f"actual {r.actual!s:>16}  difference {r.difference!s:>12}"
                )
                click.echo(f"        {_text(r.detail)}")
        else:
            click.echo("  period   " + "  ".join(f"{SHORT[c]:<4}" for c in CHECK_IDS))
            for p, rows in results.groupby("period", sort=True):
                status = dict(zip(rows["check_id"].astype(str), rows["status"].astype(str), strict=True))
                click.echo(f"  {p}  " + "  ".join(f"{MARK.get(status.get(c, ''), '-'):<4}" for c in CHECK_IDS))
        statuses = results["status"].astype(str)
        unconfigured = sorted(set(results.loc[statuses == "not_configured", "check_id"].astype(str)))
        for check_id in unconfigured:  # once, not once per period
            detail = results.loc[results["check_id"] == check_id, "detail"].iloc[0]
            click.echo(f"  n/c = {check_id}: {_text(detail)}")
        bad = results[~statuses.isin(["pass", "not_configured"])]
        shown = 0
        for r in bad.itertuples(index=False):
            items = frame(
                con,
                """select source, record_id, record_date, amount, reason from recon_items
                   where period = ? and check_id = ? order by abs(coalesce(amount, 0)) desc, record_id limit ?""",
                [r.period, r.check_id, limit],
            )
            total = con.execute(
                "select count(*) from recon_items where period = ? and check_id = ?", [r.period, r.check_id]
            ).fetchall()[0][0]
            click.echo(f"\n{MARK[r.status]} {r.period} {r.check_id}: {_text(r.detail)}")
            for i in items.itertuples(index=False):
                click.echo(
                    f"    {_text(i.source):<5} {_text(i.record_id):<22} {_text(i.record_date):<10} "
                    f"{_text(i.amount):>14}  {_text(i.reason)}"
                )
            if total > len(items):
                click.echo(f"    ... and {total - len(items)} more")
            shown += 1
        failing = int((results["status"].astype(str) == "fail").sum())
        click.echo(
            f"\n{failing} failing verdict(s) (ERROR), {int((results['status'].astype(str) == 'warn').sum())} warning(s)"
        )
        return 1 if failing else 0
    finally:
        con.close()
