"""Render the dashboard page from the marts (read side only) with jinja2.

Pages are written to a temporary name and moved into place, so a reader never sees half a page
and a failed render leaves the previous page where it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, PackageLoader, StrictUndefined

from reports import formatting
from warehouse.db import frame

KPI_TILES = (
    ("revenue", "Revenue"), ("gross_margin_pct", "Gross margin"), ("opex", "Operating expenses"),
    ("net_income", "Net income"), ("cash", "Cash"), ("net_burn", "Net burn"),
    ("runway_months", "Runway (months)"), ("ar", "Accounts receivable"), ("ap", "Accounts payable"),
    ("dso", "DSO (days)"), ("dpo", "DPO (days)"), ("pipeline_open", "Open pipeline"),
)


@dataclass(frozen=True)
class PageContext:
    company: str
    currency: str
    run_id: str
    sources: dict[str, str | None]  # source -> data as of


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = formatting.money
    env.filters["kpi"] = formatting.kpi
    return env


def _kpis(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    table = frame(con, "select period, kpi, value from mart_kpis order by period, kpi")
    by_period: dict[str, dict[str, Any]] = {}
    for period, name, value in table.itertuples(index=False):
        by_period.setdefault(period, {})[name] = value
    return by_period


def render_dashboard(con: duckdb.DuckDBPyConnection, ctx: PageContext, out_dir: Path) -> Path:
    periods = frame(con, "select period, is_open from periods order by period")
    kpis = _kpis(con)
    ended = [p for p, is_open in periods.itertuples(index=False) if not is_open]
    open_periods = [p for p, is_open in periods.itertuples(index=False) if is_open]
    focus = ended[-1] if ended else (open_periods[-1] if open_periods else None)
    html = environment().get_template("dashboard.html").render(
        company=ctx.company,
        currency=ctx.currency,
        run_id=ctx.run_id,
        sources=ctx.sources,
        rendered_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        focus=focus,
        tiles=KPI_TILES,
        kpis=kpis,
        periods=[p for p, _ in periods.itertuples(index=False)][::-1],
        open_periods=open_periods,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "latest.html"
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temp.write_text(html, encoding="utf-8")
    os.replace(temp, target)
    return target
