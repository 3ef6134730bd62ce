"""The dashboard as an MCP App (issue 18 item 2; MCP Apps, SEP-1865, stable 2026-01-26).

In memory, the SDK's `Client` over `build_server(home)` sees the `ui://` resource in resources/list
with the MCP Apps mimeType, reads its HTML (self-contained, CSP-strict, no figures in it) and finds
it linked from get_kpis' `_meta.ui.resourceUri`. In a real headless Chromium, the test plays the
host: a small host page iframes the view's HTML (srcdoc, sandboxed), answers `ui/initialize`, sends
the tool-input and tool-result of a get_kpis call, and proxies the view's `tools/call` requests to
the real closeboard MCP server through a real in-memory MCP client in this process. Every expected
figure is read from the warehouse's read copy (mart_kpis, mart_statements, recon_results).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from mcp.client import Client

from reports.mcp_server import build_server
from reports.render import layout
from tests.conftest import REPO, copy_home, read

URI = "ui://closeboard/dashboard.html"
MIME = "text/html;profile=mcp-app"  # the MCP Apps specification's literal
FIRST, SECOND = "2026-05", "2026-03"  # the month a model asks for, the month the user switches to
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">Sales & <b>Marketing</b>"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def dump(model: Any) -> dict[str, Any]:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def tile_formats() -> dict[str, str]:
    kpis = next(s for s in layout()["sections"] if s["id"] == "kpis")
    return {t["kpi"]: t.get("format", "money") for t in kpis["tiles"]}


def expected_text(value: Any, fmt: str, symbol: str) -> str:
    """How the view shows an exact figure: grouped, every decimal kept, negatives in parentheses."""
    if value is None:
        return "no data"
    amount = Decimal(str(value))
    body = f"{abs(amount):,}"
    text = {"money": f"{symbol}{body}", "money_cents": f"{symbol}{body}", "percent": f"{body}%"}.get(fmt, body)
    return f"({text})" if amount < 0 else text


def mart_kpis(home: Path, period: str) -> dict[str, str | None]:
    return {k: v for k, v in read(home, "select kpi, value::varchar from mart_kpis where period = ?", [period])}


# --------------------------------------------------------------------------------------------- in memory


@pytest.mark.anyio
async def test_the_dashboard_is_a_ui_resource_linked_from_get_kpis(demo_home: Path, tmp_path: Path) -> None:
    async with Client(build_server(demo_home, audit_path=tmp_path / "audit.duckdb")) as client:
        resources = [dump(r) for r in (await client.list_resources()).resources]
        read_result = dump(await client.read_resource(URI))
        tools = {t.name: dump(t) for t in (await client.list_tools()).tools}

    ui = [r for r in resources if r["uri"].startswith("ui://")]
    assert [(r["uri"], r["mimeType"]) for r in ui] == [(URI, MIME)]
    assert ui[0]["name"] and ui[0]["description"]
    [content] = read_result["contents"]
    assert (content["uri"], content["mimeType"]) == (URI, MIME)
    page = content["text"]
    assert page.lower().startswith("<!doctype html>")
    # no network origins declared: the host applies its most restrictive policy
    csp_meta = content["_meta"]["ui"]["csp"]
    assert not any(csp_meta.get(k) for k in ("connectDomains", "resourceDomains", "frameDomains", "baseUriDomains"))

    # get_kpis opens the view; every linked view exists; the tools the view calls let apps call them
    assert tools["get_kpis"]["_meta"]["ui"]["resourceUri"] == URI
    linked = {t["_meta"]["ui"]["resourceUri"] for t in tools.values() if "ui" in t.get("_meta", {})}
    assert linked <= {r["uri"] for r in resources}
    script = (REPO / "reports" / "static" / "mcp_app.js").read_text(encoding="utf-8")
    called = set(re.findall(r'callTool\("([a-z_]+)"', script))
    assert called == {"list_periods", "get_kpis", "get_checks", "get_statement"}
    for name in called:
        visibility = tools[name].get("_meta", {}).get("ui", {}).get("visibility", ["model", "app"])
        assert "app" in visibility, name

    # CSP-strict and self-contained: only its own inline script and style (by hash), nothing fetched
    policy = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1))
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    styles = re.findall(r"<style>(.*?)</style>", page, flags=re.S)
    assert len(scripts) == 1 and len(styles) == 1

    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == [sha(scripts[0])]
    assert directives["style-src"] == [sha(styles[0])]
    assert directives["connect-src"] == ["'none'"]
    assert "unsafe" not in policy and "http" not in policy
    assert not re.search(r"\s(src|href)\s*=", page), "the view loads nothing"
    assert ".innerHTML" not in scripts[0] and "insertAdjacentHTML" not in scripts[0] and "eval(" not in scripts[0]

    # the view embeds no figures: they come through the tools
    for kpi, value in mart_kpis(demo_home, FIRST).items():
        if value is not None and abs(Decimal(value)) >= 1000:
            assert value not in page and f"{Decimal(value):,}" not in page, kpi


# --------------------------------------------------------------------------------------------- a real host

HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>test host</title></head>
<body>
<iframe id="app" sandbox="allow-scripts" style="width:1200px;height:900px;border:0"></iframe>
<script>
window.fromApp = [];
const frame = document.getElementById("app");
const post = (msg) => frame.contentWindow.postMessage(msg, "*");
window.addEventListener("message", async (event) => {
  if (event.source !== frame.contentWindow) return;
  const msg = event.data;
  window.fromApp.push(msg);
  if (msg.method === "ui/initialize") {
    post({jsonrpc: "2.0", id: msg.id, result: {
      protocolVersion: "2026-01-26",
      hostInfo: {name: "closeboard-test-host", version: "1.0.0"},
      hostCapabilities: {serverTools: {}, serverResources: {}, logging: {}},
      hostContext: {theme: "light", displayMode: "inline", availableDisplayModes: ["inline"],
                    containerDimensions: {width: 1200, maxHeight: 6000}, locale: "en-US", platform: "web",
                    toolInfo: window.toolCall.info}}});
  } else if (msg.method === "ui/notifications/initialized") {
    post({jsonrpc: "2.0", method: "ui/notifications/tool-input", params: {arguments: window.toolCall.arguments}});
    post({jsonrpc: "2.0", method: "ui/notifications/tool-result", params: window.toolCall.result});
  } else if (msg.method === "tools/call") {
    try {
      post({jsonrpc: "2.0", id: msg.id, result: await window.proxyTool(msg.params.name, msg.params.arguments || {})});
    } catch (err) {
      post({jsonrpc: "2.0", id: msg.id, error: {code: -32603, message: String(err)}});
    }
  } else if (msg.method && msg.id !== undefined) {
    post({jsonrpc: "2.0", id: msg.id, error: {code: -32601, message: "Method not found"}});
  }
});
</script>
</body></html>"""


@pytest.fixture(scope="module")
def hostile_home(tmp_path_factory: pytest.TempPathFactory, demo_home: Path) -> Path:
    """The demo home with one account of SECOND's income statement named with markup, as a hostile
    source could name it (written into the read copy's statement mart the server answers from)."""
    target = copy_home(demo_home, tmp_path_factory.mktemp("mcp-app") / "home")
    con = duckdb.connect(str(target / "warehouse.read.duckdb"))
    try:
        where = "period = ? and statement = 'income_statement' and rollup = 'account' and kind = 'account'"
        changed = con.execute(
            f"update mart_statements set label = ? where {where} and line_id = "
            f"(select min(line_id) from mart_statements where {where})",
            [HOSTILE, SECOND, SECOND],
        ).fetchone()[0]
        assert changed == 1
    finally:
        con.close()
    return target


def statement_rows(home: Path, period: str, kind: str) -> list[tuple]:
    return read(
        home,
        "select line_id, label, amount, prior_month, prior_year, ytd from mart_statements "
        "where period = ? and statement = ? and rollup = 'account' order by line_order",
        [period, kind],
    )


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_host_shows_the_app_with_the_figures_of_the_tools(hostile_home: Path, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    home = hostile_home
    calls: list[tuple[str, dict[str, Any]]] = []
    refused: list[str] = []
    async with Client(build_server(home, audit_path=tmp_path / "audit.duckdb")) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        html_text = (await client.read_resource(URI)).contents[0].text
        # the model's call the host renders the view for
        asked = {"period": FIRST}
        first = await client.call_tool("get_kpis", asked)
        answer = json.loads(first.content[0].text)
        symbol = {"USD": "$"}.get(answer["currency"], f"{answer['currency']} ")

        async def proxy_tool(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
            """The host's side of the view's tools/call: only a tool of this server callable by apps."""
            tool = tools.get(name)
            visibility = ((tool.meta or {}).get("ui") or {}).get("visibility", ["model", "app"]) if tool else []
            if "app" not in visibility:
                refused.append(name)
                raise ValueError(f"{name} is not callable by the app")
            calls.append((name, arguments))
            return dump(await client.call_tool(name, arguments))

        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 1000})
                errors: list[str] = []
                requests: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
                page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
                page.on("request", lambda r: requests.append(r.url))
                await page.expose_function("proxyTool", proxy_tool)
                await page.set_content(HOST_PAGE)
                await page.evaluate(
                    "call => { window.toolCall = call }",
                    {
                        "arguments": asked,
                        "result": dump(first),
                        "info": {"id": 1, "tool": dump(tools["get_kpis"])},
                    },
                )
                await page.evaluate("html => { document.getElementById('app').srcdoc = html }", html_text)
                view = page.frame_locator("#app")

                # the month the model asked for, drawn from the host's tool-result
                await expect(view.locator("html")).to_have_attribute("data-shown", FIRST, timeout=30_000)
                await assert_figures(view, home, FIRST, symbol)
                names = [n for n, _ in calls]
                assert "list_periods" in names and ("get_checks", {"period": FIRST}) in calls
                assert "get_kpis" not in names, "the view drew the host's get_kpis result"

                # the handshake: ui/initialize with the spec's params, then initialized, then a size
                messages = await page.evaluate("window.fromApp")
                assert all(m.get("jsonrpc") == "2.0" for m in messages)
                methods = [m.get("method") for m in messages]
                assert methods[:2] == ["ui/initialize", "ui/notifications/initialized"]
                init = messages[0]["params"]
                assert init["protocolVersion"] == "2026-01-26"
                assert init["appInfo"]["name"] and "availableDisplayModes" in init["appCapabilities"]
                sizes = [m["params"] for m in messages if m.get("method") == "ui/notifications/size-changed"]
                assert sizes and sizes[-1]["height"] > 0

                # the user switches month: the view calls the tools again
                before = len(calls)
                await view.locator("#period-select").select_option(SECOND)
                await expect(view.locator("html")).to_have_attribute("data-shown", SECOND, timeout=30_000)
                again = calls[before:]
                assert ("get_kpis", {"period": SECOND}) in again
                assert ("get_checks", {"period": SECOND}) in again
                assert ("get_statement", {"kind": "income_statement", "period": SECOND, "rollup": "account"}) in again
                await assert_figures(view, home, SECOND, symbol)
                await assert_statement(view, home, SECOND, "income_statement", symbol)

                # a hostile account name is shown as text, never as markup
                label = view.locator("#statement th.line", has_text="onerror")
                assert await label.text_content() == HOSTILE
                assert await view.locator("img").count() == 0 and await view.locator("#statement b").count() == 0

                before = len(calls)
                await view.locator("#statement-select").select_option("balance_sheet")
                await expect(view.locator("#statement tbody th.line").first).to_have_text(
                    statement_rows(home, SECOND, "balance_sheet")[0][1], timeout=30_000
                )
                assert calls[before:] == [
                    ("get_statement", {"kind": "balance_sheet", "period": SECOND, "rollup": "account"})
                ]
                await assert_statement(view, home, SECOND, "balance_sheet", symbol)

                assert refused == []
                assert errors == [], errors
                assert requests == [], f"the host page or the view fetched: {requests}"
            finally:
                await browser.close()


async def assert_figures(view: Any, home: Path, period: str, symbol: str) -> None:
    """Every KPI get_kpis gives for the month, on a tile, exact; the reconciliation cards' verdicts."""
    formats = tile_formats()
    shown = dict(
        await view.locator(".tile").evaluate_all(
            "els => els.map(e => [e.dataset.kpi, e.querySelector('.tile-value').textContent])"
        )
    )
    expected = {
        kpi: expected_text(value, formats.get(kpi, "money"), symbol) for kpi, value in mart_kpis(home, period).items()
    }
    assert shown == expected
    assert await view.locator("#focus-period").text_content() == period
    cards = dict(
        await view.locator("#checks .check").evaluate_all("els => els.map(e => [e.dataset.check, e.dataset.status])")
    )
    assert cards == dict(read(home, "select check_id, status from recon_results where period = ?", [period]))


async def assert_statement(view: Any, home: Path, period: str, kind: str, symbol: str) -> None:
    rows = await view.locator("#statement tbody tr").evaluate_all(
        "trs => trs.map(tr => [tr.dataset.line, tr.querySelector('th').textContent,"
        " ...Array.from(tr.querySelectorAll('td')).map(td => td.textContent)])"
    )
    expected = [
        [line_id or "", label, *(expected_text(v, "money_cents", symbol) for v in amounts)]
        for line_id, label, *amounts in statement_rows(home, period, kind)
    ]
    assert rows == expected
