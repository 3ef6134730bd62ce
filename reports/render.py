"""Render the dashboard page from the marts (read side only) with jinja2.

The page is assembled from declared sections (reports/sections.yaml): each names one query under
reports/queries/ and a component. The renderer runs each query once, embeds its result as JSON
(money as decimal strings, never floats) and walks the sections; the page's own script draws them
with the vendored chart library, all inlined, so the file opens from disk with no network. A table
embeds the first rows of each period in its sort order, with the count and totals of every row
computed in SQL (reports/tables.py); served mode fetches every row (`full_table`, GET /api/table).

Pages are written to a temporary name and moved into place, so a reader never sees half a page
and a failed render leaves the previous page where it was.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from connectors.plain import write_atomic
from reports import formatting
from reports.tables import open_documents_once, table_top
from warehouse import loads
from warehouse.checks import CHECKS
from warehouse.models import load_functions

CHART_LIBRARY = "chart-4.6.1.umd.min.js"
SERVED_MARKER = "<!--closeboard:served-->"


@dataclass(frozen=True)
class PageContext:
    company: str
    currency: str
    run_id: str
    sources: dict[str, str | None]  # source -> data as of
    home: str | None = None  # the data home, for the refresh command shown in file mode
    config: str | None = None  # the config file the refresh should use, when not the default
    extra: dict[str, Any] = field(default_factory=dict)
    view: str | None = None  # the user's CFO view (views/cfo.md) laying the page out; else the shipped one


def environment() -> Environment:
    """The one jinja environment of the reports (the dashboard and the history page): autoescaped,
    strict, with the money / kpi / fmt filters of reports/formatting.py."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = formatting.money
    env.filters["kpi"] = formatting.kpi
    env.filters["fmt"] = formatting.display
    return env


# ---------------------------------------------------------------------------------------------
# the declared layout


@cache
def _resource_text(*parts: str) -> str:
    return files("reports").joinpath(*parts).read_text(encoding="utf-8")


def page_layout(view: str | Path | None = None) -> tuple[dict[str, Any], str | None]:
    """The page's layout: reports/sections.yaml (the rules and the named queries) with its `sections`
    from the CFO view (reports/views/cfo.md's grammar, reports/views.py `page_sections`): the user's
    copy at `view` when it is there and has no problem, else the shipped one, with a note saying why
    (None when the user's copy was used, or none was asked for)."""
    from reports import views  # views.py renders with this module: imported here, not at the top

    spec = yaml.safe_load(_resource_text("sections.yaml"))
    note = None
    sections, problems = ([], [])
    if view is not None:
        if Path(view).is_file():
            sections, problems = views.page_sections(Path(view), spec)
            if problems:
                note = (
                    f"{view} has {len(problems)} problem(s), so the page uses the shipped CFO view: {problems[0]}"
                    + (" (`closeboard views check` lists them all)" if len(problems) > 1 else "")
                )
        else:
            note = (
                f"no {view}: the page uses the shipped CFO view ({views.shipped_page_view()}; copy it there to edit it)"
            )
    if view is None or problems or not Path(view).is_file():
        sections, problems = views.page_sections(views.shipped_page_view(), spec)
        if problems:
            raise ValueError(f"the shipped CFO view has problems: {'; '.join(map(str, problems))}")
    spec["sections"] = sections
    seen: set[str] = set()
    for section in spec["sections"]:
        for key in ("id", "component", "query"):
            if key not in section:
                raise ValueError(f"sections.yaml: a section lacks {key!r}: {section}")
        if section["id"] in seen:
            raise ValueError(f"sections.yaml: duplicate section id {section['id']!r}")
        seen.add(section["id"])
        for name in (section["query"], *section.get("more_queries", [])):
            query_text(name)  # exists
        if section["component"] == "recon":  # the cards' labels: the check registry's
            section["checks"] = {c.id: c.label for c in CHECKS}
    return spec, note


def layout(view: str | Path | None = None) -> dict[str, Any]:
    """The page's layout (`page_layout`), checked enough that a typo fails the render with a clear message."""
    return page_layout(view)[0]


def query_text(name: str) -> str:
    if not re.fullmatch(r"[a-z0-9_]+\.sql", name):
        raise ValueError(f"sections.yaml: query names a file under reports/queries: {name!r}")
    return _resource_text("queries", name)


def static_text(name: str) -> str:
    return _resource_text("static", *name.split("/"))


# ---------------------------------------------------------------------------------------------
# data


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):  # no money arrives as float; ratios like share_pct are DECIMAL too
        return repr(value)
    return str(value)


def run_query(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> dict[str, Any]:
    """{columns, rows} with exact values: Decimal as strings, dates ISO."""
    cursor = con.execute(sql, params or [])
    columns = [d[0] for d in cursor.description]
    rows = [[_json_value(v) for v in row] for row in cursor.fetchall()]
    return {"columns": columns, "rows": rows}


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("select table_name from duckdb_tables() where not temporary").fetchall()
    return {r[0] for r in rows}


def _period_status(closed: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Per period: its latest and last closed snapshot versions and sign-off (closed_periods.sql).
    A closed period's KPIs are its closed snapshot's already: kpis.sql reads the warehouse's
    reported_kpis view, the one definition of that rule."""
    status: dict[str, dict[str, Any]] = {}
    for row in (closed or {}).get("rows", []):
        record = dict(zip(closed["columns"], row, strict=True))
        status[record["period"]] = {
            k: record[k]
            for k in (
                "latest_version",
                "latest_status",
                "closed_version",
                "closed_by",
                "closed_at",
                "override_reason",
                "restated_since_close",
            )
        }
    return status


def _sources(
    con: duckdb.DuckDBPyConnection, tables: set[str], fallback: Mapping[str, str | None]
) -> list[dict[str, Any]]:
    if "source_loads" not in tables:
        return [{"source": s, "as_of": a, "loaded_at": None, "rows": None, "tables": []} for s, a in fallback.items()]
    rows = con.execute(
        """
        select source, max(source_as_of), max(loaded_at)::varchar, sum(rows_loaded)::bigint,
               list(table_name order by table_name)
        from configured_loads group by source order by source
        """
    ).fetchall()
    return [{"source": s, "as_of": a, "loaded_at": loaded, "rows": n, "tables": list(t)} for s, a, loaded, n, t in rows]


def _configured_sources(con: duckdb.DuckDBPyConnection, tables: set[str]) -> set[str]:
    """The sources closeboard.yaml configures (written by the run before the render); every source
    when the warehouse does not say."""
    if "connector_sources" not in tables:
        return {"erp", "bank", "crm"}
    configured = {row[0] for row in con.execute("select source from connector_sources").fetchall()}
    return configured or {"erp", "bank", "crm"}


def _check_columns(con: duckdb.DuckDBPyConnection, section: Mapping[str, Any]) -> None:
    """A table's or bar chart's columns are its query's (a CFO view may name any): else a ValueError
    naming the section, the column and the query's columns, before anything is drawn."""
    if section["component"] == "table":
        named = [c["name"] for c in section["columns"]]
        named += [(section.get(k) or {}).get("column") for k in ("sort", "top", "facet")]
    elif section["component"] == "bar_chart":
        named = [section["category"], *(v["column"] for v in section["values"])]
    else:
        return
    named += [section.get("period_column"), section.get("currency_column")]
    body = query_text(section["query"]).strip().rstrip(";")
    have = [row[0] for row in con.execute(f"describe {body}").fetchall()]
    for name in named:
        if name is not None and name not in have:
            raise ValueError(
                f"section {section['id']!r}: its query {section['query']} has no column {name!r} "
                f"(it has {', '.join(have)})"
            )


def page_data(con: duckdb.DuckDBPyConnection, ctx: PageContext) -> dict[str, Any]:
    tables = existing_tables(con)
    spec = layout(ctx.view)
    # click-to-explain reads only the ledger and the marts: computed meanwhile, on a cursor of its own
    # (DuckDB runs both without holding the GIL)
    explaining = _concurrently(con, _page_explanations, tables, spec)
    load_functions(con)  # the warehouse's calendar(), open_documents() and div_round2
    con.execute(query_text("_kpis_through.sql"))
    with open_documents_once(con, tables):  # computed once for the tables and charts that read them
        try:
            return _page_data(con, ctx, tables, spec, explaining)
        finally:
            wait([explaining])  # a page that failed leaves no read going on behind it


def _page_data(
    con: duckdb.DuckDBPyConnection,
    ctx: PageContext,
    tables: set[str],
    spec: dict[str, Any],
    explaining: Future[dict[str, Any]],
) -> dict[str, Any]:
    datasets: dict[str, dict[str, Any]] = {}

    def dataset(name: str) -> dict[str, Any]:
        if name not in datasets:
            datasets[name] = run_query(con, query_text(name))
        return datasets[name]

    dataset(spec["kpi_query"])
    closed = None
    if set(spec.get("closed_requires", [])) <= tables:
        closed = run_query(con, query_text(spec["closed_query"]))
    period_status = _period_status(closed)

    periods = []
    period_rows = dataset(spec["periods_query"])
    for row in period_rows["rows"]:
        record = dict(zip(period_rows["columns"], row, strict=True))
        period, is_open = record["period"], record["is_open"]
        st = period_status.get(period, {})
        if is_open:
            label = "month to date"
        elif st.get("closed_version") is not None:
            label = "restated since close" if st.get("restated_since_close") else "closed"
        else:
            label = "draft"
        periods.append({**record, "status": label, **st})
    datasets.pop(spec["periods_query"], None)
    ended = [p["period"] for p in periods if not p["is_open"]]
    default = ended[-1] if ended else (periods[-1]["period"] if periods else None)

    configured = _configured_sources(con, tables)
    sections = []
    tables_data: dict[str, dict[str, Any]] = {}
    for section in spec["sections"]:
        missing = [t for t in section.get("requires", []) if t not in tables]
        unconfigured = [s for s in section.get("sources", []) if s not in configured]
        entry = dict(section)
        if "tiles" in section:  # a tile whose source is not configured is left out, and the page says why
            entry["tiles"] = [t for t in section["tiles"] if set(t.get("sources", [])) <= configured]
            left_out = [t["label"] for t in section["tiles"] if t not in entry["tiles"]]
            if left_out:
                entry["note"] = (
                    f"Not shown: {', '.join(left_out)} (no "
                    f"{' or '.join(sorted({s for t in section['tiles'] for s in t.get('sources', [])} - configured))}"
                    " source is configured)"
                )
        if unconfigured:
            entry["available"] = False
            entry["missing"] = (
                f"Not shown: no {' or '.join(unconfigured)} source is configured "
                f"(connectors.{unconfigured[0]} in closeboard.yaml)."
            )
        elif missing:
            entry["available"] = False
            entry["missing"] = section.get("missing", f"No data yet (missing {', '.join(missing)}).")
        else:
            entry["available"] = True
            _check_columns(con, section)
            if section["component"] == "table":  # the top rows and the summary of all rows, not every row
                entry["rows_query"] = f"table:{section['id']}"
                datasets[entry["rows_query"]], tables_data[section["id"]] = table_top(con, section, spec)
                for name in section.get("more_queries", []):
                    dataset(name)
            else:
                for name in (section["query"], *section.get("more_queries", [])):
                    dataset(name)
        sections.append(entry)

    sources = _sources(con, tables, ctx.sources)
    explanations = explaining.result()
    as_ofs = [s["as_of"] for s in sources if s["as_of"]]
    home = ctx.home
    command = ["closeboard"]
    if ctx.config:
        command += ["--config", ctx.config]
    if home:
        command += ["--home", home]
    command.append("refresh")
    return {
        "meta": {
            "company": ctx.company,
            "currency": ctx.currency,
            "symbol": formatting.symbol(ctx.currency),
            "run_id": ctx.run_id,
            "rendered_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "default_period": default,
            "periods": periods,
            "sources": sources,
            "oldest_as_of": min(as_ofs) if as_ofs else None,
            "refresh_command": shlex.join(command),
            "kpi_query": spec["kpi_query"],
            "history_href": "history.html" if "close_snapshots" in tables else None,
            # the rules the page applies, as data: formats, and which KPIs are point-in-time or not
            # from the ledger (sections.yaml), so the script does not repeat them
            "formats": spec["formats"],
            "symbols": dict(formatting._SYMBOLS),  # the currency prefixes, as reports/formatting.py has them
            "kpi_rules": spec["kpi_rules"],
            **ctx.extra,
        },
        "sections": sections,
        "datasets": datasets,
        "tables": tables_data,
        "explain": explanations,
    }


T = TypeVar("T")


def _concurrently(con: duckdb.DuckDBPyConnection, read: Callable[..., T], *args: Any) -> Future[T]:
    """`read(cursor, *args)` on a thread, with a cursor of `con` (a connection of its own to the same
    database: it sees what is committed) closed when done."""

    def run() -> T:
        cursor = con.cursor()
        try:
            return read(cursor, *args)
        finally:
            cursor.close()

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="page-data")
    try:
        return pool.submit(run)
    finally:
        pool.shutdown(wait=False)  # the thread ends with `read`


EXPLAIN_NEEDS = {"mart_kpis", "mart_statements", "statement_line_accounts", "periods", "erp_journal_lines"}


def _page_explanations(con: duckdb.DuckDBPyConnection, tables: set[str], spec: Mapping[str, Any]) -> dict[str, Any]:
    """`_explanations` of every period the page lists (sections.yaml `periods_query`), read on `con`:
    the ones the warehouse keeps (`page_explanations`) when what they are a function of is unchanged
    (`explain.page_inputs`; only their sources are read again), else computed and kept there for
    the next page (a read-only `con` keeps nothing)."""
    if not EXPLAIN_NEEDS <= tables:
        return _explanations(con, tables, [], spec.get("explain", {}))
    from reports import explain

    load_functions(con)
    listed = run_query(con, query_text(spec["periods_query"]))
    at = listed["columns"].index("period")
    periods = [row[at] for row in listed["rows"]]
    digest = explain.page_inputs(con, tables, periods, spec.get("explain", {}))
    stored = loads.stored_explanations(con, digest) if "page_explanations" in tables else None
    if stored is not None:
        out: dict[str, Any] = json.loads(stored)
        out["sources"] = explain.page_sources(con)  # this run's loads and calls
        return out
    out = _explanations(con, tables, periods, spec.get("explain", {}))
    if "error" not in out and "page_explanations" in tables:
        try:  # kept without its sources (in place: the page's keys keep their order)
            loads.replace_explanations(con, digest, json.dumps({**out, "sources": None}))
        except duckdb.Error:  # a read-only warehouse: computed again next time
            pass
    return out


def _explanations(
    con: duckdb.DuckDBPyConnection, tables: set[str], periods: list[str], spec: Mapping[str, Any]
) -> dict[str, Any]:
    """Click-to-explain without a server (sections.yaml `explain`): every KPI's explanation and the
    journal lines behind each income-statement line, with the `lines` largest rows per figure, for
    the last `periods` months (the page says how many rows are left out; `closeboard serve` fetches
    them all). A warehouse without the marts gets none, and says why."""
    if not EXPLAIN_NEEDS <= tables:
        return {"error": "no statements in this warehouse yet: run a refresh"}
    from reports import explain

    lines, recent = int(spec.get("lines", 10)), periods[-int(spec.get("periods", 13)) :]
    try:
        out = explain.page_explanations(con, recent, limit=lines)
        by_period = explain.statement_account_lines(con, recent, limit=lines)
        columns = [c for c in explain.PAGE_ROW_COLUMNS if c in explain.STATEMENT_ROW_COLUMNS]
        keep = [explain.PAGE_ROW_COLUMNS.index(c) for c in columns]
        out["statement"] = {
            "accounts": explain.income_line_accounts(con),
            "model": explain.STATEMENT_MODEL,
            "columns": columns,
            "lines": {
                p: {a: {**e, "shown": [[r[i] for i in keep] for r in e["shown"]]} for a, e in accounts.items()}
                for p, accounts in by_period.items()
            },
        }
        # balance sheet and cash flow: the accounts' openings and month's lines for the last
        # `balance_periods` months only (page size); `closeboard serve` fetches any month
        balance = periods[-int(spec.get("balance_periods", 3)) :]
        out["statement"].update(
            {
                "parts": explain.line_parts(con),
                "balance_periods": balance,
                "docs": explain.STATEMENT_DOCS,
                "moves": explain.account_moves(con, balance, limit=lines),
                "earnings": explain.earnings_lines(con, balance),
                "period_ends": {
                    r[0]: r[1].isoformat()
                    for r in con.execute(
                        "select period, period_end from periods where period in (select unnest(?::varchar[]))",
                        [balance],
                    ).fetchall()
                },
                "models": {"balance_sheet": explain.STATEMENT_MODEL, "cash_flow": explain.CASH_FLOW_MODEL},
                "noun": explain.BALANCE_NOUN,
            }
        )
        out["accounts"].update(explain.earnings_names(con))
    except (explain.ExplainError, duckdb.Error) as exc:
        return {"error": f"explanations unavailable: {exc}"}
    return out


# ---------------------------------------------------------------------------------------------
# the page


def json_for_script(payload: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' survives literally,
    so no string from a source can close the element or open a comment."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return Markup(text)


def _inline_script(text: str) -> Markup:
    # the vendored file ends with a source-map comment: drop it so no tool goes looking for it
    text = re.sub(r"^//# sourceMappingURL=.*$", "", text, flags=re.MULTILINE)
    if "</script" in text.lower():
        raise ValueError("an inlined script contains '</script'")
    return Markup(text)


def _script_hash(text: str) -> str:
    """The CSP source that allows exactly this inline script (and no injected one)."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def page_scripts(page: str) -> list[Markup]:
    """A page's scripts in their order, each inlined whole (a page's CSP lists their hashes): the
    chart library, what the dashboard and the views share (static/format.js, the formatting and the check
    card, then static/components.js, the tile, chart, table, statement and explanation panel: one script),
    then `page`."""
    shared = static_text("format.js") + "\n" + static_text("components.js")
    return [_inline_script(text) for text in (static_text(f"vendor/{CHART_LIBRARY}"), shared, static_text(page))]


def _kpi_tile(
    section: Mapping[str, Any],
    kpis: Mapping[str, Mapping[str, Any]],
    period: str | None,
    currency: str,
    meta: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The tiles as first drawn (the script redraws them): a month without journal lines shows
    "no data" for every figure from the ledger, never 0."""
    info = next((p for p in meta["periods"] if p["period"] == period), {})
    non_ledger = set(meta["kpi_rules"].get("non_ledger", []))
    tiles = []
    for tile in section["tiles"]:
        if period and not info.get("ledger_lines") and tile["kpi"] not in non_ledger:
            tiles.append({**tile, "value": None, "text": "no data"})
            continue
        value = kpis.get(period, {}).get(tile["kpi"]) if period else None
        tiles.append({**tile, "value": value, "text": formatting.display(value, tile.get("format", "money"), currency)})
    return tiles


# An archived page's parts shared with the other archived pages: put(stem, extension, text) writes the
# text once, content-addressed, and returns its address relative to the page (reports/history.py)
SharedParts = Callable[[str, str, str], str]


def render_html(data: dict[str, Any], shared: SharedParts | None = None) -> str:
    """The page: one self-contained file; or, with `shared` (an archived version), the page's own
    figures inline and the parts it shares with other versions (the chart library, its script and
    style, the data that is the same for every version archived by a run) as files beside it, which
    the page loads from disk (its CSP allows 'self' scripts)."""
    meta = data["meta"]
    kpi_rows = data["datasets"][meta["kpi_query"]]
    cols = kpi_rows["columns"]
    kpis: dict[str, dict[str, Any]] = {}
    for row in kpi_rows["rows"]:
        record = dict(zip(cols, row, strict=True))
        kpis.setdefault(record["period"], {})[record["kpi"]] = record["value"]
    prerendered = {
        s["id"]: _kpi_tile(s, kpis, meta["default_period"], meta["currency"], meta)
        for s in data["sections"]
        if s["component"] == "tiles"
    }
    scripts = page_scripts("dashboard.js")
    css = Markup(static_text("dashboard.css"))
    sections, hrefs = data["sections"], None
    if shared is not None:
        name = meta["kpi_query"]
        own = {"meta": meta, "datasets": {name: data["datasets"][name]}}
        common = {**data, "datasets": {k: v for k, v in data["datasets"].items() if k != name}}
        del common["meta"]
        hrefs = {
            "data": shared("data", "js", f"window.CLOSEBOARD_SHARED = {json_for_script(common)};\n"),
            "chart": shared("chart", "js", scripts[0]),
            "format": shared("format", "js", scripts[1]),
            "page": shared("dashboard", "js", scripts[2]),
            "css": shared("dashboard", "css", css),
        }
        data = {**own, "shared": hrefs["data"]}
    return (
        environment()
        .get_template("dashboard.html")
        .render(
            script_hashes="'self'" if hrefs else " ".join(_script_hash(s) for s in scripts),
            meta=meta,
            sections=sections,
            tiles=prerendered,
            served_marker=Markup(SERVED_MARKER),
            data_json=json_for_script(data),
            css=css,
            chart_js=scripts[0],
            format_js=scripts[1],
            page_js=scripts[2],
            shared=hrefs,
        )
    )


def render_dashboard(
    con: duckdb.DuckDBPyConnection, ctx: PageContext, out_dir: Path, name: str = "latest.html"
) -> Path:
    """Render the page from `con` (the live warehouse in a run, or any copy) into out_dir/name."""
    return render_page(con, ctx, out_dir, name)[0]


def render_page(
    con: duckdb.DuckDBPyConnection, ctx: PageContext, out_dir: Path, name: str = "latest.html"
) -> tuple[Path, dict[str, Any]]:
    """`render_dashboard`, and the page's data (`page_data`): the close history's archived pages of the
    same run start from it (reports.history.archive_pages) instead of computing it again."""
    if ctx.home is None:
        ctx = PageContext(
            ctx.company,
            ctx.currency,
            ctx.run_id,
            ctx.sources,
            home=str(Path(out_dir).resolve().parent),
            config=ctx.config,
            extra=ctx.extra,
            view=ctx.view,
        )
    data = page_data(con, ctx)
    return write_atomic(Path(out_dir) / name, render_html(data)), data
