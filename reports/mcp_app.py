"""The dashboard as an MCP App (the MCP Apps extension, SEP-1865, stable 2026-01-26).

`closeboard mcp` offers a `ui://` resource (mimeType `text/html;profile=mcp-app`) and links it from
`get_kpis` (`_meta.ui.resourceUri`), so a host that renders MCP Apps shows the close inline when a
model asks for a month's KPIs. The view is one self-contained HTML document: the dashboard's CSS
(reports/static/dashboard.css) plus a little of its own, reports/static/mcp_app.js, and the layout
as data (the KPI tiles of reports/sections.yaml, the statements and their columns). It holds no
figures: it speaks JSON-RPC to its host over postMessage (`ui/initialize`, then
`ui/notifications/initialized`; it reads `ui/notifications/tool-input` and `tool-result`) and asks
for every figure through the host, which proxies `tools/call` to this server's own read-only tools
(list_periods, get_kpis, get_checks, get_statement) - the same answers any MCP client gets.

Strict by construction: a Content-Security-Policy that allows exactly its one inline script and
one inline style (by hash) and nothing from the network, and a script that shows every string with
`textContent` (never markup). The offline page (reports/render.py) is not involved.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from markupsafe import Markup

from reports import formatting
from reports.render import _inline_script, _script_hash, environment, json_for_script, layout, static_text

APP_URI = "ui://closeboard/dashboard.html"
APP_MIME = "text/html;profile=mcp-app"
PROTOCOL_VERSION = "2026-01-26"  # the MCP Apps specification the view speaks
# resources/read content _meta: no network origins at all (the host's most restrictive CSP), a border
APP_META: dict[str, Any] = {"ui": {"csp": {"connectDomains": [], "resourceDomains": []}, "prefersBorder": True}}
# a tool's _meta linking the view; visible to the model and callable by the view
TOOL_META: dict[str, Any] = {"ui": {"resourceUri": APP_URI, "visibility": ["model", "app"]}}
APP_TOOLS = ("list_periods", "get_kpis", "get_checks", "get_statement")  # what the view calls through its host


def _version() -> str:
    try:
        return version("closeboard")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def app_layout() -> dict[str, Any]:
    """What the view draws, as data (no figures): the dashboard's tiles, formats and currency
    symbols, and the statements with their columns and rollups (reports/sections.yaml)."""
    spec = layout()
    sections = {s["id"]: s for s in spec["sections"]}
    tiles = sections["kpis"]["tiles"]
    statements = sections["statements"]
    return {
        "app": {"name": "closeboard-dashboard", "version": _version()},
        "protocol_version": PROTOCOL_VERSION,
        "tools": list(APP_TOOLS),
        "tiles": [{k: t[k] for k in ("kpi", "label", "format", "note") if k in t} for t in tiles],
        "formats": spec["formats"],
        "symbols": dict(formatting._SYMBOLS),
        "statements": [{"id": s["id"], "label": s["label"]} for s in statements["statements"]],
        "columns": [{"name": c["name"], "label": c["label"]} for c in statements["columns"]],
        "rollups": statements["rollups"],
    }


APP_CSS = """
/* the MCP App: the dashboard's look, themed by the host's standard variables where it sends them */
:root {
  --ink: var(--color-text-primary, #1d2433); --muted: var(--color-text-secondary, #5b6475);
  --line: var(--color-border-primary, #dde2ea); --bg: var(--color-background-secondary, #f5f6f8);
  --card: var(--color-background-primary, #fff);
}
body { font-family: var(--font-sans, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif); }
main { grid-template-columns: minmax(0, 1fr); }
.app-message { margin: 8px 0 0; font-size: 13px; color: var(--muted); }
.app-message.error { color: var(--bad); }
.tile-unit { font-size: 11px; color: var(--muted); }
.other-kpis { margin-top: 12px; }
"""


@cache
def app_html() -> str:
    """The view's HTML document (the `ui://` resource's text)."""
    script = _inline_script(static_text("mcp_app.js"))
    css = Markup(static_text("dashboard.css") + APP_CSS)
    return (
        environment()
        .get_template("mcp_app.html")
        .render(
            script_hash=_script_hash(script),
            style_hash=_script_hash(css),
            layout_json=json_for_script(app_layout()),
            css=css,
            app_js=script,
        )
    )
