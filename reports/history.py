"""The close history: the archived page of every snapshot version, the history page and its text
form (`closeboard history`).

- `archive_pages(con, reports_dir, ctx)` renders the archived page (reports/history/<P>/v<N>.html)
  of every version that has none yet; an archived page is never rewritten. What versions share is
  kept once, content-addressed, under reports/history/_assets/: the chart library, the page's scripts
  (format.js, which the archived views load too, and dashboard.js) and style, and the data that is
  the same for every version a run archives (sections, tables, statements, explanations). A
  version's own page carries its meta and key figures inline and loads the rest from disk (its CSP
  allows 'self' scripts; Chromium allows them from file:// too), so the archive grows with the runs
  that append versions, not with the months.
- `archive_views(reports_dir, names)` keeps the user's views (reports/views.py) with each version
  archived with a link to them: each view once per run under _assets, opened on the version's month
  from its index reports/history/<P>/v<N>.views.html.
- `write_history(con, reports_dir, ctx)` archives, then renders reports/history.html: periods with
  their status, sign-off, override reason, KPI trend and the differences between versions, each
  version linking its archived page.

What a version's archived page is (DESIGN "Snapshot history and the monthly close": the page
rendered with that version's figures, never a copy of an older latest.html, and any version left
without its page is archived by the next run). One rule covers the run that appended the version
and a later run that repairs it after a crash between the snapshot commit and the archive:

- The page is the dashboard rendered from the warehouse by the archiving run, opened on the
  version's period, with that period's key figures (tiles, trend points, the selected period) taken
  from the version's own snapshot (`close_snapshots.kpis`), not from the marts or the period's
  closed version. In the run that appended the version the two are the same figures.
- The other sections (open invoices, bills, reconciliation items...) are the warehouse's at the
  archiving run. `meta.archived` in the page's data says which version it is and whether the
  period's figures in the warehouse still had the version's fingerprint when it was rendered
  (`warehouse_matches`): true for every page archived by the run that appended the version, and
  for a repair while nothing changed since; false only for a superseded version repaired later,
  whose key figures are still its own.

Archiving renders only; it never reads latest.html, so the order of steps cannot put an older
page under a newer version.
- `history_lines(home)` is the same as text, read from the readers' copy only.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from reports import formatting
from connectors.plain import write_atomic
from reports.render import (
    PageContext,
    SharedParts,
    environment,
    page_data,
    page_scripts,
    render_html,
    static_text,
)
from warehouse.db import connect, scalar
from warehouse.home import Home
from warehouse.snapshots import Snapshot, current_fingerprints, history

HISTORY_PAGE = "history.html"
ASSETS_DIR = "history/_assets"  # what archived pages share, and the archived views: content-addressed
# the figures shown for each version, in this order
KPIS = (
    ("revenue", "Revenue"),
    ("gross_margin_pct", "Gross margin"),
    ("opex", "Opex"),
    ("net_income", "Net income"),
    ("cash", "Cash"),
    ("net_burn", "Net burn"),
    ("ar", "AR"),
    ("ap", "AP"),
)
TREND_KPIS = ("revenue", "net_income", "cash")
KPI_LABELS = {
    **dict(KPIS),
    "cogs": "Cost of revenue",
    "gross_profit": "Gross profit",
    "runway_months": "Runway (months)",
    "dso": "DSO (days)",
    "dpo": "DPO (days)",
    "pipeline_open": "Open pipeline",
    "bookings_won": "Bookings won",
}


def _version_page(base: dict[str, Any], snap: Snapshot, warehouse_matches: bool) -> dict[str, Any]:
    """`base` (the page data of the current warehouse) opened on `snap`'s period, with that
    period's key figures replaced by the version's own. `base` is left as it was."""
    meta = base["meta"]
    name = meta["kpi_query"]
    kpis = base["datasets"][name]
    i_period, i_kpi, i_value = (kpis["columns"].index(c) for c in ("period", "kpi", "value"))
    own = {k: None if v is None else format(v, "f") for k, v in snap.kpis.items()}  # as run_query writes them
    rows, seen = [], set()
    for row in kpis["rows"]:
        if row[i_period] == snap.period and row[i_kpi] in own:
            row = list(row)
            row[i_value] = own[row[i_kpi]]
            seen.add(row[i_kpi])
        rows.append(row)
    for kpi in sorted(set(own) - seen):
        row = [None] * len(kpis["columns"])
        row[i_period], row[i_kpi], row[i_value] = snap.period, kpi, own[kpi]
        rows.append(row)
    label = f"v{snap.version} {snap.status}"
    periods = [{**p, "status": label} if p["period"] == snap.period else p for p in meta["periods"]]
    archived = {
        "period": snap.period,
        "version": snap.version,
        "status": snap.status,
        "run_id": snap.run_id,
        "taken_at": _when(snap.taken_at),
        "source_fingerprint": snap.source_fingerprint,
        "warehouse_matches": warehouse_matches,
    }
    return {
        **base,
        "meta": {
            **meta,
            "default_period": snap.period,
            "periods": periods,
            "archived": archived,
            "history_href": f"../../{HISTORY_PAGE}" if meta.get("history_href") else None,
            # the views as they were, archived beside the page by `archive_views`
            "views_href": views_index(snap.version) if meta.get("views_href") else None,
        },
        "datasets": {**base["datasets"], name: {**kpis, "rows": rows}},
    }


def archive_pages(
    con: duckdb.DuckDBPyConnection, reports_dir: Path, ctx: PageContext, base: dict[str, Any] | None = None
) -> list[Path]:
    """Render the archived page of every version that has none yet: the versions this run
    appended, and any a run that died left without one (see the module's docstring for what the
    page shows), from `base`, the page data of this warehouse and `ctx` (computed when not given: the
    run's page hands over its own). Never over an existing archive; each file is written whole (temp
    + os.replace)."""
    missing = [s for s in history(con) if s.page_path and not (reports_dir / s.page_path).exists()]
    if not missing:
        return []
    if base is None:
        if ctx.home is None:
            ctx = replace(ctx, home=str(Path(reports_dir).resolve().parent))
        base = page_data(con, ctx)
    now = current_fingerprints(con, {s.period for s in missing})
    return [
        write_atomic(
            reports_dir / snap.page_path,
            render_html(
                _version_page(base, snap, now.get(snap.period) == snap.source_fingerprint),
                shared=shared_parts(reports_dir, (reports_dir / snap.page_path).parent),
            ),
        )
        for snap in missing
    ]


# ---------------------------------------------------------------------------------------------
# what archived pages share, written once


def shared_parts(reports_dir: Path, page_dir: Path) -> SharedParts:
    """put(stem, extension, text) -> the address, relative to `page_dir`, of `text` under
    reports/history/_assets/STEM-<its SHA-256>.EXT, written there unless it already is: a part the same
    for many archived pages (the chart library, the page's script and style, a run's data) is kept once."""
    folder = Path(reports_dir) / ASSETS_DIR

    def put(stem: str, extension: str, text: str) -> str:
        raw = str(text).encode("utf-8")
        path = folder / f"{stem}-{hashlib.sha256(raw).hexdigest()[:32]}.{extension}"
        if not path.exists():
            write_atomic(path, raw)
        return os.path.relpath(path, page_dir).replace(os.sep, "/")

    return put


def views_index(version: int) -> str:
    """A version's views index, beside its archived page: history/<P>/v<N>.views.html."""
    return f"v{version}.views.html"


_VIEWS_META = re.compile(r'<meta name="closeboard-views" content="([^"]+)">')
_ARCHIVED_PAGE = re.compile(r"v\d+\.html")


def _views_linked(page: Path) -> Path | None:
    """The views index an archived page links (its head says so), if any."""
    try:
        with page.open("rb") as f:
            head = f.read(4096).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    found = _VIEWS_META.search(head)
    return page.parent / found.group(1) if found else None


def _views_wanted(page: Path) -> Path | None:
    """The views index an archived page links when it is not written yet."""
    index = _views_linked(page)
    return None if index is None or index.exists() else index


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)  # a script element without attributes
_INLINE_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def _archived_view(html: str, put: SharedParts) -> str:
    """A view page (reports/views.py) as an archived view: its scripts (the chart library, format.js, view.js)
    and style as shared files (its CSP then allows 'self' scripts and styles), a small script that
    opens it on the month in its address (#period=YYYY-MM), and its links to the close history. Its
    data (a JSON script element) and markup stay in the page. A page whose policy is not found as
    expected stays whole (self-contained, only bigger)."""
    policy = ("script-src ", "style-src 'unsafe-inline'")
    if not all(part in html for part in (*policy, "</body>")):
        return html
    # the scripts archived dashboards share keep their names (one chart library, one format.js for both)
    known = dict(zip(map(str, page_scripts("view.js")), ("chart", "format", "view"), strict=True))
    html = html.replace(policy[0], "script-src 'self' ", 1).replace(policy[1], "style-src 'self' 'unsafe-inline'", 1)
    html = _INLINE_SCRIPT.sub(
        lambda m: f'<script src="{put(known.get(m.group(1), "view-script"), "js", m.group(1))}"></script>', html
    )
    html = _INLINE_STYLE.sub(lambda m: f'<link rel="stylesheet" href="{put("view", "css", m.group(1))}">', html)
    opener = put("archived_view", "js", static_text("archived_view.js"))
    html = html.replace("</body>", f'<script src="{opener}"></script>\n</body>', 1)
    return html.replace('href="../latest.html"', f'href="../../{HISTORY_PAGE}"').replace(
        'href="index.html"', f'href="../../{HISTORY_PAGE}"'
    )


def archive_views(reports_dir: Path, names: Sequence[str]) -> list[Path]:
    """Archive the views with every archived version that links them and has none yet (the versions
    this run archived, and any a run that died left without them): the views as this run rendered
    them (reports/views/NAME.html), each kept once under reports/history/_assets/NAME-<SHA-256>.html
    and opened on the version's month from the version's index (history/<P>/v<N>.views.html). An
    archived view is never rewritten, so a view changed later leaves the archived ones as they were."""
    pending = [
        index
        for page in sorted(Path(reports_dir).glob("history/*/v*.html"))
        if _ARCHIVED_PAGE.fullmatch(page.name) and (index := _views_wanted(page)) is not None
    ]
    if not pending:
        return []
    views_dir = Path(reports_dir) / ASSETS_DIR
    put = shared_parts(reports_dir, views_dir)
    archived: list[tuple[str, str]] = []
    for name in names:
        source = Path(reports_dir) / "views" / f"{name}.html"
        if source.exists():
            html = _archived_view(source.read_text(encoding="utf-8"), put)
            archived.append((name, put(name, "html", html)))
    written = []
    template = environment().get_template("archived_views.html")
    for index in pending:
        period, page = index.parent.name, index.name.split(".")[0] + ".html"
        links = [
            (name, os.path.relpath(views_dir / href, index.parent).replace(os.sep, "/")) for name, href in archived
        ]
        html = template.render(
            period=period, version=page[:-5], page=page, views=links, history=f"../../{HISTORY_PAGE}"
        )
        written.append(write_atomic(index, html))
    return written


@dataclass(frozen=True)
class PeriodHistory:
    period: str
    versions: list[Snapshot]

    @property
    def latest(self) -> Snapshot:
        return self.versions[-1]

    @property
    def last_closed(self) -> Snapshot | None:
        closed = [v for v in self.versions if v.status == "closed"]
        return closed[-1] if closed else None

    @property
    def state(self) -> str:
        """draft, closed, or "restated since close" when a restated version follows the close."""
        closed = self.last_closed
        if closed is None:
            return "draft"
        if any(v.status == "restated" for v in self.versions if v.version > closed.version):
            return "restated since close"
        return "closed"


def periods_history(con: duckdb.DuckDBPyConnection) -> list[PeriodHistory]:
    grouped: dict[str, list[Snapshot]] = {}
    for snap in history(con):
        grouped.setdefault(snap.period, []).append(snap)
    return [PeriodHistory(p, v) for p, v in sorted(grouped.items())]


def _sparkline(values: Sequence[Decimal | None], width: int = 240, height: int = 40) -> str:
    """An inline SVG polyline's points (no script, no network)."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return ""
    low, high = min(v for _, v in known), max(v for _, v in known)
    span = (high - low) or Decimal(1)
    step = Decimal(width) / (len(values) - 1)
    return " ".join(f"{(i * step):.1f},{(Decimal(height) - (v - low) / span * Decimal(height)):.1f}" for i, v in known)


def _when(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _differences(snap: Snapshot, names: dict[str, str]) -> list[dict[str, Any]]:
    if not snap.differences:
        return []
    rows = []
    for kind in ("kpis", "accounts"):
        for key, change in snap.differences.get(kind, {}).items():
            rows.append(
                {
                    "kind": "KPI" if kind == "kpis" else "account",
                    "key": key,
                    "name": names.get(key, key) if kind == "accounts" else KPI_LABELS.get(key, key),
                    **change,
                }
            )
    return rows


def _account_names(snap: Snapshot) -> dict[str, str]:
    return {row["account_id"]: row["account_name"] for part in snap.statements.values() for row in part}


def render_history(con: duckdb.DuckDBPyConnection, company: str, currency: str, reports_dir: Path | None = None) -> str:
    periods = periods_history(con)

    def views_of(snap: Snapshot) -> str | None:
        """The version's archived views index, when its page links one (`archive_views` writes it)."""
        if not snap.page_path or reports_dir is None:
            return None
        index = _views_linked(reports_dir / snap.page_path)
        return index.relative_to(reports_dir).as_posix() if index is not None else None

    trend = {kpi: _sparkline([p.latest.kpis.get(kpi) for p in periods]) for kpi in TREND_KPIS}
    return (
        environment()
        .get_template("history.html")
        .render(
            company=company,
            currency=currency,
            rendered_at=_when(datetime.now(timezone.utc)),
            periods=list(reversed(periods)),
            kpis=KPIS,
            trend=trend,
            trend_labels=KPI_LABELS,
            first=periods[0].period if periods else None,
            last=periods[-1].period if periods else None,
            when=_when,
            differences=lambda snap: _differences(snap, _account_names(snap)),
            views_of=views_of,
        )
    )


def write_history(
    con: duckdb.DuckDBPyConnection, reports_dir: Path, ctx: PageContext, base: dict[str, Any] | None = None
) -> Path:
    """Archive the page of every version without one (from `base`, as `archive_pages`), then (re)write
    reports/history.html."""
    archive_pages(con, reports_dir, ctx, base)
    company = ctx.company or "closeboard"
    currency = ctx.currency or scalar(con, "select any_value(currency) from run_context") or "USD"
    return write_atomic(reports_dir / HISTORY_PAGE, render_history(con, company, currency, reports_dir))


def _text(value: Decimal | None, kpi: str, currency: str) -> str:
    return (
        formatting.kpi(value, kpi, currency)
        if kpi in formatting.PERCENT_KPIS | formatting.PLAIN_KPIS
        else formatting.money(value, currency, cents=True)
    )


def history_lines(home: Home, period: str | None = None) -> list[str]:
    """`closeboard history`: every period and version, from the readers' copy only."""
    if not home.read_copy.exists():
        return [f"no warehouse yet at {home.read_copy}: run `closeboard refresh` (or `closeboard demo`) first"]
    con = connect(home.read_copy, read_only=True)
    try:
        currency = scalar(con, "select any_value(currency) from run_context") or "USD"
        periods = [p for p in periods_history(con) if period is None or p.period == period]
    finally:
        con.close()
    if not periods:
        return [f"no close snapshots{' for ' + period if period else ''} yet"]
    shown = ("revenue", "net_income", "cash")
    header = f"{'period':<8} {'ver':>3}  {'status':<9} {'taken (UTC)':<16}  {'signed off':<34} " + " ".join(
        f"{dict(KPIS)[k]:>16}" for k in shown
    )
    lines = [header, "-" * len(header)]
    for ph in periods:
        for snap in ph.versions:
            sign_off = f"{snap.closed_by} {_when(snap.closed_at)[:16]}" if snap.closed_by else ""
            lines.append(
                f"{snap.period:<8} {'v' + str(snap.version):>3}  {snap.status:<9} {_when(snap.taken_at)[:16]:<16}  "
                f"{sign_off:<34} " + " ".join(f"{_text(snap.kpis.get(k), k, currency):>16}" for k in shown)
            )
            if snap.override_reason:
                lines.append(f"{'':<14}override: {snap.override_reason}")
            if snap.failing_checks:
                lines.append(f"{'':<14}failing ERROR checks: {', '.join(snap.failing_checks)}")
            for row in _differences(snap, _account_names(snap)):
                lines.append(
                    f"{'':<14}Δ {row['kind']} {row['key']} {row['name'] if row['name'] != row['key'] else ''}: "
                    f"{row['closed']} -> {row['now']} (difference {row['difference']})"
                )
        lines.append(f"{'':<14}=> {ph.period} {ph.state}")
    return lines
