"""Shared fixtures: one generated demo company and one full demo run per test session.

Everything expected is derived from the fixed as-of date below, so nothing changes at a month
boundary. Subprocesses (CLI, servers) always run with a timeout and are killed with their group.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from connectors.demo import generate

AS_OF = date(2026, 6, 15)
FIRST_PERIOD = "2024-06"
REPO = Path(__file__).resolve().parent.parent
# step retries stay on (they are part of what is tested) but without the production delay
FAST_RETRIES = {"CLOSEBOARD_SOURCE_RETRIES": "1", "CLOSEBOARD_SOURCE_RETRY_DELAY_S": "0.2"}


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


def closeboard(*args: str, home: Path, timeout: float = 300, env: dict[str, str] | None = None,
               check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the installed `closeboard` CLI as a subprocess against `home`."""
    full_env = {**os.environ, "CLOSEBOARD_HOME": str(home), **FAST_RETRIES, **(env or {})}
    full_env.pop("CLOSEBOARD_CONFIG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "--home", str(home), *args],
        cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"closeboard {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> Path:
    """A data home after `closeboard demo`: bundled servers as stdio subprocesses."""
    home = tmp_path_factory.mktemp("demo-home")
    copy_demo(demo_data, home)
    closeboard("demo", "--as-of", AS_OF.isoformat(), home=home)
    return home


def read(home: Path, query: str, params: list | None = None) -> list[tuple]:
    """Rows from the readers' copy of a home's warehouse (what the page, CLI reads and users see)."""
    from warehouse.db import connect

    con = connect(home / "warehouse.read.duckdb", read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


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


@pytest.fixture
def http_server() -> Iterator:
    """Start a bundled server over streamable HTTP: `start(module, data_dir) -> url`."""
    procs: list[subprocess.Popen] = []

    def start(module: str, data_dir: Path) -> str:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "--data", str(data_dir), "--http", str(port)],
            cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        procs.append(proc)
        wait_for_port(port, proc)
        return f"http://127.0.0.1:{port}/mcp"

    yield start
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
