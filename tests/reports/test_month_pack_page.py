"""The controller's month pack in headless Chromium (issue 15): budget vs actual on the income
statement and the tiles, and click-to-explain on tiles and statement lines, offline (the page's
embedded top lines, saying how many are left out) and served (every line, from /api/explain).
Expected figures are computed here from the warehouse's canonical tables or the demo's CSV files,
never read back from the page's own data."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import uvicorn
from starlette.testclient import TestClient

from reports.render import PageContext, render_dashboard
from reports.server import create_app
from tests.budget_reference import reference_budget
from tests.conftest import free_port, read
from tests.reference import INVESTING_SUBTYPES
from warehouse.db import connect
from warehouse.models import build_marts

LINES = 10  # sections.yaml explain.lines: the rows the offline page embeds per figure


def last_ended(home: Path) -> str:
    return read(home, "select max(period) from periods where not is_open")[0][0]


def open_month(home: Path) -> str:
    return read(home, "select period from periods where is_open")[0][0]


def journal(home: Path, period: str, where: str, sign: str) -> list[Decimal]:
    """The amounts of the journal lines posted in `period` on the accounts `where` picks, signed by
    `sign` (an expression over debit and credit), zeros left out."""
    return [
        a
        for (a,) in read(
            home,
            f"""
        select ({sign})::decimal(18, 2) from erp_journal_lines jl join erp_accounts a using (account_id)
        where strftime(jl.posted_date, '%Y-%m') = ? and ({where}) and jl.debit <> jl.credit""",
            [period],
        )
    ]


def largest(amounts: list[Decimal], n: int) -> list[Decimal]:
    return sorted(amounts, key=lambda a: (-abs(a), -a))[:n]


def panel_rows(p) -> list[Decimal]:
    return [
        Decimal(x) for x in p.locator("#explain .explain-rows td.num").evaluate_all("c => c.map(x => x.dataset.raw)")
    ]


def open_explanation(p, locator: str) -> None:
    p.locator(locator).first.click()
    p.wait_for_selector("#explain[data-ready='1']", timeout=20_000)
    assert p.locator("#explain").is_visible()


# ---------------------------------------------------------------------------------------------- budget


def test_budget_columns_on_the_income_statement_and_vs_budget_on_the_tiles(demo_home: Path, demo_page) -> None:
    p, period = demo_page.page, last_ended(demo_home)
    expected = reference_budget(demo_home / "demo", [period])
    table = p.locator("#statement-income_statement")
    table.scroll_into_view_if_needed()
    assert p.locator("#statement-income_statement thead th.budget-col").evaluate_all(
        "ths => ths.map(t => [t.textContent, !t.hidden && t.offsetParent !== null])"
    ) == [["Budget", True], ["Variance", True], ["Variance %", True]]
    cells = table.locator("tbody tr").evaluate_all("""rows => rows.map(r => [r.dataset.line,
        ...['budget', 'variance', 'variance_pct'].map(c => { const td = r.querySelector(`td[data-budget='${c}']`);
            return [td.dataset.raw, td.className]; })])""")
    seen = set()
    for line, (budget, _), (variance, cls), (pct, _) in cells:
        ref = expected.get((period, line))
        if ref is None:
            assert budget == variance == pct == "", line  # no budget: empty cells, never 0.00
            continue
        seen.add(line)
        assert (Decimal(budget), Decimal(variance)) == (ref["budget"], ref["variance"]), line
        assert (Decimal(pct) if pct else None) == ref["variance_pct"], line
        assert ("fav" if ref["favourable"] else "unfav") in cls.split(), line
    assert seen == {line for (_, line) in expected}
    # the balance sheet has no budget columns
    assert p.locator("#statement-balance_sheet th.budget-col").count() == 0
    # the revenue tile's "vs budget", coloured by whether the variance is favourable
    ref = expected[(period, "total_revenue")]
    note = p.locator(".tile[data-kpi='revenue'] .tile-budget")
    assert note.is_visible() and Decimal(note.get_attribute("data-variance")) == ref["variance"]
    assert note.get_attribute("data-favourable") == ("true" if ref["favourable"] else "false")
    assert ("over budget" if ref["variance"] > 0 else "under budget") in note.inner_text()
    opex = expected[(period, "total_opex")]
    assert p.locator(".tile[data-kpi='opex'] .tile-budget").get_attribute("data-favourable") == (
        "true" if opex["variance"] <= 0 else "false"
    )  # costs above budget are unfavourable
    assert p.locator(".tile[data-kpi='cash'] .tile-budget").is_hidden()  # no budget for cash
    # the open month: the budget is shown, but month to date has no variance to colour
    p.select_option("#period-select", open_month(demo_home))
    assert "(whole month)" in p.locator(".tile[data-kpi='revenue'] .tile-budget").inner_text()
    variances = table.locator("td[data-budget='variance']").evaluate_all("c => c.map(x => x.dataset.raw)")
    assert variances and set(variances) == {""}


def test_a_month_without_a_budget_shows_no_budget_columns(demo_home: Path, tmp_path: Path, open_page) -> None:
    period = last_ended(demo_home)
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_home / "warehouse.read.duckdb", copy)
    con = connect(copy)
    try:
        con.execute("delete from budgets where period = ?", [period])
        build_marts(con)
        page_path = render_dashboard(con, PageContext("Demo Co", "USD", "no-budget", {}), tmp_path / "reports")
    finally:
        con.close()
    watched = open_page(page_path.as_uri())
    p = watched.page
    assert p.locator("#statement-income_statement thead th.budget-col").evaluate_all("ths => ths.every(t => t.hidden)")
    assert p.locator(".tile .tile-budget:visible").count() == 0
    p.select_option(
        "#period-select", read(demo_home, "select max(period) from periods where period < ?", [period])[0][0]
    )
    assert p.locator("#statement-income_statement thead th.budget-col:visible").count() == 3
    assert watched.errors == []


# ---------------------------------------------------------------------------------------------- explain


def test_a_tile_click_opens_its_explanation_and_the_lines_tie(demo_home: Path, demo_page, tmp_path: Path) -> None:
    p, period = demo_page.page, last_ended(demo_home)
    amounts = journal(demo_home, period, "a.type = 'revenue'", "jl.credit - jl.debit")
    figure = read(demo_home, "select value from mart_kpis where period = ? and kpi = 'revenue'", [period])[0][0]
    assert sum(amounts) == figure
    open_explanation(p, ".tile[data-kpi='revenue']")
    summary = p.locator("#explain .explain-sum")
    assert int(summary.get_attribute("data-count")) == len(amounts)
    assert Decimal(summary.get_attribute("data-total")) == figure and "ties" in summary.get_attribute("class")
    assert panel_rows(p) == largest(amounts, LINES)
    more = p.locator("#explain .explain-more")  # how many are left out of the file, and their sum
    assert int(more.get_attribute("data-count")) == len(amounts) - LINES
    assert Decimal(more.get_attribute("data-total")) == figure - sum(largest(amounts, LINES))
    assert "closeboard serve" in more.inner_text()
    p.screenshot(path=str(tmp_path / "explain-desktop.png"))  # for a person to look at
    assert (tmp_path / "explain-desktop.png").stat().st_size > 10_000
    assert "mart_kpis" in p.locator("#explain").inner_text() or "60_mart_kpis" in p.locator("#explain").inner_text()
    p.keyboard.press("Escape")
    assert p.locator("#explain").is_hidden()
    # Enter on a focused tile opens it too; a derived figure shows its formula and each part's lines
    p.locator(".tile[data-kpi='net_income']").focus()
    p.keyboard.press("Enter")
    p.wait_for_selector("#explain[data-ready='1']")
    sums = p.locator("#explain .explain-sum")
    assert sums.count() == 3 and all("ties" in c for c in sums.evaluate_all("s => s.map(x => x.className)"))
    p.keyboard.press("Escape")


def test_a_statement_line_click_opens_the_journal_lines_behind_it(demo_home: Path, demo_page) -> None:
    p, period = demo_page.page, last_ended(demo_home)
    # "Operating Expenses" (6000): every expense account under it, by parent_id, debit - credit
    subtree = (
        "a.type = 'expense' and coalesce(a.subtype, '') <> 'cogs' and (a.account_id = '6000' or a.parent_id = '6000')"
    )
    amounts = journal(demo_home, period, subtree, "jl.debit - jl.credit")
    line = read(
        demo_home,
        "select amount from mart_statements where period = ? and statement = 'income_statement' "
        "and rollup = 'account' and line_id = '6000'",
        [period],
    )[0][0]
    assert sum(amounts) == line
    p.locator("#sec-statements").scroll_into_view_if_needed()
    open_explanation(p, "#statement-income_statement tr[data-line='6000'] button.line-explain")
    summary = p.locator("#explain .explain-sum")
    assert (
        int(summary.get_attribute("data-count")) == len(amounts)
        and Decimal(summary.get_attribute("data-total")) == line
    )
    assert panel_rows(p) == largest(amounts, LINES)
    p.keyboard.press("Escape")
    # net income: revenue lines positive, expense lines negative
    signed = journal(demo_home, period, "a.type = 'revenue'", "jl.credit - jl.debit") + journal(
        demo_home, period, "a.type = 'expense'", "jl.credit - jl.debit"
    )
    open_explanation(p, "#statement-income_statement tr[data-line='net_income']")
    assert Decimal(p.locator("#explain .explain-sum").get_attribute("data-total")) == sum(signed)
    assert panel_rows(p) == largest(signed, LINES)


def balances_before(home: Path, period: str, where: str) -> list[tuple[str, Decimal]]:
    """(account, debit - credit of every line dated before `period`) for the accounts `where` picks,
    by account id, zeros left out: the opening rows of a balance-sheet line."""
    return [
        (a, b)
        for a, b in read(
            home,
            f"""
        select a.account_id, coalesce(sum(jl.debit - jl.credit), 0)::decimal(18, 2)
        from erp_accounts a left join erp_journal_lines jl
            on jl.account_id = a.account_id and strftime(jl.posted_date, '%Y-%m') < ?
        where ({where}) group by a.account_id order by a.account_id""",
            [period],
        )
        if b
    ]


def statement_amount(home: Path, period: str, statement: str, line_id: str) -> Decimal:
    return read(
        home,
        "select amount from mart_statements where period = ? and statement = ? and rollup = 'account' and line_id = ?",
        [period, statement, line_id],
    )[0][0]


# the balance sheet's "Assets" (1000): every asset account under it, debit - credit
ASSETS = "a.type = 'asset' and (a.account_id = '1000' or a.parent_id = '1000' or a.parent_id in (select account_id from erp_accounts where parent_id = '1000'))"
# the cash flow's operating activities: net income (revenue and expense lines, credit - debit) and
# minus the change in every balance-sheet account that is not cash, investing or financing
OPERATING_BS = (
    "a.type in ('asset', 'liability') and coalesce(a.subtype, '') <> 'cash' and coalesce(a.subtype, '') not in "
    f"{INVESTING_SUBTYPES} and not (a.type = 'liability' and coalesce(a.subtype, '') = 'debt')"
)


def test_balance_sheet_and_cash_flow_line_clicks_open_lines_that_tie(demo_home: Path, demo_page) -> None:
    p, period = demo_page.page, last_ended(demo_home)
    # a balance-sheet group: the opening balance of each account, then the month's lines; they add up to the balance
    openings = balances_before(demo_home, period, ASSETS)
    moves = journal(demo_home, period, ASSETS, "jl.debit - jl.credit")
    figure = statement_amount(demo_home, period, "balance_sheet", "1000")
    assert sum(b for _, b in openings) + sum(moves) == figure
    p.locator("#statement-balance_sheet").scroll_into_view_if_needed()
    open_explanation(p, "#statement-balance_sheet tr[data-line='1000'] button.line-explain")
    summary = p.locator("#explain .explain-sum")
    assert int(summary.get_attribute("data-count")) == len(openings) + len(moves)
    assert Decimal(summary.get_attribute("data-total")) == figure and "ties" in summary.get_attribute("class")
    assert panel_rows(p) == [b for _, b in openings] + largest(moves, LINES)
    more = p.locator("#explain .explain-more")
    assert Decimal(more.get_attribute("data-total")) == figure - sum(panel_rows(p))
    p.keyboard.press("Escape")
    assert p.locator("#explain").is_hidden()
    # the computed current-year earnings: its formula over the income statement, by account
    fy = read(demo_home, "select fiscal_year_start_month from run_context")[0][0]
    year = int(period[:4]) - (1 if int(period[5:]) < fy else 0)
    earnings = [
        b
        for (b,) in read(
            demo_home,
            """
        select sum(jl.credit - jl.debit)::decimal(18, 2) from erp_journal_lines jl join erp_accounts a using (account_id)
        where a.type in ('revenue', 'expense') and jl.posted_date >= ? and strftime(jl.posted_date, '%Y-%m') <= ?
        group by a.account_id having sum(jl.credit - jl.debit) <> 0 order by a.account_id""",
            [f"{year:04d}-{fy:02d}-01", period],
        )
    ]
    p.locator("#statement-balance_sheet tr[data-line='_current_earnings'] button.line-explain").focus()
    p.keyboard.press("Enter")  # the keyboard opens it as a click does
    p.wait_for_selector("#explain[data-ready='1']")
    assert panel_rows(p) == earnings
    assert Decimal(p.locator("#explain .explain-sum").get_attribute("data-total")) == statement_amount(
        demo_home, period, "balance_sheet", "_current_earnings"
    )
    p.keyboard.press("Escape")
    # a cash-flow total: net income's lines and minus the month's lines on the working-capital accounts
    signed = journal(demo_home, period, "a.type in ('revenue', 'expense')", "jl.credit - jl.debit") + journal(
        demo_home, period, OPERATING_BS, "jl.credit - jl.debit"
    )
    figure = statement_amount(demo_home, period, "cash_flow", "net_cash_operating")
    assert sum(signed) == figure
    p.locator("#statement-cash_flow").scroll_into_view_if_needed()
    open_explanation(p, "#statement-cash_flow tr[data-line='net_cash_operating'] button.line-explain")
    summary = p.locator("#explain .explain-sum")
    assert int(summary.get_attribute("data-count")) == len(signed)
    assert Decimal(summary.get_attribute("data-total")) == figure and "ties" in summary.get_attribute("class")
    assert panel_rows(p) == largest(signed, LINES)
    p.keyboard.press("Escape")
    # headings and the tie-out check are not sums of balances: nothing to open
    assert p.locator("#statement-cash_flow tr[data-line='cash_difference'] button.line-explain").count() == 0
    # a month older than the embedded ones says where to see it
    p.select_option("#period-select", read(demo_home, "select min(period) from periods")[0][0])
    open_explanation(p, "#statement-balance_sheet tr[data-line='1000'] button.line-explain")
    assert "closeboard serve" in p.locator("#explain .explain-error").inner_text()
    p.keyboard.press("Escape")
    assert demo_page.errors == []


@pytest.fixture
def served(demo_home: Path, tmp_path: Path) -> Iterator[str]:
    home = tmp_path / "home"
    shutil.copytree(demo_home / "reports", home / "reports")
    shutil.copy(demo_home / "warehouse.read.duckdb", home / "warehouse.read.duckdb")
    server = uvicorn.Server(uvicorn.Config(create_app(home), host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_served_page_fetches_every_line(demo_home: Path, served: str, open_page) -> None:
    period = last_ended(demo_home)
    watched = open_page(f"{served}/latest.html")
    p = watched.page
    amounts = journal(demo_home, period, "a.type = 'revenue'", "jl.credit - jl.debit")
    open_explanation(p, ".tile[data-kpi='revenue']")
    assert p.locator("#explain").get_attribute("data-mode") == "served"
    assert sorted(panel_rows(p)) == sorted(amounts) and len(amounts) > LINES  # all of them, not the top 10
    assert p.locator("#explain .explain-more").count() == 0
    p.keyboard.press("Escape")
    open_explanation(p, "#statement-income_statement tr[data-line='4100'] button.line-explain")
    lines = journal(demo_home, period, "a.account_id = '4100'", "jl.credit - jl.debit")
    assert sorted(panel_rows(p)) == sorted(lines)
    p.keyboard.press("Escape")
    # a balance-sheet line: every opening balance and every line of the month, from the server
    open_explanation(p, "#statement-balance_sheet tr[data-line='1000'] button.line-explain")
    expected = [b for _, b in balances_before(demo_home, period, ASSETS)] + journal(
        demo_home, period, ASSETS, "jl.debit - jl.credit"
    )
    assert sorted(panel_rows(p)) == sorted(expected) and len(expected) > LINES
    assert Decimal(p.locator("#explain .explain-sum").get_attribute("data-total")) == statement_amount(
        demo_home, period, "balance_sheet", "1000"
    )
    assert [u for u in watched.requests if "/api/explain" in u]
    assert watched.errors == []


def test_the_explain_endpoint_keeps_the_servers_checks(demo_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(demo_home / "reports", home / "reports")
    shutil.copy(demo_home / "warehouse.read.duckdb", home / "warehouse.read.duckdb")
    client = TestClient(create_app(home), base_url="http://127.0.0.1:8765")
    html = client.get("/latest.html").text
    token = html.split('"token":"')[1].split('"')[0]
    period = last_ended(demo_home)
    assert client.get(f"/api/explain?figure=revenue&period={period}").status_code == 403
    ok = client.get(f"/api/explain?figure=revenue&period={period}", headers={"X-Closeboard-Token": token})
    assert ok.status_code == 200 and ok.json()["ties"] is True
    unknown = client.get("/api/explain?figure=revenu&period=" + period, headers={"X-Closeboard-Token": token})
    assert unknown.status_code == 400 and "did you mean revenue" in unknown.json()["error"]
    foreign = TestClient(create_app(home), base_url="http://evil.example:8765")
    assert (
        foreign.get(f"/api/explain?figure=revenue&period={period}", headers={"X-Closeboard-Token": token}).status_code
        == 421
    )


def test_the_xlsx_income_statement_and_explain_carry_the_budget(demo_home: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from reports.explain import explain, text_lines
    from reports.export import resolve, write_xlsx
    from warehouse.home import Home

    period = last_ended(demo_home)
    expected = reference_budget(demo_home / "demo", [period])
    book = load_workbook(write_xlsx(Home(demo_home), resolve(Home(demo_home), period), tmp_path / "pack.xlsx"))
    sheet = book["Income statement"]
    heading = next(r for r in sheet.iter_rows(values_only=True) if r and r[0] == "Line")
    assert list(heading[-3:]) == ["Budget", "Variance", "Variance %"]
    seen = 0
    rollup = None
    for row in sheet.iter_rows(min_row=4, values_only=True):
        if row[1] is None:
            rollup = "account" if str(row[0] or "").endswith("by account") else "subtype"
            continue
        ref = expected.get((period, row[1])) if rollup == "account" else None
        if ref:
            seen += 1
            assert (Decimal(str(row[7])).quantize(Decimal("0.01")), Decimal(str(row[8])).quantize(Decimal("0.01"))) == (
                ref["budget"],
                ref["variance"],
            ), row[1]
        elif rollup == "account":
            assert row[7] is None and row[8] is None, row[1]  # no budget: blank, never 0
    assert seen == len(expected)
    assert "Budget" not in [c.value for c in next(book["Balance sheet"].iter_rows(min_row=3, max_row=3))]
    con = connect(demo_home / "warehouse.read.duckdb", read_only=True)
    try:
        result = explain(con, "revenue", period, limit=3)
    finally:
        con.close()
    ref = expected[(period, "total_revenue")]
    assert (Decimal(result["budget"]["budget"]), Decimal(result["budget"]["variance"])) == (
        ref["budget"],
        ref["variance"],
    )
    assert any(line.startswith("budget: ") for line in text_lines(result))
