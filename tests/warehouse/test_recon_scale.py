"""R2 matching past one DuckDB row group (122,880 rows) inside the caller's transaction, as the refresh
runs it: at scale 100 a table created empty by a query (`... limit 0`) lost every row appended to it in
the same transaction (DuckDB 2.0.0), and every bank line was reported unmatched."""

from __future__ import annotations

import duckdb

from warehouse.db import ensure_schema, transaction
from warehouse.recon import ReconParams, build_recon

LINES = 125_000  # receipts, each banked the same day under its entry id: more than one row group of pairs


def test_r2_matches_every_line_past_one_row_group_inside_a_transaction() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    con.execute("insert into run_context values ('2026-02', '2026-03-10', 1, 'USD')")
    con.execute("""insert into erp_accounts values
        ('1110', 'Bank', 'asset', 'cash', 'USD', null), ('4100', 'Revenue', 'revenue', null, 'USD', null)""")
    con.execute("insert into bank_accounts values ('BA-1', 'Bank', 'USD', '1110')")
    # entry i: 1110 debit / 4100 credit of (i + 1) cents on a February day; its bank line the same day
    con.execute(f"""insert into erp_journal_lines
        select 'JE-' || i, n, date '2026-02-01' + (i % 28)::integer, case n when 1 then '1110' else '4100' end,
               case n when 1 then (i + 1) / 100 else 0 end, case n when 1 then 0 else (i + 1) / 100 end,
               'USD', null, 'receipt', null, null, null
        from range({LINES}) as r(i) cross join (values (1), (2)) as l(n)""")
    con.execute(f"""insert into bank_transactions
        select 'T-' || i, 'BA-1', date '2026-02-01' + (i % 28)::integer, (i + 1) / 100, 'receipt', 'JE-' || i
        from range({LINES}) as r(i)""")
    con.execute("insert into bank_balances select 'BA-1', date '2026-02-28', sum(amount) from bank_transactions")
    with transaction(con):
        summary = build_recon(con, "run-1", ReconParams())
    matched = dict(con.execute("select period, count(*) from recon_bank_matches group by period").fetchall())
    assert matched == {"2026-02": LINES, "2026-03": LINES}  # the open month sees the same February lines
    assert summary.matches == 2 * LINES
    unmatched = con.execute("select count(*) from recon_items where check_id = 'R2_bank_vs_book'").fetchall()
    assert unmatched == [(0,)]
    statuses = con.execute(
        "select distinct status from recon_results where check_id = 'R2_bank_vs_book' "
        "and period in ('2026-02', '2026-03')"
    ).fetchall()
    assert statuses == [("pass",)]
