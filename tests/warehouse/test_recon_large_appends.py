"""Reconciliation items past one DuckDB row group (122,880 rows) are all kept.

DuckDB 2.0.0, inside a transaction: when the first rows appended to an empty table arrive as more than one
row group at once, the table's column statistics stay "empty" and scans that use them (a GROUP BY, an IN
filter) see none of its rows. At scale 100 R5's backlog (~123k items, one insert) was the first append to
`_recon_items` whenever no R2 item came before it, and every one of them was lost from `recon_items`
(warehouse/sql/recon/00_cutoffs.sql gives the accumulators statistics first). Here: 5,200 customers with a
won deal and nothing invoiced, over 25 month-ends, and no bank (R2 not configured, so R5 appends first):
130,000 backlog items, in an in-memory DuckDB, no Dagster, no GX."""

from __future__ import annotations

import duckdb

from warehouse.db import ensure_schema, transaction
from warehouse.recon import ReconParams, build_recon

CUSTOMERS = 5_200
PERIODS = 25  # 2024-06 .. 2026-06 (open, to the run date)


def test_a_backlog_of_more_than_a_row_group_is_kept_whole() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    con.execute("insert into run_context values ('2024-06', '2026-06-15', 1, 'USD')")
    con.execute("insert into erp_accounts values ('1200', 'AR', 'asset', 'ar', 'USD', null)")
    # each customer known to the ERP by one voided invoice (mapped, never invoiced) and won in the CRM
    con.execute(
        f"""insert into erp_invoices
        select 'INV-' || i, 'C-' || i, 'Customer ' || i, date '2024-06-02', null, 10.00, 0.00, 'USD', 'void',
               'invoice', date '2024-06-03'
        from range({CUSTOMERS}) as t(i)"""
    )
    con.execute(
        f"""insert into crm_opportunities
        select 'OPP-' || i, 'C-' || i, 'Customer ' || i, 'won', 100.00, 'USD', date '2024-06-01', 1.00, 'x',
               true, true
        from range({CUSTOMERS}) as t(i)"""
    )
    with transaction(con):  # as the refresh runs it: inside the run's transaction
        summary = build_recon(con, "run-1", ReconParams(sources=("erp", "crm")))
    backlog = con.execute(
        "select count(*) from recon_items where check_id = 'R5_bookings_vs_billings' and reason like 'backlog:%'"
    ).fetchone()[0]
    assert backlog == CUSTOMERS * PERIODS
    assert summary.items == con.execute("select count(*) from recon_items").fetchone()[0] >= CUSTOMERS * PERIODS
    per_period = dict(
        con.execute(
            "select period, count(*) from recon_items where check_id = 'R5_bookings_vs_billings' group by 1"
        ).fetchall()
    )
    assert len(per_period) == PERIODS and set(per_period.values()) == {CUSTOMERS}
    details = [
        d
        for (d,) in con.execute(
            "select detail from recon_results where check_id = 'R5_bookings_vs_billings'"
        ).fetchall()
    ]
    assert len(details) == PERIODS and all(f"{CUSTOMERS} customer(s) with backlog" in d for d in details)
