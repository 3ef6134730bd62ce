"""The dashboard opened from disk (file mode) in headless Chromium, on the session's demo home:
no console error and no network request; tiles, charts and tables show the warehouse's figures;
sorting, filtering with totals, the period selector and the runway what-if work in the page."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from reports import formatting
from reports.render import layout
from tests.conftest import read
from tests.reports.conftest import PHONE
from tests.reports.pages import column, ended_periods, kpis_of, total

PAGE_BUDGET = 1_500_000


def tiles_spec() -> list[dict]:
    return next(s for s in layout()["sections"] if s["component"] == "tiles")["tiles"]


def shown_tiles(page) -> dict[str, tuple[str, str]]:
    return {
        t.get_attribute("data-kpi"): (t.get_attribute("data-value"), t.locator(".tile-value").inner_text())
        for t in page.locator(".tile").all()
    }


def assert_tiles_equal_marts(page, home: Path, period: str) -> None:
    expected = kpis_of(home, period)
    shown = shown_tiles(page)
    assert set(shown) == {t["kpi"] for t in tiles_spec()}
    for tile in tiles_spec():
        value = expected[tile["kpi"]]
        raw, text = shown[tile["kpi"]]
        assert (Decimal(raw) if raw else None) == value, (period, tile["kpi"])
        assert text == formatting.display(value, tile["format"], "USD"), (period, tile["kpi"])


@pytest.fixture
def page(demo_home: Path, open_page):
    watched = open_page((demo_home / "reports" / "latest.html").as_uri())
    yield watched
    assert watched.errors == [], watched.errors
    assert watched.foreign_requests() == []


def test_page_is_one_offline_file_within_budget_with_no_console_error(
    demo_home: Path, page, tmp_path: Path, open_page
) -> None:
    html = (demo_home / "reports" / "latest.html").read_text(encoding="utf-8")
    assert len(html.encode()) < PAGE_BUDGET
    assert "http://" not in html.split("<script")[0] and "https://" not in html.split("<script")[0]
    assert page.requests == [(demo_home / "reports" / "latest.html").as_uri()]
    # both screenshots, for a person to look at; at phone width nothing scrolls sideways
    page.page.screenshot(path=str(tmp_path / "dashboard-desktop.png"), full_page=True)
    phone = open_page((demo_home / "reports" / "latest.html").as_uri(), PHONE)
    phone.page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
    assert phone.page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    assert phone.errors == [] and phone.foreign_requests() == []
    assert (tmp_path / "dashboard-desktop.png").stat().st_size > 10_000
    assert (tmp_path / "dashboard-phone.png").stat().st_size > 10_000
    print(f"screenshots: {tmp_path}")


def test_every_kpi_tile_shows_the_mart_value_of_the_last_ended_month(demo_home: Path, page) -> None:
    last = ended_periods(demo_home)[-1]
    assert page.page.locator("#focus-period").inner_text() == last
    assert_tiles_equal_marts(page.page, demo_home, last)
    # month-over-month change of revenue, derived from the marts
    now, before = kpis_of(demo_home, last)["revenue"], kpis_of(demo_home, ended_periods(demo_home)[-2])["revenue"]
    pct = (abs(now - before) * 100 / abs(before)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    mom = page.page.locator(".tile[data-kpi='revenue'] .mom").inner_text()
    assert mom == f"{'▲' if now > before else '▼'} {pct:,}% MoM"


def test_sorting_a_table_by_amount_orders_its_rows(page) -> None:
    header = page.page.locator("#table-open_invoices th[data-column='open_balance'] button")
    header.click()
    values = [Decimal(v) for v in column(page.page, "open_invoices", "open_balance")]
    assert len(values) > 5
    assert values == sorted(values, reverse=True)
    assert (
        page.page.locator("#table-open_invoices th[data-column='open_balance']").get_attribute("aria-sort")
        == "descending"
    )
    header.press("Enter")  # the same from the keyboard
    values = [Decimal(v) for v in column(page.page, "open_invoices", "open_balance")]
    assert values == sorted(values)
    page.page.locator("#table-open_invoices th[data-column='customer'] button").click()
    names = column(page.page, "open_invoices", "customer")
    assert names == sorted(names, key=str.casefold)


def test_a_text_filter_reduces_rows_and_the_total_follows(demo_home: Path, page) -> None:
    p = page.page
    before = column(p, "open_invoices", "open_balance")
    total_before = total(p, "open_invoices", "open_balance")
    # the total of every open invoice, the month's AR (the file embeds the first rows only: test_page_scale.py)
    assert total_before == kpis_of(demo_home, ended_periods(demo_home)[-1])["ar"]
    customer = column(p, "open_invoices", "customer")[0]
    p.locator("#filter-open_invoices").fill(customer.lower())
    after = column(p, "open_invoices", "open_balance")
    assert 0 < len(after) < len(before)
    assert set(column(p, "open_invoices", "customer")) == {customer}
    total_after = total(p, "open_invoices", "open_balance")
    assert total_after == sum(Decimal(v) for v in after) != total_before
    assert p.locator(
        "#table-open_invoices tfoot td[data-column='open_balance']"
    ).first.inner_text() == formatting.money(total_after, "USD", cents=True)
    p.locator("#filter-open_invoices").fill("")
    assert len(column(p, "open_invoices", "open_balance")) == len(before)


def test_the_period_selector_redraws_every_figure_for_that_period(demo_home: Path, page) -> None:
    periods = ended_periods(demo_home)
    earlier = periods[-13]
    page.page.select_option("#period-select", earlier)
    assert page.page.locator("#focus-period").inner_text() == earlier
    assert_tiles_equal_marts(page.page, demo_home, earlier)
    # AR aging at that month-end adds up to that month's AR, and the tables follow the period
    ar = kpis_of(demo_home, earlier)["ar"]
    assert Decimal(page.page.locator("[data-section='ar_aging'] .chart-total").get_attribute("data-total")) == ar
    assert total(page.page, "open_invoices", "open_balance") == ar
    expected_bills = read(
        demo_home,
        """
        select count(*) from erp_bills b, periods p where p.period = ? and b.issue_date <= p.period_end
          and b.status <> 'draft' and (b.status <> 'void' or b.voided_date > p.period_end)
          and b.total <> coalesce((select sum(amount) from erp_payments where document_id = b.bill_id
                                   and paid_date <= p.period_end), 0)""",
        [earlier],
    )[0][0]
    assert page.page.locator("[data-section='bills_due'] .count").get_attribute("data-all-rows") == str(expected_bills)


def test_runway_what_if_recomputes_runway_in_the_page(demo_home: Path, page) -> None:
    last = ended_periods(demo_home)[-1]
    out = page.page.locator("[data-section='runway'] .runway-out[data-out='3']")
    assert Decimal(out.get_attribute("data-value")) == kpis_of(demo_home, last)["runway_months"]
    page.page.fill("#burn-change", "25000")
    periods = ended_periods(demo_home)
    burns = [kpis_of(demo_home, p)["net_burn"] for p in periods[-3:]]
    cash = kpis_of(demo_home, last)["cash"]
    expected = (3 * cash / (sum(burns) + 3 * Decimal("25000"))).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert Decimal(out.get_attribute("data-value")) == expected


def test_page_formatting_matches_the_python_formatting(page) -> None:
    cases = [
        ("1234.5", "money"),
        ("-1234.5", "money"),
        ("-0.40", "money"),
        ("0.5", "money"),
        ("-0.5", "money"),
        ("987654321.99", "money_cents"),
        ("-12.345", "money_cents"),
        ("45.25", "percent"),
        ("-3.05", "number"),
        ("-7", "integer"),
        (None, "money"),
        ("12.05", "number"),
    ]
    shown = page.page.evaluate("cases => cases.map(c => window.closeboard.display(c[0], c[1], 'EUR'))", cases)
    assert shown == [formatting.display(None if v is None else Decimal(v), f, "EUR") for v, f in cases]
