"""After the sources: build the marts, render the page, publish the readers' copy and status."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from connectors.plain import write_atomic
from pipelines import progress
from pipelines.resources import CloseboardResource
from reports.history import archive_views, write_history
from reports.render import PageContext, page_layout, render_page
from reports.views import PAGE_LAYOUT_COPY, PAGE_VIEW, publish_views, shipped_page_view, views_folder
from warehouse import loads
from warehouse.db import publish_read_copy, row_count, transaction, write_json_atomic
from warehouse.models import build_marts
from warehouse.snapshots import version_summary

STATUS_FILE = "status.json"
# The moments a crash used to lose or corrupt the close history (issue 16): with this variable set
# to one of them, the process kills itself there with SIGKILL, as `kill -9` would. Tests only.
CRASH_ENV = "CLOSEBOARD_CRASH_AT"
CRASH_POINTS = ("snapshot_committed", "page_rendered")


def crash_point(name: str) -> None:
    """Die here, at once and with nothing cleaned up, when $CLOSEBOARD_CRASH_AT names this point."""
    assert name in CRASH_POINTS, name
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def build_models(closeboard: CloseboardResource) -> dict[str, int]:
    config = closeboard.settings()
    company = config.company
    with closeboard.warehouse() as con, transaction(con):
        loads.replace_run_context(
            con, company.first_period, company.report_date(), company.fiscal_year_start_month, company.currency
        )
        built = build_marts(con)
        return {name: row_count(con, name) for name in built}


def auth_kind(connector) -> str:
    """How a source signs in, for people (never a secret): stdio (its `env`), the `auth:` block's kind
    (oauth, client_credentials, bearer), bearer for a static Authorization header, else none."""
    server = connector.server
    if not server.url:
        return "stdio"
    auth = getattr(connector, "auth", None)
    if auth is not None and getattr(auth, "kind", None):
        return str(auth.kind)
    return "bearer" if any(k.lower() == "authorization" for k in server.headers) else "none"


def write_connector_sources(con, config) -> None:
    """`connector_sources`: per configured source its adapter, transport and auth kind."""
    loads.replace_connector_sources(
        con, [(c.name, c.adapter, c.server.transport, auth_kind(c)) for c in config.connectors.values()]
    )


def page_context(con, config, run_id: str) -> PageContext:
    """The page's context: company, run, each source's freshness, and the views link when the home has views
    (the latest page and every archived version link them)."""
    folder = views_folder(config)
    has_views = any(p.name != PAGE_VIEW for p in folder.glob("*.md"))  # views/cfo.md lays out this page
    return PageContext(
        config.company.name,
        config.company.currency,
        run_id,
        loads.source_freshness(con),
        extra={"views_href": "views/index.html"} if has_views else {},
        # no views folder at all: the shipped CFO view is the expected layout, nothing to say about it
        view=str(folder / PAGE_VIEW) if folder.is_dir() else None,
    )


def publish_and_archive_views(config, home, run_id: str) -> dict[str, list[str]]:
    """Render the user's views (issue 19) from the read copy just published and archive them with each version
    archived in this run (or left without its views by a run that died). A broken view gets its error box and
    is named here; it never fails the run or another page. Returns every view with its problems (none: it rendered)."""
    views = publish_views(
        views_folder(config), home.read_copy, home.reports / "views", company=config.company.name, run_id=run_id
    )
    archive_views(home.reports, sorted(views))
    for name, problems in views.items():
        if not problems:
            continue
        logging.getLogger(__name__).warning("view %s failed: %s", name, "; ".join(problems))
        progress.emit(f"reports: view {name} failed (its page shows why): {problems[0]}")
    return views


def render_and_publish(closeboard: CloseboardResource, run_id: str) -> Path:
    config = closeboard.settings()
    home = closeboard.data_home
    with closeboard.warehouse() as con:
        write_connector_sources(con, config)  # the page's sources panel shows each source's auth kind
        ctx = page_context(con, config, run_id)
        asked = ctx.view or str(views_folder(config) / PAGE_VIEW)
        note = page_layout(ctx.view)[1]  # the user's CFO view missing or broken: the shipped one lays the page out
        if note and ctx.view:
            broken = Path(ctx.view).is_file()
            logging.getLogger(__name__).log(logging.WARNING if broken else logging.INFO, "%s", note)
            progress.emit(f"reports: {note}")
        try:
            page, data = render_page(con, ctx, home.reports)
        except (ValueError, KeyError, TypeError, duckdb.Error) as exc:
            if note or not ctx.view or not Path(ctx.view).is_file():
                raise  # the shipped CFO view laid it out: not the user's file
            # the user's CFO view passed its checks but does not fit the data: the shipped one lays it out
            note = f"{ctx.view} could not lay out the page ({exc}), so the page uses the shipped CFO view"
            logging.getLogger(__name__).warning("%s", note)
            progress.emit(f"reports: {note}")
            ctx = dataclasses.replace(ctx, view=None)
            page, data = render_page(con, ctx, home.reports)
        used = ctx.view if ctx.view and not note else str(shipped_page_view())
        # the layout the page was rendered from, kept beside it: GET /api/table lays out its tables by it
        write_atomic(home.reports / PAGE_LAYOUT_COPY, Path(used).read_text(encoding="utf-8"))
        crash_point("page_rendered")
        # the close history: render the archived page of every version without one (this run's, and
        # any a killed run left), each with its own figures; then rewrite history.html
        write_history(con, home.reports, ctx, data)
        snapshot_versions = version_summary(con)
        con.execute("checkpoint")
    publish_read_copy(home)
    views = publish_and_archive_views(config, home, run_id)
    write_json_atomic(
        home.reports / STATUS_FILE,
        {
            "run_id": run_id,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "sources_as_of": ctx.sources,
            "page": str(page),
            "snapshot_versions": snapshot_versions,
            "views": sorted(views),
            "failed_views": {name: problems for name, problems in views.items() if problems},
            # the CFO view: the user's, or why the shipped one; `used`: the one that laid the page out
            "page_view": {
                "path": asked,
                "used": used,
                "note": note,
            },
        },
    )
    return page
