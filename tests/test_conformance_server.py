"""The official MCP conformance suite's server scenarios against each bundled server over HTTP.

The suite (npm @modelcontextprotocol/conformance, on Node 22 from the npm registry) is installed
once per machine by tests/conformance.py; these tests skip only when npm or its registry is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance import ensure, run_scenario

SCENARIOS = ("server-initialize", "tools-list", "ping", "dns-rebinding-protection")


@pytest.fixture(scope="session")
def conformance_suite() -> Path:
    return ensure()


@pytest.mark.parametrize("server", ["erp", "bank", "crm"])
def test_bundled_server_passes_the_server_scenarios(
    server: str, conformance_suite: Path, demo_data: Path, http_server
) -> None:
    url = http_server(f"connectors.servers.{server}", demo_data)
    results = [run_scenario("server", scenario, url=url) for scenario in SCENARIOS]
    for result in results:
        assert result.ok, (
            f"{server}: scenario {result.scenario} failed (exit {result.returncode}): "
            f"{[(c.get('id'), c.get('status'), c.get('errorMessage')) for c in result.failed]}\n{result.output[-3000:]}"
        )
    # the rebinding scenario really probed both sides: a foreign Host refused, localhost accepted
    rebinding = {c["id"]: c["status"] for c in results[-1].checks}
    assert rebinding == {"localhost-host-rebinding-rejected": "SUCCESS", "localhost-host-valid-accepted": "SUCCESS"}
