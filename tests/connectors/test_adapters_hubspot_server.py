"""The `hubspot` adapter against HubSpot's own, unmodified MCP server: npm ``@hubspot/mcp-server`` 0.4.0
on Node 22 over stdio, its outbound HTTPS (``https://api.hubspot.com``, ``dist/utils/client.js``) sent by
``tests/vendors/redirect.cjs`` to a stand-in of HubSpot's CRM v3 REST API (``tests/vendors/hubspot/
standin.py``). What the server itself does is real: its tool schemas (zod validation of the adapter's
arguments), the REST calls it builds from them, its JSON text answers, its error texts. The stand-in's
data are the hand-written fixtures; the expected rows below are worked out by hand from them.

The server process runs under TZ=UTC and TZ=America/New_York: close dates must come out the same,
read in the adapter's configured zone (options.timezone), whatever the server's clock zone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from connectors.adapters import adapter_for
from connectors.client import CallLog, SourceSession
from connectors.config import Config, parse_config
from connectors.pull import pull_source
from pipelines.ingest import ingest_source
from tests.vendors import memory_warehouse, node_server, npm_entry, pull_error
from tests.vendors.hubspot.standin import HubSpotStandIn
from warehouse.home import Home

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"  # a private-app token's shape; the stand-in checks it
ALLOW = ["hubspot-list-objects", "hubspot-batch-read-objects"]
OPTIONS = {"currency": "USD", "timezone": "America/New_York", "customer_id_property": "erp_customer_id"}
ZONES = ["UTC", "America/New_York"]


@pytest.fixture(scope="module")
def server_js() -> Path:
    return npm_entry("@hubspot/mcp-server", "0.4.0")


@pytest.fixture
def api() -> Iterator[HubSpotStandIn]:
    with HubSpotStandIn(TOKEN) as standin:
        yield standin


def config(server_js: Path, api: HubSpotStandIn, tz: str, *, token: str = TOKEN, **options: Any) -> Config:
    return parse_config(
        {
            "company": {"name": "Hub Co", "currency": "USD", "first_period": "2026-01"},
            "connectors": {
                "crm": {
                    "adapter": "hubspot",
                    "server": node_server(
                        server_js,
                        redirect={"api.hubspot.com": api.url},
                        env={"PRIVATE_APP_ACCESS_TOKEN": token, "TZ": tz},
                    ),
                    "allow_tools": ALLOW,
                    "client": {"call_timeout_s": 30, "retries": 0},
                    "options": {**OPTIONS, **options},
                }
            },
        }
    )


def row(
    oid: str,
    cid: str | None,
    name: str | None,
    stage: str,
    amount: str,
    ccy: str,
    close: str,
    prob: str | None,
    won: bool,
    closed: bool,
) -> tuple[Any, ...]:
    return (
        oid,
        cid,
        name,
        stage,
        Decimal(amount),
        ccy,
        date.fromisoformat(close),
        None if prob is None else Decimal(prob),
        "71001",
        won,
        closed,
    )


# Worked by hand from fixtures/hubspot/deals.json + companies.json. Close dates are UTC instants read
# in America/New_York (EDT -4 from 2026-03-08, EST -5 before): 101 2026-03-31T23:30Z -> 19:30 EDT on
# the 31st; 103 2026-07-01T00:00Z -> 20:00 EDT on 2026-06-30; 109 2026-01-01T04:59:59Z -> 23:59:59 EST
# on 2025-12-31. customer_id: the primary (deal_to_company) company's erp_customer_id, else its
# HubSpot id (9002 has no ERP id; 9004 does not exist: 207 from batch read, id kept, name unknown).
# Probability: hs_deal_stage_probability x 100. 103 has no deal_currency_code: options.currency.
EXPECTED = [
    row("101", "C-0001", "Acme Corp", "closedwon", "12500.00", "USD", "2026-03-31", "100", True, True),
    row("102", "9002", "Globex Ltd", "closedlost", "4999.99", "USD", "2026-04-15", "0", False, True),
    row("103", "9002", "Globex Ltd", "contractsent", "800.50", "USD", "2026-06-30", "90", False, False),
    row("104", None, None, "presentationscheduled", "15000", "EUR", "2026-08-31", "60", False, False),
    row("107", "C-0003", "Initech GmbH", "1234568", "3300", "USD", "2026-05-21", None, True, True),
    row("109", "9004", None, "closedwon", "0.01", "USD", "2025-12-31", "100", True, True),
]
QUARANTINED = [  # (deal id, reason), the deals the adapter sets aside
    ("105", "HubSpot deal 105: the deal has no amount"),
    ("106", "HubSpot deal 106: cannot tell whether deal stage '1234567' is open, won or lost"),
    ("108", "HubSpot deal 108: amount '12,000' is not a decimal number"),
]


@pytest.mark.parametrize("tz", ZONES)
def test_the_real_server_pages_deals_and_reads_their_companies_into_the_warehouse(
    server_js: Path, api: HubSpotStandIn, tmp_path: Path, tz: str
) -> None:
    cfg = config(server_js, api, tz, page_size=3)
    con, connect = memory_warehouse()
    with con:
        ingest_source(cfg, "crm", home=Home(tmp_path / "home"), run_id="r1", connect=connect)
        got = con.execute("select * from crm_opportunities order by opportunity_id").fetchall()
        quarantined = con.execute("select source, tool, record, reason from quarantine order by reason").fetchall()
    assert got == EXPECTED
    assert [(s, t) for s, t, _, _ in quarantined] == [("crm", "hubspot-list-objects")] * 3
    assert [
        (json.loads(r)["id"], reason[: len(want)])
        for (_, _, r, reason), (_, want) in zip(quarantined, QUARANTINED, strict=True)
    ] == QUARANTINED

    # what the server asked HubSpot: three pages of three deals by the opaque `after` it was handed
    # back, each with the deal properties and company links; then the new companies of each page
    lists = [r for r in api.requests if r["method"] == "GET"]
    assert [r["path"] for r in lists] == ["/crm/v3/objects/deals"] * 3
    assert [r["query"]["limit"] for r in lists] == [["3"]] * 3
    assert "after" not in lists[0]["query"]
    assert [r["query"]["after"] for r in lists[1:]] == [[t] for t in api.handed_after]
    assert all(r["query"]["associations"] == ["companies"] and r["query"]["archived"] == ["false"] for r in lists)
    assert set(lists[0]["query"]["properties"][0].split(",")) >= {
        "amount",
        "dealstage",
        "closedate",
        "hs_is_closed_won",
    }
    reads = [r for r in api.requests if r["method"] == "POST"]
    assert [(r["path"], [i["id"] for i in r["body"]["inputs"]], r["body"]["properties"]) for r in reads] == [
        ("/crm/v3/objects/companies/batch/read", ["9001", "9002"], ["name", "erp_customer_id"]),
        ("/crm/v3/objects/companies/batch/read", ["9003"], ["name", "erp_customer_id"]),
        ("/crm/v3/objects/companies/batch/read", ["9004"], ["name", "erp_customer_id"]),
    ]
    assert {r["host"] for r in api.requests} == {"api.hubspot.com"}  # the server's own base URL, redirected


def test_the_default_page_size_reads_every_deal_in_one_page(server_js: Path, api: HubSpotStandIn) -> None:
    cfg = config(server_js, api, "UTC").connectors["crm"]
    rows: list[dict[str, Any]] = []

    async def go() -> None:
        async with SourceSession(cfg, log=CallLog()) as session:
            tools = {t.name: t for t in await session.list_tools()}
            # the server's own schemas take what the adapter sends, and say these tools only read
            listing = tools["hubspot-list-objects"].input_schema["properties"]
            assert {"objectType", "limit", "after", "properties", "associations"} <= set(listing)
            assert listing["limit"]["maximum"] == 500
            assert tools["hubspot-batch-read-objects"].input_schema["properties"]["inputs"]["maxItems"] == 100
            assert all(tools[t].annotations.read_only_hint for t in ALLOW)
            await pull_source(session, adapter_for(cfg), lambda t, b: rows.extend(b.to_pylist()))

    anyio.run(go)
    assert sorted(r["opportunity_id"] for r in rows) == ["101", "102", "103", "104", "107", "109"]
    assert [r["query"]["limit"] for r in api.requests if r["method"] == "GET"] == [["100"]]


def test_a_wrong_token_fails_naming_the_source_tool_and_hubspots_answer(server_js: Path, api: HubSpotStandIn) -> None:
    message = str(pull_error(config(server_js, api, "UTC", token="pat-na1-revoked").connectors["crm"]))
    assert "source 'crm', tool 'hubspot-list-objects'" in message
    assert "Error listing HubSpot deals: HubSpot API Error: 401 Unauthorized" in message
    assert "INVALID_AUTHENTICATION" in message
