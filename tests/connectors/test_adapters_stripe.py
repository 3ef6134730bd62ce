"""The `stripe` adapter against in-memory servers shaped like Stripe's MCP server (stripe/agent-toolkit):
`retrieve_balance {}` answering the Balance object as JSON text, list tools capped at 100 that answer
the bare `.data` array, failures as the JSON string "Failed to ...", and the write `create_refund`
that must never be called; balance transactions paged by `starting_after`, by `created` windows,
or not at all (and then never silently cut at 100)."""

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
from connectors.adapters.stripe import from_minor
from connectors.client import CallLog, ConnectorError, SourceSession
from connectors.config import ClientSettings, ConfigError, ConnectorConfig, ServerConfig, parse_config
from connectors.pull import pull_source
from connectors.servers.hosting import new_server
from pipelines.ingest import ingest_source
from warehouse.db import ensure_schema
from warehouse.home import Home

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
BALANCE: dict[str, Any] = json.loads((FIXTURES / "balance.json").read_text())
TXNS: list[dict[str, Any]] = json.loads((FIXTURES / "balance_transactions.json").read_text())
ALLOW = ["retrieve_balance", "list_balance_transactions"]
OPTIONS = {"gl_accounts": {"usd": "1030", "jpy": "1031"}}
START = 1_767_225_600  # 2026-01-01T00:00:00Z


def synthetic(n: int) -> list[dict[str, Any]]:
    """n charges, several per second in places, newest first (as Stripe lists them)."""
    out = [
        {
            "id": f"txn_s{i:04d}",
            "object": "balance_transaction",
            "amount": 1000 + i,
            "fee": 59,
            "net": 941 + i,
            "currency": "usd",
            "created": START + (i // 3) * 3600,
            "type": "charge",
            "description": None,
            "source": f"ch_s{i:04d}",
            "fee_details": [],
            "status": "available",
        }
        for i in range(n)
    ]
    return sorted(out, key=lambda t: (t["created"], t["id"]), reverse=True)


def stripe_server(
    txns: list[dict[str, Any]], calls: list[tuple[str, dict[str, Any]]], *, paging: str, balance_fails: bool = False
) -> Any:
    server = new_server("stripe-fake", title="Stripe (fake)", instructions="test")

    @server.tool(name="retrieve_balance", structured_output=False)
    def retrieve_balance() -> str:
        calls.append(("retrieve_balance", {}))
        return json.dumps("Failed to retrieve balance" if balance_fails else BALANCE)  # String(JSON.stringify(...))

    def window(created: dict[str, int] | None) -> list[dict[str, Any]]:
        created = created or {}
        return [t for t in txns if created.get("gte", 0) <= t["created"] < created.get("lt", 2**62)]

    if paging == "starting_after":  # Stripe's REST list: {object: list, data, has_more}

        @server.tool(name="list_balance_transactions", structured_output=False)
        def list_cursor(
            limit: int = 10, starting_after: str | None = None, created: dict[str, int] | None = None
        ) -> str:
            calls.append(("list_balance_transactions", {"limit": limit, "starting_after": starting_after}))
            assert 1 <= limit <= 100
            rows = window(created)
            start = next(i for i, t in enumerate(rows) if t["id"] == starting_after) + 1 if starting_after else 0
            data = rows[start : start + limit]
            return json.dumps(
                {
                    "object": "list",
                    "data": data,
                    "has_more": start + limit < len(rows),
                    "url": "/v1/balance_transactions",
                }
            )
    elif paging == "created":  # the toolkit's list-tool shape: the bare .data array, at most `limit`

        @server.tool(name="list_balance_transactions", structured_output=False)
        def list_windows(limit: int = 10, created: dict[str, int] | None = None) -> str:
            calls.append(("list_balance_transactions", {"limit": limit, "created": created}))
            assert 1 <= limit <= 100
            return json.dumps(window(created)[:limit])
    else:  # like list_payment_intents: limit only, no cursor

        @server.tool(name="list_balance_transactions", structured_output=False)
        def list_plain(limit: int = 10) -> str:
            calls.append(("list_balance_transactions", {"limit": limit}))
            assert 1 <= limit <= 100
            return json.dumps(txns[:limit])

    @server.tool(name="create_refund", structured_output=False)
    def create_refund(payment_intent: str, amount: int | None = None) -> str:
        calls.append(("create_refund", {"payment_intent": payment_intent}))
        return json.dumps({"id": "re_never", "status": "succeeded"})

    return server


def connector(allow: list[str] = ALLOW, **options: Any) -> ConnectorConfig:
    return ConnectorConfig(
        "bank",
        "stripe",
        ServerConfig(url="https://mcp.stripe.com"),
        tuple(allow),
        ClientSettings(call_timeout_s=20, retries=0),
        {**OPTIONS, **options},
    )


def pull(
    config: ConnectorConfig,
    txns: list[dict[str, Any]] = TXNS,
    *,
    paging: str = "starting_after",
    balance_fails: bool = False,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    rows: dict[str, list[dict[str, Any]]] = {}
    result: dict[str, Any] = {}

    async def go() -> None:
        server = stripe_server(txns, calls, paging=paging, balance_fails=balance_fails)
        async with SourceSession(config, log=CallLog(), server=server) as session:
            pulled = await pull_source(
                session, adapter_for(config), lambda t, b: rows.setdefault(t, []).extend(b.to_pylist())
            )
            result.update(pulled.tables)

    anyio.run(go)
    return rows, result, calls


def txn(
    txn_id: str, day: str, amount: str, description: str, reference: str | None, ccy: str = "usd"
) -> dict[str, Any]:
    return {
        "txn_id": txn_id,
        "bank_account_id": f"stripe:{ccy}",
        "booked_date": day,
        "amount": amount,
        "description": description,
        "reference": reference,
    }


EXPECTED_SPLIT = [  # from balance_transactions.json: cents -> exact decimals, JPY has no minor unit
    txn("txn_1A", "2026-05-01", "100.00", "charge: Invoice INV-1001", "ch_1A"),
    txn("txn_1A:fee", "2026-05-01", "-3.20", "Stripe fee on txn_1A: Stripe processing fees", "ch_1A"),
    txn("txn_1B", "2026-05-03", "-25.00", "refund: REFUND FOR CHARGE (Invoice INV-0990)", "re_1B"),
    txn("txn_1C", "2026-05-05", "-500.00", "payout: STRIPE PAYOUT", "po_1C"),
    txn("txn_1D", "2026-05-06", "5000", "charge", "ch_1D", "jpy"),
    txn(
        "txn_1D:fee", "2026-05-06", "-180", "Stripe fee on txn_1D: Stripe processing fees, Tax on fees", "ch_1D", "jpy"
    ),
    txn("txn_1E", "2026-05-10", "-15.00", "stripe_fee: Radar (2026-05-01 - 2026-05-31)", None),
    txn("txn_1F", "2026-05-31", "250.75", "charge: Invoice INV-1002", "ch_1F"),
    txn("txn_1F:fee", "2026-05-31", "-7.57", "Stripe fee on txn_1F: Stripe processing fees", "ch_1F"),
]


def test_balance_transactions_accounts_and_balances_map_exactly() -> None:
    rows, tables, calls = pull(connector(page_size=2))
    assert sorted(rows["bank_transactions"], key=lambda r: r["txn_id"]) == EXPECTED_SPLIT
    # every line of a transaction sums to its net: what moved the Stripe balance
    good = [t for t in TXNS if t["id"] not in ("txn_1G", "txn_1H")]
    for t in good:
        lines = [Decimal(r["amount"]) for r in rows["bank_transactions"] if r["txn_id"].split(":")[0] == t["id"]]
        assert sum(lines) == Decimal(from_minor(t["net"], t["currency"]))
    # cursor paging by starting_after, two a page, until has_more is false
    listed = [c[1] for c in calls if c[0] == "list_balance_transactions"]
    assert [c["starting_after"] for c in listed] == [None, *[TXNS[i]["id"] for i in range(1, len(TXNS) - 1, 2)]]
    reasons = {json.loads(item)["id"]: reason for item, reason, *_ in tables["bank_transactions"].rejected}
    assert reasons == {
        "txn_1G": "Stripe balance transaction txn_1G: amount/fee/net must be integers of minor units, got 12.5/0/1250",
        "txn_1H": "Stripe balance transaction txn_1H: net 3900 is not amount 4000 - fee 146",
    }
    assert rows["bank_accounts"] == [
        {"bank_account_id": "stripe:jpy", "name": "Stripe JPY", "currency": "JPY", "gl_account_id": "1031"},
        {"bank_account_id": "stripe:usd", "name": "Stripe USD", "currency": "USD", "gl_account_id": "1030"},
    ]
    [(item, reason, *_)] = tables["bank_accounts"].rejected
    assert json.loads(item)["currency"] == "eur" and "no ERP account for it" in reason
    today = rows["bank_balances"][0]["balance_date"]
    assert today == date.today().isoformat() or abs((date.fromisoformat(today) - date.today()).days) <= 1
    assert rows["bank_balances"] == [  # available + pending per currency, as of the pull
        {"bank_account_id": "stripe:eur", "balance_date": today, "closing_balance": "5.00"},
        {"bank_account_id": "stripe:jpy", "balance_date": today, "closing_balance": "4820"},
        {"bank_account_id": "stripe:usd", "balance_date": today, "closing_balance": "1296.80"},
    ]


def test_net_fees_and_time_zone() -> None:
    rows, _, _ = pull(connector(fees="net", timezone="Europe/Berlin"))
    by_id = {r["txn_id"]: r for r in rows["bank_transactions"]}
    assert sorted(by_id) == ["txn_1A", "txn_1B", "txn_1C", "txn_1D", "txn_1E", "txn_1F"]
    assert (by_id["txn_1A"]["amount"], by_id["txn_1D"]["amount"]) == ("96.80", "4820")
    assert (by_id["txn_1F"]["amount"], by_id["txn_1F"]["booked_date"]) == ("243.18", "2026-06-01")  # 23:30 UTC


def test_created_windows_read_past_the_100_limit_exactly_once() -> None:
    txns = synthetic(250)
    rows, _, calls = pull(connector(since="2026-01-01"), txns, paging="created")
    got = sorted(r["txn_id"] for r in rows["bank_transactions"] if not r["txn_id"].endswith(":fee"))
    assert got == sorted(t["id"] for t in txns)
    assert len(rows["bank_transactions"]) == 2 * len(txns)  # every charge has a fee line
    windows = [c[1]["created"] for c in calls if c[0] == "list_balance_transactions"]
    assert all(w["gte"] >= START and w["lt"] > w["gte"] for w in windows)
    assert len(windows) > 3  # the full windows were split and read again
    assert sum(Decimal(r["amount"]) for r in rows["bank_transactions"]) == Decimal(sum(t["net"] for t in txns)) / 100


def test_a_tool_without_a_cursor_never_stops_silently_at_100() -> None:
    with pytest.raises(ConnectorError) as info:
        pull(connector(), synthetic(250), paging="none")
    message = str(info.value)
    assert "tool 'list_balance_transactions'" in message
    assert "returned 100 balance transactions, the most one call returns" in message
    rows, _, calls = pull(connector(), synthetic(40), paging="none")  # fewer than the limit: complete
    assert len([r for r in rows["bank_transactions"] if ":" not in r["txn_id"]]) == 40
    assert [c for c in calls if c[0] == "list_balance_transactions"] == [("list_balance_transactions", {"limit": 100})]


def test_failed_to_text_fails_naming_the_tool() -> None:
    with pytest.raises(ConnectorError) as info:
        pull(connector(), balance_fails=True)
    assert "tool 'retrieve_balance'" in str(info.value) and "Failed to retrieve balance" in str(info.value)


def test_create_refund_is_refused_at_config_load_and_never_called() -> None:
    raw = {
        "company": {"name": "Stripe Co", "currency": "USD", "first_period": "2026-01"},
        "connectors": {
            "bank": {
                "adapter": "stripe",
                "server": {"url": "https://mcp.stripe.com"},
                "allow_tools": [*ALLOW, "create_refund"],
                "options": OPTIONS,
            }
        },
    }
    with pytest.raises(ConfigError, match=r"\['create_refund'\] not declared as read tools by adapter 'stripe'"):
        parse_config(raw)
    _, _, calls = pull(connector([*ALLOW, "create_refund"]))
    assert {c[0] for c in calls} == set(ALLOW)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="set options.gl_account_id"):
        adapter_for(ConnectorConfig("bank", "stripe", ServerConfig(url="https://x"), tuple(ALLOW)))
    for bad, message in [
        ({"fees": "gross"}, "options.fees"),
        ({"page_size": 101}, "options.page_size"),
        ({"paging": "pages"}, "options.paging"),
        ({"since": "May"}, "options.since"),
    ]:
        with pytest.raises(ValueError, match=message):
            adapter_for(connector(**bad))
    assert (from_minor(12345, "kwd"), from_minor(-7, "usd"), from_minor(500, "JPY")) == ("12.345", "-0.07", "500")


@pytest.mark.parametrize("key", ["transactions_tool", "balance_tool"])
def test_options_cannot_make_a_write_tool_a_read(key: str) -> None:
    raw = {
        "company": {"name": "Stripe Co", "currency": "USD", "first_period": "2026-01"},
        "connectors": {
            "bank": {
                "adapter": "stripe",
                "server": {"url": "https://mcp.stripe.com"},
                "allow_tools": ["create_refund", *ALLOW],
                "options": {**OPTIONS, key: "create_refund"},
            }
        },
    }
    with pytest.raises(ConfigError, match=rf"options.{key}: 'create_refund' is not named as a read tool"):
        parse_config(raw)


def test_loads_into_the_warehouse(tmp_path: Path) -> None:
    config = parse_config(
        {
            "company": {"name": "Stripe Co", "currency": "USD", "first_period": "2026-01"},
            "connectors": {
                "bank": {
                    "adapter": "stripe",
                    "server": {"url": "https://mcp.stripe.com"},
                    "allow_tools": ALLOW,
                    "client": {"call_timeout_s": 20, "retries": 0},
                    "options": OPTIONS,
                }
            },
        }
    )
    con = duckdb.connect()
    ensure_schema(con)

    @contextmanager
    def connect():  # noqa: ANN202
        yield con

    ingest_source(
        config,
        "bank",
        home=Home(tmp_path / "home"),
        run_id="r1",
        connect=connect,
        server=stripe_server(TXNS, [], paging="starting_after"),
    )
    got = con.execute(
        "select txn_id, bank_account_id, booked_date, amount from bank_transactions order by txn_id"
    ).fetchall()
    assert got == [
        (r["txn_id"], r["bank_account_id"], date.fromisoformat(r["booked_date"]), Decimal(r["amount"]))
        for r in EXPECTED_SPLIT
    ]
    assert con.execute("select bank_account_id, gl_account_id from bank_accounts order by 1").fetchall() == [
        ("stripe:jpy", "1031"),
        ("stripe:usd", "1030"),
    ]
    assert con.execute("select count(*) from quarantine where source = 'bank'").fetchall() == [(3,)]


# --- a server that caps its pages below the limit asked, answering bare arrays (no has_more) -----
def capped_server(txns: list[dict[str, Any]], calls: list[dict[str, Any]], *, cap: int, paging: str) -> Any:
    server = new_server("stripe-capped", title="Stripe proxy (fake)", instructions="test")

    @server.tool(name="retrieve_balance", structured_output=False)
    def retrieve_balance() -> str:
        return json.dumps(BALANCE)

    def window(created: dict[str, int] | None) -> list[dict[str, Any]]:
        created = created or {}
        return [t for t in txns if created.get("gte", 0) <= t["created"] < created.get("lt", 2**62)]

    if paging == "starting_after":

        @server.tool(name="list_balance_transactions", structured_output=False)
        def list_cursor(
            limit: int = 10, starting_after: str | None = None, created: dict[str, int] | None = None
        ) -> str:
            calls.append({"limit": limit, "starting_after": starting_after})
            rows = window(created)
            start = next(i for i, t in enumerate(rows) if t["id"] == starting_after) + 1 if starting_after else 0
            return json.dumps(rows[start : start + min(limit, cap)])
    else:

        @server.tool(name="list_balance_transactions", structured_output=False)
        def list_windows(limit: int = 10, created: dict[str, int] | None = None) -> str:
            calls.append({"limit": limit, "created": created})
            return json.dumps(window(created)[: min(limit, cap)])

    return server


def pull_capped(
    config: ConnectorConfig, txns: list[dict[str, Any]], *, cap: int, paging: str
) -> tuple[list[str], list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []

    async def go() -> None:
        async with SourceSession(
            config, log=CallLog(), server=capped_server(txns, calls, cap=cap, paging=paging)
        ) as session:
            await pull_source(
                session,
                adapter_for(config),
                lambda t, b: rows.extend(b.to_pylist()) if t == "bank_transactions" else None,
            )

    anyio.run(go)
    return sorted(r["txn_id"] for r in rows if ":" not in r["txn_id"]), calls


@pytest.mark.parametrize("order", ["newest_first", "oldest_first"])
@pytest.mark.parametrize("paging", ["starting_after", "created"])
def test_a_server_capping_bare_array_pages_fails_instead_of_cutting_short(paging: str, order: str) -> None:
    txns = synthetic(250)
    if order == "oldest_first":
        txns = txns[::-1]
    with pytest.raises(ConnectorError) as info:  # asked for 100, gets 40: without a check, 40 of 250
        pull_capped(connector(since="2026-01-01"), txns, cap=40, paging=paging)
    message = str(info.value)
    assert "tool 'list_balance_transactions'" in message
    assert "the server caps pages at 40: asked for 100 balance transactions, the first page held 40" in message
    assert "set options.page_size to 40" in message
    # with the cap as the page size, every transaction once
    got, _ = pull_capped(connector(since="2026-01-01", page_size=40), txns, cap=40, paging=paging)
    assert got == sorted(t["id"] for t in txns)


@pytest.mark.parametrize("paging", ["starting_after", "created"])
def test_a_short_first_page_that_is_everything_costs_one_more_call(paging: str) -> None:
    txns = synthetic(30)
    got, calls = pull_capped(connector(since="2025-12-01"), txns, cap=40, paging=paging)
    assert got == sorted(t["id"] for t in txns)
    assert len(calls) == 2  # the page, then the empty rest beyond its last item
    if paging == "starting_after":
        assert calls[1]["starting_after"] == txns[-1]["id"]
    else:
        assert calls[1]["created"] == {"gte": calls[0]["created"]["gte"], "lt": START}  # older than its oldest
