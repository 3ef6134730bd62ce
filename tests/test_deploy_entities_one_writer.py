"""Entities on the production deployment (issue 22), one writer of an entity at a time, on a deployment of
this module's own (tests/deployment.py's `group_deployment`: a group's closeboard.yaml, the instance on a
real PostgreSQL, code server, webserver and daemon apart): a backfill of one entity's close history
launched as the UI's asset page launches it runs one writer at a time; a refresh killed with SIGKILL
leaves its entity's warehouse and page as they were while another entity's refresh succeeds.
tests/test_deploy_entities.py has the entities side by side and the served page's reload."""

from __future__ import annotations

import os
import signal

import pytest
import yaml
from dagster import DagsterRunStatus

from connectors.periods import shift
from pipelines.entities import history_partition_key
from tests.conftest import FIRST_PERIOD, live_rows, read
from tests.deployment import (  # noqa: F401 (the fixtures)
    GroupDeployment,
    entity_home,
    group_deployment,
    overlap,
    postgres,
    published,
    run_pid,
    run_window,
)


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
