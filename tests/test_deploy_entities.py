"""Entities on the production deployment (issue 22): a group's closeboard.yaml (`entities:`, the instance on
a real PostgreSQL), the code location as its own gRPC server, the webserver and the daemon as separate
processes (tests/deployment.py's `group_deployment`: one deployment for the whole module, so its four
tests pay for one PostgreSQL, three Dagster processes and each entity's first refresh once). Runs are
launched through the webserver's GraphQL API with the partition's tags the code location gives (what the
UI's launchpad does): three entities run side by side and all succeed while a second launch of one of
them waits for the first; an entity's served page reloads through its partitioned refresh; a backfill of
one entity's close history launched as the UI's asset page launches it runs one writer at a time; a
refresh killed with SIGKILL leaves its entity's warehouse and page as they were while another entity's
refresh succeeds."""

from __future__ import annotations

import os
import signal
import sys

import pytest
import yaml
from dagster import DagsterRunStatus
from starlette.testclient import TestClient

from connectors.periods import shift
from pipelines.entities import entity_run_tags, history_partition_key
from pipelines.instance import ENTITY_CONCURRENCY
from reports.server import create_app
from tests.conftest import FIRST_PERIOD, live_rows, read
from tests.deployment import (  # noqa: F401 (the fixtures)
    ENTITIES,
    GroupDeployment,
    entity_home,
    group_deployment,
    overlap,
    page_written_by,
    postgres,
    published,
    run_pid,
    run_window,
)
from tests.reports.test_server_app import token_of


@pytest.mark.slow
def test_three_entities_run_side_by_side_and_one_entity_never_has_two_writers(
    group_deployment: GroupDeployment,  # noqa: F811 (the fixture)
) -> None:
    """One launch per entity and a second one of beta, all at once: the three entities run side by side,
    beta's second run is queued behind its first by the per-entity limit (not held by the lock)."""
    deployment = group_deployment
    written = yaml.safe_load((deployment.home / "dagster" / "dagster.yaml").read_text(encoding="utf-8"))
    assert written["concurrency"] == ENTITY_CONCURRENCY and "postgres" in written["storage"]
    runs = {e.id: deployment.launch_entity(e.id) for e in ENTITIES}
    again = deployment.launch_entity("beta")
    for run_id in (*runs.values(), again):
        assert deployment.wait(run_id) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(run_id)[-20:])
    with deployment.instance() as dagster_instance:
        windows = {e: run_window(dagster_instance, r) for e, r in runs.items()}
        betas = [run_window(dagster_instance, r) for r in (runs["beta"], again)]
        stored = {r.run_id: r for r in dagster_instance.get_runs()}
        pages = {r: page_written_by(dagster_instance, r) for r in (*runs.values(), again)}
    assert max(start for start, _ in windows.values()) < min(end for _, end in windows.values()), (
        f"the three entities did not run side by side: {windows}"
    )
    for entity, run_id in (*runs.items(), ("beta", again)):
        assert stored[run_id].tags["closeboard/warehouse"] == entity
        assert stored[run_id].tags["dagster/partition"] == entity
        # each run wrote its own entity's home, nobody else's
        assert pages[run_id] == entity_home(deployment, entity) / "reports" / "latest.html"
    for entity in ("alpha", "gamma"):
        status = yaml.safe_load((entity_home(deployment, entity) / "reports" / "status.json").read_text())
        assert status["run_id"] == runs[entity]
    status = yaml.safe_load((entity_home(deployment, "beta") / "reports" / "status.json").read_text())
    assert status["run_id"] == again  # beta's last writer, queued behind its first
    assert (deployment.home / "reports" / "portfolio.html").exists()
    assert not overlap(betas), f"two writers of one entity overlapped: {betas}"
    for run_id in (runs["beta"], again):
        text = "\n".join(deployment.messages(run_id)).lower()
        assert (
            "warehouse busy" not in text and "waiting for the warehouse" not in text
        )  # the queue held it, not the lock


@pytest.mark.slow
def test_an_entity_s_served_page_reloads_through_its_partitioned_refresh(
    group_deployment: GroupDeployment,  # noqa: F811 (the fixture)
) -> None:
    """`closeboard --entity gamma serve --dagster-url URL`: the reload launches the group's refresh for
    gamma's partition (what the CLI passes: entity_run_tags), never the unpartitioned launch the group's
    partitioned job refuses, and no fallback to a local refresh."""
    deployment, home = group_deployment, entity_home(group_deployment, "gamma")
    if not (home / "reports" / "latest.html").exists():  # a page to open: gamma's first refresh
        first = deployment.launch_entity("gamma")
        assert deployment.wait(first) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(first)[-20:])
    never = [sys.executable, "-c", "raise SystemExit('the reload fell back to a local refresh')"]
    app = create_app(
        home,
        config=home / "closeboard.yaml",
        refresh_command=never,
        dagster_url=f"http://127.0.0.1:{deployment.port}",
        dagster_tags=entity_run_tags("gamma"),
    )
    client = TestClient(app, base_url="http://127.0.0.1:8765")
    token = token_of(client.get("/latest.html").text)
    origin = {"Origin": "http://127.0.0.1:8765", "X-Closeboard-Token": token}
    assert client.post("/api/refresh", headers=origin).status_code == 202
    job = client.get("/api/status").json()["refresh"]
    assert job["launcher"] == "dagster" and "fallback" not in job, job
    run_id = job["dagster_run_id"]
    assert deployment.wait(run_id) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(run_id)[-20:])
    with deployment.instance() as dagster_instance:
        tags = dagster_instance.get_run_by_id(run_id).tags
    assert (tags["dagster/partition"], tags["closeboard/warehouse"]) == ("gamma", "gamma")
    status = yaml.safe_load((home / "reports" / "status.json").read_text(encoding="utf-8"))
    assert status["run_id"] == run_id  # gamma's own home was refreshed by the launched run


@pytest.mark.slow
def test_a_history_backfill_from_the_ui_runs_one_writer_of_the_entity_at_a_time(
    group_deployment: GroupDeployment,  # noqa: F811 (the fixture)
) -> None:
    """Two months apart, so Dagster makes two single-run ranges, i.e. two runs queued at once; the queue
    gives each `closeboard/warehouse: alpha` and lets one through at a time (the warehouse pool of a group
    is not limited: without the tag both would start)."""
    deployment = group_deployment
    deployment.refreshed("alpha")
    months = [FIRST_PERIOD, shift(FIRST_PERIOD, 2)]
    backfill = deployment.launch_history_backfill([history_partition_key("alpha", m) for m in months])
    runs = deployment.backfill_runs(backfill, len(months))
    with deployment.instance() as dagster_instance:
        stored = [dagster_instance.get_run_by_id(r) for r in runs]
        windows = [run_window(dagster_instance, r) for r in runs]
    assert [r.status for r in stored] == [DagsterRunStatus.SUCCESS] * len(months), [
        deployment.messages(r)[-10:] for r in runs
    ]
    assert len(runs) == len(months)  # one run per month: the months are not adjacent
    ranges = sorted(
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"]) for r in stored
    )
    assert ranges == [(history_partition_key("alpha", m), history_partition_key("alpha", m)) for m in months]
    assert all(r.tags["closeboard/warehouse"] == "alpha" for r in stored)
    assert not overlap(windows), f"two writers of alpha's warehouse overlapped: {windows}"
    for run_id in runs:
        text = "\n".join(deployment.messages(run_id)).lower()
        assert "warehouse busy" not in text and "waiting for the warehouse" not in text  # the queue held it


@pytest.mark.slow
def test_a_refresh_killed_with_sigkill_leaves_its_entity_as_it_was_and_the_other_entity_s_succeeds(
    group_deployment: GroupDeployment,  # noqa: F811 (the fixture)
) -> None:
    deployment, home = group_deployment, entity_home(group_deployment, "alpha")
    deployment.refreshed("alpha")
    snapshots = "select period, version, status, source_fingerprint from close_snapshots order by period, version"
    figures = "select period, kpi, value from mart_kpis order by period, kpi"
    before = published(home), live_rows(home, snapshots), live_rows(home, figures)
    assert before[1] and before[1] == read(home, snapshots)  # the live file and the readers' copy agree
    killed, other = deployment.launch_entity("alpha"), deployment.launch_entity("beta")  # side by side
    os.kill(run_pid(deployment, killed), signal.SIGKILL)  # once alpha's run has started a step
    assert deployment.wait(killed) == DagsterRunStatus.FAILURE
    assert deployment.wait(other) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(other)[-20:])
    status = yaml.safe_load((entity_home(deployment, "beta") / "reports" / "status.json").read_text())
    assert status["run_id"] == other
    # alpha: the page, the readers' copy and the live warehouse as they were before the killed run
    assert (published(home), live_rows(home, snapshots), live_rows(home, figures)) == before
    following = deployment.launch_entity("alpha")
    assert deployment.wait(following) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(following)[-20:])
    assert yaml.safe_load((home / "reports" / "status.json").read_text())["run_id"] == following
    assert read(home, snapshots) == before[1]  # the same sources: nothing to append
