"""Incremental reconciliation (issue 21 item 2): a refresh recomputes R2-R4 only from the earliest month
whose inputs changed (keeping their earlier rows), yet after each kind of change the warehouse's
recon_results, recon_items, recon_bank_matches and every mart equal exactly a full recompute on the
same data (the same tables rebuilt from scratch with `build_marts` and `build_recon(full=True)` on a
copy of the warehouse file).

One copy of `demo_home`, refreshed in process six times in a row (each change on top of the last):
nothing changed, a new entry in the open month, a backdated entry on accounts R2-R4 do not read, a
backdated entry in a closed month on the bank and AR, a changed old invoice, a changed won deal in the
CRM. R5 is kept whole while nothing it reads changes (no invoice, no opportunity), and equals the full
recompute all the same. The marts are rebuilt whole each refresh (cheaper than finding the changed months:
warehouse/sql/marts/40_mart_pnl_monthly.sql says why); they are compared all the same, as is R2-R4's
open_documents(), which the reconciliation reads from the earliest changed month only."""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from connectors.periods import shift
from tests.conftest import ACCRUAL, AS_OF, EXPENSE, append_journal, copy_home, refresh_in_process
from warehouse.home import Home

OPEN = AS_OF.strftime("%Y-%m")
LATEST_ENDED = shift(OPEN, -1)
BACKDATED = shift(OPEN, -3)
RECON = ("recon_results", "recon_items", "recon_bank_matches", "recon_bank_match_spans")


def tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every recon_* table (without its run id) and every mart, whole, in one order."""
    marts = [
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'main' "
            "and (table_name like 'mart\\_%' escape '\\' or table_name = 'periods') order by 1"
        ).fetchall()
    ]
    assert {"periods", "mart_kpis", "mart_pnl_monthly", "mart_balance_sheet", "mart_statements"} <= set(marts)
    out = {t: con.execute(f"select * exclude (run_id) from {t} order by all").fetchall() for t in RECON}
    out.update({t: con.execute(f'select * from "{t}" order by all').fetchall() for t in marts})
    return out


def full_recompute(home: Path, scratch: Path) -> dict[str, list[tuple]]:
    """The marts and checks rebuilt whole on a copy of `home`'s warehouse, with its closeboard.yaml."""
    from pipelines.recon import recon_params
    from pipelines.resources import CloseboardResource
    from warehouse.models import build_marts
    from warehouse.recon import build_recon

    copy = scratch / "full.duckdb"
    shutil.copyfile(Home(home).warehouse, copy)
    params = recon_params(CloseboardResource(config_path=str(home / "closeboard.yaml"), home=str(home)))
    with duckdb.connect(str(copy)) as con:
        # nothing of the incremental run's verdicts is left to keep (recon_bank_matches: a view of the spans)
        for table in ("recon_results", "recon_items", "recon_bank_match_spans"):
            con.execute(f"delete from {table}")
        build_marts(con)
        summary = build_recon(con, "full-recompute", params, full=True)
        assert summary.from_period is None
        return tables(con)


def refreshed(home: Path, *, r5_kept: bool) -> tuple[str, dict[str, list[tuple]]]:
    """Refresh `home` in process: the period R2-R4 were recomputed from, and the tables it left; R5's
    rows were kept whole (nothing it reads changed) or recomputed, as `r5_kept` says."""
    result = refresh_in_process(home)
    (materialization,) = [
        m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == "recon_results"
    ]
    metadata = materialization.materialization.metadata
    assert metadata["kept_whole"].value == ("R5_bookings_vs_billings" if r5_kept else "none")
    with duckdb.connect(str(Home(home).warehouse), read_only=True) as con:
        return str(metadata["recomputed_from"].value), tables(con)


def assert_equal(incremental: dict[str, list[tuple]], full: dict[str, list[tuple]]) -> None:
    assert incremental.keys() == full.keys()
    for name in full:
        assert incremental[name] == full[name], f"{name}: the incremental refresh differs from a full recompute"


@pytest.fixture
def home(demo_home: Path, tmp_path: Path) -> Path:
    return copy_home(demo_home, tmp_path / "home")


def test_recon_and_marts_after_each_change_equal_a_full_recompute(home: Path, tmp_path: Path) -> None:
    # 1. nothing changed, the same run date: no R2-R4 period is recomputed, their rows stand, and R5's
    start, incremental = refreshed(home, r5_kept=True)
    assert_equal(incremental, full_recompute(home, tmp_path))
    assert start.startswith("none (nothing R2-R4 read changed")

    # 2. a new entry in the open month (an expense accrued to AP: R4's control account moves)
    append_journal(home, "JE-INC-OPEN", AS_OF.isoformat(), [("6100", 125, 0), ("2100", 0, 125)])
    start, incremental = refreshed(home, r5_kept=True)  # R5 reads no journal line
    assert_equal(incremental, full_recompute(home, tmp_path))
    assert start == LATEST_ENDED

    # 2b. a backdated entry on accounts R2-R4 do not read (a fee accrued): no R2-R4 period is recomputed
    append_journal(home, "JE-INC-FEE", f"{BACKDATED}-05", [(EXPENSE, 40, 0), (ACCRUAL, 0, 40)])
    start, incremental = refreshed(home, r5_kept=True)
    assert_equal(incremental, full_recompute(home, tmp_path))
    assert start.startswith("none (nothing R2-R4 read changed")

    # 3. a backdated entry in a closed month, on the bank's ledger account (R2) and AR (R3): it reaches
    # its month and every later month-end
    day = f"{BACKDATED}-12"
    append_journal(home, "JE-INC-LATE", day, [("1110", 310, 0), ("1200", 0, 310)])
    start, incremental = refreshed(home, r5_kept=True)
    assert_equal(incremental, full_recompute(home, tmp_path))
    assert start == BACKDATED
    with duckdb.connect(str(Home(home).warehouse), read_only=True) as con:
        items = con.execute(
            "select distinct period from recon_items where record_id like 'JE-INC-LATE:%' order by 1"
        ).fetchall()
    assert items and items[0][0] == BACKDATED  # the change is there, from its own month on

    # 4. a changed old invoice: its total moves by one cent, so AR's subledger and control account
    # differ from its issue month on (the first line naming it may be earlier still)
    invoices = home / "demo" / "erp" / "invoices.csv"
    with invoices.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    target = min(
        (r for r in rows if r["doc_type"] == "invoice" and r["status"] != "draft" and r["issue_date"] < BACKDATED),
        key=lambda r: (r["issue_date"], r["invoice_id"]),
    )
    target["total"] = str(Decimal(target["total"]) + Decimal("0.01"))
    with invoices.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with duckdb.connect(str(Home(home).warehouse), read_only=True) as con:
        first_line = con.execute(
            "select strftime(min(posted_date), '%Y-%m') from erp_journal_lines where document_id = ?",
            [target["invoice_id"]],
        ).fetchone()[0]
    reach = min(m for m in (target["issue_date"][:7], first_line) if m)
    start, incremental = refreshed(home, r5_kept=False)  # R5 reads every invoice
    assert_equal(incremental, full_recompute(home, tmp_path))
    assert start == max(reach, incremental["periods"][0][0])
    failing = [r for r in incremental["recon_results"] if r[1] == "R3_ar" and r[2] == "fail"]
    assert failing and min(r[0] for r in failing) <= max(target["issue_date"][:7], incremental["periods"][0][0])

    # 5. a won deal's amount changes in the CRM: R5 reads it (recomputed whole), R2-R4 do not
    opportunities = home / "demo" / "crm" / "opportunities.csv"
    with opportunities.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    won = min((r for r in rows if r["is_won"] == "true"), key=lambda r: r["opportunity_id"])
    won["amount"] = str(Decimal(won["amount"]) + Decimal("1000.00"))
    with opportunities.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    before = [r for r in incremental["recon_results"] if r[1] == "R5_bookings_vs_billings"]
    start, incremental = refreshed(home, r5_kept=False)
    assert_equal(incremental, full_recompute(home, tmp_path))
    assert start.startswith("none (nothing R2-R4 read changed")
    assert [r for r in incremental["recon_results"] if r[1] == "R5_bookings_vs_billings"] != before
