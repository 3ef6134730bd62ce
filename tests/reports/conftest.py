"""Browser fixtures: Playwright driving Debian's Chromium (/usr/bin/chromium), headless, offline.

One browser per test session; each page records console errors, uncaught exceptions, dialogs
(an `alert` from injected markup would land here) and every request it makes. Also a private copy of
the demo home (`home`) and its live warehouse (`con`), for tests that change them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Watched:
    page: object
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("file:", "data:"))]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium through Playwright's sync API, for one test module. The sync API keeps an asyncio loop
    running in this thread while it is open, so it must not outlive the module: a later test's
    `anyio.run` (an in-process refresh, an MCP session) would fail with "Already running asyncio"."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def open_page(browser) -> Iterator:
    """open_page(url, viewport=DESKTOP) -> Watched, with the page's script finished."""
    contexts = []

    def start(url: str, viewport: dict | None = None) -> Watched:
        context = browser.new_context(viewport=viewport or DESKTOP)
        contexts.append(context)
        page = context.new_page()
        watched = Watched(page)
        page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: watched.errors.append(f"uncaught: {e}"))
        page.on("request", lambda r: watched.requests.append(r.url))

        def on_dialog(dialog) -> None:
            watched.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(url)
        page.wait_for_selector("html[data-ready='1']", timeout=15_000)
        return watched

    yield start
    for context in contexts:
        context.close()


@pytest.fixture
def demo_page(demo_home: Path, open_page) -> Iterator[Watched]:
    """The demo's latest.html opened from disk; after the test, no script error and no request
    outside the file."""
    watched = open_page((demo_home / "reports" / "latest.html").as_uri())
    yield watched
    assert watched.errors == [], watched.errors
    assert watched.foreign_requests() == []


@pytest.fixture
def home(demo_home: Path, tmp_path: Path) -> Path:
    """A private copy of the demo home: its warehouse and pages may be changed."""
    from tests.conftest import copy_home

    return copy_home(demo_home, tmp_path / "home")


@pytest.fixture
def con(home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The copy's live warehouse, writable."""
    from warehouse.db import connect

    c = connect(home / "warehouse.duckdb")
    yield c
    c.close()
