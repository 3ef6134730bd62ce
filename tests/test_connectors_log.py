"""`closeboard connectors log`: the audit trail of MCP calls, printed from the read copy (the CLI
command in this process)."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest

from connectors.client import CallLog, ConnectorError, SourceSession
from connectors.config import ClientSettings, ConnectorConfig, ServerConfig
from connectors.servers import crm
from pipelines.ingest import write_calls
from tests.conftest import cli_in_process, read
from warehouse.db import connect


def run_async(fn, *args):
    """anyio.run in a fresh thread: a session's Playwright browser keeps an event loop running in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, fn, *args).result()


def test_log_of_the_last_run_lists_every_call(demo_home: Path) -> None:
    out = cli_in_process("connectors", "log", "--last", "--limit", "1000", home=demo_home).stdout
    last = read(demo_home, "select run_id from connector_calls order by rowid desc limit 1")[0][0]
    calls = read(
        demo_home,
        "select source, tool, count(*), sum(items)::bigint from connector_calls "
        "where run_id = ? and status = 'ok' group by all order by all",
        [last],
    )
    assert calls, "the demo's run made calls"
    for source, tool, n, _items in calls:
        rows = [line for line in out.splitlines() if f" {source} " in line and f" {tool} " in line]
        assert len(rows) == n, (source, tool, rows)
    for source in {s for s, *_ in calls}:
        n = sum(c for s, _, c, _ in calls if s == source)
        items = sum(i or 0 for s, _, _, i in calls if s == source)
        assert f"{source}: {n:,} calls ({n:,} ok, 0 failed), {items:,} items" in out
    assert last[:8] in out
    # every call has its time
    assert read(demo_home, "select count(*) from connector_calls where called_at is null")[0][0] == 0
    # each source's session opened once, its opening's time on its first call (its own column, not the call's ms)
    opened = read(
        demo_home,
        "select source, count(session_ms), min(rowid) filter (where session_ms is not null) = min(rowid) "
        "from connector_calls where run_id = ? group by all order by all",
        [last],
    )
    assert opened and all(n == 1 and first for _, n, first in opened), opened
    assert "session ms" in out


def test_log_filters_by_source_and_limit(demo_home: Path) -> None:
    out = cli_in_process("connectors", "log", "--source", "bank", "--limit", "2", home=demo_home).stdout
    body = [line for line in out.splitlines() if line.startswith("│")]
    assert len(body) == 2 and all(" bank " in line for line in body)
    assert " erp " not in out and " crm " not in out


def test_secrets_in_arguments_and_errors_never_reach_the_log(demo_home: Path, demo_data: Path, tmp_path: Path) -> None:
    """Calls carrying secrets (by key name at any depth, and secret-looking values) are written to
    connector_calls redacted, and `connectors log` shows no secret."""
    secrets = [
        "s3cr3t-api-key-value",
        "rt-0123456789abcdef",
        "hunter2-password",
        "abcdefghijklmnop0123",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    ]
    config = ConnectorConfig(
        "crm",
        "builtin.crm",
        ServerConfig(command="python"),
        ("list_opportunities",),
        ClientSettings(call_timeout_s=20, retries=0),
    )
    log = CallLog()

    async def go() -> None:
        async with SourceSession(config, log=log, server=crm.build_server(demo_data)) as session:
            with pytest.raises(ConnectorError):  # the server refuses the arguments: a failed call, logged too
                await session.call(
                    "list_opportunities",
                    {
                        "api_key": secrets[0],
                        "options": {"refresh_token": secrets[1], "Password": secrets[2]},
                        "note": f"Bearer {secrets[3]}",
                        "filters": [secrets[4]],
                        "limit": "not a number",
                    },
                )
            await session.call("list_opportunities", {"limit": 1, "authorization": f"Bearer {secrets[3]}"})

    run_async(go)
    assert [r.status for r in log.records] == ["error", "ok"]
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy2(demo_home / "warehouse.read.duckdb", home / "warehouse.read.duckdb")
    con = connect(home / "warehouse.read.duckdb")
    try:
        write_calls(con, "secret-test-run", log)
        stored = [
            a
            for (a,) in con.execute(
                "select arguments from connector_calls where run_id = 'secret-test-run' order by rowid"
            ).fetchall()
        ]
    finally:
        con.close()
    first = json.loads(stored[0])
    assert first["api_key"] == "***" and first["options"] == {"Password": "***", "refresh_token": "***"}
    assert first["note"] == "***" and first["filters"] == ["***"] and first["limit"] == "not a number"
    out = cli_in_process("connectors", "log", "--run", "secret-test", home=home)
    text = out.stdout + out.stderr
    assert "list_opportunities" in text and "crm: 2 calls (1 ok, 1 failed)" in text
    for secret in secrets:
        assert secret not in text
        assert secret not in (home / "warehouse.read.duckdb").read_bytes().decode("latin-1")
