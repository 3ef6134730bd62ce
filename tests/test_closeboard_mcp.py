"""`closeboard mcp`: the close as a read-only MCP server (issue 18).

One private copy of the session's demo home is closed and restated once for the module: CLOSED is
signed off; RESTATED is signed off and then a balanced backdated entry lands in it at the ERP server,
so a refresh appends a `restated` version. The server is reached in memory (the SDK's `Client` over
`build_server(home)`), over stdio as a desktop client would start it (`--print-config`), and over
streamable HTTP (`closeboard mcp --http PORT` as a subprocess). Every expected figure is read from
the warehouse's read copy (mart_kpis, mart_statements, recon_*, close_snapshots), never restated here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx2
import pytest
from click.testing import CliRunner
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from pipelines.cli import main
from reports.mcp_server import AUDIT_FILE, TOOL_NAMES, build_server
from tests.conftest import (
    ACCRUAL,
    AS_OF,
    EXPENSE,
    REPO,
    append_journal,
    close_in_process,
    copy_home,
    free_port,
    read,
    refresh_in_process,
    wait_for_port,
)
from warehouse.checks import CHECK_IDS

OPEN = AS_OF.strftime("%Y-%m")
CLOSED, RESTATED, DRAFT = "2026-03", "2026-04", "2026-05"
SIGNER = "Ada Lovelace"
AMOUNT = Decimal("1234.56")
SECRET = "cb-mcp-test-secret-7f3a9e"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, demo_home: Path) -> Path:
    """The demo home with CLOSED closed, and RESTATED closed then restated by a backdated entry."""
    target = copy_home(demo_home, tmp_path_factory.mktemp("mcp") / "home")
    close_in_process(target, CLOSED, SIGNER)
    close_in_process(target, RESTATED, SIGNER)
    append_journal(target, "JE-MCP-1", f"{RESTATED}-20", [(EXPENSE, AMOUNT, Decimal(0)), (ACCRUAL, Decimal(0), AMOUNT)])
    refresh_in_process(target)
    return target


def rows(home: Path, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    con = duckdb.connect(str(home / "warehouse.read.duckdb"), read_only=True)
    try:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        con.close()


def snapshot(home: Path, period: str, version: int) -> dict[str, Any]:
    return rows(home, "select * from close_snapshots where period = ? and version = ?", [period, version])[0]


def mart_kpis(home: Path, period: str) -> dict[str, str | None]:
    return {
        r["kpi"]: r["value"]
        for r in rows(home, "select kpi, value::varchar as value from mart_kpis where period = ?", [period])
    }


async def call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, f"{tool}({args}): {result.content[0].text}"
    return json.loads(result.content[0].text)


async def refused(client: Client, tool: str, **args: Any) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, f"{tool}({args}) was answered: {result.content[0].text[:300]}"
    return result.content[0].text


def assert_envelope(answer: dict[str, Any], period: str) -> None:
    assert answer["period"] == period
    assert {"version", "status", "fingerprint", "state", "figures_from", "data_as_of"} <= set(answer)
    assert answer["status"] in ("draft", "closed", "restated")
    assert answer["data_as_of"]["run_date"] == AS_OF.isoformat()
    assert set(answer["data_as_of"]["sources"]) == {"erp", "bank", "crm", "budget"}


# --------------------------------------------------------------------------------------------- in memory


@pytest.mark.anyio
async def test_every_tool_is_read_only_and_says_what_its_figures_mean(home: Path) -> None:
    async with Client(build_server(home)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert tuple(tools) == TOOL_NAMES
    for tool in tools.values():
        ann = tool.annotations
        assert ann is not None and ann.read_only_hint is True and ann.destructive_hint is False, tool.name
        assert tool.title and tool.description and tool.output_schema is None
    kpis = [r["kpi"] for r in rows(home, "select distinct kpi from mart_kpis")]
    for name in ("get_kpis", "explain"):
        description = tools[name].description
        assert "reconciled" in description
        for kpi in kpis:
            assert f"- {kpi} (" in description, (name, kpi)
    for check_id in CHECK_IDS:
        assert check_id in tools["get_checks"].description
    assert set(tools["get_kpis"].input_schema["properties"]) == {"period", "version"}
    assert set(tools["get_check_items"].input_schema["properties"]) == {"period", "check_id", "cursor", "limit"}


@pytest.mark.anyio
async def test_list_periods_gives_every_period_its_close_state_and_verdicts(home: Path) -> None:
    async with Client(build_server(home)) as client:
        answer = await call(client, "list_periods")
    periods = {p["period"]: p for p in answer["periods"]}
    assert list(periods) == [r["period"] for r in rows(home, "select period from periods order by period")]
    assert periods[OPEN]["state"] == "open" and periods[OPEN]["version"] is None
    assert periods[DRAFT]["state"] == "draft" and periods[DRAFT]["status"] == "draft"
    assert periods[CLOSED]["state"] == "closed" and periods[CLOSED]["closed_by"] == SIGNER
    assert periods[RESTATED]["state"] == "restated since close" and periods[RESTATED]["status"] == "restated"
    latest = {
        r["period"]: r
        for r in rows(
            home,
            "select period, max(version) as v, arg_max(source_fingerprint, "
            "version) as f from close_snapshots group by period",
        )
    }
    for period, p in periods.items():
        if period != OPEN:
            assert (p["version"], p["fingerprint"]) == (latest[period]["v"], latest[period]["f"])
    verdicts = rows(home, "select period, check_id, status from recon_results")
    assert {(r["period"], r["check_id"]): r["status"] for r in verdicts} == {
        (p, c): s for p, v in periods.items() for c, s in v["checks"].items()
    }
    assert answer["data_as_of"]["run_id"] == json.loads((home / "reports" / "status.json").read_text())["run_id"]


@pytest.mark.anyio
async def test_kpis_of_a_draft_and_the_open_month_are_mart_kpis(home: Path) -> None:
    async with Client(build_server(home)) as client:
        draft = await call(client, "get_kpis", period=DRAFT)
        open_month = await call(client, "get_kpis", period=OPEN)
    assert_envelope(draft, DRAFT)
    assert draft["kpis"] == mart_kpis(home, DRAFT) and draft["figures_from"] == "warehouse"
    row = snapshot(home, DRAFT, draft["version"])
    assert (row["status"], row["source_fingerprint"]) == ("draft", draft["fingerprint"])
    assert open_month["kpis"] == mart_kpis(home, OPEN)
    assert open_month["state"] == "open" and open_month["month_to_date"] and open_month["version"] is None
    assert all(v is None or re.fullmatch(r"-?\d+\.\d{2}", v) for v in draft["kpis"].values())


@pytest.mark.anyio
async def test_a_closed_month_answers_its_closed_version(home: Path) -> None:
    async with Client(build_server(home)) as client:
        answer = await call(client, "get_kpis", period=CLOSED)
        first = await call(client, "get_kpis", period=CLOSED, version=1)
    closed = rows(home, "select * from close_snapshots where period = ? and status = 'closed'", [CLOSED])[-1]
    assert_envelope(answer, CLOSED)
    assert (answer["version"], answer["status"], answer["state"]) == (closed["version"], "closed", "closed")
    assert answer["kpis"] == json.loads(closed["kpis"]) and answer["figures_from"] == "snapshot"
    assert answer["fingerprint"] == closed["source_fingerprint"] and answer["closed_by"] == SIGNER
    assert (first["version"], first["status"]) == (1, "draft")
    assert first["kpis"] == json.loads(snapshot(home, CLOSED, 1)["kpis"])


@pytest.mark.anyio
async def test_a_restated_month_says_so_and_keeps_answering_its_close(home: Path) -> None:
    async with Client(build_server(home)) as client:
        answer = await call(client, "get_kpis", period=RESTATED)
        restated = await call(client, "get_kpis", period=RESTATED, version=3)
        history = await call(client, "get_history", period=RESTATED)
    closed, latest = snapshot(home, RESTATED, 2), snapshot(home, RESTATED, 3)
    assert (closed["status"], latest["status"]) == ("closed", "restated")
    assert answer["state"] == "restated since close" and (answer["version"], answer["status"]) == (2, "closed")
    assert answer["kpis"] == json.loads(closed["kpis"]) and answer["latest_version"] == 3
    assert restated["status"] == "restated" and restated["kpis"] == json.loads(latest["kpis"])
    assert restated["kpis"]["opex"] == mart_kpis(home, RESTATED)["opex"]
    assert Decimal(restated["kpis"]["opex"]) - Decimal(answer["kpis"]["opex"]) == AMOUNT
    assert [(v["version"], v["status"]) for v in history["versions"]] == [(1, "draft"), (2, "closed"), (3, "restated")]
    assert history["status"] == "restated" and history["state"] == "restated since close"
    assert history["versions"][2]["differences"] == json.loads(latest["differences"])
    assert history["versions"][2]["differences"]["kpis"]["opex"]["difference"] == str(AMOUNT)
    assert [v["fingerprint"] for v in history["versions"]] == [
        r["source_fingerprint"]
        for r in rows(
            home, "select source_fingerprint from close_snapshots where period = ? order by version", [RESTATED]
        )
    ]


@pytest.mark.anyio
async def test_statements_are_mart_statements_or_what_a_superseded_version_kept(home: Path) -> None:
    async with Client(build_server(home)) as client:
        answers = {
            kind: await call(client, "get_statement", kind=kind, period=DRAFT)
            for kind in ("income_statement", "balance_sheet", "cash_flow")
        }
        subtype = await call(client, "get_statement", kind="income_statement", period=DRAFT, rollup="subtype")
        closed_bs = await call(client, "get_statement", kind="balance_sheet", period=CLOSED)
        superseded = await call(client, "get_statement", kind="income_statement", period=RESTATED)
        no_cash_flow = await refused(client, "get_statement", kind="cash_flow", period=RESTATED, version=2)
        current = await call(client, "get_statement", kind="cash_flow", period=RESTATED, version=3)
    sql = (
        "select line_id, label, amount::varchar as amount, prior_month::varchar as prior_month, ytd::varchar as ytd "
        "from mart_statements where period = ? and statement = ? and rollup = ? order by line_order"
    )
    for kind, answer in answers.items():
        assert_envelope(answer, DRAFT)
        got = [{k: line[k] for k in ("line_id", "label", "amount", "prior_month", "ytd")} for line in answer["lines"]]
        assert got == rows(home, sql, [DRAFT, kind, "account"]), kind
    assert [line["line_id"] for line in subtype["lines"]] == [
        r["line_id"] for r in rows(home, sql, [DRAFT, "income_statement", "subtype"])
    ]
    assert (closed_bs["version"], closed_bs["status"]) == (2, "closed")
    assert [line["amount"] for line in closed_bs["lines"]] == [
        r["amount"] for r in rows(home, sql, [CLOSED, "balance_sheet", "account"])
    ]
    # the restated month's closed version is no longer the warehouse's: its snapshot's own P&L
    pnl = json.loads(snapshot(home, RESTATED, 2)["statements"])["pnl"]
    assert (superseded["version"], superseded["figures_from"]) == (2, "snapshot")
    assert {r["account_id"]: r["amount"] for r in superseded["lines"]} == {r["account_id"]: r["amount"] for r in pnl}
    assert "cash_flow" in no_cash_flow and "version 3" in no_cash_flow
    assert current["status"] == "restated" and current["lines"]


@pytest.mark.anyio
async def test_explain_is_closeboard_explain_without_the_calls_arguments(home: Path) -> None:
    from reports.explain import explain

    async with Client(build_server(home)) as client:
        answer = await call(client, "explain", figure="revenue", period=DRAFT, limit=5)
        ratio = await call(client, "explain", figure="gross_margin_pct", period=DRAFT)
    con = duckdb.connect(str(home / "warehouse.read.duckdb"), read_only=True)
    try:
        expected = json.loads(json.dumps(explain(con, "revenue", DRAFT, limit=5), default=str))
    finally:
        con.close()
    got = answer["explanation"]
    assert_envelope(answer, DRAFT)
    assert got["figure"] == "revenue" and got["value"] == mart_kpis(home, DRAFT)["revenue"] == expected["value"]
    assert got["rows"]["shown"] == expected["rows"]["shown"] and got["ties"] is True
    assert got["definition"] == expected["definition"]
    assert [s["table_name"] for s in got["sources"]] == [s["table_name"] for s in expected["sources"]]
    assert any(s["calls"] for s in got["sources"])
    assert '"arguments"' not in json.dumps(answer)
    assert ratio["explanation"]["kind"] == "formula"
    assert ratio["explanation"]["value"] == mart_kpis(home, DRAFT)["gross_margin_pct"]


@pytest.mark.anyio
async def test_checks_and_their_items_page_through_recon_items(home: Path) -> None:
    period = next(
        r["period"]
        for r in rows(
            home,
            "select period, count(*) as n from recon_items where check_id = 'R2_bank_vs_book' "
            "group by period having count(*) > 2 order by period desc limit 1",
        )
    )
    async with Client(build_server(home)) as client:
        checks = await call(client, "get_checks", period=period)
        pages, cursor = [], None
        while True:
            page = await call(
                client,
                "get_check_items",
                period=period,
                check_id="R2",
                limit=2,
                **({"cursor": cursor} if cursor else {}),
            )
            pages.append(page)
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad_cursor = await refused(
            client, "get_check_items", period=period, check_id="R3", cursor=pages[0]["next_cursor"]
        )
    verdicts = rows(
        home,
        "select check_id, status, expected::varchar as expected, difference::varchar as difference "
        "from recon_results where period = ? order by check_id",
        [period],
    )
    assert [{k: c[k] for k in ("check_id", "status", "expected", "difference")} for c in checks["checks"]] == verdicts
    assert_envelope(checks, period)
    items = rows(
        home,
        "select source, record_id, record_date::varchar as record_date, amount::varchar as amount, reason "
        "from recon_items where period = ? and check_id = 'R2_bank_vs_book'",
        [period],
    )
    served = [i for p in pages for i in p["items"]]
    assert len(pages) == -(-len(items) // 2) and all(p["total"] == len(items) for p in pages)
    key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
    assert sorted(map(key, served)) == sorted(map(key, items))
    assert pages[0]["check_id"] == "R2_bank_vs_book"
    assert "cursor does not belong to this query" in bad_cursor


@pytest.mark.anyio
async def test_bad_inputs_are_refused_saying_what_is_valid(home: Path) -> None:
    periods = [r["period"] for r in rows(home, "select period from periods order by period")]
    async with Client(build_server(home)) as client:
        bad_format = await refused(client, "get_kpis", period="2026-13")
        unknown = await refused(client, "get_checks", period="2019-01")
        figure = await refused(client, "explain", figure="revenu", period=DRAFT)
        kind = await refused(client, "get_statement", kind="pnl", period=DRAFT)
        version = await refused(client, "get_kpis", period=CLOSED, version=99)
        check = await refused(client, "get_check_items", period=DRAFT, check_id="R9")
        cursor = await refused(client, "get_check_items", period=DRAFT, check_id="R2", cursor="not-a-cursor")
        limit = await refused(client, "get_check_items", period=DRAFT, check_id="R2", limit=0)
        sql = await refused(client, "get_kpis", period="2026-05' or 1=1 --")
    for message in (bad_format, unknown, sql):
        assert ", ".join(periods) in message
    assert "did you mean revenue" in figure and "gross_margin_pct" in figure
    assert "income_statement, balance_sheet, cash_flow" in kind
    assert "v1 draft, v2 closed" in version
    assert all(c in check for c in CHECK_IDS)
    assert "invalid cursor" in cursor and "1 to" in limit


@pytest.mark.anyio
async def test_every_call_is_audited_outside_the_read_only_copy(home: Path) -> None:
    read_copy = home / "warehouse.read.duckdb"
    before = hashlib.sha256(read_copy.read_bytes()).hexdigest()
    audit = home / AUDIT_FILE
    con = duckdb.connect(str(audit)) if audit.exists() else None
    seen = con.execute("select count(*) from mcp_calls").fetchall()[0][0] if con else 0
    if con:
        con.close()
    async with Client(build_server(home)) as client:
        await call(client, "get_kpis", period=DRAFT)
        await refused(client, "get_kpis", period="nope")
    con = duckdb.connect(str(audit), read_only=True)
    try:
        calls = con.execute(
            "select tool, arguments, status, error, transport from mcp_calls order by called_at offset ?", [seen]
        ).fetchall()
    finally:
        con.close()
    assert [(c[0], json.loads(c[1]), c[2], c[4]) for c in calls] == [
        ("get_kpis", {"period": DRAFT, "version": None}, "ok", "memory"),
        ("get_kpis", {"period": "nope", "version": None}, "error", "memory"),
    ]
    assert "period must be a month" in calls[1][3]
    assert hashlib.sha256(read_copy.read_bytes()).hexdigest() == before
    assert not rows(home, "select * from duckdb_tables() where table_name = 'mcp_calls'")


# --------------------------------------------------------------------------------------------- processes


def start(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "--home", str(home), "mcp", "--http", str(port), *args],
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "CLOSEBOARD_HOME": str(home), **(env or {})},
    )
    wait_for_port(port, proc)
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def http_url(home: Path) -> Iterator[str]:
    """`closeboard mcp --http PORT` on the module's home, with a secret in its environment."""
    proc, port = start(home, env={"ERP_API_KEY": SECRET})
    yield f"http://127.0.0.1:{port}/mcp"
    stop(proc)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_over_http_a_foreign_host_is_refused(http_url: str) -> None:
    with httpx2.Client(timeout=10) as http:
        foreign = http.post(http_url, json=INITIALIZE, headers={**MCP_HEADERS, "Host": "evil.example"})
        rebound = http.post(
            http_url,
            json=INITIALIZE,
            headers={**MCP_HEADERS, "Host": "evil.example:" + http_url.split(":")[2].split("/")[0]},
        )
        local = http.post(http_url, json=INITIALIZE, headers=MCP_HEADERS)
    assert foreign.status_code in (421, 403) and rebound.status_code in (421, 403)
    assert "revenue" not in foreign.text
    assert local.status_code == 200 and local.json()["result"]["serverInfo"]["name"] == "closeboard"


@pytest.mark.anyio
async def test_over_http_no_answer_holds_a_secret_a_call_argument_or_a_path_outside_the_home(
    home: Path, http_url: str
) -> None:
    texts = []
    async with httpx2.AsyncClient(timeout=60) as http:
        async with Client(
            streamable_http_client(http_url, http_client=http, max_sse_event_size=None), read_timeout_seconds=60
        ) as client:
            asks = [
                ("list_periods", {}),
                ("get_kpis", {"period": RESTATED}),
                ("get_history", {"period": RESTATED}),
                ("get_statement", {"kind": "balance_sheet", "period": CLOSED}),
                ("explain", {"figure": "cash", "period": DRAFT, "limit": 50}),
                ("explain", {"figure": "pipeline_open", "period": DRAFT}),
                ("get_checks", {"period": DRAFT}),
                ("get_check_items", {"period": DRAFT, "check_id": "R5", "limit": 500}),
                ("get_kpis", {"period": "../../etc/passwd"}),
                ("get_statement", {"kind": "/etc/passwd", "period": DRAFT}),
            ]
            for tool, args in asks:
                result = await client.call_tool(tool, args)
                texts.append(result.content[0].text)
    assert not any("Traceback" in t for t in texts)
    blob = "\n".join(texts)
    assert SECRET not in blob
    cursors = {
        json.loads(a)["cursor"]
        for (a,) in read(home, "select arguments from connector_calls")
        if a and "cursor" in json.loads(a)
    }
    assert cursors and not any(c in blob for c in cursors)
    assert '"arguments"' not in blob and "page_path" not in blob and "latest.html" not in blob
    echoed = blob.replace("../../etc/passwd", "").replace("/etc/passwd", "")  # refusals quote what was asked
    for path in re.findall(r"(?<![\w.])/(?:[\w.-]+/)+[\w.-]+", echoed):
        assert path.startswith(str(home)), f"an answer names a path outside the data home: {path}"
    assert str(REPO) not in blob and ".venv" not in blob


def test_a_bearer_token_is_required_when_configured(home: Path) -> None:
    proc, port = start(home, "--token-env", "CB_MCP_TOKEN", env={"CB_MCP_TOKEN": SECRET})
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        with httpx2.Client(timeout=10) as http:
            anonymous = http.post(url, json=INITIALIZE, headers=MCP_HEADERS)
            signed = http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {SECRET}"})
    finally:
        stop(proc)
    assert anonymous.status_code == 401 and SECRET not in anonymous.text
    assert signed.status_code == 200


def test_the_official_conformance_server_scenarios_pass(http_url: str) -> None:
    from tests.conformance import ensure, run_scenario

    ensure()
    for scenario in ("server-initialize", "tools-list", "ping", "dns-rebinding-protection"):
        result = run_scenario("server", scenario, url=http_url)
        assert result.ok, (
            f"{scenario}: {[(c.get('id'), c.get('status')) for c in result.failed]}\n{result.output[-2000:]}"
        )


@pytest.mark.anyio
async def test_print_config_starts_the_server_a_desktop_client_would(home: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(home), "mcp", "--print-config"])
    assert result.exit_code == 0, result.output
    entry = json.loads(result.output)["mcpServers"]["closeboard"]
    assert entry["args"][-1] == "mcp" and str(home) in entry["args"]
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry.get("env"), cwd=str(home))
    async with Client(params, read_timeout_seconds=60) as client:
        answer = await call(client, "get_kpis", period=CLOSED)
    assert (answer["version"], answer["status"]) == (2, "closed")
    http = json.loads(
        CliRunner()
        .invoke(main, ["--home", str(home), "mcp", "--print-config", "--http", "8766", "--token-env", "CB_MCP_TOKEN"])
        .output
    )["mcpServers"]["closeboard"]
    assert http == {
        "type": "http",
        "url": "http://127.0.0.1:8766/mcp",
        "headers": {"Authorization": "Bearer ${CB_MCP_TOKEN}"},
    }
