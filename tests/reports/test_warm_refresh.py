"""Served mode's refresh started ahead (reports/server.py `RefreshJob.prepare`, pipelines/warm.py):
`closeboard serve` keeps a `closeboard refresh` process with its imports done, and a reload hands it
the command. Real refreshes of a copied demo home, through the app as `closeboard serve` builds it
(the starlette app, its lifespan and its API); tests/reports/test_served.py drives the same through
the CLI and a browser."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reports.server import create_app
from tests.conftest import copy_home
from tests.reports.pages import token_of

BASE = "http://127.0.0.1:8765"
pytestmark = pytest.mark.slow  # two refreshes, each a `closeboard` process of its own


def reload(client: TestClient) -> dict:
    """Press the page's reload control and wait for the refresh to end; the job's state."""
    token = token_of(client.get("/latest.html").text)
    assert client.post("/api/refresh", headers={"Origin": BASE, "X-Closeboard-Token": token}).status_code == 202
    deadline = time.monotonic() + 300
    while (job := client.get("/api/status").json()["refresh"])["state"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    return job


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
        before = published_run(home)
        done = reload(client)
        assert job.proc is ready, "the refresh did not run in the process started ahead"
        assert done["state"] == "succeeded" and done["returncode"] == 0, done
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
    # the server stopped: the process it kept ready has ended with it
    assert job.ready is None and last.poll() is not None
