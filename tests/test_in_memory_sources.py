"""The refresh job in this process with in-memory sources (`SourcesResource(in_memory=True)`): the
bundled ERP, bank and CRM servers built from the demo data and reached through the real MCP client
in memory, the real Dagster assets, DuckDB file, checks and page; no subprocess. The same figures as
the stdio refresh (tests/test_demo_e2e.py): KPIs equal the independent reference computation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest

from connectors.config import load_config
from pipelines.definitions import build_definitions
from pipelines.resources import CloseboardResource, SourcesResource
from tests.conftest import copy_demo, read, write_config
from tests.test_demo_e2e import assert_kpis_match_reference


def demo_config(home: Path) -> Path:
    """closeboard.yaml as `closeboard demo` writes it (conftest's `write_config`), its servers' data
    under `home`/demo (`${CLOSEBOARD_HOME}` resolved, as the CLI exports it)."""
    path = write_config(home)
    path.write_text(path.read_text(encoding="utf-8").replace("${CLOSEBOARD_HOME}", str(home)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> tuple[Path, dg.ExecuteInProcessResult]:
    home = tmp_path_factory.mktemp("in-memory-home")
    copy_demo(demo_data, home)
    config = demo_config(home)
    defs = build_definitions(
        load_config(config),
        closeboard=CloseboardResource(config_path=str(config), home=str(home)),
        sources=SourcesResource(in_memory=True),
    )
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("refresh").execute_in_process(instance=instance, raise_on_error=False)
    return home, result


def test_the_refresh_runs_in_process_and_its_figures_equal_the_reference(refreshed) -> None:
    home, result = refreshed
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    assert_kpis_match_reference(home, home / "demo")
    assert (home / "reports" / "latest.html").exists()


def test_in_memory_sources_go_through_the_mcp_client_and_its_audit(refreshed) -> None:
    home, _ = refreshed
    calls = dict(read(home, "select source, count(*) from connector_calls where status = 'ok' group by source"))
    assert set(calls) == {"erp", "bank", "crm", "budget"} and all(n > 0 for n in calls.values())
    verdicts = dict(
        read(home, "select check_id, max(status) from recon_results where check_id = 'R7_erp_report' group by check_id")
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
    from warehouse.home import Home

    copy_demo(demo_data, tmp_path)
    erp = load_config(write_config(tmp_path)).connectors["erp"]  # args: ${CLOSEBOARD_HOME}/demo
    assert any("${CLOSEBOARD_HOME}" in a for a in erp.server.args)
    server = SourcesResource(in_memory=True).server(erp, Home(tmp_path))
    assert server is not None and server.name == "closeboard-erp"
