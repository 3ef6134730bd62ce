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
        ("T4", "2026-03-02", "300.00", None),  # JE-3 clears in March (within the window)
        ("T5", "2026-03-03", "-200.00", None),  # JE-4 clears in March
    ]
    con.executemany("insert into bank_transactions values (?, 'BA-1', ?, ?, 'x', ?)", txns)
    con.executemany(
        "insert into bank_balances values ('BA-1', ?, ?)",
        [("2026-01-31", "1000.00"), ("2026-02-28", "1485.00"), ("2026-03-10", "1585.00")],
    )


def test_r2_equation_by_hand() -> None:
    con = duckdb.connect()
    _books(con)
    build_recon(con, "run-1", ReconParams(match_window_days=5, stale_after_days=45))
    rows = {
        p: (s, e, a, d)
        for p, s, e, a, d in con.execute(
            "select period, status, expected, actual, difference from recon_results where check_id = 'R2_bank_vs_book'"
        ).fetchall()
    }
    # Feb: statement 1485 + in transit 300 - outstanding 200 = 1585
    #      ledger 1600 + bank-only receipts 0 - bank-only charges 15 + opening 0 = 1585
    # the fee (Fri 02-27) is 0 business days old at Sat 02-28: listed, no warning
    assert rows["2026-02"] == ("pass", D("1585.00"), D("1585.00"), D("0.00"))
    items = con.execute("""select record_id, amount, reason from recon_items
                           where check_id = 'R2_bank_vs_book' and period = '2026-02' order by record_id""").fetchall()
    assert [(r, a) for r, a, _ in items] == [("JE-3:1", D("300.00")), ("JE-4:2", D("-200.00")), ("T3", D("-15.00"))]
    assert "deposit in transit" in items[0][2] and "outstanding payment" in items[1][2]
    assert "bank charge not yet booked" in items[2][2]
    # Mar (open, to 03-10): JE-3/JE-4 cleared; the fee is still unbooked (11 days, 7 business days > 5): warn,
    # still exact
    assert rows["2026-03"] == ("warn", D("1585.00"), D("1585.00"), D("0.00"))
    matches = con.execute("""select txn_id, entry_id, rule from recon_bank_matches where period = '2026-03'
                             order by txn_id""").fetchall()
    assert matches == [
        ("T1", "JE-1", "reference"),
        ("T2", "JE-2", "reference"),
        ("T4", "JE-3", "date"),
        ("T5", "JE-4", "date"),
    ]


def test_r2_stale_item_fails_and_one_cent_is_caught() -> None:
    con = duckdb.connect()
    _books(con)
    build_recon(con, "run-1", ReconParams(match_window_days=5, stale_after_days=10))
    status = con.execute(
        "select status from recon_results where check_id = 'R2_bank_vs_book' and period = '2026-03'"
    ).fetchall()
    assert status == [("fail",)]  # the fee is 11 days old: stale at 10
    con2 = duckdb.connect()
    _books(con2)
    con2.execute("update bank_balances set closing_balance = closing_balance + 0.01 where balance_date = '2026-02-28'")
    build_recon(con2, "run-1", ReconParams())
    assert con2.execute("""select status, difference from recon_results
                           where check_id = 'R2_bank_vs_book' and period = '2026-02'""").fetchall() == [
        ("fail", D("0.01"))
    ]


def test_severity_overrides_turn_warnings_into_failures_and_back() -> None:
    r2 = "select period, status from recon_results where check_id = 'R2_bank_vs_book' order by period"
    con = duckdb.connect()
    _books(con)
    build_recon(con, "run-1", ReconParams(severity={"R2_bank_vs_book": "error"}))
    assert con.execute(r2).fetchall() == [("2026-02", "pass"), ("2026-03", "fail")]  # the unbooked fee, once old
    build_recon(con, "run-2", ReconParams(stale_after_days=10, severity={"R2_bank_vs_book": "warn"}))
    assert con.execute(r2).fetchall() == [("2026-02", "pass"), ("2026-03", "warn")]  # stale, yet only a warning
    assert con.execute("select distinct run_id from recon_results").fetchall() == [("run-2",)]


R2 = "select period, status, expected, actual, difference, detail from recon_results where check_id = 'R2_bank_vs_book'"


def _r2(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    return {p: tuple(rest) for p, *rest in con.execute(R2 + " order by period").fetchall()}


def _clean_books(con: duckdb.DuckDBPyConnection, balance_dates: tuple[str, ...]) -> None:
    """The fixture with the fee booked (clean books) and statement balances only on `balance_dates`."""
    _books(con)
    con.execute("""insert into erp_journal_lines values
        ('JE-5', 1, '2026-02-27', '6700', 15.00, 0.00, 'USD', null, 'bank fee', null, null, null),
        ('JE-5', 2, '2026-02-27', '1110', 0.00, 15.00, 'USD', null, 'bank fee', null, null, null)""")
    con.execute("delete from bank_balances where balance_date not in (select unnest(?::date[]))", [list(balance_dates)])


def test_r2_rolls_a_month_end_statement_forward_on_clean_books() -> None:
    # a feed that sends balances only at month-ends: the open month (03-10) has none of its own
    con = duckdb.connect()
    _clean_books(con, ("2026-01-31", "2026-02-28"))
    build_recon(con, "run-1", ReconParams())
    rows = _r2(con)
    assert rows["2026-02"][:4] == ("pass", D("1585.00"), D("1585.00"), D("0.00"))
    # Mar: 1485 on 02-28 + T4 300 - T5 200 = 1585 = ledger 1585, every line matched
    assert rows["2026-03"][:4] == ("pass", D("1585.00"), D("1585.00"), D("0.00"))
    assert "statement 2026-02-28 rolled forward by 2 transactions" in rows["2026-03"][4]
    assert "rolled forward" not in rows["2026-02"][4]
    # a feed that sent one balance only (the opening): every later cut-off is rolled forward from it
    con = duckdb.connect()
    _clean_books(con, ("2026-01-31",))
    build_recon(con, "run-1", ReconParams())
    rows = _r2(con)
    assert {p: r[:4] for p, r in rows.items()} == {
        "2026-02": ("pass", D("1585.00"), D("1585.00"), D("0.00")),
        "2026-03": ("pass", D("1585.00"), D("1585.00"), D("0.00")),
    }
    assert "statement 2026-01-31 rolled forward by 2 transactions" in rows["2026-02"][4]  # T2, T3
    assert "statement 2026-01-31 rolled forward by 4 transactions" in rows["2026-03"][4]
    # balances that start after the opening cut-off: no opening difference can be measured, none is made up
    con = duckdb.connect()
    _clean_books(con, ("2026-02-28",))
    build_recon(con, "run-1", ReconParams())
    assert {p: r[0] for p, r in _r2(con).items()} == {"2026-02": "pass", "2026-03": "pass"}


def test_r2_a_planted_gap_still_fails_when_rolled_forward() -> None:
    # the bank's balance at 02-28 is a cent off its feed: Feb fails, and so does the rolled-forward March
    con = duckdb.connect()
    _clean_books(con, ("2026-01-31", "2026-02-28"))
    con.execute("update bank_balances set closing_balance = closing_balance - 0.01 where balance_date = '2026-02-28'")
    build_recon(con, "run-1", ReconParams())
    rows = _r2(con)
    assert [(p, r[0], r[3]) for p, r in rows.items()] == [
        ("2026-02", "fail", D("-0.01")),
        ("2026-03", "fail", D("-0.01")),
    ]
    reasons = [
        r
        for (r,) in con.execute("""select reason from recon_items where check_id = 'R2_bank_vs_book'
                                            and period = '2026-03' and record_id = 'BA-1'""").fetchall()
    ]
    assert len(reasons) == 1 and reasons[0].startswith("statement does not reconcile")
    assert "statement 2026-02-28 rolled forward by 2 transactions" in reasons[0]
    # a feed that drops a line the statement balance holds (the fee before 02-28): caught after the roll-forward
    con = duckdb.connect()
    _clean_books(con, ("2026-01-31", "2026-02-28"))
    con.execute("delete from bank_transactions where txn_id = 'T3'")
    build_recon(con, "run-1", ReconParams())
    assert [(p, r[0], r[3]) for p, r in _r2(con).items()] == [
        ("2026-02", "fail", D("-15.00")),
        ("2026-03", "fail", D("-15.00")),
    ]
    # a ledger line a cent off its bank line, in the open month after the last balance: as with a statement
    # balance of that day, it is the two unmatched lines (no equation gap), listed until they warn or go stale
    con = duckdb.connect()
    _clean_books(con, ("2026-01-31", "2026-02-28"))
    con.execute("""insert into erp_journal_lines values
        ('JE-6', 1, '2026-03-05', '1110', 70.01, 0.00, 'USD', null, 'x', null, null, null),
        ('JE-6', 2, '2026-03-05', '4100', 0.00, 70.01, 'USD', null, 'x', null, null, null)""")
    con.execute("insert into bank_transactions values ('T6', 'BA-1', '2026-03-05', 70.00, 'x', 'JE-6')")
    build_recon(con, "run-1", ReconParams())
    assert _r2(con)["2026-03"][0] == "pass"
    listed = con.execute("""select record_id, amount from recon_items where check_id = 'R2_bank_vs_book'
                            and period = '2026-03' order by all""").fetchall()
    assert listed == [("JE-6:1", D("70.01")), ("T6", D("70.00"))]
    build_recon(con, "run-2", ReconParams(warn_after_days=2))  # Thu 03-05 to Tue 03-10: 3 business days
    assert _r2(con)["2026-03"][0] == "warn"


def test_r2_without_any_statement_balance_is_not_reconcilable() -> None:
    con = duckdb.connect()
    _clean_books(con, ())
    build_recon(con, "run-1", ReconParams())
    rows = _r2(con)
    assert [(p, r[0]) for p, r in rows.items()] == [("2026-02", "warn"), ("2026-03", "warn")]
    assert all("not reconcilable: no statement balance" in r[4] for r in rows.values())
    items = con.execute("""select period, reason from recon_items where check_id = 'R2_bank_vs_book'
                           and record_id = 'BA-1' order by period""").fetchall()
    assert [p for p, _ in items] == ["2026-02", "2026-03"]
    assert all(r.startswith("not reconcilable: no statement balance") for _, r in items)


def test_r2_young_items_are_listed_and_bank_only_items_warn_after_business_days() -> None:
    # the fee T3 (Fri 02-27) at Tue 03-10 is 7 business days (11 calendar days) old
    r3 = "select status from recon_results where check_id = 'R2_bank_vs_book' and period = '2026-03'"
    for warn_after, status in ((6, "warn"), (7, "pass"), (20, "pass")):
        con = duckdb.connect()
        _books(con)
        build_recon(con, "run-1", ReconParams(warn_after_days=warn_after))
        assert con.execute(r3).fetchall() == [(status,)], warn_after
        reason = con.execute("""select reason from recon_items where check_id = 'R2_bank_vs_book'
                                and period = '2026-03' and record_id = 'T3'""").fetchall()[0][0]
        assert reason.startswith("bank charge not yet booked on BA-1, 11 day(s) old")
        assert ("7 business days" in reason) == (status == "warn")
    # book-only items (deposits in transit, outstanding payments) never warn, whatever their age, until stale
    con = duckdb.connect()
    _clean_books(con, ("2026-01-31", "2026-02-28", "2026-03-10"))
    con.execute("delete from bank_transactions where txn_id in ('T4', 'T5')")  # JE-3/JE-4 never clear
    con.execute("update bank_balances set closing_balance = 1485.00 where balance_date = '2026-03-10'")
    build_recon(con, "run-1", ReconParams(warn_after_days=0))
    assert {p: r[0] for p, r in _r2(con).items()} == {"2026-02": "pass", "2026-03": "pass"}
    build_recon(con, "run-2", ReconParams(stale_after_days=10))  # JE-3 at 03-10 is 11 days old: stale
    assert {p: r[0] for p, r in _r2(con).items()} == {"2026-02": "pass", "2026-03": "fail"}


def _r6(con: duckdb.DuckDBPyConnection) -> tuple[str, list[tuple[str, str]]]:
    status = con.execute(
        "select status from recon_results where check_id = 'R6_completeness' and period = '2026-03'"
    ).fetchall()[0][0]
    items = con.execute(
        "select record_id, reason from recon_items where check_id = 'R6_completeness' order by all"
    ).fetchall()
    return status, items


def _load(
    con: duckdb.DuckDBPyConnection, table: str, received: int, loaded: int, rejected: int, quarantined: int, total: int
) -> None:
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
    con.executemany(
        "insert into quarantine values ('run-1', 'erp', 'query', ?, ?)",
        [(f'{{"id": {i}}}', "column debit arrived as binary: CAST it") for i in range(14)],
    )
    build_recon(con, "run-1", ReconParams())
    status, items = _r6(con)
    assert status == "fail"
    table_finding = [reason for record, reason in items if record == "erp_journal_lines"]
    assert table_finding and "14 of 14 rows rejected (14 by the adapter, 0 at publish), every row" in table_finding[0]
    assert "CAST it" in table_finding[0]  # the first reasons
    detail = con.execute(
        "select detail, expected, actual from recon_results where check_id = 'R6_completeness' and period = '2026-03'"
    ).fetchall()[0]
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
    rows = con.execute(
        "select check_id, status, detail from recon_results where check_id in "
        "('R2_bank_vs_book', 'R5_bookings_vs_billings') order by all"
    ).fetchall()
    assert {(c, s) for c, s, _ in rows} == {
        ("R2_bank_vs_book", "not_configured"),
        ("R5_bookings_vs_billings", "not_configured"),
    }
    assert len(rows) == 4 and all("closeboard.yaml" in d for *_, d in rows)
    assert not con.execute("select count(*) from recon_items where check_id = 'R2_bank_vs_book'").fetchall()[0][0]
