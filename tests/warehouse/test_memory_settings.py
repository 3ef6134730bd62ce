"""DuckDB's memory for the warehouse: a limit by default, spilling under the data home, both from
closeboard.yaml's `warehouse:` block (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.config import ConfigError, WarehouseConfig, parse_config
from tests.conftest import demo_config
from warehouse.db import DEFAULT_MEMORY_LIMIT, connect, scalar


def settings(con) -> tuple[int, str]:
    limit = scalar(con, "select value from duckdb_settings() where name = 'memory_limit'")
    return limit, scalar(con, "select current_setting('temp_directory')")


def limit_of(text: str) -> str:
    """DuckDB's own rendering of a memory amount (e.g. 1GB -> 953.6 MiB), from a fresh in-memory database."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": text})
    return scalar(con, "select value from duckdb_settings() where name = 'memory_limit'")


def test_a_writer_is_held_to_the_default_limit_and_spills_under_the_data_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    con = connect(home / "warehouse.duckdb")
    assert settings(con) == (limit_of(DEFAULT_MEMORY_LIMIT), str((home / "tmp" / "duckdb").resolve()))
    con.close()
    reader = connect(home / "warehouse.duckdb", read_only=True)  # a reader: the limit, and nothing created
    assert settings(reader)[0] == limit_of(DEFAULT_MEMORY_LIMIT)
    reader.close()


def test_the_limit_and_folder_come_from_the_arguments(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb", memory_limit="512MiB", temp_directory="spill")
    assert settings(con) == (limit_of("512MiB"), str((tmp_path / "spill").resolve()))
    elsewhere = tmp_path / "elsewhere" / "duckdb"
    con2 = connect(tmp_path / "v.duckdb", memory_limit="2GB", temp_directory=elsewhere)
    assert settings(con2) == (limit_of("2GB"), str(elsewhere))


def test_the_warehouse_block_is_checked_and_defaults_to_the_limit() -> None:
    assert parse_config(demo_config()).warehouse == WarehouseConfig(memory_limit=DEFAULT_MEMORY_LIMIT)
    given = parse_config({**demo_config(), "warehouse": {"memory_limit": "768MB", "temp_directory": "/fast/tmp"}})
    assert given.warehouse == WarehouseConfig("768MB", "/fast/tmp")
    with pytest.raises(ConfigError) as bad:
        parse_config({**demo_config(), "warehouse": {"memory_limit": "lots", "tmp_dir": "x"}})
    text = str(bad.value)
    assert "warehouse.memory_limit: expected an amount of memory such as 1GB or 512MiB, got 'lots'" in text
    assert "warehouse: unknown key 'tmp_dir' (did you mean 'temp_directory'?)" in text


def test_the_pipelines_warehouse_connection_uses_the_block(tmp_path: Path) -> None:
    """The resource every step publishes through opens the live warehouse with closeboard.yaml's block."""
    from pipelines.resources import CloseboardResource
    from tests.conftest import write_config

    home = tmp_path / "home"
    home.mkdir()
    config = write_config(home, {**demo_config(), "warehouse": {"memory_limit": "300MB", "temp_directory": "spill"}})
    with CloseboardResource(config_path=str(config), home=str(home)).warehouse() as con:
        assert settings(con) == (limit_of("300MB"), str((home / "spill").resolve()))


@pytest.mark.parametrize(
    ("warehouse", "work"),
    [("2GB", "256MB"), ("1GiB", "256MB"), ("400MB", "100MB"), ("600MiB", "150MiB"), ("100MB", "64MB"), ("5MB", "64MB")],
)
def test_the_reconciliations_matching_database_follows_the_warehouse_limit(warehouse: str, work: str) -> None:
    """R2's private database (warehouse.recon) takes a quarter of the warehouse connection's
    memory_limit, at most 256 MB and at least 64 MB, so a small warehouse.memory_limit holds it too."""
    import duckdb

    from warehouse.recon import work_memory_limit

    con = duckdb.connect(config={"memory_limit": warehouse})
    assert limit_of(work_memory_limit(con)) == limit_of(work)
