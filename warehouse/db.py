"""DuckDB access: one writer (guarded by a lock file), exact reads, and the read-only copy.

Only the process holding `WarehouseLock` opens the live file for writing. Readers (the served
page, CLI reads) open `warehouse.read.duckdb`, a copy replaced atomically after each good run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from filelock import FileLock, Timeout

from connectors.plain import write_atomic
from warehouse.home import Home

SCHEMA_FILES = ("canonical.sql", "ops.sql", "recon.sql", "snapshots.sql")


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse lock."""


def sql_text(*parts: str) -> str:
    """The text of a .sql file shipped in warehouse/sql."""
    return files("warehouse").joinpath("sql", *parts).read_text(encoding="utf-8")


# DuckDB's own default memory_limit is 80% of the machine's RAM: a scale-100 reconciliation then grew to
# ~3.8 GiB. Under a limit its joins and aggregates spill to temp_directory instead (closeboard.yaml's
# `warehouse:` block, connectors.config.WarehouseConfig, sets both).
DEFAULT_MEMORY_LIMIT = "1GB"


def connect(
    path: Path,
    *,
    read_only: bool = False,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    temp_directory: Path | str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection to the DuckDB file at `path`, held to `memory_limit` (None: DuckDB's default),
    spilling to `temp_directory` (default: `tmp/duckdb` beside the file, i.e. under the data home;
    a relative path is taken from the file's folder)."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    config: dict[str, str] = {}
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
        if not read_only:  # a reader keeps DuckDB's default (`<file>.tmp`) and creates nothing
            spill = Path(temp_directory) if temp_directory is not None else Path("tmp", "duckdb")
            spill = spill if spill.is_absolute() else path.parent.resolve() / spill
            spill.parent.mkdir(parents=True, exist_ok=True)  # DuckDB creates the folder itself, not its parents
            config["temp_directory"] = str(spill)
    return duckdb.connect(str(path), read_only=read_only, config=config)


@cache
def _schema() -> tuple[str, str]:
    """The schema files' digest, and a query that reads nothing but binds every table and view they
    create (so it fails on a warehouse that lacks one)."""
    texts = [sql_text("schema", name) for name in SCHEMA_FILES]
    names = re.findall(r"^create (?:table if not exists|or replace view) (\w+)", "\n".join(texts), re.M | re.I)
    return (
        hashlib.sha256("\0".join(texts).encode()).hexdigest(),
        " union all ".join(f'(select null from "{name}" limit 0)' for name in names),
    )


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the warehouse to the schema of warehouse/sql/schema (and `_migrate` an earlier layout),
    unless it is there already: its stamp (`warehouse_schema`) holds the files' digest and every
    table and view they create exists. Every step opens the warehouse: running the files each time
    cost ~30 ms an open (the views replaced, then a checkpoint at the close); the check ~3 ms."""
    digest, every_relation = _schema()
    try:
        if scalar(con, "select max(digest) from warehouse_schema") == digest:
            con.execute(every_relation).fetchall()
            return
    except (duckdb.CatalogException, duckdb.BinderException):  # no stamp yet, or a table or view is missing
        pass
    _migrate(con)
    for name in SCHEMA_FILES:
        con.execute(sql_text("schema", name))
    con.execute("delete from warehouse_schema")
    con.execute("insert into warehouse_schema values (?)", [digest])


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Bring a warehouse written by an earlier closeboard to today's schema where `create ... if not
    exists` cannot: recon_bank_matches, a table of one row per match and month-end until 2026-12, is
    now a view over recon_bank_match_spans; its rows go, and so do the reconciliation's input
    fingerprints, so the next reconciliation recomputes every period (and writes the spans)."""
    if table_exists(con, "recon_bank_matches"):  # a table (a view is not one): the old layout
        con.execute("drop table recon_bank_matches")
        if table_exists(con, "recon_inputs"):
            con.execute("delete from recon_inputs")


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the connection's database has a table (not a view) called `name`."""
    return bool(scalar(con, "select count(*) from duckdb_tables() where table_name = ?", [name]))


def frame(con: duckdb.DuckDBPyConnection, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
    """A query's result as pandas with Arrow dtypes, so DECIMAL stays exact (never float64)."""
    return (
        con.sql(query, params=list(params) if params else None).to_arrow_table().to_pandas(types_mapper=pd.ArrowDtype)
    )


def records(
    con: duckdb.DuckDBPyConnection, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The query's rows, each a dict by column name."""
    cursor = con.execute(query, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def scalar(con: duckdb.DuckDBPyConnection, query: str, params: Sequence[Any] | None = None) -> Any:
    """The single value a query returns (the result is fully consumed, as duckdb 2.0 requires)."""
    rows = con.execute(query, params or []).fetchall()
    return rows[0][0] if rows else None


def inputs_digest(con: duckdb.DuckDBPyConnection, tables: Iterable[str], *also: Any) -> str:
    """A fingerprint (hex) of a result computed from `tables` and `also` (its code, its settings): each
    table's rows (count and an order-free hash of every row) and `also` as JSON. Equal fingerprints,
    equal inputs: what a result kept under it (the page's explanations and open documents) is a function of."""
    names = sorted(tables)
    rows = (
        con.execute(
            " union all ".join(
                f"select '{t}', count(*), coalesce(sum(hash(x)::hugeint), 0)::varchar from {t} as x" for t in names
            )
            + " order by 1"
        ).fetchall()
        if names
        else []
    )
    return hashlib.sha256(json.dumps([rows, *also], default=str).encode()).hexdigest()


def row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """How many rows `table` (a name, quoted here) holds."""
    return int(scalar(con, 'select count(*) from "' + table.replace('"', '""') + '"'))


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, rolled back on any error so readers never see half a publish."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


class WarehouseLock:
    """The one-writer guarantee across processes: an exclusive lock file held for a whole run."""

    def __init__(
        self, home: Home, *, owner: str, timeout_s: float = 600.0, on_wait: Callable[[str], None] | None = None
    ) -> None:
        self.home = home
        self.owner = owner
        self.timeout_s = timeout_s
        self.on_wait = on_wait  # told once, when the lock is held by another run, what this run waits for
        self._lock = FileLock(str(home.lock))
        self._owner_file = home.lock.with_suffix(".owner")

    def acquire(self) -> None:
        self.home.root.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            if self.on_wait is not None:
                self.on_wait(
                    f"waiting for the warehouse: run {self._holder()} holds it "
                    f"(up to {self.timeout_s:.0f} s, {self.home.lock})"
                )
            try:
                self._lock.acquire(timeout=self.timeout_s)
            except Timeout:
                raise WarehouseBusy(
                    f"warehouse busy: run {self._holder()} holds it (waited {self.timeout_s:.0f} s for {self.home.lock})"
                ) from None
        self._owner_file.write_text(f"{self.owner} (pid {os.getpid()})\n", encoding="utf-8")

    def _holder(self) -> str:
        try:
            return self._owner_file.read_text(encoding="utf-8").strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._lock.is_locked:
            self._owner_file.unlink(missing_ok=True)
            self._lock.release()

    def __enter__(self) -> WarehouseLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def publish_read_copy(home: Home) -> Path:
    """Copy the (closed, checkpointed) live file to the readers' copy, atomically."""
    return write_atomic(home.read_copy, lambda temp: shutil.copyfile(home.warehouse, temp))


def write_json_atomic(path: Path, payload: Any) -> None:
    write_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=str))
