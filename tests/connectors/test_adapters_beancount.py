"""The `beancount` adapter against the REAL beancount-mcp server, started through uvx in its own
environment (it needs mcp<2), on a small business ledger this test writes: months of sales and
costs, a bank account, foreign-currency purchases with a price directive, a month and a single day
with more postings than the server's 200-row cut. The ledger's own month-end trial balance (R7's
input) ties to the journal; a transaction the journal does not carry fails R7 naming its accounts."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pyarrow as pa
import pytest

from connectors.adapters import adapter_for
from connectors.client import ConnectorError, SourceSession
from connectors.config import ConfigError, parse_config
from connectors.pull import SourcePull, pull_source
from pipelines.ingest import Ingested, ingest_source
from tests.connectors.beancount_mcp import FIXTURES, UVX_ARGS, raw_config
from tests.connectors.uvx import require_uvx
from warehouse.db import ensure_schema
from warehouse.home import Home
from warehouse.models import build_marts

CUT = 200  # beancount-mcp 0.1.1 keeps rows[:200]
CENT = Decimal("0.01")
OPEN = {  # account -> currencies of its open directive
    "Assets:Bank:Checking": "USD",
    "Assets:Receivable:Customers": "",
    "Liabilities:Payable:Suppliers": "",
    "Equity:Opening-Balances": "",
    "Income:Sales": "USD",
    "Income:Services": "",
    "Expenses:COGS:Materials": "",
    "Expenses:Rent": "USD",
    "Expenses:Software": "",
    "Expenses:Equipment": "",
}
EXPECTED_TYPES = {  # from the root and the default subtype globs
    "Assets:Bank:Checking": ("asset", "cash"),
    "Assets:Receivable:Customers": ("asset", "ar"),
    "Liabilities:Payable:Suppliers": ("liability", "ap"),
    "Equity:Opening-Balances": ("equity", None),
    "Income:Sales": ("revenue", None),
    "Income:Services": ("revenue", None),
    "Expenses:COGS:Materials": ("expense", "cogs"),
    "Expenses:Rent": ("expense", None),
    "Expenses:Software": ("expense", None),
    "Expenses:Equipment": ("expense", None),
}
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]
AS_OF = "2026-05-10"


def _sale(day: str, n: int) -> tuple[str, int]:
    amount = Decimal(150 + n * 37 % 900) + Decimal(n % 100) / 100
    income = "Income:Services" if n % 3 == 0 else "Income:Sales"
    return (
        f'{day} * "Customer {n % 17}" "Invoice S-{n}" ^S-{n}\n'
        f"  Assets:Receivable:Customers  {amount:.2f} USD\n  {income}\n\n"
    ), 2


def write_ledger(path: Path) -> Counter[str]:
    """The ledger, and how many postings each month holds."""
    postings: Counter[str] = Counter()
    parts = ['option "title" "Beancount Co"\noption "operating_currency" "USD"\n\n']
    parts += [f"2025-12-31 open {a}  {c}\n".replace("  \n", "\n") for a, c in OPEN.items()]
    parts.append("\n2026-01-01 price EUR 1.0850 USD\n2026-02-01 price EUR 1.0912 USD\n\n")
    parts.append('2026-01-01 * "Opening balance"\n  Assets:Bank:Checking  50000.00 USD\n  Equity:Opening-Balances\n\n')
    postings["2026-01"] += 2
    n = 0
    plan = {
        "2026-01": [f"2026-01-{d:02d}" for d in range(2, 29, 2)],  # 14 sales
        "2026-02": [f"2026-02-{1 + i % 28:02d}" for i in range(130)],  # 260 postings: over the cut
        "2026-03": ["2026-03-16"] * 105 + ["2026-03-20"] * 5,  # 210 on one day: over the cut
        "2026-04": [f"2026-04-{d:02d}" for d in range(3, 28, 3)],
    }
    for month, days in plan.items():
        for day in sorted(days):
            n += 1
            text, count = _sale(day, n)
            parts.append(text)
            postings[month] += count
        parts.append(
            f'{month}-25 * "Landlord" "Rent {month}"\n  Expenses:Rent  3200.00 USD\n  Assets:Bank:Checking  -3200.00 USD\n\n'
        )
        parts.append(
            f'{month}-26 * "Metals Inc" "Materials {month}"\n  Expenses:COGS:Materials  {1000 + len(days) * 11}.40 USD\n'
            "  Liabilities:Payable:Suppliers\n\n"
        )
        parts.append(
            f'{month}-27 * "Customers" "Collections {month}"\n  Assets:Bank:Checking  {2000 + len(days)}.00 USD\n'
            "  Assets:Receivable:Customers\n\n"
        )
        postings[month] += 6
    # foreign-currency purchases: converted with the ledger's price, and at the posting's @ price
    parts.append(
        '2026-02-10 * "Berlin Software GmbH" "Licences, invoiced in EUR"\n'
        "  Expenses:Software  1234.56 EUR\n  Liabilities:Payable:Suppliers  -1234.56 EUR\n\n"
    )
    parts.append(
        '2026-02-12 * "Lyon Outils" "Workbench paid in EUR"\n'
        "  Expenses:Equipment  800.00 EUR @ 1.1000 USD\n  Assets:Bank:Checking  -880.00 USD\n\n"
    )
    # balances within beancount's tolerance only: 3 x 33.333 against 100.00
    parts.append(
        '2026-03-05 * "Tooling Ltd" "Three seats"\n  Expenses:Software  33.333 USD\n'
        "  Expenses:Software  33.333 USD\n  Expenses:Software  33.333 USD\n  Assets:Bank:Checking  -100.00 USD\n\n"
    )
    postings["2026-02"] += 4
    postings["2026-03"] += 4
    path.write_text("".join(parts), encoding="utf-8")
    return postings


@pytest.fixture(scope="module")
def uvx() -> str:
    return require_uvx(UVX_ARGS, "beancount-mcp")


def bql(uvx: str, ledger: Path, queries: list[str]) -> list[list[list[str]]]:
    """Rows each query answers through the same server's query tool (a plain MCP call)."""
    connector = parse_config(raw_config(uvx, ledger)).connectors["erp"]

    async def go() -> list[list[list[str]]]:
        async with SourceSession(connector) as session:
            return [(await session.call("beancount_query", {"query": q}))[0]["rows"] for q in queries]

    return anyio.run(go)


def inventory_usd(text: str) -> Decimal:
    """``"(-1234.5600 USD)"`` (an Inventory as the server prints it) as its USD number; "()" is 0."""
    inner = text.strip("()").strip()
    if not inner:
        return Decimal(0)
    positions = [p.split() for p in inner.split(", ")]
    assert all(c == "USD" for _, c in positions), text  # the query converted everything
    return sum((Decimal(n) for n, _ in positions), Decimal(0))


@dataclass
class Loaded:
    con: duckdb.DuckDBPyConnection
    erp: Ingested
    postings: Counter[str]
    ledger: Path
    ledger_sha: str


@pytest.fixture(scope="module")
def loaded(uvx: str, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    root = tmp_path_factory.mktemp("beancount")
    ledger = root / "ledger" / "books.beancount"
    ledger.parent.mkdir()
    postings = write_ledger(ledger)
    sha = hashlib.sha256(ledger.read_bytes()).hexdigest()
    raw = raw_config(uvx, ledger, rounding_account="Expenses:Rounding")
    raw["company"]["as_of"] = AS_OF  # the report date: the open month's trial balance is read at it
    config = parse_config(raw)
    con = duckdb.connect()
    ensure_schema(con)

    @contextmanager
    def connect():  # noqa: ANN202
        yield con

    erp = ingest_source(config, "erp", home=Home(root / "home"), run_id="r1", connect=connect)
    con.execute("insert into run_context values ('2026-01', ?, 1, 'USD')", [AS_OF])
    build_marts(con)
    return Loaded(con, erp, postings, ledger, sha)


def test_accounts_load_from_the_open_directives(loaded: Loaded) -> None:
    got = loaded.con.execute("select account_id, name, type, subtype, currency, parent_id from erp_accounts").fetchall()
    expected = {(a, a, *EXPECTED_TYPES[a], OPEN[a] or "USD", None) for a in OPEN} | {
        ("Expenses:Rounding", "Expenses:Rounding (closeboard rounding)", "expense", None, "USD", None)
    }
    assert set(got) == expected and len(got) == len(expected)


def test_journal_lines_load_whole_balanced_and_windowed_under_the_cut(loaded: Loaded) -> None:
    con = loaded.con
    lines = loaded.erp.pull.tables["erp_journal_lines"]
    assert max(loaded.postings.values()) > CUT  # the ledger does need windows
    per_month = dict(
        con.execute(
            "select strftime(posted_date, '%Y-%m'), count(*) from erp_journal_lines "
            "where account_id <> 'Expenses:Rounding' group by 1"
        ).fetchall()
    )
    assert per_month == dict(loaded.postings)
    rounding = con.execute(
        "select entry_id, debit, credit from erp_journal_lines where account_id = 'Expenses:Rounding'"
    ).fetchall()
    assert [(d, c) for _, d, c in rounding] == [(Decimal("0.01"), Decimal("0.00"))]  # 3 x 33.33 vs 100.00
    assert lines.reported_total == sum(loaded.postings.values()) + 1 == lines.rows
    assert lines.rejected == []
    unbalanced = con.execute(
        "select entry_id from erp_journal_lines group by entry_id having sum(debit) <> sum(credit)"
    ).fetchall()
    assert unbalanced == []
    entries = con.execute(
        "select count(distinct entry_id), count(distinct posted_date) from erp_journal_lines"
    ).fetchone()
    assert entries[0] == loaded.ledger.read_text().count(" * ")  # one entry_id per transaction
    # every query stayed under the cut; months, days and line ranges were windowed
    calls = con.execute("select arguments, items from connector_calls where tool = 'beancount_query'").fetchall()
    assert calls and all(items is not None and items <= CUT for _, items in calls)
    windows = [a for a, _ in calls if "entry_meta('filename')" in a]
    assert len(windows) == lines.pages >= 4
    assert any("day >= " in a for a in windows) and any("int(entry_meta('lineno')) >= " in a for a in windows)
    # R6's figures: the rows received equal the total the count queries reported
    loads = con.execute(
        "select table_name, rows_received, reported_total, rows_quarantined from source_loads"
    ).fetchall()
    assert {(t, r) for t, r, rep, _ in loads if rep is not None and r != rep} == set()
    assert {(t, q) for t, _, _, q in loads if q} == set()


def test_foreign_currency_purchases_are_converted_with_the_ledgers_prices(loaded: Loaded) -> None:
    rows = loaded.con.execute(
        "select account_id, debit, credit, currency, amount_currency from erp_journal_lines "
        "where entry_id in (select entry_id from erp_journal_lines where currency = 'EUR') order by posted_date, line_no"
    ).fetchall()
    licences = _cents(Decimal("1234.56") * Decimal("1.0912"))  # the 2026-02-01 price
    assert rows == [
        ("Expenses:Software", licences, Decimal("0.00"), "EUR", Decimal("1234.56")),
        ("Liabilities:Payable:Suppliers", Decimal("0.00"), licences, "EUR", Decimal("-1234.56")),
        ("Expenses:Equipment", Decimal("880.00"), Decimal("0.00"), "EUR", Decimal("800.00")),  # at its @ price
        ("Assets:Bank:Checking", Decimal("0.00"), Decimal("880.00"), "USD", None),
    ]


def test_price_directives_load_as_exchange_rates(loaded: Loaded) -> None:
    rates = loaded.con.execute("select currency, rate_date::varchar, rate from erp_fx_rates order by all").fetchall()
    assert rates == [("EUR", "2026-01-01", Decimal("1.08500000")), ("EUR", "2026-02-01", Decimal("1.09120000"))]
    assert loaded.erp.pull.tables["erp_fx_rates"].reported_total == 2


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def test_revenue_and_net_income_equal_what_bql_reports_per_month(uvx: str, loaded: Loaded) -> None:
    queries = []
    for month in MONTHS:
        y, m = month.split("-")
        where = f"year = {y} AND month = {int(m)}"
        queries.append(f"SELECT sum(convert(weight, 'USD', date)) WHERE account ~ '^Income:' AND {where}")
        queries.append(f"SELECT sum(convert(weight, 'USD', date)) WHERE account ~ '^(Income|Expenses):' AND {where}")
    answers = bql(uvx, loaded.ledger, queries)
    kpis = {
        (p, k): v
        for p, k, v in loaded.con.execute(
            "select period, kpi, value from mart_kpis where kpi in ('revenue', 'net_income')"
        ).fetchall()
    }
    for i, month in enumerate(MONTHS):
        revenue = -_cents(inventory_usd(answers[2 * i][0][0]))
        net_income = -_cents(inventory_usd(answers[2 * i + 1][0][0]))
        assert revenue > 0 and net_income != 0
        assert (month, kpis[(month, "revenue")], kpis[(month, "net_income")]) == (month, revenue, net_income)


def test_the_ledgers_own_trial_balance_ties_to_the_journal_and_r7_passes(loaded: Loaded) -> None:
    """erp_trial_balance: beanquery's balance of every account at every month-end (the open month at
    the report date), in the journal's cents, the rounding account carrying the residual its line books."""
    con = loaded.con
    days = ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", AS_OF]
    assert [
        d for (d,) in con.execute("select distinct balance_date::varchar from erp_trial_balance order by 1").fetchall()
    ] == days
    ours = con.execute(
        "select d, jl.account_id, sum(jl.debit - jl.credit) from (select unnest(?::date[]) as d) "
        "join erp_journal_lines as jl on jl.posted_date <= d group by all order by all",
        [days],
    ).fetchall()
    theirs = con.execute(
        "select balance_date, account_id, debit - credit from erp_trial_balance order by all"
    ).fetchall()
    assert theirs == ours
    assert con.execute(
        "select balance_date::varchar, debit, credit from erp_trial_balance "
        "where account_id = 'Expenses:Rounding' order by 1"
    ).fetchall() == [(d, Decimal("0.01"), Decimal("0.00")) for d in days[2:]]  # 3 x 33.333 vs 100.00, from March
    table = loaded.erp.pull.tables["erp_trial_balance"]
    assert table.reported_total == table.rows == len(theirs) and table.rejected == []
    from warehouse.recon import ReconParams, build_recon

    build_recon(con, "r7", ReconParams())
    assert con.execute(
        "select period, status from recon_results where check_id = 'R7_erp_report' order by period"
    ).fetchall() == [(m, "pass") for m in [*MONTHS, "2026-05"]]


def pull_and_check(raw: dict[str, Any], home: Path) -> tuple[duckdb.DuckDBPyConnection, Ingested]:
    """Pull the erp source into an in-memory warehouse and compute the checks as at company.as_of."""
    from tests.vendors import memory_warehouse
    from warehouse.recon import ReconParams, build_recon

    con, connect = memory_warehouse()
    erp = ingest_source(parse_config(raw), "erp", home=Home(home), run_id="r1", connect=connect)
    con.execute(
        "insert into run_context values (?, ?, 1, 'USD')", [raw["company"]["first_period"], raw["company"]["as_of"]]
    )
    build_recon(con, "r1", ReconParams())
    return con, erp


@pytest.mark.parametrize("rounding", [None, "Expenses:Rounding"])
def test_transactions_the_journal_does_not_carry_fail_r7_naming_their_accounts(
    uvx: str, tmp_path: Path, rounding: str | None
) -> None:
    """unconvertible.beancount: a GBP expense paid in USD (no GBP price) is set aside whole, and so are
    the three licences' unbalanced cents when no rounding account takes them. closeboard's books stay
    balanced (R1) but miss them; the ledger's own trial balance has them: R7 fails from February,
    naming each account with both balances. With a row cut of 4 the report reads on past the cut."""
    ledger = tmp_path / "odd.beancount"
    shutil.copy(FIXTURES / "unconvertible.beancount", ledger)
    # the report from January (before the ledger's first posting): its opening balances are empty, and
    # February's movements are read in one aggregate grouped by month, past the cut
    options: dict[str, Any] = {
        "row_cut": 4,
        "from_period": "2026-01",
        **({"rounding_account": rounding} if rounding else {}),
    }
    raw = raw_config(uvx, ledger, **options)
    raw["company"].update(first_period="2026-02", as_of="2026-03-15")
    con, erp = pull_and_check(raw, tmp_path / "home")
    assert erp.pull.tables["erp_journal_lines"].rejected  # set aside, so the journal lacks them
    theirs = dict(
        con.execute(
            "select account_id, debit - credit from erp_trial_balance where balance_date = '2026-02-28'"
        ).fetchall()
    )
    assert theirs == {  # beanquery's own balances in USD; the GBP legs (no price) count 0
        "Assets:Bank:Checking": Decimal("74.75"),
        "Assets:Bank:London": Decimal("0.00"),
        "Expenses:Software": Decimal("99.99"),
        "Expenses:Travel": Decimal("271.25"),
        "Income:Sales": Decimal("-500.00"),
        **({rounding: Decimal("0.01")} if rounding else {}),
    }
    reports = con.execute(
        "select page, items, arguments like '%AND (year > 2026 OR (year = 2026 AND (month > 2 OR "
        "(month = 2 AND (account > ''Income:Sales'')))))%' from connector_calls "
        "where arguments like '%GROUP BY year, month, account%' order by all"
    )
    # the balances at the first report date (none: the ledger starts in February), then one aggregate grouped by
    # month for every later month-end; a full answer (at least the cut) is read on past its last (year, month, account)
    assert reports.fetchall() == [(1, 5, False), (2, 0, True)]
    results = dict(
        con.execute(
            "select period, status || ': ' || detail from recon_results where check_id = 'R7_erp_report'"
        ).fetchall()
    )
    assert sorted(results) == ["2026-02", "2026-03"]
    items = con.execute(
        "select period, record_id, amount, reason from recon_items where check_id = 'R7_erp_report' "
        "order by period, record_id"
    ).fetchall()
    # closeboard - ledger: the return ticket's -54.00 USD, and without a rounding account the licences
    missing = (
        {"Assets:Bank:Checking": Decimal("54.00")}
        if rounding
        else {"Assets:Bank:Checking": Decimal("154.00"), "Expenses:Software": Decimal("-99.99")}
    )
    for period, cutoff in (("2026-02", "2026-02-28"), ("2026-03", "2026-03-15")):
        assert {r: a for p, r, a, _ in items if p == period} == missing
        assert results[period].startswith(
            f"fail: {len(missing)} account(s) differ from the ERP's own trial balance at {cutoff}: Assets:Bank:Checking"
        )
    ours = "128.75" if rounding else "228.75"  # 500.00 - 271.25, less the licences' 100.00 when they load
    assert f"account Assets:Bank:Checking: closeboard balance {ours}, the ERP's trial balance 74.75 at 2026-02-28" in [
        why for p, _, _, why in items if p == "2026-02"
    ]
    r1 = con.execute("select distinct status from recon_results where check_id = 'R1_trial_balance'").fetchall()
    assert r1 == [("pass",)]  # closeboard's own books balance: only the ledger's report shows the gap


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: con.execute(f"select * from {t} order by all").fetchall()
        for t in ("erp_accounts", "erp_journal_lines", "erp_fx_rates", "erp_trial_balance")
    }


def test_a_one_month_change_pulls_that_month_in_few_queries_and_equals_a_full_pull(uvx: str, tmp_path: Path) -> None:
    """A refresh reads the ledger summary (one BQL aggregate per month), then the journal only for the
    months whose summary changed: an entry added to April (at the end of the file) is <= 10 queries
    (counted in the real server's call log); a reclassification in January, the same number of
    postings and the same amounts, is seen too. Every table then equals a whole pull of the same file."""
    from tests.vendors import memory_warehouse

    ledger = tmp_path / "books.beancount"
    postings = write_ledger(ledger)
    raw = raw_config(uvx, ledger, rounding_account="Expenses:Rounding")
    raw["company"]["as_of"] = AS_OF
    config = parse_config(raw)
    con, connect = memory_warehouse()
    home = Home(tmp_path / "home")
    first = ingest_source(config, "erp", home=home, run_id="r1", connect=connect)
    assert first.pull.replaced_periods is None  # the first load is whole

    with ledger.open("a", encoding="utf-8") as f:
        f.write(
            '\n2026-04-15 * "Customer 3" "Invoice S-late"\n  Assets:Receivable:Customers  412.37 USD\n'
            "  Income:Services\n"
        )
    added = ingest_source(config, "erp", home=home, run_id="r2", connect=connect)
    assert added.pull.replaced_periods == ["2026-04"]
    queries = con.execute("select count(*) from connector_calls where run_id = 'r2' and tool = 'beancount_query'")
    assert queries.fetchone()[0] <= 10
    assert (
        added.pull.tables["erp_journal_lines"].rows == postings["2026-04"] + 2
    )  # April's only, the new ones with them

    text = ledger.read_text(encoding="utf-8")
    rent = '2026-01-25 * "Landlord" "Rent 2026-01"\n  Expenses:Rent '
    assert text.count(rent) == 1
    ledger.write_text(
        text.replace(rent, '2026-01-25 * "Landlord" "Rent 2026-01"\n  Expenses:Software '), encoding="utf-8"
    )
    moved = ingest_source(config, "erp", home=home, run_id="r3", connect=connect)
    assert moved.pull.replaced_periods == ["2026-01"]
    same = ingest_source(config, "erp", home=home, run_id="r4", connect=connect)  # nothing changed: no posting read
    assert same.pull.replaced_periods == [] and same.pull.tables["erp_journal_lines"].rows == 0
    assert not con.execute(
        "select count(*) from connector_calls where run_id = 'r4' and arguments like '%entry_meta(''filename'')%'"
    ).fetchone()[0]

    whole, whole_connect = memory_warehouse()
    ingest_source(config, "erp", home=Home(tmp_path / "whole"), run_id="w1", connect=whole_connect)
    ours, theirs = _tables(con), _tables(whole)
    assert all(ours.values()) and ours == theirs
    rent_moved = con.execute(
        "select account_id, debit from erp_journal_lines where description = 'Landlord | Rent 2026-01' and debit > 0"
    ).fetchall()
    assert rent_moved == [("Expenses:Software", Decimal("3200.00"))]


def test_only_the_query_tool_was_called_and_the_ledger_is_unchanged(loaded: Loaded) -> None:
    tools = {t for (t,) in loaded.con.execute("select distinct tool from connector_calls").fetchall()}
    assert tools == {"beancount_query"}
    assert hashlib.sha256(loaded.ledger.read_bytes()).hexdigest() == loaded.ledger_sha


def test_the_write_tool_in_allow_tools_is_refused_at_config_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            raw_config("uvx", tmp_path / "x.beancount", allow=["beancount_query", "beancount_submit_transaction"])
        )
    assert (
        "connectors.erp.allow_tools: ['beancount_submit_transaction'] not declared as read tools by adapter 'beancount'"
    ) in str(info.value)


def test_options_are_checked_at_config_load(tmp_path: Path) -> None:
    raw = raw_config("uvx", tmp_path / "x.beancount")
    del raw["connectors"]["erp"]["options"]["currency"]  # it follows company.currency
    assert parse_config(raw).connectors["erp"].options["currency"] == "USD"
    raw["connectors"]["erp"]["options"]["currency"] = "EUR"
    with pytest.raises(ConfigError, match=r"options.currency: 'EUR' differs from company.currency 'USD'"):
        parse_config(raw)
    raw["company"]["currency"] = raw["connectors"]["erp"]["options"]["currency"] = "usd"
    with pytest.raises(ConfigError, match="options.currency: the reporting currency"):
        parse_config(raw)
    with pytest.raises(ConfigError, match="options.rounding_account: 'Rounding' is not an account"):
        parse_config(raw_config("uvx", tmp_path / "x.beancount", rounding_account="Rounding"))
    # the ledger's own trial balance is read by default; trial_balance: false leaves it out (R7: not available)
    tables = adapter_for(parse_config(raw_config("uvx", tmp_path / "x.beancount")).connectors["erp"]).tables
    assert "erp_trial_balance" in tables
    off = adapter_for(parse_config(raw_config("uvx", tmp_path / "x.beancount", trial_balance=False)).connectors["erp"])
    assert "erp_trial_balance" not in off.tables
    with pytest.raises(ConfigError, match=r"options.trial_balance: true or false .* got 'no'"):
        parse_config(raw_config("uvx", tmp_path / "x.beancount", trial_balance="no"))
    # the report dates follow the company; a report date of its own is checked
    options = parse_config(raw_config("uvx", tmp_path / "x.beancount")).connectors["erp"].options
    assert (options["from_period"], options["timezone"]) == ("2026-01", "UTC")
    with pytest.raises(ConfigError, match=r"options.as_of: '31/03/2026' is not YYYY-MM-DD"):
        parse_config(raw_config("uvx", tmp_path / "x.beancount", as_of="31/03/2026"))


def test_unpriced_legs_are_left_out_or_set_aside_with_the_reason(uvx: str, tmp_path: Path) -> None:
    """GBP has no price: a transfer that balances within GBP is not money (left out, counted); a GBP
    expense paid in USD leaves the USD unbalanced without its GBP leg (set aside whole, every posting
    one rejected row); so do unbalanced cents without a rounding account."""
    ledger = tmp_path / "odd.beancount"
    shutil.copy(FIXTURES / "unconvertible.beancount", ledger)
    connector = parse_config(raw_config(uvx, ledger)).connectors["erp"]  # no rounding_account
    staged: dict[str, list[pa.Table]] = {}
    adapter = adapter_for(connector)

    async def go() -> tuple[SourcePull, list[str]]:
        async with SourceSession(connector) as session:
            pull = await pull_source(session, adapter, lambda t, b: staged.setdefault(t, []).append(b))
            return pull, session.log.notes

    pull, notes = anyio.run(go)
    lines = pa.concat_tables(staged["erp_journal_lines"]).to_pylist()
    got = {
        (r["posted_date"], r["account_id"], r["debit"], r["credit"], r["currency"], r["amount_currency"]) for r in lines
    }
    assert got == {
        ("2026-02-05", "Assets:Bank:Checking", "500.00", "0.00", "USD", None),
        ("2026-02-05", "Income:Sales", "0.00", "500.00", "USD", None),
        # the EUR leg converted with the 1.0850 price; the USD leg exactly as booked (its @@ is in EUR)
        ("2026-02-06", "Expenses:Travel", "271.25", "0.00", "EUR", "250.00"),
        ("2026-02-06", "Assets:Bank:Checking", "0.00", "271.25", "USD", None),
    }
    # the GBP transfer: both legs left out and counted, nothing quarantined for it
    assert adapter.left_out == Counter({"GBP": 2})
    assert notes == [
        "erp_journal_lines: 2 of 12 postings left out, not money (commodities without a price that "
        "balance within themselves in their transaction): GBP 2"
    ]
    rejected = [(json.loads(record), reason) for record, reason, _tool in pull.tables["erp_journal_lines"].rejected]
    reasons = Counter(reason for _, reason in rejected)
    gbp = next(r for r in reasons if "GBP" in r)
    assert gbp == (
        "posting 1 (Expenses:Travel 42.50 GBP): no GBP->USD price in the ledger on or before 2026-02-03, "
        "and the transaction's GBP does not balance within GBP (42.50 GBP left), so its USD does not "
        "balance without it: the whole transaction is set aside so the journal stays balanced"
    )
    cents = (
        "the postings in USD, rounded to cents, leave -0.01 unbalanced (options.rounding_account is not set): "
        "the whole transaction is set aside so the journal stays balanced"
    )
    assert reasons == Counter({gbp: 2, cents: 4})  # one rejected row per posting of each
    assert sorted((r["account"], r["units"], r["line_no"]) for r, why in rejected if why == gbp) == [
        ("Assets:Bank:Checking", "-54.00 USD", 2),
        ("Expenses:Travel", "42.50 GBP", 1),
    ]
    assert all(
        r["entry_id"].endswith(".beancount:" + str(_line_of(ledger, "Return ticket")))
        for r, why in rejected
        if why == gbp
    )
    assert sorted(r["units"] for r, why in rejected if why == cents) == ["-100.00 USD", *["33.333 USD"] * 3]
    # R6's figures: the source's postings less the legs left out = lines delivered + rows set aside
    table = pull.tables["erp_journal_lines"]
    assert (table.reported_total, len(lines), len(rejected)) == (12 - 2, 4, 6)
    # the EUR price is the one rate quoted in USD
    rates = pa.concat_tables(staged["erp_fx_rates"]).to_pylist()
    assert rates == [{"currency": "EUR", "rate_date": "2026-01-01", "rate": "1.08500000"}]
    assert pull.tables["erp_fx_rates"].reported_total == 1


def _line_of(ledger: Path, text: str) -> int:
    return next(i for i, line in enumerate(ledger.read_text().splitlines(), start=1) if text in line)


def test_a_transaction_larger_than_the_cut_fails_with_the_reason(uvx: str, tmp_path: Path) -> None:
    ledger = tmp_path / "odd.beancount"
    shutil.copy(FIXTURES / "unconvertible.beancount", ledger)
    line = _line_of(ledger, "Three licences")
    connector = parse_config(raw_config(uvx, ledger, row_cut=3)).connectors["erp"]  # a 4-posting transaction

    async def go() -> None:
        async with SourceSession(connector) as session:
            await pull_source(session, adapter_for(connector), lambda t, b: None)

    with pytest.raises(ConnectorError) as info:
        anyio.run(go)
    assert (
        f"source 'erp', tool 'beancount_query': 4 postings of the transaction(s) at line {line} "
        "(year = 2026 AND month = 2 AND day = 4) exceed beancount-mcp's cut of 3 rows per query"
    ) in str(info.value)


def deaf_server() -> Any:
    """A query tool that ignores every keyset condition (``WHERE account > ...``, ``k > ...``) and
    answers the same first page for ever, with counts that promise many more rows."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("deaf-beancount")

    @server.tool(structured_output=False)
    def beancount_query(query: str) -> str:
        if "GROUP BY k" in query:
            rows: list[list[Any]] = [[1, 1], [2, 1], [3, 1]]
        elif "count(*)" in query:
            rows = [["1000000"]]
        else:
            rows = [[f"Assets:A{n}", "['USD']", "None"] for n in range(3)]
        return json.dumps({"columns": [], "rows": rows})

    return server


@pytest.mark.parametrize(("table", "keyset"), [("erp_accounts", "by account"), ("erp_journal_lines", "by line")])
def test_a_server_ignoring_the_keyset_is_stopped_naming_the_source(tmp_path: Path, table: str, keyset: str) -> None:
    from connectors.adapters.base import Stream

    connector = parse_config(raw_config("uvx", tmp_path / "main.beancount", row_cut=3)).connectors["erp"]
    adapter = adapter_for(connector)
    adapter.configure(connector)

    async def go() -> int:
        async with SourceSession(connector, server=deaf_server()) as session:
            async for _ in adapter.pages(session, Stream(table, "beancount_query", paged=False)):
                pass
        return 0

    with pytest.raises(ConnectorError) as info:
        anyio.run(go)
    assert str(info.value).startswith("source 'erp', tool 'beancount_query': page 2 repeats the items of page 1"), (
        keyset
    )
