"""`closeboard explain`: every figure of mart_kpis traced to its definition, its sources and calls, and
the rows behind it, whose sum ties to the figure exactly.

Most assertions call `reports.explain.explain()` on the demo home's read copy (fast); the CLI command runs
(in this process) for the text, the JSON and an unknown KPI. The rows expected are selected here a second way, straight
from the canonical tables with the rule DESIGN states for each KPI."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reports.explain import ExplainError, explain, kpis
from tests.conftest import REPO, cli_in_process
from warehouse.db import connect

PERIOD = "2026-05"  # the last ended month before AS_OF (2026-06-15)
END = date(2026, 5, 31)
MART_SQL = (REPO / "warehouse" / "sql" / "marts" / "60_mart_kpis.sql").read_text(encoding="utf-8")
EVERY_LINE = 1_000_000

# the journal lines behind each ledger KPI, selected independently of the mart (DESIGN "The read side")
LINES = {
    "revenue": ("a.type = 'revenue' and jl.posted_date between $start and $end", "jl.credit - jl.debit"),
    "opex": (
        "a.type = 'expense' and a.subtype is distinct from 'cogs' and jl.posted_date between $start and $end",
        "jl.debit - jl.credit",
    ),
    "cogs": (
        "a.type = 'expense' and a.subtype = 'cogs' and jl.posted_date between $start and $end",
        "jl.debit - jl.credit",
    ),
    "cash": ("a.subtype = 'cash' and jl.posted_date <= $end", "jl.debit - jl.credit"),
    "ar": ("a.subtype = 'ar' and jl.posted_date <= $end", "jl.debit - jl.credit"),
}


@pytest.fixture(scope="module")
def con(demo_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(demo_home / "warehouse.read.duckdb", read_only=True)
    yield c
    c.close()


def figure(con: duckdb.DuckDBPyConnection, kpi: str, period: str = PERIOD) -> Decimal | None:
    return con.execute("select value from mart_kpis where kpi = ? and period = ?", [kpi, period]).fetchall()[0][0]


def expected_lines(con: duckdb.DuckDBPyConnection, kpi: str) -> dict[tuple[str, int], Decimal]:
    where, amount = LINES[kpi]
    rows = con.execute(
        f"""select jl.entry_id, jl.line_no, {amount}
            from erp_journal_lines as jl inner join erp_accounts as a on a.account_id = jl.account_id
            where {where} and {amount} <> 0""",
        {k: v for k, v in {"start": date.fromisoformat(f"{PERIOD}-01"), "end": END}.items() if f"${k}" in where},
    ).fetchall()
    return {(e, n): v for e, n, v in rows}


def listed(node: dict[str, Any]) -> dict[tuple[str, int], Decimal]:
    return {(r["entry_id"], r["line_no"]): Decimal(r["amount"]) for r in node["rows"]["shown"]}


def leaves(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if node["kind"] in ("lines", "records"):
        yield node
    for component in node.get("components", []):
        yield from leaves(component)


def squashed(sql: str) -> str:
    return " ".join(sql.split())


def assert_definition_is_the_marts(node: dict[str, Any]) -> None:
    """Every step of the definition is a select item of 60_mart_kpis.sql, as written there."""
    mart = squashed(re.sub(r"--[^\n]*", "", MART_SQL))
    for step in node["definition"]:
        assert squashed(step["sql"]) in mart, step
        if "from" in step:
            assert squashed(step["from"]) in mart, step


def assert_calls_are_real(con: duckdb.DuckDBPyConnection, result: dict[str, Any], tables: set[str]) -> None:
    sources = {s["table_name"]: s for s in result["sources"]}
    assert tables <= set(sources), sources.keys()
    for table in tables:
        load = sources[table]
        run_id, tool = con.execute("select run_id, tool from source_loads where table_name = ?", [table]).fetchall()[0]
        assert (load["run_id"], load["tool"]) == (run_id, tool)
        assert load["calls"], f"no call named for {table}"
        real = con.execute(
            "select tool, called_at, page, items from connector_calls where run_id = ? and tool = ?", [run_id, tool]
        ).fetchall()
        named = [(c["tool"], c["called_at"], c["page"], c["items"]) for c in load["calls"]]
        assert sorted(named, key=str) == sorted([(t, at.isoformat(), p, i) for t, at, p, i in real], key=str)
        assert sum(c["items"] for c in load["calls"]) == load["rows_loaded"]


@pytest.mark.parametrize("kpi", ["revenue", "opex", "cash", "ar"])
def test_a_ledger_figure_is_its_journal_lines_largest_first_summing_to_it(con, kpi: str) -> None:
    result = explain(con, kpi, PERIOD, limit=EVERY_LINE)
    value = figure(con, kpi)
    assert Decimal(result["value"]) == value
    assert result["kind"] == "lines"
    rows = result["rows"]
    assert rows["more"]["count"] == 0 and rows["count"] == len(rows["shown"]) > 0
    assert sum(Decimal(r["amount"]) for r in rows["shown"]) == value == Decimal(rows["total"])
    assert result["ties"] is True
    assert listed(result) == expected_lines(con, kpi)
    sizes = [abs(Decimal(r["amount"])) for r in rows["shown"]]
    assert sizes == sorted(sizes, reverse=True)
    # the breakdown by account sums to the figure too
    assert sum(Decimal(a["amount"]) for a in result["accounts"]["shown"]) == value
    assert_definition_is_the_marts(result)
    assert any(step["sql"].startswith("sum(") for step in result["definition"])
    assert_calls_are_real(con, result, {"erp_journal_lines", "erp_accounts"})


def test_the_definition_is_the_marts_expression(con) -> None:
    result = explain(con, "revenue", PERIOD, limit=1)
    steps = {step["cte"]: squashed(step["sql"]) for step in result["definition"]}
    assert (
        steps["period_figures"] == "sum(case when ab.type = 'revenue' then ab.credit - ab.debit else 0 end) as revenue"
    )
    assert steps["period_figures"] in squashed(MART_SQL)
    assert "revenue, cogs, opex" in result["doc"]


def test_limit_shows_the_largest_and_totals_the_rest(con) -> None:
    whole = explain(con, "revenue", PERIOD, limit=EVERY_LINE)["rows"]
    top = explain(con, "revenue", PERIOD, limit=3)["rows"]
    assert top["shown"] == whole["shown"][:3]
    assert top["more"]["count"] == whole["count"] - 3
    assert Decimal(top["more"]["total"]) == sum(Decimal(r["amount"]) for r in whole["shown"][3:])


def test_a_ratio_is_its_formula_over_components_each_tying_to_its_lines(con) -> None:
    result = explain(con, "gross_margin_pct", PERIOD, limit=EVERY_LINE)
    assert Decimal(result["value"]) == figure(con, "gross_margin_pct")
    assert result["kind"] == "formula"
    assert "div_round2((f.revenue - f.cogs) * 100, f.revenue)" in result["formula"]
    assert_definition_is_the_marts(result)
    components = {c["name"]: c for c in result["components"]}
    assert set(components) == {"revenue", "cogs"}
    for name, component in components.items():
        assert Decimal(component["value"]) == figure(con, name)
        assert sum(Decimal(r["amount"]) for r in component["rows"]["shown"]) == figure(con, name)
        assert component["ties"] is True
        assert listed(component) == expected_lines(con, name)
        assert_definition_is_the_marts(component)
    revenue, cogs = (Decimal(components[n]["value"]) for n in ("revenue", "cogs"))
    assert ((revenue - cogs) * 100 / revenue).quantize(Decimal("0.01")) == Decimal(result["value"])
    assert_calls_are_real(con, result, {"erp_journal_lines", "erp_accounts"})


@pytest.mark.parametrize("kpi", kpis())
def test_every_kpi_ties_down_to_its_rows(con, kpi: str) -> None:
    result = explain(con, kpi, PERIOD, limit=0)
    assert result["value"] == (None if figure(con, kpi) is None else str(figure(con, kpi)))
    assert_definition_is_the_marts(result)
    found = list(leaves(result))
    assert found, f"{kpi}: no rows behind it"
    for leaf in found:
        assert leaf["ties"] is True, (kpi, leaf["name"], leaf["period"], leaf["value"], leaf["rows"]["total"])


def test_runway_adds_the_burn_of_three_months(con) -> None:
    result = explain(con, "runway_months", PERIOD, limit=0)
    trailing = next(c for c in result["components"] if c["name"] == "net_burn_3m")
    assert trailing["over"] == ["2026-03", "2026-04", "2026-05"]
    burns = [Decimal(c["value"]) for c in trailing["components"]]
    assert burns == [figure(con, "net_burn", p) for p in trailing["over"]]
    assert sum(burns) == Decimal(trailing["value"])


def test_the_pipeline_lists_its_opportunities(con) -> None:
    result = explain(con, "pipeline_open", PERIOD, limit=EVERY_LINE)
    assert result["kind"] == "records"
    ids = {r["opportunity_id"] for r in result["rows"]["shown"]}
    open_ids = {
        r[0]
        for r in con.execute(
            """select opportunity_id from crm_opportunities
           where not is_closed and amount <> 0 and currency = (select currency from run_context)"""
        ).fetchall()
    }
    assert ids == open_ids
    assert sum(Decimal(r["amount"]) for r in result["rows"]["shown"]) == figure(con, "pipeline_open")
    assert_calls_are_real(con, result, {"crm_opportunities"})


def test_unknown_kpi_or_period_names_what_exists(con) -> None:
    with pytest.raises(ExplainError) as kpi_error:
        explain(con, "revenu", PERIOD)
    assert "did you mean revenue" in str(kpi_error.value)
    assert all(k in str(kpi_error.value) for k in ("revenue", "gross_margin_pct", "pipeline_open"))
    with pytest.raises(ExplainError) as period_error:
        explain(con, "revenue", "2019-01")
    assert "2024-06 to 2026-06" in str(period_error.value)


def test_the_cli_prints_the_tie_and_fails_on_an_unknown_kpi(demo_home: Path, con) -> None:
    value = figure(con, "revenue")
    out = cli_in_process("explain", "revenue", "--period", PERIOD, "--limit", "3", home=demo_home).stdout
    count = len(expected_lines(con, "revenue"))
    assert f"{count:,} lines, sum {value:,.2f} = revenue {value:,.2f}" in out
    assert f"and {count - 3:,} more lines totalling" in out
    assert "sum(case when ab.type = 'revenue' then ab.credit - ab.debit else 0 end) as revenue" in out
    assert "erp_journal_lines: erp list_journal_lines, run " in out
    as_json = json.loads(cli_in_process("explain", "cash", "--period", PERIOD, "--json", home=demo_home).stdout)
    assert Decimal(as_json["value"]) == figure(con, "cash")
    bad = cli_in_process("explain", "revenu", home=demo_home, check=False)
    assert bad.returncode == 1
    assert "unknown KPI 'revenu'" in bad.stderr and "gross_margin_pct" in bad.stderr


# a demo line of each statement: (the CLI's --statement, mart_statements' statement, line_id, the
# independent rule for its journal lines: accounts, the amount as the line counts it, the dates)
STATEMENT_LINES = {
    "income": ("income_statement", "4100", "jl.credit - jl.debit", "jl.posted_date between $start and $end"),
    "balance": ("balance_sheet", "1200", "jl.debit - jl.credit", "jl.posted_date <= $end"),
}


def statement_figure(con: duckdb.DuckDBPyConnection, statement: str, line: str) -> Decimal:
    return con.execute(
        "select amount from mart_statements where statement = ? and rollup = 'account' and line_id = ? and period = ?",
        [statement, line, PERIOD],
    ).fetchall()[0][0]


@pytest.mark.parametrize("short", sorted(STATEMENT_LINES))
def test_the_cli_explains_a_statement_line_whose_rows_sum_to_it(demo_home: Path, con, short: str) -> None:
    statement, line, amount, when = STATEMENT_LINES[short]
    args = ("explain", "--statement", short, "--line", line, "--period", PERIOD)
    result = json.loads(cli_in_process(*args, "--limit", str(EVERY_LINE), "--json", home=demo_home).stdout)
    value = statement_figure(con, statement, line)
    assert (result["statement"], result["line_id"], Decimal(result["value"])) == (statement, line, value)
    rows = result["rows"]
    amounts = [Decimal(dict(zip(result["columns"], r, strict=True))["amount"]) for r in rows["shown"]]
    assert rows["more"]["count"] == 0 and len(amounts) == rows["count"] > 0
    assert sum(amounts) == value == Decimal(rows["total"]) and result["ties"] is True
    # the same figure a second way: the account's journal lines straight from the canonical tables
    (independent,) = con.execute(
        f"select sum({amount}) from erp_journal_lines as jl where jl.account_id = $line and {when}",
        {"line": line, "end": END, **({"start": date.fromisoformat(f"{PERIOD}-01")} if "$start" in when else {})},
    ).fetchone()
    assert independent == value
    text = cli_in_process(*args, "--limit", "3", home=demo_home).stdout
    noun = "journal lines" if short == "income" else "rows (opening balances, computed rows and journal lines)"
    assert f"{rows['count']:,} {noun}, sum {value:,.2f} = the line {value:,.2f}" in text
    assert f"and {rows['count'] - 3 - (short == 'balance'):,} more totalling" in text  # the opening row is shown too


def test_the_cli_names_the_lines_of_a_statement_for_an_unknown_line(demo_home: Path) -> None:
    bad = cli_in_process("explain", "--statement", "cash", "--line", "net_cash_operatin", home=demo_home, check=False)
    assert bad.returncode == 1
    assert "no cash flow line 'net_cash_operatin'" in bad.stderr and "did you mean net_cash_operating?" in bad.stderr
    assert "net_change_in_cash" in bad.stderr
    both = cli_in_process("explain", "revenue", "--statement", "income", "--line", "4100", home=demo_home, check=False)
    assert both.returncode == 2 and "give a KPI, or --statement with --line" in both.stderr
