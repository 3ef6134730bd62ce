"""The dashboard server against a hostile network (issue 16): DNS rebinding, odd paths, token floods.

In-process (starlette's TestClient over the real app); a tiny reports folder stands in for a data home.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reports.render import SERVED_MARKER
from reports.server import TOKEN_TTL_S, Tokens, create_app, host_name
from tests.reports.pages import token_of

NO_REFRESH = [sys.executable, "-c", "pass"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "latest.html").write_text(f"<html><body>figures 13,950.75 {SERVED_MARKER}</body></html>")
    (reports / "status.json").write_text('{"run_id": "r1"}')
    return tmp_path


def client(home: Path, host: str, **kwargs) -> TestClient:
    return TestClient(create_app(home, refresh_command=NO_REFRESH, **kwargs), base_url=f"http://{host}")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", "10.0.0.5:8765"])
def test_a_foreign_host_gets_nothing_no_page_no_token_no_refresh(home: Path, host: str) -> None:
    c = client(home, host)
    page = c.get("/latest.html")
    assert page.status_code == 421 and "13,950.75" not in page.text and "token" not in page.text
    assert c.get("/api/status").status_code == 421
    assert c.post("/api/refresh", headers={"Origin": f"http://{host}"}).status_code == 421


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST"])
def test_loopback_names_are_served(home: Path, host: str) -> None:
    assert client(home, host).get("/latest.html").status_code == 200


def test_allow_host_adds_a_name(home: Path) -> None:
    assert client(home, "dash.internal:8765", allow_hosts=("dash.internal",)).get("/latest.html").status_code == 200
    assert client(home, "other.internal:8765", allow_hosts=("dash.internal",)).get("/latest.html").status_code == 421


@pytest.mark.parametrize("path", ["/%00.html", "/a%00b.html", "/" + "x" * 5000 + ".html"])
def test_odd_paths_are_not_found_not_a_server_error(home: Path, path: str) -> None:
    assert client(home, "127.0.0.1:8765").get(path).status_code == 404


def test_a_flood_of_page_views_evicts_no_token(home: Path) -> None:
    c = client(home, "127.0.0.1:8765")
    first = token_of(c.get("/latest.html").text)
    for _ in range(1500):
        c.get("/latest.html")
    tokens: Tokens = c.app.state.tokens
    assert tokens.valid(first)


def test_forged_and_expired_tokens_are_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = Tokens()
    good = tokens.issue()
    issued, _, signature = good.rpartition(".")
    assert tokens.valid(good) and not Tokens().valid(good)  # another process's key
    assert not tokens.valid(f"{int(issued) + 1}.{signature}") and not tokens.valid("") and not tokens.valid("x.y")
    later = int(issued) / 1000 + TOKEN_TTL_S + 1
    monkeypatch.setattr("reports.server.time.time", lambda: later)
    assert not tokens.valid(good)


def test_host_names_are_read_without_port_case_or_trailing_dot() -> None:
    assert [host_name(h) for h in ("[::1]:8765", "LocalHost.:80", "127.0.0.1", "", "::1")] == [
        "::1",
        "localhost",
        "127.0.0.1",
        "",
        "::1",
    ]
