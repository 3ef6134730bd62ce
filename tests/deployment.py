"""The production deployment as the deployment tests run it (issue 22, docs/deploy.md): a real PostgreSQL
(Debian's `postgresql`, initdb in a temp dir, loopback only), the code location as its own gRPC server
(`dagster api grpc`), the webserver and the daemon as separate processes loading deploy/workspace.grpc.yaml,
runs launched through the webserver's GraphQL API. `Deployment` for one company's home, `GroupDeployment`
and the `group_deployment` fixture for a group of entities (tests/test_deploy_entities.py). A module takes
the fixtures it uses with `from tests.deployment import postgres`: one PostgreSQL and one set of processes
per test module (pytest-xdist's `--dist loadfile` keeps a module on one worker)."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from pipelines.close import HISTORY_KEY
from pipelines.entities import DemoEntity
from pipelines.instance import ensure_dagster_home
from tests.conftest import REPO, free_port, stop_process, wait_for_port
from tests.dagster_ui import RUN_TIMEOUT_S, Ui
from tests.groups import make_group
from warehouse.home import Home

DEPLOY = REPO / "deploy"
START_TIMEOUT_S = 180
PG_URL_ENV = "DAGSTER_PG_URL"
# short run-monitoring intervals, through closeboard.yaml's `instance:` block
INSTANCE = {"postgres_url": "${DAGSTER_PG_URL}", "run_monitoring_interval_s": 1, "run_start_timeout_s": 60}


def _as_postgres_user() -> list[str]:
    """initdb and the server refuse to run as root: run them as nobody then."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    return ["setpriv", "--reuid", "nobody", "--regid", str(pwd.getpwnam("nobody").pw_gid), "--clear-groups"]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    initdb = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)), None)
    if initdb is None:
        pytest.skip("PostgreSQL is not installed (Debian package `postgresql`; the README's test command installs it)")
    bindir, as_user = initdb.parent, _as_postgres_user()
    root = Path(tempfile.mkdtemp(prefix="closeboard-pg-"))  # under /tmp: nobody cannot reach pytest's 0700 dirs
    if as_user:
        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
    data, port = root / "data", free_port()
    try:
        subprocess.run(
            [*as_user, str(initdb), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200"
        started = subprocess.run(
            [
                *as_user,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(root / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert started.returncode == 0, started.stdout + started.stderr + (root / "server.log").read_text()
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


class Deployment(Ui):
    """The three processes (code server, webserver, daemon) on `home`, the webserver's GraphQL client
    and the instance (on PostgreSQL: the home's dagster.yaml reads DAGSTER_PG_URL, which the fixture
    sets), as the Dagster UI tests use them."""

    def __init__(self, home: Path, url: str, config: Path) -> None:
        self.code_port = free_port()
        super().__init__(home, free_port())
        self.url = url
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home / "dagster"),
            PG_URL_ENV: url,
            "CLOSEBOARD_HOME": str(home),
            "CLOSEBOARD_CONFIG": str(config),
            "CLOSEBOARD_CODE_HOST": "127.0.0.1",
            "CLOSEBOARD_CODE_PORT": str(self.code_port),
        }
        bindir, workspace = Path(sys.executable).parent, str(DEPLOY / "workspace.grpc.yaml")
        self.commands = {
            "code": [
                sys.executable,
                "-m",
                "dagster",
                "api",
                "grpc",
                "-m",
                "pipelines.definitions",
                "--location-name",
                "closeboard",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.code_port),
            ],
            "webserver": [str(bindir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.port), "-w", workspace],
            "daemon": [str(bindir / "dagster-daemon"), "run", "-w", workspace],
        }
        self.env, self.procs = env, {}

    def start(self, name: str) -> None:
        with (self.home / f"{name}.log").open("a") as log:
            self.procs[name] = subprocess.Popen(
                self.commands[name],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if name == "code":  # the gRPC server listens once the definitions are loaded
            wait_for_port(self.code_port, self.procs[name], timeout=START_TIMEOUT_S)

    def stop(self, name: str, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop one process and its process group (a code server's run processes with it)."""
        stop_process(self.procs.pop(name), sig, timeout=20)

    @contextmanager
    def running(self) -> Iterator[Deployment]:
        """The code server, the webserver and the daemon started and answering; all stopped afterwards."""
        try:
            for name in ("code", "webserver", "daemon"):
                self.start(name)
            self.wait_until_up()
            yield self
        finally:
            for name in list(self.procs):
                self.stop(name)

    def log_tail(self) -> str:
        return "\n".join(f"--- {n}\n" + (self.home / f"{n}.log").read_text()[-2000:] for n in self.commands)

    def wait_until_up(self) -> None:
        self.wait_for_webserver(self.procs.values(), self.log_tail, timeout=START_TIMEOUT_S)


def run_window(dagster_instance: DagsterInstance, run_id: str) -> tuple[float, float]:
    stats = dagster_instance.get_run_stats(run_id)
    return stats.start_time, stats.end_time


def run_pid(deployment: Deployment, run_id: str) -> int:
    """The pid of the run's worker process (its "Started process for run" engine event), once a step
    has started (so it holds the warehouse pool's slot and the lock)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        with deployment.instance() as dagster_instance:
            events = dagster_instance.all_logs(run_id)
        pids = [
            e.dagster_event.engine_event_data.metadata["pid"].value
            for e in events
            if e.dagster_event
            and e.dagster_event.event_type_value == "ENGINE_EVENT"
            and "pid" in (e.dagster_event.engine_event_data.metadata or {})
        ]
        started = any(e.dagster_event and e.dagster_event.event_type_value == "STEP_START" for e in events)
        if pids and started:
            return int(pids[0])
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not start a step in {RUN_TIMEOUT_S} s")


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
def group_deployment(postgres: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GroupDeployment]:
    home = tmp_path_factory.mktemp("deploy-entities") / "home"
    # no scheduled refresh of every entity mid-test; the ERP alone (one server per run: the runs stay short)
    extra = {"instance": dict(INSTANCE), "schedules": {"refresh_cron": "0 6 1 1 *"}}
    config = make_group(home, ENTITIES, extra, sources=("erp",))
    with pytest.MonkeyPatch.context() as environ:
        environ.setenv(PG_URL_ENV, postgres)
        ensure_dagster_home(Home(home), config)
        with GroupDeployment(home, postgres, config).running() as deployment:
            deployment.wait_for_partitions([e.id for e in ENTITIES])
            yield deployment


def entity_home(deployment: Deployment, entity: str) -> Path:
    return deployment.home / "entities" / entity


def overlap(windows: list[tuple[float, float]]) -> bool:
    (a_start, a_end), (b_start, b_end) = windows
    return not (a_end <= b_start or b_end <= a_start)


def published(home: Path) -> dict[str, str]:
    """What readers see of an entity: the readers' copy of its warehouse, its page and status file."""
    files = ("warehouse.read.duckdb", "reports/latest.html", "reports/status.json")
    return {name: hashlib.sha256((home / name).read_bytes()).hexdigest() for name in files}


def page_written_by(dagster_instance: DagsterInstance, run_id: str) -> Path:
    """The page a run published: its `dashboard` materialization's path."""
    for event in dagster_instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        materialization = event.dagster_event.step_materialization_data.materialization
        if materialization.asset_key.path[-1] == "dashboard":
            return Path(materialization.metadata["path"].value)
    raise AssertionError(f"run {run_id} published no page")
