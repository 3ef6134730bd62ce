"""The `stripe` adapter through Stripe's own, unmodified npm server ``@stripe/mcp`` 0.3.3 (Node 22, stdio).

That package is a proxy (its ``dist/index.js``): it forwards every MCP message to Stripe's hosted MCP
server ``https://mcp.stripe.com`` and calls nothing else. ``tests/vendors/redirect.cjs`` sends that
host to ``tests/vendors/stripe/standin.py``, a stand-in of the hosted server's published interface
(the tools of ``stripe/ai`` at dd624f5: names, schemas, JSON-text answers, "Failed to ..." strings)
over a small Stripe account whose REST answers follow Stripe's API reference. What is real here is the
proxy (stdio framing, session handling, the key as bearer, ``Stripe-Account``, the User-Agent); what
the hosted server answers is the stand-in's reading of Stripe's published source, not Stripe's word.

What the adapter can honestly read from it: the balance (accounts and today's balances); no bank
lines, since no tool lists balance transactions. The server process runs under TZ=UTC and
TZ=America/New_York; the figures must not move.

Cost: closeboard's MCP client (mcp SDK 2.3, mode "auto") opens with a ``server/discover`` probe; the
proxy forwards it, the hosted (handshake-era) server refuses it with HTTP 400, and the proxy drops the
request without an answer, so each session waits the SDK's DISCOVER_TIMEOUT_SECONDS (10 s) before
falling back to ``initialize``. So the documented config, used here, opens with ``initialize`` at once:
``client: {handshake: legacy}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest

from connectors.adapters import adapter_for
from connectors.client import CallLog, ConnectorError, SourceSession
from connectors.config import Config, parse_config
from connectors.pull import pull_source
from pipelines.ingest import ingest_source
from tests.vendors import memory_warehouse, node_server, npm_entry, pull_error
from tests.vendors.stripe.standin import StripeAPI, StripeMCPStandIn
from warehouse.home import Home

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
KEY = "rk_test_51CloseboardStandIn00000000000000000000"
ACCOUNT = "acct_1CloseboardTest"
OPTIONS = {"gl_accounts": {"usd": "1030", "jpy": "1031"}, "timezone": "America/New_York"}
ZONES = ["UTC", "America/New_York"]
CALL_TIMEOUT_S = 3  # also what the server/discover probe costs each session (see the module docstring)


def payment_intent(pid: str, amount: int, currency: str, created: int, customer: str | None) -> dict[str, Any]:
    return {
        "id": pid,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": currency,
        "created": created,
        "customer": customer,
        "status": "succeeded",
        "livemode": False,
        "latest_charge": f"ch_{pid[3:]}",
        "description": None,
        "metadata": {},
    }


PAYMENT_INTENTS = [
    payment_intent(f"pi_3Test{i:04d}", 1000 + i, "usd", 1_777_600_000 + 3600 * i, "cus_A" if i % 2 else "cus_B")
    for i in range(12)
]


@pytest.fixture(scope="module")
def server_js() -> Path:
    return npm_entry("@stripe/mcp", "0.3.3")


@contextmanager
def hosted(**api: Any) -> Iterator[StripeMCPStandIn]:
    account = StripeAPI(
        KEY,
        account=ACCOUNT,
        balance=json.loads((FIXTURES / "balance.json").read_text()),
        payment_intents=PAYMENT_INTENTS,
        **api,
    )
    with StripeMCPStandIn(account) as standin:
        yield standin


def config(
    server_js: Path,
    standin: StripeMCPStandIn,
    tz: str,
    *,
    key: str = KEY,
    allow: tuple[str, ...] = ("retrieve_balance",),
    extra: tuple[str, ...] = (),
) -> Config:
    return parse_config(
        {
            "company": {"name": "Stripe Co", "currency": "USD", "first_period": "2026-01"},
            "connectors": {
                "bank": {
                    "adapter": "stripe",
                    "server": node_server(
                        server_js, f"--api-key={key}", *extra, redirect={"mcp.stripe.com": standin.url}, env={"TZ": tz}
                    ),
                    "allow_tools": list(allow),
                    "client": {"call_timeout_s": CALL_TIMEOUT_S, "retries": 0, "handshake": "legacy"},
                    "options": OPTIONS,
                }
            },
        }
    )


def today() -> str:
    return datetime.now(ZoneInfo(OPTIONS["timezone"])).date().isoformat()


@pytest.mark.parametrize("tz", ZONES)
def test_the_balance_through_stripes_own_server_lands_as_accounts_and_balances(
    server_js: Path, tmp_path: Path, tz: str
) -> None:
    con, connect = memory_warehouse()
    with hosted() as standin:
        before = today()
        ingest_source(
            config(server_js, standin, tz, extra=(f"--stripe-account={ACCOUNT}",)),
            "bank",
            home=Home(tmp_path / "home"),
            run_id="r1",
            connect=connect,
        )
        after = today()
    # balance.json by hand: available + pending per currency, minor units -> decimals
    # usd 120000 + 9680 = 129680 cents = 1296.80; jpy 4820 + 0 = 4820 (no minor unit); eur 0 + 500 = 5.00
    balances = con.execute(
        "select bank_account_id, balance_date, closing_balance from bank_balances order by 1"
    ).fetchall()
    assert [(a, b) for a, _, b in balances] == [
        ("stripe:eur", Decimal("5.00")),
        ("stripe:jpy", Decimal("4820")),
        ("stripe:usd", Decimal("1296.80")),
    ]
    assert {d.isoformat() for _, d, _ in balances} <= {before, after} and len({d for _, d, _ in balances}) == 1
    assert con.execute("select * from bank_accounts order by 1").fetchall() == [
        ("stripe:jpy", "Stripe JPY", "JPY", "1031"),
        ("stripe:usd", "Stripe USD", "USD", "1030"),
    ]
    [(record, reason)] = con.execute("select record, reason from quarantine where source = 'bank'").fetchall()
    assert json.loads(record)["currency"] == "eur" and "no ERP account for it" in reason
    # no bank lines: Stripe's own server lists none, and the load says the adapter did not read them
    assert con.execute("select count(*) from bank_transactions").fetchall() == [(0,)]
    assert con.execute("select tool from source_loads where table_name = 'bank_transactions'").fetchall() == [
        ("(none: adapter 'stripe' does not read it)",)
    ]
    con.close()
    # what the proxy did: only retrieve_balance was called, with the key as bearer, the connected
    # account as Stripe-Account, and the proxy's own User-Agent, all to mcp.stripe.com
    assert standin.calls == [("retrieve_balance", {}), ("retrieve_balance", {})]
    assert {(h["authorization"], h["stripe-account"], h["x-forwarded-host"]) for h in standin.http} == {
        (f"Bearer {KEY}", ACCOUNT, "mcp.stripe.com")
    }
    assert all(h["user-agent"].startswith("stripe-mcp-local/") for h in standin.http)
    assert standin.http[0].get("rpc") == "initialize"  # handshake: legacy, no unanswered discover probe
    assert "server/discover" not in [h.get("rpc") for h in standin.http]


def test_the_server_has_no_balance_transactions_and_its_lists_take_no_cursor(server_js: Path) -> None:
    with hosted() as standin:
        cfg = config(
            server_js, standin, "America/New_York", allow=("retrieve_balance", "list_balance_transactions")
        ).connectors["bank"]
        seen: dict[str, Any] = {}

        async def go() -> None:
            async with SourceSession(cfg, log=CallLog()) as session:
                seen["tools"] = {t.name: t for t in await session.list_tools()}
                # what a list tool gives (read directly, not by the adapter): `.data`, no has_more
                result = await session._client.call_tool("list_payment_intents", {"limit": 5})  # noqa: SLF001
                seen["text"] = [c.text for c in result.content if c.type == "text"]
                await pull_source(session, adapter_for(cfg), lambda t, b: None)

        with pytest.raises(ConnectorError) as info:
            anyio.run(go)
    tools = seen["tools"]
    assert "list_balance_transactions" not in tools and "retrieve_balance" in tools
    assert not any(
        "balance_transaction" in name or name in ("list_charges", "list_payouts", "list_refunds") for name in tools
    )
    listing = tools["list_payment_intents"].input_schema["properties"]
    assert set(listing) == {"customer", "limit"}  # no starting_after, no created: the newest 100 at most
    assert tools["retrieve_balance"].annotations.read_only_hint
    [text] = seen["text"]
    intents = json.loads(text)
    assert [p["id"] for p in intents] == [f"pi_3Test{i:04d}" for i in (11, 10, 9, 8, 7)]  # newest first
    assert (intents[0]["amount"], intents[0]["currency"]) == (1011, "usd")  # minor units: 10.11 USD
    message = str(info.value)
    assert "source 'bank', tool 'list_balance_transactions'" in message
    assert "the server has no such tool" in message
    # the accounts were read first; the lines were never asked for
    assert [c[0] for c in standin.calls] == ["list_payment_intents", "retrieve_balance"]


def test_a_key_without_balance_permission_fails_naming_the_tool(server_js: Path) -> None:
    with hosted(permissions={"rak_payment_intent_read"}) as standin:
        message = str(pull_error(config(server_js, standin, "UTC").connectors["bank"]))
    assert "source 'bank', tool 'retrieve_balance'" in message and "Failed to retrieve balance" in message


def test_an_unknown_key_fails_the_connection_with_the_proxys_error(server_js: Path) -> None:
    """mcp.stripe.com answers 401; the proxy has no way to pass that on (it logs it to stderr and drops
    the request), so the session fails when the client's call timeout runs out, quoting that stderr."""
    with hosted() as standin:
        cfg = config(server_js, standin, "UTC", key="rk_test_revoked0000000000000000").connectors["bank"]
        message = str(pull_error(cfg))
    assert "source 'bank', tool 'retrieve_balance': cannot reach the server" in message
    assert "Request 'initialize' timed out" in message and "code: 401" in message  # the proxy's stderr
    assert standin.calls == []
    assert {h["status"] for h in standin.http if "status" in h} <= {401}
