"""Pages that scale (issue 21, item 4): a table embeds the first rows of each period in its sort
order with the count and totals of every row (from SQL), says how many are left out and where to
see them; the served page fetches every row from GET /api/table. Archived versions keep what they
share once (the chart library, the page's script, style and a run's data), so the reports of the
demo's 24 versions stay a few pages' worth, and every archived version opens on its own figures."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import expect
from starlette.testclient import TestClient

from reports import export
from reports.render import layout
from reports.server import create_app
from tests.conftest import AS_OF, FIRST_PERIOD, read
from tests.reference import reference_kpis
from tests.reports.test_month_pack_page import served  # noqa: F401 - the served-page fixture
from tests.reports.pages import column, ended_periods

TABLES = {s["id"]: s for s in layout()["sections"] if s["component"] == "table"}
KPIS = ("revenue", "cash", "ar")
LIMIT = int(TABLES["open_invoices"].get("rows", layout()["table_rows"]))


def open_invoices_at(home: Path, period: str) -> dict[str, tuple[str, Decimal, int]]:
    """Invoice id -> (currency, open balance, days overdue) at the period's end, straight from the
    canonical tables: issued by then, not a draft, not void by then, total less what was applied."""
    rows = read(
        home,
        """
        with p as (select period_end as cutoff from periods where period = ?),
        docs as (
            select i.invoice_id, i.currency, i.due_date, p.cutoff,
                   i.total - coalesce((select sum(pay.amount) from erp_payments as pay
                                       where pay.document_id = i.invoice_id and pay.paid_date <= p.cutoff), 0) as open
            from erp_invoices as i, p
            where i.issue_date <= p.cutoff and i.status <> 'draft'
              and not (i.status = 'void' and (i.voided_date is null or i.voided_date <= p.cutoff))
        )
        select invoice_id, currency, open, cutoff - due_date from docs where open <> 0
        """,
        [period],
    )
    return {r[0]: (r[1], r[2], int(r[3])) for r in rows}


def test_a_table_embeds_its_first_rows_with_the_count_and_totals_of_every_row(demo_home: Path, demo_page) -> None:
    p = demo_page.page
    period = ended_periods(demo_home)[-1]
    expected = open_invoices_at(demo_home, period)
    assert len(expected) > LIMIT  # the demo has more open invoices than the file embeds
    shown = column(p, "open_invoices", "invoice_id")
    assert len(shown) == len(set(shown)) == LIMIT
    # the most overdue (the table's sort): none left out is more overdue than one shown
    days = {i: d for i, (_, _, d) in expected.items()}
    assert set(shown) <= set(expected)
    assert max(days[i] for i in set(expected) - set(shown)) <= min(days[i] for i in shown)
    count = p.locator("[data-section='open_invoices'] .count")
    assert count.get_attribute("data-all-rows") == str(len(expected))
    assert p.locator("#table-open_invoices").get_attribute("data-complete") == "false"
    # the totals are those of every open invoice, per currency
    for currency in {c for c, _, _ in expected.values()}:
        cell = p.locator(f"#table-open_invoices tfoot tr[data-currency='{currency}'] td[data-column='open_balance']")
        assert Decimal(cell.get_attribute("data-raw")) == sum(v for c, v, _ in expected.values() if c == currency)
    assert p.locator("#table-open_invoices tfoot tr").first.get_attribute("data-of") == "all"
    more = p.locator("[data-section='open_invoices'] .table-more")
    assert more.get_attribute("data-more") == str(len(expected) - LIMIT)
    assert "closeboard serve" in more.inner_text() and f"closeboard export --period {period}" in more.inner_text()
    # a filter searches the rows shown, and its total is theirs
    customer = p.locator("#table-open_invoices tbody td[data-column='customer']").first.inner_text()
    p.locator("#filter-open_invoices").fill(customer)
    kept = column(p, "open_invoices", "invoice_id")
    assert kept and set(kept) <= set(shown)
    cell = p.locator("#table-open_invoices tfoot td[data-column='open_balance']").first
    assert Decimal(cell.get_attribute("data-raw")) == sum(expected[i][1] for i in kept)
    assert "matching rows shown" in p.locator("#table-open_invoices tfoot").inner_text()


def test_the_table_endpoint_answers_every_row_to_a_page_token_only(demo_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "reports").mkdir(parents=True)
    (home / "reports" / "latest.html").write_bytes((demo_home / "reports" / "latest.html").read_bytes())
    (home / "warehouse.read.duckdb").write_bytes((demo_home / "warehouse.read.duckdb").read_bytes())
    client = TestClient(create_app(home), base_url="http://127.0.0.1:8765")
    period = ended_periods(demo_home)[-1]
    url = f"/api/table?section=open_invoices&period={period}"
    assert client.get(url).status_code == 403
    token = re.search(r'"token":"([^"]+)"', client.get("/latest.html").text).group(1)
    headers = {"X-Closeboard-Token": token}
    answer = client.get(url, headers=headers)
    assert answer.status_code == 200
    body = answer.json()
    rows = [dict(zip(body["columns"], r, strict=True)) for r in body["rows"]]
    expected = open_invoices_at(demo_home, period)
    assert {r["invoice_id"]: Decimal(r["open_balance"]) for r in rows} == {i: v for i, (_, v, _) in expected.items()}
    assert client.get("/api/table?section=nope", headers=headers).status_code == 400
    assert client.get("/api/table?section=open_invoices&period=x", headers=headers).status_code == 400
    other = TestClient(create_app(home), base_url="http://evil.example:8765")
    assert other.get(url, headers=headers).status_code == 421


def test_the_served_page_shows_every_row_of_a_table(demo_home: Path, served: str, open_page) -> None:  # noqa: F811
    period = ended_periods(demo_home)[-1]
    expected = open_invoices_at(demo_home, period)
    watched = open_page(f"{served}/latest.html")
    p = watched.page
    p.wait_for_selector("#table-open_invoices[data-from='server']")
    assert sorted(column(p, "open_invoices", "invoice_id")) == sorted(expected)
    assert p.locator("#table-open_invoices").get_attribute("data-complete") == "true"
    assert p.locator("[data-section='open_invoices'] .table-more").is_hidden()
    # another month: its rows are fetched in turn
    earlier = ended_periods(demo_home)[-7]
    p.select_option("#period-select", earlier)
    expect(p.locator("#table-open_invoices tbody tr")).to_have_count(len(open_invoices_at(demo_home, earlier)))
    # an archived version, served: its shared parts come from the server too
    (page_path,) = read(demo_home, "select page_path from close_snapshots where period = ?", [earlier])[0]
    p.goto(f"{served}/{page_path}")
    p.wait_for_selector(f"html[data-ready='1'][data-period='{earlier}']")
    assert p.locator("html").get_attribute("data-mode") == "served"
    assert p.locator("#table-open_invoices").get_attribute("data-from") == "file"  # the rows it was archived with
    assert watched.errors == []


def test_the_page_stays_small_and_archived_versions_share_their_parts(demo_home: Path, open_page) -> None:
    reports = demo_home / "reports"
    page = (reports / "latest.html").stat().st_size
    versions = read(demo_home, "select period, version, page_path from close_snapshots order by period, version")
    assert len(versions) == 24
    total = sum(f.stat().st_size for f in reports.rglob("*") if f.is_file())
    assert total < len(versions) * page / 4, (total, page)
    # one copy of the chart library, however many versions
    assert len(list((reports / "history" / "_assets").glob("chart-*.js"))) == 1
    reference = reference_kpis(demo_home / "demo", FIRST_PERIOD, AS_OF)
    for period, version, page_path in versions:  # each version's own figures, in its own small file
        data = export.page_data(reports / page_path)
        assert (data["meta"]["default_period"], data["meta"]["archived"]["version"]) == (period, version)
        own = {r[1]: r[2] for r in data["datasets"][data["meta"]["kpi_query"]]["rows"] if r[0] == period}
        assert {k: Decimal(own[k]) for k in KPIS} == {k: reference[period][k] for k in KPIS}, period
        assert (reports / page_path).stat().st_size < page / 10
    watched = open_page((reports / "latest.html").as_uri())
    p = watched.page
    for period, _, page_path in [*versions[::6], versions[-1]]:  # in Chromium, from disk, in one tab
        p.goto((reports / page_path).as_uri())
        p.wait_for_selector(f"html[data-ready='1'][data-period='{period}']")
        assert p.locator("#focus-period").inner_text() == period
        for kpi in KPIS:
            raw = p.locator(f".tile[data-kpi='{kpi}']").get_attribute("data-value")
            assert Decimal(raw) == reference[period][kpi], (period, kpi)
    assert watched.errors == [] and watched.foreign_requests() == []
