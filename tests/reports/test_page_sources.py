"""The page's sources panel, on the session's demo home: per source its sign-in kind (never a
secret), last successful read, and the calls, rows and failed calls of its last run."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import yaml

from tests.conftest import read


def test_sources_panel_shows_each_source_from_the_warehouse_and_config(demo_home: Path, open_page) -> None:
    watched = open_page((demo_home / "reports" / "latest.html").as_uri())
    page = watched.page
    shown = page.locator("#table-sources tbody tr").evaluate_all(
        """rows => rows.map(r => Object.fromEntries([...r.querySelectorAll('td')].map(
               td => [td.getAttribute('data-column'), td.getAttribute('data-raw')])))"""
    )
    configured = yaml.safe_load((demo_home / "closeboard.yaml").read_text(encoding="utf-8"))["connectors"]
    assert sorted(r["source"] for r in shown) == sorted(configured)
    for row in shown:
        source = row["source"]
        server = configured[source]["server"]
        if "command" in server:
            assert row["auth_kind"] == "stdio"
        else:
            assert row["auth_kind"] in ("none", "bearer", "oauth", "client_credentials")
        assert row["transport"] == ("stdio" if "command" in server else "http")
        (run_id,) = read(
            demo_home, "select run_id from connector_calls where source = ? order by rowid desc limit 1", [source]
        )[0]
        calls, failed = read(
            demo_home,
            "select count(*), count(*) filter (where status <> 'ok') from connector_calls "
            "where source = ? and run_id = ?",
            [source, run_id],
        )[0]
        rows, last = read(
            demo_home,
            "select sum(rows_loaded)::bigint, strftime(max(loaded_at) at time zone 'UTC', "
            "'%Y-%m-%d %H:%M UTC') from source_loads where source = ?",
            [source],
        )[0]
        assert (int(row["calls"]), int(row["rows"]), int(row["errors"])) == (calls, rows, failed)
        assert row["last_read"] == last and row["last_run"] == "ok"
    assert (
        Decimal(page.locator("#table-sources tfoot td[data-column='calls']").first.get_attribute("data-raw"))
        == (
            read(
                demo_home,
                "select count(*) from connector_calls where run_id in (select arg_max(run_id, rowid) from "
                "connector_calls group by source)",
            )[0][0]
        )
    )
    assert watched.errors == [] and watched.foreign_requests() == []


def test_auth_kind_names_how_a_source_signs_in_without_its_secret() -> None:
    from connectors.config import parse_config
    from pipelines.publishing import auth_kind

    raw = {
        "company": {"name": "X", "currency": "USD", "first_period": "2026-01"},
        "connectors": {
            "erp": {
                "server": {"command": "python", "env": {"ERP_KEY": "${ERP_KEY}"}},
                "allow_tools": ["list_accounts"],
            },
            "bank": {
                "server": {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}},
                "allow_tools": ["list_transactions"],
            },
            "crm": {"server": {"url": "http://127.0.0.1:9/mcp"}, "allow_tools": ["list_opportunities"]},
        },
    }
    kinds = {name: auth_kind(c) for name, c in parse_config(raw).connectors.items()}
    assert kinds == {"erp": "stdio", "bank": "bearer", "crm": "none"}
