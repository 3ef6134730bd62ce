"""The data home's local Dagster instance: Dagster's own SQLite storage, with its connections kept.

Dagster's SQLite run storage and run-sharded event log create a SQLAlchemy engine, open the file,
and dispose of both again for every statement they run. A refresh stores ~110 events (each asset
materialization written to its run's shard and mirrored into the index shard), and that cost
~0.9 s of a 5 s refresh at scale 1 (issue 21 item 6, start-up and run overhead). Here each file
keeps one engine and its pooled connection for the life of the process (the event log's most recent
shards only, `ENGINES_KEPT`, so a webserver reading many runs holds few files open): the same
tables, files and transactions, ~0.4 s. The schedules' file is checked at its first use, not at every
instance's creation (a refresh reads no schedule).

Dagster builds its storage from the instance's configuration, where a storage class would need the
home's absolute path written into dagster.yaml (and a copied or moved home would write to the
original). So the home's dagster.yaml names `CloseboardInstance` (`instance_class`), whose defaults
give the storage classes below the instance's own directory, as Dagster's defaults do.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import yaml
from dagster import DagsterInstance, __version__
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS, create_db_conn_string
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

from connectors.plain import write_atomic

ENGINES_KEPT = 8  # event log shards whose engine (and connection) a process keeps: the index, recent runs
# an empty run shard as this Dagster version initialises one, beside the shards (not a `*.db`: Dagster
# takes every `*.db` there for a run's shard)
SHARD_TEMPLATE = f".shard-template-{__version__}.sqlite"


def _engine(conn_string: str) -> Engine:
    """An engine that keeps its one connection to the file between statements (SQLite takes its locks
    per transaction, so an idle connection holds none), committing with `synchronous=NORMAL`."""
    engine = create_engine(
        conn_string, pool_size=1, max_overflow=4, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
    )
    event.listen(engine, "connect", _synchronous_normal)
    return engine


def _synchronous_normal(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    dbapi_connection.execute("pragma synchronous=NORMAL")


class KeptSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log, each recent shard's engine kept (`_connect` as Dagster's,
    one transaction per use, under the storage's lock)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            conn_string = self.conn_string_for_shard(shard)
            engine = self._engines.pop(conn_string, None) or _engine(conn_string)
            self._engines[conn_string] = engine  # the most recently used last
            while len(self._engines) > ENGINES_KEPT:
                self._engines.popitem(last=False)[1].dispose()
            if shard not in self._initialized_dbs:
                if not (shard != INDEX_SHARD_NAME and self._copy_template(shard)):
                    self._initdb(engine)  # the index, or a shard that exists already
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _copy_template(self, shard: str) -> bool:
        """Create a new run's shard as a copy of `SHARD_TEMPLATE` (built first if this home has none).
        False when the shard exists already (another process made it: Dagster's check then applies) or
        the copy cannot be made (e.g. a file system without hard links): Dagster then creates it."""
        path = Path(self.path_for_shard(shard))
        if path.exists():
            return False
        template = path.with_name(SHARD_TEMPLATE)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            if not template.exists():
                self._build_template(template)
            shutil.copyfile(template, temp)
            os.link(temp, path)  # never over a shard another process has just created
        except OSError:
            return False
        finally:
            temp.unlink(missing_ok=True)
        return True

    def _build_template(self, template: Path) -> None:
        """An empty shard initialised by Dagster itself (tables, indexes, WAL mode, Alembic stamp),
        checkpointed into its one file, then put in place atomically."""

        def build(temp: Path) -> None:
            engine = create_engine(f"sqlite:///{temp}")
            try:
                self._initdb(engine)
            finally:
                engine.dispose()
            with closing(sqlite3.connect(temp)) as con:
                con.execute("pragma wal_checkpoint(TRUNCATE)")
            for leftover in (f"{temp}-wal", f"{temp}-shm"):
                Path(leftover).unlink(missing_ok=True)

        write_atomic(template, build)

    def _close_engines(self) -> None:
        with self._db_lock:
            engines, self._engines = list(self._engines.values()), OrderedDict()
        for engine in engines:
            engine.dispose()

    def wipe(self) -> None:
        self._close_engines()  # the shard files are deleted: no connection may stay on them
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._close_engines()


class KeptSqliteRunStorage(SqliteRunStorage):
    """Dagster's SQLite run storage with its engine kept."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(conn_string, inst_data)
        self._kept: Engine | None = None
        self._keeping = threading.Lock()  # the webserver's threads share the storage

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._keeping:
            if self._kept is None:
                self._kept = _engine(self._conn_string)
            engine = self._kept
        with engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        with self._keeping:
            engine, self._kept = self._kept, None
        if engine is not None:
            engine.dispose()


class CheckedLaterScheduleStorage(SqliteScheduleStorage):
    """Dagster's SQLite schedule storage (the daemon alone writes it, a tick at a time), its file
    checked as Dagster's `from_local` checks it (created, its Alembic revision read, stamped or
    migrated) at its first use rather than when the instance is made: a refresh reads no schedule,
    and the check read Alembic's migration scripts, ~0.1 s of every process that opened the instance."""

    def __init__(self, base_dir: str) -> None:
        self._base_dir = base_dir
        self._checked = False
        self._check_lock = threading.Lock()
        super().__init__(create_db_conn_string(base_dir, "schedules"))

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._check_lock:
            if not self._checked:
                SqliteScheduleStorage.from_local(self._base_dir)  # Dagster's own check, on its own engine
                self._checked = True
        with super().connect() as conn:
            yield conn


class KeptSqliteStorage(DagsterSqliteStorage):
    """DagsterSqliteStorage (the same files under `base_dir`) over the storages above."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self.base_dir = base_dir
        self._run_storage = KeptSqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = KeptSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = CheckedLaterScheduleStorage(_schedule_directory(base_dir))
        self._inst_data = inst_data
        DagsterStorage.__init__(self)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> KeptSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


class CloseboardInstance(DagsterInstance):
    """A Dagster instance whose default storage (no `storage:` in dagster.yaml) is `KeptSqliteStorage`
    under the instance's directory; everything else is Dagster's."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}  # no settings of its own in dagster.yaml

    @staticmethod
    def config_defaults(base_dir: str) -> Mapping[str, ConfigurableClassData | None]:
        return {
            **InstanceRef.config_defaults(base_dir),
            "storage": ConfigurableClassData(__name__, KeptSqliteStorage.__name__, yaml.dump({"base_dir": base_dir})),
        }


INSTANCE_CLASS = {"module": __name__, "class": CloseboardInstance.__name__}  # dagster.yaml's instance_class
