"""The resources closeboard's assets use: configuration, data home and the writer lock
(`CloseboardResource`), and how each source's MCP server is reached (`SourcesResource`).

The lock is taken when the run starts and released when it ends, so a whole run is the one
writer of the warehouse (DESIGN "Operations"). The run opens the DuckDB file once, at its first use,
and closes it at its end (opening it cost ~30 ms and the data DuckDB had cached, at every use of every
step); each use gets a connection of its own to it, so its temp tables and macros end with the use.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from connectors.config import Config, ConnectorConfig, expand, load_config
from connectors.prestart import ServerPool, stdio_servers
from pipelines import progress
from warehouse.db import WarehouseLock, connect, ensure_schema
from warehouse.home import Home, config_path


class CloseboardResource(dg.ConfigurableResource):
    """closeboard.yaml, the data home, and the warehouse held for the length of a run."""

    config_path: str = ""
    home: str = ""
    lock_timeout_s: float = 600.0

    _lock: WarehouseLock | None = PrivateAttr(default=None)
    _config: Config | None = PrivateAttr(default=None)
    _in_run: bool = PrivateAttr(default=False)
    _database: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)  # the run's open warehouse

    @property
    def data_home(self) -> Home:
        return Home.resolve(self.home or None)

    def settings(self) -> Config:
        """closeboard.yaml, parsed once per run (and on each call outside one)."""
        if self._config is not None:
            return self._config
        return load_config(config_path(self.config_path or None, self.data_home))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._config = self.settings()  # every step of the run reads this one parse
        home = self.data_home.ensure()

        def waiting(message: str) -> None:  # a second run says what it waits for instead of waiting in silence
            progress.emit(message)
            context.log.info(message)

        self._lock = WarehouseLock(
            home, owner=context.run_id or "unknown", timeout_s=self.lock_timeout_s, on_wait=waiting
        )
        self._lock.acquire()
        self._in_run = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._config = None  # the next run reads closeboard.yaml afresh
        self._in_run = False
        try:
            self._close_database()  # DuckDB checkpoints it: the file holds the run's work
        finally:
            if self._lock is not None:
                self._lock.release()

    def history_partition(self, period: str) -> str:
        """The `close_snapshot` partition of `period` (a group's names the run's entity too)."""
        return period

    def history_periods(self, partition_keys: Sequence[str]) -> list[str]:
        """The months of `close_snapshot` partitions a run was given."""
        return list(partition_keys)

    def _open_database(self) -> duckdb.DuckDBPyConnection:
        memory = self.settings().warehouse
        con = connect(self.data_home.warehouse, memory_limit=memory.memory_limit, temp_directory=memory.temp_directory)
        try:
            ensure_schema(con)
        except BaseException:
            con.close()
            raise
        return con

    def _close_database(self) -> None:
        database, self._database = self._database, None
        if database is not None:
            database.close()

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the live warehouse for one use (its temp tables and macros end with it),
        held to closeboard.yaml's `warehouse.memory_limit`, spilling to its `temp_directory`. In a
        run, the file stays open from its first use to the run's end (a use that fails closes it: the
        next opens it afresh, as a retried step would); outside one, it is closed after the use."""
        if not self._in_run:
            database = self._open_database()
            try:
                yield database
            finally:
                database.close()
            return
        if self._database is None:
            self._database = self._open_database()
        con = self._database.cursor()
        try:
            yield con
        except BaseException:
            con.close()
            self._close_database()
            raise
        finally:
            con.close()


class GroupResource(CloseboardResource):
    """The resource of a group's code location (issue 22, pipelines/entities.py): `config_path` and `home`
    are the group's; each run works on the entity its partition key names (else its
    `closeboard/warehouse` tag): that entity's closeboard.yaml, its data home `<home>/entities/<id>/` and
    its own writer lock. ``${CLOSEBOARD_HOME}`` in the entity's server arguments is its own home."""

    _entity: str | None = PrivateAttr(default=None)
    _entity_config: Path | None = PrivateAttr(default=None)
    _saved_home: str | None = PrivateAttr(default=None)
    _group_home: Home | None = PrivateAttr(default=None)

    @property
    def group_home(self) -> Home:
        """The group's home (fixed at the run's start: the run points $CLOSEBOARD_HOME at its entity)."""
        return self._group_home or Home.resolve(self.home or None)

    @property
    def data_home(self) -> Home:
        return self.group_home.entity(self._entity) if self._entity else self.group_home

    def group(self) -> Any:
        from connectors.config import ConfigError, load_group

        path = config_path(self.config_path or None, self.group_home)
        group = load_group(path)
        if group is None:
            raise ConfigError(f"{path} declares no `entities:`; the group's code location needs them")
        return group

    def settings(self) -> Config:
        if self._config is not None:
            return self._config
        if self._entity_config is None:
            raise dg.Failure("no entity chosen: a run of a group names its entity by its partition key")
        return load_config(self._entity_config)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from pipelines.entities import WAREHOUSE_TAG_KEY, entity_config_file, run_entity

        tags = context.dagster_run.tags if context.dagster_run is not None else {}
        entity = run_entity(tags)
        group = self.group()
        if entity not in group.ids:
            raise dg.Failure(
                f"run {context.run_id}: entity {entity!r} is not one of {', '.join(group.ids)} ({group.path}): "
                "launch the refresh for one of them (its partition)"
            )
        if tags.get(WAREHOUSE_TAG_KEY) != entity:  # outside the per-entity run queue: the lock still guards
            context.log.warning(f"run without the tag {WAREHOUSE_TAG_KEY}: {entity}; the writer lock still guards it")
        self._group_home = self.group_home
        self._entity, self._entity_config = entity, entity_config_file(group, entity, self.group_home)
        self._saved_home = os.environ.get("CLOSEBOARD_HOME")
        os.environ["CLOSEBOARD_HOME"] = str(self.data_home.root)  # the entity's servers read its own demo/ files
        super().setup_for_execution(context)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        super().teardown_after_execution(context)
        if self._saved_home is None:
            os.environ.pop("CLOSEBOARD_HOME", None)
        else:
            os.environ["CLOSEBOARD_HOME"] = self._saved_home
        self._entity = self._entity_config = self._saved_home = self._group_home = None

    def history_partition(self, period: str) -> str:
        from pipelines.entities import history_partition_key

        return history_partition_key(self._entity or "", period)

    def history_periods(self, partition_keys: Sequence[str]) -> list[str]:
        """The months of the run's `entity|month` partitions; every one must be this run's entity."""
        pairs = [key.split("|", 1) for key in partition_keys]
        others = sorted({entity for entity, _ in pairs if entity != self._entity})
        if others:
            raise dg.Failure(
                f"a run of the close history works on one entity ({self._entity}); it was also given "
                f"{', '.join(others)}: backfill each entity's months on their own",
                allow_retries=False,
            )
        return [month for _, month in pairs]

    def portfolio(self) -> Path:
        """Rewrite the group's portfolio page (after this entity's dashboard)."""
        from pipelines.entities import write_group_portfolio

        return write_group_portfolio(self.group(), self.group_home)


# closeboard's bundled servers: `python -m <module> --data DIR` builds the same server in this process
BUNDLED_SERVERS = (
    "connectors.servers.erp",
    "connectors.servers.bank",
    "connectors.servers.crm",
    "connectors.servers.bankfiles",
    "connectors.servers.budget",
)


class SourcesResource(dg.ConfigurableResource):
    """How a run reaches each source's MCP server. Live (the default): as closeboard.yaml says, a
    stdio subprocess or streamable HTTP. In memory (`in_memory=True`, for tests and quick local
    runs): closeboard's bundled servers built in this process from the `--data` directory their stdio
    command names, talked to through the same MCP client and session, without a subprocess; any
    other server is refused, naming the source."""

    in_memory: bool = False

    def started_ahead(self, run_id: str, config: Config, home: Home, sources: Iterable[str]) -> ServerPool | None:
        """Live: run `run_id`'s stdio servers of `sources`, every one started now if not yet, each
        adopted by its source's session later in the run (connectors/prestart.py); stopped at the
        run's end if no session took it. In memory: None (nothing to start)."""
        if self.in_memory:
            return None
        pool = ServerPool.of_run(run_id)
        pool.start(stdio_servers(config, home.root, sources))
        return pool

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        ServerPool.end_run(context.run_id or "")

    def server(self, connector: ConnectorConfig, home: Home | None = None) -> Any:
        """The in-memory server for `connector`, or None to reach it live. Its arguments are expanded
        as the session would expand them (``${CLOSEBOARD_HOME}`` is `home` when given)."""
        if not self.in_memory:
            return None
        environ = {**os.environ, **({"CLOSEBOARD_HOME": str(home.root)} if home is not None else {})}
        args = [expand(a, source=connector.name, environ=environ) for a in connector.server.args]
        module = args[args.index("-m") + 1] if "-m" in args[:-1] else None
        if module not in BUNDLED_SERVERS or "--data" not in args[:-1]:
            raise ValueError(
                f"{connector.name}: in-memory sources are closeboard's bundled servers "
                f"(python -m {'|'.join(BUNDLED_SERVERS)} --data DIR); this one is "
                f"{connector.server.command or connector.server.url} {' '.join(args)}".rstrip()
            )
        return importlib.import_module(module).build_server(Path(args[args.index("--data") + 1]))
