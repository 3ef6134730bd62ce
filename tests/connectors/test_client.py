"""The connector client against the real bundled servers: in memory, and over stdio / HTTP for
the failures that only a real transport shows."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import anyio
import pyarrow as pa
import pytest
import yaml

from connectors.adapters.base import MalformedItem, Stream, to_text_batch
from connectors.adapters.builtin import ErpAdapter
from connectors.client import CallLog, ConnectorError, SourceSession, ToolNotAllowed, launcher_env
from connectors.config import ClientSettings, ConfigError, ConnectorConfig, ServerConfig, parse_config
from connectors.pull import pull_source
from connectors.servers import erp
from tests.conftest import REPO, free_port

FAST = ClientSettings(call_timeout_s=20, retries=1, backoff_s=0.01, backoff_max_s=0.05, page_limit=1000)


def erp_config(
    allow: tuple[str, ...] = ("get_company", "list_accounts", "list_journal_lines"),
    server: ServerConfig | None = None,
    settings: ClientSettings = FAST,
) -> ConnectorConfig:
    return ConnectorConfig("erp", "builtin.erp", server or ServerConfig(command="python"), allow, settings)


def journal(arguments: dict[str, object]) -> Stream:
    return Stream("erp_journal_lines", "list_journal_lines", arguments)


def run(coro_fn, *args):
    return anyio.run(coro_fn, *args)


def test_tool_outside_allow_list_is_refused_before_anything_is_sent(demo_data: Path) -> None:
    log = CallLog()

    async def go() -> None:
        async with SourceSession(erp_config(("list_accounts",)), log=log, server=erp.build_server(demo_data)) as s:
            with pytest.raises(ToolNotAllowed) as info:
                await s.call("list_journal_lines", {})
            assert "source 'erp', tool 'list_journal_lines'" in str(info.value)
            assert s._client is None  # not even connected

    run(go)
    assert log.records == []


def test_paging_follows_cursors_and_returns_every_line_once(tmp_path: Path, demo_data: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_data, data)
    (data / "_switches.json").write_text(json.dumps({"max_page_size": 777}))
    log = CallLog()

    async def go() -> tuple[list[str], set[int]]:
        ids, totals = [], set()
        async with SourceSession(erp_config(), log=log, server=erp.build_server(data)) as s:
            async for page in ErpAdapter().pages(s, journal({"limit": 5000})):  # the paging pull_source uses
                assert len(page.items) <= 777
                ids += [f"{i['entry_id']}/{i['line_no']}" for i in page.items]
                totals.add(page.total)
        return ids, totals

    ids, totals = run(go)
    with (data / "erp" / "journal_lines.csv").open() as f:
        expected = sum(1 for _ in f) - 1
    assert totals == {expected}
    assert len(ids) == len(set(ids)) == expected
    assert len(log.records) == -(-expected // 777)
    assert all(r.status == "ok" and r.tool == "list_journal_lines" for r in log.records)


def test_unreachable_stdio_server_names_source_and_tool() -> None:
    config = erp_config(server=ServerConfig(command="python", args=("-c", "import sys; sys.exit(3)")))

    async def go() -> None:
        async with SourceSession(config) as s:
            await s.call("list_accounts", {})

    with pytest.raises(ConnectorError) as info:
        run(go)
    message = str(info.value)
    assert "source 'erp', tool 'list_accounts'" in message and "gave up after 2 attempts" in message


def test_unreachable_http_server_names_source_and_tool() -> None:
    config = erp_config(server=ServerConfig(url=f"http://127.0.0.1:{free_port()}/mcp"))
    log = CallLog()

    async def go() -> None:
        async with SourceSession(config, log=log) as s:
            await s.call("list_accounts", {})

    with pytest.raises(ConnectorError) as info:
        run(go)
    assert "source 'erp', tool 'list_accounts'" in str(info.value)
    assert [r.status for r in log.records] == ["error", "error"]


def test_server_that_dies_mid_pagination_is_resumed_from_its_cursor(tmp_path: Path, demo_data: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_data, data)
    (data / "_switches.json").write_text(json.dumps({"fail_after_pages": 2, "max_page_size": 2000}))
    server = ServerConfig(command="python", args=("-m", "connectors.servers.erp", "--data", str(data)))
    log = CallLog()

    async def go() -> list[str]:
        ids = []
        async with SourceSession(erp_config(server=server), log=log) as s:
            async for page in ErpAdapter().pages(s, journal({"limit": 2000})):
                ids += [f"{i['entry_id']}/{i['line_no']}" for i in page.items]
        return ids

    ids = run(go)
    with (data / "erp" / "journal_lines.csv").open() as f:
        expected = sum(1 for _ in f) - 1
    assert len(ids) == len(set(ids)) == expected
    assert any(r.status == "error" for r in log.records)  # it did die, and was reopened
    # the first call, and each first call after a failure reopened the session, say what opening it took
    opened = [i for i, r in enumerate(log.records) if r.session_ms is not None]
    assert opened[0] == 0 and len(opened) >= 2 and all(log.records[i - 1].status == "error" for i in opened[1:])


def test_a_session_s_opening_is_audited_beside_its_first_call_and_not_in_its_duration(demo_data: Path) -> None:
    """A server that takes 1.5 s to start: the first call's record says so in `session_ms` and starts (its
    `called_at`, its duration) once the session is open; the next call of the session carries none."""
    slow = (
        "import runpy, sys, time; time.sleep(1.5); sys.argv = ['erp', '--data', sys.argv[1]]; "
        "runpy.run_module('connectors.servers.erp', run_name='__main__')"
    )
    log = CallLog()

    async def go() -> datetime:
        server = ServerConfig(command="python", args=("-c", slow, str(demo_data)))
        async with SourceSession(erp_config(server=server), log=log) as s:
            opened = datetime.now(timezone.utc)
            await s.call("get_company")
            await s.call("list_accounts", {"limit": 5})
        return opened

    opened = run(go)
    first, second = log.records
    assert (first.tool, second.tool) == ("get_company", "list_accounts")
    assert first.session_ms is not None and first.session_ms >= 1500 and second.session_ms is None
    assert first.called_at is not None and (first.called_at - opened).total_seconds() >= 1.5


def test_server_error_text_and_missing_secret_name_the_cause(tmp_path: Path, demo_data: Path) -> None:
    async def go() -> None:
        async with SourceSession(erp_config(), server=erp.build_server(demo_data)) as s:
            await s.call("list_journal_lines", {"cursor": "not-a-cursor"})

    with pytest.raises(ConnectorError) as info:
        run(go)
    assert "tool 'list_journal_lines'" in str(info.value) and "server reported an error" in str(info.value)

    secret = erp_config(server=ServerConfig(command="python", env={"ERP_API_KEY": "${CB_TEST_UNSET_KEY}"}))
    with pytest.raises(ConfigError, match="CB_TEST_UNSET_KEY"):
        run(lambda: SourceSession(secret).open())


def test_malformed_items_are_rejected_with_the_record_named() -> None:
    with pytest.raises(MalformedItem, match="item 1 is not an object"):
        to_text_batch("erp_accounts", [{"account_id": "1000"}, ["not", "a", "record"]])
    with pytest.raises(MalformedItem, match=r"item 0 \(account_id='1000'\), field 'name'"):
        to_text_batch("erp_accounts", [{"account_id": "1000", "name": {"nested": True}}])
    batch = to_text_batch("crm_opportunities", [{"opportunity_id": "O1", "amount": 12, "is_won": True}])
    assert batch.to_pylist()[0]["amount"] == "12" and batch.to_pylist()[0]["is_won"] == "true"


@pytest.mark.parametrize("value", [-1, "weekly"])
def test_full_pull_every_days_must_be_a_number_of_days(tmp_path: Path, value: object) -> None:
    raw = yaml.safe_load((REPO / "closeboard.yaml").read_text(encoding="utf-8"))
    raw["connectors"]["erp"]["full_pull_every_days"] = value
    with pytest.raises(ConfigError, match=r"connectors.erp.full_pull_every_days: a number of days >= 0 or null"):
        parse_config(raw)
    raw["connectors"]["erp"]["full_pull_every_days"] = None
    assert parse_config(raw).connectors["erp"].full_pull_every_days is None


def test_a_uvx_server_gets_what_installing_needs_and_no_unrelated_secret() -> None:
    environ = {
        "PATH": "/bin",
        "SSL_CERT_FILE": "/etc/ca.pem",
        "UV_CACHE_DIR": "/cache",
        "HTTPS_PROXY": "http://p:3128",
        "UV_PUBLISH_TOKEN": "pypi-secret",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "ERP_API_KEY": "k",
    }
    assert launcher_env("/usr/bin/uvx", environ) == {
        "SSL_CERT_FILE": "/etc/ca.pem",
        "UV_CACHE_DIR": "/cache",
        "HTTPS_PROXY": "http://p:3128",
    }
    assert launcher_env("node", environ) == {"SSL_CERT_FILE": "/etc/ca.pem"}


def test_an_error_message_never_carries_a_token() -> None:
    error = ConnectorError("bank", "(connect)", "401 for header Authorization: Bearer abcdef0123456789xyz")
    assert "abcdef0123456789xyz" not in str(error) and "***" in str(error) and "***" in error.cause


def test_the_erp_exchange_rates_are_read_only_when_allow_listed(tmp_path: Path, demo_data: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_data, data)
    rates = [("EUR", "2026-05-29", "1.0842"), ("GBP", "2026-05-29", "1.2710"), ("EUR", "2026-05-31", "1.0851")]
    (data / "erp" / "fx_rates.csv").write_text(
        "currency,rate_date,rate\n" + "".join(f"{c},{d},{r}\n" for c, d, r in rates), encoding="utf-8"
    )
    everything = (*ErpAdapter.default_tools,)
    without = tuple(t for t in everything if t != "list_fx_rates")

    def pull(allow: tuple[str, ...]) -> tuple[set[str], list[dict[str, str]]]:
        config = erp_config(allow)
        adapter = ErpAdapter()
        adapter.configure(config)
        fx: list[dict[str, str]] = []

        def sink(table: str, batch: pa.Table) -> None:
            if table == "erp_fx_rates":
                fx.extend(batch.to_pylist())

        async def go() -> set[str]:
            async with SourceSession(config, server=erp.build_server(data)) as session:
                return set((await pull_source(session, adapter, sink)).tables)

        return run(go), fx

    tables, fx = pull(without)
    assert "erp_fx_rates" not in tables and fx == []
    assert "get_ledger_summary" in ErpAdapter().used_tools()  # so `connectors check` does not call it unused
    tables, fx = pull(everything)
    assert "erp_fx_rates" in tables
    assert sorted((r["currency"], r["rate_date"], r["rate"]) for r in fx) == sorted(rates)
