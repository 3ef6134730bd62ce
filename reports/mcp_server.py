"""`closeboard mcp`: the close as a read-only MCP server (DESIGN "closeboard as an MCP server").

An assistant's artifact or any MCP client reads closeboard's reconciled, signed-off figures here
instead of re-deriving them from raw ERP tools. `build_server(home)` returns the `MCPServer`; `run`
serves it over stdio, or streamable HTTP on loopback through the bundled servers' hosting
(`connectors.servers.hosting`: the Host allow-list / DNS-rebinding protection, optional bearer token).

What it reads: only the readers' copy of the warehouse (`Home.read_copy`, opened read-only for each
call and closed after it, so a publish that replaces the file is picked up by the next call; never
the live file) and the close snapshots inside it (`warehouse.snapshots`), plus `run_id` and
`finished_at` of `reports/status.json`. The client sends no SQL and no paths: every query is a
`reports/queries/mcp_*.sql` file with bound parameters, and every argument is checked against what
exists (periods, versions, figures of `mart_kpis`, statements, check ids of `warehouse.checks`).

What it answers: JSON text. Every answer names the `period`, the snapshot `version` whose figures
it gives and that version's `status` (draft, closed, restated), its `fingerprint`, the period's
`state` (open, draft, closed, restated since close), where the figures come from (`figures_from`:
the snapshot row or the warehouse's marts) and `data_as_of` (the run, its date, and each source's
as-of). A closed month answers its last closed version, as the page does, unless a version is
asked for. Money is exact decimal text, never a JSON number. Never served: the MCP calls'
arguments (`connector_calls.arguments`), archived page paths, status.json's file paths, anything
from the configuration or the secrets folder.

Every call (answered or refused) is appended to the server's own audit table `mcp_calls` in
`<home>/mcp_audit.duckdb` (AUDIT_FILE): the readers' copy is read-only and replaced on each publish,
so the audit cannot live there. A call whose audit row cannot be written is not answered.

The dashboard is also offered as an MCP App (reports/mcp_app.py): the `ui://` resource, linked from
get_kpis' `_meta.ui.resourceUri`, whose view reads its figures through these same tools via its host.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import duckdb
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from connectors.servers.hosting import new_server, serve_http
from connectors.servers.specs import READ_ONLY
from connectors.servers.store import decode_cursor, encode_cursor
from reports import explain as explain_module
from reports import mcp_app
from reports.formatting import KPI_UNITS
from warehouse.checks import BY_ID, CHECK_IDS
from warehouse.db import connect, records
from warehouse.home import Home
from warehouse.snapshots import Snapshot, current_fingerprints, history

AUDIT_FILE = "mcp_audit.duckdb"
SERVER_NAME = "closeboard"
STATEMENTS = ("income_statement", "balance_sheet", "cash_flow")
ROLLUPS = ("account", "subtype")
# the snapshot keeps the income statement and balance sheet by account under these keys
SNAPSHOT_STATEMENT = {"income_statement": ("pnl", "amount"), "balance_sheet": ("balance_sheet", "balance")}
ITEMS_DEFAULT, ITEMS_MAX = 100, 500
EXPLAIN_DEFAULT, EXPLAIN_MAX = 20, 200
NEVER_SERVED = frozenset({"arguments", "page_path", "page"})
PERIOD_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
AUDIT_WAIT_S = 5.0
AUDIT_ARGUMENTS = 2000  # characters of a call's arguments kept in the audit row

RECONCILED = (
    "Figures are closeboard's reconciled figures: computed in DuckDB from the ERP ledger (the source of "
    "truth) and checked by reconciliation R1-R7 against the bank, the subledgers and the ERP's own "
    "reports; a closed month answers its signed-off snapshot."
)
ENVELOPE = (
    "Returns JSON text. Every answer carries: period; version and status (draft | closed | restated) "
    "of the close snapshot whose figures it gives (version null for the open month, which has no "
    "snapshot); fingerprint (of the ledger figures and failing ERROR checks it stands for); state "
    "(open | draft | closed | restated since close); figures_from (snapshot | warehouse); data_as_of "
    '(run, run_date, per source as_of). Money is exact decimal text ("1234.50"), never a JSON number.'
)

Period = Annotated[str, Field(description="The month, YYYY-MM (list_periods names the reported ones).")]
Version = Annotated[
    int | None,
    Field(
        description="A snapshot version of the period (get_history lists them); omit for the period's "
        "current answer: its last closed version, else the warehouse's draft figures."
    ),
]
Cursor = Annotated[str | None, Field(description="Opaque next_cursor of the previous page; omit for the first page.")]


class CloseRequestError(ToolError):
    """A request that cannot be answered as asked: the message says what is valid."""


# ---------------------------------------------------------------------------------------------
# reading


@cache
def _query(name: str) -> str:
    return files("reports").joinpath("queries", name).read_text(encoding="utf-8")


def _rows(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> list[dict[str, Any]]:
    sql = _query(name)
    return records(con, sql, {k: v for k, v in params.items() if f"${k}" in sql} or None)


def plain(value: Any) -> Any:
    """A value as the answers carry it: decimals as exact text, times ISO, containers recursively,
    and nothing under a key that is never served (NEVER_SERVED)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if k not in NEVER_SERVED}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def kpi_docs() -> dict[str, str]:
    """Each KPI of mart_kpis -> its definition, read from the mart's own header (one definition;
    the names an entry starts with are left out)."""
    model = explain_module.mart()
    docs = {}
    for name in explain_module.kpis(model):
        doc = re.sub(r"^[a-z_]+(?:, [a-z_]+)*\s{2,}", "", model.doc(name) or "")
        docs[name] = " ".join(doc.split())
    return docs


def _kpi_text() -> str:
    return "\n".join(
        f"- {name} ({KPI_UNITS.get(name, 'money, company currency')}): {doc}" for name, doc in kpi_docs().items()
    )


class CloseReader:
    """The data home's published figures, opened read-only for each call."""

    def __init__(self, home: Home):
        self.home = home

    @contextmanager
    def open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.home.read_copy.exists():
            raise CloseRequestError(
                "no published warehouse in this data home yet: run `closeboard refresh` (or `closeboard demo`)"
            )
        con = connect(self.home.read_copy, read_only=True)
        try:
            yield con
        finally:
            con.close()

    def published_run(self) -> dict[str, Any]:
        """run_id and finished_at of reports/status.json (nothing else of it: it names file paths)."""
        try:
            status = json.loads((self.home.reports / "status.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"run_id": None, "published_at": None}
        return {"run_id": status.get("run_id"), "published_at": status.get("finished_at")}

    def data_as_of(self, con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        rows = _rows(con, "mcp_data_as_of.sql")
        return plain(
            {
                **self.published_run(),
                "run_date": _run_context(con)["run_date"],
                "sources": {r["source"]: {"as_of": r["source_as_of"], "loaded_at": r["loaded_at"]} for r in rows},
            }
        )


def _periods(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    return {r["period"]: r for r in _rows(con, "mcp_periods.sql")}


def _state(info: dict[str, Any]) -> str:
    if info["is_open"]:
        return "open"
    if info["latest_version"] is None:
        return "no snapshot"
    if info["closed_version"] is None:
        return "draft"
    return "restated since close" if info["restated_since_close"] else "closed"


def shown(value: Any) -> str:
    """A client's argument quoted in a message, cut short (a refusal never echoes a whole payload)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_period(periods: dict[str, dict[str, Any]], period: Any) -> dict[str, Any]:
    known = list(periods)
    listing = ", ".join(known) if known else "none (run `closeboard refresh` first)"
    if not isinstance(period, str) or not PERIOD_RE.fullmatch(period.strip()):
        raise CloseRequestError(
            f"period must be a month YYYY-MM, got {shown(period)}; the reported periods are: {listing}"
        )
    period = period.strip()
    if period not in periods:
        raise CloseRequestError(f"unknown period {shown(period)}; the reported periods are: {listing}")
    return periods[period]


def check_figure(figure: Any) -> str:
    known = explain_module.kpis(explain_module.mart())
    if figure not in known:
        close = difflib.get_close_matches(str(figure), known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise CloseRequestError(
            f"unknown figure {shown(figure)}{hint}; the figures (mart_kpis) are: {', '.join(known)}"
        )
    return figure


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise CloseRequestError(f"unknown {name} {shown(value)}; it is one of: {', '.join(choices)}")
    return value


def check_check_id(value: Any) -> str:
    """A check id of warehouse.checks, or its short form (R2)."""
    text = str(value or "").strip()
    if text in BY_ID:
        return text
    short = {c.split("_")[0].lower(): c for c in CHECK_IDS}
    if text.lower() in short:
        return short[text.lower()]
    listing = ", ".join(f"{c} ({BY_ID[c].title})" for c in CHECK_IDS)
    raise CloseRequestError(f"unknown check {shown(value)}; the checks are: {listing}")


def _clamp(value: Any, default: int, most: int, name: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CloseRequestError(f"{name} must be a whole number from 1 to {most}, got {shown(value)}")
    return min(int(value), most)


def _versions(con: duckdb.DuckDBPyConnection, period: str) -> list[Snapshot]:
    return history(con, period)


def _snapshot(con: duckdb.DuckDBPyConnection, info: dict[str, Any], version: Any) -> Snapshot:
    snaps = _versions(con, info["period"])
    listing = ", ".join(f"v{s.version} {s.status}" for s in snaps) or "none (the open month has no snapshot)"
    if isinstance(version, bool) or not isinstance(version, int):
        raise CloseRequestError(f"version must be a whole number; {info['period']} has: {listing}")
    found = next((s for s in snaps if s.version == version), None)
    if found is None:
        raise CloseRequestError(f"{info['period']} has no version {version}; its versions are: {listing}")
    return found


class Answer:
    """What every answer starts with (see the module docstring)."""

    def __init__(self, reader: CloseReader, con: duckdb.DuckDBPyConnection, info: dict[str, Any]):
        self.reader, self.con, self.info = reader, con, info

    def head(
        self, version: int | None, status: str | None, fingerprint: str | None, figures_from: str
    ) -> dict[str, Any]:
        info = self.info
        return {
            "period": info["period"],
            "version": version,
            "status": status,
            "fingerprint": fingerprint,
            "state": _state(info),
            "month_to_date": bool(info["is_open"]),
            "latest_version": info["latest_version"],
            "closed_version": info["closed_version"],
            "figures_from": figures_from,
            "data_as_of": self.reader.data_as_of(self.con),
        }

    def snapshot(self, snap: Snapshot, **payload: Any) -> dict[str, Any]:
        head = self.head(snap.version, snap.status, snap.source_fingerprint, "snapshot")
        return {
            **head,
            "closed_by": snap.closed_by,
            "closed_at": plain(snap.closed_at),
            "override_reason": snap.override_reason,
            **payload,
        }

    def warehouse(self, **payload: Any) -> dict[str, Any]:
        """An answer from the warehouse's marts: the version standing for them is the period's latest
        when its fingerprint is the warehouse's (always so after a refresh), else none."""
        info = self.info
        now = current_fingerprints(self.con, [info["period"]]).get(info["period"])
        if info["latest_version"] is not None and info["latest_fingerprint"] == now:
            head = self.head(info["latest_version"], info["latest_status"], now, "warehouse")
        else:
            head = self.head(None, "draft", now, "warehouse")
        return {**head, **payload}


def _current_snapshot(con: duckdb.DuckDBPyConnection, info: dict[str, Any], version: int | None) -> Snapshot | None:
    """The version a version-less question about a closed month answers (its last closed one), or
    the asked version; None: answer from the warehouse."""
    if version is not None:
        return _snapshot(con, info, version)
    if info["closed_version"] is not None:
        return _snapshot(con, info, info["closed_version"])
    return None


def _run_context(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    rows = _rows(con, "mcp_run_context.sql")
    return rows[0] if rows else {"run_date": None, "currency": None}


def _currency(con: duckdb.DuckDBPyConnection) -> str | None:
    return _run_context(con)["currency"]


# ---------------------------------------------------------------------------------------------
# the tools' answers (plain functions of a read-only connection; the server wraps them)


def list_periods(reader: CloseReader, con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    periods = _periods(con)
    verdicts: dict[str, dict[str, str]] = {}
    for r in _rows(con, "mcp_verdicts.sql"):
        verdicts.setdefault(r["period"], {})[r["check_id"]] = r["status"]
    out = []
    for period, info in periods.items():
        checks = verdicts.get(period, {})
        out.append(
            plain(
                {
                    "period": period,
                    "state": _state(info),
                    "month_to_date": bool(info["is_open"]),
                    "version": info["latest_version"],
                    "status": info["latest_status"],
                    "fingerprint": info["latest_fingerprint"],
                    "closed_version": info["closed_version"],
                    "closed_by": info["closed_by"],
                    "closed_at": info["closed_at"],
                    "override_reason": info["override_reason"],
                    "checks": checks,
                    "failing_error_checks": sorted(c for c, s in checks.items() if s == "fail"),
                }
            )
        )
    return {"currency": _currency(con), "periods": out, "data_as_of": reader.data_as_of(con)}


def get_kpis(
    reader: CloseReader, con: duckdb.DuckDBPyConnection, period: str, version: int | None = None
) -> dict[str, Any]:
    info = check_period(_periods(con), period)
    answer = Answer(reader, con, info)
    snap = _current_snapshot(con, info, version)
    common = {"currency": _currency(con), "units": KPI_UNITS}
    if version is not None:  # an asked version: its own row's figures
        return answer.snapshot(snap, **common, kpis=plain(snap.kpis))
    # the period's current answer: as it reports them (the reported_kpis view, as the page shows them)
    kpis = {r["kpi"]: r["value"] for r in _rows(con, "mcp_kpis.sql", period=info["period"])}
    if snap is not None:
        return answer.snapshot(snap, **common, kpis=kpis)
    return answer.warehouse(**common, kpis=kpis)


def get_statement(
    reader: CloseReader,
    con: duckdb.DuckDBPyConnection,
    kind: str,
    period: str,
    version: int | None = None,
    rollup: str = "account",
) -> dict[str, Any]:
    kind = check_choice("statement kind", kind, STATEMENTS)
    rollup = check_choice("rollup", rollup, ROLLUPS)
    info = check_period(_periods(con), period)
    answer = Answer(reader, con, info)
    snap = _current_snapshot(con, info, version)
    common = {"statement": kind, "currency": _currency(con)}
    now = current_fingerprints(con, [info["period"]]).get(info["period"])
    if snap is None or snap.source_fingerprint == now:
        # the warehouse's statements are the version's figures (same fingerprint): its full layout
        lines = _rows(con, "mcp_statement.sql", period=info["period"], statement=kind, rollup=rollup)
        body = {
            **common,
            "rollup": rollup,
            "lines": lines,
            "columns": {
                "amount": "the period (balance sheet: the month-end balance)",
                "prior_month": "the month before",
                "prior_year": "the same month a year before",
                "ytd": "fiscal year to date (balance sheet: change since the year's opening)",
            },
            "note": "null is no data, never 0.00",
        }
        if snap is None:
            return answer.warehouse(**body)
        return answer.snapshot(
            snap, **body, layout_from="warehouse (mart_statements): its figures have this version's fingerprint"
        )
    # a superseded version: only what its snapshot row kept (income statement and balance sheet by account)
    if kind not in SNAPSHOT_STATEMENT:
        raise CloseRequestError(
            f"{info['period']} v{snap.version} ({snap.status}) is no longer the warehouse's figures, and its "
            f"snapshot keeps only the income_statement and balance_sheet by account, not the {kind}; "
            f"ask for version {info['latest_version']} (the current figures) for the {kind}"
        )
    key, column = SNAPSHOT_STATEMENT[kind]
    lines = [
        {
            "account_id": r.get("account_id"),
            "account_name": r.get("account_name"),
            "type": r.get("type"),
            "subtype": r.get("subtype"),
            "amount": r.get(column),
        }
        for r in snap.statements.get(key, [])
    ]
    return answer.snapshot(
        snap,
        **common,
        rollup="account",
        lines=lines,
        layout_from=f"the snapshot row (statements.{key}): by account, the period's amounts only",
    )


def explain(
    reader: CloseReader, con: duckdb.DuckDBPyConnection, figure: str, period: str, limit: int | None = None
) -> dict[str, Any]:
    figure = check_figure(figure)
    info = check_period(_periods(con), period)
    rows = _clamp(limit, EXPLAIN_DEFAULT, EXPLAIN_MAX, "limit")
    try:
        result = explain_module.explain(con, figure, info["period"], limit=rows)
    except explain_module.ExplainError as exc:
        raise CloseRequestError(str(exc)) from None
    body = plain({k: v for k, v in result.items() if k != "period"})
    body["figure"] = body.pop("kpi")
    answer = Answer(reader, con, info).warehouse(explanation=body)
    closed = info["closed_version"]
    if closed is not None and answer["version"] != closed:
        answer["note"] = (
            f"explains the warehouse's current figures; the closed version v{closed} differs "
            "(get_history shows the differences)"
        )
    return answer


def get_checks(reader: CloseReader, con: duckdb.DuckDBPyConnection, period: str) -> dict[str, Any]:
    info = check_period(_periods(con), period)
    verdicts = []
    for r in _rows(con, "mcp_checks.sql", period=info["period"]):
        check = BY_ID.get(r["check_id"])
        verdicts.append(
            {
                "check_id": r["check_id"],
                "title": check.title if check else r["check_id"],
                "severity": check.severity if check else None,
                "rule": check.description if check else None,
                "status": r["status"],
                "expected": r["expected"],
                "actual": r["actual"],
                "difference": r["difference"],
                "detail": r["detail"],
                "items": r["items"],
            }
        )
    failing = sorted(v["check_id"] for v in verdicts if v["status"] == "fail")
    return Answer(reader, con, info).warehouse(
        checks=verdicts,
        failing_error_checks=failing,
        sign_off_blocked=bool(failing),
        statuses="pass | warn | fail | not_configured (the source it needs is not configured)",
    )


def get_check_items(
    reader: CloseReader,
    con: duckdb.DuckDBPyConnection,
    period: str,
    check_id: str,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    check = check_check_id(check_id)
    info = check_period(_periods(con), period)
    size = _clamp(limit, ITEMS_DEFAULT, ITEMS_MAX, "limit")
    recon = _rows(con, "mcp_check_run.sql", period=info["period"], check_id=check)[0]
    run = hashlib.blake2b(str(recon["run_id"] or "").encode(), digest_size=6).hexdigest()
    digest = hashlib.blake2b(f"{info['period']}|{check}".encode(), digest_size=6).hexdigest()
    offset = 0
    if cursor:
        cut_from, offset = decode_cursor(cursor, digest)
        if cut_from != run:
            raise CloseRequestError(
                "the reconciliation was published again since this cursor was cut: start again without a cursor"
            )
    items = _rows(con, "mcp_check_items.sql", period=info["period"], check_id=check, limit=size, offset=offset)
    total = int(recon["total"])
    end = offset + len(items)
    return Answer(reader, con, info).warehouse(
        check_id=check,
        title=BY_ID[check].title,
        items=items,
        total=total,
        next_cursor=encode_cursor(run, digest, end) if end < total else None,
    )


def get_history(reader: CloseReader, con: duckdb.DuckDBPyConnection, period: str) -> dict[str, Any]:
    info = check_period(_periods(con), period)
    versions = [
        plain(
            {
                "version": s.version,
                "status": s.status,
                "taken_at": s.taken_at,
                "run_id": s.run_id,
                "fingerprint": s.source_fingerprint,
                "closed_by": s.closed_by,
                "closed_at": s.closed_at,
                "override_reason": s.override_reason,
                "failing_error_checks": s.failing_checks,
                "warning_checks": s.warning_checks,
                "kpis": s.kpis,
                "differences": s.differences,
            }
        )
        for s in _versions(con, info["period"])
    ]
    head = Answer(reader, con, info).head(
        info["latest_version"], info["latest_status"] or "draft", info["latest_fingerprint"], "snapshot"
    )
    return {
        **head,
        "versions": versions,
        "differences_note": "a restated version lists per KPI and per account {closed, now, difference} "
        "against the last closed version",
    }


# ---------------------------------------------------------------------------------------------
# auditing


class Audit:
    """`mcp_calls` in its own small DuckDB file (see the module docstring); one short connection per
    row, so several `closeboard mcp` processes on one home take turns."""

    def __init__(self, path: Path, transport: str):
        self.path, self.transport = path, transport
        self._lock = threading.Lock()

    def record(self, **row: Any) -> None:
        sql = _query("mcp_audit.sql")
        statements = [
            s
            for s in sql.split(";")
            if s.strip() and not all(line.strip().startswith("--") or not line.strip() for line in s.splitlines())
        ]
        values = {"called_at": datetime.now(timezone.utc), "transport": self.transport, **row}
        deadline = time.monotonic() + AUDIT_WAIT_S
        with self._lock:
            while True:
                try:
                    con = duckdb.connect(str(self.path))
                    try:
                        for statement in statements:
                            con.execute(statement, {k: v for k, v in values.items() if f"${k}" in statement} or None)
                    finally:
                        con.close()
                    return
                except duckdb.IOException:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# the server


INSTRUCTIONS = (
    "closeboard's monthly close, read-only: the reconciled KPIs, statements, reconciliation checks "
    "and the immutable close history (signed-off versions and restatements) of one company. "
    "Start with list_periods, then get_kpis for a month; explain shows where a figure comes from "
    "(its definition, the MCP calls that loaded its data and the journal lines summing to it). " + RECONCILED
)


def build_server(
    home: Home | Path | str, *, transport: str = "memory", audit_path: Path | None = None, entities: list | None = None
) -> MCPServer:
    """The read-only MCP server over `home`'s published figures (see the module docstring); serving one
    entity of a group (`entities`: reports.portfolio.PortfolioEntity), also `list_entities`."""
    home = home if isinstance(home, Home) else Home.resolve(home)
    reader = CloseReader(home)
    audit = Audit(audit_path or home.root / AUDIT_FILE, transport)
    server = new_server(
        SERVER_NAME, title="closeboard: the reconciled monthly close (read-only)", instructions=INSTRUCTIONS
    )

    def call(
        tool: str, arguments: dict[str, Any], answer: Callable[[duckdb.DuckDBPyConnection], dict[str, Any]]
    ) -> str:
        started = time.monotonic()
        status, error, text = "ok", None, None
        failure: ToolError | None = None
        try:
            with reader.open() as con:
                text = json.dumps(plain(answer(con)), ensure_ascii=False, separators=(",", ":"))
        except ToolError as exc:
            status, error, failure = "error", str(exc), exc
        except Exception as exc:  # noqa: BLE001 - the client gets no internals (paths, SQL); the log does
            traceback.print_exc(file=sys.stderr)
            status, error = "error", f"{type(exc).__name__}: {exc}"
            failure = ToolError(f"{tool} failed inside closeboard (the server's log has the details)")
        try:
            asked = json.dumps(plain(arguments), sort_keys=True)
            audit.record(
                tool=tool,
                arguments=asked if len(asked) <= AUDIT_ARGUMENTS else asked[:AUDIT_ARGUMENTS] + "...",
                status=status,
                error=error,
                answer_bytes=len(text.encode()) if text is not None else None,
                duration_ms=int((time.monotonic() - started) * 1000),
                warehouse_run=reader.published_run()["run_id"],
            )
        except Exception:  # noqa: BLE001
            traceback.print_exc(file=sys.stderr)
            raise ToolError(
                "the audit log (mcp_audit.duckdb in the data home) cannot be written, so nothing is answered: try again"
            ) from None
        if failure is not None:
            raise failure
        assert text is not None
        return text

    kpi_text = _kpi_text()
    check_text = "\n".join(f"- {c} ({BY_ID[c].title}, {BY_ID[c].severity}): {BY_ID[c].description}" for c in CHECK_IDS)

    @server.tool(
        name="list_periods",
        title="Reported periods and their close state",
        description="Every reported month, oldest first, with its close state: the latest snapshot version, "
        "its status and fingerprint, the last closed version and who signed it off when (and any override "
        "reason), whether it was restated since, and each reconciliation check's verdict "
        "(pass | warn | fail | not_configured). The last one is the open month (month to date). "
        + RECONCILED
        + " Returns JSON text {currency, periods: [...], data_as_of}.",
        annotations=READ_ONLY,
        structured_output=False,
    )
    def list_periods_tool() -> str:
        return call("list_periods", {}, lambda con: list_periods(reader, con))

    @server.tool(
        name="get_kpis",
        title="KPIs of a month",
        description="The month's KPI set (exact decimal strings; null where undefined). A closed month answers "
        "its last closed version's figures from the close snapshot unless a version is given; a month never "
        "closed answers the warehouse's current figures (mart_kpis). "
        + RECONCILED
        + "\nThe figures:\n"
        + kpi_text
        + "\n"
        + ENVELOPE,
        annotations=READ_ONLY,
        structured_output=False,
        meta=mcp_app.TOOL_META,  # MCP Apps: a host that renders apps shows the dashboard (ui://) with it
    )
    def get_kpis_tool(period: Period, version: Version = None) -> str:
        return call(
            "get_kpis", {"period": period, "version": version}, lambda con: get_kpis(reader, con, period, version)
        )

    @server.tool(
        name="get_statement",
        title="Financial statement of a month",
        description="A statement of the month: kind income_statement, balance_sheet or cash_flow (indirect "
        "method; its net change equals the change in cash), by account nested under its parent (rollup "
        "account) or by type/subtype (rollup subtype), each line with amount (the period; balance sheet: the "
        "month-end balance), prior_month, prior_year and ytd, exact to the cent (null: no data). A closed "
        "month answers its last closed version; a version whose figures the warehouse no longer holds "
        "(superseded by a restatement) answers what its snapshot kept: the income statement and balance "
        "sheet by account. " + RECONCILED + "\n" + ENVELOPE,
        annotations=READ_ONLY,
        structured_output=False,
    )
    def get_statement_tool(
        kind: Annotated[str, Field(description="income_statement | balance_sheet | cash_flow")],
        period: Period,
        version: Version = None,
        rollup: Annotated[str, Field(description="account (default) | subtype")] = "account",
    ) -> str:
        return call(
            "get_statement",
            {"kind": kind, "period": period, "version": version, "rollup": rollup},
            lambda con: get_statement(reader, con, kind, period, version, rollup),
        )

    @server.tool(
        name="explain",
        title="Explain a figure",
        description="Where one KPI of a month comes from, as `closeboard explain` shows it: its definition (the "
        "SQL expression in mart_kpis), the source tables with the run and MCP calls that loaded them (tool, "
        "page, items; never the calls' arguments), and the journal lines (or CRM records) behind it, largest "
        "first, with whether their sum ties to the figure; a ratio or derived figure as its formula over its "
        "components, each with its lines. Explains the warehouse's current figures. "
        + RECONCILED
        + "\nThe figures:\n"
        + kpi_text
        + "\n"
        + ENVELOPE,
        annotations=READ_ONLY,
        structured_output=False,
    )
    def explain_tool(
        figure: Annotated[str, Field(description="A KPI name of mart_kpis, e.g. revenue, cash, dso")],
        period: Period,
        limit: Annotated[
            int | None, Field(description=f"Lines listed per figure (default {EXPLAIN_DEFAULT}, at most {EXPLAIN_MAX})")
        ] = None,
    ) -> str:
        return call(
            "explain",
            {"figure": figure, "period": period, "limit": limit},
            lambda con: explain(reader, con, figure, period, limit),
        )

    @server.tool(
        name="get_checks",
        title="Reconciliation checks of a month",
        description="The latest reconciliation's verdict per check for the month: status (pass | warn | fail | "
        "not_configured), expected, actual and difference (exact), the detail, and how many evidence items "
        "each lists (get_check_items pages through them). An ERROR check that fails blocks sign-off. The "
        "checks:\n" + check_text + "\n" + ENVELOPE,
        annotations=READ_ONLY,
        structured_output=False,
    )
    def get_checks_tool(period: Period) -> str:
        return call("get_checks", {"period": period}, lambda con: get_checks(reader, con, period))

    @server.tool(
        name="get_check_items",
        title="Evidence behind a check",
        description="The records behind one check of the month (unmatched bank and book lines, open-item "
        "differences, backlog...), largest amount first: {items: [{source, record_id, record_date, amount, "
        "reason}], total, next_cursor}. Pages: call again with cursor=next_cursor until it is null. check_id "
        f"is one of {', '.join(CHECK_IDS)} (or its short form, R2). " + ENVELOPE,
        annotations=READ_ONLY,
        structured_output=False,
    )
    def get_check_items_tool(
        period: Period,
        check_id: Annotated[str, Field(description=f"One of {', '.join(CHECK_IDS)}")],
        cursor: Cursor = None,
        limit: Annotated[
            int | None, Field(description=f"Items per page (default {ITEMS_DEFAULT}, at most {ITEMS_MAX})")
        ] = None,
    ) -> str:
        return call(
            "get_check_items",
            {"period": period, "check_id": check_id, "cursor": cursor, "limit": limit},
            lambda con: get_check_items(reader, con, period, check_id, cursor, limit),
        )

    @server.tool(
        name="get_history",
        title="Close history of a month",
        description="Every snapshot version of the month, oldest first: version, status (draft | closed | "
        "restated), when it was taken, its fingerprint, sign-off (closed_by, closed_at, override_reason), "
        "failing ERROR and warning checks, its KPIs, and on a restated version the differences per KPI and "
        "per account against the last closed version ({closed, now, difference}). Versions are immutable: "
        "a change appends a version, the original close stays on record. " + ENVELOPE,
        annotations=READ_ONLY,
        structured_output=False,
    )
    def get_history_tool(period: Period) -> str:
        return call("get_history", {"period": period}, lambda con: get_history(reader, con, period))

    @server.resource(
        mcp_app.APP_URI,
        name="closeboard_dashboard",
        title="closeboard dashboard (MCP App)",
        description="The monthly close dashboard as an MCP App view (MCP Apps, SEP-1865): KPI tiles, "
        "reconciliation verdicts and statements of a month, with a period selector. It embeds no figures: "
        "it reads them through this server's tools (list_periods, get_kpis, get_checks, get_statement) "
        "via its host. Self-contained, no network (its CSP allows only its own inline script and style).",
        mime_type=mcp_app.APP_MIME,
        meta=mcp_app.APP_META,
    )
    def dashboard_app() -> str:
        return mcp_app.app_html()

    if entities is not None:  # one entity of a group (issue 22): the others, as the portfolio page shows them

        @server.tool(
            name="list_entities",
            title="The group's entities",
            description="Every entity of the group this server's entity belongs to, with its last ended month's "
            "revenue, net income, cash, AR and AP in its own currency (never converted or added across "
            "currencies), its checks, its last sign-off and its data as-of; `serving` is this server's entity "
            "(another entity's figures: `closeboard --entity ID mcp`). Returns JSON text {serving, entities}.",
            annotations=READ_ONLY,
            structured_output=False,
        )
        def list_entities_tool() -> str:
            from reports.portfolio import entity_row

            now = datetime.now(timezone.utc)
            serving = next((e.id for e in entities if e.home.root == home.root), None)
            rows = [{k: v for k, v in entity_row(e, now).items() if k != "href"} for e in entities]  # no paths
            return call("list_entities", {}, lambda _con: {"serving": serving, "entities": rows})

    return server


TOOL_NAMES = ("list_periods", "get_kpis", "get_statement", "explain", "get_checks", "get_check_items", "get_history")


def client_config(
    home: Home, *, http_port: int | None = None, host: str = "127.0.0.1", token_env: str | None = None
) -> dict[str, Any]:
    """The snippet a desktop MCP client (Claude Desktop-style `mcpServers`) needs to start this server."""
    if http_port is not None:
        reach = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        entry: dict[str, Any] = {"type": "http", "url": f"http://{reach}:{http_port}/mcp"}
        if token_env:
            entry["headers"] = {"Authorization": f"Bearer ${{{token_env}}}"}
        return {"mcpServers": {SERVER_NAME: entry}}
    script = Path(sys.executable).with_name("closeboard")
    command, args = (str(script), []) if script.exists() else (sys.executable, ["-m", "pipelines.cli"])
    return {
        "mcpServers": {
            SERVER_NAME: {
                "command": command,
                "args": [*args, "--home", str(home.root), "mcp"],
                "env": {"CLOSEBOARD_HOME": str(home.root)},
            }
        }
    }


def run(
    home: Home,
    *,
    http_port: int | None = None,
    host: str = "127.0.0.1",
    token: str | None = None,
    entities: list | None = None,
) -> None:
    """Serve until stopped: stdio, or streamable HTTP at http://HOST:PORT/mcp (the bundled servers' hosting:
    on a loopback host only loopback Host headers are answered; with `token`, a bearer token is required)."""
    server = build_server(home, transport="stdio" if http_port is None else "http", entities=entities)
    if http_port is None:
        server.run("stdio")
        return
    import anyio

    anyio.run(serve_http, server, host, http_port, token)
