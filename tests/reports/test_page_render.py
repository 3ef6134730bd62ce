"""The renderer on a private copy of the demo warehouse: hostile source strings stay text, closed
periods show their closed snapshot's figures, and the reconciliation panel drills down to items."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from reports.render import PageContext, render_dashboard
from tests.reports.pages import column, ended_periods, kpis_of, total

HOSTILE = "<img src=x onerror=alert(1)>"
CLOSING = "</script><script>alert(2)</script><!--"


@pytest.fixture
def warehouse_copy(demo_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "reports").mkdir(parents=True)
    shutil.copyfile(demo_home / "warehouse.read.duckdb", home / "warehouse.read.duckdb")
    return home


def render(home: Path, company: str = "Demo Co") -> Path:
    con = duckdb.connect(str(home / "warehouse.read.duckdb"))
    try:
        return render_dashboard(con, PageContext(company, "USD", "test-run", {}), home / "reports")
    finally:
        con.close()


def test_hostile_source_strings_render_as_text_and_run_nothing(warehouse_copy: Path, open_page) -> None:
    period = ended_periods(warehouse_copy)[-1]
    con = duckdb.connect(str(warehouse_copy / "warehouse.read.duckdb"))
    first, second = [
        r[0]
        for r in con.execute("""
        select invoice_id from erp_invoices where status = 'open' and doc_type = 'invoice'
        order by invoice_id limit 2""").fetchall()
    ]
    con.execute("update erp_invoices set customer_name = ? where invoice_id = ?", [HOSTILE, first])
    con.execute("update erp_invoices set customer_name = ? where invoice_id = ?", [CLOSING, second])
    con.execute(
        "update crm_opportunities set stage = ? where opportunity_id = (select min(opportunity_id) "
        "from crm_opportunities where not is_closed)",
        [HOSTILE],
    )
    con.close()
    page_path = render(warehouse_copy, company=f"{HOSTILE} & Co")
    html = page_path.read_text(encoding="utf-8")
    assert HOSTILE not in html and "</script><script>alert(2)" not in html
    watched = open_page(page_path.as_uri())
    p = watched.page
    assert watched.dialogs == [] and watched.errors == [] and watched.foreign_requests() == []
    assert p.locator("img").count() == 0
    assert p.locator("h1").inner_text() == f"{HOSTILE} & Co"
    customers = column(p, "open_invoices", "customer")
    assert HOSTILE in customers and CLOSING in customers, period
    assert p.locator("#table-open_invoices td", has_text=HOSTILE).first.inner_text() == HOSTILE
    p.locator("#filter-open_invoices").fill("onerror")
    assert column(p, "open_invoices", "customer") == [HOSTILE] * len(column(p, "open_invoices", "customer")) != []
    assert watched.dialogs == []


def _drop_snapshot_store(con) -> None:
    """Drop close_snapshots and any table of the store that references it (in dependency order)."""
    for _ in range(10):
        names = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where table_name like 'close_snapshot%'"
            ).fetchall()
        ]
        if not names:
            return
        for name in names:
            try:
                con.execute(f'drop table "{name}"')
            except duckdb.CatalogException:
                pass
    raise AssertionError("could not drop the snapshot store in the copy")


def _ensure_table(con, name: str, ddl: str) -> None:
    if not con.execute("select count(*) from duckdb_tables() where table_name = ?", [name]).fetchone()[0]:
        con.execute(ddl)


def test_a_closed_period_shows_its_closed_snapshot_marked_restated(warehouse_copy: Path, open_page) -> None:
    periods = ended_periods(warehouse_copy)
    closed, plain = periods[-3], periods[-2]
    figures = {k: (None if v is None else str(v)) for k, v in kpis_of(warehouse_copy, closed).items()}
    at_close = {**figures, "revenue": str(Decimal(figures["revenue"]) - Decimal("1000.25"))}
    con = duckdb.connect(str(warehouse_copy / "warehouse.read.duckdb"))
    # the contract's columns only (the snapshot store may add guard columns of its own; this copy is private)
    _drop_snapshot_store(con)
    _ensure_table(
        con,
        "close_snapshots",
        """
        create table close_snapshots (period varchar, version integer, run_id varchar, taken_at timestamptz,
            status varchar, kpis varchar, statements varchar, checks varchar, source_fingerprint varchar,
            page_path varchar, closed_by varchar, closed_at timestamptz, override_reason varchar,
            differences varchar, primary key (period, version))""",
    )
    cols = "(period, version, run_id, taken_at, status, kpis, statements, checks, source_fingerprint, closed_by, closed_at)"
    con.execute(
        f"insert into close_snapshots {cols} values (?, 1, 'r1', now(), 'draft', ?, '{{}}', '[]', 'a', null, null)",
        [closed, json.dumps(at_close)],
    )
    con.execute(
        f"insert into close_snapshots {cols} values (?, 2, 'r1', now(), 'closed', ?, '{{}}', '[]', 'a', 'Ada CFO', now())",
        [closed, json.dumps(at_close)],
    )
    con.execute(
        f"insert into close_snapshots {cols} values (?, 3, 'r2', now(), 'restated', ?, '{{}}', '[]', 'b', null, null)",
        [closed, json.dumps(figures)],
    )
    con.close()
    watched = open_page(render(warehouse_copy).as_uri())
    p = watched.page
    p.select_option("#period-select", closed)
    assert Decimal(p.locator(".tile[data-kpi='revenue']").get_attribute("data-value")) == Decimal(at_close["revenue"])
    assert Decimal(p.locator(".tile[data-kpi='cash']").get_attribute("data-value")) == Decimal(figures["cash"])
    status = p.locator("#period-status").inner_text()
    assert "restated since close" in status and "Ada CFO" in status
    p.select_option("#period-select", plain)  # a period never closed shows the marts
    assert (
        Decimal(p.locator(".tile[data-kpi='revenue']").get_attribute("data-value"))
        == kpis_of(warehouse_copy, plain)["revenue"]
    )
    assert p.locator("#period-status").inner_text() == "draft"
    assert watched.errors == []


def test_reconciliation_panel_drills_down_to_the_items(warehouse_copy: Path, open_page) -> None:
    period = ended_periods(warehouse_copy)[-1]
    con = duckdb.connect(str(warehouse_copy / "warehouse.read.duckdb"))
    _ensure_table(
        con,
        "recon_results",
        """
        create table recon_results (run_id varchar, period varchar, check_id varchar, status varchar,
            expected decimal(18,2), actual decimal(18,2), difference decimal(18,2), detail varchar)""",
    )
    _ensure_table(
        con,
        "recon_items",
        """
        create table recon_items (run_id varchar, period varchar, check_id varchar, source varchar,
            record_id varchar, record_date date, amount decimal(18,2), reason varchar)""",
    )
    con.execute("delete from recon_results where period = ?", [period])
    con.execute("delete from recon_items where period = ? and check_id = 'R2_bank_vs_book'", [period])
    con.execute(
        "insert into recon_results values ('t', ?, 'R2_bank_vs_book', 'fail', 100.00, 90.50, 9.50, ?)",
        [period, f"stale item {HOSTILE}"],
    )
    con.execute("insert into recon_results values ('t', ?, 'R1_trial_balance', 'pass', 0, 0, 0, null)", [period])
    items = [("TXN-1", "-4.50", "fee not yet booked"), ("TXN-2", "-5.00", HOSTILE)]
    for record, amount, reason in items:
        con.execute(
            "insert into recon_items values ('t', ?, 'R2_bank_vs_book', 'bank', ?, ?::date, ?, ?)",
            [period, record, f"{period}-20", amount, reason],
        )
    con.close()
    watched = open_page(render(warehouse_copy).as_uri())
    p = watched.page
    assert "fail" in p.locator("#recon-summary").get_attribute("class")
    card = p.locator("[data-section='recon'] .check[data-check='R2_bank_vs_book']")
    assert card.get_attribute("data-status") == "fail"
    # the first sentence: by how much, how many items, the oldest; the detail (with the source's text) on demand
    assert (
        card.locator(".lead")
        .inner_text()
        .startswith("Bank vs book differs by $9.50: $90.50 against $100.00 expected; 2 items")
    )
    card.locator("details summary").click()
    assert HOSTILE in card.inner_text()
    card.locator("button[data-drill]").click()
    assert sorted(column(p, "recon_items", "record_id")) == ["TXN-1", "TXN-2"]
    assert total(p, "recon_items", "amount") == Decimal("-9.50")
    assert watched.dialogs == [] and watched.errors == [] and p.locator("img").count() == 0


def test_without_reconciliation_tables_the_page_says_not_reconciled_yet(warehouse_copy: Path, open_page) -> None:
    con = duckdb.connect(str(warehouse_copy / "warehouse.read.duckdb"))
    con.execute("drop table if exists recon_items")
    con.execute("drop table if exists recon_results")
    con.close()
    watched = open_page(render(warehouse_copy).as_uri())
    assert "Not reconciled yet" in watched.page.locator("[data-section='recon']").inner_text()
    assert watched.errors == []
