"""Views the user describes (issue 19): markdown + named SQL + tile/chart/table components, validated
with file and line, rendered at each refresh as offline pages, a broken view never breaking the rest.

Figures are compared with values computed here from the read copy's raw rows in Python (Decimal),
not with the view's own SQL."""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from reports.render import layout
from reports.views import check_views, load_views, shipped_page_view, view_page_data
from tests.conftest import AS_OF, cli_in_process, copy_home, refresh_in_process

CHROMIUM = "/usr/bin/chromium"

GOOD_VIEW = """# Invoicing <script>alert(1)</script>

Some **prose** and <b>raw html</b> shown as text.

```sql monthly
select strftime(issue_date, '%Y-%m') as period, sum(total) as invoiced
from erp_invoices
where currency = 'USD' and status <> 'void'
group by period
order by period
```

```sql by_customer
select customer_id, sum(total) as invoiced, count(*) as documents
from erp_invoices
where currency = 'USD' and status <> 'void'
group by customer_id
```

```tile
query: monthly
label: Invoiced
value: invoiced
format: usd
comparison: mom
```

```chart
query: monthly
type: bar
x: period
y: invoiced
title: Invoiced per month
```

```table
query: by_customer
columns: [customer_id, documents, invoiced]
formats: {documents: int, invoiced: usd}
sort: -invoiced
totals: [documents, invoiced]
```
"""

# the statement and check components, an area chart and a tile with its budget (issue 19's components)
CLOSE_VIEW = """# Close pack

```statement
statement: income
title: Income statement
```

```statement
statement: balance_sheet
rollup: subtype
```

```check
check: R2_bank_vs_book
```

```sql kpis
select period,
       max(value) filter (where kpi = 'revenue') as revenue,
       max(value) filter (where kpi = 'cash') as cash
from mart_kpis
group by period
order by period
```

```tile
query: kpis
label: Revenue
value: revenue
format: usd
budget: revenue
```

```chart
query: kpis
type: area
x: period
y: cash
```
"""

BROKEN_VIEW = """# Broken

```sql nope
select missing_column
from erp_invoices
```

```tile
query: nope
value: missing_column
```
"""


def usd(value: Decimal) -> str:
    text = f"${abs(value):,.2f}"
    return f"({text})" if value < 0 else text


@contextmanager
def opened(page_path: Path, ready: str = "html[data-view-ready='true']") -> Iterator[tuple[Any, list, list, list]]:
    """`page_path` in headless Chromium: (the page, its script errors, its requests, its dialogs)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            errors, requests, dialogs = [], [], []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(page_path.as_uri())
            page.wait_for_selector(ready, timeout=15_000)
            yield page, errors, requests, dialogs
        finally:
            browser.close()


def invoice_rows(read_copy: Path) -> list[tuple]:
    with duckdb.connect(str(read_copy), read_only=True) as con:
        return con.execute("select issue_date, customer_id, total, currency, status from erp_invoices").fetchall()


@pytest.fixture(scope="module")
def refreshed(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A copy of the demo home with a good and a broken view, refreshed in process."""
    home = copy_home(demo_home, tmp_path_factory.mktemp("views") / "home")
    (home / "views").mkdir(exist_ok=True)
    (home / "views" / "invoicing.md").write_text(GOOD_VIEW, encoding="utf-8")
    (home / "views" / "broken.md").write_text(BROKEN_VIEW, encoding="utf-8")
    (home / "views" / "close_pack.md").write_text(CLOSE_VIEW, encoding="utf-8")
    # the CFO page's view with a column its query does not have: the shipped one lays the page out
    cfo = shipped_page_view().read_text(encoding="utf-8").replace("{name: customer, label", "{name: customr, label")
    (home / "views" / "cfo.md").write_text(cfo, encoding="utf-8")
    refresh_in_process(home)
    status = json.loads((home / "reports" / "status.json").read_text(encoding="utf-8"))
    return home, status


def test_a_broken_view_leaves_the_refresh_and_the_other_pages_intact(refreshed) -> None:
    home, status = refreshed
    assert status["views"] == ["broken", "close_pack", "invoicing"]
    assert list(status["failed_views"]) == ["broken"]
    assert "broken.md:4" in status["failed_views"]["broken"][0]
    assert (home / "reports" / "latest.html").stat().st_size > 0
    broken = (home / "reports" / "views" / "broken.html").read_text(encoding="utf-8")
    assert "This view could not be shown" in broken and "missing_column" in broken
    good = (home / "reports" / "views" / "invoicing.html").read_text(encoding="utf-8")
    assert "could not be shown" not in good
    index = (home / "reports" / "views" / "index.html").read_text(encoding="utf-8")
    assert 'href="invoicing.html"' in index and "failed" in index
    assert 'href="views/index.html"' in (home / "reports" / "latest.html").read_text(encoding="utf-8")  # linked
    # a broken CFO view: the refresh says so (status.json and its output) and the page is the shipped layout
    note = status["page_view"]["note"]
    assert status["page_view"]["path"] == str(home / "views" / "cfo.md")
    assert "section 'open_invoices': its query open_invoices.sql has no column 'customr'" in note, note
    assert "shipped CFO view" in note and "customer" in note.split("(it has")[1]
    html = (home / "reports" / "latest.html").read_text(encoding="utf-8")
    assert re.findall(r'data-section="([a-z_]+)"', html) == [s["id"] for s in layout()["sections"]]


def test_a_user_view_renders_in_chromium_with_exact_figures(refreshed) -> None:
    home, _ = refreshed
    rows = [r for r in invoice_rows(home / "warehouse.read.duckdb") if r[3] == "USD" and r[4] != "void"]
    monthly: dict[str, Decimal] = defaultdict(Decimal)
    customers: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    for issued, customer, total, _, _ in rows:
        monthly[issued.isoformat()[:7]] += total
        customers[customer][0] += 1
        customers[customer][1] += total
    periods = sorted(monthly)
    last = f"{AS_OF.replace(day=1) - timedelta(days=1):%Y-%m}"  # the last ended month: the tile's
    before = f"{AS_OF.replace(day=1) - timedelta(days=32):%Y-%m}"
    assert last in monthly and before in monthly
    delta = monthly[last] - monthly[before]
    ranked = sorted(customers.items(), key=lambda kv: kv[1][1], reverse=True)

    with opened(home / "reports" / "views" / "invoicing.html") as (page, errors, requests, dialogs):
        tile = page.locator(".view-tile")
        assert tile.locator(".tile-label").text_content() == f"Invoiced · {last}"
        assert tile.locator(".tile-value").inner_text() == usd(monthly[last])
        sign = "+" if delta > 0 else "−"
        assert tile.locator(".tile-change").inner_text().startswith(f"MOM {sign}{usd(abs(delta))}")
        # the period selector redraws the tile with that month's exact figure
        page.select_option("#period-select", before)
        assert tile.locator(".tile-label").text_content() == f"Invoiced · {before}"
        assert tile.locator(".tile-value").inner_text() == usd(monthly[before])
        page.select_option("#period-select", last)
        assert tile.locator(".tile-value").inner_text() == usd(monthly[last])
        chart = page.evaluate("""() => { const c = Chart.getChart(document.querySelector('canvas'));
                                 return {type: c.config.type, labels: c.data.labels, raw: c.data.datasets[0].raw}; }""")
        assert chart["type"] == "bar" and chart["labels"] == periods
        assert [Decimal(v) for v in chart["raw"]] == [monthly[p] for p in periods]
        body = page.locator("table.view-table tbody tr")
        assert body.count() == len(ranked)
        first = body.nth(0).locator("td").all_inner_texts()
        assert first == [ranked[0][0], str(ranked[0][1][0]), usd(ranked[0][1][1])]
        totals = page.locator("table.view-table tfoot td").all_inner_texts()
        assert totals == ["Total", f"{len(rows):,}", usd(sum(monthly.values()))]
        # the markdown's HTML is text, and nothing ran from it or left the file
        assert "<script>alert(1)</script>" in page.locator("h1").nth(1).inner_text()
        assert page.locator("b").count() == 0 and page.locator("strong", has_text="prose").count() == 1
        assert not errors and not dialogs
        assert [u for u in requests if not u.startswith("file:")] == []


def pct(value: Decimal) -> str:
    text = f"{abs(value):,.2f}%"
    return f"({text})" if value < 0 else text


def statement_texts(read_copy: Path, statement: str, rollup: str, period: str) -> list[list[str]]:
    """Each line of a statement in `period` as the page must show it, from mart_statements: the
    label, the four columns to the cent ("no data" for null), then the budget columns where the month
    has a budget."""
    with duckdb.connect(str(read_copy), read_only=True) as con:
        rows = con.execute(
            "select label, kind, amount, prior_month, prior_year, ytd, budget, variance, variance_pct "
            "from mart_statements where statement = ? and rollup = ? and period = ? order by line_order",
            [statement, rollup, period],
        ).fetchall()
    budgeted = any(r[6] is not None for r in rows)
    out = []
    for label, kind, *values in rows:
        money = ["" if kind == "heading" else "no data" if v is None else usd(v) for v in values[:4]]
        budget = ["" if v is None else usd(v) for v in values[4:6]] + ["" if values[6] is None else pct(values[6])]
        out.append([label, *money, *(budget if budgeted else [])])
    return out


def shown_rows(page: Any, index: int) -> list[list[str]]:
    return [
        [cell.strip() for cell in row.locator("th, td").all_inner_texts()]
        for row in page.locator(".view-statement-table").nth(index).locator("tbody tr").all()
    ]


def test_a_view_with_statements_a_check_card_an_area_chart_and_a_budget_renders_exactly(refreshed) -> None:
    """Issue 19's statement and check components, the area chart and a tile's budget, in Chromium:
    every statement figure equals mart_statements (to the cent, in every column, after switching
    months too); the check card's verdict and figures equal recon_results and its sentence is the
    dashboard's own for that month; the budget equals mart_budget's."""
    home, status = refreshed
    assert "close_pack" not in status["failed_views"]
    read_copy = home / "warehouse.read.duckdb"
    last = f"{AS_OF.replace(day=1) - timedelta(days=1):%Y-%m}"
    before = f"{AS_OF.replace(day=1) - timedelta(days=32):%Y-%m}"
    year_before = f"{AS_OF.replace(day=1) - timedelta(days=366):%Y-%m}"
    with duckdb.connect(str(read_copy), read_only=True) as con:
        verdict = dict(
            zip(
                ("status", "expected", "actual", "difference"),
                con.execute(
                    "select status, expected, actual, difference from recon_results "
                    "where check_id = 'R2_bank_vs_book' and period = ?",
                    [last],
                ).fetchone(),
                strict=True,
            )
        )
        budget, variance, favourable = con.execute(
            "select budget, variance, favourable from mart_budget where kpi = 'revenue' and period = ?", [last]
        ).fetchone()
        cash = dict(con.execute("select period, value from mart_kpis where kpi = 'cash' order by period").fetchall())
    with opened(home / "reports" / "views" / "close_pack.html") as (page, errors, requests, _):
        assert page.locator("#period-select").input_value() == last
        assert page.locator(".view-statement h2").all_inner_texts() == ["Income statement", "Balance sheet"]
        for period in (last, year_before):
            page.select_option("#period-select", period)
            assert shown_rows(page, 0) == statement_texts(read_copy, "income_statement", "account", period)
            assert shown_rows(page, 1) == statement_texts(read_copy, "balance_sheet", "subtype", period)
        page.select_option("#period-select", last)
        heads = page.locator(".view-statement-table").nth(0).locator("thead th").all_inner_texts()
        assert heads[:3] == ["Line", last, f"Prior month ({before})"]
        card = page.locator(".view-check .check")
        assert card.get_attribute("data-status") == verdict["status"]
        assert card.locator(".badge").inner_text().lower() == verdict["status"]
        card.locator("summary").click()  # the figures on demand, as on the dashboard (one card: format.js checkCard)
        assert card.locator(".figures").inner_text() == (
            f"expected {usd(verdict['expected'])} · actual {usd(verdict['actual'])} · "
            f"difference {usd(verdict['difference'])}"
        )
        lead = card.locator(".lead").inner_text()
        assert lead.startswith("Bank vs book ")
        tile_budget = page.locator(".view-tile .tile-budget")
        word = "over" if variance > 0 else "under"
        assert f"{usd(abs(variance))} (" in tile_budget.inner_text() and f"{word} budget {usd(budget)}" in (
            tile_budget.inner_text()
        )
        assert ("fav" if favourable else "unfav") in tile_budget.get_attribute("class").split()
        # a click on a statement line: the view carries no journal lines, so it says how to see them
        commands = []
        for index in (0, 1):
            button = page.locator(".view-statement-table").nth(index).locator(".line-explain").first
            line_id = button.evaluate("b => b.closest('tr').dataset.line")
            button.click()
            panel = page.locator("#explain")
            assert panel.is_visible() and panel.get_attribute("data-line") == line_id
            commands.append((panel.locator(".explain-command").inner_text(), button.inner_text()))
            page.keyboard.press("Escape")
            assert panel.is_hidden()
        assert commands[0][0].startswith("closeboard explain --statement income --line ")
        assert commands[1][0].startswith("closeboard explain --statement balance --line ")
        assert commands[0][0].endswith(f" --period {last}") and commands[1][0].endswith(
            f" --rollup subtype --period {last}"
        )
        chart = page.evaluate("""() => { const c = Chart.getChart(document.querySelector('canvas'));
                                 return {type: c.config.type, fill: c.data.datasets[0].fill,
                                         labels: c.data.labels, raw: c.data.datasets[0].raw}; }""")
        assert (chart["type"], chart["fill"]) == ("line", "origin")  # an area chart
        assert (
            dict(zip(chart["labels"], [None if v is None else Decimal(v) for v in chart["raw"]], strict=True)) == cash
        )
        assert not errors and [u for u in requests if not u.startswith("file:")] == []
    for command, label in commands:  # what the panel says to run explains that line
        explained = cli_in_process(*command.split()[1:], home=home)
        assert label in explained.stdout and "journal line" in explained.stdout.lower(), explained.stdout
    # the sentence is the dashboard's: its card for the same check and month says the same
    with opened(home / "reports" / "latest.html", "html[data-ready='1']") as (dashboard, errors, _, _):
        if dashboard.locator("#period-select").input_value() != last:
            dashboard.select_option("#period-select", last)
        assert dashboard.locator("article.check[data-check='R2_bank_vs_book'] .lead").inner_text() == lead
        assert not errors


def _view(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "views"
    folder.mkdir(exist_ok=True)
    (folder / "v.md").write_text(text, encoding="utf-8")
    return folder


def _sql(body: str, component: str = "") -> str:
    # line 1 title, 2 blank, 3 the fence, 4.. the SQL
    return f"# V\n\n```sql q\n{body}\n```\n{component}"


CASES = {
    "not a select": (_sql("delete from erp_invoices"), 4, "is not a SELECT"),
    "two statements": (_sql("select 1 as a;\nselect 2 as b"), 4, "holds 2 statements"),
    "unknown table": (_sql("select 1 as a\nfrom erp_invoice"), 5, "unknown table"),
    "unknown column": (_sql("select customer_id,\n  totl\nfrom erp_invoices"), 5, "unknown column"),
    "sum across currencies": (
        _sql("select customer_id,\n  sum(total) as t\nfrom erp_invoices\ngroup by 1"),
        5,
        "without keeping currencies apart",
    ),
    "positional parameter": (_sql("select total\nfrom erp_invoices\nwhere customer_id = ?"), 6, "page input"),
    "template from page input": (
        _sql("select total\nfrom erp_invoices\nwhere customer_id = '{{ page.customer }}'"),
        6,
        "builds SQL from page input",
    ),
    "named parameter": (_sql("select total from erp_invoices where customer_id = $customer"), 4, "page input"),
    "missing query": (_sql("select 1 as a", "\n```tile\nvalue: a\nquery: other\n```\n"), 9, "no query named 'other'"),
    "missing column": (_sql("select 1 as a", "\n```table\nquery: q\ncolumns: [a, b]\n```\n"), 9, "has no column 'b'"),
    "unknown format": (
        _sql("select 1 as a", "\n```tile\nquery: q\nvalue: a\nformat: dollars\n```\n"),
        10,
        "unknown format",
    ),
    "unknown statement": (
        _sql("select 1 as a", "\n```statement\ntitle: P&L\nstatement: income_statment\n```\n"),
        9,
        "statement 'income_statment' is not a statement",
    ),
    "unknown rollup": (
        _sql("select 1 as a", "\n```statement\nstatement: cash\nrollup: type\n```\n"),
        9,
        "rollup 'type' is not a rollup",
    ),
    "statement without its name": (
        _sql("select 1 as a", "\n```statement\nrollup: account\n```\n"),
        7,
        "no 'statement'",
    ),
    "unknown check id": (
        _sql("select 1 as a", "\n```check\ncheck: R2_bank\n```\n"),
        8,
        "check 'R2_bank' is not a check",
    ),
    "unknown budget KPI": (
        _sql("select 1 as a", "\n```tile\nquery: q\nvalue: a\nbudget: revenu\n```\n"),
        10,
        "budget 'revenu' is not a KPI",
    ),
}
FIXES = {  # what the fix of a new component's error says: the names to use instead
    "unknown statement": "did you mean income_statement? use one of income, balance, cash, income_statement",
    "unknown check id": "did you mean R2_bank_vs_book?",
    "unknown budget KPI": "did you mean revenue?",
}


@pytest.mark.parametrize("case", CASES)
def test_each_validation_error_names_file_line_and_fix(case: str, demo_home: Path, tmp_path: Path) -> None:
    text, line, message = CASES[case]
    folder = _view(tmp_path, text)
    (view,) = check_views(folder, demo_home / "warehouse.read.duckdb")
    assert [p.line for p in view.problems] == [line], [str(p) for p in view.problems]
    problem = view.problems[0]
    assert message in problem.message and problem.fix
    assert FIXES.get(case, "") in problem.fix
    assert str(problem).startswith(f"{folder / 'v.md'}:{line}: ")


def test_totals_over_two_currencies_are_refused_at_render(demo_home: Path, tmp_path: Path) -> None:
    text = _sql(
        "select * from (values ('a', 1.00::decimal(18,2), 'USD'), ('b', 2.00, 'EUR')) t(name, amount, currency)",
        "\n```table\nquery: q\ntotals: [amount]\n```\n",
    )
    (view,) = load_views(_view(tmp_path, text))
    with duckdb.connect(str(demo_home / "warehouse.read.duckdb"), read_only=True) as con:
        data = view_page_data(view, con)
    assert len(data["problems"]) == 1 and "more than one currency (EUR, USD)" in data["problems"][0]
    assert data["problems"][0].startswith(f"{view.path}:9: ")


def test_cli_view_new_scaffolds_a_view_that_checks_clean(
    demo_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.cli import main

    home = copy_home(demo_home, tmp_path / "home", without=("dagster", "reports"))
    monkeypatch.setenv("CLOSEBOARD_HOME", str(home))  # the CLI exports both: restored after the test
    monkeypatch.setenv("CLOSEBOARD_CONFIG", str(home / "closeboard.yaml"))
    runner = CliRunner()
    made = runner.invoke(main, ["--home", str(home), "view", "new", "my_page"])
    assert made.exit_code == 0, made.output
    assert (home / "views" / "my_page.md").exists()
    again = runner.invoke(main, ["--home", str(home), "view", "new", "my_page"])
    assert again.exit_code == 1 and "exists already" in again.output
    shutil.copyfile(shipped_page_view(), home / "views" / "cfo.md")  # the CFO page's view, as the demo copies it
    checked = runner.invoke(main, ["--home", str(home), "views", "check"])
    assert checked.exit_code == 0, checked.output
    assert "✓" in checked.output and "my_page.md" in checked.output
    assert f"✓ {home / 'views' / 'cfo.md'}" in checked.output
    text = shipped_page_view().read_text(encoding="utf-8")
    (home / "views" / "cfo.md").write_text(text.replace("{kpi: cash, label", "{kpi: cashh, label"), encoding="utf-8")
    checked = runner.invoke(main, ["--home", str(home), "views", "check"])
    line = text.splitlines().index("kpis:") + 1
    assert checked.exit_code == 1 and f"cfo.md:{line}: tile: kpi 'cashh' is not a KPI" in checked.output
    shutil.copyfile(shipped_page_view(), home / "views" / "cfo.md")
    (home / "views" / "bad.md").write_text(_sql("select nothing_here from erp_invoices"), encoding="utf-8")
    checked = runner.invoke(main, ["--home", str(home), "views", "check"])
    assert checked.exit_code == 1 and "bad.md:4:" in checked.output


def test_the_shipped_example_views_check_clean(demo_home: Path) -> None:
    folder = Path(__file__).resolve().parents[1] / "connectors" / "demo" / "views"
    views = check_views(folder, demo_home / "warehouse.read.duckdb")
    assert sorted(v.name for v in views) == ["average_invoice", "cash_runway", "revenue_by_customer"]
    assert all(not v.problems for v in views), [str(p) for v in views for p in v.problems]


def test_the_demo_copies_the_example_views_and_keeps_the_users(tmp_path: Path) -> None:
    from pipelines.cli import Env, _write_demo_config

    summary = {"first_period": "2024-06", "as_of": "2026-06-15"}
    _write_demo_config(Env(None, str(tmp_path)), summary)
    shipped = sorted(
        p.name for p in (Path(__file__).resolve().parents[1] / "connectors" / "demo" / "views").glob("*.md")
    )
    assert sorted(p.name for p in (tmp_path / "views").glob("*.md")) == sorted([*shipped, "cfo.md"])
    (tmp_path / "views" / "cash_runway.md").write_text("# mine\n", encoding="utf-8")
    _write_demo_config(Env(None, str(tmp_path)), summary)
    assert (tmp_path / "views" / "cash_runway.md").read_text(encoding="utf-8") == "# mine\n"


def test_a_view_reads_the_warehouse_only(demo_home: Path, tmp_path: Path) -> None:
    (view,) = check_views(
        _view(tmp_path, _sql("select *\nfrom read_csv('/etc/hostname')")), demo_home / "warehouse.read.duckdb"
    )
    assert [p.line for p in view.problems] == [5] and "disabled" in view.problems[0].message
