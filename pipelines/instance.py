"""The Dagster instance inside the data home: runs persist, and warehouse writers queue one at a time.

A run that dies must not hold the queue (DESIGN "Operations"): the CLI runs jobs in its own process
(`pipelines.close.execute`), outside any run monitoring, so a kill -9 leaves its run STARTED for
ever and the `closeboard/warehouse` limit then keeps every daemon-launched run QUEUED. Each
in-process run therefore carries the tag `closeboard/process` (host, pid and the process's start
time, so a recycled pid is not taken for the dead process), and `fail_dead_runs` -- called before
every in-process run and when `closeboard ui` starts -- reports every STARTING/STARTED run of a
process of this host that is gone as failed, through the instance API, with a message saying why.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import yaml
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from warehouse.home import Home

INSTANCE_CONFIG = {
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "QueuedRunCoordinator",
    },
    "concurrency": {
        "runs": {"tag_concurrency_limits": [{"key": "closeboard/warehouse", "limit": 1}]},
        "pools": {"default_limit": 1, "granularity": "run"},
    },
    "telemetry": {"enabled": False},
}


def _dagster_dir(home: Home) -> Path:
    path = home.dagster
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        config.write_text(yaml.safe_dump(INSTANCE_CONFIG, sort_keys=False), encoding="utf-8")
    return path


def ensure_dagster_home(home: Home) -> Path:
    """<home>/dagster with a dagster.yaml (written only when absent, so an operator's edits stay).
    What `closeboard ui` calls before starting Dagster: in-process runs left STARTED by a process
    that died are marked failed first, so the daemon's queue is not held by them."""
    path = _dagster_dir(home)
    if any(p.name != "dagster.yaml" for p in path.iterdir()):  # an instance with runs stored already
        with instance(home) as dagster_instance:
            for run_id in fail_dead_runs(dagster_instance):
                print(f"closeboard: run {run_id} was left running by a process that died; marked failed",
                      file=sys.stderr)
    return path


def instance(home: Home) -> DagsterInstance:
    return DagsterInstance.from_config(str(_dagster_dir(home)))


# --- runs whose process died ----------------------------------------------------------------------

PROCESS_TAG = "closeboard/process"  # "<host>|<pid>|<start time>" of the process running the job in-process
LIVE_STATUSES = (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED)


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of a process, from /proc; None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name before ")" may hold spaces
    return fields[0], fields[19]  # fields 3 and 22


def _start_time(pid: int) -> str | None:
    stat = _stat(pid)
    return stat[1] if stat else None


def process_tag(pid: int | None = None) -> dict[str, str]:
    """The tag naming this process (for an in-process run), so a later run can tell it died."""
    pid = os.getpid() if pid is None else pid
    return {PROCESS_TAG: f"{socket.gethostname()}|{pid}|{_start_time(pid) or ''}"}


def _alive(pid: int, started: str) -> bool:
    """Whether the process that ran the job still lives: the pid exists, is no zombie, and (where
    /proc tells) started when the tag says, so a recycled pid is not taken for it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    stat = _stat(pid)
    if stat is None:
        return True  # no /proc (or hidden): trust the pid
    state, start = stat
    return state != "Z" and (not started or start == started)


def dead_process(run: DagsterRun) -> str | None:
    """"pid N on HOST" when `run` was run in-process by a process of this host that is gone."""
    value = run.tags.get(PROCESS_TAG)
    if not value:
        return None  # launched by the daemon or the UI: Dagster's own run monitoring covers those
    host, _, rest = value.partition("|")
    pid_text, _, started = rest.partition("|")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None  # another machine's process: this host cannot tell whether it lives
    pid = int(pid_text)
    if pid == os.getpid() and started == (_start_time(pid) or ""):
        return None  # this very process
    return None if _alive(pid, started) else f"pid {pid} on {host}"


def fail_dead_runs(dagster_instance: DagsterInstance) -> list[str]:
    """Report every STARTING/STARTED in-process run whose process is gone as failed (and free any
    concurrency slot it held), so the run queue moves; returns their run ids."""
    failed = []
    for run in dagster_instance.get_runs(filters=RunsFilter(statuses=list(LIVE_STATUSES))):
        gone = dead_process(run)
        if gone is None:
            continue
        dagster_instance.report_run_failed(
            run,
            message=f"closeboard: the process that ran this run in-process ({gone}) is gone (killed or "
                    "crashed); marked failed so the runs queued behind it can start",
        )
        storage = dagster_instance.event_log_storage
        if storage.supports_global_concurrency_limits:
            storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed
