"""Views take part in close snapshots (issue 19): a version's archived page links the views as they
were when it was archived, opened on its month, with their shared parts kept once; a view changed
later leaves the archived ones as they were. One home: the demo with a view, a month closed (the real
`close_period` job, which also prints the version's PDF from its archived page), then the view
edited and a refresh, all before the browser opens (its asyncio loop would stop an in-process run)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from reports import formatting
from reports.views import scaffold
from tests.conftest import AS_OF, FIRST_PERIOD, close_in_process, copy_home, read, refresh_in_process
from tests.reference import reference_kpis
from tests.reports.pages import ended_periods


@pytest.fixture(scope="module")
def closed(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = copy_home(demo_home, tmp_path_factory.mktemp("archived-views") / "home")
    view_file = scaffold(home / "views", "sales")  # `closeboard view new sales`: a revenue tile by month
    text = view_file.read_text(encoding="utf-8")
    assert "label: Revenue\n" in text
    view_file.write_text(text.replace("label: Revenue\n", "label: Revenue booked\n"), encoding="utf-8")
    period = ended_periods(home)[-3]
    close_in_process(home, period, "Dana Controller")
    (version, page_path) = read(
        home, "select version, page_path from close_snapshots where period = ? order by version desc limit 1", [period]
    )[0]
    page = home / "reports" / page_path
    index = page.with_name(f"v{version}.views.html")
    archived = {p: p.read_bytes() for p in (page, index)}
    (view_href,) = re.findall(r'href="([^"#]+)#period=' + period + '" data-view="sales"', index.read_text("utf-8"))
    view = (index.parent / view_href).resolve()
    archived[view] = view.read_bytes()
    view_file.write_text(text.replace("label: Revenue\n", "label: Sales changed later\n"), encoding="utf-8")
    refresh_in_process(home)
    return {
        "home": home,
        "period": period,
        "version": version,
        "page": page,
        "index": index,
        "view": view,
        "bytes": archived,
    }


def test_a_closed_versions_archived_view_opens_on_its_month(closed: dict, open_page) -> None:
    period, page, index = closed["period"], closed["page"], closed["index"]
    watched = open_page(page.as_uri())
    link = watched.page.locator(f"a.history-link[href='{index.name}']")
    assert link.count() == 1  # the archived page links its views
    link.click()
    watched.page.wait_for_selector("a[data-view='sales']")
    watched.page.locator("a[data-view='sales']").click()
    watched.page.wait_for_selector(f"html[data-archived-period='{period}']")
    tile = watched.page.locator(".view-tile").first
    expected = reference_kpis(closed["home"] / "demo", FIRST_PERIOD, AS_OF)[period]["revenue"]
    assert tile.get_attribute("data-value") == str(expected)
    assert "Revenue booked" in tile.text_content()
    assert watched.page.locator("link[rel='stylesheet']").count() == 1  # its style is the shared file
    assert watched.errors == [] and watched.foreign_requests() == []


def test_a_view_changed_later_leaves_the_archived_one_as_it_was(closed: dict) -> None:
    home = closed["home"]
    for path, before in closed["bytes"].items():
        assert path.read_bytes() == before, path
    assert "Sales changed later" in (home / "reports" / "views" / "sales.html").read_text("utf-8")
    assert "Sales changed later" not in closed["view"].read_text("utf-8")
    history = (home / "reports" / "history.html").read_text("utf-8")
    assert f'href="{closed["index"].relative_to(home / "reports").as_posix()}"' in history
    # its scripts are shared files (one chart library for every archived page and view), its data its own
    assert "<script>" not in closed["view"].read_text("utf-8")
    assert len(list(closed["view"].parent.glob("chart-*.js"))) == 1


def test_the_closed_versions_pdf_prints_its_archived_page(closed: dict) -> None:
    pdf = closed["page"].with_suffix(".pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60, check=True).stdout
    assert f"{closed['period']} · snapshot v{closed['version']} closed" in text
    expected = reference_kpis(closed["home"] / "demo", FIRST_PERIOD, AS_OF)[closed["period"]]["revenue"]
    assert formatting.display(expected, "money", "USD") in text  # the Revenue tile, drawn from the shared data
