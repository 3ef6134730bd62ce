"""The data home's local Dagster instance (pipelines/sqlite_storage.py): Dagster's SQLite files through
engines kept for the process. What it stores is what Dagster's own storage reads back from the same
files, a home's dagster.yaml written by an earlier closeboard moves to it with its runs, the kept
engines stay few and let go of deleted files, and a run's shard copied from the template is the file
Dagster's own initialisation makes."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest

import dagster as dg
import yaml
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.instance import INSTANCE_CONFIG, ensure_dagster_home, instance, instance_config
from pipelines.sqlite_storage import (
    ENGINES_KEPT,
    SHARD_TEMPLATE,
    CloseboardInstance,
    KeptSqliteEventLogStorage,
    KeptSqliteRunStorage,
)
from warehouse.home import Home


@dg.asset
def figure() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.asset_check(asset=figure)
def figure_is_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def run_once(dagster_instance: dg.DagsterInstance) -> str:
    result = dg.materialize([figure, figure_is_positive], instance=dagster_instance)
    assert result.success
    return result.run_id


def kept_event_log(ours: dg.DagsterInstance) -> KeptSqliteEventLogStorage:
    storage = ours.event_log_storage
    assert isinstance(storage, KeptSqliteEventLogStorage)
    return storage


def test_runs_stored_through_kept_engines_read_back_with_dagsters_own_storage(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    with instance(home) as ours:
        assert isinstance(ours, CloseboardInstance)
        assert isinstance(ours.run_storage, KeptSqliteRunStorage)
        assert isinstance(ours.event_log_storage, KeptSqliteEventLogStorage)
        run_ids = [run_once(ours) for _ in range(2)]
        events = {r: [e.dagster_event_type for e in ours.all_logs(r)] for r in run_ids}
    stock = tmp_path / "stock"  # Dagster's own classes on the same files
    stock.mkdir()
    (stock / "dagster.yaml").write_text(
        yaml.safe_dump({"storage": {"sqlite": {"base_dir": str(home.dagster)}}}), encoding="utf-8"
    )
    with dg.DagsterInstance.from_config(str(stock)) as theirs:
        assert type(theirs) is dg.DagsterInstance
        assert {r.run_id for r in theirs.get_runs()} == set(run_ids)
        for run_id in run_ids:
            assert theirs.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
            assert [e.dagster_event_type for e in theirs.all_logs(run_id)] == events[run_id]
        latest = theirs.get_latest_materialization_event(dg.AssetKey("figure"))
        assert latest is not None and latest.run_id == run_ids[-1]
        assert latest.asset_materialization.metadata["rows"].value == 3


def test_an_earlier_closeboard_s_dagster_yaml_moves_to_the_kept_storage_with_its_runs(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.dagster.mkdir(parents=True)
    (home.dagster / "dagster.yaml").write_text(yaml.safe_dump(INSTANCE_CONFIG, sort_keys=False), encoding="utf-8")
    with dg.DagsterInstance.from_config(str(home.dagster)) as earlier:
        assert type(earlier) is dg.DagsterInstance
        run_id = run_once(earlier)
    ensure_dagster_home(home)
    written = yaml.safe_load((home.dagster / "dagster.yaml").read_text(encoding="utf-8"))
    assert written == instance_config(None) and written["instance_class"]["class"] == "CloseboardInstance"
    with instance(home) as ours:
        assert isinstance(ours, CloseboardInstance)
        assert ours.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS


# the local dagster.yaml closeboard wrote before the one-second dequeue, as it wrote it
BEFORE_THE_DEQUEUE = """run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  runs:
    tag_concurrency_limits:
    - key: closeboard/warehouse
      limit: 1
  pools:
    default_limit: 1
    granularity: run
telemetry:
  enabled: false
instance_class:
  module: pipelines.sqlite_storage
  class: CloseboardInstance
"""


def test_a_dagster_yaml_from_before_the_one_second_dequeue_is_replaced_and_an_edited_one_kept(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.dagster.mkdir(parents=True)
    (home.dagster / "dagster.yaml").write_text(BEFORE_THE_DEQUEUE, encoding="utf-8")
    ensure_dagster_home(home)
    assert yaml.safe_load((home.dagster / "dagster.yaml").read_text(encoding="utf-8")) == instance_config(None)
    with instance(home) as ours:
        assert ours.run_coordinator.dequeue_interval_seconds == 1  # what the queue daemon sleeps between looks
    edited = BEFORE_THE_DEQUEUE.replace("enabled: false", "enabled: true")
    (home.dagster / "dagster.yaml").write_text(edited, encoding="utf-8")
    ensure_dagster_home(home)
    assert (home.dagster / "dagster.yaml").read_text(encoding="utf-8") == edited


def test_the_event_log_keeps_a_few_engines_and_none_on_wiped_files(tmp_path: Path) -> None:
    with instance(Home(tmp_path / "home")) as ours:
        storage = kept_event_log(ours)
        run_ids = [run_once(ours) for _ in range(ENGINES_KEPT + 2)]  # a shard per run, and the index
        assert len(storage._engines) == ENGINES_KEPT
        assert [e.dagster_event_type for e in ours.all_logs(run_ids[0])]  # an evicted shard opens again
        storage.wipe()  # deletes every run's shard file (it empties the index in place)
        assert [Path(url).name for url in storage._engines] == ["index.db"]
        assert not ours.all_logs(run_ids[-1])  # its file is gone: nothing is read from a kept connection
        later = run_once(ours)
        assert ours.get_run_by_id(later).status == dg.DagsterRunStatus.SUCCESS


def described(path: Path) -> tuple:
    """What a shard file is: its tables, indexes and their SQL, Alembic revision, journal mode and pages."""
    con = sqlite3.connect(path)
    try:
        return (
            sorted(con.execute("select type, name, tbl_name, sql from sqlite_master").fetchall()),
            con.execute("select version_num from alembic_version").fetchall(),
            *(con.execute(f"pragma {p}").fetchall() for p in ("journal_mode", "user_version", "page_size")),
        )
    finally:
        con.close()


def dagsters_own_shard(folder: Path) -> Path:
    """A run's shard as Dagster's own event log storage creates it, in `folder`."""
    stock = SqliteEventLogStorage(str(folder))
    with stock.run_connection("a-run"):
        pass
    stock.dispose()
    return folder / "a-run.db"


def test_a_new_runs_shard_is_the_file_dagsters_own_initialisation_makes(tmp_path: Path) -> None:
    with instance(Home(tmp_path / "home")) as ours:
        storage = kept_event_log(ours)
        run_ids = [run_once(ours) for _ in range(2)]
        folder = Path(storage.path_for_shard(run_ids[0])).parent
        assert (folder / SHARD_TEMPLATE).is_file() and not SHARD_TEMPLATE.endswith(".db")
        assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")) == []  # no copy left behind
        # every connection commits without waiting for the disk (WAL's usual setting: 1 is NORMAL)
        with storage.run_connection(run_ids[0]) as conn:
            assert conn.exec_driver_sql("pragma synchronous").scalar() == 1
    made = described(dagsters_own_shard(tmp_path / "stock"))
    for run_id in run_ids:
        assert described(folder / f"{run_id}.db") == made
    # Dagster's own storage lists the runs' shards only, never the template
    reader = SqliteEventLogStorage(str(folder))
    try:
        assert sorted(reader.get_all_run_ids()) == sorted(run_ids)
    finally:
        reader.dispose()


def test_a_shard_that_exists_already_is_never_overwritten_by_the_template(tmp_path: Path) -> None:
    with instance(Home(tmp_path / "home")) as ours:
        storage = kept_event_log(ours)
        first = run_once(ours)
        logged = [e.dagster_event_type for e in ours.all_logs(first)]
        storage._initialized_dbs.discard(first)  # as a second process would find it: made, not by itself
        storage._close_engines()
        assert storage._copy_template(first) is False
        assert [e.dagster_event_type for e in ours.all_logs(first)] == logged


def test_without_hard_links_dagster_creates_the_shard_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system where the copy cannot be linked into place (no hard links): the run's shard is made
    the way Dagster makes it, and the run is stored as usual."""

    def no_links(source: str, target: str) -> None:
        raise OSError(errno.EPERM, "hard links are not supported here", target)

    monkeypatch.setattr(os, "link", no_links)
    with instance(Home(tmp_path / "home")) as ours:
        run_id = run_once(ours)
        shard = Path(kept_event_log(ours).path_for_shard(run_id))
        assert ours.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
        assert not [p for p in shard.parent.iterdir() if p.name.endswith(".tmp")]
    assert described(shard) == described(dagsters_own_shard(tmp_path / "stock"))


def test_the_schedule_storage_is_checked_at_its_first_use_as_dagster_checks_it(tmp_path: Path) -> None:
    """A run reads no schedule: opening the instance leaves the schedules' file alone; the first use
    creates and stamps it as Dagster's own storage does, and Dagster's storage then reads what ours wrote."""
    from dagster._core.remote_origin import (
        GrpcServerCodeLocationOrigin,
        RemoteInstigatorOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        ScheduleInstigatorData,
    )
    from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage

    home = Home(tmp_path / "home")
    schedules = home.dagster / "schedules"
    with instance(home) as ours:
        assert not (schedules / "schedules.db").exists()
        origin = RemoteInstigatorOrigin(
            RemoteRepositoryOrigin(GrpcServerCodeLocationOrigin(host="localhost", port=1), "repo"), "nightly"
        )
        state = InstigatorState(
            origin, InstigatorType.SCHEDULE, InstigatorStatus.RUNNING, ScheduleInstigatorData("0 6 * * *", None)
        )
        ours.add_instigator_state(state)
        db_revision, head = ours.schedule_storage.alembic_version()
        assert db_revision == head and head is not None
    theirs = SqliteScheduleStorage.from_local(str(schedules))
    assert [s.instigator_name for s in theirs.all_instigator_state()] == ["nightly"]
