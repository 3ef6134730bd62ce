"""The production deployment (issue 22, docs/deploy.md): the Dagster instance on a real PostgreSQL (Debian's
`postgresql`, initdb in a temp dir, loopback only) selected by closeboard.yaml's `instance:`, the code
location as its own gRPC server (`dagster api grpc`), the webserver and the daemon as separate processes
loading deploy/workspace.grpc.yaml, runs launched through the webserver's GraphQL API (tests/deployment.py).
Also: the `instance:` block of closeboard.yaml and the compose file; tests/test_deploy_files.py checks the
instance and the Helm values in deploy/ against what closeboard writes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dagster import DagsterRunStatus

from connectors.config import ConfigError, parse_config
from pipelines.instance import INSTANCE_CONFIG, ensure_dagster_home, instance, instance_config
from tests.conftest import (
    copy_home,
    demo_config,
    edit_config,
    write_config,
)
from tests.deployment import (  # noqa: F401 (the fixture)
    DEPLOY,
    INSTANCE,
    PG_URL_ENV,
    Deployment,
    overlap,
    postgres,
    run_pid,
    run_window,
)
from warehouse.home import Home


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
    assert written == yaml.safe_dump(instance_config(None), sort_keys=False)
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


# --- a real PostgreSQL and the three Dagster processes ---------------------------------------------------


@pytest.fixture(scope="module")
def deployment(postgres: str, demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:  # noqa: F811
    home = copy_home(demo_home, tmp_path_factory.mktemp("deploy") / "home", without=("dagster",))

    def production(raw: dict) -> None:
        raw["instance"] = dict(INSTANCE)
        raw.setdefault("schedules", {})["refresh_cron"] = "0 6 1 1 *"  # no scheduled run of its own mid-test

    config = edit_config(home, production)
    with pytest.MonkeyPatch.context() as environ:
        environ.setenv(PG_URL_ENV, postgres)
        ensure_dagster_home(Home(home), config)  # writes the PostgreSQL dagster.yaml and creates the schema
        with Deployment(home, postgres, config).running() as deployment:
            yield deployment


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
        # a run dequeued while the code server restarts is re-queued, not failed (pipelines.instance)
        queue = dagster_instance.get_concurrency_config().run_queue_config
        assert (queue.max_user_code_failure_retries, queue.user_code_failure_retry_delay) == (6, 15)
    assert not (deployment.home / "dagster" / "history").exists(), "runs stored in SQLite files"


@pytest.mark.slow
def test_refreshes_launched_through_the_webserver_succeed_one_writer_at_a_time(deployment: Deployment) -> None:
    first, second = deployment.launch_refresh(), deployment.launch_refresh()
    assert deployment.wait(first) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(first)[-20:])
    assert deployment.wait(second) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(second)[-20:])
    with deployment.instance() as dagster_instance:
        windows = [run_window(dagster_instance, r) for r in (first, second)]
        runs = {r.run_id: r for r in dagster_instance.get_runs()}
    assert not overlap(windows), "the two warehouse writers overlapped"
    assert all(runs[r].tags.get("closeboard/warehouse") == "write" for r in (first, second))
    last = second if windows[1][1] > windows[0][1] else first
    status = yaml.safe_load((deployment.home / "reports" / "status.json").read_text(encoding="utf-8"))
    assert status["run_id"] == last
    assert f'content="{last}"' in (deployment.home / "reports" / "latest.html").read_text(encoding="utf-8")
    for run_id in (first, second):
        text = "\n".join(deployment.messages(run_id)).lower()
        assert "warehouse busy" not in text and "conflicting" not in text


@pytest.mark.slow
def test_a_run_killed_with_sigkill_is_marked_failed_and_the_next_launch_succeeds(deployment: Deployment) -> None:
    killed = deployment.launch_refresh()
    pid = run_pid(deployment, killed)
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
    once the code server is back the next launch runs. The daemon may still hold the code location's error
    from while it was down (it refreshes it once a minute): the queue then re-submits the run
    (pipelines.instance.RUN_QUEUE_RETRIES) instead of failing it."""
    lost = deployment.launch_refresh()
    run_pid(deployment, lost)
    deployment.stop("code", signal.SIGKILL)
    assert deployment.wait(lost) == DagsterRunStatus.FAILURE
    text = "\n".join(deployment.messages(lost))
    assert "Detected run worker status" in text and "code server" in text, text[-3000:]
    deployment.start("code")
    deployment.client.reload_repository_location("closeboard")
    following = deployment.launch_refresh()
    assert deployment.wait(following) == DagsterRunStatus.SUCCESS, "\n".join(deployment.messages(following)[-20:])
