"""The portfolio page (issue 22): one offline page over every entity of a group.

Per entity: its last ended month's key figures in its own currency (as its own page reports them: the
`reported_kpis` view of its read copy), the worst verdict of its checks that month, its last sign-off and
how old its data is, linked to the entity's own dashboard. Figures of different currencies are never
added up: a total is shown per currency, and only over the entities reporting in it.

Reads each entity's read copy (read-only) and status.json, never a live warehouse; written with the
dashboard's CSS and a CSP that allows no script and no network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from markupsafe import Markup

from connectors.plain import write_atomic
from reports.render import environment, query_text, static_text
from warehouse.db import connect
from warehouse.home import Home

FIGURES = (("revenue", "Revenue"), ("net_income", "Net income"), ("cash", "Cash"), ("ar", "AR"), ("ap", "AP"))


@dataclass(frozen=True)
class PortfolioEntity:
    id: str
    name: str
    home: Home


def _age(as_of: str | None, now: datetime) -> str | None:
    """'3 h' / '2 d' since `as_of` (an ISO date or timestamp), None when unknown."""
    if not as_of:
        return None
    try:
        when = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    hours = max(0.0, (now - when).total_seconds() / 3600)
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} d"


def entity_row(entity: PortfolioEntity, now: datetime) -> dict[str, Any]:
    """What the page shows of one entity (`state` 'no data' until its first refresh)."""
    row: dict[str, Any] = {"id": entity.id, "name": entity.name, "href": f"../entities/{entity.id}/reports/latest.html"}
    if not entity.home.read_copy.exists():
        return {**row, "state": "no data", "currency": None, "figures": {}}
    con = connect(entity.home.read_copy, read_only=True)
    try:
        cursor = con.execute(query_text("portfolio_entity.sql"))
        columns = [d[0] for d in cursor.description]
        record = dict(zip(columns, cursor.fetchone(), strict=True))
    finally:
        con.close()
    status_file = entity.home.reports / "status.json"
    status = json.loads(status_file.read_text(encoding="utf-8")) if status_file.exists() else {}
    if record["failing"]:
        checks = ("fail", f"{record['failing']} failing")
    elif record["warning"]:
        checks = ("warn", f"{record['warning']} warning")
    else:
        checks = ("pass", "all pass") if record["checked"] else ("none", "not run")
    return {
        **row,
        "state": "ok",
        "period": record["period"],
        "currency": record["currency"],
        "figures": {k: (Decimal(record[k]) if record[k] is not None else None) for k, _ in FIGURES},
        "checks": checks,
        "last_closed": record["last_closed"],
        "closed_by": record["closed_by"],
        "data_as_of": record["data_as_of"],
        "data_age": _age(record["data_as_of"], now),
        "refreshed_at": status.get("finished_at"),
    }


def totals_by_currency(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per currency: the entities reporting in it and the sum of each figure over them (never across
    currencies); a figure unknown for one of them leaves that total unknown."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["state"] != "ok":
            continue
        total = out.setdefault(row["currency"], {"entities": [], "figures": {k: Decimal(0) for k, _ in FIGURES}})
        total["entities"].append(row["id"])
        for key, _ in FIGURES:
            value = row["figures"][key]
            current = total["figures"][key]
            total["figures"][key] = None if value is None or current is None else current + value
    return dict(sorted(out.items()))


def write_portfolio(target: Path, entities: list[PortfolioEntity], *, now: datetime | None = None) -> Path:
    """Render the portfolio over `entities` to `target` (atomically)."""
    now = now or datetime.now(timezone.utc)
    rows = [entity_row(e, now) for e in entities]
    html = (
        environment()
        .get_template("portfolio.html")
        .render(
            rows=rows,
            figures=FIGURES,
            totals=totals_by_currency(rows),
            generated_at=now.isoformat(timespec="seconds"),
            css=Markup(static_text("dashboard.css")),
        )
    )
    return write_atomic(target, html)
