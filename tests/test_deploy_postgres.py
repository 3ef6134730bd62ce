"""The production deployment (issue 22, docs/deploy.md): the Dagster instance on a real PostgreSQL (Debian's
`postgresql`, initdb in a temp dir, loopback only) selected by closeboard.yaml's `instance:`, the code
location as its own gRPC server (`dagster api grpc`), the webserver and the daemon as separate processes
loading deploy/workspace.grpc.yaml, runs launched through the webserver's GraphQL API. Also: the
deploy/ files (compose, the instance of the compose deployment, the Helm values) agree with the instance
closeboard writes."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus

from connectors.config import ConfigError, parse_config
from pipelines.instance import INSTANCE_CONFIG, ensure_dagster_home, instance, instance_config
from tests.conftest import (
    REPO,
    copy_home,
    demo_config,
    edit_config,
    free_port,
    stop_process,
    wait_for_port,
    write_config,
)
from tests.dagster_ui import RUN_TIMEOUT_S, Ui
from warehouse.home import Home

DEPLOY = REPO / "deploy"
START_TIMEOUT_S = 180
PG_URL_ENV = "DAGSTER_PG_URL"
# short run-monitoring intervals, through closeboard.yaml's `instance:` block
INSTANCE = {"postgres_url": "${DAGSTER_PG_URL}", "run_monitoring_interval_s": 1, "run_start_timeout_s": 60}


# --- the files in deploy/ and the config (no processes) -----------------------------------------------


def test_instance_block_is_checked_with_the_rest_of_closeboard_yaml() -> None:
    settings = parse_config({**demo_config(), "instance": INSTANCE}).instance
    assert (settings.postgres_url, settings.run_monitoring_interval_s) == ("${DAGSTER_PG_URL}", 1)
    assert parse_config(demo_config()).instance is None
    problems = {
        "postgres_url": "postgresql://dagster:secret@db/dagster",  # the password inline
        "postgres_urll": "${DAGSTER_PG_URL}",
    }
    with pytest.raises(ConfigError) as refused:
        parse_config({**demo_config(), "instance": problems})
    text = str(refused.value)
    assert "instance.postgres_url: reference the secret as ${ENV_NAME}" in text
    assert "instance: unknown key 'postgres_urll' (did you mean 'postgres_url'?)" in text
    assert "secret" not in text.replace("the secret", "")


def test_local_mode_writes_todays_instance_byte_for_byte(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    write_config(home)
    ensure_dagster_home(Home(home), home / "closeboard.yaml")
    written = (home / "dagster" / "dagster.yaml").read_text(encoding="utf-8")
    assert written == yaml.safe_dump(INSTANCE_CONFIG, sort_keys=False)
    assert "storage" not in yaml.safe_load(written) and "run_monitoring" not in yaml.safe_load(written)


def test_an_edited_local_instance_is_not_overwritten_by_the_postgres_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PG_URL_ENV, "postgresql+psycopg2://dagster@127.0.0.1:1/dagster")
    home = tmp_path / "home"
    home.mkdir()
    write_config(home, {**demo_config(), "instance": INSTANCE})
    (home / "dagster").mkdir()
    edited = yaml.safe_dump({**INSTANCE_CONFIG, "telemetry": {"enabled": True}}, sort_keys=False)
    (home / "dagster" / "dagster.yaml").write_text(edited, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dagster.yaml \(edited by hand\) keeps another storage"):
        instance(Home(home), home / "closeboard.yaml")
    assert (home / "dagster" / "dagster.yaml").read_text(encoding="utf-8") == edited


def test_an_unset_url_variable_is_named_before_dagster_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    write_config(home, {**demo_config(), "instance": INSTANCE})
    monkeypatch.delenv(PG_URL_ENV, raising=False)
    with pytest.raises(ConfigError, match=r"instance.postgres_url: environment variable DAGSTER_PG_URL is not set"):
        ensure_dagster_home(Home(home), home / "closeboard.yaml")
    assert not (home / "dagster" / "dagster.yaml").exists()


def test_compose_instance_has_the_settings_closeboard_writes() -> None:
    settings = parse_config({**demo_config(), "instance": {"postgres_url": "${DAGSTER_PG_URL}"}}).instance
    ours = instance_config(settings)
    compose = yaml.safe_load((DEPLOY / "dagster.yaml").read_text(encoding="utf-8"))
    for key in ("storage", "run_coordinator", "run_monitoring", "concurrency", "telemetry"):
        assert compose[key] == ours[key], key
    assert compose["run_launcher"]["class"] == "DockerRunLauncher"
    assert set(compose["run_launcher"]["config"]["env_vars"]) >= {PG_URL_ENV, "CLOSEBOARD_HOME"}


def test_compose_file_is_valid_for_docker_compose() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    assert {"closeboard-postgres", "closeboard-code", "closeboard-webserver", "closeboard-daemon"} <= set(services)
    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=60) if docker else None
    if probe is None or probe.returncode != 0:
        pytest.skip("docker compose is not available here: `docker compose config` not run")
    checked = subprocess.run(
        [docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DAGSTER_PG_PASSWORD": "x"},
    )
    assert checked.returncode == 0, checked.stderr


def test_helm_values_use_the_keys_the_dagster_chart_documents() -> None:
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text(encoding="utf-8"))
    # the top-level keys of the chart's values schema (helm/dagster/schema: DagsterHelmValues)
    chart_keys = {
        "dagsterWebserver",
        "dagster-user-deployments",
        "postgresql",
        "generatePostgresqlPasswordSecret",
        "generateCeleryConfigSecret",
        "rabbitmq",
        "redis",
        "flower",
        "ingress",
        "imagePullSecrets",
        "computeLogManager",
        "scheduler",
        "runLauncher",
        "pythonLogs",
        "dagsterDaemon",
        "busybox",
        "migrate",
        "telemetry",
        "serviceAccount",
        "global",
        "retention",
        "additionalInstanceConfig",
        "concurrency",
    }
    assert set(values) <= chart_keys, set(values) - chart_keys
    (code,) = values["dagster-user-deployments"]["deployments"]
    assert set(code) <= {
        "name",
        "image",
        "dagsterApiGrpcArgs",
        "codeServerArgs",
        "includeConfigInLaunchedRuns",
        "port",
        "env",
        "envConfigMaps",
        "envSecrets",
        "annotations",
        "nodeSelector",
        "affinity",
        "tolerations",
        "podSecurityContext",
        "securityContext",
        "resources",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "labels",
        "volumeMounts",
        "volumes",
        "schedulerName",
    }
    assert code["dagsterApiGrpcArgs"][:2] == ["-m", "pipelines.definitions"]
    assert set(code["image"]) == {"repository", "tag", "pullPolicy"}
    assert code["envSecrets"] and all(set(s) == {"name"} for s in code["envSecrets"])
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert set(launcher["config"]["k8sRunLauncher"]) <= {
        "image",
        "imagePullPolicy",
        "jobNamespace",
        "loadInclusterConfig",
        "kubeconfigFile",
        "envConfigMaps",
        "envSecrets",
        "envVars",
        "volumeMounts",
        "volumes",
        "labels",
        "failPodOnRunFailure",
        "resources",
        "schedulerName",
        "securityContext",
        "runK8sConfig",
    }
    assert launcher["config"]["k8sRunLauncher"]["envSecrets"] == code["envSecrets"]
    assert values["global"]["postgresqlSecretName"] and values["generatePostgresqlPasswordSecret"] is False
    assert set(values["postgresql"]) <= {
        "image",
        "enabled",
        "postgresqlHost",
        "postgresqlUsername",
        "postgresqlPassword",
        "postgresqlDatabase",
        "postgresqlParams",
        "postgresqlScheme",
        "service",
    }
    daemon = values["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator" and daemon["runMonitoring"]["enabled"] is True
    concurrency = values["concurrency"]
    assert set(concurrency) <= {"enabled", "pools", "runs"}
    assert concurrency["runs"]["tagConcurrencyLimits"] == [
        {"key": k, "limit": v}
        for k, v in ((c["key"], c["limit"]) for c in INSTANCE_CONFIG["concurrency"]["runs"]["tag_concurrency_limits"])
    ]
    assert concurrency["pools"] == {
        "defaultLimit": INSTANCE_CONFIG["concurrency"]["pools"]["default_limit"],
        "granularity": INSTANCE_CONFIG["concurrency"]["pools"]["granularity"],
    }


# --- a real PostgreSQL and the three Dagster processes ---------------------------------------------------


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

    def log_tail(self) -> str:
        return "\n".join(f"--- {n}\n" + (self.home / f"{n}.log").read_text()[-2000:] for n in self.commands)

    def wait_until_up(self) -> None:
        self.wait_for_webserver(self.procs.values(), self.log_tail, timeout=START_TIMEOUT_S)


@pytest.fixture(scope="module")
def deployment(postgres: str, demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    home = copy_home(demo_home, tmp_path_factory.mktemp("deploy") / "home", without=("dagster",))

    def production(raw: dict) -> None:
        raw["instance"] = dict(INSTANCE)
        raw.setdefault("schedules", {})["refresh_cron"] = "0 6 1 1 *"  # no scheduled run of its own mid-test

    config = edit_config(home, production)
    saved = os.environ.get(PG_URL_ENV)
    os.environ[PG_URL_ENV] = postgres
    ensure_dagster_home(Home(home), config)  # writes the PostgreSQL dagster.yaml and creates the schema
    deployment = Deployment(home, postgres, config)
    try:
        for name in ("code", "webserver", "daemon"):
            deployment.start(name)
        deployment.wait_until_up()
        yield deployment
    finally:
        for name in list(deployment.procs):
            deployment.stop(name)
        if saved is None:
            os.environ.pop(PG_URL_ENV, None)
        else:
            os.environ[PG_URL_ENV] = saved


def _window(dagster_instance: DagsterInstance, run_id: str) -> tuple[float, float]:
    stats = dagster_instance.get_run_stats(run_id)
    return stats.start_time, stats.end_time


@pytest.mark.slow
def test_instance_is_on_postgresql_with_run_monitoring(deployment: Deployment) -> None:
    written = yaml.safe_load((deployment.home / "dagster" / "dagster.yaml").read_text(encoding="utf-8"))
    assert written["storage"] == {"postgres": {"postgres_url": {"env": PG_URL_ENV}}}  # the URL is never on disk
    assert deployment.url not in (deployment.home / "dagster" / "dagster.yaml").read_text(encoding="utf-8")
    assert written["run_monitoring"]["enabled"] is True
    assert written["run_launcher"] == {"module": "pipelines.instance", "class": "MonitoredRunLauncher"}
    assert written["run_monitoring"]["poll_interval_seconds"] == INSTANCE["run_monitoring_interval_s"]
    with deployment.instance() as dagster_instance:
        kinds = {
            type(s).__name__
            for s in (
                dagster_instance.run_storage,
                dagster_instance.event_log_storage,
                dagster_instance.schedule_storage,
            )
        }
        assert kinds == {"PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"}
        assert dagster_instance.run_monitoring_enabled
    assert not (deployment.home / "dagster" / "history").exists(), "runs stored in SQLite files"


@pytest.mark.slow
def test_refreshes_launched_through_the_webserver_succeed_one_writer_at_a_time(deployment: Deployment) -> None:
    first, second = deployment.launch_refresh(), deployment.launch_refresh()
    assert deployment.wait(first) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(first)[-20:])
    assert deployment.wait(second) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(second)[-20:])
    with deployment.instance() as dagster_instance:
        (a_start, a_end), (b_start, b_end) = (_window(dagster_instance, r) for r in (first, second))
        runs = {r.run_id: r for r in dagster_instance.get_runs()}
    assert a_end <= b_start or b_end <= a_start, "the two warehouse writers overlapped"
    assert all(runs[r].tags.get("closeboard/warehouse") == "write" for r in (first, second))
    last = second if b_end > a_end else first
    status = yaml.safe_load((deployment.home / "reports" / "status.json").read_text(encoding="utf-8"))
    assert status["run_id"] == last
    assert f'content="{last}"' in (deployment.home / "reports" / "latest.html").read_text(encoding="utf-8")
    for run_id in (first, second):
        text = "\n".join(deployment.messages(run_id)).lower()
        assert "warehouse busy" not in text and "conflicting" not in text


def _run_pid(deployment: Deployment, run_id: str) -> int:
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


@pytest.mark.slow
def test_a_run_killed_with_sigkill_is_marked_failed_and_the_next_launch_succeeds(deployment: Deployment) -> None:
    killed = deployment.launch_refresh()
    pid = _run_pid(deployment, killed)
    os.kill(pid, signal.SIGKILL)
    assert deployment.wait(killed) == DagsterRunStatus.FAILURE
    with deployment.instance() as dagster_instance:
        storage = dagster_instance.event_log_storage
        deadline = time.monotonic() + 60  # run monitoring gives the dead run's slot back
        while storage.supports_global_concurrency_limits and killed in storage.get_concurrency_run_ids():
            assert time.monotonic() < deadline, "the killed run still holds a concurrency slot"
            time.sleep(0.5)
    text = "\n".join(deployment.messages(killed))
    assert str(pid) in text and ("-9" in text or "SIGKILL" in text), text[-3000:]
    following = deployment.launch_refresh()
    assert deployment.wait(following) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(following)[-20:])
    status = yaml.safe_load((deployment.home / "reports" / "status.json").read_text(encoding="utf-8"))
    assert status["run_id"] == following


@pytest.mark.slow
def test_a_lost_code_server_fails_its_run_through_run_monitoring(deployment: Deployment) -> None:
    """The code server killed with its run process (a lost machine): nothing is left to report the run,
    so the daemon's run monitoring asks the code server (MonitoredRunLauncher), marks the run failed, and
    once the code server is back the next launch runs."""
    lost = deployment.launch_refresh()
    _run_pid(deployment, lost)
    deployment.stop("code", signal.SIGKILL)
    assert deployment.wait(lost) == DagsterRunStatus.FAILURE
    text = "\n".join(deployment.messages(lost))
    assert "Detected run worker status" in text and "code server" in text, text[-3000:]
    deployment.start("code")
    deployment.client.reload_repository_location("closeboard")
    following = deployment.launch_refresh()
    assert deployment.wait(following) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(following)[-20:])
