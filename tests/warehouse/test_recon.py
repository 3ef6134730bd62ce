"""R2's reconciliation equation by hand on a small fixture (in-memory DuckDB, no Dagster, no GX)."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from warehouse.db import ensure_schema
from warehouse.recon import ReconParams, build_recon

D = Decimal


def _books(con: duckdb.DuckDBPyConnection) -> None:
    ensure_schema(con)
    con.execute("insert into run_context values ('2026-02', '2026-03-10', 1, 'USD')")
    con.execute("""insert into erp_accounts values
        ('1110', 'Bank', 'asset', 'cash', 'USD', null), ('1200', 'AR', 'asset', 'ar', 'USD', null),
        ('2100', 'AP', 'liability', 'ap', 'USD', null), ('3100', 'Capital', 'equity', null, 'USD', null),
        ('4100', 'Revenue', 'revenue', null, 'USD', null), ('6700', 'Fees', 'expense', null, 'USD', null)""")
    con.execute("insert into bank_accounts values ('BA-1', 'Bank', 'USD', '1110')")
    lines = [
        # entry, line, date, account, debit, credit, document
        ("JE-1", 1, "2026-01-31", "1110", "1000.00", "0.00", None),  # opening: capital
        ("JE-1", 2, "2026-01-31", "3100", "0.00", "1000.00", None),
        ("JE-2", 1, "2026-02-10", "1110", "500.00", "0.00", "INV-1"),  # receipt, banked 02-11
        ("JE-2", 2, "2026-02-10", "4100", "0.00", "500.00", "INV-1"),
        ("JE-3", 1, "2026-02-27", "1110", "300.00", "0.00", None),  # deposit in transit at 02-28
        ("JE-3", 2, "2026-02-27", "4100", "0.00", "300.00", None),
        ("JE-4", 1, "2026-02-26", "6700", "200.00", "0.00", None),  # outstanding payment at 02-28
        ("JE-4", 2, "2026-02-26", "1110", "0.00", "200.00", None),
    ]
    con.executemany(
        "insert into erp_journal_lines values (?, ?, ?, ?, ?, ?, 'USD', null, 'x', null, null, ?)",
        [(e, n, d, a, dr, cr, doc) for e, n, d, a, dr, cr, doc in lines],
    )
    txns = [
        ("T1", "2026-01-31", "1000.00", "JE-1"),
        ("T2", "2026-02-11", "500.00", "INV-1"),
        ("T3", "2026-02-27", "-15.00", "FEE-FEB"),  # a fee not yet booked at 02-28
        ("T4", "2026-03-02", "300.00", None),       # JE-3 clears in March (within the window)
        ("T5", "2026-03-03", "-200.00", None),      # JE-4 clears in March
    ]
    con.executemany("insert into bank_transactions values (?, 'BA-1', ?, ?, 'x', ?)", txns)
    con.executemany("insert into bank_balances values ('BA-1', ?, ?)",
                    [("2026-01-31", "1000.00"), ("2026-02-28", "1485.00"), ("2026-03-10", "1585.00")])


def test_r2_equation_by_hand() -> None:
    con = duckdb.connect()
    _books(con)
    build_recon(con, "run-1", ReconParams(match_window_days=5, stale_after_days=45))
    rows = {p: (s, e, a, d) for p, s, e, a, d in con.execute(
        "select period, status, expected, actual, difference from recon_results where check_id = 'R2_bank_vs_book'"
    ).fetchall()}
    # Feb: statement 1485 + in transit 300 - outstanding 200 = 1585
    #      ledger 1600 + bank-only receipts 0 - bank-only charges 15 + opening 0 = 1585
    assert rows["2026-02"] == ("warn", D("1585.00"), D("1585.00"), D("0.00"))
    items = con.execute("""select record_id, amount, reason from recon_items
                           where check_id = 'R2_bank_vs_book' and period = '2026-02' order by record_id""").fetchall()
    assert [(r, a) for r, a, _ in items] == [("JE-3:1", D("300.00")), ("JE-4:2", D("-200.00")), ("T3", D("-15.00"))]
    assert "deposit in transit" in items[0][2] and "outstanding payment" in items[1][2]
    assert "bank charge not yet booked" in items[2][2]
    # Mar (open, to 03-10): JE-3/JE-4 cleared; the fee is still unbooked (11 days): warn, still exact
    assert rows["2026-03"] == ("warn", D("1585.00"), D("1585.00"), D("0.00"))
    matches = con.execute("""select txn_id, entry_id, rule from recon_bank_matches where period = '2026-03'
                             order by txn_id""").fetchall()
    assert matches == [("T1", "JE-1", "reference"), ("T2", "JE-2", "reference"),
                       ("T4", "JE-3", "date"), ("T5", "JE-4", "date")]


def test_r2_stale_item_fails_and_one_cent_is_caught() -> None:
    con = duckdb.connect()
    _books(con)
    build_recon(con, "run-1", ReconParams(match_window_days=5, stale_after_days=10))
    status = con.execute("select status from recon_results where check_id = 'R2_bank_vs_book' and period = '2026-03'").fetchall()
    assert status == [("fail",)]  # the fee is 11 days old: stale at 10
    con2 = duckdb.connect()
    _books(con2)
    con2.execute("update bank_balances set closing_balance = closing_balance + 0.01 where balance_date = '2026-02-28'")
    build_recon(con2, "run-1", ReconParams())
    assert con2.execute("""select status, difference from recon_results
                           where check_id = 'R2_bank_vs_book' and period = '2026-02'""").fetchall() == [("fail", D("0.01"))]


def test_severity_overrides_turn_warnings_into_failures_and_back() -> None:
    r2 = "select period, status from recon_results where check_id = 'R2_bank_vs_book' order by period"
    con = duckdb.connect()
    _books(con)
    build_recon(con, "run-1", ReconParams(severity={"R2_bank_vs_book": "error"}))
    assert con.execute(r2).fetchall() == [("2026-02", "fail"), ("2026-03", "fail")]  # the unbooked fee
    build_recon(con, "run-2", ReconParams(stale_after_days=10, severity={"R2_bank_vs_book": "warn"}))
    assert con.execute(r2).fetchall() == [("2026-02", "warn"), ("2026-03", "warn")]  # stale, yet only a warning
    assert con.execute("select distinct run_id from recon_results").fetchall() == [("run-2",)]


def _r6(con: duckdb.DuckDBPyConnection) -> tuple[str, list[tuple[str, str]]]:
    status = con.execute("select status from recon_results where check_id = 'R6_completeness' and period = '2026-03'"
                         ).fetchall()[0][0]
    items = con.execute("select record_id, reason from recon_items where check_id = 'R6_completeness' order by all"
                        ).fetchall()
    return status, items


def _load(con: duckdb.DuckDBPyConnection, table: str, received: int, loaded: int, rejected: int,
          quarantined: int, total: int) -> None:
    con.execute(
        "insert or replace into source_loads (run_id, source, tool, table_name, rows_received, rows_loaded, "
        "rows_quarantined, reported_total, source_as_of, loaded_at, rows_rejected) "
        "values ('run-1', 'erp', 'query', ?, ?, ?, ?, ?, now()::varchar, now(), ?)",
        [table, received, loaded, quarantined, total, rejected],
    )


def test_r6_counts_adapter_rejections_and_fails_when_every_row_is_rejected() -> None:
    con = duckdb.connect()
    _books(con)
    # the adapter rejected all 14 lines (money as binary): 0 staged, 14 rejected, the total says 14
    _load(con, "erp_journal_lines", received=0, loaded=0, rejected=14, quarantined=0, total=14)
    con.executemany("insert into quarantine values ('run-1', 'erp', 'query', ?, ?)",
                    [(f'{{"id": {i}}}', "column debit arrived as binary: CAST it") for i in range(14)])
    build_recon(con, "run-1", ReconParams())
    status, items = _r6(con)
    assert status == "fail"
    table_finding = [reason for record, reason in items if record == "erp_journal_lines"]
    assert table_finding and "14 of 14 rows rejected (14 by the adapter, 0 at publish), every row" in table_finding[0]
    assert "CAST it" in table_finding[0]  # the first reasons
    detail = con.execute("select detail, expected, actual from recon_results where check_id = 'R6_completeness' "
                         "and period = '2026-03'").fetchall()[0]
    assert "14 rejected by the adapter" in detail[0] and detail[1:] == (D("14.00"), D("14.00"))


def test_r6_a_small_rejected_share_warns_a_large_one_fails() -> None:
    con = duckdb.connect()
    _books(con)
    _load(con, "erp_invoices", received=1000, loaded=999, rejected=0, quarantined=1, total=1000)
    con.execute("insert into quarantine values ('run-1', 'erp', 'query', '{}', 'total is not a number')")
    build_recon(con, "run-1", ReconParams())
    status, items = _r6(con)
    assert status == "warn" and any("total is not a number" in reason for _, reason in items)
    build_recon(con, "run-2", ReconParams(max_rejected_share=D("0.0005")))
    assert _r6(con)[0] == "fail"


def test_r6_an_account_whose_parent_does_not_exist_is_a_finding() -> None:
    con = duckdb.connect()
    _books(con)
    con.execute("update erp_accounts set parent_id = '1000' where account_id = '1110'")
    build_recon(con, "run-1", ReconParams())
    status, items = _r6(con)
    assert status == "fail"
    assert ("1110", "account 1110 names parent_id 1000, which is not in erp_accounts") in items


def test_checks_whose_sources_are_not_configured_say_so() -> None:
    con = duckdb.connect()
    _books(con)
    build_recon(con, "run-1", ReconParams(sources=("erp",)))
    rows = con.execute("select check_id, status, detail from recon_results where check_id in "
                       "('R2_bank_vs_book', 'R5_bookings_vs_billings') order by all").fetchall()
    assert {(c, s) for c, s, _ in rows} == {("R2_bank_vs_book", "not_configured"),
                                           ("R5_bookings_vs_billings", "not_configured")}
    assert len(rows) == 4 and all("closeboard.yaml" in d for *_, d in rows)
    assert not con.execute("select count(*) from recon_items where check_id = 'R2_bank_vs_book'").fetchall()[0][0]
