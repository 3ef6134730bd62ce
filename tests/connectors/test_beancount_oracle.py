"""closeboard's figures from a beancount ledger equal beancount's own, to the cent.

Each ledger is pulled through the REAL beancount-mcp server (uvx, its own environment) into a DuckDB
file, and the marts are built, as in tests/connectors/test_adapters_beancount.py. The oracle is BQL
run by beanquery in our own venv on the same file (beancount.loader + beanquery.query.run_query):
every month's revenue (credit - debit on Income accounts), expenses and net income, every month-end
balance of the cash, AR and AP accounts, the exchange rates (USD-quoted price directives) and the
postings that are not money (their weight cannot be converted to USD: IRAUSD, VACHR, HOURS). BQL
sums exactly and converts each posting at its own date; its USD position is rounded to cents once.
The ledger's own trial balance the adapter reads for R7 (erp_trial_balance, one BQL aggregate per
month-end on the server) equals, account by account, the balances computed here from beanquery's
postings (each posting's USD value rounded to cents half away from zero, as a journal line is, and
the rounding account's share of the cent residuals); R7 then passes at every month-end.

Ledgers: three written by beancount's generator `bean-example` (seeds and date ranges below; every
paycheck posts 401k units in IRAUSD and vacation hours in VACHR, which have no price), and one
hand-written (fixtures/beancount/multicurrency.beancount: EUR at @ prices, a stock at {cost}, leave
hours, all-EUR transactions converted with price directives).

What the figures cannot share, and how the test handles it:
- bean-example buys mutual-fund units (3 decimals) at a cents cost: the weight has sub-cents
  (e.g. 240.04500 USD against -240.04 USD of cash). closeboard's journal is in cents; a transaction
  whose cents do not sum to zero gets a line on `rounding_account` (Expenses:Rounding here). BQL
  knows no such line, so the P&L is compared without that account, and the rounding lines are
  checked against the oracle's own residuals (per transaction, the USD weights rounded to cents).
- for the same reason the fund holdings (Assets:US:Vanguard:VBMPX/RGAGX) sit in no subtype: their
  BQL balance is an exact sum of sub-cent costs. bean-example has no receivables: the stand-in for
  AR is the brokerage's stock held at cost (Assets:US:ETrade:<ticker>: whole shares at a cents cost).
- bean-example's own `balance` assertions on Assets:US:Federal:PreTax401k fail when the range does
  not start in January (a generator quirk); those are the only loader errors accepted.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import duckdb
import pytest
from beancount import loader
from beancount.core.inventory import Inventory
from beancount.ops.balance import BalanceError
from beanquery.query import run_query

from connectors.config import parse_config
from pipelines import progress
from pipelines.ingest import Ingested, ingest_source
from tests.connectors.beancount_mcp import FIXTURES, UVX_ARGS, raw_config
from tests.connectors.uvx import require_uvx
from warehouse.db import ensure_schema
from warehouse.home import Home
from warehouse.models import build_marts

CENT = Decimal("0.01")
ROUNDING = "Expenses:Rounding"
BEAN_EXAMPLE_SUBTYPES = {
    "cash": ["Assets:US:BofA:Checking", "Assets:US:*:Cash"],
    "ar": ["Assets:US:ETrade:*"],  # stand-in: stock held at cost (bean-example has no receivables)
    "ap": ["Liabilities:US:Chase:*", "Liabilities:AccountsPayable"],  # the credit card
}
HANDWRITTEN_SUBTYPES = {
    "cash": ["Assets:Bank:*"],
    "ar": ["Assets:Receivable:*"],
    "ap": ["Liabilities:Payable:*"],
}
# (seed, --date-begin, --date-end): modest ledgers, 1.1k-1.6k postings each
BEAN_EXAMPLES = [(1, "2023-01-01", "2024-01-01"), (7, "2021-06-15", "2022-09-30"), (42, "2019-11-01", "2021-03-01")]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _usd(inventory: Inventory | None) -> Decimal:
    """The USD position of a BQL sum (an Inventory; None when no row matched)."""
    if inventory is None:
        return Decimal(0)
    return inventory.get_currency_units("USD").number


@dataclass
class Loaded:
    ledger: Path
    con: duckdb.DuckDBPyConnection
    erp: Ingested
    notes: list[str]  # the progress lines the pull emitted
    subtypes: dict[str, list[str]]
    first: date
    last: date
    oracle: Oracle


def _ledger(path: Path) -> tuple[list[Any], dict[str, Any]]:
    entries, errors, options = loader.load_file(str(path))
    assert all(isinstance(e, BalanceError) and "PreTax401k" in e.message for e in errors), errors[:3]
    return entries, options


def load(uvx: str, ledger: Path, root: Path, subtypes: dict[str, list[str]]) -> Loaded:
    """Pull + publish + build_marts into a DuckDB file, as the pipeline does."""
    oracle = Oracle(ledger)
    ((first, last),) = oracle.rows("SELECT min(date), max(date)")
    raw = raw_config(uvx, ledger, rounding_account=ROUNDING, subtypes=subtypes)
    raw["company"]["first_period"] = first.strftime("%Y-%m")
    raw["company"]["as_of"] = last.isoformat()  # the report date: the open month's trial balance is at `last`
    config = parse_config(raw)
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    ensure_schema(con)

    @contextmanager
    def connect():  # noqa: ANN202
        yield con

    notes: list[str] = []
    stop = progress.listen(notes.append)
    try:
        erp = ingest_source(config, "erp", home=Home(root / "home"), run_id="r1", connect=connect)
    finally:
        stop()
    con.execute("insert into run_context values (?, ?, 1, 'USD')", [first.strftime("%Y-%m"), last])
    build_marts(con)
    return Loaded(ledger, con, erp, notes, subtypes, first, last, oracle)


def bean_example(seed: int, begin: str, end: str, path: Path) -> Path:
    script = Path(sys.executable).parent / "bean-example"
    subprocess.run(
        [str(script), "--seed", str(seed), "--date-begin", begin, "--date-end", end, "-o", str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return path


@pytest.fixture(scope="module")
def uvx() -> str:
    return require_uvx(UVX_ARGS, "beancount-mcp")


LEDGERS = [pytest.param(("bean-example", *case), id=f"bean-example-seed{case[0]}") for case in BEAN_EXAMPLES] + [
    pytest.param(("fixture", "multicurrency.beancount"), id="multicurrency")
]


@pytest.fixture(scope="module", params=LEDGERS)
def loaded(request: pytest.FixtureRequest, uvx: str, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    kind, *args = request.param
    root = tmp_path_factory.mktemp("oracle")
    if kind == "bean-example":
        seed, begin, end = args
        return load(uvx, bean_example(seed, begin, end, root / "example.beancount"), root, BEAN_EXAMPLE_SUBTYPES)
    ledger = root / args[0]
    ledger.write_bytes((FIXTURES / args[0]).read_bytes())
    return load(uvx, ledger, root, HANDWRITTEN_SUBTYPES)


class Oracle:
    """BQL on the ledger, in our venv."""

    def __init__(self, ledger: Path) -> None:
        self.entries, self.options = _ledger(ledger)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return run_query(self.entries, self.options, query)[1]

    def monthly_usd(self, root: str) -> dict[str, Decimal]:
        """Per month, the USD of Σ weight (converted at each posting's date) on the accounts under root."""
        return {
            f"{y:04d}-{m:02d}": _usd(inv)
            for y, m, inv in self.rows(
                f"SELECT year, month, sum(convert(weight, 'USD', date)) WHERE account ~ '^{root}:' GROUP BY year, month"
            )
        }

    def balances_usd(self, accounts: list[str], periods: list[str]) -> dict[str, Decimal]:
        """Each period's closing balance of the accounts: the USD of BQL's monthly sums, accumulated."""
        pattern = "|".join(accounts)
        sums = {
            f"{y:04d}-{m:02d}": _usd(inv)
            for y, m, inv in self.rows(
                f"SELECT year, month, sum(convert(weight, 'USD', date)) WHERE account ~ '^({pattern})$' GROUP BY year, month"
            )
        }
        assert set(sums) <= set(periods)  # nothing before the first period or after the last
        out, running = {}, Decimal(0)
        for period in periods:
            running += sums.get(period, Decimal(0))
            out[period] = running
        return out

    def accounts(self) -> list[str]:
        return [a for (a,) in self.rows("SELECT account FROM #accounts")]

    def not_money(self) -> Counter[str]:
        """Postings whose weight BQL cannot convert to USD, per commodity."""
        return Counter(w.currency for (w,) in self.rows("SELECT convert(weight, 'USD', date)") if w.currency != "USD")

    def residuals(self) -> dict[str, Decimal]:
        """Per month, Σ over transactions of their USD weights rounded to cents (what rounding lines undo)."""
        per_tx: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for day, tx, w in self.rows("SELECT date, id, convert(weight, 'USD', date)"):
            if w.currency == "USD":
                per_tx[(day.strftime("%Y-%m"), tx)] += _cents(w.number)
        out: dict[str, Decimal] = defaultdict(Decimal)
        for (month, _), residual in per_tx.items():
            out[month] += residual
        return out

    def trial_balances(self, days: list[date], tolerance: Decimal = Decimal("0.05")) -> dict[tuple[date, str], Decimal]:
        """Per (month-end, account), Σ debit - credit of the journal lines a complete read gives: each
        posting's USD value (its units in USD, else its weight converted at its date) in cents, half
        away from zero; a transaction's cents that do not sum to zero (within the tolerance) undone on
        the rounding account. A posting that cannot be valued in USD counts 0 (its account is listed)."""
        cents: list[tuple[date, str, str, Decimal]] = []
        for day, tx, account, number, currency, converted in self.rows(
            "SELECT date, id, account, number, currency, convert(weight, 'USD', date)"
        ):
            if currency == "USD":
                cents.append((day, tx, account, _cents(number)))
            elif converted.currency == "USD":
                cents.append((day, tx, account, _cents(converted.number)))
            else:
                cents.append((day, tx, account, Decimal("0.00")))
        residual: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
        for day, tx, _, amount in cents:
            residual[(day, tx)] += amount
        cents += [(day, tx, ROUNDING, -r) for (day, tx), r in residual.items() if r and abs(r) <= tolerance]
        out: dict[tuple[date, str], Decimal] = {}
        for cutoff in days:
            for day, _, account, amount in cents:
                if day <= cutoff:
                    out[(cutoff, account)] = out.get((cutoff, account), Decimal("0.00")) + amount
        return out

    def rates(self) -> dict[tuple[str, str], Decimal]:
        """USD-quoted prices, the last of a day winning (beancount's price map)."""
        return {
            (c, d.isoformat()): a.number
            for d, c, a in self.rows("SELECT date, currency, amount FROM #prices")
            if a.currency == "USD"
        }


def months(first: date, last: date) -> list[tuple[str, date]]:
    """Each month from first to last with its last day (the as-of day for the last month)."""
    out, day = [], first.replace(day=1)
    while day <= last:
        following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        out.append((day.strftime("%Y-%m"), min(following - timedelta(days=1), last)))
        day = following
    return out


def _kpis(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], Decimal]:
    return {
        (p, k): v
        for p, k, v in con.execute(
            "select period, kpi, value from mart_kpis where kpi in ('revenue', 'cogs', 'opex', 'net_income', 'cash', 'ar', 'ap')"
        ).fetchall()
    }


def test_monthly_pnl_equals_bql(loaded: Loaded) -> None:
    oracle = loaded.oracle
    income, expenses = oracle.monthly_usd("Income"), oracle.monthly_usd("Expenses")
    kpis = _kpis(loaded.con)
    rounding = dict(
        loaded.con.execute("select period, amount from mart_pnl_monthly where account_id = ?", [ROUNDING]).fetchall()
    )
    residuals = oracle.residuals()
    checked = 0
    for month, _end in months(loaded.first, loaded.last):
        revenue = _cents(-income.get(month, Decimal(0)))
        spent = _cents(expenses.get(month, Decimal(0)))
        net = _cents(-income.get(month, Decimal(0)) - expenses.get(month, Decimal(0)))
        # the rounding lines closeboard added (BQL has none) undo exactly the month's cent residuals
        booked = rounding.get(month, Decimal("0.00"))
        assert booked == -residuals.get(month, Decimal(0)), month
        got = (
            kpis[(month, "revenue")],
            kpis[(month, "cogs")] + kpis[(month, "opex")] - booked,
            kpis[(month, "net_income")] + booked,
        )
        assert (month, *got) == (month, revenue, spent, net)
        checked += 1
    assert checked >= 4 and any(kpis[(m, "revenue")] > 0 for m, _ in months(loaded.first, loaded.last))


def test_month_end_balances_of_cash_ar_ap_equal_bql(loaded: Loaded) -> None:
    oracle = loaded.oracle
    accounts = oracle.accounts()
    chosen: dict[str, list[str]] = {}
    for subtype in ("cash", "ar", "ap"):  # the first matching glob wins, in the order configured
        chosen[subtype] = [
            a
            for a in accounts
            if next((s for s, globs in loaded.subtypes.items() if any(fnmatchcase(a, g) for g in globs)), None)
            == subtype
        ]
        assert chosen[subtype], subtype
    kpis = _kpis(loaded.con)
    periods = [m for m, _ in months(loaded.first, loaded.last)]
    cash, ar, ap = (oracle.balances_usd(chosen[s], periods) for s in ("cash", "ar", "ap"))
    for month in periods:
        expected = (_cents(cash[month]), _cents(ar[month]), _cents(-ap[month]))
        assert (month, kpis[(month, "cash")], kpis[(month, "ar")], kpis[(month, "ap")]) == (month, *expected)
    assert any(ar.values()) and any(ap.values())


def test_non_money_legs_are_left_out_counted_and_nothing_is_set_aside(loaded: Loaded) -> None:
    oracle = loaded.oracle
    not_money = oracle.not_money()
    assert not_money  # every ledger here has some (IRAUSD and VACHR, or HOURS)
    # told to whoever runs the pull, per commodity
    (note,) = [n for n in loaded.notes if "left out" in n]
    told = Counter({c: int(n) for c, n in (part.split() for part in note.rpartition(": ")[2].split(", "))})
    assert told == not_money
    # none of them reached the journal; every other posting did, plus the rounding lines
    ((postings,),) = oracle.rows("SELECT count(*)")
    lines = loaded.con.execute(
        f"select count(*) filter (where account_id <> '{ROUNDING}'), count(*) filter (where account_id = '{ROUNDING}') "
        "from erp_journal_lines"
    ).fetchone()
    assert lines[0] == postings - not_money.total()
    assert loaded.con.execute(
        "select count(*) from erp_journal_lines where currency in (select unnest(?::varchar[]))", [list(not_money)]
    ).fetchone() == (0,)
    # the reported total is the money: R6's counts agree, nothing quarantined, every entry balances
    table = loaded.erp.pull.tables["erp_journal_lines"]
    assert table.reported_total == postings - not_money.total() + lines[1] == table.rows
    assert table.rejected == []
    loads = loaded.con.execute(
        "select table_name, rows_received, reported_total, rows_quarantined from source_loads"
    ).fetchall()
    assert [(t, r, rep, q) for t, r, rep, q in loads if rep is not None and (r != rep or q)] == []
    assert loaded.con.execute("select count(*) from quarantine").fetchone() == (0,)
    assert loaded.con.execute(
        "select count(*) from (select entry_id from erp_journal_lines group by 1 having sum(debit) <> sum(credit))"
    ).fetchone() == (0,)


def test_exchange_rates_are_the_usd_quoted_prices(loaded: Loaded) -> None:
    expected = {k: v.quantize(Decimal("0.00000001"), rounding=ROUND_HALF_UP) for k, v in loaded.oracle.rates().items()}
    got = {
        (c, d): r
        for c, d, r in loaded.con.execute("select currency, rate_date::varchar, rate from erp_fx_rates").fetchall()
    }
    assert got == expected and len(got) == loaded.con.execute("select count(*) from erp_fx_rates").fetchone()[0]
    assert loaded.erp.pull.tables["erp_fx_rates"].reported_total == len(expected)


def test_transactions_with_non_money_legs_keep_their_money(loaded: Loaded) -> None:
    """The issue's symptom: a paycheck that also posts IRAUSD and VACHR keeps its USD salary, taxes
    and cash. Per such transaction, the lines loaded are its USD postings, with their cents."""
    per_entry: dict[str, list[Decimal]] = defaultdict(list)
    mixed: set[str] = set()
    for filename, lineno, w in loaded.oracle.rows(
        "SELECT entry_meta('filename'), entry_meta('lineno'), convert(weight, 'USD', date)"
    ):
        entry = f"{filename}:{lineno}"
        if w.currency == "USD":
            per_entry[entry].append(_cents(w.number))
        else:
            mixed.add(entry)
    assert mixed
    expected = {e: (len(per_entry[e]), sum((v for v in per_entry[e] if v > 0), Decimal("0.00"))) for e in mixed}
    got = {
        e: (n, d)
        for e, n, d in loaded.con.execute(
            f"select entry_id, count(*), sum(debit) from erp_journal_lines where account_id <> '{ROUNDING}' "
            "group by entry_id"
        ).fetchall()
        if e in mixed
    }
    assert got == {e: v for e, v in expected.items() if v[0]}  # an entry with no money at all has no line
    if "Income:US:BayBook:Salary" in loaded.oracle.accounts():
        ((salary,),) = loaded.oracle.rows("SELECT sum(number) WHERE account = 'Income:US:BayBook:Salary'")
        assert loaded.con.execute(
            "select sum(credit - debit) from erp_journal_lines where account_id = 'Income:US:BayBook:Salary'"
        ).fetchone() == (-salary,)


def test_the_ledgers_own_trial_balance_equals_bql_at_every_month_end_and_r7_passes(loaded: Loaded) -> None:
    """erp_trial_balance is the ledger's own balances (beanquery on the server, one aggregate per
    month-end), in the journal's cents: it equals the oracle's, and closeboard's books tie to it."""
    days = [end for _, end in months(loaded.first, loaded.last)]
    expected = loaded.oracle.trial_balances(days)
    got = {
        (d, a): b
        for d, a, b in loaded.con.execute(
            "select balance_date, account_id, debit - credit from erp_trial_balance"
        ).fetchall()
    }
    assert sorted({d for d, _ in got}) == days  # every month-end, the open month as at the report date
    assert got == expected
    rounding_lines = loaded.con.execute("select count(*) from erp_journal_lines where account_id = ?", [ROUNDING])
    if rounding_lines.fetchone()[0]:  # the report carries the residuals the journal's rounding lines book
        assert any(a == ROUNDING for _, a in got)
    # every report stayed under the server's row cut; the reads are R6-complete
    table = loaded.erp.pull.tables["erp_trial_balance"]
    assert table.reported_total == table.rows == len(got) and table.rejected == []
    from warehouse.recon import ReconParams, build_recon

    build_recon(loaded.con, "r7", ReconParams())
    results = loaded.con.execute(
        "select period, status, detail from recon_results where check_id = 'R7_erp_report' order by period"
    ).fetchall()
    assert [p for p, _, _ in results] == [m for m, _ in months(loaded.first, loaded.last)]
    assert {s for _, s, _ in results} == {"pass"}, [r for r in results if r[1] != "pass"][:3]
