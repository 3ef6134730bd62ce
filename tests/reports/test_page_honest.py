"""Unknown is not zero, and cards that say why (issue 15, items 4 and 6), in headless Chromium.

On the demo's page: the open month is "month to date" and compared with the same days of the month
before (figures from the journal, in SQL); the point-in-time pipeline has no MoM/YoY; the same-days
macro gives mart_kpis's figures over a whole month. On a small warehouse built from a copy of the
demo's (one month's journal emptied, a large sale planted, an unbalanced entry planted, marts and
reconciliation rebuilt): the empty month shows "no data" on tiles, charts and statements and is named
in ranges; a change across a sign change is "n/m"; a failing card's first sentence names the first
failing month and the entry that caused it. Screenshots at desktop and phone width go to tmp.
"""

from __future__ import annotations

import re
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from reports.render import PageContext, query_text, render_dashboard
from tests.conftest import AS_OF, read
from tests.reports.conftest import PHONE
from warehouse.models import MART_DIR, build_marts
from warehouse.recon import build_recon

OPEN = AS_OF.strftime("%Y-%m")  # 2026-06, 15 days elapsed
EMPTY = "2025-09"  # its journal lines removed in the small warehouse
SALE = "2025-07"  # a large sale planted: net income turns positive after a negative June
PLANT = "2025-11"  # an unbalanced entry planted: R1 fails from here on, listed only here
PLANTED_ENTRY = "JE-PLANTED-R1"
WARN_AT = "2026-03"  # a WARN with a 0.00 difference and two items, written into recon_results


@pytest.fixture
def demo_page(demo_home: Path, open_page):
    watched = open_page((demo_home / "reports" / "latest.html").as_uri())
    yield watched
    assert watched.errors == [], watched.errors
    assert watched.foreign_requests() == []


def tile(page, kpi: str):
    return page.locator(f".tile[data-kpi='{kpi}']")


def test_the_open_month_is_month_to_date_against_the_same_days_of_the_month_before(demo_home: Path, demo_page) -> None:
    p = demo_page.page
    assert p.locator(f"#period-select option[value='{OPEN}']").inner_text().endswith("month to date")
    p.select_option("#period-select", OPEN)
    assert p.locator("#period-status").inner_text() == "month to date"
    revenue = tile(p, "revenue")
    assert revenue.locator(".tile-basis").inner_text() == f"month to date, through {AS_OF.isoformat()}"
    # the base: May 1-15 from the journal, computed here independently of the page's query
    now = read(demo_home, "select value from mart_kpis where period = ? and kpi = 'revenue'", [OPEN])[0][0]
    base = read(
        demo_home,
        """
        select sum(jl.credit - jl.debit) from erp_journal_lines jl join erp_accounts a using (account_id)
        where a.type = 'revenue' and jl.posted_date between date '2026-05-01' and date '2026-05-15'""",
    )[0][0]
    pct = (abs(now - base) * 100 / abs(base)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    mom = revenue.locator(".mom")
    assert mom.inner_text() == f"{'▲' if now > base else '▼'} {pct:,}% MoM"
    assert "2026-05-01 to 2026-05-15, the same 15 days" in mom.get_attribute("title")
    # against the whole of May it would read very differently: the page does not do that
    may = read(demo_home, "select value from mart_kpis where period = '2026-05' and kpi = 'revenue'")[0][0]
    whole = (abs(now - may) * 100 / abs(may)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert f"{whole:,}%" not in mom.inner_text()
    # the charts and the statements say the open month is a part month
    assert "month to date" in p.locator("[data-section='pnl_trend'] .chart-total").inner_text()
    assert "month to date" in p.locator(".statement-note").inner_text()


def test_a_point_in_time_figure_has_no_mom_or_yoy(demo_home: Path, demo_page) -> None:
    p = demo_page.page
    last = read(demo_home, "select max(period) from periods where not is_open")[0][0]
    assert p.locator("#focus-period").inner_text() == last
    pipeline = tile(p, "pipeline_open")
    assert "%" not in pipeline.locator(".tile-change").inner_text()
    assert pipeline.locator(".mom").inner_text() == "no history"
    assert pipeline.locator(".yoy").inner_text() == ""
    assert pipeline.locator(".tile-basis").inner_text().startswith("today's figure, not at ")
    assert not pipeline.locator(".spark").is_visible()
    # a ledger figure next to it still compares
    assert tile(p, "revenue").locator(".mom").inner_text().endswith("% MoM")


def test_the_same_days_macro_gives_mart_kpis_over_a_whole_month(demo_home: Path) -> None:
    """kpis_through repeats mart_kpis's rules over part of a month: held to the mart over whole months."""
    con = duckdb.connect(str(demo_home / "warehouse.read.duckdb"), read_only=True)
    try:
        con.execute((MART_DIR / "00_functions.sql").read_text(encoding="utf-8"))
        con.execute(query_text("_kpis_through.sql"))
        months = con.execute("select period, period_start, period_end from periods where not is_open").fetchall()
        assert len(months) == 24
        for period, start, end in months:
            got = dict(con.execute("select kpi, value from kpis_through(?::date, ?::date)", [start, end]).fetchall())
            mart = dict(con.execute("select kpi, value from mart_kpis where period = ?", [period]).fetchall())
            assert got == {k: mart[k] for k in got}, period
            assert len(got) == 12
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------
# a small warehouse: one month emptied, a sale and an unbalanced entry planted


@pytest.fixture(scope="module")
def small_page(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("honest")
    db = home / "warehouse.duckdb"
    shutil.copyfile(demo_home / "warehouse.read.duckdb", db)
    con = duckdb.connect(str(db))
    try:
        con.execute("delete from erp_journal_lines where strftime(posted_date, '%Y-%m') = ?", [EMPTY])
        cash = con.execute("select min(account_id) from erp_accounts where subtype = 'cash'").fetchone()[0]
        revenue = con.execute("select min(account_id) from erp_accounts where type = 'revenue'").fetchone()[0]
        line = (
            "insert into erp_journal_lines (entry_id, line_no, posted_date, account_id, debit, credit, currency,"
            " description) values (?, ?, ?::date, ?, ?, ?, 'USD', ?)"
        )
        con.execute(line, ["JE-PLANTED-SALE", 1, f"{SALE}-20", cash, "2000000.00", "0", "planted sale"])
        con.execute(line, ["JE-PLANTED-SALE", 2, f"{SALE}-20", revenue, "0", "2000000.00", "planted sale"])
        con.execute(line, [PLANTED_ENTRY, 1, f"{PLANT}-12", cash, "500.25", "0", "planted: one side only"])
        build_marts(con)
        build_recon(con, "honest-test")
        # a WARN with no difference in total: its card must say what to look at
        con.execute("delete from recon_results where period = ? and check_id = 'R5_bookings_vs_billings'", [WARN_AT])
        con.execute("delete from recon_items where period = ? and check_id = 'R5_bookings_vs_billings'", [WARN_AT])
        con.execute(
            "insert into recon_results values ('honest-test', ?, 'R5_bookings_vs_billings', 'warn', 1000.00,"
            " 1000.00, 0.00, 'won to date 1000.00, invoiced to date 1000.00')",
            [WARN_AT],
        )
        for record, day, amount, reason in (
            ("OPP-LATE", 3, "250.00", "won deal not invoiced in 30 days"),
            ("OPP-NEW", 20, "-250.00", "invoiced before the deal was won"),
        ):
            con.execute(
                "insert into recon_items values ('honest-test', ?, 'R5_bookings_vs_billings', 'crm', ?, ?::date, ?, ?)",
                [WARN_AT, record, f"{WARN_AT}-{day:02d}", amount, reason],
            )
        render_dashboard(con, PageContext("Honest Co", "USD", "honest-test", {}), home / "reports")
    finally:
        con.close()
    return home


@pytest.fixture
def small(small_page: Path, open_page):
    watched = open_page((small_page / "reports" / "latest.html").as_uri())
    yield watched
    assert watched.errors == [], watched.errors
    assert watched.foreign_requests() == []


def small_read(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_an_empty_month_shows_no_data_on_tiles_charts_and_statements(
    small_page: Path, small, tmp_path: Path, open_page
) -> None:
    # the marts say 0.00 for it: the page must not
    assert (
        small_read(small_page, "select value from mart_kpis where period = ? and kpi = 'revenue'", [EMPTY])[0][0] == 0
    )
    p = small.page
    assert p.locator(f"#period-select option[value='{EMPTY}']").inner_text().endswith("(no ledger lines)")
    p.select_option("#period-select", EMPTY)
    for kpi in ("revenue", "net_income", "cash", "net_burn"):
        assert tile(p, kpi).locator(".tile-value").inner_text() == "no data", kpi
        assert tile(p, kpi).get_attribute("data-value") == ""
    assert tile(p, "pipeline_open").locator(".tile-value").inner_text() != "no data"  # from the CRM
    trend = p.locator("[data-section='pnl_trend'] .chart-total")
    assert "Revenue no data" in trend.inner_text() and EMPTY in trend.get_attribute("data-gaps")
    cell = p.locator("#statement-income_statement tr[data-line='total_revenue'] td[data-column='amount']")
    assert cell.inner_text() == "no data" and cell.get_attribute("data-raw") == ""
    assert EMPTY in p.locator(".statement-note").inner_text()
    # the month after: nothing compares with the empty month, and every range holding it names it
    after = "2025-10"
    p.select_option("#period-select", after)
    mom = tile(p, "revenue").locator(".mom")
    assert mom.inner_text() == "MoM —" and f"{EMPTY}: no data" in mom.get_attribute("title")
    assert tile(p, "revenue").locator(".yoy").inner_text().endswith("% YoY")
    assert EMPTY in p.locator("[data-section='cash_trend'] .chart-total").get_attribute("data-gaps")
    assert f"no ledger lines in {EMPTY}" in p.locator("[data-section='pnl_trend'] .chart-total").inner_text()
    prior = p.locator("#statement-income_statement tr[data-line='total_revenue'] td[data-column='prior_month']")
    assert prior.inner_text() == "no data"
    assert p.locator("[data-section='runway'] .runway-out[data-out='1']").inner_text() == (
        f"no ledger lines in {EMPTY} (no data, not zero)"
    )
    for viewport, name in ((None, "honest-desktop.png"), (PHONE, "honest-phone.png")):
        shot = open_page((small_page / "reports" / "latest.html").as_uri(), viewport) if viewport else small
        shot.page.select_option("#period-select", after)
        shot.page.screenshot(path=str(tmp_path / name), full_page=True)
        assert (tmp_path / name).stat().st_size > 10_000
        assert shot.errors == []
    print(f"screenshots: {tmp_path}")


def test_a_percent_change_across_a_sign_change_is_not_meaningful(small_page: Path, small) -> None:
    before, after = (
        small_read(small_page, "select value from mart_kpis where period = ? and kpi = 'net_income'", [q])[0][0]
        for q in ("2025-06", SALE)
    )
    assert before < 0 < after
    p = small.page
    p.select_option("#period-select", SALE)
    mom = tile(p, "net_income").locator(".mom")
    assert mom.inner_text() == "n/m MoM"
    assert "sign changed" in mom.get_attribute("title")
    assert mom.get_attribute("class") == "mom nm"  # not coloured as good or bad
    assert tile(p, "revenue").locator(".mom").inner_text().startswith("▲ ")  # the same base, no sign change


def test_a_failing_card_names_the_first_failing_month_and_the_entry(small_page: Path, small) -> None:
    p = small.page
    later = "2026-02"
    assert (
        small_read(
            small_page, "select status from recon_results where period = ? and check_id = 'R1_trial_balance'", [later]
        )[0][0]
        == "fail"
    )
    assert (
        small_read(
            small_page, "select count(*) from recon_items where period = ? and check_id = 'R1_trial_balance'", [later]
        )[0][0]
        == 0
    )  # carried forward: nothing listed in the later month itself
    p.select_option("#period-select", later)
    card = p.locator("[data-section='recon'] .check[data-check='R1_trial_balance']")
    lead = card.locator(".lead").inner_text()
    first_sentence = lead.split(". ")[0]
    assert f"failing since {PLANT}" in first_sentence and PLANTED_ENTRY in first_sentence, lead
    assert "differs by ($500.25)" in first_sentence or "differs by $500.25" in first_sentence, lead
    # the detail is on demand, with money formatted
    details = card.locator("details")
    assert not details.locator(".figures").is_visible()
    details.locator("summary").click()
    text = details.inner_text()
    assert "$" in text and not re.search(r"(?<![\d,$.])\d+\.\d{2}\b", text), text
    # in the month it began, the card names the entry as the oldest item
    p.select_option("#period-select", PLANT)
    lead = card.locator(".lead").inner_text()
    assert PLANTED_ENTRY in lead and "1 item" in lead and "since" not in lead, lead


def test_a_warning_with_no_difference_says_what_to_look_at(small) -> None:
    p = small.page
    p.select_option("#period-select", WARN_AT)
    card = p.locator("[data-section='recon'] .check[data-check='R5_bookings_vs_billings']")
    assert card.get_attribute("data-status") == "warn"
    lead = card.locator(".lead").inner_text()
    assert lead == (
        "Bookings vs billings has no difference in total ($0.00), but lists 2 items, the oldest "
        f"OPP-LATE of {WARN_AT}-03, $250.00 to look at."
    ), lead
    assert card.locator("button[data-drill]").inner_text() == "Show 2 items"
