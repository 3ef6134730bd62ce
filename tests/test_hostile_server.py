"""A hostile MCP server (issue 16, findings 4, 6, 7): what it sends must not leak a secret, drive the
terminal or a markdown page, or make a pull unbounded or crash.

The server here plays an attacker, not a vendor, so it is written for the test (an in-memory
``MCPServer``; one stdio child where the secret must really travel through ``server.env``). Runs on
its own: ``uv run --frozen pytest tests/test_hostile_server.py``. No wall-clock asserts: the time
budget is driven by a stepped clock.
"""

from __future__ import annotations

import base64
import itertools
import json
import textwrap
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import anyio
import httpx2
import mcp_types
import pyarrow as pa
import pytest
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from connectors.adapters.base import Adapter, Stream
from connectors.audit import scrub
from connectors.client import CallLog, ConnectorError, ResponseTooLarge, SourceSession, _CappedTransport
from connectors.config import ClientSettings, ConnectorConfig, ServerConfig
from connectors.pull import pull_source

SECRET = "hx-9f3c1e77d2a04b5e"  # no known secret shape (not Bearer, JWT or sk_): only its value can find it
NASTY = "[/red] boom [bold]\x1b[2J\x1b]0;pwned\x07\x1b[31mred\r"
TOOLS = (
    "reject",
    "structured_only",
    "embedded",
    "euro_text",
    "same_items",
    "endless",
    "repeat_cursor",
    "infinite_total",
    "nan_amount",
    "leaky_reject",
    "ok_page",
    "leaky_page",
)
PASSED = 'p@ss/w0rd+k3y="q"'  # handed to the server through `pass_env`; URL-encodes and JSON-escapes differently
SETTINGS = ClientSettings(
    call_timeout_s=20,
    retries=0,
    backoff_s=0.01,
    backoff_max_s=0.02,
    page_limit=100,
    max_response_bytes=20_000,
    max_pages=50,
)


def run_async(fn):  # noqa: ANN001, ANN201
    """anyio.run in a thread of its own, whatever loop this thread may be running (an open Playwright
    sync session keeps one running, see tests/reports/conftest.py)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, fn).result()


def opportunity(n: int, amount: Any = "10.00") -> dict[str, Any]:
    return {
        "opportunity_id": f"O{n}",
        "customer_id": "C1",
        "customer_name": "Acme",
        "stage": "won",
        "amount": amount,
        "currency": "EUR",
        "close_date": "2026-05-01",
        "probability": "1",
        "owner": "ann",
        "is_won": "true",
        "is_closed": "true",
    }


def hostile_server() -> MCPServer:
    server = MCPServer("hostile")
    counter = itertools.count(1)

    @server.tool()
    def reject() -> str:
        raise ToolError(f"invalid API key {SECRET} (also {json.dumps(SECRET)}): access denied {NASTY}")

    @server.tool()
    def structured_only() -> mcp_types.CallToolResult:  # structured content and no text at all
        return mcp_types.CallToolResult(
            content=[],
            structured_content={"items": [opportunity(n) for n in range(200)], "next_cursor": None, "total": 200},
        )

    @server.tool()
    def embedded() -> mcp_types.CallToolResult:
        resource = mcp_types.TextResourceContents(uri="file:///dump.json", text="x" * 50_000)
        page = json.dumps({"items": [], "next_cursor": None})
        return mcp_types.CallToolResult(
            content=[
                mcp_types.TextContent(type="text", text=page),
                mcp_types.EmbeddedResource(type="resource", resource=resource),
            ]
        )

    @server.tool(structured_output=False)
    def euro_text() -> str:  # 12,000 characters, 36,000 bytes
        return json.dumps({"items": [], "next_cursor": None, "note": "€" * 12_000}, ensure_ascii=False)

    @server.tool(structured_output=False)
    def same_items(cursor: str | None = None, limit: int = 100) -> str:  # a new cursor, the same page
        return json.dumps({"items": [opportunity(1), opportunity(2)], "next_cursor": f"c{next(counter)}"})

    @server.tool(structured_output=False)
    def endless(cursor: str | None = None, limit: int = 100) -> str:  # new items and cursors for ever
        n = next(counter)
        return json.dumps({"items": [opportunity(n)], "next_cursor": f"c{n}"})

    @server.tool(structured_output=False)
    def repeat_cursor(cursor: str | None = None, limit: int = 100) -> str:
        n = next(counter)
        return json.dumps({"items": [opportunity(n)], "next_cursor": "again"})

    @server.tool(structured_output=False)
    def infinite_total(cursor: str | None = None, limit: int = 100) -> str:
        return '{"items": [], "next_cursor": null, "total": Infinity}'

    @server.tool(structured_output=False)
    def nan_amount(cursor: str | None = None, limit: int = 100) -> str:
        items = ", ".join(
            [
                json.dumps(opportunity(1)),
                json.dumps(opportunity(2)).replace('"10.00"', "NaN"),
                json.dumps(opportunity(3)),
            ]
        )
        return f'{{"items": [{items}], "next_cursor": null, "total": 3}}'

    @server.tool(structured_output=False)
    def leaky_reject(cursor: str | None = None, limit: int = 100) -> str:  # a rejected record echoing the key
        leak = {**opportunity(2), "customer_name": f"Acme (key {SECRET})"}
        items = ", ".join([json.dumps(opportunity(1)), json.dumps(leak).replace('"10.00"', "NaN")])
        return f'{{"items": [{items}], "next_cursor": null, "total": 2}}'

    @server.tool(structured_output=False)
    def leaky_page(cursor: str | None = None, limit: int = 100) -> str:  # loads fine, secrets in text fields
        b64 = base64.b64encode(SECRET.encode()).decode()
        items = [
            {**opportunity(1), "customer_name": f"Acme (key {SECRET})"},  # raw
            {**opportunity(2), "owner": f"token={b64}"},  # base64
            {**opportunity(3), "customer_name": f"https://x.test/?k={quote(PASSED, safe='')}"},  # URL-encoded
            {**opportunity(4), "stage": PASSED},  # JSON-escaped in the page's text
            opportunity(5),
        ]
        return json.dumps({"items": items, "next_cursor": None, "total": 5})

    @server.tool(structured_output=False)
    def ok_page(cursor: str | None = None, limit: int = 100) -> str:
        return json.dumps(
            {
                "items": [opportunity(1)],
                "next_cursor": None,
                "total": 1,
                "as_of": "2026-06-01T00:00:00Z\x1b]0;pwned\x07" + "z" * 500,
            }
        )

    return server


def config(
    settings: ClientSettings = SETTINGS, server: ServerConfig | None = None, tools: tuple[str, ...] = TOOLS
) -> ConnectorConfig:
    return ConnectorConfig(
        "crm",
        "test.hostile",
        server or ServerConfig(command="python", env={"API_KEY": "${CB_HOSTILE_KEY}"}),
        tools,
        settings,
    )


class HostileAdapter(Adapter):
    name = "test.hostile"
    default_tools = TOOLS

    def __init__(self, tool: str) -> None:
        self.tool = tool

    def streams(self) -> list[Stream]:
        return [Stream("crm_opportunities", self.tool)]


def pull(tool: str, settings: ClientSettings = SETTINGS, log: CallLog | None = None) -> tuple[Any, list[dict]]:
    rows: list[dict] = []

    def sink(table: str, batch: pa.Table) -> None:
        rows.extend(batch.to_pylist())

    async def go() -> Any:
        async with SourceSession(config(settings), log=log, server=hostile_server()) as session:
            return await pull_source(session, HostileAdapter(tool), sink)

    return run_async(go), rows


def failure(tool: str, settings: ClientSettings = SETTINGS, log: CallLog | None = None) -> ConnectorError:
    with pytest.raises(ConnectorError) as info:
        pull(tool, settings, log)
    return info.value


def chain_text(exc: BaseException) -> str:
    """Everything Dagster would store of a failure: the message, every cause and the traceback."""
    return "".join(traceback.format_exception(exc))


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CB_HOSTILE_KEY", SECRET)
    yield SECRET


# -- finding 4: a secret closeboard expanded is redacted wherever it is stored or printed ---------------
def test_a_secret_echoed_by_the_server_is_not_in_the_error_the_call_log_or_the_cli(
    secret_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = CallLog()
    exc = failure("reject", log=log)
    assert "tool 'reject'" in str(exc) and "invalid API key ***" in str(exc)
    assert SECRET not in chain_text(exc) and SECRET not in exc.cause
    assert [r.status for r in log.records] == ["error"]
    assert SECRET not in (log.records[0].error or "") and "***" in (log.records[0].error or "")

    outcome = SimpleNamespace(success=False, errors=[("crm", str(exc))], run_id="r1")
    _refresh_output(monkeypatch, capsys, outcome)  # the CLI prints what the run stored
    assert SECRET not in capsys.readouterr().err


def test_a_secret_in_server_env_is_redacted_when_a_real_stdio_server_echoes_it(secret_env: str, tmp_path: Path) -> None:
    script = tmp_path / "hostile_stdio.py"
    script.write_text(
        textwrap.dedent("""
        import os, sys
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError

        server = MCPServer("hostile")

        @server.tool()
        def reject() -> str:
            print("rejected key " + os.environ["API_KEY"], file=sys.stderr, flush=True)
            raise ToolError("invalid API key " + os.environ["API_KEY"])

        server.run("stdio")
    """),
        encoding="utf-8",
    )
    connector = config(
        server=ServerConfig(command="python", args=(str(script),), env={"API_KEY": "${CB_HOSTILE_KEY}"}),
        tools=("reject",),
    )
    log = CallLog()

    async def go() -> None:
        async with SourceSession(connector, log=log) as session:
            await session.call("reject")

    with pytest.raises(ConnectorError) as info:
        run_async(go)
    assert "invalid API key ***" in str(info.value)
    assert SECRET not in chain_text(info.value)
    assert all(SECRET not in (r.error or "") + r.arguments for r in log.records)


def test_an_auth_token_and_a_header_value_are_redacted_and_short_values_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from connectors.config import AuthConfig

    monkeypatch.setenv("CB_HOSTILE_TOKEN", "tok-5e0d1a77b3")
    monkeypatch.setenv("CB_HOSTILE_TENANT", "tenant-4471")
    monkeypatch.setenv("CB_HOSTILE_SHORT", "abc")
    server = ServerConfig(
        url="http://127.0.0.1:9/mcp", headers={"X-Tenant": "${CB_HOSTILE_TENANT}", "X-Short": "${CB_HOSTILE_SHORT}"}
    )
    connector = ConnectorConfig(
        "crm",
        "test.hostile",
        server,
        ("reject",),
        SETTINGS,
        auth=AuthConfig(kind="bearer", token="${CB_HOSTILE_TOKEN}"),
    )
    session = SourceSession(connector)
    assert {"tok-5e0d1a77b3", "tenant-4471"} <= session.secrets and "abc" not in session.secrets
    error = ConnectorError("crm", "list", "echo tok-5e0d1a77b3 / tenant-4471 / abc")
    assert str(error) == "source 'crm', tool 'list': echo *** / *** / abc"  # < 4 characters: not redacted


# -- finding 6: server text is neither terminal markup nor terminal control, nor markdown ---------------
def _refresh_output(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], outcome: Any) -> str:
    import pipelines.runner
    from pipelines import cli

    monkeypatch.setattr(pipelines.runner, "execute", lambda job, home, **kwargs: outcome)

    class Env:  # only what _run_refresh asks of the CLI's environment; every other call is a no-op
        home = SimpleNamespace(root=Path("."))

        def load(self, config: Path) -> Any:
            return SimpleNamespace(connectors={})  # no server to start ahead

        def __getattr__(self, name: str) -> Any:
            return lambda *args, **kwargs: None

    env = Env()
    with pytest.raises(SystemExit) as exit_info:
        cli._run_refresh(env, Path("closeboard.yaml"))
    assert exit_info.value.code == 1
    return capsys.readouterr().err


def test_markup_and_escape_codes_in_a_tool_error_neither_crash_nor_reach_the_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exc = failure("reject")
    assert "\x1b" not in str(exc) and "\x07" not in str(exc) and "\r" not in str(exc)
    assert "[/red] boom [bold]" in str(exc)  # kept as text: escaping is the printer's job
    raw = SimpleNamespace(success=False, errors=[("crm", str(exc)), ("bank", f"raw {NASTY}")], run_id="r1")
    err = _refresh_output(monkeypatch, capsys, raw)
    assert "[/red] boom [bold]" in err and "raw [/red]" in err  # shown literally, no MarkupError
    assert "previous warehouse and dashboard are unchanged" in err
    assert "\x1b]0;" not in err and "\x1b[2J" not in err and "\x07" not in err


def _read_copy(tmp_path: Path, ddl: str, rows: dict[str, list[tuple]]) -> Path:
    from warehouse.db import connect

    path = tmp_path / "warehouse.read.duckdb"
    con = connect(path)
    try:
        con.execute(ddl)
        for table, values in rows.items():
            for row in values:
                con.execute(f"insert into {table} values ({', '.join('?' * len(row))})", list(row))
    finally:
        con.close()
    return path


def test_connectors_log_shows_a_stored_markup_error_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reports.connectors_log import print_log

    ddl = """create table connector_calls (run_id varchar, source varchar, tool varchar, arguments varchar,
             page integer, items integer, bytes bigint, duration_ms integer, status varchar, error varchar,
             called_at timestamptz)"""
    stored = (
        "r1",
        "crm",
        "list_opportunities",
        '{"cursor":"[/red]"}',
        1,
        None,
        None,
        3,
        "error",
        f"the server reported an error: {NASTY}",
        None,
    )  # as an older closeboard stored it
    path = _read_copy(tmp_path, ddl, {"connector_calls": [stored]})
    assert print_log(path) == 0
    out = capsys.readouterr().out
    assert "[/red]" in out and "[bold]" in out and "\x1b]0;" not in out and "\x1b[2J" not in out


def test_checks_print_record_ids_without_terminal_escapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reports.checks_report import print_checks
    from warehouse.recon import CHECK_IDS

    ddl = """create table recon_results (run_id varchar, period varchar, check_id varchar, status varchar,
                 expected varchar, actual varchar, difference varchar, detail varchar);
             create table recon_items (run_id varchar, period varchar, check_id varchar, source varchar,
                 record_id varchar, record_date varchar, amount decimal(18,2), reason varchar)"""
    check = CHECK_IDS[0]
    path = _read_copy(
        tmp_path,
        ddl,
        {
            "recon_results": [("r1", "2026-05", check, "fail", "1", "2", "1", f"detail {NASTY}")],
            "recon_items": [
                ("r1", "2026-05", check, "bank", "T1\x1b[2J\x1b]0;pwned\x07", "2026-05-02", 5, f"why {NASTY}")
            ],
        },
    )
    assert print_checks(path, None) == 1
    out = capsys.readouterr().out
    assert "T1" in out and "\x1b" not in out and "\x07" not in out and "\r" not in out


def test_the_markdown_preview_escapes_server_text() -> None:
    import duckdb

    from pipelines.ingest import preview_markdown

    con = duckdb.connect()
    con.execute("create table t (record_id varchar, name varchar)")
    con.execute(
        "insert into t values (?, ?)", ["A|B\nC", "[click](javascript:alert(1)) <img src=x onerror=y> `x` \x1b[31m"]
    )
    text = preview_markdown(con, "t")
    header, rule, row = text.split("\n")
    assert header == "| record_id | name |" and row.count(" | ") == 1  # still one row of two cells
    assert "\\[click\\](javascript" in row and "\\<img" in row and "\\`x\\`" in row and "\x1b" not in row
    assert "A\\|B C" in row
    # a missing value is an empty cell (it showed as an escaped <NA>), an amount its exact text
    con.execute("create table m (id varchar, amount decimal(18, 2), due date)")
    con.execute("insert into m values ('X', 10.50, null)")
    assert preview_markdown(con, "m").split("\n")[2] == "| X | 10.50 |  |"


# -- finding 7: bounds ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tool", "kind"),
    [
        ("structured_only", "structured content"),
        ("embedded", "an embedded resource"),
        ("euro_text", "multi-byte text under the cap in characters"),
    ],
)
def test_an_oversized_answer_is_refused_whatever_it_is_made_of(tool: str, kind: str) -> None:
    log = CallLog()

    async def go() -> None:
        async with SourceSession(config(), log=log, server=hostile_server()) as session:
            await session.call(tool)

    with pytest.raises(ConnectorError) as info:
        run_async(go)
    assert f"tool {tool!r}" in str(info.value) and "exceeds the cap of 20,000 bytes" in str(info.value), kind
    assert log.records[0].status == "error"


def test_an_http_answer_is_cut_off_while_it_is_read() -> None:
    sent: list[int] = []

    def body() -> Iterator[bytes]:
        for _ in range(1000):  # 1 MB on offer, 64 kB allowed
            sent.append(1)
            yield b"x" * 1000

    async def go() -> None:
        async def stream():
            for chunk in body():
                yield chunk

        inner = httpx2.MockTransport(lambda request: httpx2.Response(200, content=stream()))
        async with httpx2.AsyncClient(transport=_CappedTransport(inner, 64_000)) as client:
            async with client.stream("POST", "http://server/mcp") as response:
                await response.aread()

    with pytest.raises(ResponseTooLarge, match="exceeded the cap of 64,000 bytes"):
        run_async(go)
    assert len(sent) < 100  # it stopped reading: the rest was never pulled


def test_an_oversized_http_answer_is_refused_while_it_is_read(demo_data: Path, http_server: Any) -> None:
    url = http_server("connectors.servers.bank", demo_data)  # a real server over streamable HTTP
    settings = ClientSettings(**{**vars(SETTINGS), "max_response_bytes": 20_000})
    connector = config(settings, server=ServerConfig(url=url), tools=("list_transactions",))
    log = CallLog()

    async def go() -> None:
        async with SourceSession(connector, log=log) as session:
            await session.call("list_transactions", {"limit": 5000})

    with pytest.raises(ConnectorError) as info:
        run_async(go)
    assert "tool 'list_transactions'" in str(info.value)
    assert "exceeded the cap of 20,000 bytes (client.max_response_bytes) while it was read" in str(info.value)
    assert log.records[-1].bytes is None  # nothing of it was decoded


FLOOD_SERVER = """
import json, os, sys
from pathlib import Path

# a bare JSON-RPC server on stdin/stdout, so that it can write one endless line
written, out = Path(sys.argv[1]), sys.stdout.buffer
partial = written.with_suffix(".partial")
tools = [{"name": name, "inputSchema": {"type": "object"}} for name in ("flood", "small")]

def answer(request_id, result):
    out.write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}).encode() + b"\\n")
    out.flush()

for line in sys.stdin:
    message = json.loads(line)
    method, request_id = message.get("method"), message.get("id")
    if request_id is None:
        continue
    if method == "initialize":
        answer(request_id, {"protocolVersion": message["params"]["protocolVersion"], "capabilities": {"tools": {}},
                            "serverInfo": {"name": "flood", "version": "1"}})
    elif method == "tools/list":
        answer(request_id, {"tools": tools})
    elif method == "tools/call" and message["params"]["name"] == "small":
        answer(request_id, {"content": [{"type": "text", "text": json.dumps({"items": [], "next_cursor": None})}]})
    elif method == "tools/call":  # one line that never ends
        out.write(b'{"jsonrpc": "2.0", "id": %d, "result": {"content": [{"type": "text", "text": "' % request_id)
        sent = 0
        while True:
            out.write(b"x" * 65536)
            out.flush()
            sent += 65536
            partial.write_text(str(sent))
            os.replace(partial, written)  # whole, whenever the kill comes
    else:
        answer(request_id, {})
"""


def test_an_endless_stdio_line_is_cut_off_while_it_is_read_and_the_server_stopped(tmp_path: Path) -> None:
    script, written = tmp_path / "flood.py", tmp_path / "written"
    script.write_text(FLOOD_SERVER, encoding="utf-8")
    settings = ClientSettings(**{**vars(SETTINGS), "max_response_bytes": 200_000})
    connector = config(
        settings, server=ServerConfig(command="python", args=(str(script), str(written))), tools=("flood", "small")
    )
    log = CallLog()

    async def go() -> None:
        async with SourceSession(connector, log=log) as session:
            assert (await session.call("small"))[0] == {"items": [], "next_cursor": None}  # the cap leaves these alone
            await session.call("flood")

    with pytest.raises(ConnectorError) as info:
        run_async(go)
    assert str(info.value).startswith(
        "source 'crm', tool 'flood': response exceeded the cap of 200,000 bytes "
        "(client.max_response_bytes) while it was read; the server was stopped"
    )
    assert not info.value.transient and [r.status for r in log.records] == ["ok", "error"]
    # the server was stopped, not drained: it wrote at most the cap and what the pipe holds beyond it
    # (the SDK's transport reads on until the line ends, which here is never)
    assert int(written.read_text()) < 200_000 + 4 * 65536


def test_new_cursors_over_the_same_items_are_stopped_naming_the_tool() -> None:
    exc = failure("same_items")
    assert "tool 'same_items'" in str(exc) and "page 2 repeats the items of page 1" in str(exc)
    exc = failure("repeat_cursor")
    assert "tool 'repeat_cursor'" in str(exc) and "repeated cursor 'again'" in str(exc)


def test_a_server_paging_for_ever_is_stopped_by_the_time_budget() -> None:
    settings = ClientSettings(**{**vars(SETTINGS), "max_pages": 100_000, "time_budget_s": 300.0})
    log = CallLog()
    ticks = itertools.count(0, 60)  # every call is a minute later: no real waiting

    async def go() -> None:
        async with SourceSession(config(settings), log=log, server=hostile_server()) as session:
            session.clock = lambda: float(next(ticks))
            await pull_source(session, HostileAdapter("endless"), lambda table, batch: None)

    with pytest.raises(ConnectorError) as info:
        run_async(go)
    assert "tool 'endless'" in str(info.value) and "time budget of 300 s" in str(info.value)
    assert len(log.records) == 6  # calls at 0, 60, ..., 300 s; the one at 360 s is never sent


def test_a_total_of_infinity_is_a_finding_naming_source_and_tool() -> None:
    exc = failure("infinite_total")
    assert str(exc).startswith("source 'crm', tool 'infinite_total': page 1: malformed total inf")


def test_a_nan_amount_quarantines_that_row_and_keeps_the_others() -> None:
    result, rows = pull("nan_amount")
    assert sorted(r["opportunity_id"] for r in rows) == ["O1", "O3"]
    [(record, reason, tool)] = result.tables["crm_opportunities"].rejected
    assert tool == "nan_amount" and "'amount'" in reason and "not a finite number" in reason
    assert json.loads(record)["opportunity_id"] == "O2"


def test_a_secret_in_a_rejected_record_is_blanked_in_the_quarantine(secret_env: str) -> None:
    import duckdb

    from pipelines.ingest import write_rejected
    from warehouse.db import ensure_schema

    result, rows = pull("leaky_reject")
    assert [r["opportunity_id"] for r in rows] == ["O1"]
    con = duckdb.connect()
    ensure_schema(con)
    write_rejected(con, "r1", "crm", result)
    [(record, reason)] = con.execute("select record, reason from quarantine").fetchall()
    assert SECRET not in record and "Acme (key ***)" in record and "not a finite number" in reason


def test_a_secret_echoed_inside_records_that_load_is_blanked_and_reported(
    secret_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CB_HOSTILE_PASS", PASSED)
    connector = config(
        server=ServerConfig(command="python", env={"API_KEY": "${CB_HOSTILE_KEY}"}, pass_env=("CB_HOSTILE_PASS",))
    )
    rows: list[dict] = []
    log = CallLog()

    async def go() -> Any:
        async with SourceSession(connector, log=log, server=hostile_server()) as session:
            assert PASSED in session.secrets  # a pass_env value is a secret like an env: one
            return await pull_source(
                session, HostileAdapter("leaky_page"), lambda table, batch: rows.extend(batch.to_pylist())
            )

    result = run_async(go)
    by_id = {r["opportunity_id"]: r for r in rows}
    assert sorted(by_id) == ["O1", "O2", "O3", "O4", "O5"]  # every record loads
    assert by_id["O1"]["customer_name"] == "Acme (key ***)" and by_id["O2"]["owner"] == "token=***"
    assert by_id["O3"]["customer_name"] == "https://x.test/?k=***" and by_id["O4"]["stage"] == "***"
    assert by_id["O5"] == opportunity(5)  # untouched
    assert {k: v for k, v in by_id["O1"].items() if k != "customer_name"} == {
        k: v for k, v in opportunity(1).items() if k != "customer_name"
    }
    table = result.tables["crm_opportunities"]
    assert table.blanked == ["opportunity_id=O1", "opportunity_id=O2", "opportunity_id=O3", "opportunity_id=O4"]
    assert table.rejected == []
    [note] = [n for n in log.notes if "secret" in n]
    assert "crm_opportunities" in note and "4 record(s)" in note and "opportunity_id=O4" in note
    assert SECRET not in note and PASSED not in note
    [call] = log.records  # the audit trail marks the call that carried it, as a success
    assert call.status == "ok" and "echoed a secret closeboard holds" in (call.error or "")


@pytest.mark.parametrize("form", ["raw", "json", "base64", "url"])
def test_a_page_holding_any_form_of_a_secret_is_screened(form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.payloads import result_holds_secret

    monkeypatch.setenv("CB_HOSTILE_PASS", PASSED)
    SourceSession(config(server=ServerConfig(command="python", pass_env=("CB_HOSTILE_PASS",))))
    shown = {
        "raw": PASSED,
        "json": json.dumps(PASSED)[1:-1],
        "url": quote(PASSED, safe=""),
        "base64": base64.b64encode(PASSED.encode()).decode(),
    }[form]
    assert shown == PASSED or PASSED not in shown  # each form on its own

    def result(text: str) -> mcp_types.CallToolResult:
        return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text=text)])

    assert result_holds_secret(result(f'{{"items": [{{"note": "see {shown} here"}}]}}'))
    assert not result_holds_secret(result('{"items": [{"note": "see nothing here"}]}'))
    value = PASSED if form == "json" else shown  # structured content holds the value; its JSON text escapes it
    structured = mcp_types.CallToolResult(content=[], structured_content={"items": [{"note": f"see {value}"}]})
    assert result_holds_secret(structured)  # screened as its JSON text


def test_text_redaction_catches_the_encoded_forms_of_a_secret(secret_env: str) -> None:
    SourceSession(config())  # registers the connector's ${CB_HOSTILE_KEY}
    b64 = base64.b64encode(SECRET.encode()).decode()
    url_secret = "k3y/with+plus=sign"
    from connectors.audit import register_secret

    register_secret(url_secret)
    text = f"raw {SECRET} b64 {b64} unpadded {b64.rstrip('=')} url {quote(url_secret, safe='')} short abc"
    assert scrub(text) == "raw *** b64 *** unpadded *** url *** short abc"
    error = ConnectorError("crm", "t", f"echo Basic {base64.b64encode(f'user:{SECRET}'.encode()).decode()} {b64}")
    assert SECRET not in str(error) and b64 not in str(error)


def test_a_well_behaved_server_is_unaffected() -> None:
    result, rows = pull("ok_page")
    assert [r["opportunity_id"] for r in rows] == ["O1"] and result.tables["crm_opportunities"].rejected == []
    as_of = result.tables["crm_opportunities"].as_of  # server text kept in metadata: printable and short
    assert as_of.startswith("2026-06-01T00:00:00Z") and "\x1b" not in as_of and len(as_of) == 64
    assert scrub("nothing secret here") == "nothing secret here"
