"""The close history in the warehouse layer, on an in-memory DuckDB with a small hand-made ledger.

Settings: first_period 2025-12, as_of 2026-03-10: 2025-12, 2026-01 and 2026-02 have ended, 2026-03
is open. Accounts: 1000 cash, 1100 AR, 2000 AP, 3000 share capital, 4000 revenue, 5000 hosting
(cogs), 6000 salaries. Expected figures are derived from the entries below, never typed in.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse import snapshots
from warehouse.db import ensure_schema, scalar
from warehouse.models import build_marts
from warehouse.snapshots import CloseRefused, SnapshotImmutable, close, history, take_snapshots

FIRST_PERIOD, AS_OF = "2025-12", date(2026, 3, 10)
ENDED = ["2025-12", "2026-01", "2026-02"]

ACCOUNTS = [
    ("1000", "Cash", "asset", "cash"),
    ("1100", "Accounts receivable", "asset", "ar"),
    ("2000", "Accounts payable", "liability", "ap"),
    ("3000", "Share capital", "equity", None),
    ("4000", "Revenue", "revenue", None),
    ("5000", "Hosting", "expense", "cogs"),
    ("6000", "Salaries", "expense", None),
]
ENTRIES = [
    ("E01", "2025-11-20", [("1000", "50000.00", "0"), ("3000", "0", "50000.00")]),
    ("E02", "2025-12-05", [("1100", "9000.00", "0"), ("4000", "0", "9000.00")]),
    ("E03", "2025-12-20", [("6000", "4000.00", "0"), ("1000", "0", "4000.00")]),
    ("E04", "2026-01-08", [("1100", "7000.50", "0"), ("4000", "0", "7000.50")]),
    ("E05", "2026-01-15", [("5000", "1200.00", "0"), ("2000", "0", "1200.00")]),
    ("E06", "2026-01-28", [("1000", "9000.00", "0"), ("1100", "0", "9000.00")]),
    ("E07", "2026-02-10", [("6000", "4100.00", "0"), ("1000", "0", "4100.00")]),
    ("E08", "2026-03-02", [("1100", "300.00", "0"), ("4000", "0", "300.00")]),
]


def post(con: duckdb.DuckDBPyConnection, entry_id: str, day: str, lines: list[tuple[str, str, str]]) -> None:
    for n, (account, debit, credit) in enumerate(lines, start=1):
        con.execute(
            "insert into erp_journal_lines (entry_id, line_no, posted_date, account_id, debit, credit, currency) "
            "values (?, ?, ?, ?, ?, ?, 'USD')",
            [entry_id, n, day, account, debit, credit],
        )


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    build_marts(con)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_schema(con)
    for account_id, name, type_, subtype in ACCOUNTS:
        con.execute("insert into erp_accounts values (?, ?, ?, ?, 'USD', null)", [account_id, name, type_, subtype])
    for entry_id, day, lines in ENTRIES:
        post(con, entry_id, day, lines)
    con.execute("insert into run_context values (?, ?, 1, 'USD')", [FIRST_PERIOD, AS_OF])
    rebuild(con)
    yield con
    con.close()


def mart_kpi(con, period: str, kpi: str) -> D | None:
    return scalar(con, "select value from mart_kpis where period = ? and kpi = ?", [period, kpi])


def raw_rows(con, period: str) -> list[tuple]:
    return con.execute("select * from close_snapshots where period = ? order by version", [period]).fetchall()


def add_recon(con, period: str, check_id: str, status: str, detail: str = "") -> None:
    con.execute(
        "insert into recon_results values ('r', ?, ?, ?, null, null, null, ?)", [period, check_id, status, detail]
    )


def test_every_ended_month_gets_one_draft_and_an_unchanged_rerun_adds_none(con) -> None:
    first = take_snapshots(con, snapshots.ended_periods(con), "run-1")
    assert [(s.period, s.version, s.status) for s in first.appended] == [(p, 1, "draft") for p in ENDED]
    again = take_snapshots(con, snapshots.ended_periods(con), "run-2")
    assert again.appended == [] and again.unchanged == ENDED
    snap = history(con, "2026-01")[0]
    for kpi in ("revenue", "cogs", "net_income", "cash", "ar", "ap"):
        assert snap.kpis[kpi] == mart_kpi(con, "2026-01", kpi)
    pnl = {r["account_id"]: r["amount"] for r in snap.statements["pnl"]}
    assert pnl["4000"] == "7000.50" and pnl["5000"] == "1200.00"  # E04, E05: amounts travel as strings
    bs = {r["account_id"]: r["balance"] for r in snap.statements["balance_sheet"]}
    assert bs["1100"] == str(D("9000.00") + D("7000.50") - D("9000.00"))
    assert snap.checks == [] and snap.page_path == "history/2026-01/v1.html"
    assert take_snapshots(con, ["2024-01", "2027-01"], "run-3").appended == []  # not reported periods


def test_point_in_time_figures_and_warnings_never_make_a_version(con) -> None:
    take_snapshots(con, ENDED, "run-1")
    con.execute(
        "insert into crm_opportunities values ('O1', 'C1', 'Acme', 'proposal', 5000.00, 'USD', "
        "'2026-01-20', 0.5, 'ann', false, false)"
    )
    con.execute(
        "insert into crm_opportunities values ('O2', 'C1', 'Acme', 'won', 700.00, 'USD', "
        "'2026-01-21', 1, 'ann', true, true)"
    )
    rebuild(con)
    assert mart_kpi(con, "2026-01", "pipeline_open") == D("5000.00")
    assert mart_kpi(con, "2026-01", "bookings_won") == D("700.00")
    add_recon(con, "2026-01", "R5_bookings_vs_billings", "warn", "backlog")
    add_recon(con, "2026-01", "R6_completeness", "pass")
    assert take_snapshots(con, ENDED, "run-2").appended == []


def test_a_failing_error_check_makes_a_version_of_that_month_only(con) -> None:
    take_snapshots(con, ENDED, "run-1")
    add_recon(con, "2026-01", "R1_trial_balance", "fail", "entry X does not balance")
    result = take_snapshots(con, ENDED, "run-2")
    assert [(s.period, s.version, s.status) for s in result.appended] == [("2026-01", 2, "draft")]
    assert result.appended[0].failing_checks == ["R1_trial_balance"]


def test_close_refusals_and_the_recorded_override(con) -> None:
    take_snapshots(con, ENDED, "run-1")
    with pytest.raises(CloseRefused, match="not ended"):
        close(con, "2026-03", by="Ada", run_id="c1")
    with pytest.raises(CloseRefused, match="not a reported period"):
        close(con, "2025-06", by="Ada", run_id="c1")
    with pytest.raises(CloseRefused, match="name"):
        close(con, "2026-01", by="  ", run_id="c1")
    add_recon(con, "2026-01", "R1_trial_balance", "fail", "Σdebit ≠ Σcredit")
    with pytest.raises(CloseRefused, match="R1_trial_balance"):
        close(con, "2026-01", by="Ada", run_id="c1")
    assert [s.status for s in history(con, "2026-01")] == ["draft"]  # a refusal appends nothing
    closed = close(con, "2026-01", by="Ada", override_reason="auditor accepted the difference", run_id="c2")
    assert (closed.version, closed.status, closed.closed_by, closed.override_reason) == (
        3,
        "closed",
        "Ada",
        "auditor accepted the difference",
    )  # v2: the figures with the failing verdict
    assert closed.closed_at is not None and closed.failing_checks == ["R1_trial_balance"]
    with pytest.raises(CloseRefused, match="already closed"):
        close(con, "2026-01", by="Bob", run_id="c3")
    plain = close(con, "2026-02", by="Bob", run_id="c4")
    assert (plain.version, plain.status, plain.override_reason) == (2, "closed", None)
    assert plain.source_fingerprint == history(con, "2026-02")[0].source_fingerprint


def test_a_backdated_entry_restates_a_closed_month_with_exact_differences(con) -> None:
    take_snapshots(con, ENDED, "run-1")
    closed = close(con, "2026-01", by="Ada", run_id="c1")
    closed_row = raw_rows(con, "2026-01")[closed.version - 1]
    amount = D("333.33")
    post(con, "E99", "2026-01-31", [("6000", str(amount), "0"), ("2000", "0", str(amount))])
    rebuild(con)
    result = take_snapshots(con, ENDED, "run-2")
    by_period = {s.period: s for s in result.appended}
    assert set(by_period) == {"2026-01", "2026-02"}  # February's balances carry the entry too
    assert by_period["2026-02"].status == "draft"
    restated = by_period["2026-01"]
    assert (restated.version, restated.status) == (closed.version + 1, "restated")
    d = restated.differences
    assert d["kpis"]["opex"] == {
        "closed": str(closed.kpis["opex"]),
        "now": str(closed.kpis["opex"] + amount),
        "difference": str(amount),
    }
    assert D(d["kpis"]["net_income"]["difference"]) == -amount
    assert D(d["kpis"]["ap"]["difference"]) == amount
    assert "revenue" not in d["kpis"] and "cash" not in d["kpis"]
    assert {k: D(v["difference"]) for k, v in d["accounts"].items()} == {
        "6000": amount,
        "2000": amount,
        "_current_earnings": -amount,
    }
    assert raw_rows(con, "2026-01")[closed.version - 1] == closed_row  # the close stays on record
    again = close(con, "2026-01", by="Bob", run_id="c2")  # a restated month can be closed again
    assert again.status == "closed" and again.kpis["opex"] == closed.kpis["opex"] + amount


def reported(con, period: str) -> dict[str, tuple[D | None, str, int | None]]:
    rows = con.execute("select kpi, value, figures_from, version from reported_kpis where period = ?", [period])
    return {kpi: (value, source, version) for kpi, value, source, version in rows.fetchall()}


def test_reported_kpis_is_the_closed_snapshot_for_a_closed_month_and_the_mart_otherwise(con) -> None:
    """The closed-month rule, defined once as a view: a closed month reports its last closed
    version's KPIs (also after a restatement changes the mart), every other month the mart's."""

    def mart(period: str) -> dict[str, D | None]:
        return dict(con.execute("select kpi, value from mart_kpis where period = ?", [period]).fetchall())

    take_snapshots(con, ENDED, "run-1")
    for period in [*ENDED, "2026-03"]:  # nothing closed yet: the mart, figure for figure
        assert reported(con, period) == {k: (v, "warehouse", None) for k, v in mart(period).items()}
    closed = close(con, "2026-01", by="Ada", run_id="c1")
    amount = D("333.33")
    post(con, "E99", "2026-01-31", [("6000", str(amount), "0"), ("2000", "0", str(amount))])
    rebuild(con)
    take_snapshots(con, ENDED, "run-2")  # 2026-01 restated: the mart moves, the closed version stays
    assert mart("2026-01")["opex"] == closed.kpis["opex"] + amount
    assert reported(con, "2026-01") == {k: (v, "snapshot", closed.version) for k, v in closed.kpis.items()}
    for period in ("2025-12", "2026-02", "2026-03"):  # drafts, restated only as drafts, and the open month
        assert reported(con, period) == {k: (v, "warehouse", None) for k, v in mart(period).items()}
    again = close(con, "2026-01", by="Bob", run_id="c2")  # a new close is reported at once, no rebuild
    assert reported(con, "2026-01")["opex"] == (closed.kpis["opex"] + amount, "snapshot", again.version)


IMMUTABLE_STATEMENTS = [
    "update close_snapshots set closed_by = 'Mallory'",
    "update close_snapshots set kpis = '{}' where period = '2026-01'",
    "update close_snapshots set status = 'closed', closed_by = 'M', closed_at = now()",
    "update close_snapshots set version = version + 10",
    "delete from close_snapshots where period = '2026-01'",
    "delete from close_snapshots",
    "truncate close_snapshots",
    "drop table close_snapshots",
]


@pytest.mark.parametrize("statement", IMMUTABLE_STATEMENTS)
def test_the_database_refuses_to_change_or_remove_a_snapshot(con, statement: str) -> None:
    take_snapshots(con, ENDED, "run-1")
    close(con, "2026-01", by="Ada", run_id="c1")
    before = con.execute("select * from close_snapshots order by period, version").fetchall()
    with pytest.raises((duckdb.ConstraintException, duckdb.CatalogException)):
        con.execute(statement)
    assert con.execute("select * from close_snapshots order by period, version").fetchall() == before


def test_the_warehouse_layer_only_appends(con) -> None:
    take_snapshots(con, ENDED, "run-1")
    with pytest.raises(SnapshotImmutable):
        snapshots.update_snapshot(con, "2026-01", 1, status="closed")
    with pytest.raises(SnapshotImmutable):
        snapshots.delete_snapshot(con, "2026-01", 1)
    row = dict(
        zip(
            [d[0] for d in con.execute("select * from close_snapshots limit 0").description],
            raw_rows(con, "2026-01")[0],
            strict=True,
        )
    )
    row.pop("row_digest")
    with pytest.raises(SnapshotImmutable, match="next is v2"):  # writing v1 again is refused
        snapshots._append(con, {**row, "status": "closed", "closed_by": "M", "closed_at": row["taken_at"]})
    # a row that does not carry the digest of its own content is refused by the CHECK constraint
    with pytest.raises(duckdb.ConstraintException, match="CHECK"):
        con.execute(
            "insert into close_snapshots select * replace (2 as version, md5('forged') as row_digest) "
            "from close_snapshots where period = '2026-01'"
        )
    assert len(raw_rows(con, "2026-01")) == 1
    assert scalar(con, "select count(*) from close_snapshot_seals") == scalar(
        con, "select count(*) from close_snapshots"
    )


money = st.decimals(min_value=D("-99999999.99"), max_value=D("99999999.99"), places=2)


@settings(deadline=None, max_examples=50, derandomize=True, database=None)
@given(
    closed=st.dictionaries(st.sampled_from(["revenue", "opex", "cash", "pipeline_open"]), money | st.none()),
    now=st.dictionaries(st.sampled_from(["revenue", "opex", "cash", "pipeline_open"]), money | st.none()),
    accounts=st.dictionaries(st.sampled_from(["1000", "4000", "6000"]), st.tuples(money, money)),
)
def test_differences_are_exact_and_list_only_what_changed(closed, now, accounts) -> None:
    def snap(kpis, side):
        return snapshots.Snapshot(
            "2026-01",
            1,
            "r",
            None,
            "closed",
            kpis,
            {
                "pnl": [{"account_id": a, "amount": str(v[side])} for a, v in accounts.items() if a != "1000"],
                "balance_sheet": [
                    {"account_id": a, "balance": str(v[side])} for a, v in accounts.items() if a == "1000"
                ],
            },
            [],
            "f",
        )

    diff = snapshots.differences(snap(closed, 0), now, snap(now, 1).statements)
    assert "pipeline_open" not in diff["kpis"]
    for kpi in set(closed) | set(now) - {"pipeline_open"}:
        if kpi == "pipeline_open":
            continue
        before, after = closed.get(kpi), now.get(kpi)
        if before == after:
            assert kpi not in diff["kpis"]
        else:
            change = diff["kpis"][kpi]
            if before is not None and after is not None:
                assert D(change["closed"]) + D(change["difference"]) == D(change["now"]) == after
            else:
                assert change["difference"] is None
    for account, (before, after) in accounts.items():
        assert (account in diff["accounts"]) == (before != after)
        if before != after:
            assert D(diff["accounts"][account]["difference"]) == after - before
    json.dumps(diff)  # strings and nulls only: it travels as JSON text
