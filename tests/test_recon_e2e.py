"""Reconciliation through the real pipeline: the default demo passes every ERROR check with real
reconciling items, and each planted discrepancy is caught by the right check, in the right period,
naming the offending record, while every other verdict stays as in the clean demo.

One planted home (all plants at once: they sit in different months and records) and one run, in this
process with the bundled servers in memory (`closeboard demo --plant` generates, plants and refreshes
the same way through the CLI; the clean demo itself is `demo_home`, through the CLI and stdio)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from connectors.demo import generate
from connectors.demo.plant import plant
from tests.conftest import AS_OF, closeboard, read, refresh_in_process, write_config
from warehouse.recon import CHECK_IDS, ReconParams, build_recon

PLANTS = (
    "unbalanced_entry",
    "stale_bank_line",
    "dropped_bank_txn",
    "ar_drift",
    "ap_drift",
    "total_mismatch",
    "orphan_won_deal",
)


def verdicts(home: Path) -> dict[tuple[str, str], str]:
    return {(p, c): s for p, c, s in read(home, "select period, check_id, status from recon_results")}


@pytest.fixture(scope="module")
def planted_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("planted")
    generate(home / "demo", as_of=AS_OF, seed=42, scale=1)  # what `closeboard demo --plant ...` does
    plant(home / "demo", list(PLANTS))
    write_config(home)
    refresh_in_process(home)
    return home


@pytest.fixture(scope="module")
def plants(planted_home: Path) -> dict[str, dict]:
    return json.loads((planted_home / "demo" / "_plants.json").read_text(encoding="utf-8"))


def test_demo_passes_every_error_check_with_real_reconciling_items(demo_home: Path) -> None:
    rows = read(demo_home, "select check_id, status, count(*) from recon_results group by all")
    assert {c for c, _, _ in rows} == set(CHECK_IDS)
    assert not [r for r in rows if r[1] == "fail"], rows
    periods = read(demo_home, "select count(*) from periods")[0][0]
    assert read(demo_home, "select count(*) from recon_results")[0][0] == periods * len(CHECK_IDS)
    reasons = {
        r[0]
        for r in read(
            demo_home, "select split_part(reason, ' on BA-', 1) from recon_items where check_id = 'R2_bank_vs_book'"
        )
    }
    assert {"deposit in transit", "outstanding payment", "bank charge not yet booked"} <= reasons
    # equation exact everywhere
    assert (
        read(
            demo_home,
            "select count(*) from recon_results where difference <> 0 and check_id <> 'R5_bookings_vs_billings'",
        )[0][0]
        == 0
    )
    # every bank line matched at the last ended month is matched exactly once
    dup = read(
        demo_home,
        """select count(*) from (select period, txn_id from recon_bank_matches
                             group by all having count(*) > 1)""",
    )[0][0]
    assert dup == 0


def test_fresh_demo_shows_no_warning(demo_home: Path) -> None:
    # ordinary reconciling items (young fees not yet booked, deposits in transit, outstanding payments)
    # are listed, not warned about; the demo config allow-lists what the demo servers offer (R6)
    warns = read(demo_home, "select period, check_id, detail from recon_results where status = 'warn' order by all")
    assert warns == []
    young_fees = read(
        demo_home,
        """select count(*) from recon_items where check_id = 'R2_bank_vs_book'
                                    and reason like 'bank charge not yet booked%'""",
    )[0][0]
    assert young_fees > 0


def test_demo_with_month_end_balances_only_rolls_the_open_month_forward(demo_home: Path, tmp_path: Path) -> None:
    # the same warehouse, as if the bank feed sent closing balances only at month-ends (none at the as-of date)
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_home / "warehouse.read.duckdb", db)
    con = duckdb.connect(str(db))
    try:
        con.execute("delete from bank_balances where balance_date <> last_day(balance_date)")
        assert con.execute("select max(balance_date) from bank_balances").fetchall()[0][0] < AS_OF
        build_recon(con, "month-ends-only", ReconParams())
        r2 = dict(
            con.execute("""select period, status from recon_results
                                 where check_id = 'R2_bank_vs_book'""").fetchall()
        )
        assert set(r2.values()) == {"pass"}, r2
        open_month = AS_OF.strftime("%Y-%m")
        detail, difference = con.execute(
            """select detail, difference from recon_results
                                            where check_id = 'R2_bank_vs_book' and period = ?""",
            [open_month],
        ).fetchall()[0]
        last_end = con.execute("select max(balance_date) from bank_balances").fetchall()[0][0]
        assert f"statement {last_end} rolled forward by " in detail and difference == 0
    finally:
        con.close()


def test_checks_command_exit_status(demo_home: Path, planted_home: Path) -> None:
    ok = closeboard("checks", home=demo_home, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "R2" in ok.stdout
    bad = closeboard("checks", "--period", "2025-04", home=planted_home, check=False)
    assert bad.returncode == 1
    assert "FAIL" in bad.stdout and "does not balance" in bad.stdout


def _first_failing(home: Path, check_id: str, status: str = "fail") -> str | None:
    rows = read(home, "select min(period) from recon_results where check_id = ? and status = ?", [check_id, status])
    return rows[0][0]


def _items(home: Path, check_id: str, record_id: str) -> list[tuple]:
    return read(
        home,
        """select period, reason from recon_items where check_id = ? and record_id = ?
                         order by period""",
        [check_id, record_id],
    )


def _unchanged_before(base: dict, planted: dict, check_id: str, period: str) -> None:
    for (p, c), s in base.items():
        if c == check_id and p < period:
            assert planted[(p, c)] == s, (p, c)


def test_unplanted_checks_keep_their_verdicts(demo_home: Path, planted_home: Path, plants: dict) -> None:
    base, planted = verdicts(demo_home), verdicts(planted_home)
    assert base.keys() == planted.keys()
    first = {}
    for what in plants.values():
        first[what["check"]] = min(first.get(what["check"], "9999"), what["period"])
    first["R2_bank_vs_book"] = plants["stale_bank_line"]["period"]
    for check_id, period in first.items():
        _unchanged_before(base, planted, check_id, period)
    # R5 changes only in the orphan deal's month; R6 only in the open month
    for (p, c), s in base.items():
        if c == "R5_bookings_vs_billings" and p != plants["orphan_won_deal"]["period"]:
            assert planted[(p, c)] == s, (p, c)
        if c == "R6_completeness" and p != AS_OF.strftime("%Y-%m"):
            assert planted[(p, c)] == s, (p, c)


def test_unbalanced_entry_fails_r1(planted_home: Path, plants: dict) -> None:
    plant = plants["unbalanced_entry"]
    assert _first_failing(planted_home, "R1_trial_balance") == plant["period"]
    assert [p for p, _ in _items(planted_home, "R1_trial_balance", plant["record_id"])] == [plant["period"]]
    diff = read(
        planted_home,
        "select difference from recon_results where check_id = 'R1_trial_balance' and period = ?",
        [plant["period"]],
    )[0][0]
    assert abs(diff) == abs(__import__("decimal").Decimal(plant["amount"]))


def test_stale_bank_line_warns_then_fails_r2(planted_home: Path, plants: dict) -> None:
    plant = plants["stale_bank_line"]
    items = _items(planted_home, "R2_bank_vs_book", plant["record_id"])
    assert items[0][0] == plant["period"] and "stale" not in items[0][1]  # young: a warning
    stale = [p for p, reason in items if "stale" in reason]
    assert stale and stale[0] > plant["period"]
    assert _first_failing(planted_home, "R2_bank_vs_book") == stale[0]
    status = read(
        planted_home,
        "select status from recon_results where check_id = 'R2_bank_vs_book' and period = ?",
        [plant["period"]],
    )[0][0]
    assert status == "warn"


def test_dropped_bank_transaction_breaks_r2_equation(planted_home: Path, plants: dict) -> None:
    plant = plants["dropped_bank_txn"]
    items = _items(planted_home, "R2_bank_vs_book", plant["record_id"])  # the book line left unmatched
    assert items[0][0] == plant["period"] and "outstanding payment" in items[0][1]
    off = read(
        planted_home,
        """select min(period) from recon_items where check_id = 'R2_bank_vs_book'
               and record_id = ? and reason like 'statement does not reconcile%'""",
        [plant["bank_account_id"]],
    )[0][0]
    assert off == plant["period"]
    assert (
        read(
            planted_home,
            "select status from recon_results where check_id = 'R2_bank_vs_book' and period = ?",
            [plant["period"]],
        )[0][0]
        == "fail"
    )


@pytest.mark.parametrize("kind", ["ar_drift", "ap_drift"])
def test_subledger_drift_fails(planted_home: Path, plants: dict, kind: str) -> None:
    plant = plants[kind]
    check_id = plant["check"]
    assert _first_failing(planted_home, check_id) == plant["period"]
    items = _items(planted_home, check_id, plant["record_id"])
    assert items and items[0][0] == plant["period"]
    diff = read(
        planted_home,
        "select difference from recon_results where check_id = ? and period = ?",
        [check_id, plant["period"]],
    )[0][0]
    assert abs(diff) == __import__("decimal").Decimal("0.01")


def test_total_mismatch_fails_r6(planted_home: Path, plants: dict) -> None:
    plant = plants["total_mismatch"]
    assert (
        read(
            planted_home,
            "select status from recon_results where check_id = 'R6_completeness' and period = ?",
            [plant["period"]],
        )[0][0]
        == "fail"
    )
    assert _items(planted_home, "R6_completeness", "erp_invoices")


def test_orphan_won_deal_warns_r5(planted_home: Path, plants: dict) -> None:
    plant = plants["orphan_won_deal"]
    assert (
        read(
            planted_home,
            "select status from recon_results where check_id = 'R5_bookings_vs_billings' and period = ?",
            [plant["period"]],
        )[0][0]
        == "warn"
    )
    items = _items(planted_home, "R5_bookings_vs_billings", plant["record_id"])
    assert [p for p, _ in items] == [plant["period"]] and "no ERP customer" in items[0][1]
