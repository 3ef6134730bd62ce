"""The live warehouse in a run: opened once at its first use and closed at the run's end, each use
with a connection of its own (pipelines.resources.CloseboardResource.warehouse)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.resources import CloseboardResource
from tests.conftest import write_config
from warehouse.db import scalar

OPEN_READ_WRITE = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"


def opens_elsewhere(path: Path) -> subprocess.CompletedProcess[str]:
    """Whether another process can open the file read-write (DuckDB locks it while a process has it open)."""
    return subprocess.run([sys.executable, "-c", OPEN_READ_WRITE, str(path)], capture_output=True, text=True)


def temp_tables(con: duckdb.DuckDBPyConnection) -> int:
    return scalar(con, "select count(*) from duckdb_tables() where temporary")


def test_a_run_keeps_the_warehouse_open_between_steps_and_its_uses_share_nothing_but_the_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    resource = CloseboardResource(config_path=str(write_config(home)), home=str(home))
    path = home / "warehouse.duckdb"
    seen: dict[str, object] = {}

    @dg.asset
    def first(closeboard: CloseboardResource) -> None:
        with closeboard.warehouse() as con:
            con.execute("create temp table scratch as select 1 as x")
            con.execute("create table note as select 'kept' as text")
            con.execute("create temp macro twice(x) as x * 2")

    @dg.asset(deps=[first])
    def second(closeboard: CloseboardResource) -> None:
        # between the steps the run still has the file open: no other process may write it
        seen["between"] = opens_elsewhere(path)
        with closeboard.warehouse() as con:
            seen["note"] = scalar(con, "select text from note")  # what the first step committed
            seen["temp"] = temp_tables(con)  # its temp table ended with its use
            with pytest.raises(duckdb.CatalogException):
                con.execute("select twice(2)")  # and so did its macro
        with pytest.raises(duckdb.CatalogException), closeboard.warehouse() as con:
            con.execute("select * from no_such_table")
        with closeboard.warehouse() as con:  # a use that failed closed the file: this one opens it afresh
            seen["after_failure"] = scalar(con, "select count(*) from note")

    assert dg.materialize([first, second], resources={"closeboard": resource}).success
    assert seen["between"].returncode != 0 and "lock" in seen["between"].stderr.lower()
    assert (seen["note"], seen["temp"], seen["after_failure"]) == ("kept", 0, 1)
    released = opens_elsewhere(path)  # the run's end closed it
    assert released.returncode == 0, released.stderr


def test_outside_a_run_each_use_opens_and_closes_the_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    resource = CloseboardResource(config_path=str(write_config(home)), home=str(home))
    with resource.warehouse() as con:
        con.execute("create table note as select 1 as x")
    released = opens_elsewhere(home / "warehouse.duckdb")
    assert released.returncode == 0, released.stderr
