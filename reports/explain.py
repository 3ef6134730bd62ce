"""`closeboard explain KPI --period P`: where a figure of `mart_kpis` comes from.

`explain(con, kpi, period)` returns a plain dict (the CLI prints it, `--json` dumps it, the page can
reuse it): the figure; its definition, read from the mart's own SQL text (the chain of select items
that compute it, from `mart_kpis`'s last CTE down to the aggregate over a table), so there is one
definition and this module never restates it; the source tables it reads, with the `connector_calls`
of the run that loaded each (`source_loads.run_id`); and the rows behind it, largest first, each with
its share of the figure, and whether their sum ties to it.

The rows are found by evaluating the mart's own aggregate one row at a time: the aggregating CTE is
run with its `group by` removed and its summed expression kept per row. A sum over `account_balances`
(revenue, cogs, opex, cash, ar, ap) is taken over `explain_line_balances` instead, the same columns at
the grain of journal lines, so the rows are the journal lines and the accounts table is the
breakdown. A figure computed from other figures (a ratio, a difference, a trailing sum) is explained
as its formula, each component with its own rows.

Reads only the readers' copy of the warehouse (the caller opens it read-only)."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import click
import duckdb

from connectors.periods import shift as _shift
from reports.formatting import KPI_UNITS
from warehouse.db import connect, inputs_digest, records, sql_text
from warehouse.models import load_functions

MART_FILE = ("marts", "60_mart_kpis.sql")
MART = "mart_kpis"
# an aggregated model -> the explain query giving the same columns one row per journal line
LINE_GRAIN = {"account_balances": "explain_line_balances"}


class ExplainError(ValueError):
    """An unknown KPI or period, or a warehouse without marts: the message says what exists."""


# ---------------------------------------------------------------------------------------------
# reading the mart's SQL text


def _strip_comments(text: str) -> str:
    """SQL without `--` comments (quotes respected)."""
    out, i, quote = [], 0, None
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif text.startswith("--", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _depths(text: str) -> list[int]:
    """The parenthesis depth at each character, quotes counted as one level deeper."""
    depths, depth, quote = [], 0, None
    for ch in text:
        if quote:
            depths.append(depth + 1)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
            depths.append(depth + 1)
            continue
        if ch == "(":
            depths.append(depth)
            depth += 1
            continue
        if ch == ")":
            depth -= 1
        depths.append(depth)
    return depths


def _split_top(text: str) -> list[str]:
    """Split at the commas outside parentheses and quotes; empty parts (trailing commas) dropped."""
    depths = _depths(text)
    parts, start = [], 0
    for i, ch in enumerate(text):
        if ch == "," and depths[i] == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _find_top(text: str, pattern: str) -> re.Match[str] | None:
    """The first match of `pattern` outside parentheses and quotes."""
    depths = _depths(text)
    return next((m for m in re.finditer(pattern, text, re.I) if depths[m.start()] == 0), None)


def _closing(text: str, open_at: int) -> int:
    """The index of the parenthesis closing the one at `open_at`."""
    depths = _depths(text)
    return next(i for i in range(open_at + 1, len(text)) if text[i] == ")" and depths[i] == depths[open_at])


def _relations(sql: str) -> dict[str, str]:
    """alias -> relation for each `from|join NAME as ALIAS` (semi and anti joins too)."""
    return {m[2]: m[1] for m in re.finditer(r"\b(?:from|join)\s+(\w+)\s+as\s+(\w+)", sql, re.I)}


@dataclass(frozen=True)
class Cte:
    name: str
    body: str  # the text between the CTE's parentheses, comments removed
    items: dict[str, str]  # alias -> expression of its select list
    rest: str  # from ... to the end of the body
    relations: dict[str, str]

    @property
    def source(self) -> tuple[str, str] | None:
        """(relation, alias) of the first `from NAME as ALIAS`."""
        m = re.search(r"\bfrom\s+(\w+)\s+as\s+(\w+)", self.rest, re.I)
        return (m[1], m[2]) if m else None


def _parse_cte(name: str, body: str) -> Cte:
    m = re.match(r"\s*select\s+(?:distinct\s+)?", body, re.I)
    head = body[m.end() :] if m else body
    found = _find_top(head, r"\bfrom\b")
    select_list, rest = (head[: found.start()], head[found.start() :]) if found else (head, "")
    items = {}
    for item in _split_top(select_list):
        aliased = re.fullmatch(r"(.*\S)\s+as\s+(\w+)", item, re.S | re.I)
        if aliased:
            items[aliased[2]] = aliased[1].strip()
    return Cte(name, body.strip(), items, rest.strip(), _relations(rest))


@dataclass(frozen=True)
class Model:
    """A mart file: its header comment, its CTEs (in order) and its final select."""

    name: str
    path: str
    header: str
    ctes: dict[str, Cte]
    final: str

    def closure(self, name: str) -> list[str]:
        """The CTEs `name` needs (itself included), in the order the file defines them."""
        needed, todo = set(), [name]
        while todo:
            current = todo.pop()
            if current in needed:
                continue
            needed.add(current)
            todo += [c for c in self.ctes if c not in needed and re.search(rf"\b{c}\b", self.ctes[current].body)]
        return [c for c in self.ctes if c in needed]

    def with_clause(self, name: str, *extra: str) -> str:
        parts = [f"{c} as (\n{self.ctes[c].body}\n)" for c in self.closure(name)] + list(extra)
        return "with\n" + ",\n".join(parts) + "\n" if parts else ""

    def doc(self, kpi: str) -> str | None:
        """The header comment's entry for `kpi` (`--   revenue, cogs, opex   the period's ...`)."""
        entries: list[tuple[list[str], list[str]]] = []
        for line in self.header.splitlines():
            start = re.match(r"--   ([a-z_]+(?:, [a-z_]+)*)\s{2,}(\S.*)$", line)
            if start:
                entries.append((start[1].split(", "), [line[2:].rstrip()]))
            elif re.match(r"--\s{5,}\S", line) and entries:
                entries[-1][1].append(line[2:].rstrip())
            elif entries:
                break
        return next((textwrap.dedent("\n".join(text)) for names, text in entries if kpi in names), None)


def parse_model(text: str, path: str = "") -> Model:
    """Split `create or replace table NAME as with a as (...), b as (...) select ...`."""
    header = "\n".join(
        line for line in text.split("create or replace table", 1)[0].splitlines() if line.startswith("--")
    )
    sql = _strip_comments(text)
    m = re.search(r"create\s+or\s+replace\s+table\s+(\w+)\s+as\s+with\s+", sql, re.I)
    if not m:
        raise ExplainError(f"{path}: not a `create or replace table ... as with ...` model")
    name, at, ctes = m[1], m.end(), {}
    while cte := re.compile(r"\s*(\w+)\s+as\s*\(", re.I).match(sql, at):
        close = _closing(sql, cte.end() - 1)
        ctes[cte[1]] = _parse_cte(cte[1], sql[cte.end() : close])
        at = close + 1
        comma = re.compile(r"\s*,").match(sql, at)
        if not comma:
            break
        at = comma.end()
    return Model(name, path, header, ctes, sql[at:].strip().rstrip(";"))


@cache
def mart() -> Model:
    return parse_model(sql_text(*MART_FILE), "warehouse/sql/" + "/".join(MART_FILE))


@cache
def _mart_reads() -> dict[str, set[str]]:
    """Every table the marts build -> the relations its SQL reads (its own CTEs left out)."""
    reads: dict[str, set[str]] = {}
    for entry in sorted(files("warehouse").joinpath("sql", "marts").iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".sql"):
            continue
        sql = _strip_comments(entry.read_text(encoding="utf-8"))
        for m in re.finditer(r"create\s+or\s+replace\s+table\s+(\w+)\s+as\b", sql, re.I):
            body = sql[m.end() :].split(";", 1)[0]
            own = set(re.findall(r"(?:\bwith\s+|^\s*|,\s*)(\w+)\s+as\s*\(", body, re.I | re.M))
            names = set(re.findall(r"\b(?:from|join)\s+([a-z_]\w*)\b", body, re.I))
            reads[m[1]] = names - own
    return reads


def _base_tables(names: set[str]) -> set[str]:
    """The loaded tables (not built by a mart) behind these relations."""
    reads, seen, base, todo = _mart_reads(), set(), set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in reads:
            todo += list(reads[name])
        else:
            base.add(name)
    return base


# ---------------------------------------------------------------------------------------------
# tracing a figure through the mart


def _unwrap(expr: str) -> str:
    """Drop what does not change a figure: outer parentheses, a `::decimal(18, 2)` cast and a
    `coalesce(x, 0)` (a missing row is a zero)."""
    while True:
        before = expr = expr.strip()
        expr = re.sub(r"::decimal\(\s*\d+\s*,\s*\d+\s*\)$", "", expr, flags=re.I).strip()
        if expr.startswith("(") and _closing(expr, 0) == len(expr) - 1:
            expr = expr[1:-1]
        m = re.fullmatch(r"coalesce\((.*),\s*0\s*\)", expr, re.S | re.I)
        if m and _closing(expr, len("coalesce")) == len(expr) - 1:
            expr = m[1]
        if expr == before:
            return expr


@dataclass
class Node:
    """One figure of the mart: where it is computed and how."""

    name: str
    kind: str  # sum | formula | window | column
    where: str  # the CTE (or, for a column, the table) that computes it
    expr: str = ""
    steps: list[dict[str, str]] = field(default_factory=list)
    summand: str = ""  # sum: the expression summed per row
    condition: str = ""  # sum: its `filter (where ...)`
    components: list[Node] = field(default_factory=list)
    preceding: int = 0  # window: how many earlier periods it adds


def trace(model: Model, cte_name: str, column: str, steps: list[dict[str, str]] | None = None) -> Node:
    steps = list(steps or [])
    cte = model.ctes[cte_name]
    expr = cte.items[column]
    steps.append({"model": model.name, "cte": cte_name, "sql": f"{expr} as {column}"})
    core = _unwrap(expr)
    ref = re.fullmatch(r"(\w+)\.(\w+)", core)
    if ref and ref[1] in cte.relations:
        relation = cte.relations[ref[1]]
        if relation in model.ctes:
            return trace(model, relation, ref[2], steps)
        return Node(ref[2], "column", relation, expr, steps)
    window = re.fullmatch(
        r"sum\((.*)\)\s+over\s*\(\s*order\s+by\s+\w+\.period\s+rows\s+between\s+(\d+)\s+preceding"
        r"\s+and\s+current\s+row\s*\)",
        core,
        re.S | re.I,
    )
    if window:
        inner = re.fullmatch(r"(\w+)\.(\w+)", _unwrap(window[1]))
        if inner and inner[1] in cte.relations and cte.relations[inner[1]] in model.ctes:
            part = trace(model, cte.relations[inner[1]], inner[2])
            return Node(column, "window", cte_name, expr, steps, components=[part], preceding=int(window[2]))
    aggregate = re.match(r"sum\(", core, re.I)
    if aggregate:
        close = _closing(core, aggregate.end() - 1)
        tail = core[close + 1 :].strip()
        condition = re.fullmatch(r"filter\s*\(\s*where\s+(.*)\)", tail, re.S | re.I)
        if not tail or condition:
            steps[-1]["from"] = re.sub(r"\s+", " ", cte.rest)
            return Node(
                column,
                "sum",
                cte_name,
                expr,
                steps,
                summand=core[aggregate.end() : close].strip(),
                condition=condition[1].strip() if condition else "",
            )
    components, seen = [], set()
    for alias, name in re.findall(r"\b([a-z_]\w*)\.([a-z_]\w*)\b", expr, re.I):
        if alias in cte.relations and (alias, name) not in seen:
            seen.add((alias, name))
            relation = cte.relations[alias]
            components.append(
                trace(model, relation, name)
                if relation in model.ctes
                else Node(name, "column", relation, f"{alias}.{name}")
            )
    return Node(column, "formula", cte_name, expr, steps, components=components)


def _wide(model: Model) -> Cte:
    """The CTE with one column per KPI: the one the mart's unpivot reads."""
    for cte in model.ctes.values():
        m = re.search(r"\bfrom\s+(\w+)\s+unpivot\b", cte.rest, re.I)
        if m and m[1] in model.ctes:
            return model.ctes[m[1]]
    raise ExplainError(f"{model.path}: no CTE unpivoted into the KPIs")


def kpis(model: Model | None = None) -> list[str]:
    """The KPIs the mart computes, in its order."""
    return [name for name in _wide(model or mart()).items if name != "period"]


# ---------------------------------------------------------------------------------------------
# evaluating it on the warehouse


def _query(name: str) -> str:
    return files("reports").joinpath("queries", name).read_text(encoding="utf-8")


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return records(con, sql, {k: v for k, v in params.items() if f"${k}" in sql} or None)


def _plain(value: Any) -> Any:
    """A value as JSON carries it: money as an exact decimal string, dates ISO."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass
class _Context:
    con: duckdb.DuckDBPyConnection
    model: Model
    limit: int
    tables: set[str] = field(default_factory=set)


def _value(ctx: _Context, node: Node, period: str) -> Decimal | None:
    """The node's figure as the mart computes it (its CTE, run on its own)."""
    if node.kind == "column":
        sql = f"select {node.name} as value from {node.where} where period = $period"
    else:
        cte = ctx.model.ctes[node.where]
        where = " where period = $period" if "period" in cte.items else ""
        sql = f"{ctx.model.with_clause(node.where)}select {node.name} as value from {node.where}{where}"
    rows = _run(ctx.con, sql, {"period": period})
    return rows[0]["value"] if rows else None


def _rows_sql(ctx: _Context, node: Node, *, lines: bool) -> tuple[str, bool]:
    """The node's aggregate, one row per summed row: (sql, per_period). With `lines`, a relation
    with a line-grain equivalent (LINE_GRAIN) is read at the grain of journal lines."""
    withs, inner, per_period = _rows_parts(ctx, node, lines=lines)
    sql = (("with\n" + ",\n".join(withs) + "\n") if withs else "") + (
        "select * exclude (_period, _keep), count(*) over () as _count, sum(_amount) over () as _total\n"
        f"from (\n{inner}\n) as r\nwhere r._keep and r._amount <> 0"
        + (" and r._period = $period" if per_period else "")
        + "\norder by abs(r._amount) desc, r._amount desc, r::varchar\nlimit $limit"
    )
    return sql, per_period


def _rows_parts(ctx: _Context, node: Node, *, lines: bool) -> tuple[list[str], str, bool]:
    """(the CTEs it needs, the select of one row per summed row with its _period, _amount and
    _keep, whether it has a period): what `_rows_sql` and `_figure_rows` order and cut."""
    cte = ctx.model.ctes[node.where]
    rest = cte.rest
    cut = _find_top(rest, r"\bgroup\s+by\b")
    rest = rest[: cut.start()] if cut else rest
    extra = []
    if lines:
        for relation, query in LINE_GRAIN.items():
            if re.search(rf"\b{relation}\b", rest):
                rest = re.sub(rf"\b{relation}\b", query, rest)
                extra.append(f"{query} as (\n{_query(query + '.sql')}\n)")
    source = cte.source
    if source is None:
        raise ExplainError(f"{ctx.model.path}: {node.where} reads no table")
    alias = source[1]
    period_expr = cte.items.get("period")
    others = [c for c in ctx.model.closure(node.where) if c != node.where]
    withs = [f"{c} as (\n{ctx.model.ctes[c].body}\n)" for c in others] + extra
    inner = (
        f"select {alias}.*, {period_expr or 'null'} as _period, ({node.summand}) as _amount, "
        f"({node.condition or 'true'}) as _keep\n{rest}"
    )
    return withs, inner, period_expr is not None


def _rows(ctx: _Context, node: Node, period: str, *, lines: bool, limit: int) -> dict[str, Any]:
    sql, per_period = _rows_sql(ctx, node, lines=lines)
    rows = _run(ctx.con, sql, {"period": period, "limit": max(limit, 1)})  # one row carries the totals
    count = int(rows[0]["_count"]) if rows else 0
    total = rows[0]["_total"] if rows else Decimal("0.00")
    rows = rows[:limit]
    shown = [{k: _plain(v) for k, v in r.items() if k not in ("_count", "_total")} for r in rows]
    if shown and "account_id" in shown[0] and "account_name" not in shown[0]:
        names = {r["account_id"]: r["account_name"] for r in _run(ctx.con, _query("explain_accounts.sql"), {})}
        for row in shown:
            row["account_name"] = names.get(row["account_id"])
    for row in shown:
        row["amount"] = row.pop("_amount")
    rest_total = total - sum((r["_amount"] for r in rows), Decimal(0))
    return {
        "count": count,
        "total": str(total),
        "per_period": per_period,
        "shown": shown,
        "more": {"count": count - len(shown), "total": str(rest_total)},
    }


def _shape(node: Node, **extra: Any) -> dict[str, Any]:
    """What an explanation says of a node before its figures: name, kind, definition; a column's
    table (kind `value`), a formula's expression."""
    out: dict[str, Any] = {"name": node.name, **extra, "kind": node.kind, "definition": node.steps}
    if node.kind == "column":
        out.update(kind="value", table=node.where)
    elif node.kind in ("formula", "window"):
        out["formula"] = node.expr
    return out


def _explain_node(ctx: _Context, node: Node, period: str, value: Decimal | None = None) -> dict[str, Any]:
    if value is None:
        value = _value(ctx, node, period)
    out = _shape(node, period=period, value=_plain(value))
    if node.kind == "column":
        return out
    if node.kind in ("formula", "window"):
        if node.kind == "window":
            part = node.components[0]
            periods = [_shift(period, -k) for k in range(node.preceding, -1, -1)]
            out["over"] = periods
            out["components"] = [_explain_node(ctx, part, p) for p in periods]
        else:
            out["components"] = [_explain_node(ctx, c, period) for c in node.components]
        return out
    cte = ctx.model.ctes[node.where]
    read = {r for c in ctx.model.closure(node.where) for r in ctx.model.ctes[c].relations.values()}
    ctx.tables |= _base_tables(read - set(ctx.model.ctes))
    line_grain = any(re.search(rf"\b{relation}\b", cte.rest) for relation in LINE_GRAIN)
    reads = cte.source[0] if cte.source else ""
    out["kind"] = "lines" if line_grain or reads == "erp_journal_lines" else "records"
    out["reads"] = reads
    if line_grain:
        out["accounts"] = _rows(ctx, node, period, lines=False, limit=10_000)
    out["rows"] = _rows(ctx, node, period, lines=line_grain, limit=ctx.limit)
    total = Decimal(out["rows"]["total"])
    out["ties"] = total == (value if value is not None else Decimal(0))
    return out


# what the offline page says of each MCP call (the first few are named, all are counted): a table
# pulled whole makes a call per page, so its calls' times, sizes and cursors would grow the page with
# the ledger; `closeboard explain` and the served page give them whole
PAGE_CALL_FIELDS = ("tool", "page", "items", "status")


def _sources(ctx: _Context, fields: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """The loads of the tables the explained figures read, each with its MCP calls (only `fields` of
    each call when given)."""
    loads = _run(ctx.con, _query("explain_sources.sql"), {"tables": sorted(ctx.tables)})
    out = []
    for load in loads:
        calls = _run(ctx.con, _query("explain_calls.sql"), {"table": load["table_name"]})
        out.append(
            {
                **{k: _plain(v) for k, v in load.items()},
                "calls": [{k: _plain(v) for k, v in c.items() if fields is None or k in fields} for c in calls],
            }
        )
    return out


def reported_period(con: duckdb.DuckDBPyConnection, period: str | None) -> tuple[str, list[dict[str, Any]]]:
    """(`period`, or the last ended month when None; the reported periods with their open flag and
    currency). Raises ExplainError naming the reported periods when `period` is not one of them."""
    context = _run(con, _query("explain_context.sql"), {})
    periods = [r["period"] for r in context]
    if period is None:
        ended = [r["period"] for r in context if not r["is_open"]]
        period = ended[-1] if ended else (periods[-1] if periods else "")
    if period not in periods:
        span = f"{periods[0]} to {periods[-1]}" if periods else "none (run `closeboard refresh` first)"
        raise ExplainError(f"unknown period {period!r}; the reported periods are {span}")
    return period, context


def explain(con: duckdb.DuckDBPyConnection, kpi: str, period: str | None = None, *, limit: int = 20) -> dict[str, Any]:
    """Everything behind one figure of `mart_kpis` (see the module docstring), for `period` (default:
    the last ended month), with at most `limit` rows listed per figure. Raises ExplainError naming
    what exists when the KPI or the period is unknown."""
    model = mart()
    known = kpis(model)
    if kpi not in known:
        close = difflib.get_close_matches(kpi, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ExplainError(f"unknown KPI {kpi!r}{hint}; the KPIs are: {', '.join(known)}")
    period, context = reported_period(con, period)
    load_functions(con)  # temp macros the mart's expressions use (this connection only)
    figure = _run(
        con, f"select value from {MART} where kpi = $kpi and period = $period", {"kpi": kpi, "period": period}
    )
    value = figure[0]["value"] if figure else None
    ctx = _Context(con, model, max(limit, 0))
    node = trace(model, _wide(model).name, kpi)
    out = _explain_node(ctx, node, period, value)
    is_open = next(r["is_open"] for r in context if r["period"] == period)
    budget = (
        _run(
            con,
            "select budget, variance, variance_pct, favourable from mart_budget where kpi = $kpi and period = $period",
            {"kpi": kpi, "period": period},
        )
        if _run(con, "select 1 from duckdb_tables() where table_name = 'mart_budget'", {})
        else []
    )
    return {
        "kpi": kpi,
        "period": period,
        "open_month": bool(is_open),
        "currency": context[0]["currency"],
        "value": _plain(value),
        "doc": model.doc(kpi),
        "model": model.path,
        **{k: v for k, v in out.items() if k not in ("period", "value")},
        "sources": _sources(ctx),
        # budget vs actual (82_budget.sql), where the budget source budgets this KPI for the month
        **({"budget": {k: _plain(v) for k, v in budget[0].items()}} if budget else {}),
    }


# ---------------------------------------------------------------------------------------------
# for the page: every KPI's explanation for many periods at once, its rows cut to the largest few

# the columns of a row the page shows (the rest of a journal line is in `closeboard explain --json`)
PAGE_ROW_COLUMNS = (
    "posted_date",
    "entry_id",
    "line_no",
    "account_id",
    "description",
    "document_id",
    "opportunity_id",
    "customer_name",
    "stage",
    "close_date",
    "amount",
)


def _node_values(ctx: _Context, node: Node, periods: list[str]) -> dict[str, str | None]:
    """The node's figure per period, as the mart computes it (`_value` for many periods)."""
    if node.kind == "column":
        sql = f"select period, {node.name} as value from {node.where} where period in (select unnest($periods::varchar[]))"
    else:
        cte = ctx.model.ctes[node.where]
        if "period" not in cte.items:
            return {}
        sql = (
            f"{ctx.model.with_clause(node.where)}select period, {node.name} as value from {node.where} "
            "where period in (select unnest($periods::varchar[]))"
        )
    try:
        return {r["period"]: _plain(r["value"]) for r in _run(ctx.con, sql, {"periods": periods})}
    except duckdb.Error:
        return {}


def _nodes(roots: Iterable[Node]) -> list[Node]:
    """Every node under `roots` once (by CTE and name), in the order the page walks them."""
    out: dict[str, Node] = {}
    todo = list(roots)[::-1]
    while todo:
        node = todo.pop()
        out.setdefault(f"{node.where}.{node.name}", node)
        todo += node.components[::-1]
    return list(out.values())


def _figure_values(ctx: _Context, nodes: list[Node], periods: list[str]) -> dict[str, dict[str, Any]]:
    """`_node_values` of many nodes in one query: per node key, its figure per period. Nodes of the
    same CTE (or table) share one subquery; a CTE without a period column has no values. When the
    joint query fails, each node is asked on its own (and one that fails has no values)."""
    groups: dict[str, list[Node]] = {}
    for node in nodes:
        if node.kind == "column" or "period" in ctx.model.ctes[node.where].items:
            groups.setdefault(node.where, []).append(node)
    out: dict[str, dict[str, Any]] = {f"{n.where}.{n.name}": {} for n in nodes}
    if not groups:
        return out
    closure = {c for where in groups if where in ctx.model.ctes for c in ctx.model.closure(where)}
    withs = [f"{c} as (\n{ctx.model.ctes[c].body}\n)" for c in ctx.model.ctes if c in closure]
    selects, joins = ["s.period as period"], []
    for i, (where, members) in enumerate(groups.items()):
        names = {n.name for n in members}
        columns = ", ".join(f"{name} as v_{name}" for name in sorted(names))
        joins.append(
            f"left join (select period, true as has, {columns} from {where} "
            f"where period in (select unnest($periods::varchar[]))) as g{i} on g{i}.period = s.period"
        )
        selects += [f"g{i}.has as g{i}_has"] + [f"g{i}.v_{name} as g{i}_{name}" for name in sorted(names)]
    sql = (
        (("with\n" + ",\n".join(withs) + "\n") if withs else "")
        + f"select {', '.join(selects)}\nfrom (select unnest($periods::varchar[]) as period) as s\n"
        + "\n".join(joins)
    )
    try:
        found = _run(ctx.con, sql, {"periods": periods})
    except duckdb.Error:
        return {f"{n.where}.{n.name}": _node_values(ctx, n, periods) for n in nodes}
    for i, (where, members) in enumerate(groups.items()):
        for row in found:
            if row[f"g{i}_has"]:
                for node in members:
                    out[f"{where}.{node.name}"][row["period"]] = _plain(row[f"g{i}_{node.name}"])
    return out


# an aggregated model -> the line-grain query for many periods at once, each line at most twice
LINE_BUCKETS = {"account_balances": "explain_line_buckets"}


def _figure_rows(
    ctx: _Context, nodes: list[Node], periods: list[str], *, lines: bool, limit: int
) -> dict[str, dict[str, Any]]:
    """`_rows` for several sums of one CTE and every period of `periods` in one query: per node key,
    per period its count, total and largest `limit` rows, the same rows in the same order as
    `explain` lists first (ties by the whole row as text, `r::varchar` in `_rows_sql`). A figure
    without a period (the CRM's open pipeline) has the same rows in every period: under the key "*".

    Read at the grain of journal lines, a balance has every line dated up to each month-end: listing
    them once per period would read each line once per period. So the lines are read from
    `explain_line_buckets` instead: each line as it counts in its own month ("at" that month) and,
    once, as it counts in every later month (debit, credit and net_dc 0, "from" the next month on).
    Per figure the counts and totals of both are added up over the periods they reach, and only
    the `limit` largest of each month (ties included) can be among a period's largest: those are
    put into every period they reach and cut there with the ordering of `_rows_sql`. This
    holds while the summed expressions do not read the period, which is checked; otherwise each
    line is read once per period, as `explain_line_balances` gives it."""
    cte = ctx.model.ctes[nodes[0].where]
    withs, inner, per_period = _rows_parts(ctx, nodes[0], lines=lines)
    source = cte.source
    alias = source[1] if source else ""
    rest = cte.rest
    cut = _find_top(rest, r"\bgroup\s+by\b")
    rest = (rest[: cut.start()] if cut else rest).strip()
    reads_period = any(re.search(r"\bperiod\b", f"{n.summand} {n.condition}", re.I) for n in nodes)
    relation = re.fullmatch(rf"from\s+(\w+)\s+as\s+{alias}", rest, re.I)
    buckets = (
        lines
        and per_period
        and not reads_period
        and cte.items.get("period", "").strip() == f"{alias}.period"
        and relation is not None
        and relation[1] in LINE_BUCKETS
    )
    withs = [w.replace("= $period", "in (select unnest($periods::varchar[]))") for w in withs]
    if buckets:
        assert relation is not None
        withs = [w for w in withs if not w.startswith(f"{LINE_GRAIN[relation[1]]} as")]
        # read twice (the sums, then the candidates' whole rows), never held whole in memory
        withs.append(f"{alias}_lines as not materialized (\n{_query(LINE_BUCKETS[relation[1]] + '.sql')}\n)")
        source_sql = f"from {alias}_lines as {alias}"
        marks = f"{alias}._at as _at, {alias}._bucket as _bucket"
    else:
        source_sql = inner[inner.index("\n") + 1 :]
        marks = f"true as _at, {cte.items.get('period') or 'null'} as _bucket"
    # the columns of one row, as `_rows_sql` orders its ties by them (`r::varchar`)
    probe = f"{('with ' + ','.join(withs) + ' ') if withs else ''}select {alias}.* {source_sql} limit 0"
    columns = [d[0] for d in ctx.con.execute(probe, {"periods": periods} if "$periods" in probe else None).description]
    columns = [c for c in columns if c not in ("_at", "_bucket")]
    sums = ", ".join(f"({n.summand}) as _a{i}, ({n.condition or 'true'}) as _k{i}" for i, n in enumerate(nodes))
    keep = " or ".join(f"(_k{i} and _a{i} <> 0)" for i in range(len(nodes)))
    # _base: the summed rows, each figure's amount and condition as columns. Journal lines (keyed by
    # entry and line) keep only their key there and are read again whole for the candidates; other
    # rows are kept whole and numbered.
    narrow = "entry_id, line_no, _at, _bucket, _period, " + ", ".join(f"_a{i}, _k{i}" for i in range(len(nodes)))
    keys = ["entry_id", "line_no", "_at"] if buckets else ["_rid"]
    base = (
        "_base as materialized (\nselect "
        + (narrow if buckets else "*, row_number() over () as _rid")
        + f" from (select {alias}.*, {cte.items.get('period') or 'null'} as _period, {marks}, {sums}\n"
        f"{source_sql}) where ({keep})"
        + (" and (_period in (select unnest($periods::varchar[])) or not _at)" if per_period else "")
        + "\n)"
    )
    whole = f"{alias}_lines" if buckets else "_base"
    # one narrow row per figure and summed row; the whole row is read back only for the candidates
    tagged = "\nunion all\n".join(
        f"select {i} as _figure, {', '.join('b.' + k for k in keys)}, b._bucket"
        + ("" if buckets else ", b._at")
        + f", b._a{i} as _amount, b._k{i} as _keep\nfrom _base as b where b._k{i} and b._a{i} <> 0"
        for i in range(len(nodes))
    )
    # in a later month, a row reaches that month as the row of that month's explain_line_balances
    moved = {"period": "period", "_period": "period"} if buckets else {}
    row = (
        "{"
        + ", ".join(
            f"'{c}': " + (f'case when t._at then b."{moved[c]}" else m._p end' if c in moved else f'b."{c}"')
            for c in columns + ["_period"]
        )
        + ", '_amount': t._amount, '_keep': t._keep}"
    )
    if buckets:  # a row reaches its own month (_at) or every chosen month from its bucket on
        reach = (
            "_map as (select distinct t._at, t._bucket, p.period as _p from (select distinct _at, _bucket from _tagged)"
            " as t inner join periods as p on p.period in (select unnest($periods::varchar[]))"
            " and ((t._at and p.period = t._bucket) or (not t._at and p.period >= t._bucket)))"
        )
    else:
        reach = "_map as (select distinct _at, _bucket, _bucket as _p from _tagged)"
    on = "m._at = {0}._at and m._bucket is not distinct from {0}._bucket"
    sql = (
        "with\n"
        + ",\n".join([*withs, base, f"_tagged as (\n{tagged}\n)", reach])
        # per figure and bucket: count, total and the smallest size among its `limit` largest, so the
        # rows that can be among any period's largest are those of at least that size (ties kept)
        + ",\n_stats as (select _figure, _at, _bucket, count(*) as _n, sum(_amount) as _sum,"
        " list_min(max(abs(_amount), $limit)) as _least from _tagged group by all),\n"
        "_totals as (select st._figure, m._p, sum(st._n) as _count, sum(st._sum) as _total\n"
        f"    from _stats as st inner join _map as m on {on.format('st')} group by all),\n"
        "_top as (select t.* from _tagged as t inner join _stats as st\n"
        "    on st._figure = t._figure and st._at = t._at and st._bucket is not distinct from t._bucket\n"
        "    where abs(t._amount) >= st._least),\n"
        f"_cand as (select t._figure, m._p, t._amount, {row} as _row\n"
        f"    from _top as t inner join _map as m on {on.format('t')}\n"
        f"    inner join {whole} as b on {' and '.join(f'b.{k} = t.{k}' for k in keys)})\n"
        "select c._figure, c._p, t._count, t._total, c._amount, c._row\n"
        "from _cand as c inner join _totals as t on t._figure = c._figure and t._p is not distinct from c._p\n"
        "qualify row_number() over (partition by c._figure, c._p order by abs(c._amount) desc, c._amount desc,"
        " c._row::varchar) <= $limit\n"
        "order by c._figure, c._p, abs(c._amount) desc, c._amount desc, c._row::varchar"
    )
    found = _run(ctx.con, sql, {"periods": periods, "limit": max(limit, 1)})
    out: dict[str, dict[str, Any]] = {f"{n.where}.{n.name}": {} for n in nodes}
    for r in found:
        node = nodes[r["_figure"]]
        key = r["_p"] if per_period else "*"
        entry = out[f"{node.where}.{node.name}"].setdefault(
            key, {"count": int(r["_count"]), "total": str(r["_total"]), "shown": []}
        )
        if len(entry["shown"]) < limit:
            row = {**r["_row"], "amount": r["_amount"]}
            entry["shown"].append([_plain(row.get(c)) for c in PAGE_ROW_COLUMNS])
    return out


def _page_node(
    ctx: _Context, node: Node, figures: dict[str, Any], sums: dict[str, tuple[Node, bool]]
) -> dict[str, Any]:
    """A node as the page needs it: its shape (as `_explain_node` gives it, without figures), with
    a place in `figures` under its key for its values and, for a sum, in `sums` (with whether it is
    read at the grain of journal lines) for its rows per period: `page_explanations` fills them."""
    key = f"{node.where}.{node.name}"
    out = _shape(node, key=key)
    figures.setdefault(key, {"values": {}})
    if node.kind == "column":
        return out
    if node.kind in ("formula", "window"):
        if node.kind == "window":
            out["preceding"] = node.preceding
        out["components"] = [_page_node(ctx, c, figures, sums) for c in node.components]
        return out
    cte = ctx.model.ctes[node.where]
    read = {r for c in ctx.model.closure(node.where) for r in ctx.model.ctes[c].relations.values()}
    ctx.tables |= _base_tables(read - set(ctx.model.ctes))
    line_grain = any(re.search(rf"\b{relation}\b", cte.rest) for relation in LINE_GRAIN)
    out["reads"] = cte.source[0] if cte.source else ""
    out["kind"] = "lines" if line_grain or out["reads"] == "erp_journal_lines" else "records"
    sums.setdefault(key, (node, line_grain))
    return out


def _compact(by_period: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Rows of PAGE_ROW_COLUMNS cut to the columns that hold a value in some row (a CRM record has
    no journal entry, a journal line no stage): (columns, the same periods with shorter rows)."""
    used = [
        i
        for i, _ in enumerate(PAGE_ROW_COLUMNS)
        if any(row[i] is not None for entry in by_period.values() for row in entry["shown"])
    ]
    return (
        [PAGE_ROW_COLUMNS[i] for i in used],
        {p: {**entry, "shown": [[row[i] for i in used] for row in entry["shown"]]} for p, entry in by_period.items()},
    )


def page_explanations(con: duckdb.DuckDBPyConnection, periods: list[str], *, limit: int = 10) -> dict[str, Any]:
    """What the page's click-to-explain shows without a server, for `periods`: per KPI its shape
    once (definition, formula, components, as `explain` gives them), per figure and period its value
    and its `limit` largest rows with their count and total (so the page says how many are left out
    and still shows that all of them tie to the figure), the sources with their calls, and the
    account names. `explain` gives the same explanation with every row. Set-based: one query for
    every figure's values and one per CTE for the rows of the sums it computes (`_figure_rows`),
    not one per figure, so the page's cost grows with the ledger once, not once per figure."""
    model = mart()
    load_functions(con)
    ctx = _Context(con, model, max(limit, 0))
    figures: dict[str, Any] = {}
    sums: dict[str, tuple[Node, bool]] = {}
    nodes = {kpi: trace(model, _wide(model).name, kpi) for kpi in kpis(model)}
    shapes = {kpi: {**_page_node(ctx, node, figures, sums), "doc": model.doc(kpi)} for kpi, node in nodes.items()}
    # one query for every figure's values, one per CTE for the rows of the sums it computes
    for key, values in _figure_values(ctx, _nodes(nodes.values()), periods).items():
        figures[key]["values"] = values
    groups: dict[tuple[str, bool], list[Node]] = {}
    for node, line_grain in sums.values():
        groups.setdefault((node.where, line_grain), []).append(node)
    rows = {}
    for (_, line_grain), members in groups.items():
        rows.update(_figure_rows(ctx, members, periods, lines=line_grain, limit=limit))
    for key in sums:
        figures[key]["columns"], figures[key]["rows"] = _compact(rows[key])
    accounts = {r["account_id"]: r["account_name"] for r in _run(con, _query("explain_accounts.sql"), {})}
    return {
        "limit": limit,
        "periods": periods,
        "model": model.path,
        "kpis": shapes,
        "figures": figures,
        "sources": page_sources(con),
        "accounts": accounts,
    }


def page_sources(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The "sources" of `page_explanations` on their own: the loads of the tables the page's figures
    read, each with its calls (this run's; everything else of the explanations is a function of the
    data `page_inputs` fingerprints)."""
    model = mart()
    ctx = _Context(con, model, 0)
    for kpi in kpis(model):
        _page_node(ctx, trace(model, _wide(model).name, kpi), {}, {})
    return _sources(ctx, PAGE_CALL_FIELDS)


# the page's explanation queries; the two that list the sources' loads and calls are read every time
PAGE_QUERIES = (
    "explain_account_moves.sql",
    "explain_accounts.sql",
    "explain_context.sql",
    "explain_earnings.sql",
    "explain_line_balances.sql",
    "explain_line_buckets.sql",
    "explain_line_parts.sql",
    "explain_statement_accounts.sql",
)


@cache
def _page_code() -> tuple[frozenset[str], str]:
    """What of `page_inputs` is fixed for a process, read once: the relations whose loaded tables the
    explanations may read (every mart's and the explanation queries'), and a digest of the code and
    SQL that compute them."""
    queries = [_query(name) for name in PAGE_QUERIES]
    named = {m.lower() for sql in queries for m in re.findall(r"\b(?:from|join)\s+([a-z_]\w*)", sql, re.I)}
    marts = files("warehouse").joinpath("sql", "marts")
    code = [
        Path(__file__).read_text(encoding="utf-8"),
        files("reports").joinpath("render.py").read_text(encoding="utf-8"),
        *queries,
        *(
            e.read_text(encoding="utf-8")
            for e in sorted(marts.iterdir(), key=lambda e: e.name)
            if e.name.endswith(".sql")
        ),
        duckdb.__version__,
    ]
    return frozenset(_base_tables(set(_mart_reads()) | named)), hashlib.sha256("\0".join(code).encode()).hexdigest()


def page_inputs(con: duckdb.DuckDBPyConnection, tables: set[str], periods: list[str], spec: Any) -> str:
    """A fingerprint of everything the page's explanations (`page_explanations` and the statements'
    lines, as reports/render.py assembles them) are a function of, but their sources (`page_sources`):
    every loaded table the marts or the explanation queries read (its rows: count and an order-free
    hash; the marts are built from these), the code and SQL that compute them (`_page_code`), `periods`
    and `spec` (sections.yaml's `explain`). Equal fingerprints, equal explanations: reports/render.py
    keeps the last ones under theirs (~30 ms at scale 100 against ~0.7 s to compute them)."""
    candidates, code = _page_code()
    return inputs_digest(con, candidates & tables, code, periods, spec)


# ---------------------------------------------------------------------------------------------
# statement lines: the journal lines behind a line of the income statement

STATEMENT_MODEL = "warehouse/sql/marts/75_statement_lines.sql"
CASH_FLOW_MODEL = "warehouse/sql/marts/80_cash_flow.sql"
STATEMENT_ROW_COLUMNS = ("posted_date", "entry_id", "line_no", "account_id", "description", "document_id", "amount")


def _no_line(con: duckdb.DuckDBPyConnection, statement: str, rollup: str, line_id: str, period: str) -> ExplainError:
    """The error for a line `mart_statements` does not have: the lines it has (with a figure) that
    month, the closest first when one is near."""
    known = [
        r["line_id"]
        for r in _run(
            con,
            "select line_id from mart_statements where statement = $statement and rollup = $rollup "
            "and period = $period and amount is not null order by line_order",
            {"statement": statement, "rollup": rollup, "period": period},
        )
    ]
    close = difflib.get_close_matches(line_id, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    listed = f"; its lines are: {', '.join(known)}" if known else " (the rollups are account and subtype)"
    return ExplainError(
        f"no {statement.replace('_', ' ')} line {line_id!r} (rollup {rollup!r}) in period {period!r}{hint}{listed}"
    )


def income_line_accounts(con: duckdb.DuckDBPyConnection) -> dict[str, list[list[Any]]]:
    """Per income-statement line ("rollup|line_id"): the accounts it adds up, each with its sign."""
    out: dict[str, list[list[Any]]] = {}
    for r in _run(con, _query("explain_statement_accounts.sql"), {}):
        out.setdefault(f"{r['rollup']}|{r['line_id']}", []).append([r["account_id"], int(r["sign"])])
    return out


def _month_lines(
    con: duckdb.DuckDBPyConnection,
    periods: list[str],
    *,
    limit: int | None,
    types: tuple[str, ...],
    normal: bool,
    opening: bool,
) -> list[dict[str, Any]]:
    """explain_account_moves.sql: per period and account of `types` its month's journal lines, the
    `limit` largest (all with None) with their count and total, each in the income statement's
    direction when `normal`, and with `opening` each account's opening balance as a row without entry."""
    load_functions(con)  # account_days(): the opening balances' daily sums (idempotent, this connection only)
    params = {"types": list(types), "normal": normal, "opening": opening}
    return _run(
        con,
        _query("explain_account_moves.sql"),
        {"periods": periods, "limit": limit if limit is not None else 2**62, **params},
    )


def statement_account_lines(con: duckdb.DuckDBPyConnection, periods: list[str], *, limit: int | None) -> dict[str, Any]:
    """Per period and income-statement account: its journal lines' count and total in the account's
    normal direction (revenue credit - debit, expenses debit - credit) and its `limit` largest lines
    (all with None) as PAGE_ROW_COLUMNS rows."""
    rows = _month_lines(con, periods, limit=limit, types=("revenue", "expense"), normal=True, opening=False)
    out: dict[str, Any] = {}
    for r in rows:
        entry = out.setdefault(r["period"], {}).setdefault(
            r["account_id"], {"count": int(r["_count"]), "total": str(r["_total"]), "shown": []}
        )
        entry["shown"].append([_plain(r.get(c)) for c in PAGE_ROW_COLUMNS])
    return out


def explain_statement_line(
    con: duckdb.DuckDBPyConnection,
    rollup: str,
    line_id: str,
    period: str,
    *,
    limit: int | None = None,
    statement: str = "income_statement",
) -> dict[str, Any]:
    """A line of the income statement (`mart_statements`, rollup `account` or `subtype`) in `period`:
    its figure, the accounts it adds up, and its journal lines largest first (every one unless
    `limit`), each signed as the line counts it, with their sum and whether it ties. A balance-sheet
    or cash-flow line: `explain_balance_line`."""
    if statement in BALANCE_STATEMENTS:
        return explain_balance_line(con, statement, rollup, line_id, period, limit=limit)
    if statement != "income_statement":
        raise ExplainError(f"no statement {statement!r}: one of income_statement, {', '.join(BALANCE_STATEMENTS)}")
    figure = _run(
        con,
        "select label, amount from mart_statements where statement = 'income_statement' "
        "and rollup = $rollup and line_id = $line and period = $period",
        {"rollup": rollup, "line": line_id, "period": period},
    )
    if not figure:
        raise _no_line(con, "income_statement", rollup, line_id, period)
    parts = income_line_accounts(con).get(f"{rollup}|{line_id}", [])
    rows = assemble_line(
        [[a, s, "pnl"] for a, s in parts], {}, income_lines(con, period, limit=limit), {}, "", limit=limit
    )
    names = {r["account_id"]: r["account_name"] for r in _run(con, _query("explain_accounts.sql"), {})}
    value = figure[0]["amount"]
    return {
        "statement": "income_statement",
        "rollup": rollup,
        "line_id": line_id,
        "label": figure[0]["label"],
        "period": period,
        "value": _plain(value),
        "model": STATEMENT_MODEL,
        "accounts": [{"account_id": a, "account_name": names.get(a), "sign": s} for a, s in parts],
        "columns": list(STATEMENT_ROW_COLUMNS),
        "rows": rows,
        "ties": value is not None and Decimal(rows["total"]) == value,
    }


def income_lines(con: duckdb.DuckDBPyConnection, period: str, *, limit: int | None) -> dict[str, Any]:
    """`statement_account_lines` of one period, its rows cut to STATEMENT_ROW_COLUMNS."""
    keep = [PAGE_ROW_COLUMNS.index(c) for c in STATEMENT_ROW_COLUMNS]
    return {
        a: {**e, "shown": [[r[i] for i in keep] for r in e["shown"]]}
        for a, e in statement_account_lines(con, [period], limit=limit).get(period, {}).items()
    }


# ---------------------------------------------------------------------------------------------
# balance-sheet and cash-flow lines: the balances and journal lines behind them
#
# A balance-sheet line is a month-end balance: each account behind it is explained as its opening
# balance (the month-end before, one row) plus the month's journal lines, so the rows add up to the
# balance exactly and the offline page can leave out the smallest lines with an exact remainder
# ("and N more totalling ..."), where listing every posting to date would not fit. A computed
# earnings row counts as one row with its figure; the row itself is explained as its formula over
# the income statement (each revenue and expense account's credit - debit, over the fiscal year to
# date or before it). A cash-flow line is minus the change in the balances behind it between the two
# month-ends, i.e. minus the month's journal lines (net income: the income statement's lines, cash
# at the beginning: the cash accounts' opening balances). explain_line_parts.sql says which parts
# each line has.

BALANCE_STATEMENTS = ("balance_sheet", "cash_flow")
STATEMENT_DOCS = {
    "balance_sheet": "Balance-sheet line: the month-end balance of the accounts below it, each its opening "
    "balance (the month-end before) plus the month's journal lines (assets debit − credit, "
    "liabilities and equity credit − debit); computed earnings rows as their figure.",
    "cash_flow": "Cash-flow line: minus the change in the balances behind it between the two month-ends, i.e. "
    "minus the month's journal lines (debit − credit) on its accounts; net income is the income "
    "statement's lines, cash at the beginning and end the cash accounts' balances.",
    "earnings": "Computed earnings row: net income over the income statement's accounts (credit − debit), "
    "retained earnings before the fiscal year, current-year earnings from its first day to the month-end.",
}
BALANCE_NOUN = "rows (opening balances, computed rows and journal lines)"
EARNINGS_ROW = {"current": "Credit − debit, fiscal year to date", "retained": "Credit − debit, before the fiscal year"}


def line_parts(con: duckdb.DuckDBPyConnection) -> dict[str, list[list[Any]]]:
    """Per balance-sheet and cash-flow line ("statement|rollup|line_id"): [part, sign, mode]."""
    out: dict[str, list[list[Any]]] = {}
    for r in _run(con, _query("explain_line_parts.sql"), {}):
        out.setdefault(f"{r['statement']}|{r['rollup']}|{r['line_id']}", []).append(
            [r["part"], int(r["sign"]), r["mode"]]
        )
    return out


def account_moves(
    con: duckdb.DuckDBPyConnection,
    periods: list[str],
    *,
    limit: int | None,
    types: tuple[str, ...] = ("asset", "liability", "equity"),
) -> dict[str, Any]:
    """Per period and account of `types`: its opening balance and its month's journal lines
    (debit - credit) with their count and total, the `limit` largest (all with None) as rows."""
    rows = _month_lines(con, periods, limit=limit, types=types, normal=False, opening=True)
    out: dict[str, Any] = {}
    for r in rows:
        entry = out.setdefault(r["period"], {}).setdefault(
            r["account_id"], {"opening": "0.00", "count": 0, "total": "0.00", "shown": []}
        )
        if r["entry_id"] is None:
            entry["opening"], entry["opening_date"] = str(r["amount"]), _plain(r["posted_date"])
            continue
        entry["count"], entry["total"] = int(r["_count"]), str(r["_total"])
        entry["shown"].append([_plain(r.get(c)) for c in STATEMENT_ROW_COLUMNS])
    return out


def earnings_lines(con: duckdb.DuckDBPyConnection, periods: list[str]) -> dict[str, Any]:
    """Per period: the computed earnings rows' figures ("computed") and, per revenue or expense
    account, [current-year, retained] credit - debit ("accounts")."""
    out: dict[str, Any] = {p: {"computed": {}, "accounts": {}} for p in periods}
    load_functions(con)  # account_days(): the daily sums the rows add up
    for r in _run(con, _query("explain_earnings.sql"), {"periods": periods}):
        out[r["period"]]["accounts"][r["account_id"]] = [str(r["current"]), str(r["retained"])]
    for r in _run(
        con,
        "select period, line_id, amount from mart_statements where statement = 'balance_sheet' "
        "and rollup = 'account' and line_id in ('_retained_earnings', '_current_earnings') "
        "and period in (select unnest($periods::varchar[]))",
        {"periods": periods},
    ):
        out[r["period"]]["computed"][r["line_id"]] = _plain(r["amount"])
    return out


def earnings_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The computed earnings rows' names, as the balance sheet labels them."""
    return {
        r["item_id"]: r["name"]
        for r in _run(
            con,
            "select item_id, name from statement_items where item_id in ('_retained_earnings', '_current_earnings')",
            {},
        )
    }


def _row(date_: Any, account: str, description: str, amount: Decimal) -> list[Any]:
    return [date_, None, None, account, description, None, str(amount)]


def assemble_line(
    parts: list[list[Any]],
    moves: dict[str, Any],
    pnl: dict[str, Any],
    earnings: dict[str, Any],
    period_end: str,
    *,
    limit: int | None,
) -> dict[str, Any]:
    """The rows of a balance-sheet or cash-flow line (STATEMENT_ROW_COLUMNS, amounts signed as the
    line counts them): first one row per opening balance, computed earnings row or account's earnings,
    then the journal lines largest first (`limit` of them, all with None); with the count and total
    of every row and what is left out. dashboard.js `assembleLine` does the same on embedded data."""
    amount_at = STATEMENT_ROW_COLUMNS.index("amount")
    fixed: list[list[Any]] = []
    lines: list[list[Any]] = []
    count, total = 0, Decimal(0)
    for part, sign, mode in parts:
        if mode in ("balance", "opening"):
            opening = sign * Decimal((moves.get(part) or {}).get("opening", "0"))
            if opening:
                fixed.append(
                    _row(moves[part].get("opening_date"), part, "Opening balance (the month-end before)", opening)
                )
        if mode == "computed":
            value = earnings.get("computed", {}).get(part)
            if value is not None and Decimal(value):
                fixed.append(
                    _row(
                        period_end,
                        part,
                        "Computed from the income statement (open its own line)",
                        sign * Decimal(value),
                    )
                )
        if mode in ("current", "retained"):
            value = Decimal(earnings.get("accounts", {}).get(part, ["0", "0"])[0 if mode == "current" else 1])
            if value:
                fixed.append(_row(period_end, part, EARNINGS_ROW[mode], sign * value))
        entry = (pnl if mode == "pnl" else moves).get(part) if mode in ("balance", "move", "pnl") else None
        if entry:
            count += entry["count"]
            total += sign * Decimal(entry["total"])
            for row in entry["shown"]:
                signed = list(row)
                signed[amount_at] = str(sign * Decimal(row[amount_at]))
                lines.append(signed)
    count += len(fixed)
    total += sum((Decimal(r[amount_at]) for r in fixed), Decimal(0))
    lines.sort(key=lambda r: (-abs(Decimal(r[amount_at])), -Decimal(r[amount_at]), r[1] or "", r[2] or 0))
    shown = fixed + (lines if limit is None else lines[:limit])
    rest = total - sum((Decimal(r[amount_at]) for r in shown), Decimal(0))
    return {
        "count": count,
        "total": str(total),
        "shown": shown,
        "more": {"count": count - len(shown), "total": str(rest)},
    }


def explain_balance_line(
    con: duckdb.DuckDBPyConnection, statement: str, rollup: str, line_id: str, period: str, *, limit: int | None = None
) -> dict[str, Any]:
    """A balance-sheet or cash-flow line in `period`, as `explain_statement_line` gives an income
    statement line: its figure, its parts (accounts or earnings rows, each with its sign and mode),
    and its rows (`assemble_line`, every journal line unless `limit`), whether they tie."""
    figure = _run(
        con,
        "select s.label, s.amount, p.period_end from mart_statements as s join periods as p "
        "using (period) where s.statement = $statement and s.rollup = $rollup and s.line_id = $line "
        "and s.period = $period",
        {"statement": statement, "rollup": rollup, "line": line_id, "period": period},
    )
    if not figure:
        raise _no_line(con, statement, rollup, line_id, period)
    parts = line_parts(con).get(f"{statement}|{rollup}|{line_id}")
    if not parts:
        raise ExplainError(f"{statement.replace('_', ' ')} line {line_id!r} is a check, not a sum of balances")
    modes = {m for _, _, m in parts}
    moves = account_moves(con, [period], limit=limit).get(period, {}) if modes & {"balance", "opening", "move"} else {}
    pnl = income_lines(con, period, limit=limit) if "pnl" in modes else {}
    earnings = earnings_lines(con, [period]).get(period, {}) if modes & {"computed", "current", "retained"} else {}
    rows = assemble_line(parts, moves, pnl, earnings, _plain(figure[0]["period_end"]), limit=limit)
    names = {
        **{r["account_id"]: r["account_name"] for r in _run(con, _query("explain_accounts.sql"), {})},
        **earnings_names(con),
    }
    value = figure[0]["amount"]
    doc = STATEMENT_DOCS["earnings" if modes & {"current", "retained"} else statement]
    return {
        "statement": statement,
        "rollup": rollup,
        "line_id": line_id,
        "label": figure[0]["label"],
        "period": period,
        "value": _plain(value),
        "model": STATEMENT_MODEL if statement == "balance_sheet" else CASH_FLOW_MODEL,
        "doc": doc,
        "noun": BALANCE_NOUN,
        "accounts": [{"account_id": a, "account_name": names.get(a), "sign": s, "mode": m} for a, s, m in parts],
        "columns": list(STATEMENT_ROW_COLUMNS),
        "rows": rows,
        "ties": value is not None and Decimal(rows["total"]) == value,
    }


# ---------------------------------------------------------------------------------------------
# printing


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{Decimal(str(value)):,.2f}"


def _when(value: Any) -> str:
    return str(value or "")[:19].replace("T", " ")


def _row_text(row: dict[str, Any]) -> tuple[str, str]:
    """(what the row is, its description) for the terminal."""
    if "entry_id" in row:
        account = f"{row.get('account_id', '')} {row.get('account_name') or ''}".strip()
        what = f"{row.get('posted_date', '')}  {row['entry_id'] + '/' + str(row.get('line_no', '')):<14} {account[:32]:<32}"
        return what, " ".join(str(row[k]) for k in ("description", "document_id") if row.get(k))
    if "account_id" in row:
        return f"{row['account_id']:<8} {(row.get('account_name') or '')[:48]:<48}", ""
    ident = next((str(v) for k, v in row.items() if k.endswith("_id") and v), "")
    detail = "  ".join(str(row[k]) for k in ("customer_name", "stage", "close_date", "owner") if row.get(k))
    return f"{ident:<14}", detail


def text_lines(result: dict[str, Any]) -> list[str]:
    """The explanation as the terminal shows it (server text made printable)."""
    from connectors.plain import printable

    money = result["kpi"] not in KPI_UNITS
    mtd = " (month to date)" if result["open_month"] else ""
    unit = f" {result['currency']}" if money else ""
    out = [
        f"{result['kpi']} {result['period']}{mtd}: {_fmt(result['value'])}{unit}",
        "",
        f"definition ({result['model']}):",
    ]
    if result.get("doc"):
        out += ["  " + line for line in result["doc"].splitlines()]
    out += _node_lines(result, "  ")
    if result.get("budget"):
        b = result["budget"]
        verdict = (
            ""
            if b["variance"] is None
            else (
                f", variance {_fmt(b['variance'])}"
                + (f" ({_fmt(b['variance_pct'])}%)" if b["variance_pct"] is not None else "")
                + (" favourable" if b["favourable"] else " unfavourable")
            )
        )
        out += [
            "",
            f"budget: {_fmt(b['budget'])}{verdict}"
            + (" (month to date: no variance yet)" if b["variance"] is None else ""),
        ]
    out += ["", "sources (the run that loaded each table, and its MCP calls):"]
    for s in result["sources"]:
        if s["tool"] == "(not configured)":
            out.append(f"  {s['table_name']}: {s['source']} not configured (the table is empty)")
            continue
        calls = s["calls"]
        out.append(
            f"  {s['table_name']}: {s['source']} {s['tool']}, run {s['run_id']}, loaded {_when(s['loaded_at'])}, "
            f"{s['rows_loaded']:,} rows, {len(calls)} call(s):"
        )
        for c in calls:
            items = "-" if c["items"] is None else f"{c['items']:,}"
            out.append(f"    {_when(c['called_at'])}  {c['tool']}  page {c['page']}  {items} items  {c['status']}")
    return [printable(line) for line in out]


def _node_lines(node: dict[str, Any], indent: str) -> list[str]:
    out = []
    for step in reversed(node["definition"]):
        sql = re.sub(r"\s+\)", ")", re.sub(r"\(\s+", "(", " ".join(step["sql"].split())))
        out.append(f"{indent}{step['cte']}: {sql}")
        if step.get("from"):
            out.append(f"{indent}  {' '.join(step['from'].split())}")
    if node["kind"] == "value":
        out.append(f"{indent}= {_fmt(node['value'])} ({node['table']}.{node['name']})")
        return out
    if node["kind"] in ("formula", "window"):
        window = node["kind"] == "window"
        parts = ", ".join(
            f"{c['name']}{' ' + c['period'] if window else ''} {_fmt(c['value'])}" for c in node["components"]
        )
        out.append(f"{indent}= {_fmt(node['value'])} over {parts}")
        for c in node["components"]:
            if c["kind"] != "value":
                out += ["", f"{indent}{c['name']} {c['period']}: {_fmt(c['value'])}"]
                out += _node_lines(c, indent + "  ")
        return out
    if "accounts" in node:
        out.append(f"{indent}by account:")
        out += [f"{indent}  {_row_text(a)[0]} {_fmt(a['amount']):>16}" for a in node["accounts"]["shown"]]
    rows = node["rows"]
    noun = "lines" if node["kind"] == "lines" else "records"
    tie = "=" if node["ties"] else "does not tie to"
    origin = "" if noun == "lines" else f" of {node['reads']}"
    out.append(
        f"{indent}{rows['count']:,} {noun}{origin}, sum {_fmt(rows['total'])} {tie} {node['name']} "
        f"{_fmt(node['value'])}{', largest first:' if rows['shown'] else ''}"
    )
    for r in rows["shown"]:
        what, detail = _row_text(r)
        out.append(f"{indent}  {what} {_fmt(r['amount']):>16}  {detail}".rstrip())
    if rows["more"]["count"]:
        out.append(f"{indent}  and {rows['more']['count']:,} more {noun} totalling {_fmt(rows['more']['total'])}")
    return out


def to_json(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, ensure_ascii=False)


def _print(
    read_copy: Path,
    compute: Callable[[duckdb.DuckDBPyConnection], dict[str, Any]],
    lines: Callable[[dict[str, Any]], list[str]],
    as_json: bool,
) -> int:
    """Print what `compute` explains on the read copy (its `lines`, or its JSON); the exit status: 0,
    or 1 for an ExplainError (the message lists what exists), 2 when there is no warehouse yet."""
    if not read_copy.exists():
        click.echo(f"no warehouse yet at {read_copy}: run `closeboard refresh` (or `closeboard demo`) first", err=True)
        return 2
    con = connect(read_copy, read_only=True)
    try:
        result = compute(con)
    except ExplainError as exc:
        click.echo(f"✗ {exc}", err=True)
        return 1
    finally:
        con.close()
    click.echo(to_json(result) if as_json else "\n".join(lines(result)))
    return 0


def print_explain(read_copy: Path, kpi: str, period: str | None, *, limit: int = 20, as_json: bool = False) -> int:
    """`closeboard explain KPI`: print the explanation (or its JSON); the exit status as `_print`."""
    return _print(read_copy, lambda con: explain(con, kpi, period, limit=limit), text_lines, as_json)


# the statements by the names `closeboard explain --statement` takes (short or as mart_statements has them)
STATEMENT_NAMES = {
    "income": "income_statement",
    "balance": "balance_sheet",
    "cash": "cash_flow",
    **{name: name for name in ("income_statement", *BALANCE_STATEMENTS)},
}


def explain_line(
    con: duckdb.DuckDBPyConnection, statement: str, rollup: str, line_id: str, period: str | None, *, limit: int | None
) -> dict[str, Any]:
    """`explain_statement_line` for the CLI: `period` defaults to the last ended month (as for a KPI),
    and the answer carries the currency and whether the month is open."""
    period, context = reported_period(con, period)
    result = explain_statement_line(con, rollup, line_id, period, limit=limit, statement=STATEMENT_NAMES[statement])
    is_open = next(r["is_open"] for r in context if r["period"] == period)
    return {**result, "open_month": bool(is_open), "currency": context[0]["currency"]}


INCOME_LINE_DOC = (
    "Income-statement line: the month's journal lines on the accounts below (revenue credit − debit, "
    "expenses debit − credit), each signed as the line counts it."
)


def statement_text_lines(result: dict[str, Any]) -> list[str]:
    """A statement line's explanation as the terminal shows it: the figure, what the line adds up
    (accounts with their sign, earnings rows), then its rows largest first and their sum."""
    from connectors.plain import printable

    mtd = " (month to date)" if result["open_month"] else ""
    statement = result["statement"].replace("_", " ")
    out = [
        f"{statement} {result['period']}{mtd}, line {result['line_id']} {result['label']} "
        f"(rollup {result['rollup']}): {_fmt(result['value'])} {result['currency']}",
        "",
        f"definition ({result['model']}):",
    ]
    out += ["  " + line for line in textwrap.wrap(result.get("doc") or INCOME_LINE_DOC, 96)]
    out.append("  the sum of:")
    for a in result["accounts"]:
        sign = "+" if a["sign"] > 0 else "−"
        how = f" ({a['mode']})" if a.get("mode") else ""
        out.append(f"    {sign} {a['account_id']:<20} {a.get('account_name') or ''}{how}".rstrip())
    rows, columns = result["rows"], result["columns"]
    noun = result.get("noun", "journal lines")
    tie = "=" if result["ties"] else "does not tie to"
    out += [
        "",
        f"{rows['count']:,} {noun}, sum {_fmt(rows['total'])} {tie} the line {_fmt(result['value'])}"
        + (", largest first:" if rows["shown"] else ""),
    ]
    for shown in rows["shown"]:
        row = dict(zip(columns, shown, strict=True))
        entry = f"{row['entry_id']}/{row['line_no']}" if row.get("entry_id") else ""
        detail = " ".join(str(row[k]) for k in ("description", "document_id") if row.get(k))
        out.append(
            f"  {row.get('posted_date') or '':<10}  {entry:<14} {str(row.get('account_id') or ''):<20} "
            f"{_fmt(row['amount']):>16}  {detail}".rstrip()
        )
    if rows["more"]["count"]:
        out.append(f"  and {rows['more']['count']:,} more totalling {_fmt(rows['more']['total'])}")
    return [printable(line) for line in out]


def print_statement_line(
    read_copy: Path,
    statement: str,
    line_id: str,
    period: str | None,
    *,
    rollup: str = "account",
    limit: int = 20,
    as_json: bool = False,
) -> int:
    """`closeboard explain --statement S --line ID`: print the line's explanation (or its JSON)."""
    return _print(
        read_copy,
        lambda con: explain_line(con, statement, rollup, line_id, period, limit=limit),
        statement_text_lines,
        as_json,
    )
