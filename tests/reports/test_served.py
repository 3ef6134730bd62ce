"""Served mode: `closeboard serve` on a copied demo home. The page's reload button runs a refresh
(after a record is appended at the demo ERP's data, once the refresh process kept ready has started
its servers) and the page reloads with the new as-of and figure; a refresh POST without the page's
token or from another origin is refused. `--lean` keeps no process between reloads."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

from tests.conftest import FAST_RETRIES, copy_home, free_port, spawn_closeboard, stop_process, wait_for_port
from tests.processes import children, module, wait_for
from tests.reports.pages import ended_periods, kpis_of
from tests.servers import get, post


def serve(home: Path, port: int, *options: str) -> subprocess.Popen[bytes]:
    """`closeboard --home HOME serve --port PORT OPTIONS` in a process group of its own, answering."""
    proc = spawn_closeboard("serve", "--port", str(port), *options, home=home, env=FAST_RETRIES)
    wait_for_port(port, proc)
    return proc


def modules(pid: int) -> list[str]:
    """The modules `pid`'s processes run (`python -m`), its children's and theirs."""
    return sorted(filter(None, map(module, children(pid, deep=True).values())))


def test_reload_runs_a_refresh_and_shows_the_new_figures(demo_home: Path, tmp_path: Path, open_page) -> None:
    home = copy_home(demo_home, tmp_path / "home")
    port = free_port()
    proc = serve(home, port)
    try:
        base = f"http://127.0.0.1:{port}"
        # the next reload's refresh process, its servers started: they see the record appended below
        # (the bundled servers forked by the fork server, connectors/forking.py)
        wait_for(lambda: len(modules(proc.pid)) >= 6, "the ready process and its servers")
        assert modules(proc.pid) == [
            "connectors.servers.bank",
            "connectors.servers.budget",
            "connectors.servers.crm",
            "connectors.servers.erp",
            "connectors.servers.forkserver",
            "pipelines.warm",
        ]
        # refused: no token; a token from a served page but another origin; no origin at all
        token = re.search(r'"token":"([^"]+)"', get(f"{base}/latest.html")).group(1)
        assert post(f"{base}/api/refresh", {"Origin": base}) == 403
        assert post(f"{base}/api/refresh", {"Origin": "http://evil.example", "X-Closeboard-Token": token}) == 403
        assert post(f"{base}/api/refresh", {"X-Closeboard-Token": token}) == 403
        assert post(f"{base}/api/refresh", {"Origin": base, "X-Closeboard-Token": "forged"}) == 403
        assert json.loads(get(f"{base}/api/status"))["refresh"]["state"] == "idle"
        assert (
            urllib.request.urlopen(f"{base}/history.html", timeout=10).status == 200
            if (home / "reports" / "history.html").exists()
            else True
        )

        # a page older than the published run offers the newer data on open
        status_file = home / "reports" / "status.json"
        published = status_file.read_text(encoding="utf-8")
        status_file.write_text(published.replace(json.loads(published)["run_id"], "a-newer-run"), encoding="utf-8")
        stale = open_page(f"{base}/latest.html")
        stale.page.wait_for_selector("#show-newer", timeout=10_000)
        status_file.write_text(published, encoding="utf-8")

        watched = open_page(f"{base}/latest.html")
        page = watched.page
        period = ended_periods(home)[-1]
        revenue = kpis_of(home, period)["revenue"]
        tile = page.locator(".tile[data-kpi='revenue']")
        assert Decimal(tile.get_attribute("data-value")) == revenue
        run_before = page.locator("meta[name='closeboard-run-id']").get_attribute("content")
        as_of_before = page.locator("li[data-source='erp'] time").inner_text()
        assert page.locator("#reload").is_visible()

        # a sale booked at the ERP in the last ended month: AR up, revenue up
        added = Decimal("1234.56")
        with (home / "demo" / "erp" / "journal_lines.csv").open("a", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(
                ["JE-PAGE-1", 1, f"{period}-20", "1200", added, "0.00", "USD", "", "Page test sale", "", "", ""]
            )
            writer.writerow(
                ["JE-PAGE-1", 2, f"{period}-20", "4100", "0.00", added, "USD", "", "Page test sale", "", "", ""]
            )

        page.locator("#reload").press("Enter")  # keyboard reachable
        newer = f"html[data-ready='1'] meta[name='closeboard-run-id']:not([content='{run_before}'])"
        page.wait_for_selector(newer, state="attached", timeout=120_000)
        tile = page.locator(".tile[data-kpi='revenue']")
        assert Decimal(tile.get_attribute("data-value")) == revenue + added
        assert page.locator("li[data-source='erp'] time").inner_text() != as_of_before
        status = json.loads(get(f"{base}/api/status"))
        assert status["refresh"]["state"] == "succeeded"
        assert status["run_id"] == page.locator("meta[name='closeboard-run-id']").get_attribute("content")
        assert watched.errors == []
        assert [u for u in watched.requests if not u.startswith(base)] == []
    finally:
        stop_process(proc, timeout=15)


def test_lean_serve_keeps_no_process_between_reloads(demo_home: Path, tmp_path: Path) -> None:
    home = copy_home(demo_home, tmp_path / "home")
    port = free_port()
    proc = serve(home, port, "--lean")
    try:
        assert json.loads(get(f"http://127.0.0.1:{port}/api/status"))["refresh"]["state"] == "idle"
        assert children(proc.pid) == {}
    finally:
        stop_process(proc, timeout=15)
