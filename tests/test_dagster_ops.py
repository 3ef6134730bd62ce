"""Operations through the real Dagster UI stack: `closeboard ui` (webserver + daemon) as a subprocess on
a free loopback port, runs launched through the webserver's GraphQL API as the UI's launch button does.
Each daemon-launched run is a process of its own (~15 s on 2 cores): the pair launched at once serves
both the "renders newer data" and the "one after the other" tests."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from dagster import DagsterRunStatus

from tests.conftest import (
    STEP_RETRY,
    copy_home,
    edit_config,
    free_port,
    read,
    spawn_closeboard,
    stop_process,
    wait_for_port,
)
from tests.dagster_ui import RUN_TIMEOUT_S, Ui
from tests.servers import get, post
from warehouse.db import connect

pytestmark = pytest.mark.slow  # `closeboard ui` (webserver and daemon) as a subprocess, runs launched through it


@pytest.fixture(scope="module")
def ui(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    home = copy_home(demo_home, tmp_path_factory.mktemp("ui") / "home", without=("dagster",))
    # the schedules are RUNNING by default: keep the daemon from queueing a run of its own mid-test
    edit_config(home, lambda raw: raw.setdefault("schedules", {}).update(refresh_cron="0 6 1 1 *"))
    port = free_port()
    with (home / "ui.log").open("w") as log:
        proc = spawn_closeboard("ui", "--port", str(port), home=home, env={"DAGSTER_HOME": None}, stdout=log)
    ui = Ui(home, port)
    try:
        ui.wait_for_webserver([proc], lambda: (home / "ui.log").read_text()[-3000:])
        yield ui
    finally:
        stop_process(proc, timeout=30)


def status(home: Path) -> dict:
    return json.loads((home / "reports" / "status.json").read_text())


def test_instance_queues_warehouse_writers_one_at_a_time(ui: Ui) -> None:
    config = yaml.safe_load((ui.home / "dagster" / "dagster.yaml").read_text())
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["runs"]["tag_concurrency_limits"] == [{"key": "closeboard/warehouse", "limit": 1}]
    assert config["concurrency"]["pools"] == {"default_limit": 1, "granularity": "run"}


@dataclass
class Pair:
    """Two refreshes launched at once through the webserver's API (each a run the daemon starts in a
    process of its own): the home's status before them, and their run ids in launch order."""

    before: dict
    runs: tuple[str, str]


@pytest.fixture(scope="module")
def pair(ui: Ui) -> Pair:
    before = status(ui.home)
    first, second = ui.launch_refresh(), ui.launch_refresh()
    for run_id in (first, second):
        assert ui.wait(run_id) == DagsterRunStatus.SUCCESS, "\n".join(ui.messages(run_id)[-20:])
    return Pair(before, (first, second))


def test_refresh_launched_from_the_ui_api_renders_newer_data(ui: Ui, pair: Pair) -> None:
    with ui.instance() as instance:  # the run that finished last published what the home shows
        run_id = max(pair.runs, key=lambda r: instance.get_run_stats(r).end_time)
    after = status(ui.home)
    assert after["run_id"] == run_id
    assert all(after["sources_as_of"][s] > pair.before["sources_as_of"][s] for s in ("erp", "bank", "crm"))
    page = (ui.home / "reports" / "latest.html").read_text()
    assert f'content="{run_id}"' in page
    with ui.instance() as instance:
        materialized = instance.get_latest_materialization_event(
            __import__("dagster").AssetKey("erp_journal_lines")
        ).asset_materialization
    assert materialized.metadata["rows"].value == read(ui.home, "select count(*) from erp_journal_lines")[0][0]
    assert materialized.metadata["preview"].value.startswith("| entry_id | line_no |")


def test_two_refreshes_at_once_run_one_after_the_other(ui: Ui, pair: Pair) -> None:
    with ui.instance() as instance:
        stats = [instance.get_run_stats(r) for r in pair.runs]
    (a_start, a_end), (b_start, b_end) = ((s.start_time, s.end_time) for s in stats)
    assert a_end <= b_start or b_end <= a_start, "the two warehouse writers overlapped"
    for run_id in pair.runs:
        text = "\n".join(ui.messages(run_id)).lower()
        assert "warehouse busy" not in text and "lock" not in text and "conflicting" not in text


def test_a_source_that_dies_mid_pagination_fails_named_retried_and_changes_nothing(ui: Ui) -> None:
    page_before = hashlib.sha256((ui.home / "reports" / "latest.html").read_bytes()).hexdigest()
    lines_before = read(ui.home, "select count(*), sum(debit) from erp_journal_lines")[0]
    config_path = ui.home / "closeboard.yaml"
    original = config_path.read_text()
    config = yaml.safe_load(original)
    config["connectors"]["erp"]["client"] = {"retries": 1, "backoff_s": 0.05}
    # a whole pull of the ledger (not only the months that changed) pages past the failing offset
    config["connectors"]["erp"]["full_pull_every_days"] = 0
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

    with ui.instance() as instance:
        runs_before = {run.run_id for run in instance.get_runs()}
    port = free_port()
    with (ui.home / "serve.log").open("w") as log:
        proc = spawn_closeboard(
            *("serve", "--port", str(port), "--dagster-url", f"http://127.0.0.1:{ui.port}"),
            home=ui.home,
            env={"CLOSEBOARD_DAGSTER_URL": None},
            stdout=log,
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
        stop_process(proc, timeout=30)
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
