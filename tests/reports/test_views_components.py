"""One implementation of each component (issue 19): a user view is drawn by the main page's own
components (static/components.js: tile, chart, table, statement, explanation panel) with the format
tokens it receives as data. In Chromium, a view's table sorts and filters like the dashboard's and its
totals follow the rows kept, exact to the cent; figures are computed here from the read copy."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb

from reports.render import page_scripts, static_text
from reports.views import format_table, load_views, render_view_html

VIEW = """# By customer

```sql by_customer
select customer_id, count(*) as documents, sum(total) as invoiced, 'USD' as currency
from erp_invoices
where currency = 'USD' and status <> 'void'
group by customer_id
```

```table
query: by_customer
title: Invoiced by customer
columns: [customer_id, documents, invoiced]
formats: {documents: int, invoiced: usd}
sort: -invoiced
totals: [documents, invoiced]
```

```chart
query: by_customer
type: line
x: customer_id
y: [invoiced, documents]
format: usd
```

```tile
query: by_customer
value: invoiced
label: Invoiced (the query's first row)
format: money
```
"""


def usd(value: Decimal) -> str:
    text = f"${abs(value):,.2f}"
    return f"({text})" if value < 0 else text


def test_the_views_and_the_main_page_share_one_component_script_and_no_format_table() -> None:
    assert page_scripts("view.js")[1] == page_scripts("dashboard.js")[1]
    assert "window.closeboardComponents" in page_scripts("view.js")[1]
    for script in ("components.js", "view.js"):  # the formats arrive as data
        assert not re.search(
            r"[\"'](usd|eur|gbp|pct|days|months|int|money_cents|percent|integer)[\"']", static_text(script)
        )


def test_a_view_table_sorts_filters_and_totals_like_the_main_pages(demo_home: Path, tmp_path: Path, browser) -> None:
    folder = tmp_path / "views"
    folder.mkdir()
    (folder / "by_customer.md").write_text(VIEW, encoding="utf-8")
    (view,) = load_views(folder)
    read_copy = demo_home / "warehouse.read.duckdb"
    with duckdb.connect(str(read_copy), read_only=True) as con:
        html, problems = render_view_html(view, con, company="Demo Co", run_id="components-test")
        rows = con.execute(
            "select customer_id, total from erp_invoices where currency = 'USD' and status <> 'void'"
        ).fetchall()
    assert problems == []
    data = json.loads(re.search(r'id="view-data">(.*?)</script>', html, re.S).group(1))
    assert data["formats"] == format_table()
    page_file = tmp_path / "by_customer.html"
    page_file.write_text(html, encoding="utf-8")
    by_customer: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    for customer, total in rows:
        by_customer[customer][0] += 1
        by_customer[customer][1] += total
    ranked = sorted(by_customer.items(), key=lambda kv: kv[1][1], reverse=True)

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(page_file.as_uri())
        page.wait_for_selector("html[data-view-ready='true']", timeout=15_000)
        table = page.locator("table#table-view-0.view-table")
        body = table.locator("tbody tr")
        assert body.count() == len(ranked)
        assert body.nth(0).locator("td").all_inner_texts() == [ranked[0][0], str(ranked[0][1][0]), usd(ranked[0][1][1])]
        # sorted as `sort: -invoiced` says; a click on its header turns the order round, as on the main page
        header = table.locator("th[data-column='invoiced']")
        assert header.get_attribute("aria-sort") == "descending"
        header.locator("button").click()
        assert header.get_attribute("aria-sort") == "ascending"
        assert body.nth(0).locator("td").nth(2).inner_text() == usd(ranked[-1][1][1])
        # the filter keeps the matching rows and the totals follow them, exact to the cent
        customer = ranked[1][0]
        page.fill("#filter-view-0", customer)
        kept = [(c, v) for c, v in ranked if customer.lower() in c.lower()]
        assert body.count() == len(kept)
        assert table.locator("tfoot td").all_inner_texts() == [
            "Total",
            f"{sum(v[0] for _, v in kept):,}",
            usd(sum((v[1] for _, v in kept), Decimal(0))),
        ]
        # a line chart of two series over the query's rows: the exact figures behind each point
        chart = page.evaluate("""() => { const c = Chart.getChart(document.querySelector('canvas'));
                                 return {type: c.config.type, labels: c.data.labels,
                                         raw: c.data.datasets.map(d => d.raw)}; }""")
        order = [r["customer_id"] for r in data["tables"][0]["rows"]]
        assert chart["type"] == "line" and chart["labels"] == order
        assert [Decimal(v) for v in chart["raw"][0]] == [by_customer[c][1] for c in order]
        assert [int(v) for v in chart["raw"][1]] == [by_customer[c][0] for c in order]
        # a `money` tile: the company's currency, to the cent
        assert page.locator(".view-tile .tile-value").inner_text() == usd(
            next(v for c, v in by_customer.items() if c == data["tables"][0]["rows"][0]["customer_id"])[1]
        )
        assert not errors
    finally:
        page.close()


STATEMENTS = """# Statements

```statement
statement: income_statement
```

```statement
statement: balance_sheet
rollup: subtype
```
"""


def test_a_view_statement_line_opens_the_journal_lines_behind_it(demo_home: Path, tmp_path: Path, browser) -> None:
    """As on the main page: a click on an account's line lists its journal lines of the month, their
    count and sum equal to the ledger's (computed here from erp_journal_lines) and to the figure."""
    folder = tmp_path / "views"
    folder.mkdir()
    (folder / "statements.md").write_text(STATEMENTS, encoding="utf-8")
    (view,) = load_views(folder)
    with duckdb.connect(str(demo_home / "warehouse.read.duckdb"), read_only=True) as con:
        html, problems = render_view_html(view, con, company="Demo Co", run_id="components-test")
        period = con.execute("select max(period) from periods where not is_open").fetchone()[0]
        line_id, amount = con.execute(
            "select line_id, amount from mart_statements where statement = 'income_statement' and rollup = 'account'"
            " and kind = 'account' and period = ? order by abs(amount) desc limit 1",
            [period],
        ).fetchone()
        count, credit_less_debit = con.execute(
            "select count(*), sum(credit - debit) from erp_journal_lines"
            " where account_id = ? and strftime(posted_date, '%Y-%m') = ?",
            [line_id, period],
        ).fetchone()
    assert problems == [] and count > 0 and abs(credit_less_debit) == abs(amount)
    page_file = tmp_path / "statements.html"
    page_file.write_text(html, encoding="utf-8")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(page_file.as_uri())
        page.wait_for_selector("html[data-view-ready='true']", timeout=15_000)
        assert page.locator("#period-select").input_value() == period
        row = page.locator(f".view-statement-table >> nth=0 >> tr[data-line='{line_id}']")
        row.locator(".line-explain").click()
        panel = page.locator("#explain")
        assert panel.is_visible() and panel.get_attribute("data-line") == line_id
        summed = panel.locator(".explain-sum")
        assert "ties" in summed.get_attribute("class").split()
        assert int(summed.get_attribute("data-count")) == count
        assert Decimal(summed.get_attribute("data-total")) == amount
        assert (
            panel.locator(".explain-rows tbody tr").count() == min(count, 10)
            and panel.locator(".explain-command").count() == 1
        )
        page.keyboard.press("Escape")
        assert panel.is_hidden()
        # a balance-sheet line by subtype: its balances, summing to the figure
        line = page.locator(".view-statement-table").nth(1).locator("tr.kind-subtype .line-explain").first
        figure = Decimal(line.evaluate("b => b.closest('tr').querySelector('td').dataset.raw"))
        line.click()
        assert Decimal(panel.locator(".explain-sum").get_attribute("data-total")) == figure
        assert not errors
    finally:
        page.close()
