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

from tests.conftest import closeboard, copy_demo, read, refresh_in_process, write_config

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
