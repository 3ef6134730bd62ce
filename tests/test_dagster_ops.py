"""Operations through the real Dagster UI stack: `closeboard ui` (webserver + daemon) as a subprocess on
a free loopback port, runs launched through the webserver's GraphQL API as the UI's launch button does."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from tests.conftest import REPO, STEP_RETRY, free_port, wait_for_port
from tests.conftest import read
from warehouse.db import connect

UI_START_TIMEOUT_S = 120
RUN_TIMEOUT_S = 240


class Ui:
    def __init__(self, home: Path, port: int) -> None:
        self.home, self.port = home, port
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=30)

    def instance(self) -> DagsterInstance:
        return DagsterInstance.from_config(str(self.home / "dagster"))

    def launch_refresh(self) -> str:
        return self.client.submit_job_execution("refresh", repository_location_name="closeboard")

    def wait(self, run_id: str) -> DagsterRunStatus:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while time.monotonic() < deadline:
            status = self.client.get_run_status(run_id)
            if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
                return status
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} did not finish in {RUN_TIMEOUT_S} s")

    def messages(self, run_id: str) -> list[str]:
        with self.instance() as instance:
            return [e.message or "" for e in instance.all_logs(run_id)]


@pytest.fixture(scope="module")
def ui(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    home = tmp_path_factory.mktemp("ui") / "home"
    shutil.copytree(demo_home, home, ignore=shutil.ignore_patterns("*.lock", "*.owner", "dagster"))
    # the schedules are RUNNING by default: keep the daemon from queueing a run of its own mid-test
    config = home / "closeboard.yaml"
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw.setdefault("schedules", {})["refresh_cron"] = "0 6 1 1 *"
    config.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    port = free_port()
    env = dict(os.environ)
    env.pop("CLOSEBOARD_CONFIG", None)
    env.pop("DAGSTER_HOME", None)
    log = (home / "ui.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "--home", str(home), "ui", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    ui = Ui(home, port)
    try:
        deadline = time.monotonic() + UI_START_TIMEOUT_S
        while True:
            assert proc.poll() is None, (home / "ui.log").read_text()[-3000:]
            try:
                ui.client._execute("{ version }")  # noqa: SLF001 - the documented client has no ping
                break
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "the Dagster UI did not come up:\n" + (home / "ui.log").read_text()[-3000:]
                    ) from exc
                time.sleep(0.5)
        yield ui
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def status(home: Path) -> dict:
    return json.loads((home / "reports" / "status.json").read_text())


def test_instance_queues_warehouse_writers_one_at_a_time(ui: Ui) -> None:
    config = yaml.safe_load((ui.home / "dagster" / "dagster.yaml").read_text())
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["runs"]["tag_concurrency_limits"] == [{"key": "closeboard/warehouse", "limit": 1}]
    assert config["concurrency"]["pools"] == {"default_limit": 1, "granularity": "run"}


def test_refresh_launched_from_the_ui_api_renders_newer_data(ui: Ui) -> None:
    before = status(ui.home)
    run_id = ui.launch_refresh()
    assert ui.wait(run_id) == DagsterRunStatus.SUCCESS, "\n".join(ui.messages(run_id)[-20:])
    after = status(ui.home)
    assert after["run_id"] == run_id
    assert all(after["sources_as_of"][s] > before["sources_as_of"][s] for s in ("erp", "bank", "crm"))
    page = (ui.home / "reports" / "latest.html").read_text()
    assert f'content="{run_id}"' in page
    with ui.instance() as instance:
        materialized = instance.get_latest_materialization_event(
            __import__("dagster").AssetKey("erp_journal_lines")
        ).asset_materialization
    assert materialized.metadata["rows"].value == read(ui.home, "select count(*) from erp_journal_lines")[0][0]
    assert materialized.metadata["preview"].value.startswith("| entry_id | line_no |")


def test_two_refreshes_at_once_run_one_after_the_other(ui: Ui) -> None:
    first, second = ui.launch_refresh(), ui.launch_refresh()
    assert ui.wait(first) == DagsterRunStatus.SUCCESS
    assert ui.wait(second) == DagsterRunStatus.SUCCESS
    with ui.instance() as instance:
        stats = [instance.get_run_stats(r) for r in (first, second)]
    (a_start, a_end), (b_start, b_end) = ((s.start_time, s.end_time) for s in stats)
    assert a_end <= b_start or b_end <= a_start, "the two warehouse writers overlapped"
    for run_id in (first, second):
        text = "\n".join(ui.messages(run_id)).lower()
        assert "warehouse busy" not in text and "lock" not in text and "conflicting" not in text


def test_a_source_that_dies_mid_pagination_fails_named_retried_and_changes_nothing(ui: Ui) -> None:
    page_before = hashlib.sha256((ui.home / "reports" / "latest.html").read_bytes()).hexdigest()
    lines_before = read(ui.home, "select count(*), sum(debit) from erp_journal_lines")[0]
    config_path = ui.home / "closeboard.yaml"
    original = config_path.read_text()
    config = yaml.safe_load(original)
    config["connectors"]["erp"]["client"] = {"retries": 1, "backoff_s": 0.05}
    config_path.write_text(yaml.safe_dump(config))
    switches = ui.home / "demo" / "_switches.json"
    switches.write_text(json.dumps({"max_page_size": 1000, "fail_at_offset": 3000}))
    try:
        run_id = ui.launch_refresh()
        assert ui.wait(run_id) == DagsterRunStatus.FAILURE
    finally:
        switches.unlink()
        config_path.write_text(original)
    with ui.instance() as instance:
        events = instance.all_logs(run_id)
    failures = [e for e in events if e.dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"]
    retries = [e for e in events if e.dagster_event and e.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"]
    assert [e.step_key for e in failures] == ["erp_source"]
    assert [e.step_key for e in retries] == ["erp_source"] * STEP_RETRY["source_retries"]  # the home's refresh: block
    error, chain = failures[0].dagster_event.step_failure_data.error, []
    while error is not None:  # "Exceeded max_retries", then the failure it retried
        chain.append(error.message)
        error = error.cause or error.context
    assert any("source 'erp', tool 'list_journal_lines'" in message for message in chain), chain
    assert hashlib.sha256((ui.home / "reports" / "latest.html").read_bytes()).hexdigest() == page_before
    con = connect(ui.home / "warehouse.duckdb", read_only=True)
    try:
        assert con.execute("select count(*), sum(debit) from erp_journal_lines").fetchall()[0] == lines_before
    finally:
        con.close()


def test_served_reload_launches_the_refresh_job_on_the_running_dagster_webserver(ui: Ui) -> None:
    from dagster import DagsterEventType

    from tests.reports.test_served import get, post

    with ui.instance() as instance:
        runs_before = {run.run_id for run in instance.get_runs()}
    port = free_port()
    env = {**os.environ, "CLOSEBOARD_HOME": str(ui.home)}
    env.pop("CLOSEBOARD_CONFIG", None)
    env.pop("CLOSEBOARD_DAGSTER_URL", None)
    log = (ui.home / "serve.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "--home",
            str(ui.home),
            "serve",
            "--port",
            str(port),
            "--dagster-url",
            f"http://127.0.0.1:{ui.port}",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc)
        base = f"http://127.0.0.1:{port}"
        token = re.search(r'"token":"([^"]+)"', get(f"{base}/latest.html")).group(1)
        assert post(f"{base}/api/refresh", {"Origin": base, "X-Closeboard-Token": token}) == 202
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while (served := json.loads(get(f"{base}/api/status")))["refresh"]["state"] == "running":
            assert time.monotonic() < deadline, served
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
    job = served["refresh"]
    assert job["state"] == "succeeded", (job, (ui.home / "serve.log").read_text()[-3000:])
    assert job["launcher"] == "dagster" and "fallback" not in job
    assert not (ui.home / "serve" / "refresh.log").exists(), "fell back to a `closeboard refresh` subprocess"
    with ui.instance() as instance:
        new_runs = [run for run in instance.get_runs() if run.run_id not in runs_before]
        assert [(run.job_name, run.status) for run in new_runs] == [("refresh", DagsterRunStatus.SUCCESS)]
        run_id = new_runs[0].run_id
        events = {e.dagster_event.event_type for e in instance.all_logs(run_id) if e.dagster_event}
    assert DagsterEventType.RUN_ENQUEUED in events, "not launched through the instance's run queue"
    assert job["dagster_run_id"] == run_id
    assert served["run_id"] == status(ui.home)["run_id"] == run_id
