"""Crashes at the moments that used to lose or corrupt the close history (issue 16), on a private
home made from the session's demo data (three runs read the sources: two killed with SIGKILL by the
CLOSEBOARD_CRASH_AT hook, the CLI as a subprocess with stdio servers; the third in this process):

- the first refresh dies right after the snapshot versions are committed (`snapshot_committed`);
- a month is signed off by a "run" that dies after its commit (done in process: no page);
- backdated entries restate that month and make a new draft of another; the refresh dies right
  after latest.html is rendered, before the archive (`page_rendered`); the draft month changes again;
- a plain refresh: every version has its archived page, each showing that version's own figures
  (the restated figures, not the closed ones latest.html shows; a superseded draft its own, not the
  warehouse's), history.html links no missing page, and both killed runs are marked failed in the
  Dagster instance, so nothing holds the `closeboard/warehouse` queue.
- in process: the dead-run sweep fails the runs of dead (or zombie, or recycled-pid) processes and
  leaves live ones, daemon-launched ones and other hosts' alone; `closeboard ui`'s preparation of
  the Dagster home sweeps too.

Every expected figure is read from close_snapshots; the figure shown is read from the archived HTML
(the pre-rendered tile and the embedded page data)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.jobs import WAREHOUSE_TAG
from pipelines.instance import PROCESS_TAG, ensure_dagster_home, fail_dead_runs, instance, process_tag
from pipelines.publishing import CRASH_ENV
from pipelines.resources import SourcesResource
from pipelines.runner import execute
from tests.conftest import ACCRUAL, EXPENSE, AS_OF, append_journal, closeboard, copy_demo, live_rows
from warehouse.home import Home

CLOSED_THEN_RESTATED = "2026-04"  # closed, then a backdated entry restates it
DRAFT = "2026-03"  # never closed: the entries make v2, then v3, drafts
AMOUNT, AGAIN = Decimal("1234.56"), Decimal("10000.00")
DATA = re.compile(r'<script type="application/json" id="cb-data">(.*?)</script>', re.S)
slow = pytest.mark.slow  # the crash story: CLI runs killed with SIGKILL (the dead-run sweep below is quick)


# --- helpers ---------------------------------------------------------------------------------------


def snapshots(home: Path) -> dict[tuple[str, int], dict]:
    """(period, version) -> {status, kpis (Decimal or None), page_path}."""
    rows = live_rows(home, "select period, version, status, kpis, page_path from close_snapshots")
    return {
        (p, v): {
            "status": s,
            "page_path": path,
            "kpis": {k: None if x is None else Decimal(x) for k, x in json.loads(kpis).items()},
        }
        for p, v, s, kpis, path in rows
    }


def _data(html: str) -> dict:
    return json.loads(DATA.search(html).group(1))


def _figures(data: dict, period: str) -> dict[str, Decimal | None]:
    kpis = data["datasets"][data["meta"]["kpi_query"]]
    records = (dict(zip(kpis["columns"], row, strict=True)) for row in kpis["rows"])
    return {r["kpi"]: None if r["value"] is None else Decimal(r["value"]) for r in records if r["period"] == period}


def page_figures(page: Path, period: str) -> dict[str, Decimal | None]:
    """The key figures a page embeds for `period`."""
    return _figures(_data(page.read_text(encoding="utf-8")), period)


def shown(page: Path) -> tuple[dict, dict[str, Decimal | None], dict[str, str]]:
    """An archived page's meta, the key figures it embeds for its own period, and the values its
    pre-rendered tiles carry."""
    html = page.read_text(encoding="utf-8")
    data = _data(html)
    tiles = dict(re.findall(r'<div class="tile" data-kpi="([^"]+)" data-value="([^"]*)"', html))
    return data["meta"], _figures(data, data["meta"]["default_period"]), tiles


def assert_page_shows_its_version(home: Path, period: str, version: int, snap: dict) -> dict:
    page = home / "reports" / snap["page_path"]
    assert page.exists(), f"{period} v{version} has no archived page"
    meta, figures, tiles = shown(page)
    assert (meta["default_period"], meta["archived"]["period"], meta["archived"]["version"]) == (
        period,
        period,
        version,
    )
    assert meta["history_href"] == "../../history.html"
    for kpi, value in snap["kpis"].items():
        assert figures.get(kpi) == value, (
            f"{period} v{version}: {kpi} shows {figures.get(kpi)}, the version has {value}"
        )
        if kpi in tiles:
            assert (Decimal(tiles[kpi]) if tiles[kpi] else None) == value, f"{period} v{version}: tile {kpi}"
    return meta


def accrue(home: Path, entry_id: str, day: str, amount: Decimal) -> None:
    """A balanced backdated entry at the demo ERP server: expense debited, accrual credited."""
    append_journal(home, entry_id, day, [(EXPENSE, amount, Decimal(0)), (ACCRUAL, Decimal(0), amount)])


def killed(*args: str, home: Path, at: str) -> None:
    proc = closeboard(*args, home=home, env={CRASH_ENV: at}, check=False)
    assert proc.returncode == -signal.SIGKILL, f"not killed at {at} ({proc.returncode}):\n{proc.stderr[-2000:]}"


def runs(home: Path) -> list[dg.DagsterRun]:
    """Every run of the home's Dagster instance, oldest first."""
    with instance(Home.resolve(str(home))) as dagster_instance:
        return list(reversed(dagster_instance.get_runs()))


def busy_writers(home: Path) -> list[str]:
    """Runs counted against the `closeboard/warehouse` limit (what keeps queued runs QUEUED)."""
    key, value = next(iter(WAREHOUSE_TAG.items()))
    with instance(Home.resolve(str(home))) as dagster_instance:
        return [
            r.run_id
            for r in dagster_instance.get_runs(
                filters=dg.RunsFilter(
                    statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING],
                    tags={key: value},
                )
            )
        ]


# --- the crash story, one home -----------------------------------------------------------------------


@dataclass
class Story:
    home: Path
    after_first_kill: dict = field(default_factory=dict)
    first_killed_run: dg.DagsterRun | None = None
    busy_after_first_kill: list[str] = field(default_factory=list)
    after_second_kill: dict = field(default_factory=dict)
    pages_after_second_kill: set[str] = field(default_factory=set)
    runs_after_second_kill: list[dg.DagsterRun] = field(default_factory=list)
    final: dict = field(default_factory=dict)
    final_runs: list[dg.DagsterRun] = field(default_factory=list)
    busy_at_the_end: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def story(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Story:
    """Three runs that read the sources (the first two killed), one sign-off in process."""
    from warehouse.snapshots import close

    home = tmp_path_factory.mktemp("crash") / "home"
    copy_demo(demo_data, home)
    result = Story(home)
    # 1. the first refresh dies right after committing the 24 drafts
    killed("demo", "--as-of", AS_OF.isoformat(), home=home, at="snapshot_committed")
    result.after_first_kill = snapshots(home)
    result.first_killed_run = runs(home)[-1]
    result.busy_after_first_kill = busy_writers(home)
    # 2. a month is signed off by a run that dies after its commit (done here, in process: the
    #    closed version has no page either)
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        close(con, CLOSED_THEN_RESTATED, by="Ada Lovelace", run_id="close-run-that-died")
    finally:
        con.close()
    # 3. backdated entries restate the closed month and make a new draft of another; the refresh
    #    dies after rendering latest.html, before archiving
    accrue(home, "JE-CRASH-1", f"{CLOSED_THEN_RESTATED}-20", AMOUNT)
    accrue(home, "JE-CRASH-2", f"{DRAFT}-18", AMOUNT)
    killed("refresh", home=home, at="page_rendered")
    result.after_second_kill = snapshots(home)
    result.pages_after_second_kill = {str(p.relative_to(home / "reports")) for p in (home / "reports").rglob("v*.html")}
    result.runs_after_second_kill = runs(home)
    # 4. the draft month changes again before anyone repairs anything; then a plain refresh, as the
    #    CLI runs it (on the home's instance, sweeping dead runs first), in this process with the
    #    bundled servers in memory: only the killed runs need processes of their own
    accrue(home, "JE-CRASH-3", f"{DRAFT}-19", AGAIN)
    outcome = execute("refresh", Home(home), config=home / "closeboard.yaml", sources=SourcesResource(in_memory=True))
    assert outcome.success, outcome.errors
    result.final = snapshots(home)
    result.final_runs = runs(home)
    result.busy_at_the_end = busy_writers(home)
    return result


@slow
def test_kills_left_committed_versions_without_pages_and_runs_holding_the_queue(story: Story) -> None:
    assert sorted(story.after_first_kill) == sorted((p, 1) for p, _ in story.after_first_kill)
    assert len(story.after_first_kill) == 24
    assert story.first_killed_run.status == dg.DagsterRunStatus.STARTED
    assert story.busy_after_first_kill == [story.first_killed_run.run_id]  # it held the writer queue
    second = story.after_second_kill
    assert (second[(CLOSED_THEN_RESTATED, 2)]["status"], second[(CLOSED_THEN_RESTATED, 3)]["status"]) == (
        "closed",
        "restated",
    )
    assert (DRAFT, 2) in second and (DRAFT, 3) not in second
    assert len(second) > len(story.after_first_kill) + 3
    assert story.pages_after_second_kill == set()  # both runs died before archiving anything


@slow
def test_the_next_run_marks_a_killed_in_process_run_failed(story: Story) -> None:
    status = {r.run_id: r.status for r in story.runs_after_second_kill}
    assert status[story.first_killed_run.run_id] == dg.DagsterRunStatus.FAILURE
    assert story.runs_after_second_kill[-1].status == dg.DagsterRunStatus.STARTED  # the second, killed run
    final = {r.run_id: r for r in story.final_runs}
    assert final[story.runs_after_second_kill[-1].run_id].status == dg.DagsterRunStatus.FAILURE
    assert story.final_runs[-1].status == dg.DagsterRunStatus.SUCCESS
    assert story.busy_at_the_end == []  # nothing counts against the closeboard/warehouse limit any more
    dead = final[story.first_killed_run.run_id]
    assert PROCESS_TAG in dead.tags
    with instance(Home.resolve(str(story.home))) as dagster_instance:
        failures = [
            e.message
            for e in dagster_instance.all_logs(dead.run_id)
            if e.dagster_event is not None and e.dagster_event.is_run_failure
        ]
    assert failures and "is gone" in failures[-1]


@slow
def test_after_the_kills_a_refresh_archives_every_version_with_its_own_figures(story: Story) -> None:
    # the entries also move the balances of the months after theirs: those get versions too
    assert {(DRAFT, 3), (CLOSED_THEN_RESTATED, 3)} <= set(story.final) and len(story.final) > 24 + 4
    for (period, version), snap in sorted(story.final.items()):
        assert_page_shows_its_version(story.home, period, version, snap)
    history = (story.home / "reports" / "history.html").read_text(encoding="utf-8")
    links = re.findall(r'href="(history/[^"]+)"', history)  # each version's page, and what is archived beside it
    assert len([link for link in links if re.fullmatch(r"history/[^/]+/v\d+\.html", link)]) == len(story.final)
    for link in links:
        assert (story.home / "reports" / link).exists(), f"history.html links a missing page: {link}"


@slow
def test_a_restated_version_archives_the_restated_figures(story: Story) -> None:
    snaps = story.final
    closed, restated = snaps[(CLOSED_THEN_RESTATED, 2)], snaps[(CLOSED_THEN_RESTATED, 3)]
    assert restated["kpis"]["opex"] == closed["kpis"]["opex"] + AMOUNT
    meta = assert_page_shows_its_version(story.home, CLOSED_THEN_RESTATED, 3, restated)
    # repaired after JE-CRASH-3 (in the month before) moved this month's balances again: v4 followed
    assert meta["archived"]["status"] == "restated" and meta["archived"]["warehouse_matches"] is False
    assert snaps[(CLOSED_THEN_RESTATED, 4)]["status"] == "restated"
    # latest.html shows a closed month's closed figures (DESIGN): a copy of it would show v2's
    assert page_figures(story.home / "reports" / "latest.html", CLOSED_THEN_RESTATED)["opex"] == closed["kpis"]["opex"]
    assert_page_shows_its_version(story.home, CLOSED_THEN_RESTATED, 2, closed)


@slow
def test_each_draft_shows_its_own_figures_whether_archived_late_or_by_its_own_run(story: Story) -> None:
    snaps = story.final
    v1, v2, v3 = (snaps[(DRAFT, n)] for n in (1, 2, 3))
    assert [v["status"] for v in (v1, v2, v3)] == ["draft"] * 3
    assert (v2["kpis"]["opex"], v3["kpis"]["opex"]) == (
        v1["kpis"]["opex"] + AMOUNT,
        v1["kpis"]["opex"] + AMOUNT + AGAIN,
    )
    # v2 was left without a page by the killed run and repaired after the ledger moved on
    assert v2["page_path"] not in story.pages_after_second_kill
    assert assert_page_shows_its_version(story.home, DRAFT, 2, v2)["archived"]["warehouse_matches"] is False
    # v3 was appended by the last refresh, whose previous latest.html showed v2's figures
    assert assert_page_shows_its_version(story.home, DRAFT, 3, v3)["archived"]["warehouse_matches"] is True
    assert page_figures(story.home / "reports" / "latest.html", DRAFT)["opex"] == v3["kpis"]["opex"]
    assert_page_shows_its_version(story.home, DRAFT, 1, v1)


# --- the dead-run sweep, in process --------------------------------------------------------------------


def _started_run(dagster_instance: dg.DagsterInstance, tags: dict[str, str]) -> str:
    run = dg.DagsterRun(job_name="refresh", status=dg.DagsterRunStatus.STARTED, tags={**WAREHOUSE_TAG, **tags})
    dagster_instance.add_run(run)
    return run.run_id


def test_runs_of_dead_processes_are_marked_failed_and_live_ones_left_alone(tmp_path: Path) -> None:
    home = Home.resolve(str(tmp_path / "home"))
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60, check=True
    )
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: its pid still answers
    try:
        with instance(home) as dagster_instance:
            dead_id = _started_run(dagster_instance, process_tag(int(gone.stdout)))
            zombie_id = _started_run(dagster_instance, process_tag(zombie.pid))
            # a pid taken for the dead process by another one later: its start time tells them apart
            recycled = process_tag(alive.pid)
            host, pid, _ = recycled[PROCESS_TAG].split("|")
            recycled_id = _started_run(dagster_instance, {PROCESS_TAG: f"{host}|{pid}|1"})
            live_id = _started_run(dagster_instance, process_tag(alive.pid))
            mine_id = _started_run(dagster_instance, process_tag())
            daemon_id = _started_run(dagster_instance, {})  # launched by the daemon: not ours to judge
            other_host_id = _started_run(dagster_instance, {PROCESS_TAG: f"elsewhere.example|{gone.stdout.strip()}|1"})
            assert sorted(fail_dead_runs(dagster_instance)) == sorted([dead_id, zombie_id, recycled_id])
            status = {
                i: dagster_instance.get_run_by_id(i).status
                for i in (dead_id, zombie_id, recycled_id, live_id, mine_id, daemon_id, other_host_id)
            }
        assert status == {
            dead_id: dg.DagsterRunStatus.FAILURE,
            recycled_id: dg.DagsterRunStatus.FAILURE,
            zombie_id: dg.DagsterRunStatus.FAILURE,
            live_id: dg.DagsterRunStatus.STARTED,
            mine_id: dg.DagsterRunStatus.STARTED,
            daemon_id: dg.DagsterRunStatus.STARTED,
            other_host_id: dg.DagsterRunStatus.STARTED,
        }
    finally:
        alive.kill()
        alive.wait(timeout=30)
        zombie.wait(timeout=30)


def test_closeboard_ui_home_preparation_fails_the_dead_runs_first(tmp_path: Path) -> None:
    home = Home.resolve(str(tmp_path / "home"))
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60, check=True
    )
    with instance(home) as dagster_instance:
        dead_id = _started_run(dagster_instance, process_tag(int(gone.stdout)))
    ensure_dagster_home(home)  # what `closeboard ui` calls before `dagster dev`
    with instance(home) as dagster_instance:
        assert dagster_instance.get_run_by_id(dead_id).status == dg.DagsterRunStatus.FAILURE


def test_the_dead_run_sensor_sweeps_while_the_daemon_runs(tmp_path: Path) -> None:
    """`fail_dead_cli_runs` (pipelines.schedules) does the same sweep from the daemon."""
    from pipelines.schedules import dead_runs_sensor

    home = Home.resolve(str(tmp_path / "home"))
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60, check=True
    )
    sensor = dead_runs_sensor
    with instance(home) as dagster_instance:
        dead_id = _started_run(dagster_instance, process_tag(int(gone.stdout)))
        result = sensor.evaluate_tick(dg.build_sensor_context(instance=dagster_instance))
        assert dead_id in (result.skip_message or "")
        assert dagster_instance.get_run_by_id(dead_id).status == dg.DagsterRunStatus.FAILURE
