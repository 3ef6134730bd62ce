"""The CFO view at refresh and in served mode (issue 19): a home without a views/ folder is laid out by
the shipped view without a word about it (status.json still records it); a user's valid views/cfo.md lays
out the page and GET /api/table answers the tables of that layout, even after the file is edited.

Expected rows come from the page's own embedded summary (count and totals per period computed in SQL by
the renderer) and from the read copy, not from the endpoint's code path."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from starlette.testclient import TestClient

from pipelines import progress
from reports.export import page_data
from reports.server import create_app
from reports.views import PAGE_LAYOUT_COPY, shipped_page_view
from tests.conftest import copy_home, refresh_in_process


def refreshed(home: Path) -> tuple[dict, list[str]]:
    """Refresh `home` in process: its status.json and the progress lines it printed."""
    said: list[str] = []
    stop = progress.listen(said.append)
    try:
        refresh_in_process(home)
    finally:
        stop()
    return json.loads((home / "reports" / "status.json").read_text(encoding="utf-8")), said


def test_no_views_folder_is_the_shipped_layout_silently_and_recorded(demo_home: Path, tmp_path: Path) -> None:
    home = copy_home(demo_home, tmp_path / "home", without=("views",))
    status, said = refreshed(home)
    assert not [line for line in said if "CFO view" in line], said
    assert status["page_view"] == {
        "path": str(home / "views" / "cfo.md"),
        "used": str(shipped_page_view()),
        "note": None,
    }
    html = (home / "reports" / "latest.html").read_text(encoding="utf-8")
    assert re.findall(r'data-section="([a-z_]+)"', html)[:2] == ["kpis", "recon"]
    # a views folder whose cfo.md is missing: said (once), the shipped layout used
    (home / "views").mkdir()
    status, said = refreshed(home)
    assert [line for line in said if "no " + str(home / "views" / "cfo.md") in line], said
    assert status["page_view"]["used"] == str(shipped_page_view()) and "shipped" in status["page_view"]["note"]


@pytest.fixture(scope="module")
def renamed_home(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo home whose views/cfo.md names the open invoices table `receivables`, refreshed."""
    home = copy_home(demo_home, tmp_path_factory.mktemp("layout") / "home")
    text = shipped_page_view().read_text(encoding="utf-8")
    assert "id: open_invoices\n" in text
    (home / "views").mkdir(exist_ok=True)
    (home / "views" / "cfo.md").write_text(text.replace("id: open_invoices\n", "id: receivables\n"), encoding="utf-8")
    refresh_in_process(home)
    return home


def test_the_table_endpoint_answers_the_tables_of_the_layout_the_page_was_rendered_from(renamed_home: Path) -> None:
    home = renamed_home
    status = json.loads((home / "reports" / "status.json").read_text(encoding="utf-8"))
    assert status["page_view"]["used"] == str(home / "views" / "cfo.md") and status["page_view"]["note"] is None
    assert (home / "reports" / PAGE_LAYOUT_COPY).read_text(encoding="utf-8") == (home / "views" / "cfo.md").read_text(
        encoding="utf-8"
    )
    data = page_data(home / "reports" / "latest.html")
    assert "receivables" in [s["id"] for s in data["sections"]]
    period = data["meta"]["default_period"]
    summary = data["tables"]["receivables"]["summary"]
    mine = [dict(zip(summary["columns"], r, strict=True)) for r in summary["rows"]]
    mine = [r for r in mine if r["period"] == period]
    with duckdb.connect(str(home / "warehouse.read.duckdb"), read_only=True) as con:
        currencies = {r[0] for r in con.execute("select distinct currency from erp_invoices").fetchall()}

    client = TestClient(create_app(home), base_url="http://127.0.0.1:8765")
    token = re.search(r'"token":"([^"]+)"', client.get("/latest.html").text).group(1)
    headers = {"X-Closeboard-Token": token}

    def answer() -> list[dict]:
        got = client.get(f"/api/table?section=receivables&period={period}", headers=headers)
        assert got.status_code == 200, got.text
        body = got.json()
        return [dict(zip(body["columns"], r, strict=True)) for r in body["rows"]]

    rows = answer()
    assert len(rows) == sum(int(r["_rows"]) for r in mine) > 0
    for currency in {r["currency"] for r in rows}:
        assert currency in currencies
        total = sum(Decimal(r["open_balance"]) for r in rows if r["currency"] == currency)
        assert total == sum(Decimal(r["open_balance"]) for r in mine if r["_currency"] == currency)
    # the shipped layout's name is not a table of this page
    assert client.get(f"/api/table?section=open_invoices&period={period}", headers=headers).status_code == 400
    # views/cfo.md edited (here: broken) after the render: the page still shows `receivables`, and so does
    # the endpoint, until the next refresh
    (home / "views" / "cfo.md").write_text("# broken\n\n```tile\nid: x\n```\n", encoding="utf-8")
    assert answer() == rows
