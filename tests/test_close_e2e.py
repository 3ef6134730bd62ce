"""The monthly close end to end, on private copies of the session's demo home, in this process (the
jobs on the home's Dagster instance with the bundled servers in memory; `closeboard close` and
`closeboard history` through the CLI's own commands): snapshot history from the refresh and from a
backfill, sign-off, a restatement after a backdated journal entry at the ERP server, the refusal
while an ERROR check fails and the recorded override, the archived pages, the history page and
`closeboard history`.

Every expected figure is derived from the warehouse or from the journal lines the test appends."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from connectors.config import load_config
from pipelines.close import close_run_config
from reports import history, render
from tests.conftest import (
    ACCRUAL,
    EXPENSE,
    AS_OF,
    FIRST_PERIOD,
    append_journal,
    cli_in_process,
    close_in_process,
    copy_home,
    read,
    run_in_process,
    step_errors,
)

OPEN = AS_OF.strftime("%Y-%m")
ENDED = [f"{y:04d}-{m:02d}" for y, m in ((2024 + (5 + i) // 12, (5 + i) % 12 + 1) for i in range(24))]
RESTATED = "2026-04"  # closed, then a balanced backdated entry lands in it
BROKEN = "2026-05"  # an unbalanced entry lands in it: R1 (ERROR) fails
AMOUNT = Decimal("1234.56")
SIGNER, OVERRIDER = "Ada Lovelace", "Grace Hopper"
REASON = "JE-TEST-2 is a known ERP import glitch; reversed in June"


def snapshot_rows(home: Path, period: str | None = None) -> list[tuple]:
    where = "where period = ?" if period else ""
    return read(home, f"select * from close_snapshots {where} order by period, version", [period] if period else [])


def versions(home: Path) -> list[tuple[str, int, str]]:
    return [
        tuple(r) for r in read(home, "select period, version, status from close_snapshots order by period, version")
    ]


def archived_data(page: Path) -> dict:
    """The data a rendered page embeds (<script type="application/json" id="cb-data">)."""
    html = page.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="cb-data">(.*?)</script>', html, re.S).group(1))


def archived_kpis(data: dict, period: str) -> dict[str, Decimal | None]:
    kpis = data["datasets"][data["meta"]["kpi_query"]]
    records = (dict(zip(kpis["columns"], row, strict=True)) for row in kpis["rows"])
    return {r["kpi"]: None if r["value"] is None else Decimal(r["value"]) for r in records if r["period"] == period}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


OLD_STEP_KEY = dg.AssetKey("close_snapshots")  # the refresh's snapshot step before issue 15, item 7


def record_pre_rename_step(home: Path) -> None:
    """A materialization of the refresh's snapshot step under its old asset key (`close_snapshots`, the
    warehouse table's name), as a Dagster home made before the rename has in its instance."""
    from pipelines.instance import instance
    from warehouse.home import Home

    with instance(Home(home)) as dagster:
        dagster.report_runless_asset_event(dg.AssetMaterialization(OLD_STEP_KEY, description="before the rename"))


@dataclass
class Flow:
    home: Path
    before: list[tuple[str, int, str]] = field(default_factory=list)
    closed_row: tuple = ()
    closed_page: str = ""
    v1_page: str = ""
    refused_open: subprocess.CompletedProcess[str] | None = None
    refused_failing: list[tuple[str, str]] = field(default_factory=list)  # the failed close's step errors
    overridden: subprocess.CompletedProcess[str] | None = None
    history_text: str = ""
    page_data_computed: int = 0  # times the backdated refresh computed the page's data


@pytest.fixture(scope="module")
def flow(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Flow:
    """One copied home through the whole month-end: close, backdated entries, refresh, refusals."""
    home = copy_home(demo_home, tmp_path_factory.mktemp("close") / "home")
    result = Flow(home, before=versions(home))
    record_pre_rename_step(home)  # a home from before the refresh's step was renamed: nothing reads it
    close_in_process(home, RESTATED, SIGNER)
    result.closed_row = snapshot_rows(home, RESTATED)[-1]
    reports = home / "reports"
    result.v1_page = sha(reports / "history" / RESTATED / "v1.html")
    result.closed_page = sha(reports / "history" / RESTATED / "v2.html")
    result.refused_open = cli_in_process("close", OPEN, "--by", SIGNER, home=home, check=False)
    append_journal(home, "JE-TEST-1", f"{RESTATED}-20", [(EXPENSE, AMOUNT, Decimal(0)), (ACCRUAL, Decimal(0), AMOUNT)])
    append_journal(
        home,
        "JE-TEST-2",
        f"{BROKEN}-12",
        [(EXPENSE, Decimal("10.00"), Decimal(0)), (ACCRUAL, Decimal(0), Decimal("9.00"))],
    )
    computed: list[int] = []
    with pytest.MonkeyPatch.context() as patch:  # count the page data computations of the refresh
        compute = render.page_data
        for module in (render, history):
            patch.setattr(module, "page_data", lambda *a, **k: computed.append(1) or compute(*a, **k))
        refreshed = run_in_process(home, home_instance=True)  # on the home's instance, as `closeboard refresh`
    assert refreshed.success, step_errors(refreshed)
    result.page_data_computed = len(computed)
    refused = run_in_process(
        home, "close_period", run_config=close_run_config(BROKEN, OVERRIDER, None), home_instance=True
    )
    assert not refused.success
    result.refused_failing = step_errors(refused)
    result.overridden = cli_in_process("close", BROKEN, "--by", OVERRIDER, "--override", REASON, home=home, check=False)
    result.history_text = cli_in_process("history", home=home).stdout
    return result


def test_the_refresh_keeps_one_draft_per_ended_month_and_none_for_the_open_one(flow: Flow) -> None:
    assert flow.before == [(p, 1, "draft") for p in ENDED]
    assert ENDED[0] == FIRST_PERIOD and ENDED[-1] < OPEN
    for period in ENDED:
        assert (flow.home / "reports" / "history" / period / "v1.html").exists()


def test_close_appends_a_signed_off_version_and_refuses_an_open_month(flow: Flow) -> None:
    period, version, _, taken_at, status, *_ = flow.closed_row
    columns = [
        d
        for (d,) in read(
            flow.home,
            "select column_name from information_schema.columns "
            "where table_name = 'close_snapshots' order by ordinal_position",
        )
    ]
    row = dict(zip(columns, flow.closed_row, strict=True))
    assert (row["period"], row["version"], row["status"], row["closed_by"]) == (RESTATED, 2, "closed", SIGNER)
    assert row["override_reason"] is None and row["closed_at"] is not None
    draft = dict(zip(columns, snapshot_rows(flow.home, RESTATED)[0], strict=True))
    for same in ("kpis", "statements", "checks", "source_fingerprint"):
        assert row[same] == draft[same]
    assert flow.refused_open.returncode == 1  # the CLI's own close command
    assert f"{OPEN} has not ended" in flow.refused_open.stderr


def test_a_backdated_entry_restates_the_closed_month_with_the_exact_difference(flow: Flow) -> None:
    rows = snapshot_rows(flow.home, RESTATED)
    assert [r[4] for r in rows] == ["draft", "closed", "restated"]
    assert rows[1] == flow.closed_row  # the original close stays on record, unchanged
    columns = [
        d
        for (d,) in read(
            flow.home,
            "select column_name from information_schema.columns "
            "where table_name = 'close_snapshots' order by ordinal_position",
        )
    ]
    closed, restated = dict(zip(columns, rows[1], strict=True)), dict(zip(columns, rows[2], strict=True))
    kpis_closed = {k: Decimal(v) if v is not None else None for k, v in json.loads(closed["kpis"]).items()}
    # what the appended lines must change: opex and net income by the amount; DPO through its divisor
    opex = kpis_closed["opex"] + AMOUNT
    days = Decimal(30)
    dpo = (kpis_closed["ap"] / (kpis_closed["cogs"] + opex) * days).quantize(Decimal("0.01"), ROUND_HALF_UP)
    expected_kpis = {
        "opex": (kpis_closed["opex"], opex),
        "net_income": (kpis_closed["net_income"], kpis_closed["net_income"] - AMOUNT),
    }
    if dpo != kpis_closed["dpo"]:
        expected_kpis["dpo"] = (kpis_closed["dpo"], dpo)
    differences = json.loads(restated["differences"])
    assert differences["kpis"] == {
        k: {"closed": str(a), "now": str(b), "difference": str(b - a)} for k, (a, b) in expected_kpis.items()
    }
    account_changes = {k: Decimal(v["difference"]) for k, v in differences["accounts"].items()}
    assert account_changes == {EXPENSE: AMOUNT, ACCRUAL: AMOUNT, "_current_earnings": -AMOUNT}
    now = {r[0]: r[1] for r in read(flow.home, "select kpi, value from mart_kpis where period = ?", [RESTATED])}
    assert now["opex"] == opex and now["net_income"] == kpis_closed["net_income"] - AMOUNT
    # the months before the restated one did not change, so the refresh added no version to them
    untouched = [p for p in ENDED if p < RESTATED]
    assert [v for v in versions(flow.home) if v[0] in untouched] == [(p, 1, "draft") for p in untouched]
    pages = flow.home / "reports" / "history" / RESTATED
    assert sha(pages / "v1.html") == flow.v1_page and sha(pages / "v2.html") == flow.closed_page
    # each archive embeds its own version's figures for the month (v3's, not the closed v2's that
    # latest.html shows for a closed month)
    for version, row in ((2, closed), (3, restated)):
        data = archived_data(pages / f"v{version}.html")
        assert data["meta"]["default_period"] == RESTATED and data["meta"]["archived"]["version"] == version
        assert archived_kpis(data, RESTATED)["opex"] == Decimal(json.loads(row["kpis"])["opex"])
    assert archived_kpis(archived_data(flow.home / "reports" / "latest.html"), RESTATED)["opex"] == kpis_closed["opex"]
    # the versions archived by the refresh start from the page's own data: computed once, not again for them
    assert flow.page_data_computed == 1


def test_close_is_refused_while_an_error_check_fails_and_the_override_is_recorded(flow: Flow) -> None:
    failing = read(flow.home, "select check_id from recon_results where period = ? and status = 'fail'", [BROKEN])
    assert ("R1_trial_balance",) in failing
    ((step, message),) = flow.refused_failing
    assert step == "sign_off" and "R1_trial_balance" in message and "--override" in message
    assert flow.overridden.returncode == 0, flow.overridden.stderr
    latest = read(
        flow.home,
        "select status, closed_by, override_reason, closed_at, checks from close_snapshots "
        "where period = ? order by version desc limit 1",
        [BROKEN],
    )[0]
    assert latest[:3] == ("closed", OVERRIDER, REASON) and latest[3] is not None
    assert any(c["check_id"] == "R1_trial_balance" and c["status"] == "fail" for c in json.loads(latest[4]))


def test_history_page_and_command_show_sign_off_overrides_and_differences(flow: Flow) -> None:
    page = (flow.home / "reports" / "history.html").read_text(encoding="utf-8")
    assert f'id="period-{RESTATED}" data-period="{RESTATED}" data-state="restated since close"' in page
    assert f'href="history/{RESTATED}/v3.html"' in page and SIGNER in page
    assert REASON in page and f'data-key="{EXPENSE}"' in page
    status = json.loads((flow.home / "reports" / "status.json").read_text())["snapshot_versions"]
    assert status[RESTATED] == {"version": 3, "status": "restated", "closed_version": 2}
    assert status[BROKEN]["status"] == "closed" and OPEN not in status
    text = flow.history_text
    assert f"{RESTATED} restated since close" in text and f"{BROKEN} closed" in text
    assert SIGNER in text and f"override: {REASON}" in text
    assert f"Δ account {EXPENSE}" in text and f"(difference {AMOUNT})" in text


def test_backfill_of_a_history_less_warehouse_takes_every_ended_month_once(demo_home: Path, tmp_path: Path) -> None:
    """A warehouse from before the close history existed: one backfill run takes the 24 drafts, a
    second identical run adds none. Runs the `backfill_history` job in this process."""
    from pipelines.runner import backfill_tags, definitions_for
    from warehouse.home import Home

    home = copy_home(demo_home, tmp_path / "home")
    shutil.rmtree(home / "reports" / "history")
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("drop table close_snapshot_seals")  # the seals go first: nothing else can remove a snapshot
    con.execute("drop table close_snapshots")
    con.close()
    config = load_config(home / "closeboard.yaml")
    defs = definitions_for(Home(home), config=home / "closeboard.yaml")  # no source is read
    tags = backfill_tags(config)
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        ENDED[0],
        ENDED[-1],
    )
    job = defs.resolve_job_def("backfill_history")
    with dg.DagsterInstance.ephemeral() as instance:
        first = job.execute_in_process(instance=instance, tags=tags)
        assert first.success
        assert versions(home) == [(p, 1, "draft") for p in ENDED]
        second = job.execute_in_process(instance=instance, tags=tags)
        assert second.success
    assert versions(home) == [(p, 1, "draft") for p in ENDED]
    assert all((home / "reports" / "history" / p / "v1.html").exists() for p in ENDED)
    assert (home / "reports" / "history.html").exists()
    assert date.fromisoformat(str(read(home, "select as_of from run_context")[0][0])) == AS_OF


def test_the_dagster_instance_shows_every_month_of_the_history_as_a_close_snapshot_partition(flow: Flow) -> None:
    """The refresh's and the sign-off's versions are materializations of the month's `close_snapshot`
    partition: the partitions view shows every ended month, the latest event each month's state. The
    home's instance still holds a materialization of the step's old key (`close_snapshots`): the
    refresh, the sign-offs and `closeboard history` above ran beside it; the step reports under its
    new key what it appended."""
    from pipelines.close import HISTORY_KEY, REFRESH_STEP_KEY
    from pipelines.instance import instance
    from warehouse.home import Home

    latest = {p: (v, s) for p, v, s in versions(flow.home)}  # the last version of each month wins
    with instance(Home.resolve(str(flow.home))) as dagster:
        assert set(ENDED) <= dagster.get_materialized_partitions(HISTORY_KEY)
        shown = {}
        for period in (RESTATED, BROKEN, ENDED[0]):
            records = dagster.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=HISTORY_KEY, asset_partitions=[period]), limit=1
            ).records
            event = records[0].asset_materialization
            shown[period] = (event.metadata["version"].value, event.metadata["status"].value)
            if period == RESTATED:
                assert "differences" in event.metadata  # the restatement says what changed
                assert event.metadata["closed_by"].value == ""
            if period == BROKEN:
                assert event.metadata["override_reason"].value == REASON
        assert shown == {p: latest[p] for p in shown}
        step = dagster.fetch_materializations(REFRESH_STEP_KEY, limit=1).records[0].asset_materialization
        assert f"- {RESTATED} v3 restated" in step.metadata["appended"].value.splitlines()
        old = dagster.fetch_materializations(OLD_STEP_KEY, limit=5).records
        assert [r.asset_materialization.description for r in old] == ["before the rename"]
