"""The `hubspot` adapter against an in-memory server shaped like @hubspot/mcp-server 0.4.0: its tool
names and argument names, JSON *text* answers with every property a string, `paging.next.after`
cursors, "Error ..." text, and a write tool that must never be called."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest

from connectors.adapters import adapter_for
from connectors.client import CallLog, ConnectorError, SourceSession
from connectors.config import ClientSettings, ConfigError, ConnectorConfig, ServerConfig, parse_config
from connectors.pull import pull_source
from connectors.servers.hosting import new_server
from pipelines.ingest import ingest_source
from warehouse.db import ensure_schema
from warehouse.home import Home

FIXTURES = Path(__file__).parent / "fixtures" / "hubspot"
DEALS: list[dict[str, Any]] = json.loads((FIXTURES / "deals.json").read_text())
COMPANIES: dict[str, dict[str, Any]] = {c["id"]: c for c in json.loads((FIXTURES / "companies.json").read_text())}
ALLOW = ["hubspot-list-objects", "hubspot-batch-read-objects"]
OPTIONS = {"currency": "USD", "timezone": "America/New_York", "customer_id_property": "erp_customer_id"}


def hubspot_server(calls: list[tuple[str, dict[str, Any]]], *, fail: bool = False) -> Any:
    """Answers as dist/tools/objects/listObjectsTool.js and batchReadObjectsTool.js do:
    JSON.stringify(..., null, 2) of {results, paging} / {status, results, ...}."""
    server = new_server("hubspot-fake", title="HubSpot (fake)", instructions="test")

    def pick(obj: dict[str, Any], properties: list[str] | None) -> dict[str, Any]:
        props = obj["properties"]
        if properties:  # HubSpot answers the asked properties (null when unset) plus its defaults
            keep = set(properties) | {"createdate", "hs_lastmodifieddate", "hs_object_id"}
            props = {k: props.get(k) for k in sorted(keep)}
        return {
            "id": obj["id"],
            "properties": props,
            "createdAt": obj["createdAt"],
            "updatedAt": obj["updatedAt"],
            "archived": False,
        }

    @server.tool(name="hubspot-list-objects", structured_output=False)
    def list_objects(
        objectType: str,
        limit: int = 100,
        after: str | None = None,  # noqa: N803 - HubSpot's names
        properties: list[str] | None = None,
        associations: list[str] | None = None,
        archived: bool = False,
    ) -> str:
        calls.append(("hubspot-list-objects", {"objectType": objectType, "limit": limit, "after": after}))
        if fail:
            return (
                "Error listing HubSpot deals: HubSpot API Error: 401 Unauthorized - "
                '{"status":"error","message":"Authentication credentials not found."}'
            )
        assert objectType == "deals" and 1 <= limit <= 500
        start = int(after or 0)
        chunk = DEALS[start : start + limit]
        results = []
        for deal in chunk:
            out = pick(deal, properties)
            if associations and "associations" in deal:
                out["associations"] = deal["associations"]
            results.append(out)
        answer: dict[str, Any] = {"results": results}
        if start + limit < len(DEALS):
            nxt = str(start + limit)
            answer["paging"] = {
                "next": {"after": nxt, "link": f"https://api.hubapi.com/crm/v3/objects/deals?after={nxt}"}
            }
        return json.dumps(answer, indent=2)

    @server.tool(name="hubspot-batch-read-objects", structured_output=False)
    def batch_read(objectType: str, inputs: list[dict[str, str]], properties: list[str] | None = None) -> str:  # noqa: N803
        calls.append(("hubspot-batch-read-objects", {"objectType": objectType, "ids": [i["id"] for i in inputs]}))
        assert objectType == "companies" and 1 <= len(inputs) <= 100
        found = [pick(COMPANIES[i["id"]], properties) for i in inputs if i["id"] in COMPANIES]
        return json.dumps(
            {
                "status": "COMPLETE",
                "results": found,
                "requestedAt": None,
                "startedAt": "2026-06-15T10:00:00.000Z",
                "completedAt": "2026-06-15T10:00:00.100Z",
            },
            indent=2,
        )

    @server.tool(name="hubspot-batch-create-objects", structured_output=False)
    def batch_create(objectType: str, inputs: list[dict[str, Any]]) -> str:  # noqa: N803
        calls.append(("hubspot-batch-create-objects", {}))
        return json.dumps({"status": "COMPLETE", "results": []})

    return server


def connector(allow: list[str] = ALLOW, **options: Any) -> ConnectorConfig:
    return ConnectorConfig(
        "crm",
        "hubspot",
        ServerConfig(command="npx"),
        tuple(allow),
        ClientSettings(call_timeout_s=20, retries=0),
        {**OPTIONS, **options},
    )


def pull(
    config: ConnectorConfig, *, fail: bool = False
) -> tuple[list[dict[str, Any]], list[tuple[str, str]], list[Any], CallLog]:
    calls: list[tuple[str, dict[str, Any]]] = []
    rows: list[dict[str, Any]] = []
    log = CallLog()
    result: dict[str, Any] = {}

    async def go() -> None:
        async with SourceSession(config, log=log, server=hubspot_server(calls, fail=fail)) as session:
            result["pull"] = await pull_source(session, adapter_for(config), lambda t, b: rows.extend(b.to_pylist()))

    anyio.run(go)
    return rows, result["pull"].tables["crm_opportunities"].rejected, calls, log


def row(
    oid: str,
    cid: str | None,
    name: str | None,
    stage: str,
    amount: str,
    ccy: str,
    close: str | None,
    prob: str | None,
    won: bool,
    closed: bool,
) -> dict[str, Any]:
    return {
        "opportunity_id": oid,
        "customer_id": cid,
        "customer_name": name,
        "stage": stage,
        "amount": amount,
        "currency": ccy,
        "close_date": close,
        "probability": prob,
        "owner": "71001",
        "is_won": "true" if won else "false",
        "is_closed": "true" if closed else "false",
    }


# Close dates are UTC timestamps read as dates in America/New_York (EDT -4 in summer, EST -5 in winter).
EXPECTED = [
    row("101", "C-0001", "Acme Corp", "closedwon", "12500.00", "USD", "2026-03-31", "100", True, True),
    row("102", "9002", "Globex Ltd", "closedlost", "4999.99", "USD", "2026-04-15", "0", False, True),
    row("103", "9002", "Globex Ltd", "contractsent", "800.5", "USD", "2026-06-30", "90", False, False),
    row("104", None, None, "presentationscheduled", "15000", "EUR", "2026-08-31", "60", False, False),
    row("107", "C-0003", "Initech GmbH", "1234568", "3300", "USD", "2026-05-21", None, True, True),
    row("109", "9004", None, "closedwon", "0.01", "USD", "2025-12-31", "100", True, True),
]


def test_deals_page_by_after_and_map_to_canonical_rows_with_their_companies() -> None:
    rows, rejected, calls, _ = pull(connector(page_size=3))
    assert sorted(rows, key=lambda r: r["opportunity_id"]) == EXPECTED
    # three pages of 3 by `after`; the companies each page names are read once, 100 ids a call at most
    assert calls == [
        ("hubspot-list-objects", {"objectType": "deals", "limit": 3, "after": None}),
        ("hubspot-batch-read-objects", {"objectType": "companies", "ids": ["9001", "9002"]}),
        ("hubspot-list-objects", {"objectType": "deals", "limit": 3, "after": "3"}),
        ("hubspot-batch-read-objects", {"objectType": "companies", "ids": ["9003"]}),
        ("hubspot-list-objects", {"objectType": "deals", "limit": 3, "after": "6"}),
        ("hubspot-batch-read-objects", {"objectType": "companies", "ids": ["9004"]}),
    ]
    reasons = {json.loads(item)["id"]: reason for item, reason, *_ in rejected}
    assert sorted(reasons) == ["105", "106", "108"]
    assert reasons["105"] == "HubSpot deal 105: the deal has no amount"
    assert "cannot tell whether deal stage '1234567' is open, won or lost" in reasons["106"]
    assert reasons["108"] == "HubSpot deal 108: amount '12,000' is not a decimal number"


def test_stage_options_decide_custom_pipelines_and_one_page_by_default() -> None:
    rows, rejected, calls, _ = pull(connector(open_stages=["1234567"], won_stages=["1234568"]))
    by_id = {r["opportunity_id"]: r for r in rows}
    assert (by_id["106"]["is_won"], by_id["106"]["is_closed"], by_id["106"]["probability"]) == ("false", "false", "40")
    assert by_id["106"]["customer_id"] == "C-0003"
    assert sorted(json.loads(i)["id"] for i, *_ in rejected) == ["105", "108"]
    assert [c for c in calls if c[0] == "hubspot-list-objects"] == [
        ("hubspot-list-objects", {"objectType": "deals", "limit": 100, "after": None})
    ]


def test_error_text_without_is_error_fails_naming_source_and_tool() -> None:
    with pytest.raises(ConnectorError) as info:
        pull(connector(), fail=True)
    message = str(info.value)
    assert "source 'crm', tool 'hubspot-list-objects'" in message
    assert "Error listing HubSpot deals: HubSpot API Error: 401 Unauthorized" in message


def test_a_write_tool_is_refused_at_config_load_and_never_called() -> None:
    raw = {
        "company": {"name": "Hub Co", "currency": "USD", "first_period": "2026-01"},
        "connectors": {
            "crm": {
                "adapter": "hubspot",
                "server": {"command": "npx", "args": ["-y", "@hubspot/mcp-server"]},
                "allow_tools": [*ALLOW, "hubspot-batch-create-objects"],
                "options": OPTIONS,
            }
        },
    }
    with pytest.raises(
        ConfigError, match=r"\['hubspot-batch-create-objects'\] not declared as read tools by adapter 'hubspot'"
    ):
        parse_config(raw)
    # even handed a connector that allow-lists it, a pull calls only the declared reads
    _, _, calls, log = pull(connector([*ALLOW, "hubspot-batch-create-objects"]))
    assert {c[0] for c in calls} == set(ALLOW)
    assert {r.tool for r in log.records} == set(ALLOW)


@pytest.mark.parametrize("tool", ["search_crm_objects", "get_crm_objects", "manage_crm_objects"])
def test_the_hosted_servers_tools_are_not_declared_so_allow_listing_them_is_refused(tool: str) -> None:
    """mcp.hubspot.com's tool shapes are not published (see the module docstring): its tools are not
    read, and a config naming one is refused instead of being mis-read."""
    raw = {
        "company": {"name": "Hub Co", "currency": "USD", "first_period": "2026-01"},
        "connectors": {
            "crm": {
                "adapter": "hubspot",
                "server": {"url": "https://mcp.hubspot.com"},
                "allow_tools": [tool],
                "options": OPTIONS,
            }
        },
    }
    with pytest.raises(ConfigError, match=rf"\['{tool}'\] not declared as read tools by adapter 'hubspot'"):
        parse_config(raw)


def test_options_are_checked() -> None:
    for bad, message in [
        ({"page_size": 501}, "options.page_size"),
        ({"timezone": "Mars/Base"}, "options.timezone"),
        ({"currency": "dollars"}, "options.currency"),
        ({"won_stages": ["x"], "lost_stages": ["x"]}, "more than one of"),
    ]:
        with pytest.raises(ValueError, match=message):
            adapter_for(connector(**bad))


def test_loads_into_the_warehouse_with_types_and_quarantine(tmp_path: Path) -> None:
    config = parse_config(
        {
            "company": {"name": "Hub Co", "currency": "USD", "first_period": "2026-01"},
            "connectors": {
                "crm": {
                    "adapter": "hubspot",
                    "server": {"command": "npx"},
                    "allow_tools": ALLOW,
                    "client": {"call_timeout_s": 20, "retries": 0},
                    "options": {**OPTIONS, "page_size": 4},
                }
            },
        }
    )
    con = duckdb.connect()
    ensure_schema(con)

    @contextmanager
    def connect():  # noqa: ANN202
        yield con

    ingest_source(config, "crm", home=Home(tmp_path / "home"), run_id="r1", connect=connect, server=hubspot_server([]))
    got = con.execute("select * from crm_opportunities order by opportunity_id").fetchall()
    assert got == [
        (
            r["opportunity_id"],
            r["customer_id"],
            r["customer_name"],
            r["stage"],
            Decimal(r["amount"]),
            r["currency"],
            date.fromisoformat(r["close_date"]),
            None if r["probability"] is None else Decimal(r["probability"]),
            r["owner"],
            r["is_won"] == "true",
            r["is_closed"] == "true",
        )
        for r in EXPECTED
    ]
    quarantined = con.execute("select source, tool, reason from quarantine order by reason").fetchall()
    assert [(s, t) for s, t, _ in quarantined] == [("crm", "hubspot-list-objects")] * 3
