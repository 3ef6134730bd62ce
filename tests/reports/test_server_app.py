"""The served-mode app without a real refresh: what it serves, what it refuses, and a page whose
data is older than --max-age starting a refresh by itself on open."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect
from starlette.testclient import TestClient

from reports.server import create_app
from tests.conftest import free_port
from tests.reports.pages import token_of

FAKE_REFRESH = [sys.executable, "-c", "import time; print('step one', flush=True); time.sleep(1.5)"]


@pytest.fixture
def served_home(demo_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(demo_home / "reports", home / "reports")
    shutil.copy(demo_home / "warehouse.read.duckdb", home / "warehouse.read.duckdb")  # the page's tables read it
    (home / "secret.txt").write_text("not served")
    return home


def test_pages_are_served_with_a_fresh_token_and_nothing_else(served_home: Path) -> None:
    client = TestClient(create_app(served_home, refresh_command=FAKE_REFRESH), base_url="http://127.0.0.1:8765")
    first, second = client.get("/latest.html"), client.get("/")
    assert first.status_code == second.status_code == 200
    assert token_of(first.text) != token_of(second.text)
    assert "<!--closeboard:served-->" not in first.text
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/status.json", "/nope.html", "/..%2fsecret.txt"):
        assert client.get(path).status_code == 404, path
    origin = {"Origin": "http://127.0.0.1:8765"}
    assert client.post("/api/refresh", headers=origin).status_code == 403
    assert (
        client.post(
            "/api/refresh", headers={"Origin": "http://127.0.0.1:9999", "X-Closeboard-Token": token_of(first.text)}
        ).status_code
        == 403
    )
    assert client.get("/api/status").json()["refresh"]["state"] == "idle"
    accepted = client.post("/api/refresh", headers={**origin, "X-Closeboard-Token": token_of(first.text)})
    assert accepted.status_code == 202
    assert (
        client.post("/api/refresh", headers={**origin, "X-Closeboard-Token": token_of(second.text)}).status_code == 409
    )
    deadline = time.monotonic() + 20
    while client.get("/api/status").json()["refresh"]["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    job = client.get("/api/status").json()["refresh"]
    assert job["state"] == "succeeded" and job["progress"] == "step one"


@pytest.fixture
def live_server(served_home: Path) -> Iterator[tuple[str, object]]:
    app = create_app(served_home, max_age_s=1, refresh_command=FAKE_REFRESH)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=10)


def test_a_page_older_than_max_age_refreshes_on_open(live_server, open_page) -> None:
    base, app = live_server
    watched = open_page(f"{base}/latest.html")
    # a locator wait, not wait_for_function: a polled string predicate is eval and the page's CSP refuses it
    expect(watched.page.locator("#served-status")).to_contain_text("Refresh", timeout=10_000)
    assert app.state.job.state in ("running", "succeeded")
    assert watched.errors == []


def test_an_unreachable_dagster_webserver_falls_back_to_the_refresh_command(served_home: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    client = TestClient(
        create_app(served_home, refresh_command=FAKE_REFRESH, dagster_url=dead), base_url="http://127.0.0.1:8765"
    )
    token = token_of(client.get("/latest.html").text)
    accepted = client.post("/api/refresh", headers={"Origin": "http://127.0.0.1:8765", "X-Closeboard-Token": token})
    assert accepted.status_code == 202
    deadline = time.monotonic() + 30
    while client.get("/api/status").json()["refresh"]["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    job = client.get("/api/status").json()["refresh"]
    assert job["state"] == "succeeded" and job["progress"] == "step one"
    assert dead.split("//")[1] in job["fallback"] and "in the background instead" in job["fallback"]
