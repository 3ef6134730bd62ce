"""The refresh job in this process with in-memory sources (`SourcesResource(in_memory=True)`): the
bundled ERP, bank and CRM servers built from the demo data and reached through the real MCP client
in memory, the real Dagster assets, DuckDB file, checks and page; no subprocess: the session's
`demo_home` is built so (conftest). The same figures as the refresh with the servers as processes
(tests/test_demo_e2e.py): KPIs equal the independent reference computation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest

from connectors.config import load_config
from pipelines.instance import instance
from pipelines.resources import SourcesResource
from tests.conftest import assert_kpis_match_reference, copy_demo, read, write_config
from warehouse.home import Home


def demo_config(home: Path) -> Path:
    """closeboard.yaml as `closeboard demo` writes it (conftest's `write_config`), its servers' data
    under `home`/demo (`${CLOSEBOARD_HOME}` resolved, as the CLI exports it)."""
    path = write_config(home)
    path.write_text(path.read_text(encoding="utf-8").replace("${CLOSEBOARD_HOME}", str(home)), encoding="utf-8")
    return path


def test_the_refresh_runs_in_process_and_its_figures_equal_the_reference(demo_home: Path) -> None:
    """The session's demo home is this refresh (conftest's `demo_home`: the CLI's runner, in-memory
    sources; it asserts that the run succeeded)."""
    assert_kpis_match_reference(demo_home, demo_home / "demo")
    assert (demo_home / "reports" / "latest.html").exists()
    with instance(Home(demo_home)) as dagster:
        runs = [(run.job_name, run.status) for run in dagster.get_runs()]
    assert runs == [("refresh", dg.DagsterRunStatus.SUCCESS)]


def test_in_memory_sources_go_through_the_mcp_client_and_its_audit(demo_home: Path) -> None:
    calls = dict(read(demo_home, "select source, count(*) from connector_calls where status = 'ok' group by source"))
    assert set(calls) == {"erp", "bank", "crm", "budget"} and all(n > 0 for n in calls.values())
    verdicts = dict(
        read(
            demo_home,
            "select check_id, max(status) from recon_results where check_id = 'R7_erp_report' group by check_id",
        )
    )
    assert verdicts == {"R7_erp_report": "pass"}  # the bundled ERP's own trial balance, read in memory too


def test_a_server_that_is_not_bundled_cannot_run_in_memory(tmp_path: Path) -> None:
    home = tmp_path
    config = load_config(demo_config(home))
    erp = config.connectors["erp"]
    foreign = replace(erp, server=replace(erp.server, command="uvx", args=("mcp-server-odoo",)))
    with pytest.raises(ValueError, match="erp: in-memory sources are closeboard's bundled servers"):
        SourcesResource(in_memory=True).server(foreign)
    assert SourcesResource().server(erp) is None  # live: the session starts the configured server


def test_in_memory_servers_expand_the_data_home_as_the_session_does(tmp_path: Path, demo_data: Path) -> None:
    copy_demo(demo_data, tmp_path)
    erp = load_config(write_config(tmp_path)).connectors["erp"]  # args: ${CLOSEBOARD_HOME}/demo
    assert any("${CLOSEBOARD_HOME}" in a for a in erp.server.args)
    server = SourcesResource(in_memory=True).server(erp, Home(tmp_path))
    assert server is not None and server.name == "closeboard-erp"
