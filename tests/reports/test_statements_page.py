"""The Statements section of the demo's page in headless Chromium: the income statement, balance sheet
and cash flow of the focus period, every figure exact to the cent and equal to mart_statements, the
identities stated on the page, the period and rollup pickers, "no data" for unknown columns, and
screenshots at desktop and phone width (plus a print PDF) for a person to look at."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from reports import formatting
from tests.conftest import FIRST_PERIOD, read
from tests.reports.conftest import PHONE

STATEMENTS = ("income_statement", "balance_sheet", "cash_flow")
COLUMNS = ("amount", "prior_month", "prior_year", "ytd")


@pytest.fixture
def page(demo_home: Path, open_page):
    watched = open_page((demo_home / "reports" / "latest.html").as_uri())
    yield watched
    assert watched.errors == [], watched.errors
    assert watched.foreign_requests() == []


def mart_lines(home: Path, period: str, statement: str, rollup: str = "account") -> list[tuple]:
    return read(
        home,
        "select line_id, label, amount, prior_month, prior_year, ytd from mart_statements"
        " where period = ? and statement = ? and rollup = ? order by line_order",
        [period, statement, rollup],
    )


def shown_lines(page, statement: str) -> list[tuple]:
    return page.locator(f"#statement-{statement} tbody tr").evaluate_all(
        """rows => rows.map(r => [r.getAttribute('data-line'), r.querySelector('th').textContent,
              ...['amount', 'prior_month', 'prior_year', 'ytd'].map(c => {
                  const td = r.querySelector(`td[data-column='${c}']`);
                  return [td.getAttribute('data-raw'), td.textContent];
              })])"""
    )


def assert_statement_equals_mart(page, home: Path, period: str, statement: str, rollup: str = "account") -> None:
    expected = mart_lines(home, period, statement, rollup)
    shown = shown_lines(page, statement)
    assert [s[0] for s in shown] == [e[0] for e in expected]
    for (line_id, label, *values), (_, shown_label, *cells) in zip(expected, shown, strict=True):
        assert shown_label == label
        for value, (raw, text) in zip(values, cells, strict=True):
            if value is None:
                assert raw == "" and text in ("", "no data"), (line_id, text)
            else:
                assert Decimal(raw) == value, (statement, line_id)
                assert text == formatting.display(value, "money_cents", "USD"), (statement, line_id, text)


def last_ended(home: Path) -> str:
    return read(home, "select max(period) from periods where not is_open")[0][0]


def test_statements_show_every_line_exact_to_the_cent(demo_home: Path, page, tmp_path: Path, open_page) -> None:
    period = last_ended(demo_home)
    p = page.page
    section = p.locator("#sec-statements")
    section.scroll_into_view_if_needed()
    assert section.is_visible()
    for statement in STATEMENTS:
        assert p.locator(f"#statement-{statement}").is_visible()
        assert_statement_equals_mart(p, demo_home, period, statement)
    # a demo figure, as a reader sees it: revenue of the month to the cent (the tile rounds)
    revenue = read(demo_home, "select value from mart_kpis where period = ? and kpi = 'revenue'", [period])[0][0]
    cell = p.locator("#statement-income_statement tr[data-line='total_revenue'] td[data-column='amount']")
    assert cell.inner_text() == formatting.display(revenue, "money_cents", "USD")
    assert cell.inner_text().count(".") == 1 and len(cell.inner_text().split(".")[1]) == 2
    # the identities, stated on the page
    assert p.locator("[data-statement='cash_flow'] .statement-check").inner_text().startswith("Ties:")
    assert p.locator("[data-statement='balance_sheet'] .statement-check").inner_text().startswith("Balances:")
    # column headings name the months compared
    headings = p.locator("#statement-income_statement thead th").all_inner_texts()
    assert headings[1] == period and "Year to date" in headings[4]

    section.screenshot(path=str(tmp_path / "statements-desktop.png"))
    p.screenshot(path=str(tmp_path / "dashboard-desktop.png"), full_page=True)
    phone = open_page((demo_home / "reports" / "latest.html").as_uri(), PHONE)
    phone_section = phone.page.locator("#sec-statements")
    phone_section.scroll_into_view_if_needed()
    phone_section.screenshot(path=str(tmp_path / "statements-phone.png"))
    # at phone width the page does not scroll sideways; a statement scrolls inside its own box, with
    # the line labels held in place
    assert phone.page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    label = phone.page.locator("#statement-income_statement tbody th").first
    assert label.evaluate("e => getComputedStyle(e).position") == "sticky"
    assert phone.errors == [] and phone.foreign_requests() == []
    # print: every column on the paper, nothing cut off
    p.emulate_media(media="print")
    wrap = p.locator("[data-statement='income_statement'] .statement-wrap")
    assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    section.screenshot(path=str(tmp_path / "statements-print.png"))
    p.pdf(path=str(tmp_path / "statements.pdf"), format="A4", landscape=True)
    for name in (
        "statements-desktop.png",
        "statements-phone.png",
        "statements-print.png",
        "dashboard-desktop.png",
        "statements.pdf",
    ):
        assert (tmp_path / name).stat().st_size > 10_000, name
    print(f"screenshots: {tmp_path}")


def test_the_period_selector_and_the_rollup_picker_redraw_the_statements(demo_home: Path, page) -> None:
    p = page.page
    period = "2025-12"
    p.select_option("#period-select", period)
    for statement in STATEMENTS:
        assert_statement_equals_mart(p, demo_home, period, statement)
    p.select_option("#rollup-statements", "subtype")
    for statement in STATEMENTS:
        assert_statement_equals_mart(p, demo_home, period, statement, rollup="subtype")
    assert p.locator("#statement-income_statement tr[data-line='opex:payroll']").is_visible()


def test_unknown_columns_say_no_data(demo_home: Path, page) -> None:
    """The first period's same month a year before precedes the ledger: "no data", not 0.00."""
    p = page.page
    p.select_option("#period-select", FIRST_PERIOD)
    cell = p.locator("#statement-income_statement tr[data-line='total_revenue'] td[data-column='prior_year']")
    assert cell.inner_text() == "no data"
    assert cell.get_attribute("data-raw") == ""
    assert_statement_equals_mart(p, demo_home, FIRST_PERIOD, "balance_sheet")


def test_a_rounded_money_tile_shows_its_exact_figure_on_hover_and_focus(demo_home: Path, page) -> None:
    period = last_ended(demo_home)
    revenue = read(demo_home, "select value from mart_kpis where period = ? and kpi = 'revenue'", [period])[0][0]
    tile = page.page.locator(".tile[data-kpi='revenue']")
    exact = tile.locator(".tile-exact")
    assert tile.locator(".tile-value").inner_text() == formatting.display(revenue, "money", "USD")
    assert not exact.is_visible()
    tile.hover()
    assert exact.inner_text() == "exactly " + formatting.display(revenue, "money_cents", "USD")
    page.page.mouse.move(0, 0)
    page.page.locator(".tile[data-kpi='cash']").focus()
    cash = read(demo_home, "select value from mart_kpis where period = ? and kpi = 'cash'", [period])[0][0]
    assert page.page.locator(".tile[data-kpi='cash'] .tile-exact").inner_text() == (
        "exactly " + formatting.display(cash, "money_cents", "USD")
    )
