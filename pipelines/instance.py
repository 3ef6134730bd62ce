"""The Dagster instance inside the data home: runs persist, and warehouse writers queue one at a time.

A run that dies must not hold the queue (DESIGN "Operations"): the CLI runs jobs in its own process
(`pipelines.close.execute`), outside any run monitoring, so a kill -9 leaves its run STARTED for
ever and the `closeboard/warehouse` limit then keeps every daemon-launched run QUEUED. Each
in-process run therefore carries the tag `closeboard/process` (host, pid and the process's start
time, so a recycled pid is not taken for the dead process), and `fail_dead_runs` -- called before
every in-process run and when `closeboard ui` starts -- reports every STARTING/STARTED run of a
process of this host that is gone as failed, through the instance API, with a message saying why.

A group's instance (issue 22, `entities:`) limits writers per entity: the tag `closeboard/warehouse:
<entity>` at most once per value. The jobs' own runs carry it, but runs Dagster makes by itself carry only
their partition's tags (a backfill of the close history `close_snapshot`, entity x month, launched from
the UI; a materialization from the asset graph): `WriterRunCoordinator`, Dagster's QueuedRunCoordinator
that first gives such a run its entity's tag, so the queue holds it behind that entity's other writers.

Production (issue 22, docs/deploy.md): `instance: {postgres_url: "${DAGSTER_PG_URL}"}` in closeboard.yaml
puts the run, event-log and schedule storage on PostgreSQL (`dagster-postgres`; the URL stays an
environment variable Dagster reads itself) and turns Dagster's run monitoring on, so a run whose
worker died is marked failed and the queue moves. Without `instance:` the home's dagster.yaml is
exactly what it always was (SQLite files in <home>/dagster).
"""

from __future__ import annotations

import functools
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, DefaultRunLauncher, QueuedRunCoordinator, RunsFilter
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.run_coordinator import SubmitRunContext

from connectors.config import ConfigError, InstanceConfig, load_config, load_group, read_yaml
from pipelines.sqlite_storage import INSTANCE_CLASS
from warehouse.home import config_path
from warehouse.home import Home

# The queue daemon looks for a run to start every second instead of Dagster's 5 s: a run launched from
# the UI, or by a served page's reload through the webserver, starts up to 4 s sooner, for one read of the
# run storage a second.
DEQUEUE = {"dequeue_interval_seconds": 1}
INSTANCE_CONFIG = {
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": DEQUEUE,
    },
    "concurrency": {
        "runs": {"tag_concurrency_limits": [{"key": "closeboard/warehouse", "limit": 1}]},
        "pools": {"default_limit": 1, "granularity": "run"},
    },
    "telemetry": {"enabled": False},
}


def _env_name(reference: str) -> str:
    return reference.strip()[2:-1]  # "${NAME}" (the config schema takes nothing else)


# --- a group's writers: one per entity ------------------------------------------------------------------

WAREHOUSE_TAG_KEY = "closeboard/warehouse"  # in a group its value names the entity: the limit is per value
PARTITION_TAG = "dagster/partition"
# a run of a backfill range names its two ends; a multi-partitioned run one tag per dimension
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
ENTITY_DIMENSION_TAG = "dagster/partition/entity"


def partition_entities(tags: Mapping[str, str]) -> set[str]:
    """The entities a run of a group's code location works on, as its tags name them: both ends of its
    partition range (a close-history key is `entity|month`), else its partition's `entity` dimension, else
    its partition (the refresh's partitions are the entities); none when the tags name no partition."""
    ends = {tags[t].split("|", 1)[0] for t in RANGE_TAGS if tags.get(t)}
    if ends:
        return ends
    if tags.get(ENTITY_DIMENSION_TAG):
        return {tags[ENTITY_DIMENSION_TAG]}
    return {tags[PARTITION_TAG].split("|", 1)[0]} if tags.get(PARTITION_TAG) else set()


class WriterRunCoordinator(QueuedRunCoordinator):
    """Dagster's QueuedRunCoordinator (same settings, same queue) for a group's instance: a submitted run
    of one entity's partitions that lacks the tag `closeboard/warehouse` gets `closeboard/warehouse:
    <entity>` before it is queued, so the per-value limit holds it behind that entity's other writers (a
    backfill of `close_snapshot` launched from the UI, whose runs Dagster tags with their partition range
    only). A run over several entities is left as it is: its run refuses to start, naming them."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        entities = partition_entities(run.tags)
        if WAREHOUSE_TAG_KEY not in run.tags and len(entities) == 1:
            self._instance.add_run_tags(run.run_id, {WAREHOUSE_TAG_KEY: entities.pop()})
            context = SubmitRunContext(self._instance.get_run_by_id(run.run_id), context.workspace)
        return super().submit_run(context)


# a group of entities (issue 22): one writer per entity, not one in all: the tag's limit applies per value
# (`closeboard/warehouse: <entity>`), and the warehouse pool is not limited (each entity has its own file)
ENTITY_CONCURRENCY = {
    "runs": {
        "tag_concurrency_limits": [
            {"key": "closeboard/warehouse", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
        ]
    },
    "pools": {"granularity": "run"},
}
ENTITY_RUN_COORDINATOR = {"module": __name__, "class": WriterRunCoordinator.__name__, "config": DEQUEUE}

# A code server restarting (a deploy, a lost machine) must not fail the runs queued meanwhile: the daemon
# refreshes its view of the code locations only every 60 s (dagster._daemon.controller), and until then a
# dequeue meets the old server's error and, without retries, fails the run as "unrecoverable". Re-queued
# every 15 s, six times, a run outlasts one such refresh with margin (DagsterUserCodeUnreachableError and
# DagsterCodeLocationLoadError only; any other launch error still fails the run at once).
RUN_QUEUE_RETRIES = {"max_user_code_failure_retries": 6, "user_code_failure_retry_delay": 15}


def instance_config(settings: InstanceConfig | None = None, *, entities: bool = False) -> dict:
    """The dagster.yaml for `instance:` (None: the local SQLite instance, INSTANCE_CONFIG on
    `pipelines.sqlite_storage.CloseboardInstance`): the
    same queue and writer limits, storage on PostgreSQL and run monitoring on. The deployments in
    deploy/ carry the same settings (tests/test_deploy_postgres.py compares them). With `entities`
    (a group's closeboard.yaml), the writer limit is per entity (ENTITY_CONCURRENCY) and every run of one
    entity's partitions carries its writer tag (WriterRunCoordinator)."""
    coordinator = ENTITY_RUN_COORDINATOR if entities else INSTANCE_CONFIG["run_coordinator"]
    if settings is not None:  # code servers of their own, which restart
        coordinator = {**coordinator, "config": {**coordinator["config"], **RUN_QUEUE_RETRIES}}
    if entities:
        group = {"concurrency": ENTITY_CONCURRENCY, "run_coordinator": coordinator}
        return {key: group.get(key, value) for key, value in instance_config(settings).items()}
    if settings is None:  # the home's SQLite files, through Dagster's storage with its connections kept
        return {**INSTANCE_CONFIG, "instance_class": INSTANCE_CLASS}
    return {
        "storage": {"postgres": {"postgres_url": {"env": _env_name(settings.postgres_url)}}},
        "run_coordinator": coordinator,
        "run_launcher": RUN_LAUNCHER,
        "run_monitoring": {
            "enabled": True,
            "poll_interval_seconds": settings.run_monitoring_interval_s,
            "start_timeout_seconds": settings.run_start_timeout_s,
            "cancel_timeout_seconds": settings.run_start_timeout_s,
            "max_resume_run_attempts": 0,  # a refresh is re-run whole, never resumed halfway
            # a run that died holding the warehouse pool's slot gives it back: the next writer starts
            "free_slots_after_run_end_seconds": settings.run_monitoring_interval_s,
        },
        **{key: value for key, value in INSTANCE_CONFIG.items() if key != "run_coordinator"},
    }


class MonitoredRunLauncher(DefaultRunLauncher):
    """Dagster's DefaultRunLauncher (each run a child process of the code server that launched it)
    with the health check the daemon's run monitoring needs, which the default one lacks: a STARTED run
    is alive while that code server still lists it among its runs. A code server that was killed or
    restarted (a lost machine) lists nothing, so its runs are marked failed and the queue moves. Runs
    that no code server launched (the CLI's in-process runs) are left to `fail_dead_runs`."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        from dagster._grpc.types import GetCurrentRunsResult
        from dagster._serdes import deserialize_value

        client = self._get_grpc_client_for_termination(run.run_id)
        if client is None:  # finished, or not launched through a code server
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not launched by a code server")
        where = f"{client.host}:{client.port}" if client.port else str(client.socket)
        try:
            current = deserialize_value(client.get_current_runs(), GetCurrentRunsResult)
        except Exception as exc:  # the code server is gone, and its child processes with it
            return CheckRunHealthResult(
                WorkerStatus.FAILED, f"the code server that ran it ({where}) is unreachable: {type(exc).__name__}"
            )
        if run.run_id in current.current_runs:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"the code server at {where} no longer runs it (restarted, or its run process died)"
        )


RUN_LAUNCHER = {"module": __name__, "class": MonitoredRunLauncher.__name__}


def _read_settings(home: Home, config: Path | None = None) -> tuple[InstanceConfig | None, bool]:
    """(the `instance:` block, whether the file declares `entities:`) of the closeboard.yaml the code
    location reads (`config`, else as `warehouse.home.config_path`). Only a file with an `instance:`
    block or `entities:` is checked whole here; a broken one without them is reported by the run that loads it."""
    path = config_path(config, home)
    try:
        raw = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None, False
    if not isinstance(raw, dict):
        return None, False
    if "entities" in raw:
        group = load_group(path)
        return (group.instance if group is not None else None), True
    if raw.get("instance") is None:
        return None, False
    return load_config(path).instance, False


def instance_settings(home: Home, config: Path | None = None) -> InstanceConfig | None:
    """The `instance:` block of the closeboard.yaml the code location reads, None without one."""
    return _read_settings(home, config)[0]


@functools.cache
def _local_instance_texts() -> frozenset[str]:
    """`_local_instances` as the files closeboard wrote them (~50 ms of YAML each time it was asked)."""
    return frozenset(yaml.safe_dump(c, sort_keys=False) for c in _local_instances())


def _local_instances() -> list[dict]:
    """Every local dagster.yaml closeboard has written, today's and earlier ones: a home's file that
    is one of them was never edited, and is replaced by today's (or by the PostgreSQL one)."""
    local = [instance_config(None, entities=e) for e in (False, True)]
    local.append({**INSTANCE_CONFIG, "concurrency": ENTITY_CONCURRENCY})  # 0966214
    # before the kept SQLite connections (pipelines/sqlite_storage.py)
    local += [{k: v for k, v in c.items() if k != "instance_class"} for c in local[:2]]
    # before the one-second dequeue (DEQUEUE)
    for c in list(local):
        coordinator = {k: v for k, v in c["run_coordinator"].items() if k != "config"}
        local.append({**c, "run_coordinator": coordinator})
    return local


def _dagster_dir(home: Home, config: Path | None = None) -> Path:
    path = home.dagster
    path.mkdir(parents=True, exist_ok=True)
    target = path / "dagster.yaml"
    settings, entities = _read_settings(home, config)
    if settings is not None and _env_name(settings.postgres_url) not in os.environ:
        raise ConfigError(
            f"closeboard.yaml instance.postgres_url: environment variable "
            f"{_env_name(settings.postgres_url)} is not set (the Dagster instance's PostgreSQL URL)"
        )
    wanted = yaml.safe_dump(instance_config(settings, entities=entities), sort_keys=False)
    if not target.exists():
        target.write_text(wanted, encoding="utf-8")
    elif (text := target.read_text(encoding="utf-8")) != wanted and text in _local_instance_texts():
        target.write_text(wanted, encoding="utf-8")  # a local one closeboard wrote, never edited
    elif settings is not None:
        text = target.read_text(encoding="utf-8")
        if "postgres" not in ((yaml.safe_load(text) or {}).get("storage") or {}):
            raise ConfigError(
                f"{target}: closeboard.yaml's `instance:` puts the Dagster instance on PostgreSQL, but this "
                "dagster.yaml (edited by hand) keeps another storage; add `storage: {postgres: {postgres_url: "
                f"{{env: {_env_name(settings.postgres_url)}}}}}}}` to it, or delete it to have closeboard write it"
            )
    return path


def ensure_dagster_home(home: Home, config: Path | None = None) -> Path:
    """<home>/dagster with a dagster.yaml (written only when absent, so an operator's edits stay;
    with `instance:` in `config`, the untouched local one is replaced by the PostgreSQL one).
    What `closeboard ui` calls before starting Dagster: in-process runs left STARTED by a process
    that died are marked failed first, so the daemon's queue is not held by them."""
    path = _dagster_dir(home, config)
    stored = any(p.name != "dagster.yaml" for p in path.iterdir())  # an instance with runs stored already
    if stored or instance_settings(home, config) is not None:  # on PostgreSQL the runs are in the database
        with instance(home, config) as dagster_instance:
            for run_id in fail_dead_runs(dagster_instance):
                print(
                    f"closeboard: run {run_id} was left running by a process that died; marked failed", file=sys.stderr
                )
    return path


def instance(home: Home, config: Path | None = None) -> DagsterInstance:
    """The home's Dagster instance: SQLite in <home>/dagster, or PostgreSQL with `instance:` in `config`."""
    return DagsterInstance.from_config(str(_dagster_dir(home, config)))


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
    """ "pid N on HOST" when `run` was run in-process by a process of this host that is gone."""
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
