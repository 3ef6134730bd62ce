"""Views the user describes: markdown pages with named SQL blocks and components (issue 19).

A view is a file `views/NAME.md` next to closeboard.yaml (or under the config's `views:` folder).
Its prose and headings are markdown (any HTML in it is shown as text); three kinds of fenced block
are read as data instead of text (the grammar, with examples, is docs/views.md):

    ```sql revenue_by_customer        a named query: exactly one SELECT, run read-only on the read copy
    ```tile / ```chart / ```table     a component: a YAML mapping naming a query and its columns
    ```statement / ```check           a statement (mart_statements) or one reconciliation check's card
                                      (recon_results) for the page's period, as the dashboard shows them

Every view is validated when loaded and again before each render (`check_view`): each problem is a
ViewProblem naming the file, the line and the fix. A view with a problem is rendered as an error box,
never an exception: the refresh and the other pages carry on, and the refresh says which view failed.
Pages are self-contained like the dashboard (reports/render.py): the same CSP with script hashes, the
same CSS, vendored chart library and the dashboard's own formatting and components (reports/static/
format.js and components.js: tiles, charts, tables, statements with their journal lines, check cards)
inlined, every text autoescaped, money exact (Decimal here, exact decimal strings on the page), the
format tokens sent to the page as data (FORMAT_TOKENS).
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import duckdb
import yaml
from markdown_it import MarkdownIt
from markupsafe import Markup

from connectors.periods import shift
from connectors.plain import write_atomic
from reports import formatting
from reports.explain import STATEMENT_NAMES
from reports.explain import kpis as kpi_names
from reports.render import (
    _page_explanations,
    _resource_text,
    _script_hash,
    environment,
    existing_tables,
    json_for_script,
    layout,
    page_scripts,
    query_text,
    static_text,
)
from warehouse.checks import CHECKS
from warehouse.models import load_functions

COMPONENTS = ("tile", "chart", "table", "statement", "check")
# The format tokens, defined once: how each shows a value (money and in which currency, the places, a
# suffix, how a tile compares two figures). Python formats with this table (`_fmt`) and the pages receive
# it as data (`format_table`): their script (static/components.js `display`) repeats no format.
FORMAT_TOKENS: dict[str, dict[str, Any]] = {
    "usd": {
        "money": True,
        "currency": "USD",
        "places": 2,
        "change": "percent",
        "doc": "money in US dollars, to the cent",
    },
    "eur": {"money": True, "currency": "EUR", "places": 2, "change": "percent", "doc": "money in euros, to the cent"},
    "gbp": {"money": True, "currency": "GBP", "places": 2, "change": "percent", "doc": "money in pounds, to the cent"},
    "pct": {"places": 1, "suffix": "%", "change": "points", "doc": "a percentage, one decimal"},
    "days": {"places": 0, "suffix": " days", "change": "difference", "doc": "a number of days"},
    "months": {"places": 1, "suffix": " months", "change": "difference", "doc": "a number of months, one decimal"},
    "int": {"places": 0, "change": "difference", "doc": "a whole number"},
    "money": {
        "money": True,
        "places": 2,
        "change": "percent",
        "doc": "money in the row's currency, else the company's",
    },
    "text": {"doc": "as the query returns it"},
}
FORMATS = {token: spec["doc"] for token, spec in FORMAT_TOKENS.items()}


def format_table() -> dict[str, dict[str, Any]]:
    """The format tokens as the pages receive them (without their descriptions)."""
    return {token: {k: v for k, v in spec.items() if k != "doc"} for token, spec in FORMAT_TOKENS.items()}


FIELDS = {
    "tile": {
        "query": True,
        "value": True,
        "label": False,
        "format": False,
        "comparison": False,
        "period": False,
        "budget": False,
    },
    "chart": {"query": True, "x": True, "y": True, "type": False, "series": False, "title": False, "format": False},
    "table": {"query": True, "columns": False, "formats": False, "sort": False, "totals": False, "title": False},
    "statement": {"statement": True, "rollup": False, "title": False},
    "check": {"check": True, "title": False},
}
CHART_TYPES = ("line", "bar", "area")  # area: a line chart filled to the axis
ROLLUPS = ("account", "subtype")  # a statement's lines by account (nested by parent) or by type and subtype
COMPARISONS = {"mom": 1, "yoy": 12}
# canonical tables whose money is in each record's own currency: a sum over them must keep the
# currency apart (group by it, or filter on it)
MULTI_CURRENCY = {
    "erp_invoices": {"total", "balance"},
    "erp_bills": {"total", "balance"},
    "erp_payments": {"amount"},
    "crm_opportunities": {"amount"},
    "bank_transactions": {"amount"},
    "bank_balances": {"closing_balance"},
    "erp_journal_lines": {"amount_currency"},
}
MAX_ROWS = 2000
VIEWS_DIR = "views"
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_TEMPLATE = re.compile(r"\{\{|\{%|\$\{")  # a template anywhere, even in a string literal
_BIND = re.compile(r"(?<![:\w]):[A-Za-z_]\w*")  # :name outside string literals


@dataclass(frozen=True)
class ViewProblem:
    file: str
    line: int
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message} — fix: {self.fix}"


@dataclass
class Block:
    kind: str  # "sql" or a component
    name: str | None  # the query's name
    line: int  # the line of the opening fence (1-based)
    body: str
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass
class View:
    path: Path
    name: str
    parts: list[str | Block]  # rendered markdown and blocks, in the file's order
    queries: dict[str, Block]
    components: list[Block]
    problems: list[ViewProblem]
    title: str | None = None


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def parse_view(path: Path, *, page: bool = False) -> View:
    """A view file as blocks and markdown, with the problems found without the warehouse; with `page`,
    the CFO page's view (its components are the page's sections: `page_sections`)."""
    kinds, read = (PAGE_KINDS, _read_page_component) if page else (COMPONENTS, _read_component)
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    name = path.stem
    problems: list[ViewProblem] = []
    where = str(path)
    if not _NAME.fullmatch(name):
        problems.append(
            ViewProblem(
                where,
                1,
                f"the view name {name!r} is not a plain name",
                "rename the file to lower case letters, digits and _ (e.g. revenue_by_customer.md)",
            )
        )
    md = _markdown()
    tokens = md.parse(text)
    parts: list[str | Block] = []
    queries: dict[str, Block] = {}
    components: list[Block] = []
    pending: list[Any] = []
    title = None

    def flush() -> None:
        if pending:
            parts.append(md.renderer.render(pending, md.options, {}))
            pending.clear()

    for i, token in enumerate(tokens):
        if token.type == "inline" and title is None and i > 0 and tokens[i - 1].tag == "h1":
            title = token.content
        info = token.info.split() if token.type == "fence" else []
        kind = info[0].lower() if info else ""
        if token.type != "fence" or (kind not in kinds and kind != "sql"):
            pending.append(token)
            continue
        flush()
        line = token.map[0] + 1 if token.map else 1
        block = Block(kind, None, line, token.content)
        if kind == "sql" and page:
            problems.append(
                ViewProblem(
                    where,
                    line,
                    "the CFO page reads the page's own queries, not ```sql blocks",
                    "name one of reports/sections.yaml's `queries:` in a component (`query: NAME`), "
                    "or put this query in a view of its own",
                )
            )
            continue
        if kind == "sql":
            qname = info[1] if len(info) > 1 else None
            if qname is None or not _NAME.fullmatch(qname):
                problems.append(
                    ViewProblem(
                        where,
                        line,
                        "a sql block without a plain name",
                        "open it with ```sql NAME (lower case letters, digits and _)",
                    )
                )
                continue
            if qname in queries:
                problems.append(
                    ViewProblem(
                        where,
                        line,
                        f"a second query named {qname!r} (first at line {queries[qname].line})",
                        "give each sql block its own name",
                    )
                )
                continue
            block.name = qname
            queries[qname] = block
        else:
            problems.extend(read(block, where))
            components.append(block)
        parts.append(block)
    flush()
    return View(path, name, parts, queries, components, problems, title)


@functools.lru_cache(maxsize=256)
def _safe_yaml(text: str) -> Any:
    """A component block's YAML, parsed once per text (a render reads the page's ~26 blocks twice,
    ~3 ms of pure-Python YAML each); copied by the caller, which fills it in."""
    return yaml.safe_load(text)


def _read_yaml(block: Block, where: str, known: dict[str, bool]) -> list[ViewProblem]:
    """A component block's YAML mapping into block.spec, with its unknown and missing keys (the same
    for a view's components and the CFO page's)."""

    def problem(message: str, fix: str, offset: int = 0) -> ViewProblem:
        return ViewProblem(where, block.line + offset, f"{block.kind}: {message}", fix)

    try:
        spec = copy.deepcopy(_safe_yaml(block.body)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [
            problem(
                f"not valid YAML ({getattr(exc, 'problem', exc)})",
                "write one `key: value` a line",
                (mark.line + 1) if mark else 0,
            )
        ]
    if not isinstance(spec, dict):
        return [problem("expected `key: value` lines", "write e.g. `query: NAME` on its own line")]
    block.spec = spec
    out = []
    for key in spec:
        if key not in known:
            out.append(problem(f"unknown key {key!r}", f"use only {', '.join(known)}", _key_line(block, key)))
    for key, required in known.items():
        if required and key not in spec:
            out.append(problem(f"no {key!r}", f"add `{key}: ...` (see docs/views.md)"))
    return out


def _read_component(block: Block, where: str) -> list[ViewProblem]:
    def problem(message: str, fix: str, offset: int = 0) -> ViewProblem:
        return ViewProblem(where, block.line + offset, f"{block.kind}: {message}", fix)

    out = _read_yaml(block, where, FIELDS[block.kind])
    if not block.spec:
        return out
    spec = block.spec
    fmts = [spec.get("format")] + list(
        (spec.get("formats") or {}).values() if isinstance(spec.get("formats"), dict) else []
    )
    for fmt in fmts:
        if fmt is not None and fmt not in FORMATS:
            out.append(
                problem(f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}", _key_line(block, "format"))
            )
    if spec.get("comparison") is not None and str(spec["comparison"]).lower() not in COMPARISONS:
        out.append(
            problem(f"unknown comparison {spec['comparison']!r}", "use mom or yoy", _key_line(block, "comparison"))
        )
    if block.kind == "chart" and spec.get("type", "line") not in CHART_TYPES:
        out.append(
            problem(f"unknown chart type {spec['type']!r}", f"use {', '.join(CHART_TYPES)}", _key_line(block, "type"))
        )
    if block.kind == "statement":
        out += _check_choice(block, problem, "statement", STATEMENT_NAMES, "a statement")
        out += _check_choice(block, problem, "rollup", {r: r for r in ROLLUPS}, "a rollup")
    if block.kind == "check":
        out += _check_choice(block, problem, "check", {c.id: c.id for c in CHECKS}, "a check")
    if block.kind == "tile" and spec.get("budget") is not None:
        out += _check_choice(block, problem, "budget", {k: k for k in kpi_names()}, "a KPI (mart_kpis)")
    return out


def _check_choice(block: Block, problem: Any, key: str, choices: dict[str, str], what: str) -> list[ViewProblem]:
    """A problem when the spec's `key` is given and not one of `choices` (the names a user may write)."""
    value = block.spec.get(key)
    if value is None or (isinstance(value, str) and value in choices):
        return []
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return [
        problem(
            f"{key} {value!r} is not {what}",
            f"{hint}use one of {', '.join(dict.fromkeys(choices))}",
            _key_line(block, key),
        )
    ]


def _key_line(block: Block, key: str) -> int:
    """The line offset (from the fence) of `key:` in the block's body, 0 when not found."""
    for n, text in enumerate(block.body.splitlines(), start=1):
        if re.match(rf"\s*{re.escape(key)}\s*:", text):
            return n
    return 0


# ---------------------------------------------------------------------------------------------
# the CFO page: the main page's layout is a view file too (reports/views/cfo.md, copied by the demo)

PAGE_VIEW = "cfo.md"  # in the views folder: the user's copy of the main page's layout
PAGE_LAYOUT_COPY = "latest_layout.md"  # in reports/: the CFO view latest.html was laid out by (GET /api/table)
PAGE_KINDS = (*COMPONENTS, "whatif")  # whatif: the runway what-if, which only the page has
_SECTION = {"id": True, "title": True, "query": True, "note": False}
PAGE_FIELDS = {
    "tile": {**_SECTION, "kpis": True, "spark_periods": False},
    "check": {**_SECTION, "check": True, "items": False},
    "statement": {**_SECTION, "statement": True, "rollup": True},
    "chart": {**_SECTION, "type": True, "x": True, "y": True, "window": False, "format": False, "period": False},
    "whatif": dict(_SECTION),
    "table": {
        **_SECTION,
        "columns": True,
        "period": False,
        "currency": False,
        "sort": False,
        "top": False,
        "rows": False,
        "facet": False,
        "export": False,
        "totals": False,
    },
}


def shipped_page_view() -> Path:
    """The CFO page's view as closeboard ships it (reports/views/cfo.md)."""
    return Path(str(files("reports").joinpath("views", PAGE_VIEW)))


def _read_page_component(block: Block, where: str) -> list[ViewProblem]:
    return _read_yaml(block, where, PAGE_FIELDS[block.kind])


def page_sections(path: Path, spec: dict[str, Any]) -> tuple[list[dict[str, Any]], list[ViewProblem]]:
    """The main page's sections, in order, from the CFO view at `path`: each component block made a
    section of reports/render.py's page (its query's file and `requires`/`missing`/`sources` from
    sections.yaml `queries:`, the component's fixed parts from `components:`), and the problems, each
    naming the file, the line and the fix."""
    try:
        view = parse_view(path, page=True)
    except (OSError, UnicodeDecodeError) as exc:  # unreadable: the shipped view lays the page out
        return [], [ViewProblem(str(path), 1, f"cannot be read ({exc})", "save it as UTF-8 text")]
    problems = list(view.problems)
    sections: list[dict[str, Any]] = []
    ids: dict[str, int] = {}
    placed: list[tuple[dict[str, Any], Block]] = []
    for block in view.components:
        if not block.spec or any(req and key not in block.spec for key, req in PAGE_FIELDS[block.kind].items()):
            continue  # its problems are listed already
        found: list[ViewProblem] = []

        def problem(message: str, fix: str, key: str = "", block: Block = block, found: list = found) -> None:
            found.append(ViewProblem(str(path), block.line + _key_line(block, key), f"{block.kind}: {message}", fix))

        section = _page_section(block, spec, problem)
        if section["id"] in ids:
            problem(
                f"a second section {section['id']!r} (first at line {ids[section['id']]})", "give it its own id", "id"
            )
        ids.setdefault(section["id"], block.line)
        problems += found
        if not found:
            sections.append(section)
            placed.append((section, block))
    tables = {s["id"] for s in sections if s["component"] == "table"}
    for section, block in placed:
        if section.get("items_section") not in (None, *tables):
            problems.append(
                ViewProblem(
                    str(path),
                    block.line + _key_line(block, "items"),
                    f"check: items {section['items_section']!r} is not a table of the page",
                    f"name one of {', '.join(sorted(tables))}",
                )
            )
    if not view.components and not problems:
        problems.append(ViewProblem(str(path), 1, "no section", f"add component blocks as in {shipped_page_view()}"))
    return sections, problems


# The CFO view writes formats as the views' tokens (FORMAT_TOKENS); the main page shows each with one of
# its display formats (sections.yaml `formats`, which the page receives as data): money (the company's
# currency, a table's rows in their own) rounded to the unit on a tile (the exact figure on hover) and a
# chart's axis, to the cent in a table; `days` and `months` with one decimal, the label naming the unit.
PAGE_FORMATS: dict[str, str | dict[str, str]] = {
    "money": {"tile": "money", "chart": "money", "table": "money_cents"},
    "pct": "percent",
    "days": "number",
    "months": "number",
    "int": "integer",
    "date": "date",
    "text": "text",
}


def page_format(token: str, component: str) -> str:
    """The main page's display format of a CFO view's format token in a tile, chart or table."""
    shown = PAGE_FORMATS[token]
    return shown if isinstance(shown, str) else shown[component]


def _page_section(block: Block, spec: dict[str, Any], problem: Any) -> dict[str, Any]:
    """One CFO-view block as the page's section (see sections.yaml for what each component draws)."""
    b = block.spec
    formats = set(PAGE_FORMATS)
    query = spec["queries"].get(b["query"]) if isinstance(b["query"], str) else None
    if query is None:
        close = difflib.get_close_matches(str(b["query"]), list(spec["queries"]), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        problem(f"no page query named {b['query']!r}", f"{hint}use one of {', '.join(spec['queries'])}", "query")
        query = {"file": ""}
    component = {"tile": "tiles", "check": "recon", "statement": "statements", "whatif": "runway_whatif"}.get(
        block.kind, block.kind
    )
    if block.kind == "chart":
        component = "bar_chart" if b["type"] == "bar" else "line_chart"
        if b["type"] not in CHART_TYPES:
            problem(f"unknown chart type {b['type']!r}", f"use {', '.join(CHART_TYPES)}", "type")
    section: dict[str, Any] = {
        "id": str(b["id"]),
        "component": component,
        "title": b["title"],
        "query": query["file"],
        **{k: v for k, v in query.items() if k in ("requires", "missing", "sources")},
        **copy.deepcopy(spec.get("components", {}).get(component, {})),
        **({"note": b["note"]} if "note" in b else {}),
    }
    if not _NAME.fullmatch(section["id"]):
        problem(f"id {section['id']!r} is not a plain name", "use lower case letters, digits and _", "id")

    for key in ("rows", "window", "spark_periods"):  # counts of rows or months
        if key in b and not (isinstance(b[key], int) and not isinstance(b[key], bool) and b[key] > 0):
            problem(f"{key} {b[key]!r} is not a whole number above 0", f"write e.g. `{key}: 13`", key)
    for key in ("facet", "top"):
        if key in b and not (isinstance(b[key], dict) and isinstance(b[key].get("column"), str)):
            problem(f"{key} must be a mapping with a column", f"write e.g. `{key}: {{column: NAME, label: ...}}`", key)

    def fmt_ok(value: Any, key: str) -> bool:
        if value is not None and (not isinstance(value, str) or value not in formats):
            problem(f"unknown format {value!r}", f"use one of {', '.join(sorted(formats))}", key)
            return False
        return value is not None

    def shown_as(item: dict[str, Any], key: str, component: str) -> None:
        """`item`'s format token checked and made the page's display format."""
        if fmt_ok(item.get("format"), key):
            item["format"] = page_format(item["format"], component)

    def mappings(key: str, need: tuple[str, ...]) -> list[dict[str, Any]]:
        items = b.get(key)
        if not isinstance(items, list) or not all(isinstance(i, dict) and set(need) & set(i) for i in items):
            problem(f"{key} must be a list of mappings with {' or '.join(need)}", "see reports/views/cfo.md", key)
            return []
        return items

    if block.kind == "tile":
        section["tiles"] = mappings("kpis", ("kpi",))
        known = set(kpi_names())
        for tile in section["tiles"]:
            if not isinstance(tile.get("kpi"), str) or tile["kpi"] not in known:
                problem(f"kpi {tile.get('kpi')!r} is not a KPI", f"use one of {', '.join(sorted(known))}", "kpis")
            shown_as(tile, "kpis", "tile")
        if "spark_periods" in b:
            section["spark_periods"] = b["spark_periods"]
    elif block.kind == "check":
        if b["check"] != "all":
            problem(f"check {b['check']!r}: the page shows every check", "write `check: all`", "check")
        if "items" in b:
            section["items_section"] = b["items"]
    elif block.kind == "statement":
        section["statements"] = mappings("statement", ("id",))
        section["rollups"] = mappings("rollup", ("id",))
        for s in section["statements"]:
            if s["id"] not in STATEMENT_NAMES.values():
                problem(
                    f"statement {s['id']!r} is not a statement",
                    "use income_statement, balance_sheet, cash_flow",
                    "statement",
                )
        for r in section["rollups"]:
            if r["id"] not in ROLLUPS:
                problem(f"rollup {r['id']!r} is not a rollup", f"use {', '.join(ROLLUPS)}", "rollup")
    elif block.kind == "chart":
        if fmt_ok(b.get("format"), "format"):
            section["format"] = page_format(b["format"], "chart")
        if component == "line_chart":
            if b["x"] != "period":
                problem("a line or area chart of KPIs runs over x: period", "write `x: period`", "x")
            section["series"] = mappings("y", ("kpi", "sum_of"))
            section.update({k: b[k] for k in ("window",) if k in b})
            if b["type"] == "area":
                section["fill"] = True
        else:
            section["category"] = b["x"]
            section["values"] = mappings("y", ("column",))
            if "period" in b:
                section["period_column"] = b["period"]
    elif block.kind == "table":
        columns = (
            [dict(c) if isinstance(c, dict) else {"name": c, "label": c} for c in b["columns"]]
            if isinstance(b["columns"], list)
            else []
        )
        if not columns or not all(isinstance(c.get("name"), str) for c in columns):
            problem("columns must list column names or {name, label, format}", "see reports/views/cfo.md", "columns")
        names = [c.get("name") for c in columns]
        totals = [b["totals"]] if isinstance(b.get("totals"), str) else list(b.get("totals") or [])
        for c in columns:
            shown_as(c, "columns", "table")
            if c.get("name") in totals:
                c["total"] = True
        for name in totals:
            if name not in names:
                problem(
                    f"totals names {name!r}, not one of its columns",
                    f"use one of {', '.join(map(str, names))}",
                    "totals",
                )
        section["columns"] = columns
        renames = {"period": "period_column", "currency": "currency_column"}
        section.update(
            {renames.get(k, k): b[k] for k in ("period", "currency", "top", "rows", "facet", "export") if k in b}
        )
        if "sort" in b:
            sort = b["sort"]
            if isinstance(sort, str) and sort.strip():
                text = sort.strip()
                sort = {"column": (text.lstrip("-").split() or [""])[0]}
                if text.startswith("-") or text.lower().endswith(" desc"):
                    sort["descending"] = True
            if not isinstance(sort, dict) or sort.get("column") not in names:
                problem(
                    f"sort {b['sort']!r} names no column of the table",
                    f"use one of {', '.join(map(str, names))}",
                    "sort",
                )
            section["sort"] = sort
    return section


# ---------------------------------------------------------------------------------------------
# validation against the read copy


def _nodes(tree: Any):
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from _nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _nodes(value)


def _line_at(sql: str, offset: int) -> int:
    return sql.count("\n", 0, max(0, offset)) + 1


def check_query(con: duckdb.DuckDBPyConnection, block: Block, where: str) -> tuple[list[str], list[ViewProblem]]:
    """The columns the query returns, or the problems that stop it: not exactly one SELECT, a
    parameter or template (page input never becomes SQL), an unknown table or column, a sum of money
    across currencies where the tables say so."""
    sql = block.body.strip().rstrip(";").strip()
    lead = len(block.body) - len(block.body.lstrip())
    first = block.line + 1 + block.body[:lead].count("\n")

    def problem(message: str, fix: str, line: int = 1) -> ViewProblem:
        return ViewProblem(where, first + line - 1, f"query {block.name!r}: {message}", fix)

    if not sql:
        return [], [problem("is empty", "write one SELECT in the block")]
    # string literals blanked (same length, newlines kept) so that 'a:b' is not taken for a parameter
    unquoted = re.sub(r"'(?:[^']|'')*'", lambda q: re.sub(r"[^\n]", " ", q.group(0)), sql)
    if m := _TEMPLATE.search(sql) or _BIND.search(unquoted):
        return [], [
            problem(
                f"{m.group(0)!r} builds SQL from page input",
                "views take no parameters: write the values into the SELECT, or add a column the component picks from",
                _line_at(sql, m.start()),
            )
        ]
    tree = json.loads(con.execute("select json_serialize_sql(?)", [sql]).fetchone()[0])
    if tree.get("error"):
        message = tree.get("error_message", "not a SELECT")
        if "Only SELECT" in message:
            return [], [problem("is not a SELECT (views only read)", "write one SELECT (or WITH ... SELECT) statement")]
        line = re.search(r"LINE (\d+):", message)
        return [], [
            problem(
                f"does not parse: {message.splitlines()[0]}",
                "correct the SQL at that line",
                int(line.group(1)) if line else 1,
            )
        ]
    if len(tree["statements"]) != 1:
        return [], [
            problem(
                f"holds {len(tree['statements'])} statements",
                "keep exactly one SELECT per block; give each other query its own ```sql NAME block",
            )
        ]
    for node in _nodes(tree["statements"]):
        if node.get("class") == "PARAMETER":
            return [], [
                problem(
                    "has a parameter (? or $n) built from page input",
                    "views take no parameters: write the values into the SELECT",
                    _line_at(sql, node.get("query_location", 0)),
                )
            ]
    try:
        described = con.execute(f"describe {sql}").fetchall()
    except duckdb.Error as exc:
        message = str(exc)
        line = re.search(r"LINE (\d+):", message)
        kind = (
            "an unknown table"
            if isinstance(exc, duckdb.CatalogException)
            else "an unknown column"
            if "not found" in message
            else "an error"
        )
        return [], [
            problem(
                f"names {kind}: {message.splitlines()[0]}",
                _hint(message) or "use the tables and columns listed in docs/views.md",
                int(line.group(1)) if line else 1,
            )
        ]
    columns = [row[0] for row in described]
    currency_issue = _cross_currency(tree["statements"][0])
    if currency_issue:
        table, column, location = currency_issue
        return columns, [
            problem(
                f"sums {table}.{column}, which is in each record's own currency, without keeping currencies apart",
                "add `currency` to the SELECT and GROUP BY (or filter `where currency = 'USD'`)",
                _line_at(sql, location),
            )
        ]
    return columns, []


def _hint(message: str) -> str | None:
    did = re.search(r"(Did you mean|Candidate bindings:)\s*(.+)", message)
    return f"{did.group(1).rstrip(':').lower()} {did.group(2).strip()}?" if did else None


def _cross_currency(statement: dict[str, Any]) -> tuple[str, str, int] | None:
    nodes = list(_nodes(statement))
    tables = {n.get("table_name") for n in nodes if n.get("type") == "BASE_TABLE"}
    columns = {n["column_names"][-1].lower() for n in nodes if n.get("class") == "COLUMN_REF" and n.get("column_names")}
    if "currency" in columns:
        return None
    for node in nodes:
        if node.get("class") != "FUNCTION" or node.get("function_name", "").lower() != "sum":
            continue
        for ref in _nodes([node.get("children", []), node.get("arguments", [])]):
            if ref.get("class") != "COLUMN_REF":
                continue
            column = ref["column_names"][-1].lower()
            for table in tables & set(MULTI_CURRENCY):
                if column in MULTI_CURRENCY[table]:
                    return table, column, node.get("query_location", 0)
    return None


def check_view(view: View, con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Validate `view` against the read copy; its problems are added to view.problems. Returns each
    good query's columns."""
    where = str(view.path)
    columns: dict[str, list[str]] = {}
    for name, block in view.queries.items():
        cols, problems = check_query(con, block, where)
        view.problems.extend(problems)
        if not problems:
            columns[name] = cols
    for block in view.components:
        view.problems.extend(_check_component(block, view, columns, where))
    return columns


def _check_component(block: Block, view: View, columns: dict[str, list[str]], where: str) -> list[ViewProblem]:
    spec = block.spec
    query = spec.get("query")
    if not query:
        return []
    if query not in view.queries:
        known = ", ".join(view.queries) or "none"
        return [
            ViewProblem(
                where,
                block.line + _key_line(block, "query"),
                f"{block.kind}: no query named {query!r}",
                f"name one of this view's queries ({known}) or add a ```sql {query} block",
            )
        ]
    if query not in columns:
        return []  # its own problem is listed already
    have = columns[query]
    named: list[tuple[str, Any]] = []
    for key in ("value", "x", "series", "period"):
        if spec.get(key) is not None:
            named.append((key, spec[key]))
    for key in ("y", "columns", "totals"):
        values = spec.get(key)
        for v in [values] if isinstance(values, str) else values or []:
            named.append((key, v))
    if isinstance(spec.get("formats"), dict):
        named.extend(("formats", k) for k in spec["formats"])
    if spec.get("sort"):
        named.append(("sort", str(spec["sort"]).lstrip("-").split()[0]))
    if block.kind == "tile" and spec.get("comparison") and "period" not in spec:
        named.append(("comparison", "period"))
    out = []
    for key, column in named:
        if column not in have:
            out.append(
                ViewProblem(
                    where,
                    block.line + _key_line(block, key),
                    f"{block.kind}: query {query!r} has no column {column!r}",
                    f"use one of {', '.join(have)} (or add {column!r} to its SELECT)",
                )
            )
    return out


def load_views(folder: Path) -> list[View]:
    folder = Path(folder)
    if not folder.is_dir():
        return []
    views = []
    for path in sorted(folder.glob("*.md")):
        if path.name == PAGE_VIEW:  # the CFO page's layout (`page_sections`): rendered as the main page
            continue
        try:
            views.append(parse_view(path))
        except (OSError, UnicodeDecodeError) as exc:  # unreadable: its own error page, not a failed refresh
            views.append(
                View(
                    path,
                    path.stem,
                    [],
                    {},
                    [],
                    [ViewProblem(str(path), 1, f"cannot be read ({exc})", "save it as UTF-8 text")],
                )
            )
    return views


def views_folder(config: Any) -> Path:
    """Where a configuration's views live: its `views:` (relative to closeboard.yaml), else views/
    next to it."""
    base = Path(config.path).parent if getattr(config, "path", None) else Path.cwd()
    return base / (getattr(config, "views", None) or VIEWS_DIR)


def connect_read_copy(read_copy: Path) -> duckdb.DuckDBPyConnection:
    """The read copy, read-only and with no file or network access: a view reads the warehouse only."""
    return duckdb.connect(str(read_copy), read_only=True, config={"enable_external_access": False})


def check_views(folder: Path, read_copy: Path) -> list[View]:
    """Every view in `folder` parsed and validated against the read copy (`closeboard views check`)."""
    views = load_views(folder)
    with connect_read_copy(read_copy) as con:
        for view in views:
            check_view(view, con)
    page = Path(folder) / PAGE_VIEW
    if page.is_file():  # the CFO page's view, checked by the page's own rules
        problems = page_sections(page, yaml.safe_load(_resource_text("sections.yaml")))[1]
        views.insert(0, View(page, page.stem, [], {}, [], problems, "The CFO page"))
    return views


# ---------------------------------------------------------------------------------------------
# rendering


def _fmt(value: Any, token: str | None, currency: str = "USD") -> str:
    """`value` shown in a format token (FORMAT_TOKENS); `money` in `currency` (the company's)."""
    if value is None:
        return "—"
    token = token or (
        "text" if not isinstance(value, (int, Decimal, float)) else "int" if isinstance(value, int) else "text"
    )
    spec = FORMAT_TOKENS.get(token, {})
    if spec.get("money"):
        return formatting.money(value, spec.get("currency") or currency, cents=True)
    if "places" in spec:
        return formatting.number(value, spec["places"], spec.get("suffix", ""))
    return str(value)


def _plain(value: Any) -> Any:
    """A JSON value for the chart: money as a decimal string, dates ISO."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[dict[str, Any]]]:
    cursor = con.execute(sql)
    columns = [d[0] for d in cursor.description]
    return columns, [dict(zip(columns, row, strict=True)) for row in cursor.fetchmany(MAX_ROWS)]


def _tile(
    spec: dict[str, Any],
    rows: list[dict[str, Any]],
    focus: str | None,
    budgets: dict[str, dict[str, Any]] | None = None,
    currency: str = "USD",
) -> dict[str, Any]:
    """The tile in the last ended month (`focus`, as the dashboard opens on), else the query's latest;
    with `by_period` the tile in each month of the query, for the page's period selector; with
    `budgets` (period -> the `budget:` KPI's view_budget.sql row) its "vs budget" in each month."""
    key = spec.get("period", "period")
    by_period = {str(r[key])[:7]: r for r in rows if key in r and r[key] is not None}
    ended = [p for p in by_period if focus is None or p <= focus]
    if not by_period:
        row = rows[0] if rows else None
        value = None if row is None else row[spec["value"]]
        return {
            "label": spec.get("label", spec["value"]),
            "value": value,
            "text": _fmt(value, spec.get("format"), currency),
            "period": None,
            "change": None,
            "budget": None,  # a budget is per month: none without a period column
            "by_period": {},
        }
    every = {p: _tile_in(spec, by_period, p, (budgets or {}).get(p), currency) for p in sorted(by_period)}
    return {"label": spec.get("label", spec["value"]), **every[max(ended or by_period)], "by_period": every}


def _tile_in(
    spec: dict[str, Any],
    by_period: dict[str, dict[str, Any]],
    period: str,
    budget: dict[str, Any] | None = None,
    currency: str = "USD",
) -> dict[str, Any]:
    fmt, value = spec.get("format"), by_period[period][spec["value"]]
    tile = {
        "value": _plain(value),
        "text": _fmt(value, fmt, currency),
        "period": period,
        "change": None,
        "budget": _tile_budget(fmt, value, budget, currency),
    }
    comparison = str(spec.get("comparison") or "").lower()
    if comparison and value is not None:
        prior = by_period.get(shift(period, -COMPARISONS[comparison]), {}).get(spec["value"])
        if prior is None:
            tile["change"] = f"{comparison.upper()}: no prior figure"
        else:
            delta = Decimal(str(value)) - Decimal(str(prior))
            sign = "+" if delta > 0 else "−" if delta < 0 else "±"
            text = _fmt(abs(delta), fmt, currency)
            if prior:
                text += f" ({formatting.number(abs(delta) / abs(Decimal(str(prior))) * 100, 1, '%')})"
            tile["change"] = f"{comparison.upper()} {sign}{text}"
    return tile


def _tile_budget(
    fmt: str | None, value: Any, row: dict[str, Any] | None, currency: str = "USD"
) -> dict[str, Any] | None:
    """A tile's "vs budget" in one month, as the dashboard's tiles say it: the variance (the tile's
    value − the budget, exact) over or under the budget, coloured by whether it is favourable
    (mart_budget's higher_is_better; on budget is favourable); the open month, month to date against
    a whole month, only the budget. No budget that month, or no value: None (never 0)."""
    if row is None or value is None or row["budget"] is None:
        return None
    budget = row["budget"]
    shown = _fmt(budget, fmt, currency)
    if row["is_open"]:
        return {"text": f"budget {shown} (whole month)", "favourable": None, "variance": None}
    actual = Decimal(str(value))
    variance = actual - budget
    if not variance:
        return {"text": f"■ on budget {shown}", "favourable": True, "variance": _plain(variance)}
    over = variance > 0
    meaningful = budget != 0 and (actual == 0 or (actual < 0) == (budget < 0))  # else no "1,835%"
    pct = formatting.number(abs(variance) / abs(budget) * 100, 1, "%") if meaningful else "n/m"
    return {
        "text": f"{'▲' if over else '▼'} {_fmt(abs(variance), fmt, currency)} ({pct}) {'over' if over else 'under'} budget {shown}",
        "favourable": over == bool(row["higher_is_better"]),
        "variance": _plain(variance),
    }


def _table(
    spec: dict[str, Any], columns: list[str], rows: list[dict[str, Any]], where: str, block: Block
) -> dict[str, Any]:
    """A table's columns (each with its format token and whether it is totalled), its sort and its rows
    as exact JSON values: the page draws it with the main page's table component (static/components.js:
    sortable, filterable, totals exact to the cent). A column without a format shows a whole number
    grouped, anything else as the query returns it."""
    shown = list(spec.get("columns") or columns)
    formats = spec.get("formats") or {}
    totals_of = [spec["totals"]] if isinstance(spec.get("totals"), str) else list(spec.get("totals") or [])
    if totals_of and "currency" in columns and len({r["currency"] for r in rows}) > 1:
        raise _RenderProblem(
            ViewProblem(
                where,
                block.line + _key_line(block, "totals"),
                "table: totals would add money in more than one currency "
                f"({', '.join(sorted({str(r['currency']) for r in rows}))})",
                "filter the query to one currency, or drop `totals`",
            )
        )

    def token(column: str) -> str | None:
        if column in formats:
            return formats[column]
        values = [r[column] for r in rows if r[column] is not None]
        whole = values and all(isinstance(v, int) and not isinstance(v, bool) for v in values)
        return "int" if whole else None

    sort = None
    if spec.get("sort"):
        text = str(spec["sort"]).strip()
        sort = {
            "column": text.lstrip("-").split()[0],
            "descending": text.startswith("-") or text.lower().endswith(" desc"),
        }
    return {
        "title": spec.get("title"),
        "columns": [{"name": c, "label": c, "format": token(c), "total": c in totals_of} for c in shown],
        "sort": sort,
        "currency_column": "currency" if "currency" in columns else None,
        "rows": [{c: _plain(r[c]) for c in {*shown, *(["currency"] if "currency" in columns else [])}} for r in rows],
    }


def _chart(spec: dict[str, Any], rows: list[dict[str, Any]], index: int) -> dict[str, Any]:
    ys = [spec["y"]] if isinstance(spec["y"], str) else list(spec["y"])
    labels = list(dict.fromkeys(_plain(r[spec["x"]]) for r in rows))
    datasets = []
    if spec.get("series"):
        groups = list(dict.fromkeys(_plain(r[spec["series"]]) for r in rows))
        for g in groups:
            by_x = {_plain(r[spec["x"]]): _plain(r[ys[0]]) for r in rows if _plain(r[spec["series"]]) == g}
            datasets.append({"label": str(g), "data": [by_x.get(x) for x in labels]})
    else:
        for y in ys:
            by_x = {_plain(r[spec["x"]]): _plain(r[y]) for r in rows}
            datasets.append({"label": y, "data": [by_x.get(x) for x in labels]})
    kind = spec.get("type", "line")
    return {
        "id": f"chart-{index}",
        "type": "line" if kind == "area" else kind,
        "fill": kind == "area",
        "title": spec.get("title"),
        "format": spec.get("format"),
        "labels": labels,
        "datasets": datasets,
    }


class _Dashboard:
    """The dashboard's own queries (reports/queries) that a view's statement, check and budget
    components read, each run at most once per render; a query whose tables the read copy lacks
    (no reconciliation yet) gives no rows."""

    NEEDS = {
        "statements.sql": {"mart_statements"},
        "statement_lines.sql": {"mart_statements"},
        "statement_budget.sql": {"mart_statements"},
        "periods.sql": {"periods", "ledger_monthly", "erp_accounts"},
        "recon_results.sql": {"recon_results", "recon_items"},
        "view_budget.sql": {"mart_budget", "periods"},
        "explain_context.sql": {"periods", "run_context"},
    }

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.tables = existing_tables(con)
        self.found: dict[str, list[dict[str, Any]]] = {}

    def rows(self, name: str) -> list[dict[str, Any]]:
        if name not in self.found:
            if not self.NEEDS[name] <= self.tables:
                self.found[name] = []
            else:
                cursor = self.con.execute(query_text(name))
                columns = [d[0] for d in cursor.description]
                self.found[name] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return self.found[name]

    def currency(self) -> str:
        rows = self.rows("explain_context.sql")
        return rows[0]["currency"] if rows else "USD"

    @staticmethod
    def section(component: str) -> dict[str, Any]:
        """The dashboard's section of `component` in sections.yaml (its columns, labels, counts)."""
        return next(s for s in layout()["sections"] if s["component"] == component)


def _statement(spec: dict[str, Any], dash: _Dashboard) -> dict[str, Any]:
    """A statement of mart_statements in every reported month, as the dashboard's statements section
    shows it (sections.yaml: its columns and headings, the budget columns for a month with a budget,
    money to the cent, "no data" for a month without journal lines): per month its headings and rows."""
    section = dash.section("statements")
    statement, rollup = STATEMENT_NAMES[spec["statement"]], spec.get("rollup") or "account"
    declared = next(s for s in section["statements"] if s["id"] == statement)
    lines = {
        r["line"]: r for r in dash.rows("statement_lines.sql") if r["statement"] == statement and r["rollup"] == rollup
    }
    budgets = {(r["period"], r["line"]): r for r in dash.rows("statement_budget.sql")} if declared.get("budget") else {}
    ledger = {r["period"]: r["ledger_lines"] for r in dash.rows("periods.sql")}
    by_period: dict[str, list[dict[str, Any]]] = {}
    for row in dash.rows("statements.sql"):
        if row["line"] in lines:
            by_period.setdefault(row["period"], []).append(row)
    currency = dash.currency()
    every = {
        period: _statement_in(section, declared, lines, rows, budgets, ledger, period, currency)
        for period, rows in sorted(by_period.items())
    }
    return {
        "title": spec.get("title") or declared["label"],
        "statement": statement,
        "rollup": rollup,
        "by_period": every,
    }


def _statement_in(
    section: dict[str, Any],
    declared: dict[str, Any],
    lines: dict[int, dict[str, Any]],
    rows: list[dict[str, Any]],
    budgets: dict[tuple[str, int], dict[str, Any]],
    ledger: dict[str, int],
    period: str,
    currency: str,
) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: lines[r["line"]]["line_order"])
    budgeted = any((period, r["line"]) in budgets for r in rows)
    extra = section.get("budget_columns", []) if budgeted else []
    headings, months = [], []
    for col in section["columns"]:
        month = None if col.get("window") else shift(period, col.get("shift", 0))
        months.append(month)
        if col["name"] == "ytd" and declared.get("ytd_label"):
            headings.append(declared["ytd_label"])
        elif col.get("shift"):
            headings.append(f"{col['label']} ({month})")
        else:
            headings.append(period if col["name"] == "amount" else col["label"])
    out = []
    for row in rows:
        line = lines[row["line"]]
        heading = line["kind"] == "heading"
        cells = []
        for col, month in zip(section["columns"], months, strict=True):
            raw = row[col["name"]]
            if month in ledger and not ledger[month]:
                raw = None  # a month without journal lines: unknown, not zero
            text = "" if heading else "no data" if raw is None else formatting.money(raw, currency, cents=True)
            cells.append([text, _plain(raw), " nodata" if raw is None and not heading else ""])
        budget = budgets.get((period, row["line"]))
        for col in extra:
            value = None if budget is None else budget[col["name"]]
            text = (
                ""
                if heading or value is None
                else formatting.number(value, 2, "%")
                if col.get("format") == "percent"
                else formatting.money(value, currency, cents=True)
            )
            judged = col["name"] != "budget" and value is not None and budget["favourable"] is not None
            tone = (" fav" if budget["favourable"] else " unfav") if judged else ""
            cells.append([text, _plain(value), " budget-col" + tone])
        # [line_id, label, kind, depth, cells], each cell [text, exact value, css classes]: lists, not
        # objects, since every month of the statement is embedded
        out.append([line["line_id"], line["label"], line["kind"], min(line["depth"] or 0, 4), cells])
    return {"headings": headings + [c["label"] for c in extra], "rows": out}


def _check(spec: dict[str, Any], dash: _Dashboard) -> dict[str, Any]:
    """One reconciliation check's verdict per month (recon_results.sql, the rows the dashboard's cards
    read): the page's script leads each card with the dashboard's own sentence (format.js reconSentence)."""
    check = spec["check"]
    label = next(c.label for c in CHECKS if c.id == check)
    counts = check in (dash.section("recon").get("counts") or [])
    by_period = {
        r["period"]: {k: _plain(v) for k, v in r.items()}
        for r in dash.rows("recon_results.sql")
        if r["check_id"] == check
    }
    return {"title": spec.get("title"), "check_id": check, "label": label, "counts": counts, "by_period": by_period}


def _statement_explanations(con: duckdb.DuckDBPyConnection, dash: _Dashboard) -> dict[str, Any]:
    """The journal lines behind the statements' lines, as the main page embeds them (render.py
    `_page_explanations`, sections.yaml `explain`: the largest lines per account and month for its last
    months, the balance sheet's and cash flow's for fewer; the ones the warehouse keeps when nothing they
    read changed), without the KPIs' parts a view does not show."""
    load_functions(con)
    every = _page_explanations(con, dash.tables, layout())
    return {k: v for k, v in every.items() if k in ("error", "limit", "periods", "accounts", "statement")}


class _RenderProblem(Exception):
    def __init__(self, problem: ViewProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _last_ended_period(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        return con.execute("select max(period) filter (where not is_open) from periods").fetchone()[0]
    except duckdb.Error:  # a warehouse without its calendar yet: the query's latest period
        return None


def view_page_data(view: View, con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Validate `view` (again) and run its queries: the parts to draw, or the problems."""
    check_view(view, con)
    if view.problems:
        return {"parts": [], "charts": [], "problems": [str(p) for p in view.problems]}
    where = str(view.path)
    results: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
    parts: list[dict[str, Any]] = []
    charts: list[dict[str, Any]] = []
    focus = _last_ended_period(con)
    dash = _Dashboard(con)
    try:
        for part in view.parts:
            if isinstance(part, str):
                parts.append({"kind": "markdown", "html": Markup(part)})
                continue
            if part.kind == "sql":
                continue
            if part.kind == "statement":
                parts.append({"kind": "statement", **_statement(part.spec, dash)})
                continue
            if part.kind == "check":
                parts.append({"kind": "check", **_check(part.spec, dash)})
                continue
            query = part.spec["query"]
            if query not in results:
                results[query] = _records(con, view.queries[query].body.strip().rstrip(";"))
            columns, rows = results[query]
            if part.kind == "tile":
                budget = part.spec.get("budget")
                budgets = (
                    {r["period"]: r for r in dash.rows("view_budget.sql") if r["kpi"] == budget} if budget else None
                )
                parts.append({"kind": "tile", **_tile(part.spec, rows, focus, budgets, dash.currency())})
            elif part.kind == "table":
                parts.append({"kind": "table", **_table(part.spec, columns, rows, where, part)})
            else:
                chart = _chart(part.spec, rows, len(charts))
                charts.append(chart)
                parts.append({"kind": "chart", "id": chart["id"], "title": chart["title"]})
    except _RenderProblem as exc:
        return {"parts": [], "charts": [], "problems": [str(exc.problem)]}
    except duckdb.Error as exc:
        return {"parts": [], "charts": [], "problems": [f"{where}: a query failed: {exc}"]}
    tiles = [p["by_period"] for p in parts if p["kind"] == "tile"]
    for index, part in enumerate(p for p in parts if p["kind"] == "tile"):
        part["index"] = index
    months = [p["by_period"] for p in parts if p["kind"] in ("tile", "statement", "check")]
    periods = sorted({period for m in months for period in m})
    selected = next((p["period"] for p in parts if p["kind"] == "tile" and p["period"]), None)
    if selected is None and periods:  # no tile: the month the dashboard opens on, else the latest
        selected = focus if focus in periods else periods[-1]
    statements = [p["by_period"] for p in parts if p["kind"] == "statement"]
    explain = _statement_explanations(con, dash) if statements else {}
    checks = [{k: v for k, v in p.items() if k != "kind"} for p in parts if p["kind"] == "check"]
    tables = [{k: v for k, v in p.items() if k != "kind"} for p in parts if p["kind"] == "table"]
    for kind in ("statement", "check", "table"):
        for index, part in enumerate(p for p in parts if p["kind"] == kind):
            part["index"] = index
            if kind == "statement":  # the selected month in the HTML; the script switches months
                part.update(part["by_period"].get(selected) or {"headings": [], "rows": []})
    # consecutive tiles share a row
    grouped: list[dict[str, Any]] = []
    for part in parts:
        if part["kind"] == "tile" and grouped and grouped[-1]["kind"] == "tiles":
            grouped[-1]["tiles"].append(part)
        elif part["kind"] == "tile":
            grouped.append({"kind": "tiles", "tiles": [part]})
        else:
            grouped.append(part)
    return {
        "parts": grouped,
        "charts": charts,
        "tiles": tiles,
        "statements": statements,
        "checks": checks,
        "tables": tables,
        "explain": explain,
        "currency": dash.currency(),
        "periods": periods,
        "selected": selected,
        "problems": [],
    }


def render_view_html(view: View, con: duckdb.DuckDBPyConnection, *, company: str, run_id: str) -> tuple[str, list[str]]:
    """The view's self-contained page and its problems (an error box when there are any)."""
    data = view_page_data(view, con)
    scripts = page_scripts("view.js")  # the chart library, the dashboard's formatting (format.js), view.js
    payload = {
        "charts": data["charts"],
        "tiles": data.get("tiles", []),
        "statements": data.get("statements", []),
        "checks": data.get("checks", []),
        "tables": data.get("tables", []),
        "explain": data.get("explain", {}),
        "currency": data.get("currency"),
        "formats": format_table(),  # the format tokens, as data: the page's script has no table of its own
        "symbols": dict(formatting._SYMBOLS),  # the currency prefixes, as the dashboard has them
    }
    html = (
        environment()
        .get_template("view.html")
        .render(
            script_hashes=" ".join(_script_hash(s) for s in scripts),
            company=company,
            run_id=run_id,
            title=view.title or view.name,
            name=view.name,
            rendered_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            parts=data["parts"],
            problems=data["problems"],
            periods=data.get("periods", []),
            selected=data.get("selected"),
            data_json=json_for_script(payload),
            css=Markup(static_text("dashboard.css")),
            chart_js=scripts[0],
            format_js=scripts[1],
            page_js=scripts[2],
        )
    )
    return html, data["problems"]


def publish_views(folder: Path, read_copy: Path, out_dir: Path, *, company: str, run_id: str) -> dict[str, list[str]]:
    """Render every view in `folder` from the read copy to out_dir/NAME.html (and an index.html);
    {view name: its problems} — a view with problems gets its error-box page, the others are unharmed."""
    views = load_views(folder)
    if not views:
        return {}
    failed: dict[str, list[str]] = {}
    for old in Path(out_dir).glob("*.html"):  # the page of a view since deleted goes with it
        if old.stem != "index" and old.stem not in {v.name for v in views}:
            old.unlink()
    with connect_read_copy(read_copy) as con:
        for view in views:
            try:
                html, problems = render_view_html(view, con, company=company, run_id=run_id)
            except Exception as exc:  # a view never breaks the refresh: say which failed and why
                html, problems = None, [f"{view.path}: could not be rendered: {type(exc).__name__}: {exc}"]
            if html is not None:
                write_atomic(Path(out_dir) / f"{view.name}.html", html)
            failed[view.name] = problems
    index = environment().get_template("view_index.html").render(company=company, views=failed)
    write_atomic(Path(out_dir) / "index.html", index)
    return failed


SCAFFOLD = """# {title}

Describe what this page is for. Prose and headings are markdown; see docs/views.md for the grammar.

```sql monthly
select period,
       max(value) filter (where kpi = 'revenue') as revenue,
       max(value) filter (where kpi = 'net_income') as net_income
from mart_kpis
group by period
order by period
```

```tile
query: monthly
value: revenue
label: Revenue
format: usd
comparison: mom
budget: revenue
```

```chart
query: monthly
type: bar
x: period
y: [revenue, net_income]
```

```table
query: monthly
columns: [period, revenue, net_income]
formats: {{revenue: usd, net_income: usd}}
sort: -period
totals: [revenue, net_income]
```

The income statement of the month the period selector shows, and the trial balance's check card:

```statement
statement: income_statement
rollup: account
```

```check
check: R1_trial_balance
```
"""


def scaffold(folder: Path, name: str) -> Path:
    """A new view NAME.md in `folder` with one of each component (`closeboard view new NAME`)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"view name {name!r}: use lower case letters, digits and _ (e.g. revenue_by_customer)")
    path = Path(folder) / f"{name}.md"
    if path.exists():
        raise FileExistsError(f"{path} exists already: pick another name or edit it")
    return write_atomic(path, SCAFFOLD.format(title=name.replace("_", " ").capitalize()))
