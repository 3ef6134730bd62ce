"""Served mode's refresh started ahead (reports/server.py `RefreshJob.prepare`, pipelines/warm.py):
`closeboard serve` keeps a `closeboard refresh` process with its imports done and the home's stdio
servers started, and a reload hands it the command; its run adopts those servers. Real refreshes of a copied demo home, through the app as `closeboard serve` builds it
(the starlette app, its lifespan and its API); tests/reports/test_served.py drives the same through
the CLI and a browser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reports.server import create_app
from tests.conftest import REPO, copy_home
from tests.processes import alive, bundled_servers, wait_for
from tests.reports.pages import token_of

BASE = "http://127.0.0.1:8765"
pytestmark = pytest.mark.slow  # two refreshes, each a `closeboard` process of its own


def reload(client: TestClient, meanwhile: Callable[[], None] = lambda: None) -> dict:
    """Press the page's reload control and wait for the refresh to end (calling `meanwhile` as it runs);
    the job's state."""
    token = token_of(client.get("/latest.html").text)
    assert client.post("/api/refresh", headers={"Origin": BASE, "X-Closeboard-Token": token}).status_code == 202
    deadline = time.monotonic() + 300
    while (job := client.get("/api/status").json()["refresh"])["state"] == "running":
        assert time.monotonic() < deadline, job
        meanwhile()
        time.sleep(0.05)
    return job


def servers_of(pid: int) -> dict[str, int]:
    """The bundled servers (name -> pid) running as children of process `pid`."""
    return {name: pids[0] for name, pids in bundled_servers(pid).items()}


def published_run(home: Path) -> str:
    return json.loads((home / "reports" / "status.json").read_text(encoding="utf-8"))["run_id"]


def test_a_reload_runs_in_the_process_started_ahead_and_afresh_when_that_one_is_gone(
    demo_home: Path, tmp_path: Path
) -> None:
    home = copy_home(demo_home, tmp_path / "home")
    app = create_app(home, warm_refresh=True)
    job = app.state.job
    with TestClient(app, base_url=BASE) as client:  # the server started: one process made ready
        ready = job.ready
        assert ready is not None and ready.poll() is None
        # with the home's stdio servers started (the demo's four sources)
        wait_for(lambda: set(servers_of(ready.pid)) == {"erp", "bank", "crm", "budget"}, "servers started ahead")
        ahead = servers_of(ready.pid)
        before = published_run(home)
        seen: set[int] = set()  # every server process of the refresh while it ran
        done = reload(client, lambda: seen.update(servers_of(ready.pid).values()))
        assert job.proc is ready, "the refresh did not run in the process started ahead"
        assert done["state"] == "succeeded" and done["returncode"] == 0, done
        # its run adopted them: no session started a server of its own, and each stopped its own
        assert seen and seen <= set(ahead.values()), (seen, ahead)
        assert not any(alive(pid) for pid in ahead.values()), ahead
        assert published_run(home) != before
        log = (home / "serve" / "refresh.log").read_text(encoding="utf-8")
        assert f"refresh {published_run(home)} finished" in log, log[-2000:]
        # the next reload's process was started when this refresh ended; gone (killed), the reload
        # starts its refresh afresh and succeeds all the same
        following = job.ready
        assert following is not None and following is not ready and following.poll() is None
        following.kill()
        following.wait()
        before = published_run(home)
        done = reload(client)
        assert job.proc is not following and done["state"] == "succeeded", done
        assert published_run(home) != before
        last = job.ready
        assert last is not None
        wait_for(lambda: len(servers_of(last.pid)) == 4, "the next process's servers started ahead")
        kept = servers_of(last.pid)
    # the server stopped: the process it kept ready has ended with it, and so have its servers
    assert job.ready is None and last.poll() is not None
    wait_for(lambda: not any(alive(pid) for pid in kept.values()), f"servers left running: {kept}", timeout=15)


@pytest.mark.parametrize(("line", "status"), [(b"", 0), (b"not json\n", 1)])
def test_a_ready_process_given_no_command_or_a_broken_one_ends_with_its_servers(
    demo_home: Path, tmp_path: Path, line: bytes, status: int
) -> None:
    """Closed without a command, or sent one it cannot read: the process ends (the broken one with its
    error) and so do the servers it started ahead."""
    home = copy_home(demo_home, tmp_path / "home")
    ready = subprocess.Popen(
        [sys.executable, "-m", "pipelines.warm", "--home", str(home)],
        cwd=REPO,
        env={**os.environ, "CLOSEBOARD_HOME": str(home)},
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: len(servers_of(ready.pid)) == 4, "servers started ahead")
        ahead = servers_of(ready.pid)
        _, stderr = ready.communicate(line, timeout=60)
        assert ready.returncode == status, stderr.decode()[-2000:]
        wait_for(lambda: not any(alive(pid) for pid in ahead.values()), f"servers left running: {ahead}", 15)
    finally:
        if ready.poll() is None:
            ready.kill()
            ready.wait()
