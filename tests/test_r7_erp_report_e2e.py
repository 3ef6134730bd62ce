"""R7: closeboard's books tie out to the ERP's own trial balance, at every month-end.

On the demo (`demo_home`: the bundled servers as stdio subprocesses) every period passes; when the
ERP's report holds an entry that `list_journal_lines` does not serve (the servers' test switch
`hidden_entries`: a journal outside the token's scope), closeboard's own books stay balanced (R1
passes) and R7 fails from that month on, naming the accounts with both balances. That home refreshes
in this process with the bundled ERP in memory (the switch is read from its data directory all the
same); the CLI's `checks` and `close` then read it as subprocesses.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import (
    ACCRUAL,
    EXPENSE,
    append_journal,
    closeboard,
    copy_demo,
    copy_home,
    edit_config,
    read,
    refresh_in_process,
    write_config,
)

HIDDEN_MONTH = "2025-03"


def test_r7_passes_on_the_demo(demo_home: Path) -> None:
    statuses = read(
        demo_home, "select period, status from recon_results where check_id = 'R7_erp_report' order by period"
    )
    assert len(statuses) == 25 and {s for _, s in statuses} == {"pass"}
    loaded = read(demo_home, "select count(distinct balance_date) from erp_trial_balance")[0][0]
    assert loaded == 25  # every month-end, the open month as at the report date


@pytest.fixture(scope="module")
def hidden(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    home = tmp_path_factory.mktemp("r7-hidden")
    demo = copy_demo(demo_data, home)
    with (demo / "erp" / "journal_lines.csv").open(newline="", encoding="utf-8") as f:
        lines = [r for r in csv.DictReader(f) if r["posted_date"].startswith(HIDDEN_MONTH)]
    entry = lines[0]["entry_id"]
    amounts: dict[str, Decimal] = {}
    for line in (r for r in lines if r["entry_id"] == entry):
        amounts[line["account_id"]] = (
            amounts.get(line["account_id"], Decimal(0)) + Decimal(line["debit"]) - Decimal(line["credit"])
        )
    (demo / "_switches.json").write_text(json.dumps({"hidden_entries": [entry]}), encoding="utf-8")
    write_config(home, sources=("erp",))  # the ERP alone is enough for R7
    refresh_in_process(home)
    return home, {"entry": entry, "amounts": amounts}


def test_an_entry_the_api_does_not_serve_fails_r7_naming_the_accounts(hidden) -> None:
    home, plant = hidden
    assert not read(home, "select count(*) from erp_journal_lines where entry_id = ?", [plant["entry"]])[0][0]
    r1 = read(home, "select distinct status from recon_results where check_id = 'R1_trial_balance'")
    assert r1 == [("pass",)]  # closeboard's own books balance: only the ERP's report shows the gap
    statuses = dict(read(home, "select period, status from recon_results where check_id = 'R7_erp_report'"))
    assert {p for p, s in statuses.items() if s == "fail"} == {p for p in statuses if p >= HIDDEN_MONTH}
    items = read(
        home,
        "select record_id, amount, reason from recon_items where check_id = 'R7_erp_report' "
        "and period = ? order by record_id",
        [HIDDEN_MONTH],
    )
    expected = {a: -amount for a, amount in plant["amounts"].items() if amount}
    assert {r: a for r, a, _ in items} == expected  # closeboard - ERP: the hidden entry, per account
    assert all("closeboard balance" in why and "the ERP's trial balance" in why for *_, why in items)
    detail = read(
        home, "select detail from recon_results where check_id = 'R7_erp_report' and period = ?", [HIDDEN_MONTH]
    )[0][0]
    assert all(account in detail for account in expected)


def test_checks_cli_and_close_see_the_r7_failure(hidden) -> None:
    home, _ = hidden
    checked = closeboard("checks", "--period", HIDDEN_MONTH, home=home, check=False)
    assert checked.returncode == 1 and "R7_erp_report" in checked.stdout
    refused = closeboard("close", HIDDEN_MONTH, "--by", "controller", home=home, check=False)
    assert refused.returncode != 0 and "R7" in refused.stdout + refused.stderr


def test_a_source_without_a_trial_balance_says_r7_is_not_available(tmp_path: Path, demo_data: Path) -> None:
    from warehouse.recon import ReconParams, build_recon
    import duckdb

    from warehouse.db import ensure_schema

    con = duckdb.connect()
    ensure_schema(con)
    con.execute("insert into run_context values ('2026-01', '2026-02-10', 1, 'USD')")
    build_recon(con, "run-1", ReconParams())
    rows = con.execute("select period, status, detail from recon_results where check_id = 'R7_erp_report'").fetchall()
    assert [(p, s) for p, s, _ in rows] == [("2026-01", "not_configured"), ("2026-02", "not_configured")]
    assert all(d.startswith("not available: the ERP source gives no trial balance") for *_, d in rows)


def report_dates_read(home: Path, run_id: str) -> list[str]:
    """The dates the run read the ERP's trial balance at (its calls of get_trial_balance)."""
    calls = read(
        home,
        "select arguments from connector_calls where run_id = ? and tool = 'get_trial_balance' order by called_at",
        [run_id],
    )
    return [json.loads(arguments)["date"] for (arguments,) in calls]


def test_an_incremental_refresh_reads_the_trial_balance_only_at_the_month_ends_a_change_reaches(
    demo_home: Path, tmp_path: Path
) -> None:
    """A month-end report holds every line dated up to it: a refresh reads it again from the month before
    the earliest month whose journal it pulls again (the open month, or a backdated entry's) through the
    report date, and keeps the others; at a new month the month that was open is read at its month-end."""
    home = copy_home(demo_home, tmp_path / "home")
    everything = read(home, "select balance_date, account_id, debit, credit from erp_trial_balance order by all")

    unchanged = refresh_in_process(home)
    assert report_dates_read(home, unchanged.run_id) == ["2026-05-31", "2026-06-15"]
    assert (
        read(home, "select balance_date, account_id, debit, credit from erp_trial_balance order by all") == everything
    )

    append_journal(
        home,
        "JE-R7-1",
        "2025-09-10",
        [(EXPENSE, Decimal("250.00"), Decimal(0)), (ACCRUAL, Decimal(0), Decimal("250.00"))],
    )
    backdated = refresh_in_process(home)
    read_at = report_dates_read(home, backdated.run_id)
    assert read_at[0] == "2025-08-31" and read_at[-1] == "2026-06-15" and len(read_at) == 11
    after = dict(
        read(home, "select balance_date::varchar, debit from erp_trial_balance where account_id = ?", [EXPENSE])
    )
    before = {str(d): debit for d, a, debit, _ in everything if a == EXPENSE}
    assert {d for d in after if after[d] != before[d]} == {d for d in after if d >= "2025-09-30"}
    statuses = read(home, "select distinct status from recon_results where check_id = 'R7_erp_report'")
    assert statuses == [("pass",)]

    edit_config(home, lambda raw: raw["company"].update(as_of="2026-07-02"))
    next_month = refresh_in_process(home)
    assert report_dates_read(home, next_month.run_id) == ["2026-06-30", "2026-07-02"]
    dates = [str(d) for (d,) in read(home, "select distinct balance_date from erp_trial_balance order by 1")]
    assert len(dates) == 26 and dates[-2:] == ["2026-06-30", "2026-07-02"] and "2026-06-15" not in dates
    r7 = read(home, "select period, status from recon_results where check_id = 'R7_erp_report' order by period")
    assert len(r7) == 26 and {s for _, s in r7} == {"pass"}
