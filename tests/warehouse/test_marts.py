"""The read-side marts on a small hand-made ledger; every expected figure is derived by hand below.

Settings: first_period 2024-11, as_of 2025-01-20 (January is the open month, 20 days elapsed),
fiscal year starting in January, company currency USD.

Accounts: 1000 cash (asset/cash), 1100 AR (asset/ar), 2000 AP (liability/ap), 2100 deferred revenue
(liability), 2500 bank loan (liability/debt), 3000 share capital (equity), 4000 revenue,
5000 hosting (expense/cogs), 6000 salaries, 6100 rent, 6200 interest (expenses, no subtype).

Ledger (Dr / Cr):
  E01 2024-09-15 funding         cash 100000.00 / share capital        (before first_period)
  E02 2024-10-10 invoice         AR 5000.00 / revenue                  (before first_period)
  E03 2024-10-31 salaries        salaries 8000.00 / cash               (before first_period)
  E04 2024-11-05 invoice         AR 12000.00 / revenue
  E05 2024-11-12 hosting bill    hosting 3000.00 / AP
  E06 2024-11-25 salaries        salaries 9000.00 / cash
  E07 2024-11-28 receipt         cash 4000.00 / AR
  E08 2024-12-01 loan draw       cash 50000.00 / loan
  E09 2024-12-10 bill paid       AP 3000.00 / cash
  E10 2024-12-15 salaries        salaries 9000.00 / cash
  E11 2024-12-20 hosting bill    hosting 2000.00 / AP
  E12 2024-12-31 loan repayment  loan 1000.00 + interest 100.00 / cash 1100.00
  E13 2025-01-05 invoice         AR 800.00 / revenue
  E14 2025-01-08 hosting bill    hosting 801.00 / AP
  E15 2025-01-15 receipt         cash 12999.80 / AR
  E16 2025-01-18 salaries        salaries 9000.00 / cash
  E17 2025-01-19 prepayment      cash 13000.30 / deferred revenue
  E18 2025-02-03 rent            rent 500.00 / cash                    (after the open month)

Net burn (cash credit - debit, leaving out E01, E08 and the whole of E12):
  Sep 0; Oct 8000; Nov 9000 - 4000 = 5000; Dec 3000 + 9000 = 12000;
  Jan 9000 - 12999.80 - 13000.30 = -17000.10.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from warehouse.models import MART_DIR, build_marts

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "warehouse" / "sql" / "schema"

ACCOUNTS = [
    ("1000", "Cash", "asset", "cash"),
    ("1100", "Accounts receivable", "asset", "ar"),
    ("2000", "Accounts payable", "liability", "ap"),
    ("2100", "Deferred revenue", "liability", None),
    ("2500", "Bank loan", "liability", "debt"),
    ("3000", "Share capital", "equity", None),
    ("4000", "Subscription revenue", "revenue", None),
    ("5000", "Hosting", "expense", "cogs"),
    ("6000", "Salaries", "expense", None),
    ("6100", "Rent", "expense", None),
    ("6200", "Interest", "expense", None),
]

# (entry_id, posted_date, [(account_id, debit, credit), ...])
ENTRIES = [
    ("E01", "2024-09-15", [("1000", "100000.00", "0"), ("3000", "0", "100000.00")]),
    ("E02", "2024-10-10", [("1100", "5000.00", "0"), ("4000", "0", "5000.00")]),
    ("E03", "2024-10-31", [("6000", "8000.00", "0"), ("1000", "0", "8000.00")]),
    ("E04", "2024-11-05", [("1100", "12000.00", "0"), ("4000", "0", "12000.00")]),
    ("E05", "2024-11-12", [("5000", "3000.00", "0"), ("2000", "0", "3000.00")]),
    ("E06", "2024-11-25", [("6000", "9000.00", "0"), ("1000", "0", "9000.00")]),
    ("E07", "2024-11-28", [("1000", "4000.00", "0"), ("1100", "0", "4000.00")]),
    ("E08", "2024-12-01", [("1000", "50000.00", "0"), ("2500", "0", "50000.00")]),
    ("E09", "2024-12-10", [("2000", "3000.00", "0"), ("1000", "0", "3000.00")]),
    ("E10", "2024-12-15", [("6000", "9000.00", "0"), ("1000", "0", "9000.00")]),
    ("E11", "2024-12-20", [("5000", "2000.00", "0"), ("2000", "0", "2000.00")]),
    (
        "E12",
        "2024-12-31",
        [("2500", "1000.00", "0"), ("6200", "100.00", "0"), ("1000", "0", "1100.00")],
    ),
    ("E13", "2025-01-05", [("1100", "800.00", "0"), ("4000", "0", "800.00")]),
    ("E14", "2025-01-08", [("5000", "801.00", "0"), ("2000", "0", "801.00")]),
    ("E15", "2025-01-15", [("1000", "12999.80", "0"), ("1100", "0", "12999.80")]),
    ("E16", "2025-01-18", [("6000", "9000.00", "0"), ("1000", "0", "9000.00")]),
    ("E17", "2025-01-19", [("1000", "13000.30", "0"), ("2100", "0", "13000.30")]),
    ("E18", "2025-02-03", [("6100", "500.00", "0"), ("1000", "0", "500.00")]),
]

# (opportunity_id, stage, amount, currency, close_date, is_won, is_closed)
OPPORTUNITIES = [
    ("O1", "won", "12000.00", "USD", "2024-11-20", True, True),
    ("O2", "won", "7000.50", "USD", "2025-01-10", True, True),
    ("O3", "lost", "4000.00", "USD", "2024-12-05", False, True),
    ("O4", "proposal", "25000.25", "USD", "2025-03-01", False, False),
    ("O5", "proposal", "10000.00", "EUR", "2025-02-01", False, False),  # other currency: left out
    ("O6", "discovery", "1234.50", "USD", None, False, False),
]

PERIODS = ["2024-11", "2024-12", "2025-01"]


def _schema(con: duckdb.DuckDBPyConnection) -> None:
    for name in ("canonical.sql", "ops.sql"):
        con.execute((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def _load(
    con: duckdb.DuckDBPyConnection,
    entries=ENTRIES,
    opportunities=OPPORTUNITIES,
    run_context="'2024-11', date '2025-01-20', 1, 'USD'",
) -> None:
    for account_id, name, type_, subtype in ACCOUNTS:
        con.execute(
            "insert into erp_accounts values (?, ?, ?, ?, 'USD', null)",
            [account_id, name, type_, subtype],
        )
    for entry_id, posted, lines in entries:
        for line_no, (account_id, debit, credit) in enumerate(lines, start=1):
            con.execute(
                "insert into erp_journal_lines (entry_id, line_no, posted_date, account_id, debit,"
                " credit, currency) values (?, ?, ?::date, ?, ?::decimal(18, 2),"
                " ?::decimal(18, 2), 'USD')",
                [entry_id, line_no, posted, account_id, debit, credit],
            )
    for opp_id, stage, amount, currency, close_date, is_won, is_closed in opportunities:
        con.execute(
            "insert into crm_opportunities (opportunity_id, stage, amount, currency, close_date,"
            " is_won, is_closed) values (?, ?, ?::decimal(18, 2), ?, ?::date, ?, ?)",
            [opp_id, stage, amount, currency, close_date, is_won, is_closed],
        )
    con.execute(f"insert into run_context values ({run_context})")


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect(":memory:")
    _schema(connection)
    _load(connection)
    built = build_marts(connection)
    # these, in this order (other marts, e.g. the budget's, may sit between them)
    core = [
        "periods",
        "ledger_monthly",
        "account_balances",
        "mart_pnl_monthly",
        "mart_balance_sheet",
        "mart_kpis",
        "statement_windows",
        "statement_items",
        "statement_balances",
        "statement_values",
        "statement_tree",
        "statement_lines",
        "cash_flow_lines",
        "mart_statements",
    ]
    assert [name for name in built if name in core] == core
    yield connection
    connection.close()


def _kpis(con, period: str) -> dict[str, D | None]:
    rows = con.sql(f"select kpi, value from mart_kpis where period = '{period}'").fetchall()
    assert len(rows) == len({kpi for kpi, _ in rows})
    return dict(rows)


def test_mart_files_run_in_name_order():
    names = [path.name for path in sorted(MART_DIR.glob("*.sql"))]
    assert names[0] == "00_functions.sql"
    assert names[-1] == "90_reported_kpis.sql"  # the view over mart_kpis and the close snapshots


def test_periods(con):
    rows = con.sql("select * from periods order by period").fetchall()
    assert rows == [
        ("2024-11", dt.date(2024, 11, 1), dt.date(2024, 11, 30), 30, False, dt.date(2024, 1, 1)),
        ("2024-12", dt.date(2024, 12, 1), dt.date(2024, 12, 31), 31, False, dt.date(2024, 1, 1)),
        ("2025-01", dt.date(2025, 1, 1), dt.date(2025, 1, 31), 20, True, dt.date(2025, 1, 1)),
    ]


def test_column_types(con):
    def types(table):
        return {
            name: type_
            for name, type_ in con.sql(
                f"select column_name, data_type from information_schema.columns where table_name = '{table}'"
            ).fetchall()
        }

    assert types("mart_kpis") == {
        "period": "VARCHAR",
        "kpi": "VARCHAR",
        "value": "DECIMAL(18,2)",
    }
    assert types("mart_pnl_monthly")["amount"] == "DECIMAL(18,2)"
    assert types("mart_balance_sheet")["balance"] == "DECIMAL(18,2)"
    assert types("periods")["days"] == "INTEGER"


def test_pnl_signs_and_dense_grid(con):
    rows = con.sql(
        "select period, account_id, type, subtype, amount from mart_pnl_monthly order by period, account_id"
    ).fetchall()
    expected = {
        "2024-11": ["12000.00", "3000.00", "9000.00", "0.00", "0.00"],
        "2024-12": ["0.00", "2000.00", "9000.00", "0.00", "100.00"],
        "2025-01": ["800.00", "801.00", "9000.00", "0.00", "0.00"],
    }
    assert rows == [
        (period, account_id, type_, subtype, D(amount))
        for period, amounts in expected.items()
        for (account_id, _, type_, subtype), amount in zip(ACCOUNTS[6:], amounts, strict=True)
    ]


def test_balance_sheet_by_month(con):
    rows = con.sql("select period, account_id, type, balance from mart_balance_sheet").fetchall()
    balances = {(period, account_id): balance for period, account_id, _, balance in rows}
    expected = {
        # account: (2024-11, 2024-12, 2025-01)
        "1000": ("87000.00", "123900.00", "140900.10"),  # cash
        "1100": ("13000.00", "13000.00", "800.20"),  # AR
        "2000": ("3000.00", "2000.00", "2801.00"),  # AP
        "2100": ("0.00", "0.00", "13000.30"),  # deferred revenue
        "2500": ("0.00", "49000.00", "49000.00"),  # loan
        "3000": ("100000.00", "100000.00", "100000.00"),  # share capital
        # FY2024 profit (Oct -3000, Nov 0, Dec -11100) is current in 2024, retained in 2025
        "_retained_earnings": ("0.00", "0.00", "-14100.00"),
        "_current_earnings": ("-3000.00", "-14100.00", "-9001.00"),
    }
    assert balances == {
        (period, account_id): D(value)
        for account_id, values in expected.items()
        for period, value in zip(PERIODS, values, strict=True)
    }
    earnings_types = {(account_id, type_) for _, account_id, type_, _ in rows if account_id.startswith("_")}
    assert earnings_types == {("_retained_earnings", "equity"), ("_current_earnings", "equity")}


def test_balance_sheet_balances_at_every_month_end(con):
    rows = con.sql(
        "select period,"
        " sum(balance) filter (where type = 'asset'),"
        " sum(balance) filter (where type in ('liability', 'equity'))"
        " from mart_balance_sheet group by period order by period"
    ).fetchall()
    assert rows == [
        ("2024-11", D("100000.00"), D("100000.00")),
        ("2024-12", D("136900.00"), D("136900.00")),
        ("2025-01", D("141700.30"), D("141700.30")),
    ]


EXPECTED_KPIS = {
    "2024-11": {
        "revenue": "12000.00",
        "cogs": "3000.00",
        "gross_profit": "9000.00",
        "gross_margin_pct": "75.00",  # 9000 / 12000
        "opex": "9000.00",
        "net_income": "0.00",
        "cash": "87000.00",
        "ar": "13000.00",
        "ap": "3000.00",
        "net_burn": "5000.00",
        "runway_months": "20.08",  # 87000 / ((0 + 8000 + 5000) / 3) = 20.0769...
        "dso": "32.50",  # 13000 / 12000 x 30
        "dpo": "7.50",  # 3000 / 12000 x 30
        "pipeline_open": "26234.75",  # 25000.25 + 1234.50; the EUR deal is left out
        "bookings_won": "12000.00",
    },
    "2024-12": {
        "revenue": "0.00",
        "cogs": "2000.00",
        "gross_profit": "-2000.00",
        "gross_margin_pct": None,  # revenue 0
        "opex": "9100.00",  # salaries + the loan's interest
        "net_income": "-11100.00",
        "cash": "123900.00",
        "ar": "13000.00",
        "ap": "2000.00",
        "net_burn": "12000.00",  # the loan draw and the whole repayment entry left out
        "runway_months": "14.87",  # 123900 / ((8000 + 5000 + 12000) / 3) = 14.868
        "dso": None,  # revenue <= 0
        "dpo": "5.59",  # 2000 / 11100 x 31 = 5.5856
        "pipeline_open": "26234.75",
        "bookings_won": "0.00",
    },
    "2025-01": {
        "revenue": "800.00",
        "cogs": "801.00",
        "gross_profit": "-1.00",
        "gross_margin_pct": "-0.13",  # -1 / 800 x 100 = -0.125, half away from zero
        "opex": "9000.00",
        "net_income": "-9001.00",
        "cash": "140900.10",  # the February rent is after the open month
        "ar": "800.20",
        "ap": "2801.00",
        "net_burn": "-17000.10",
        "runway_months": None,  # mean burn (5000 + 12000 - 17000.10) / 3 < 0
        "dso": "20.01",  # 800.20 / 800 x 20 days elapsed = 20.005, half away from zero
        "dpo": "5.72",  # 2801 / 9801 x 20 = 5.7157
        "pipeline_open": "26234.75",
        "bookings_won": "7000.50",
    },
}


@pytest.mark.parametrize("period", PERIODS)
def test_kpis(con, period):
    expected = {kpi: (None if value is None else D(value)) for kpi, value in EXPECTED_KPIS[period].items()}
    assert _kpis(con, period) == expected


def test_kpis_cover_exactly_the_reported_periods_in_order(con):
    rows = con.sql("select period, kpi from mart_kpis").fetchall()
    assert rows == [(period, kpi) for period in PERIODS for kpi in EXPECTED_KPIS[period]]


@pytest.mark.parametrize(
    ("num", "den", "expected"),
    [
        ("0.125", "1", "0.13"),
        ("-0.125", "1", "-0.13"),
        ("0.125", "-1", "-0.13"),
        ("0.124", "1", "0.12"),
        ("2", "3", "0.67"),
        ("-2", "3", "-0.67"),
        ("1", "0", None),
    ],
)
def test_div_round2_rounds_half_away_from_zero(con, num, den, expected):
    rows = con.sql(f"select div_round2({num}::decimal(18, 3), {den}::decimal(18, 2))").fetchall()
    assert rows == [(None if expected is None else D(expected),)]


def test_rebuild_is_idempotent(con):
    before = con.sql("select * from mart_kpis").fetchall()
    build_marts(con)
    assert con.sql("select * from mart_kpis").fetchall() == before


def test_contra_postings_and_negative_divisors():
    """A month with only a credit note and a vendor credit: P&L amounts turn negative, dso and dpo
    are null (divisor < 0), the gross margin is still defined."""
    connection = duckdb.connect(":memory:")
    _schema(connection)
    _load(
        connection,
        entries=[
            ("C1", "2024-03-04", [("4000", "100.00", "0"), ("1100", "0", "100.00")]),
            ("C2", "2024-03-09", [("2000", "40.00", "0"), ("5000", "0", "40.00")]),
        ],
        opportunities=[],
        run_context="'2024-03', date '2024-04-10', 1, 'USD'",
    )
    build_marts(connection)
    pnl = connection.sql(
        "select period, account_id, amount from mart_pnl_monthly"
        " where account_id in ('4000', '5000') order by period, account_id"
    ).fetchall()
    assert pnl == [
        ("2024-03", "4000", D("-100.00")),
        ("2024-03", "5000", D("-40.00")),
        ("2024-04", "4000", D("0.00")),
        ("2024-04", "5000", D("0.00")),
    ]
    march = _kpis(connection, "2024-03")
    picked = ("revenue", "cogs", "gross_margin_pct", "ar", "ap", "dso", "dpo")
    assert {kpi: march[kpi] for kpi in picked} == {
        "revenue": D("-100.00"),
        "cogs": D("-40.00"),
        "gross_margin_pct": D("60.00"),  # (-100 + 40) / -100 x 100
        "ar": D("-100.00"),
        "ap": D("-40.00"),
        "dso": None,
        "dpo": None,
    }
    april = _kpis(connection, "2024-04")
    # nothing posted in April, no opportunities: sums are 0, the gross margin undefined
    picked = ("revenue", "gross_margin_pct", "pipeline_open", "bookings_won")
    assert [april[kpi] for kpi in picked] == [D("0.00"), None, D("0.00"), D("0.00")]
    connection.close()


def test_run_context_must_hold_one_row():
    connection = duckdb.connect(":memory:")
    _schema(connection)
    with pytest.raises(ValueError, match="exactly one row, found 0"):
        build_marts(connection)
    connection.close()


def test_failed_build_leaves_previous_marts():
    connection = duckdb.connect(":memory:")
    _schema(connection)
    _load(connection, entries=ENTRIES[:4], opportunities=[])
    build_marts(connection)
    before = connection.sql("select * from mart_pnl_monthly").fetchall()
    connection.execute("insert into erp_accounts values ('4100', 'Services', 'revenue', null, 'USD', null)")
    connection.execute("drop table crm_opportunities")  # mart_kpis needs it
    with pytest.raises(duckdb.CatalogException):
        build_marts(connection)
    assert connection.sql("select * from mart_pnl_monthly").fetchall() == before
    assert len(before) == 3 * 5  # 3 periods x (1 revenue + 4 expense accounts), not 3 x 6
    connection.close()


def test_builds_inside_the_callers_transaction():
    connection = duckdb.connect(":memory:")
    _schema(connection)
    _load(connection, entries=ENTRIES[:4], opportunities=[])
    connection.execute("begin transaction")
    build_marts(connection)
    connection.execute("rollback")  # the caller's transaction owns the build
    tables = connection.sql(
        "select table_name from information_schema.tables where table_name like 'mart_%'"
    ).fetchall()
    assert tables == []
    connection.close()
