"""The statements (mart_statements) on the demo company: their identities in every month, and every
figure equal to tests/reference.py's independent computation from the demo CSVs.

Most tests build the marts in memory from the demo's CSV files (seconds); one holds the full demo
run's read copy (`demo_home`) to the same reference, so what the page reads is covered too."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from tests.conftest import AS_OF, FIRST_PERIOD, read
from tests.reference import STATEMENT_COLUMNS, reference_statements
from warehouse.models import build_marts

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "warehouse" / "sql" / "schema"
COLUMNS = ", ".join(STATEMENT_COLUMNS)
# the lines tests/reference.py computes: accounts and groups, earnings rows and totals
REFERENCE_KINDS = ("account", "group", "total", "line", "balance")


def _build(data: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    for name in ("canonical.sql", "ops.sql"):
        con.execute((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    company = json.loads((data / "company.json").read_text(encoding="utf-8"))
    con.execute(
        "insert into erp_accounts by name select * from read_csv(?, all_varchar = true)",
        [str(data / "erp" / "accounts.csv")],
    )
    con.execute(
        "insert into erp_journal_lines by name"
        " select entry_id, line_no::integer as line_no, posted_date::date as posted_date, account_id,"
        " debit::decimal(18, 2) as debit, credit::decimal(18, 2) as credit, currency"
        " from read_csv(?, all_varchar = true)",
        [str(data / "erp" / "journal_lines.csv")],
    )
    con.execute(
        "insert into run_context values (?, ?::date, ?, ?)",
        [company["first_period"], company["as_of"], company["fiscal_year_start_month"], company["currency"]],
    )
    build_marts(con)
    return con


@pytest.fixture(scope="module")
def con(demo_data: Path):
    connection = _build(demo_data)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def reference(demo_data: Path):
    company = json.loads((demo_data / "company.json").read_text(encoding="utf-8"))
    return reference_statements(demo_data, FIRST_PERIOD, AS_OF, company["fiscal_year_start_month"])


def _periods(con) -> list[str]:
    return [r[0] for r in con.execute("select period from periods order by period").fetchall()]


def _line(con, statement: str, line_id: str) -> dict[str, tuple]:
    """period -> (amount, prior_month, prior_year, ytd) of one line (rollup account)."""
    rows = con.execute(
        f"select period, {COLUMNS} from mart_statements where statement = ? and rollup = 'account' and line_id = ?",
        [statement, line_id],
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_demo_covers_every_period_and_statement(con):
    periods = _periods(con)
    assert len(periods) == 25
    rows = con.execute(
        "select statement, rollup, count(distinct period) from mart_statements group by all order by all"
    ).fetchall()
    assert rows == [
        (s, r, 25) for s in ("balance_sheet", "cash_flow", "income_statement") for r in ("account", "subtype")
    ]
    # line_order numbers each statement's lines 1..n with no gap
    gaps = con.execute(
        "select statement, rollup, period from mart_statements group by all"
        " having max(line_order) <> count(*) or min(line_order) <> 1"
    ).fetchall()
    assert gaps == []


def test_assets_equal_liabilities_plus_equity_every_month(con):
    assets = _line(con, "balance_sheet", "total_assets")
    both = _line(con, "balance_sheet", "total_liabilities_and_equity")
    for period in _periods(con):
        assert assets[period] == both[period], period
        assert assets[period][0] is not None and assets[period][0] > 0


def test_net_income_equals_the_change_in_current_year_earnings(con):
    net_income = _line(con, "income_statement", "net_income")
    current = _line(con, "balance_sheet", "_current_earnings")
    starts = dict(con.execute("select period, strftime(fiscal_year_start, '%Y-%m') from periods").fetchall())
    for period in _periods(con):
        amount, prior_month, _, ytd = current[period]
        change = amount if starts[period] == period else amount - prior_month
        assert net_income[period][0] == change, period
        if net_income[period][3] is not None:  # year to date: the current-year earnings
            assert net_income[period][3] == amount, period
    # and the same as the KPI mart's net income
    kpis = dict(con.execute("select period, value from mart_kpis where kpi = 'net_income'").fetchall())
    assert {p: v[0] for p, v in net_income.items()} == kpis


def test_cash_flow_net_change_equals_the_change_in_cash_every_month(con):
    change = _line(con, "cash_flow", "net_change_in_cash")
    begin = _line(con, "cash_flow", "cash_begin")
    end = _line(con, "cash_flow", "cash_end")
    difference = _line(con, "cash_flow", "cash_difference")
    cash_kpi = dict(con.execute("select period, value from mart_kpis where kpi = 'cash'").fetchall())
    periods = _periods(con)
    for i, period in enumerate(periods):
        for column in range(4):
            if change[period][column] is None:
                continue
            assert change[period][column] == end[period][column] - begin[period][column], (period, column)
            assert difference[period][column] == D("0.00")
        assert end[period][0] == cash_kpi[period]
        if i:
            assert begin[period][0] == cash_kpi[periods[i - 1]]
    # the operating section starts from the income statement's net income
    assert _line(con, "cash_flow", "net_income") == _line(con, "income_statement", "net_income")
    # the activities add up to the net change, in both rollups
    rows = con.execute(
        f"select rollup, period, {COLUMNS} from mart_statements where statement = 'cash_flow'"
        " and line_id in ('net_cash_operating', 'net_cash_investing', 'net_cash_financing')"
    ).fetchall()
    sums: dict[tuple, list] = {}
    for rollup, period, *values in rows:
        acc = sums.setdefault((rollup, period), [D(0)] * 4)
        for j, v in enumerate(values):
            acc[j] = None if v is None or acc[j] is None else acc[j] + v
    for (_, period), values in sums.items():
        assert tuple(values) == change[period], period


def test_subtotals_add_up_and_both_rollups_agree(con):
    # per section, the account leaves (and a parent's own postings) and the subtypes both sum to the total
    rows = con.execute(
        f"""
        with leaves as (
            select statement, rollup, period, section, {", ".join(f"sum({c}) as {c}" for c in STATEMENT_COLUMNS)}
            from mart_statements
            where kind in ('account', 'subtype') and statement <> 'cash_flow'
            group by all
        )
        select l.statement, l.rollup, l.period, l.section
        from leaves as l
        inner join mart_statements as t
            on t.statement = l.statement and t.rollup = l.rollup and t.period = l.period
            and t.kind = 'total' and t.section = l.section
        where {" or ".join(f"l.{c} is distinct from t.{c}" for c in STATEMENT_COLUMNS)}
        """
    ).fetchall()
    assert rows == []
    totals = con.execute(
        f"select statement, period, line_id, {COLUMNS} from mart_statements where kind = 'total'"
        " and rollup = ? order by all",
        ["account"],
    ).fetchall()
    assert (
        totals
        == con.execute(
            f"select statement, period, line_id, {COLUMNS} from mart_statements where kind = 'total'"
            " and rollup = ? order by all",
            ["subtype"],
        ).fetchall()
    )


def test_balance_sheet_columns_match_mart_balance_sheet(con):
    """The statement's month-end balances are mart_balance_sheet's, and the prior-month column is
    the previous month's."""
    mart = {
        (p, a): v for p, a, v in con.execute("select period, account_id, balance from mart_balance_sheet").fetchall()
    }
    rows = con.execute(
        "select period, line_id, amount, prior_month from mart_statements"
        " where statement = 'balance_sheet' and rollup = 'account' and kind = 'account'"
    ).fetchall()
    periods = _periods(con)
    groups = set(
        con.execute(
            "select period, line_id from mart_statements where statement = 'balance_sheet' and kind = 'group'"
        ).fetchall()
    )
    assert {(p, a) for p, a, *_ in rows} | groups == set(mart)  # a parent with no postings: a group line
    for period, line_id, amount, prior_month in rows:
        assert amount == mart[(period, line_id)], (period, line_id)
        i = periods.index(period)
        if i:
            assert prior_month == mart[(periods[i - 1], line_id)], (period, line_id)


def test_parents_roll_up_their_children(con):
    revenue = con.execute(
        f"select {COLUMNS} from mart_statements where statement = 'income_statement'"
        " and rollup = 'account' and period = '2026-05' and line_id = '4000'"
    ).fetchone()
    total = con.execute(
        f"select {COLUMNS} from mart_statements where statement = 'income_statement'"
        " and rollup = 'account' and period = '2026-05' and line_id = 'total_revenue'"
    ).fetchone()
    assert revenue == total
    kinds = dict(
        con.execute(
            "select line_id, kind from mart_statements where statement = 'balance_sheet'"
            " and rollup = 'account' and period = '2026-05'"
        ).fetchall()
    )
    assert kinds["1000"] == "group" and kinds["1500"] == "group" and kinds["1510"] == "account"
    depths = dict(
        con.execute(
            "select line_id, depth from mart_statements where statement = 'balance_sheet'"
            " and rollup = 'account' and period = '2026-05'"
        ).fetchall()
    )
    assert (depths["1000"], depths["1500"], depths["1510"]) == (0, 1, 2)


def test_unknown_comparisons_are_null_not_zero(con):
    """The demo ledger starts the month before first_period (the opening balances): the same month a
    year before is no data for the first twelve periods, and so is year to date where the fiscal year
    began before the ledger."""
    rows = con.execute(
        f"select period, {COLUMNS} from mart_statements where statement = 'income_statement'"
        " and rollup = 'account' and line_id = 'total_revenue' order by period"
    ).fetchall()
    first = rows[0]
    assert first[0] == FIRST_PERIOD
    assert first[2] == D("0.00")  # 2024-05 holds only the opening balances: known, no revenue
    assert first[3] is None and first[4] is None
    assert all(r[3] is None for r in rows[:11]) and all(r[3] is not None for r in rows[11:])
    assert all(r[4] is not None for r in rows if r[0] >= "2025-01")


def _compare(rows, reference) -> None:
    compared = 0
    for statement, period, line_id, *values in rows:
        expected = reference[period].get((statement, line_id))
        if expected is None:
            continue
        assert tuple(values) == tuple(expected[c] for c in STATEMENT_COLUMNS), (statement, period, line_id)
        compared += 1
    assert compared >= 25 * 50


def test_statements_equal_the_independent_reference(con, reference):
    rows = con.execute(
        f"select statement, period, line_id, {COLUMNS} from mart_statements where rollup = 'account'"
        f" and kind in {REFERENCE_KINDS}"
    ).fetchall()
    _compare(rows, reference)
    assert len(reference) == 25
    # every reference line is in the mart
    keys = {(s, p, line) for s, p, line, *_ in rows}
    missing = [(s, p, line) for p, lines in reference.items() for (s, line) in lines if (s, p, line) not in keys]
    assert missing == []


def test_demo_run_statements_equal_the_reference(demo_home: Path, reference):
    """What the page reads: the full demo run's read copy, through the connectors and staging."""
    rows = read(
        demo_home,
        f"select statement, period, line_id, {COLUMNS} from mart_statements where rollup = 'account'"
        f" and kind in {REFERENCE_KINDS}",
    )
    _compare(rows, reference)


def test_a_parent_posted_to_directly_has_a_line_of_its_own_apart_from_its_subtree():
    """A parent account with postings of its own and children: its group line (the subtree) and its
    "(posted directly)" line are two lines with distinct ids, each with its own figure, and each
    explains (journal lines and accounts) to exactly its own figure."""
    from reports.explain import explain_statement_line

    con = duckdb.connect(":memory:")
    for name in ("canonical.sql", "ops.sql"):
        con.execute((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    con.executemany(
        "insert into erp_accounts values (?, ?, ?, ?, 'USD', ?)",
        [
            ("1000", "Cash", "asset", "cash", None),
            ("1100", "Receivables", "asset", "ar", None),
            ("1110", "Receivables abroad", "asset", "ar", "1100"),
            ("4000", "Revenue", "revenue", None, None),
            ("4100", "Services", "revenue", None, "4000"),
        ],
    )
    # (entry, date, account, debit, credit): each entry balances
    postings = [
        ("E1", "2026-04-03", "1100", "120.10", "0"),
        ("E1", "2026-04-03", "4000", "0", "120.10"),
        ("E2", "2026-04-09", "1110", "80.05", "0"),
        ("E2", "2026-04-09", "4100", "0", "80.05"),
        ("E3", "2026-04-20", "1000", "50.00", "0"),
        ("E3", "2026-04-20", "1100", "0", "50.00"),
        ("E4", "2026-04-25", "1100", "7.33", "0"),
        ("E4", "2026-04-25", "4100", "0", "7.33"),
    ]
    con.executemany(
        "insert into erp_journal_lines (entry_id, line_no, posted_date, account_id, debit, credit, currency)"
        " values (?, ?, ?::date, ?, ?::decimal(18, 2), ?::decimal(18, 2), 'USD')",
        [(e, i + 1, d, a, dr, cr) for i, (e, d, a, dr, cr) in enumerate(postings)],
    )
    con.execute("insert into run_context values ('2026-04', '2026-05-15'::date, 1, 'USD')")
    build_marts(con)

    def own(account: str, sign: int) -> D:  # the account's own postings in April, as the statement signs it
        return sign * sum((D(dr) - D(cr) for _, d, a, dr, cr in postings if a == account and d < "2026-05"), D(0))

    lines = {
        (s, line): (kind, amount)
        for s, line, kind, amount in con.execute(
            "select statement, line_id, kind, amount from mart_statements"
            " where rollup = 'account' and period = '2026-04' and statement <> 'cash_flow'"
        ).fetchall()
    }
    ids = con.execute(
        "select statement, rollup, period, line_id, count(*) from mart_statements group by all having count(*) > 1"
    ).fetchall()
    assert ids == []
    assert lines[("income_statement", "4000")] == ("group", own("4000", -1) + own("4100", -1))
    assert lines[("income_statement", "4000/direct")] == ("account", own("4000", -1))
    assert lines[("income_statement", "4100")] == ("account", own("4100", -1))
    assert lines[("balance_sheet", "1100")] == ("group", own("1100", 1) + own("1110", 1))
    assert lines[("balance_sheet", "1100/direct")] == ("account", own("1100", 1))
    label = con.execute("select label from mart_statements where line_id = '4000/direct' limit 1").fetchone()[0]
    assert label == "Revenue (posted directly)"
    for line_id, accounts in (("4000", {"4000", "4100"}), ("4000/direct", {"4000"})):
        explained = explain_statement_line(con, "account", line_id, "2026-04")
        assert {a["account_id"] for a in explained["accounts"]} == accounts
        assert explained["ties"] and D(explained["rows"]["total"]) == lines[("income_statement", line_id)][1]
    con.close()
