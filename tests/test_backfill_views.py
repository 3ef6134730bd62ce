"""A backfilled version archives the views as the refresh's versions do (issue 19): `closeboard backfill`
(the `backfill_history` job, `snapshot_periods(publish=True)`) renders the user's views from the readers'
copy it publishes and keeps them with each version it archives, linked from the version's page and from
the history page. One in-process backfill of one month of a warehouse from before the close history."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from connectors.config import load_config
from reports.views import scaffold
from tests.conftest import AS_OF, FIRST_PERIOD, copy_home, read, run_in_process, step_errors
from tests.reference import reference_kpis


@pytest.fixture(scope="module")
def backfilled(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from pipelines.runner import backfill_tags

    home = copy_home(demo_home, tmp_path_factory.mktemp("backfill-views") / "home")
    scaffold(home / "views", "sales")  # `closeboard view new sales`: a revenue tile by month
    period = read(home, "select max(period) from periods where not is_open")[0][0]
    shutil.rmtree(home / "reports" / "history")
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("drop table close_snapshot_seals")  # a warehouse from before the close history
    con.execute("drop table close_snapshots")
    con.close()
    tags = backfill_tags(load_config(home / "closeboard.yaml"), period, period)
    result = run_in_process(home, "backfill_history", tags=tags)
    assert result.success, step_errors(result)
    return {"home": home, "reports": home / "reports", "period": period}


def test_a_backfilled_version_links_its_archived_views(backfilled: dict) -> None:
    reports, period = backfilled["reports"], backfilled["period"]
    assert read(backfilled["home"], "select period, version, status from close_snapshots") == [(period, 1, "draft")]
    page = reports / "history" / period / "v1.html"
    index = page.with_name("v1.views.html")
    assert f'<meta name="closeboard-views" content="{index.name}">' in page.read_text("utf-8")
    history = (reports / "history.html").read_text("utf-8")
    assert f'href="history/{period}/{index.name}"' in history  # the history page links the version's views
    links = re.findall(r'href="([^"#]+)#period=' + period + '" data-view="([a-z_]+)"', index.read_text("utf-8"))
    assert [name for _, name in links] == ["sales"]
    assert (reports / "views" / "sales.html").exists()  # rendered by the backfill from its readers' copy


def test_the_backfilled_versions_view_opens_with_that_months_figures(backfilled: dict) -> None:
    reports, period, home = backfilled["reports"], backfilled["period"], backfilled["home"]
    index = reports / "history" / period / "v1.views.html"
    (href,) = re.findall(r'href="([^"#]+)#period=', index.read_text("utf-8"))
    view = (index.parent / href).resolve()
    text = view.read_text("utf-8")
    assert 'data-view="sales"' in text and "script-src 'self'" in text
    # everything it loads is there, beside it; the formatting script is the one the archived dashboard loads
    loaded = re.findall(r'<script src="([^"]+)"></script>', text) + re.findall(
        r'<link rel="stylesheet" href="([^"]+)">', text
    )
    assert loaded and all((view.parent / src).is_file() for src in loaded)
    page = (reports / "history" / period / "v1.html").read_text("utf-8")
    shared_format = {Path(s).name for s in re.findall(r'<script src="([^"]+)"></script>', page) if "format-" in s}
    assert len(shared_format) == 1 and shared_format <= {Path(s).name for s in loaded}
    data = json.loads(html.unescape(re.search(r'id="view-data">(.*?)</script>', text, re.S).group(1)))
    expected = reference_kpis(home / "demo", FIRST_PERIOD, AS_OF)[period]["revenue"]
    assert str(data["tiles"][0][period]["value"]) == str(expected)
