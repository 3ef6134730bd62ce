"""`closeboard demo` as a process, with the bundled servers as stdio subprocesses, leaves the same data
home as the session's `demo_home`, which the suite builds in this process (the CLI's runner, the
servers in memory): what the other tests read there is what a user's `closeboard demo` gives."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.conftest import AS_OF, closeboard, copy_demo, demo_config, read

pytestmark = pytest.mark.slow  # the CLI as a subprocess, the servers over stdio

SAME = {
    "figures": "select period, kpi, value from mart_kpis order by all",
    "statements": "select * from mart_statements order by all",
    "verdicts": "select period, check_id, status from recon_results order by all",
    "items": "select period, check_id, source, record_id, amount from recon_items order by all",
    "history": "select period, version, status, source_fingerprint, kpis, statements from close_snapshots order by all",
    "loads": "select table_name, reported_total, rows_loaded, rows_quarantined from source_loads order by all",
    "calls": "select source, tool, status, items from connector_calls order by all",
}


def runs(home: Path) -> list[tuple[str, dg.DagsterRunStatus]]:
    from pipelines.instance import instance
    from warehouse.home import Home

    with instance(Home(home)) as dagster:
        return [(run.job_name, run.status) for run in dagster.get_runs()]


def test_closeboard_demo_as_a_process_leaves_the_home_the_suite_builds_in_process(
    demo_data: Path, demo_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    copy_demo(demo_data, home)
    proc = closeboard("demo", "--as-of", AS_OF.isoformat(), home=home)
    assert "latest.html" in proc.stdout + proc.stderr
    # nothing after the command's own lines: no report of "leaked" objects at exit, no ignored exception
    for noise in ("leaked", "nanobind", "Exception ignored", "Traceback"):
        assert noise not in proc.stderr, proc.stderr[-3000:]
    written = yaml.safe_load((home / "closeboard.yaml").read_text(encoding="utf-8"))
    expected = demo_config()
    expected.pop("refresh")  # the tests' short step retry is all demo_config adds
    assert written == expected
    for what, query in SAME.items():
        assert read(home, query) == read(demo_home, query), what
    versions = read(home, "select count(*) from close_snapshots")[0][0]
    assert versions == 24  # every ended month from first_period (2024-06) to the month before AS_OF
    for path in ("reports/latest.html", "reports/history.html", "reports/status.json", "warehouse.read.duckdb"):
        assert (home / path).exists() and (demo_home / path).exists(), path
    assert len(list((home / "reports" / "history").glob("*/v1.html"))) == versions
    assert len(list((demo_home / "reports" / "history").glob("*/v1.html"))) == versions
    assert ("refresh", dg.DagsterRunStatus.SUCCESS) in runs(home)
    assert ("refresh", dg.DagsterRunStatus.SUCCESS) in runs(demo_home)
