"""Shared fixtures: one generated demo company and one full demo run per test session.

Everything expected is derived from the fixed as-of date below, so nothing changes at a month
boundary. Subprocesses (CLI, servers) always run with a timeout and are killed with their group.

Two ways to run the pipeline: `closeboard(...)` (the CLI as a subprocess, the bundled servers as
stdio subprocesses: for what is about the CLI, the transport or a process) and `run_in_process(...)`
(the real Dagster job in this process, the bundled servers built in memory and reached through the
real MCP client: for what is about the pipeline's result, in seconds instead of minutes).
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from connectors.demo import generate

if TYPE_CHECKING:
    import dagster as dg

AS_OF = date(2026, 6, 15)
FIRST_PERIOD = "2024-06"
# the demo accounts a test's own entry moves: Professional Fees (expense, no subtype: opex and net income
# move) against Accrued Liabilities
EXPENSE, ACCRUAL = "6600", "2200"
REPO = Path(__file__).resolve().parent.parent
# the homes tests build (`demo_config`) keep a source step retry on (it is part of what is tested),
# without the production delay: closeboard.yaml's `refresh:` block
STEP_RETRY = {"source_retries": 1, "source_retry_delay_s": 0.2}
# no longer read by closeboard (the step retry comes from closeboard.yaml); kept for the tests that
# still pass it to their subprocesses and count the retries by it
FAST_RETRIES = {"CLOSEBOARD_SOURCE_RETRIES": str(STEP_RETRY["source_retries"])}


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo company's data files (read-only for tests: copy before changing them)."""
    root = tmp_path_factory.mktemp("demo-data")
    generate(root, as_of=AS_OF, seed=42, scale=1)
    return root


def copy_demo(demo_data: Path, home: Path) -> Path:
    """A private copy of the demo data under `home`/demo, for tests that change it."""
    target = home / "demo"
    shutil.copytree(demo_data, target)
    return target


def cli_env(home: Path, env: dict[str, str | None] | None = None) -> dict[str, str]:
    """The environment of a `closeboard` subprocess on `home`: this one's, CLOSEBOARD_HOME set,
    CLOSEBOARD_CONFIG removed (the home's closeboard.yaml is read), then `env` (None removes a name)."""
    full = {**os.environ, "CLOSEBOARD_HOME": str(home), "CLOSEBOARD_CONFIG": None, **(env or {})}
    return {name: value for name, value in full.items() if value is not None}


def closeboard(
    *args: str, home: Path, timeout: float = 300, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the installed `closeboard` CLI as a subprocess against `home`."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "--home", str(home), *args],
        cwd=REPO,
        env=cli_env(home, env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"closeboard {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def bench(script: str, *args: str, timeout: float) -> str:
    """Run bench/SCRIPT ARGS in a process of its own; its output, or an AssertionError with it."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"bench/{script} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout


def cli_in_process(
    *args: str, home: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`closeboard ARGS` against `home` in this process (click's runner: the real command, its exit
    code, stdout and stderr, without starting a Python), as `closeboard(...)` returns them. The
    environment the command exports (CLOSEBOARD_HOME, CLOSEBOARD_CONFIG) is restored afterwards."""
    from click.testing import CliRunner

    from pipelines.cli import main

    environ: dict[str, str | None] = {"CLOSEBOARD_HOME": str(home), "CLOSEBOARD_CONFIG": None, **(env or {})}
    result = CliRunner().invoke(main, ["--home", str(home), *args], env=environ, catch_exceptions=False)
    proc = subprocess.CompletedProcess(["closeboard", *args], result.exit_code, result.stdout, result.stderr)
    if check and proc.returncode != 0:
        raise AssertionError(f"closeboard {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> Path:
    """A data home as `closeboard demo --as-of AS_OF` leaves it (the demo data and its closeboard.yaml,
    the warehouse and its read copy, the page, every ended month's snapshot version, the refresh run
    in the home's Dagster instance), built in this process by the CLI's own runner with the bundled
    servers in memory (test_cli_smoke compares it with the CLI's). Read-only: copy it to change it.
    Under pytest-xdist the workers share one: the first to need it builds it, under a file lock, in
    the run's temporary folder (each run has its own), and the others wait for it."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return _build_demo_home(demo_data, tmp_path_factory.mktemp("demo-home"))
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent  # this run's folder, above each worker's own
    home, ready = shared / "demo-home", shared / "demo-home.ready"
    with FileLock(shared / "demo-home.lock"):
        if not ready.exists():
            shutil.rmtree(home, ignore_errors=True)  # what a worker whose build failed left
            _build_demo_home(demo_data, home)
            ready.touch()
    return home


def _build_demo_home(demo_data: Path, home: Path) -> Path:
    from pipelines.resources import SourcesResource
    from pipelines.runner import execute
    from warehouse.home import Home

    demo_home_at(demo_data, home)
    outcome = execute("refresh", Home(home), config=home / "closeboard.yaml", sources=SourcesResource(in_memory=True))
    assert outcome.success, f"the demo refresh failed in process: {outcome.errors}"
    return home


def read(home: Path, query: str, params: list | None = None) -> list[tuple]:
    """Rows from the readers' copy of a home's warehouse (what the page, CLI reads and users see)."""
    return _rows(home / "warehouse.read.duckdb", query, params)


def live_rows(home: Path, query: str, params: list | None = None) -> list[tuple]:
    """Rows from the live warehouse, the writers' file (only while no run is going: a killed run never
    published the readers' copy)."""
    return _rows(home / "warehouse.duckdb", query, params)


def _rows(path: Path, query: str, params: list | None) -> list[tuple]:
    from warehouse.db import connect

    con = connect(path, read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def assert_kpis_match_reference(home: Path, demo_dir: Path) -> None:
    """mart_kpis of `home` equals, every period and KPI to the cent, the independent computation
    (tests/reference.py) from the demo data files under `demo_dir`."""
    from tests.reference import reference_kpis

    expected = reference_kpis(demo_dir, FIRST_PERIOD, AS_OF)
    actual: dict[str, dict[str, Decimal | None]] = {}
    for period, kpi, value in read(home, "select period, kpi, value from mart_kpis"):
        actual.setdefault(period, {})[kpi] = value
    assert sorted(actual) == sorted(expected)
    mismatches = [
        (period, kpi, actual[period].get(kpi), value)
        for period, kpis in expected.items()
        for kpi, value in kpis.items()
        if actual[period].get(kpi) != value
    ]
    assert not mismatches, f"mart_kpis differs from the reference: {mismatches[:10]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop_process(proc: subprocess.Popen, sig: signal.Signals = signal.SIGTERM, timeout: float = 10) -> None:
    """Stop a process started in a session of its own (`start_new_session=True`) with its whole group:
    `sig`, then SIGKILL when it is still there after `timeout` seconds. One already gone is fine."""
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def spawn_closeboard(
    *args: str,
    home: Path,
    env: dict[str, str | None] | None = None,
    stdout: Any = subprocess.DEVNULL,
    stderr: Any = None,
) -> subprocess.Popen:
    """`closeboard ARGS` against `home` started in the background (serve, ui, mcp --http ...) in a
    process group of its own (environment: `cli_env`): stop it with `stop_process`. `stderr`
    defaults to `stdout`."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "--home", str(home), *args],
        cwd=REPO,
        env=cli_env(home, env),
        start_new_session=True,
        stdout=stdout,
        stderr=subprocess.STDOUT if stderr is None else stderr,
    )


@pytest.fixture(scope="module")
def smtp() -> Iterator:
    """(the inbox, the port) of an SMTP server (aiosmtpd) on 127.0.0.1 for the module (tests/mail.py)."""
    from tests.mail import smtp_server

    yield from smtp_server()


@pytest.fixture(scope="module")
def hooks() -> Iterator:
    """(what was posted, the URL) of a webhook receiver on 127.0.0.1 for the module (tests/mail.py)."""
    from tests.mail import webhook_receiver

    yield from webhook_receiver()


@pytest.fixture
def http_server() -> Iterator:
    """Start a bundled server over streamable HTTP: `start(module, data_dir) -> url`."""
    from tests.servers import start_http_server  # it imports this module's process helpers

    procs: list[subprocess.Popen] = []

    def start(module: str, data_dir: Path) -> str:
        proc, base = start_http_server(module, data_dir)
        procs.append(proc)
        return f"{base}/mcp"

    yield start
    for proc in procs:
        stop_process(proc)


# --- shared helpers: data homes, configurations, the pipeline in this process -----------------------


def copy_home(source: Path, target: Path, *, without: tuple[str, ...] = ()) -> Path:
    """A private copy of a data home (e.g. `demo_home`) at `target`, without its lock files and any
    `without` patterns (e.g. "dagster" for a fresh Dagster instance), for tests that change it."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.lock", "*.owner", *without))
    return target


def demo_config(sources: tuple[str, ...] | None = None) -> dict[str, Any]:
    """closeboard.yaml as `closeboard demo` writes it (the repository's example with the demo's
    first_period and as_of) plus the tests' short step retry (`STEP_RETRY`), parsed; only the
    connectors in `sources` when given."""
    raw = yaml.safe_load((REPO / "closeboard.yaml").read_text(encoding="utf-8"))
    raw["company"].update(first_period=FIRST_PERIOD, as_of=AS_OF.isoformat())
    raw["refresh"] = dict(STEP_RETRY)
    if sources is not None:
        raw["connectors"] = {name: c for name, c in raw["connectors"].items() if name in sources}
    return raw


def write_config(home: Path, raw: dict[str, Any] | None = None, *, sources: tuple[str, ...] | None = None) -> Path:
    """`raw` (default: `demo_config(sources)`) as `home`/closeboard.yaml, the file the CLI reads there."""
    path = home / "closeboard.yaml"
    path.write_text(yaml.safe_dump(demo_config(sources) if raw is None else raw, sort_keys=False), encoding="utf-8")
    return path


def edit_config(home: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """Apply `change` to `home`/closeboard.yaml in place."""
    path = home / "closeboard.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def append_journal(
    home: Path,
    entry_id: str,
    day: str,
    lines: list[tuple[str, Decimal, Decimal]],
    description: str = "closeboard test entry",
) -> None:
    """Post an entry at `home`'s demo ERP server: a line of its CSV file per (account, debit, credit),
    in the company currency (the server reads the file again on its next call)."""
    path = home / "demo" / "erp" / "journal_lines.csv"
    with path.open(newline="", encoding="utf-8") as f:
        columns = next(csv.reader(f))
    with path.open("a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        for n, (account, debit, credit) in enumerate(lines, start=1):
            writer.writerow(
                {
                    "entry_id": entry_id,
                    "line_no": n,
                    "posted_date": day,
                    "account_id": account,
                    "debit": f"{debit:.2f}",
                    "credit": f"{credit:.2f}",
                    "currency": "USD",
                    "description": description,
                }
            )


def demo_home_at(demo_data: Path, home: Path, *, sources: tuple[str, ...] | None = None) -> Path:
    """A new data home at `home`: a private copy of the demo data and the demo's closeboard.yaml
    (with only `sources` when given), not yet refreshed."""
    home.mkdir(parents=True, exist_ok=True)
    copy_demo(demo_data, home)
    write_config(home, sources=sources)
    return home


def run_in_process(
    home: Path,
    job: str = "refresh",
    *,
    config: Path | None = None,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
    home_instance: bool = False,
) -> dg.ExecuteInProcessResult:
    """Run one of the code location's jobs on `home` in this process, as the CLI's runner does
    (`pipelines.runner`), with the bundled servers in memory (`SourcesResource(in_memory=True)`)
    reached through the real MCP client. `config` defaults to the home's closeboard.yaml; on an
    ephemeral Dagster instance unless `home_instance` (the home's own, which the CLI uses)."""
    import dagster as dg

    from pipelines.instance import instance
    from pipelines.resources import SourcesResource
    from pipelines.runner import definitions_for, run_job
    from warehouse.home import Home

    # ${CLOSEBOARD_HOME} in a server's args is `home` in memory
    defs = definitions_for(
        Home(home), config=config or home / "closeboard.yaml", sources=SourcesResource(in_memory=True)
    )
    with instance(Home(home)) if home_instance else dg.DagsterInstance.ephemeral() as dagster_instance:
        return run_job(defs, job, dagster_instance, run_config=run_config, tags=tags)


def refresh_in_process(
    home: Path, *, job: str = "refresh", config: Path | None = None, check: bool = True
) -> dg.ExecuteInProcessResult:
    """`closeboard refresh` on `home` in this process (`run_in_process`); when `check`, an
    AssertionError naming the failed steps unless the run succeeded."""
    result = run_in_process(home, job, config=config)
    if check and not result.success:
        raise AssertionError(f"{job} failed in process: {step_errors(result)}")
    return result


def close_in_process(home: Path, period: str, by: str, override: str | None = None) -> dg.ExecuteInProcessResult:
    """`closeboard close PERIOD --by BY [--override REASON]` on `home` in this process, on the home's
    Dagster instance as the CLI does; asserts that it succeeded."""
    from pipelines.close import close_run_config

    result = run_in_process(home, "close_period", run_config=close_run_config(period, by, override), home_instance=True)
    assert result.success, f"close {period} failed in process: {step_errors(result)}"
    return result


def step_errors(result: dg.ExecuteInProcessResult) -> list[tuple[str, str]]:
    """(step, the user's error message) for each failed step: what the CLI prints after `✗`."""
    from pipelines.runner import step_errors as errors

    return errors(result)


# The files that take longest (seconds of wall time in CI's `--durations`, setup included), about in that
# order. pytest-xdist's `--dist loadfile` hands whole files to the workers in collection order (pyproject.toml
# turns its own reordering, most tests first, off) and gives a worker its next file once two of its tests
# are left: started first, the long files run side by side while the short ones fill the workers in between,
# instead of one worker left alone with a long file at the end.
LONGEST_FIRST = (
    "tests/test_deploy_entities.py",
    "tests/test_deploy_postgres.py",
    "tests/test_dagster_ops.py",
    "tests/test_operations.py",
    "tests/test_bench_smoke.py",
    "tests/test_crash_points.py",
    "tests/test_delivery.py",
    "tests/test_bench_entities.py",
    "tests/reports/test_served.py",
    "tests/test_auth_e2e.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = {path: rank for rank, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: first.get(item.nodeid.split("::", 1)[0], len(first)))  # stable: the rest as collected
