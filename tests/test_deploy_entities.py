"""Entities on the production deployment (issue 22): a group's closeboard.yaml (`entities:`, the instance on
a real PostgreSQL), the code location as its own gRPC server, the webserver and the daemon as separate
processes (tests/test_deploy_postgres.py's fixtures). Runs are launched through the webserver's GraphQL API
with the partition's tags the code location gives (what the UI's launchpad does): three entities run side
by side and all succeed; two launches for one entity run one after the other; a backfill of one entity's
close history launched as the UI's asset page launches it runs one writer at a time; a refresh killed with
SIGKILL leaves its entity's warehouse and page as they were while another entity's refresh succeeds."""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient
from dagster import DagsterRunStatus, RunsFilter

from connectors.periods import shift
from pipelines.close import HISTORY_KEY
from pipelines.entities import history_partition_key
from pipelines.instance import ENTITY_CONCURRENCY, ensure_dagster_home
from tests.conftest import FIRST_PERIOD, read
from tests.dagster_ui import RUN_TIMEOUT_S
from tests.test_crash_points import live_rows
from tests.test_deploy_postgres import (  # noqa: F401 (fixture)
    INSTANCE,
    PG_URL_ENV,
    Deployment,
    _run_pid,
    _window,
    postgres,
)
from reports.server import create_app
from tests.reports.test_server_app import token_of
from tests.test_entities import make_group
from pipelines.entities import DemoEntity, entity_run_tags
from warehouse.home import Home

ENTITIES = (
    DemoEntity("alpha", "Alpha Inc.", "USD", 42),
    DemoEntity("beta", "Beta GmbH", "EUR", 7),
    DemoEntity("gamma", "Gamma Ltd", "GBP", 1051),
)
PARTITIONS_TIMEOUT_S = 120

PARTITION_TAGS = """
query PartitionTags($selector: RepositorySelector!, $partition: String!) {
  partitionSetOrError(repositorySelector: $selector, partitionSetName: "refresh_partition_set") {
    __typename
    ... on PartitionSet {
      partition(partitionName: $partition) {
        tagsOrError { __typename ... on PartitionTags { results { key value } } ... on PythonError { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""


LAUNCH_BACKFILL = """
mutation LaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
BACKFILL_TAG = "dagster/backfill"


class GroupDeployment(Deployment):
    def partition_tags(self, entity: str) -> dict[str, str]:
        """The tags the code location gives the refresh of `entity` (as the UI's launchpad asks for them)."""
        answer = self.client._execute(  # noqa: SLF001 - the documented client has no partition query
            PARTITION_TAGS,
            {
                "selector": {"repositoryLocationName": "closeboard", "repositoryName": "__repository__"},
                "partition": entity,
            },
        )
        tags = answer["partitionSetOrError"]["partition"]["tagsOrError"]
        assert "results" in tags, answer
        return {t["key"]: t["value"] for t in tags["results"]}

    def launch_entity(self, entity: str) -> str:
        return self.client.submit_job_execution(
            "refresh", repository_location_name="closeboard", tags=self.partition_tags(entity)
        )

    def launch_history_backfill(self, partitions: list[str]) -> str:
        """A backfill of `close_snapshot`'s `partitions` as the UI's asset page launches one ("Launch backfill":
        the asset selection and the partition names, tagged as from the UI; Dagster makes the runs)."""
        params = {
            "tags": [{"key": "dagster/from_ui", "value": "true"}],
            "assetSelection": [{"path": HISTORY_KEY.path}],
            "partitionNames": partitions,
            "fromFailure": False,
        }
        answer = self.client._execute(LAUNCH_BACKFILL, {"params": params})  # noqa: SLF001 - no client method
        assert answer["launchPartitionBackfill"]["__typename"] == "LaunchBackfillSuccess", answer
        return answer["launchPartitionBackfill"]["backfillId"]

    def backfill_runs(self, backfill_id: str, count: int) -> list[str]:
        """The ids of the backfill's `count` runs, oldest first, once every one has finished."""
        deadline = time.monotonic() + RUN_TIMEOUT_S * count
        while True:
            with self.instance() as dagster_instance:
                runs = dagster_instance.get_runs(filters=RunsFilter(tags={BACKFILL_TAG: backfill_id}))
            if len(runs) >= count and all(r.is_finished for r in runs):
                return [r.run_id for r in reversed(runs)]
            assert time.monotonic() < deadline, f"backfill {backfill_id}: {[(r.run_id, r.status) for r in runs]}"
            time.sleep(1)

    def refreshed(self, entity: str) -> None:
        """`entity` has a published warehouse and page (its first refresh, unless an earlier test ran it)."""
        if not (self.home / "entities" / entity / "reports" / "status.json").exists():
            run_id = self.launch_entity(entity)
            assert self.wait(run_id) == DagsterRunStatus.SUCCESS, "\n".join(self.messages(run_id)[-20:])

    def wait_for_partitions(self, ids: list[str]) -> None:
        """The daemon's `entity_partitions` sensor adds the group's entities as partitions."""
        deadline = time.monotonic() + PARTITIONS_TIMEOUT_S
        while True:
            with self.instance() as dagster_instance:
                if sorted(dagster_instance.get_dynamic_partitions("entity")) == sorted(ids):
                    return
            assert time.monotonic() < deadline, "the entity partitions were not added:\n" + self.log_tail()
            time.sleep(1)


@pytest.fixture(scope="module")
def group_deployment(postgres: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GroupDeployment]:  # noqa: F811
    home = tmp_path_factory.mktemp("deploy-entities") / "home"
    # no scheduled refresh of every entity mid-test; the ERP alone (one server per run: the runs stay short)
    extra = {"instance": dict(INSTANCE), "schedules": {"refresh_cron": "0 6 1 1 *"}}
    config = make_group(home, ENTITIES, extra, sources=("erp",))
    with pytest.MonkeyPatch.context() as environ:
        environ.setenv(PG_URL_ENV, postgres)
        ensure_dagster_home(Home(home), config)
        deployment = GroupDeployment(home, postgres, config)
        try:
            for name in ("code", "webserver", "daemon"):
                deployment.start(name)
            deployment.wait_until_up()
            deployment.wait_for_partitions([e.id for e in ENTITIES])
            yield deployment
        finally:
            for name in list(deployment.procs):
                deployment.stop(name)


def _entity_home(deployment: Deployment, entity: str) -> Path:
    return deployment.home / "entities" / entity


@pytest.mark.slow
def test_three_entities_run_side_by_side_and_one_entity_never_has_two_writers(
    group_deployment: GroupDeployment,
) -> None:
    deployment = group_deployment
    written = yaml.safe_load((deployment.home / "dagster" / "dagster.yaml").read_text(encoding="utf-8"))
    assert written["concurrency"] == ENTITY_CONCURRENCY and "postgres" in written["storage"]
    runs = {e.id: deployment.launch_entity(e.id) for e in ENTITIES}
    for run_id in runs.values():
        assert deployment.wait(run_id) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(run_id)[-20:])
    with deployment.instance() as dagster_instance:
        windows = {e: _window(dagster_instance, r) for e, r in runs.items()}
        stored = {r.run_id: r for r in dagster_instance.get_runs()}
    assert max(start for start, _ in windows.values()) < min(end for _, end in windows.values()), (
        f"the three entities did not run side by side: {windows}"
    )
    for entity, run_id in runs.items():
        assert stored[run_id].tags["closeboard/warehouse"] == entity
        assert stored[run_id].tags["dagster/partition"] == entity
        status = yaml.safe_load((_entity_home(deployment, entity) / "reports" / "status.json").read_text())
        assert status["run_id"] == run_id  # each run wrote its own entity's home, nobody else's
    assert (deployment.home / "reports" / "portfolio.html").exists()

    # the same entity twice: queued behind each other by the per-entity limit
    first, second = deployment.launch_entity("beta"), deployment.launch_entity("beta")
    assert deployment.wait(first) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(first)[-20:])
    assert deployment.wait(second) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(second)[-20:])
    with deployment.instance() as dagster_instance:
        (a_start, a_end), (b_start, b_end) = (_window(dagster_instance, r) for r in (first, second))
    assert a_end <= b_start or b_end <= a_start, "two writers of one entity overlapped"
    for run_id in (first, second):
        text = "\n".join(deployment.messages(run_id)).lower()
        assert (
            "warehouse busy" not in text and "waiting for the warehouse" not in text
        )  # the queue held it, not the lock


@pytest.mark.slow
def test_an_entity_s_served_page_reloads_through_its_partitioned_refresh(group_deployment: GroupDeployment) -> None:
    """`closeboard --entity gamma serve --dagster-url URL`: the reload launches the group's refresh for
    gamma's partition (what the CLI passes: entity_run_tags), never the unpartitioned launch the group's
    partitioned job refuses, and no fallback to a local refresh."""
    deployment, home = group_deployment, _entity_home(group_deployment, "gamma")
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


def _overlap(windows: list[tuple[float, float]]) -> bool:
    (a_start, a_end), (b_start, b_end) = windows
    return not (a_end <= b_start or b_end <= a_start)


@pytest.mark.slow
def test_a_history_backfill_from_the_ui_runs_one_writer_of_the_entity_at_a_time(
    group_deployment: GroupDeployment,
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
        windows = [_window(dagster_instance, r) for r in runs]
    assert [r.status for r in stored] == [DagsterRunStatus.SUCCESS] * len(months), [
        deployment.messages(r)[-10:] for r in runs
    ]
    assert len(runs) == len(months)  # one run per month: the months are not adjacent
    ranges = sorted(
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"]) for r in stored
    )
    assert ranges == [(history_partition_key("alpha", m), history_partition_key("alpha", m)) for m in months]
    assert all(r.tags["closeboard/warehouse"] == "alpha" for r in stored)
    assert not _overlap(windows), f"two writers of alpha's warehouse overlapped: {windows}"
    for run_id in runs:
        text = "\n".join(deployment.messages(run_id)).lower()
        assert "warehouse busy" not in text and "waiting for the warehouse" not in text  # the queue held it


def _published(home: Path) -> dict[str, str]:
    """What readers see of an entity: the readers' copy of its warehouse, its page and status file."""
    files = ("warehouse.read.duckdb", "reports/latest.html", "reports/status.json")
    return {name: hashlib.sha256((home / name).read_bytes()).hexdigest() for name in files}


@pytest.mark.slow
def test_a_refresh_killed_with_sigkill_leaves_its_entity_as_it_was_and_the_other_entity_s_succeeds(
    group_deployment: GroupDeployment,
) -> None:
    deployment, home = group_deployment, _entity_home(group_deployment, "alpha")
    deployment.refreshed("alpha")
    snapshots = "select period, version, status, source_fingerprint from close_snapshots order by period, version"
    figures = "select period, kpi, value from mart_kpis order by period, kpi"
    before = _published(home), live_rows(home, snapshots), live_rows(home, figures)
    assert before[1] and before[1] == read(home, snapshots)  # the live file and the readers' copy agree
    killed, other = deployment.launch_entity("alpha"), deployment.launch_entity("beta")  # side by side
    os.kill(_run_pid(deployment, killed), signal.SIGKILL)  # once alpha's run has started a step
    assert deployment.wait(killed) == DagsterRunStatus.FAILURE
    assert deployment.wait(other) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(other)[-20:])
    status = yaml.safe_load((_entity_home(deployment, "beta") / "reports" / "status.json").read_text())
    assert status["run_id"] == other
    # alpha: the page, the readers' copy and the live warehouse as they were before the killed run
    assert (_published(home), live_rows(home, snapshots), live_rows(home, figures)) == before
    following = deployment.launch_entity("alpha")
    assert deployment.wait(following) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(following)[-20:])
    assert yaml.safe_load((home / "reports" / "status.json").read_text())["run_id"] == following
    assert read(home, snapshots) == before[1]  # the same sources: nothing to append
