"""The bundled beancount server (connectors/servers/beanfile.py) read by the builtin ERP adapter.

The oracle is BQL run by beanquery on the same file, as in tests/connectors/test_beancount_oracle.py
(whose Oracle and checks are reused here): a ledger written by beancount's own `bean-example` (made
once per session) is pulled through the server, in memory, with the real MCP client, into a DuckDB
file and the marts are built, as a refresh does. Then every account's activity and balance at every
month-end equal the oracle's, and so do the monthly P&L, the cash / AR / AP balances, the exchange
rates and the ledger's own trial balance (R7 passes). A one-month change pulls only that month and
the open month; a ledger with an error names its file, line and cause on every tool.
"""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from mcp import Client

from connectors.adapters import get_adapter
from connectors.config import parse_config
from connectors.periods import month_end, period_of, shift
from connectors.servers.beanfile import server_from_args
from pipelines.ingest import Ingested, ingest_source
from tests.conftest import REPO
from tests.connectors.test_adapters_beancount import _tables
from tests.connectors.test_beancount_oracle import BEAN_EXAMPLE_SUBTYPES, BEAN_EXAMPLES, ROUNDING, Oracle, bean_example
from tests.connectors.test_beancount_oracle import Loaded as OracleLoaded
from tests.connectors.test_beancount_oracle import months as month_ends
from tests.connectors.test_beancount_oracle import (
    test_exchange_rates_are_the_usd_quoted_prices as check_exchange_rates,
)
from tests.connectors.test_beancount_oracle import test_month_end_balances_of_cash_ar_ap_equal_bql as check_cash_ar_ap
from tests.connectors.test_beancount_oracle import test_monthly_pnl_equals_bql as check_monthly_pnl
from tests.connectors.test_beancount_oracle import (
    test_the_ledgers_own_trial_balance_equals_bql_at_every_month_end_and_r7_passes as check_trial_balance,
)
from tests.connectors.test_beancount_oracle import (
    test_transactions_with_non_money_legs_keep_their_money as check_non_money_legs,
)
from tests.vendors import memory_warehouse
from warehouse.home import Home
from warehouse.models import build_marts

TOOLS = list(get_adapter("builtin.erp").default_tools)  # every tool it reads, documents and reports included


def server_args(ledger: Path, subtypes: dict[str, list[str]]) -> list[str]:
    """The command line after ``-m connectors.servers.beanfile``, as closeboard.yaml gives it."""
    return [
        "--ledger",
        str(ledger),
        "--rounding-account",
        ROUNDING,
        *(a for name, globs in subtypes.items() for a in ("--subtype", f"{name}={','.join(globs)}")),
    ]


def beanfile_config(ledger: Path, first: date, last: date, subtypes: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "company": {
            "name": "Beanfile Co",
            "currency": "USD",
            "first_period": period_of(first),
            "as_of": last.isoformat(),
        },
        "connectors": {
            "erp": {
                "adapter": "builtin.erp",
                "server": {
                    "command": "python",
                    "args": ["-m", "connectors.servers.beanfile", *server_args(ledger, subtypes)],
                },
                "allow_tools": TOOLS,
                "client": {"call_timeout_s": 120, "retries": 0, "backoff_s": 0.01},
            }
        },
    }


def in_memory(config: Any) -> Any:
    """The server closeboard.yaml's command names, built in this process from the same arguments."""
    args = list(config.connectors["erp"].server.args)
    return server_from_args(args[args.index("connectors.servers.beanfile") + 1 :])[0]


@pytest.fixture(scope="session")
def example_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bean-example ledger (the first of the oracle's: one year, seed 1), written once per session."""
    seed, begin, end = BEAN_EXAMPLES[0]
    return bean_example(seed, begin, end, tmp_path_factory.mktemp("beanfile-example") / "example.beancount")


def private_copy(ledger: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(ledger, folder / ledger.name))


@dataclass
class Pulled:
    oracle: OracleLoaded
    config: Any
    server: Any


@pytest.fixture(scope="module")
def pulled(example_ledger: Path, tmp_path_factory: pytest.TempPathFactory) -> Pulled:
    root = tmp_path_factory.mktemp("beanfile")
    ledger = private_copy(example_ledger, root / "ledger")
    oracle = Oracle(ledger)
    ((first, last),) = oracle.rows("SELECT min(date), max(date)")
    config = parse_config(beanfile_config(ledger, first, last, BEAN_EXAMPLE_SUBTYPES))
    con, connect = memory_warehouse()
    server = in_memory(config)
    erp = ingest_source(config, "erp", home=Home(root / "home"), run_id="r1", connect=connect, server=server)
    con.execute("insert into run_context values (?, ?, 1, 'USD')", [period_of(first), last])
    build_marts(con)
    loaded = OracleLoaded(ledger, con, erp, [], BEAN_EXAMPLE_SUBTYPES, first, last, oracle)
    return Pulled(loaded, config, server)


def test_every_accounts_activity_and_month_end_balance_equal_bql(pulled: Pulled) -> None:
    """account_balances (the warehouse's per account and month: activity and month-end balance,
    debit-positive) against beanquery's postings: each posting's USD value in cents, the rounding
    account undoing each transaction's cent residual."""
    loaded = pulled.oracle
    ends = month_ends(loaded.first, loaded.last)
    expected = loaded.oracle.trial_balances([end for _, end in ends])
    got = {
        (p, a): (net, balance)
        for p, a, net, balance in loaded.con.execute(
            "select period, account_id, net_dc, balance_dc from account_balances"
        ).fetchall()
    }
    accounts = {a for _, a in expected}
    assert accounts <= {a for _, a in got}
    compared = 0
    for index, (period, end) in enumerate(ends):
        before = ends[index - 1][1] if index else None
        for account in sorted(accounts):
            balance = expected.get((end, account), Decimal("0.00"))
            opening = expected.get((before, account), Decimal("0.00")) if before else Decimal("0.00")
            assert (period, account, got[(period, account)]) == (period, account, (balance - opening, balance))
            compared += 1
    pnl = loaded.con.execute(
        "select count(*) filter (where amount <> 0) from mart_pnl_monthly where account_id <> ?", [ROUNDING]
    ).fetchone()[0]
    assert compared == len(ends) * len(accounts) and len(ends) == 12 and len(accounts) > 30 and pnl > 12 * 10


def test_monthly_pnl_cash_ar_ap_rates_and_trial_balance_equal_bql(pulled: Pulled) -> None:
    """The oracle's own checks of the beancount-mcp pull, on the warehouse filled through beanfile."""
    check_monthly_pnl(pulled.oracle)
    check_cash_ar_ap(pulled.oracle)
    check_exchange_rates(pulled.oracle)
    check_non_money_legs(pulled.oracle)
    check_trial_balance(pulled.oracle)


def test_non_money_legs_are_left_out_and_counted_and_nothing_is_quarantined(pulled: Pulled) -> None:
    loaded = pulled.oracle
    not_money = loaded.oracle.not_money()
    summary = call(pulled.server, "get_ledger_summary", {})
    assert Counter(summary["left_out"]) == not_money and not_money
    ((postings,),) = loaded.oracle.rows("SELECT count(*)")
    table = loaded.erp.pull.tables["erp_journal_lines"]
    rounding = loaded.con.execute("select count(*) from erp_journal_lines where account_id = ?", [ROUNDING])
    assert table.reported_total == table.rows == postings - not_money.total() + rounding.fetchone()[0]
    assert loaded.con.execute("select count(*) from quarantine").fetchone() == (0,)
    tools = {t for (t,) in loaded.con.execute("select distinct tool from connector_calls").fetchall()}
    assert tools <= set(TOOLS) and "list_journal_lines" in tools


def test_a_summary_over_a_window_of_months_is_the_whole_ledgers_for_them(pulled: Pulled) -> None:
    whole = call(pulled.server, "get_ledger_summary", {})["items"]
    month = whole[len(whole) // 2]["period"]
    window = {"date_from": f"{month}-01", "date_to": month_end(month).isoformat()}
    items = call(pulled.server, "get_ledger_summary", window)["items"]
    assert items == [i for i in whole if i["period"] == month] and len(items) > 5


def call(server: Any, tool: str, arguments: dict[str, Any]) -> Any:
    """One tool call through the real MCP client: the answer's JSON, or the error text."""

    async def go() -> Any:
        async with Client(server) as client:
            result = await client.call_tool(tool, arguments)
            text = result.content[0].text
            return text if result.is_error else json.loads(text)

    return anyio.run(go)


def journal_windows(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple[str, str]]:
    rows = con.execute(
        "select arguments from connector_calls where run_id = ? and tool = 'list_journal_lines'", [run_id]
    ).fetchall()
    windows = {(a.get("date_from"), a.get("date_to")) for a in (json.loads(r) for (r,) in rows)}
    return sorted(windows, key=str)


def test_a_one_month_change_pulls_that_month_alone_and_equals_a_full_pull(example_ledger: Path, tmp_path: Path) -> None:
    """Only the changed month is pulled: the ledger summary's `#lines` digest of each month shows any
    change to its lines, so the open month is pulled only when it changed (then alone); once the days
    of every month are kept (read at the refresh after a whole pull), only the day that changed."""
    ledger = private_copy(example_ledger, tmp_path / "ledger")
    oracle = Oracle(ledger)
    ((first, last),) = oracle.rows("SELECT min(date), max(date)")
    config = parse_config(beanfile_config(ledger, first, last, BEAN_EXAMPLE_SUBTYPES))
    server = in_memory(config)  # one server across the refreshes: it loads the file again when it changes
    con, connect = memory_warehouse()
    home = Home(tmp_path / "home")

    def refresh(run_id: str) -> Ingested:
        return ingest_source(config, "erp", home=home, run_id=run_id, connect=connect, server=server)

    assert refresh("r1").pull.replaced_periods is None  # the first load is whole
    assert journal_windows(con, "r1") == [(None, None)]

    changed, open_month = shift(period_of(last), -3), period_of(last)
    with ledger.open("a", encoding="utf-8") as f:  # appended: no line above moves
        f.write(
            f'\n{changed}-15 * "Bistro" "A late dinner"\n  Expenses:Food:Restaurant  41.27 USD\n'
            "  Liabilities:AccountsPayable\n"
        )
    added = refresh("r2")
    assert added.pull.replaced_periods == [changed]
    windows = journal_windows(con, "r2")
    assert [(f[:7], t[:7]) for f, t in windows] == [(changed, changed)]
    per_month = Counter(m.strftime("%Y-%m") for (m,) in Oracle(ledger).rows("SELECT date"))
    lines = added.pull.tables["erp_journal_lines"].rows
    assert 2 <= lines <= per_month[changed] + 10  # only that month's lines
    assert con.execute(
        "select account_id, debit from erp_journal_lines where description = 'Bistro | A late dinner' and debit > 0"
    ).fetchall() == [("Expenses:Food:Restaurant", Decimal("41.27"))]

    # a transaction inserted near the top shifts every entry_id below it: every month is pulled again
    text = ledger.read_text(encoding="utf-8")
    ledger.write_text(text.replace("\n", "\n; a comment line\n", 1), encoding="utf-8")
    shifted = refresh("r3")
    assert shifted.pull.replaced_periods is None

    same = refresh("r4")  # nothing changed: no month is read again
    assert same.pull.replaced_periods == []
    assert journal_windows(con, "r4") == []
    with ledger.open("a", encoding="utf-8") as f:  # a change in the open month: that month alone
        f.write(
            f'\n{last} * "Corner shop" "Milk"\n  Expenses:Food:Groceries  3.10 USD\n  Liabilities:AccountsPayable\n'
        )
    today = refresh("r5")  # every month's days were read at r4: that day alone
    assert today.pull.replaced_periods == [last.isoformat()] and period_of(last) == open_month
    assert journal_windows(con, "r5") == [(last.isoformat(), last.isoformat())]

    whole, whole_connect = memory_warehouse()
    ingest_source(config, "erp", home=Home(tmp_path / "whole"), run_id="w1", connect=whole_connect, server=server)
    ours, theirs = _tables(con), _tables(whole)
    assert all(ours.values()) and ours == theirs


@pytest.mark.parametrize(
    "break_it, cause",
    [
        (
            lambda text: (
                text
                + '\n2023-06-10 * "Broken" "Unbalanced"\n  Expenses:Food:Restaurant  10.00 USD\n  Liabilities:AccountsPayable  -9.00 USD\n'
            ),
            "does not balance",
        ),
        (
            lambda text: (
                text
                + '\n2023-06-11 * "Unknown" "No such account"\n  Expenses:Nowhere  5.00 USD\n  Liabilities:AccountsPayable\n'
            ),
            "Expenses:Nowhere",
        ),
    ],
    ids=["unbalanced", "unopened-account"],
)
def test_a_ledger_with_an_error_fails_every_tool_naming_file_line_and_cause(
    example_ledger: Path, tmp_path: Path, break_it: Callable[[str], str], cause: str
) -> None:
    ledger = private_copy(example_ledger, tmp_path)
    server = server_from_args(["--ledger", str(ledger)])[0]
    assert call(server, "get_company", {})["currency"] == "USD"  # loads cleanly first
    text = ledger.read_text(encoding="utf-8")
    ledger.write_text(break_it(text), encoding="utf-8")
    line = text.count("\n") + 2  # the broken transaction's first line
    for tool, arguments in (
        ("list_journal_lines", {}),
        ("get_ledger_summary", {}),
        ("get_trial_balance", {"date": "2023-12-31"}),
        ("list_accounts", {}),
    ):
        error = call(server, tool, arguments)
        assert isinstance(error, str), tool
        assert f"{ledger}:{line}" in error and cause in error and "does not load cleanly" in error, (tool, error)
    tolerant = server_from_args(["--ledger", str(ledger), "--allow-errors"])[0]  # as Fava would show it
    assert call(tolerant, "get_company", {})["ledger_errors"] == 1
    assert call(tolerant, "list_accounts", {"limit": 1})["total"] > 30
    ledger.write_text(text, encoding="utf-8")  # mended: served again
    assert call(server, "list_accounts", {"limit": 1})["total"] > 30


def test_a_transaction_whose_cents_do_not_balance_is_quarantined_whole_with_its_reason(tmp_path: Path) -> None:
    """Without a rounding account a fund purchase at a cents cost (weight 240.045) cannot balance in
    cents: all its lines go to quarantine with the reason, and R7's trial balance still counts them."""
    ledger = tmp_path / "books.beancount"
    ledger.write_text(
        'option "operating_currency" "USD"\n'
        "2024-01-01 open Assets:Bank:Checking USD\n2024-01-01 open Assets:Fund VBMPX\n"
        "2024-01-01 open Equity:Opening\n2024-01-01 open Expenses:Rent USD\n"
        '2024-01-02 * "Opening"\n  Assets:Bank:Checking  1000.00 USD\n  Equity:Opening\n'
        '2024-01-05 * "Fund" "Buy units"\n  Assets:Fund  1.950 VBMPX {123.10 USD}\n  Assets:Bank:Checking  -240.04 USD\n'
        '2024-01-09 * "Landlord" "Rent"\n  Expenses:Rent  300.00 USD\n  Assets:Bank:Checking\n',
        encoding="utf-8",
    )
    ((first, last),) = Oracle(ledger).rows("SELECT min(date), max(date)")
    raw = beanfile_config(ledger, first, last, {})
    raw["connectors"]["erp"]["server"]["args"] = ["-m", "connectors.servers.beanfile", "--ledger", str(ledger)]
    config = parse_config(raw)
    con, connect = memory_warehouse()
    ingest_source(config, "erp", home=Home(tmp_path / "home"), run_id="r1", connect=connect, server=in_memory(config))
    assert set(con.execute("select entry_id, count(*) from erp_journal_lines group by 1").fetchall()) == {
        (f"{ledger}:6", 2),
        (f"{ledger}:12", 2),
    }
    reasons = con.execute("select record, reason from quarantine").fetchall()
    assert len(reasons) == 2
    for record, reason in reasons:
        assert json.loads(record)["entry_id"] == f"{ledger}:9"
        assert "leave 0.01 unbalanced (options.rounding_account is not set)" in reason
        assert "the whole transaction is set aside" in reason
    by_account: dict[str, Decimal] = defaultdict(Decimal)
    for account, debit, credit in con.execute("select account_id, debit, credit from erp_trial_balance").fetchall():
        by_account[account] = debit - credit  # one report date (the month-end is the as-of day)
    assert by_account["Assets:Fund"] == Decimal("240.05") and by_account["Assets:Bank:Checking"] == Decimal("459.96")


def test_without_beancount_every_tool_says_how_to_install_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """beancount is closeboard's optional extra `beancount` (pyproject.toml): where it is not installed the
    server still starts, and every tool names the extra and how to install it."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert any(r.startswith("beancount") for r in extras["beancount"])
    ledger = tmp_path / "books.beancount"
    ledger.write_text('option "operating_currency" "USD"\n2024-01-01 open Assets:Bank:Checking USD\n', encoding="utf-8")
    server = server_from_args(["--ledger", str(ledger)])[0]
    monkeypatch.setitem(sys.modules, "beancount", None)  # as in an environment without it: the import fails
    for tool, arguments in (("get_company", {}), ("list_accounts", {}), ("get_trial_balance", {"date": "2024-01-31"})):
        error = call(server, tool, arguments)
        assert isinstance(error, str), tool
        assert "beancount, which is not installed" in error and sys.executable in error, error
        assert "closeboard[beancount]" in error and "uv sync --extra beancount" in error, error
    monkeypatch.delitem(sys.modules, "beancount")  # installed, and the ledger is read again once it changes
    ledger.write_text(ledger.read_text(encoding="utf-8") + "; installed\n", encoding="utf-8")
    assert call(server, "list_accounts", {})["items"][0]["account_id"] == "Assets:Bank:Checking"


def test_http_options_are_the_bundled_servers_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """--http, --host and --token-env come from connectors.servers.hosting, as for every bundled server: an
    unset --token-env variable stops the server before it serves anything."""
    from connectors.servers import beanfile, hosting

    parser = beanfile.arguments()
    args = parser.parse_args(["--ledger", "x.beancount", "--http", "9104", "--token-env", "BEANFILE_TEST_TOKEN"])
    assert (args.http, args.host, args.token_env) == (9104, "127.0.0.1", "BEANFILE_TEST_TOKEN")
    monkeypatch.delenv("BEANFILE_TEST_TOKEN", raising=False)
    with pytest.raises(SystemExit):
        hosting.token_from_env(parser, args)
    monkeypatch.setenv("BEANFILE_TEST_TOKEN", "s3cret")
    assert hosting.token_from_env(parser, args) == "s3cret"


@pytest.mark.slow
def test_the_server_runs_on_its_own_over_stdio(example_ledger: Path, tmp_path: Path) -> None:
    """`python -m connectors.servers.beanfile --ledger FILE` as closeboard.yaml starts it: a subprocess
    answering over stdio what the in-memory server answers."""
    from connectors.client import SourceSession

    ledger = private_copy(example_ledger, tmp_path)
    oracle = Oracle(ledger)
    ((first, last),) = oracle.rows("SELECT min(date), max(date)")
    config = parse_config(beanfile_config(ledger, first, last, BEAN_EXAMPLE_SUBTYPES))

    async def go() -> tuple[Any, Any]:
        async with SourceSession(config.connectors["erp"]) as session:
            summary, _ = await session.call("get_ledger_summary")
            balances, _ = await session.call("get_trial_balance", {"date": last.isoformat()})
            return summary, balances

    summary, balances = anyio.run(go)
    assert summary == {**call(in_memory(config), "get_ledger_summary", {}), "as_of": summary["as_of"]}
    expected = oracle.trial_balances([last])
    assert {i["account_id"]: Decimal(i["debit"]) - Decimal(i["credit"]) for i in balances["items"]} == {
        a: v for (_, a), v in expected.items()
    }
