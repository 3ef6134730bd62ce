"""The month pack as files (issue 20): one close snapshot version as a PDF and as an XLSX workbook.

Read side only: the readers' copy (`Home.read_copy`, opened read-only) and the version's archived
page (`<home>/reports/history/<P>/v<N>.html`, warehouse.snapshots.page_path); never the live file.

- `resolve(home, period, version)`: the version (default: the period's latest), its archived page and
  what every page of the pack names: company, period, version, status, fingerprint, data as of.
  Unknown periods and versions are an `ExportError` naming those that exist.
- `write_pdf(pack, target)`: the archived page, opened on its period, printed by headless Chromium
  (Debian's /usr/bin/chromium through Playwright; never a downloaded browser) with the page's print
  stylesheet. Chromium's own header and footer carry the company, period, version and status, the
  data-as-of and the page number on every page; a small print-only style added at export time hides
  the controls (sort buttons read as plain headings).
- `write_xlsx(home, pack, target)`: a cover sheet (the version, fingerprint, data-as-of and the
  checks with their verdicts), one sheet per statement, the KPIs, open invoices and open bills.
  Money is written from Decimal as numbers with a number format, never as text.
- `archive_pdf(home, snap)`: after a sign-off, the closed version's PDF beside its archived page
  (`.../v<N>.pdf`); it never raises, so a close succeeds without Chromium and says the PDF was not
  archived.

Which statements a version's workbook holds: the warehouse's `mart_statements` (the three statements,
both rollups, four columns) while the period's figures still have the version's fingerprint, which is
always so for the version a period stands at; for a superseded version (restated since) the
snapshot's own income statement and balance sheet by account (`close_snapshots.statements`), and the
cash-flow sheet says the snapshot keeps none. The open invoices and bills are the warehouse's at the
export, measured at the period's cutoff.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from connectors.plain import write_atomic
from reports.formatting import KPI_UNITS
from reports.history import KPI_LABELS
from reports.render import query_text
from warehouse.checks import BY_ID
from warehouse.db import connect, scalar
from warehouse.home import Home
from warehouse.models import load_functions
from warehouse.snapshots import Snapshot, current_fingerprints, history

CHROMIUM = "/usr/bin/chromium"  # Debian's; $CLOSEBOARD_CHROMIUM names another
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PAGE_TIMEOUT_MS = 30_000
PRINT_VIEWPORT = {"width": 1047, "height": 740}  # A4 landscape less the margins, in CSS pixels
MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
STATEMENTS = (("income_statement", "Income statement"), ("balance_sheet", "Balance sheet"), ("cash_flow", "Cash flow"))
KPI_ORDER = (
    "revenue",
    "cogs",
    "gross_profit",
    "gross_margin_pct",
    "opex",
    "net_income",
    "cash",
    "net_burn",
    "runway_months",
    "ar",
    "ap",
    "dso",
    "dpo",
    "pipeline_open",
    "bookings_won",
)
ROLLUPS = {"account": "by account", "subtype": "by type and subtype"}
STATEMENT_COLUMNS = (
    ("amount", "Period"),
    ("prior_month", "Prior month"),
    ("prior_year", "Year before"),
    ("ytd", "Year to date"),
)
# added to the page at export time only: no controls on paper (the page's own print stylesheet does
# the layout); a sort button in a table heading prints as the heading's text
PRINT_STYLE = """
@media print {
  select, input, label[for], .table-tools, .no-print, .served-only, .file-only, #reload,
  button[data-drill], #show-newer { display: none !important; }
  th button { border: 0 !important; background: none !important; padding: 0 !important;
              font: inherit !important; color: inherit !important; }
  @page { margin: 16mm 10mm 14mm 10mm; }
}
"""


class ExportError(ValueError):
    """An export that cannot be made (unknown period or version, no archived page, no Chromium)."""


@dataclass(frozen=True)
class Pack:
    """One snapshot version and what every page of its pack names."""

    snapshot: Snapshot
    page: Path  # the version's archived page (may be missing: the PDF needs it, the XLSX does not)
    company: str
    currency: str
    sources: list[dict[str, Any]]  # [{source, as_of}] as the archived page shows them
    current: bool  # the warehouse's figures for the period still have this version's fingerprint

    @property
    def period(self) -> str:
        return self.snapshot.period

    @property
    def label(self) -> str:
        return f"{self.snapshot.period} v{self.snapshot.version} {self.snapshot.status}"

    @property
    def data_as_of(self) -> str:
        known = [f"{s['source']} {s['as_of']}" for s in self.sources if s.get("as_of")]
        return ", ".join(known) if known else "unknown"


# ---------------------------------------------------------------------------------------------
# which version


def page_data(page: Path) -> dict[str, Any] | None:
    """The data a rendered page embeds (its `cb-data` script; an archived version's own part: its meta
    and key figures, the rest being shared under history/_assets), or None without the page."""
    if not page.exists():
        return None
    found = re.search(r'<script[^>]*\bid="cb-data"[^>]*>(.*?)</script>', page.read_text(encoding="utf-8"), re.S)
    return json.loads(found.group(1)) if found else None


def _read_only(home: Home) -> duckdb.DuckDBPyConnection:
    if not home.read_copy.exists():
        raise ExportError(
            f"no warehouse yet at {home.read_copy}: run `closeboard refresh` (or `closeboard demo`) first"
        )
    return connect(home.read_copy, read_only=True)


def _pick(versions: list[Snapshot], period: str, version: int | None, known: list[str]) -> Snapshot:
    if not versions:
        listed = f"{known[0]} to {known[-1]}" if known else "none yet"
        raise ExportError(f"{period}: no close snapshot of this period (periods with snapshots: {listed})")
    if version is None:
        return versions[-1]
    for snap in versions:
        if snap.version == version:
            return snap
    raise ExportError(
        f"{period} has no version {version} (versions: " + ", ".join(f"v{s.version} {s.status}" for s in versions) + ")"
    )


def resolve(home: Home, period: str, version: int | None = None, *, company: str | None = None) -> Pack:
    """The pack of `period`'s `version` (default: its latest), from the readers' copy."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period or ""):
        raise ExportError(f"{period!r} is not a period: YYYY-MM, e.g. 2026-05")
    con = _read_only(home)
    try:
        known = sorted({s.period for s in history(con)})
        snap = _pick(history(con, period), period, version, known)
        current = current_fingerprints(con, [period]).get(period) == snap.source_fingerprint
        currency = scalar(con, "select any_value(currency) from run_context") or "USD"
        freshness = con.execute(query_text("export_sources.sql")).fetchall()
    finally:
        con.close()
    page = home.reports / (snap.page_path or "")
    data = page_data(page) if snap.page_path else None
    meta = data["meta"] if data else {}
    sources = meta.get("sources") or [{"source": s, "as_of": a} for s, a in freshness]
    return Pack(
        snap,
        page,
        meta.get("company") or company or "closeboard",
        meta.get("currency") or currency,
        [{"source": s["source"], "as_of": s.get("as_of")} for s in sources],
        current,
    )


# ---------------------------------------------------------------------------------------------
# PDF


def chromium_path() -> str:
    return os.environ.get("CLOSEBOARD_CHROMIUM") or CHROMIUM


def _band(pack: Pack, right: str) -> str:
    """A header or footer template: Chromium renders it in the page margin, at its own tiny size
    unless told; the classes pageNumber and totalPages are filled in by Chromium."""
    left = html.escape(f"{pack.company} · {pack.period} · snapshot v{pack.snapshot.version} {pack.snapshot.status}")
    return (
        '<div style="font-family: sans-serif; font-size: 8px; color: #333; width: 100%; margin: 0 10mm; '
        'display: flex; justify-content: space-between;">'
        f"<span>{left}</span><span>{right}</span></div>"
    )


def write_pdf(pack: Pack, target: Path) -> Path:
    """Print the version's archived page, on its period, to `target` (written whole or not at all)."""
    if not pack.page.exists():
        raise ExportError(
            f"{pack.label}: its archived page {pack.page} is missing (the next `closeboard refresh` archives it)"
        )
    executable = chromium_path()
    if not Path(executable).exists():
        raise ExportError(f"no Chromium at {executable}: apt-get install -y chromium (or set $CLOSEBOARD_CHROMIUM)")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a dependency
        raise ExportError(f"Playwright is not installed: {exc}") from None
    header = _band(pack, html.escape(f"data as of {pack.data_as_of}"))
    footer = _band(pack, 'page <span class="pageNumber"></span> of <span class="totalPages"></span>')

    def print_to(path: Path) -> None:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport=PRINT_VIEWPORT)
                page.goto(pack.page.resolve().as_uri() + "#period=" + pack.period)
                page.wait_for_selector("html[data-ready='1']", timeout=PAGE_TIMEOUT_MS)
                page.evaluate(  # the archived page opens on its period; the period control makes sure
                    """(period) => {
                      const select = document.getElementById("period-select");
                      if (select && select.value !== period) {
                        select.value = period;
                        select.dispatchEvent(new Event("change"));
                      }
                    }""",
                    pack.period,
                )
                page.wait_for_selector(f"html[data-period='{pack.period}']", timeout=PAGE_TIMEOUT_MS)
                page.add_style_tag(content=PRINT_STYLE)
                page.emulate_media(media="print")
                # charts redraw at the print layout's size (a resize observer, then a frame) before printing
                page.evaluate(
                    "() => new Promise((done) => setTimeout(() => requestAnimationFrame(() => "
                    "requestAnimationFrame(done)), 250))"
                )
                page.pdf(
                    path=str(path),
                    format="A4",
                    landscape=True,
                    print_background=True,
                    display_header_footer=True,
                    header_template=header,
                    footer_template=footer,
                )
            finally:
                browser.close()

    try:
        return write_atomic(target, print_to)
    except PlaywrightError as exc:
        raise ExportError(f"Chromium could not print {pack.page}: {str(exc).splitlines()[0]}") from None


def archive_path(home: Home, snap: Snapshot) -> Path:
    """Where a version's PDF is archived: beside its archived page."""
    return (home.reports / (snap.page_path or f"history/{snap.period}/v{snap.version}.html")).with_suffix(".pdf")


def archive_pdf(home: Home, snap: Snapshot, *, company: str | None = None) -> tuple[Path | None, str]:
    """After a sign-off: print the version's PDF beside its page. Never raises (the close stands
    whether or not the PDF could be made); returns (the PDF or None, a line saying which)."""
    target = archive_path(home, snap)
    try:
        pack = resolve(home, snap.period, snap.version, company=company)
        write_pdf(pack, target)
    except Exception as exc:  # noqa: BLE001 - any failure leaves the close as it is, and says so
        return None, f"PDF not archived for {snap.period} v{snap.version}: {exc}"
    return target, f"PDF archived: {target}"


# ---------------------------------------------------------------------------------------------
# XLSX


def _value(value: Any) -> Any:
    """A cell value: money stays Decimal (openpyxl writes its exact text as a number)."""
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return Decimal(value)
    return value


def _sheet(
    book: Any,
    title: str,
    headings: list[str],
    rows: list[list[Any]],
    formats: dict[int, str] | None = None,
    widths: dict[int, int] | None = None,
    note: str | None = None,
) -> Any:
    from openpyxl.styles import Font

    ws = book.create_sheet(title)
    if note:
        ws.append([note])
        ws.append([])
    ws.append(headings)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    ws.freeze_panes = f"A{ws.max_row + 1}"  # a coordinate: asking for the cell would add a row
    for row in rows:
        ws.append(row)
        for index, fmt in (formats or {}).items():
            cell = ws.cell(row=ws.max_row, column=index + 1)
            if cell.value is not None:
                cell.number_format = fmt
    for index, width in (widths or {}).items():
        ws.column_dimensions[chr(ord("A") + index)].width = width
    return ws


def _statement_sheets(book: Any, con: duckdb.DuckDBPyConnection, pack: Pack) -> None:
    from openpyxl.styles import Font

    snap = pack.snapshot
    if pack.current:
        lines = con.execute(query_text("export_statements.sql"), {"period": pack.period}).fetchall()
        for statement, title in STATEMENTS:
            rows, bold = [], []
            # budget, variance, variance % (the income statement, for a month with a budget; never 0.00)
            budgeted = any(r[-3] is not None for r in lines if r[0] == statement)
            for rollup, rollup_label in ROLLUPS.items():
                part = [r for r in lines if r[0] == statement and r[1] == rollup]
                if not part:
                    continue
                if rows:
                    rows.append([])
                rows.append([f"{title} {rollup_label}"])
                bold.append(len(rows))
                for _, _, _, line_id, label, kind, depth, *figures in part:
                    text = "  " * int(depth or 0) + label
                    figures = figures if budgeted else figures[:-3]
                    rows.append([text, line_id, kind, *(None if kind == "heading" else f for f in figures)])
                    if kind in ("total", "group", "heading", "balance"):
                        bold.append(len(rows))
            budget_columns = ["Budget", "Variance", "Variance %"] if budgeted else []
            ws = _sheet(
                book,
                title,
                ["Line", "Line id", "Kind", *(lbl for _, lbl in STATEMENT_COLUMNS), *budget_columns],
                rows,
                formats={
                    3: MONEY_FORMAT,
                    4: MONEY_FORMAT,
                    5: MONEY_FORMAT,
                    6: MONEY_FORMAT,
                    **({7: MONEY_FORMAT, 8: MONEY_FORMAT, 9: "0.00"} if budgeted else {}),
                },
                widths={0: 48, 1: 28, 2: 10, 3: 18, 4: 18, 5: 18, 6: 18, 7: 18, 8: 18, 9: 12},
                note=f"{pack.company} · {pack.label} · {pack.currency}; blank: no data "
                "(the column's months precede the ledger)",
            )
            for row in bold:
                ws.cell(row=row + 3, column=1).font = Font(bold=True)
        return
    note = (
        f"{pack.company} · {pack.label} · {pack.currency}: the figures this version kept "
        "(restated since; the warehouse's statements no longer match it)"
    )
    pnl = snap.statements.get("pnl", [])
    _sheet(
        book,
        "Income statement",
        ["Account", "Name", "Type", "Subtype", "Amount"],
        [[r["account_id"], r["account_name"], r["type"], r.get("subtype"), _value(r["amount"])] for r in pnl],
        formats={4: MONEY_FORMAT},
        widths={1: 40, 4: 18},
        note=note,
    )
    bs = snap.statements.get("balance_sheet", [])
    _sheet(
        book,
        "Balance sheet",
        ["Account", "Name", "Type", "Balance"],
        [[r["account_id"], r["account_name"], r["type"], _value(r["balance"])] for r in bs],
        formats={3: MONEY_FORMAT},
        widths={1: 40, 3: 18},
        note=note,
    )
    _sheet(
        book,
        "Cash flow",
        ["Line", "Amount"],
        [],
        note=f"{pack.label}: a superseded version's snapshot keeps no cash-flow statement; "
        "export the period's latest version for it",
    )


def _kpi_format(kpi: str) -> str:
    return "0.00" if kpi in KPI_UNITS else MONEY_FORMAT


def write_xlsx(home: Home, pack: Pack, target: Path) -> Path:
    """The version's workbook: cover, statements, KPIs, open invoices and open bills."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    snap = pack.snapshot
    book = Workbook()
    cover = book.active
    cover.title = "Cover"
    rows: list[list[Any]] = [
        ["Company", pack.company],
        ["Period", pack.period],
        ["Snapshot version", snap.version],
        ["Status", snap.status],
        ["Fingerprint", snap.source_fingerprint],
        ["Data as of", pack.data_as_of],
        ["Currency", pack.currency],
        ["Snapshot taken (UTC)", _utc(snap.taken_at)],
        ["Signed off by", snap.closed_by or ""],
        ["Signed off at (UTC)", _utc(snap.closed_at)],
        ["Override reason", snap.override_reason or ""],
        ["Exported at (UTC)", _utc(datetime.now(timezone.utc))],
    ]
    for row in rows:
        cover.append(row)
        cover.cell(row=cover.max_row, column=1).font = Font(bold=True)
    cover.append([])
    cover.append(["Checks", "Verdict", "Severity", "Expected", "Actual", "Difference", "Detail"])
    for cell in cover[cover.max_row]:
        cell.font = Font(bold=True)
    for check in snap.checks:
        known = BY_ID.get(check["check_id"])
        cover.append(
            [
                known.title if known else check["check_id"],
                check.get("status"),
                known.severity if known else None,
                _value(check.get("expected")),
                _value(check.get("actual")),
                _value(check.get("difference")),
                check.get("detail"),
            ]
        )
        for column in (4, 5, 6):
            cover.cell(row=cover.max_row, column=column).number_format = MONEY_FORMAT
    if not snap.checks:
        cover.append(["(no reconciliation verdicts in this version)"])
    cover.column_dimensions["A"].width = 30
    cover.column_dimensions["B"].width = 40
    cover.column_dimensions["G"].width = 60

    con = _read_only(home)
    try:
        _statement_sheets(book, con, pack)
        order = {k: i for i, k in enumerate(KPI_ORDER)}
        kpis = [
            [k, KPI_LABELS.get(k, k), snap.kpis[k]]
            for k in sorted(snap.kpis, key=lambda k: (order.get(k, len(order)), k))
        ]
        ws = _sheet(
            book,
            "KPIs",
            ["KPI", "Name", "Value"],
            kpis,
            widths={0: 18, 1: 24, 2: 18},
            note=f"{pack.company} · {pack.label}: the version's own figures; blank: no data",
        )
        for i, (kpi, _, _) in enumerate(kpis):
            cell = ws.cell(row=i + 4, column=3)
            if cell.value is not None:
                cell.number_format = _kpi_format(kpi)
        load_functions(con)  # open_documents(): the warehouse's one definition
        documents = con.execute(query_text("export_open_documents.sql"), {"period": pack.period}).fetchall()
    finally:
        con.close()
    headings = ["Document", "Type", "Issued", "Due", "Days overdue", "Total", "Open balance", "Currency"]
    for kind, title, party in (("ar", "Open invoices", "Customer"), ("ap", "Open bills", "Vendor")):
        rows = [
            [doc, name, doc_type, issued, due, overdue, total, open_balance, currency]
            for k, doc, name, doc_type, issued, due, overdue, total, open_balance, currency in documents
            if k == kind
        ]
        _sheet(
            book,
            title,
            [headings[0], party, *headings[1:]],
            rows,
            formats={3: DATE_FORMAT, 4: DATE_FORMAT, 5: "0", 6: MONEY_FORMAT, 7: MONEY_FORMAT},
            widths={0: 16, 1: 32, 3: 12, 4: 12, 6: 16, 7: 16},
            note=f"{pack.company} · {title.lower()} at the {pack.period} cutoff, as the warehouse holds them "
            "at the export",
        )
    book.properties.title = f"{pack.company} monthly close {pack.label}"
    book.properties.creator = "closeboard"
    return write_atomic(target, lambda path: book.save(path))


def _utc(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()
