"""The monthly close history: append-only snapshots, sign-off and restatements.

DESIGN "Snapshot history and the monthly close". `close_snapshots` holds one row per period and
version; this module is its only writer and it only appends (`_append`), in one transaction with the
row's seal (see sql/schema/snapshots.sql for what the database itself refuses):

- `take_snapshots(con, periods, run_id)` appends a version for each period whose content fingerprint
  (ledger figures + failing ERROR checks) differs from its latest version: `draft` while the period
  was never closed, `restated` (with the differences against the last closed version) after.
- `close(con, period, by=..., override_reason=..., run_id=...)` appends a `closed` version with the
  latest version's figures; refused for a month that has not ended, or while an ERROR check fails
  for it unless an override reason is given.
- `update_snapshot` / `delete_snapshot` exist only to refuse, so a caller looking for them learns why.

Readers use `history(con)`; `current_fingerprints(con, periods)` tells whether a version still
stands for the warehouse's figures (the archived pages say so). Nothing here commits a half-written history: every call is one
transaction, and a failure rolls it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import duckdb

from warehouse.db import frame, records, scalar, sql_text, table_exists, transaction

STATUSES = ("draft", "closed", "restated")
# KPIs read at the refresh rather than from the ledger: kept in a snapshot, never compared
POINT_IN_TIME_KPIS = frozenset({"pipeline_open", "bookings_won"})


class SnapshotImmutable(RuntimeError):
    """A snapshot row is never updated or deleted: append a new version instead."""


class CloseRefused(ValueError):
    """A sign-off that may not happen (month not ended, ERROR checks failing without override...)."""


@dataclass(frozen=True)
class Snapshot:
    period: str
    version: int
    run_id: str
    taken_at: datetime
    status: str
    kpis: dict[str, Decimal | None]
    statements: dict[str, list[dict[str, Any]]]
    checks: list[dict[str, Any]]
    source_fingerprint: str
    page_path: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    override_reason: str | None = None
    differences: dict[str, dict[str, dict[str, str | None]]] | None = None

    @property
    def failing_checks(self) -> list[str]:
        return sorted({c["check_id"] for c in self.checks if c.get("status") == "fail"})

    @property
    def warning_checks(self) -> list[str]:
        return sorted({c["check_id"] for c in self.checks if c.get("status") == "warn"})


@dataclass(frozen=True)
class SnapshotResult:
    """What `take_snapshots` did: the versions it appended, and the periods left as they were."""

    appended: list[Snapshot] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def page_path(period: str, version: int) -> str:
    """Where a version's rendered page is archived, relative to the reports folder."""
    return f"history/{period}/v{version}.html"


# --- refusing what an append-only history cannot do ---------------------------------------------


def update_snapshot(*_: Any, **__: Any) -> None:
    raise SnapshotImmutable(
        "close_snapshots is append-only: a version is never updated; a change appends a new version"
    )


def delete_snapshot(*_: Any, **__: Any) -> None:
    raise SnapshotImmutable(
        "close_snapshots is append-only: a version is never deleted; the original close stays on record"
    )


# --- reading -------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _snapshot(row: dict[str, Any]) -> Snapshot:
    return Snapshot(
        period=row["period"],
        version=int(row["version"]),
        run_id=row["run_id"],
        taken_at=row["taken_at"],
        status=row["status"],
        kpis={k: _decimal(v) for k, v in json.loads(row["kpis"]).items()},
        statements=json.loads(row["statements"]),
        checks=json.loads(row["checks"]),
        source_fingerprint=row["source_fingerprint"],
        page_path=row["page_path"],
        closed_by=row["closed_by"],
        closed_at=row["closed_at"],
        override_reason=row["override_reason"],
        differences=json.loads(row["differences"]) if row["differences"] else None,
    )


_COLUMNS = (
    "period, version, run_id, taken_at, status, kpis, statements, checks, source_fingerprint, "
    "page_path, closed_by, closed_at, override_reason, differences"
)


def _rows(con: duckdb.DuckDBPyConnection, where: str = "", params: Sequence[Any] = ()) -> list[Snapshot]:
    if not table_exists(con, "close_snapshots"):
        return []
    rows = records(con, f"select {_COLUMNS} from close_snapshots {where} order by period, version", list(params))
    return [_snapshot(row) for row in rows]


def history(con: duckdb.DuckDBPyConnection, period: str | None = None) -> list[Snapshot]:
    """Every version (of one period, or all), oldest first."""
    return _rows(con, "where period = ?", [period]) if period else _rows(con)


def latest_versions(con: duckdb.DuckDBPyConnection) -> dict[str, Snapshot]:
    latest: dict[str, Snapshot] = {}
    for snap in _rows(con):
        latest[snap.period] = snap
    return latest


def version_summary(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Per period: its latest version and status, and its last closed version (for status.json)."""
    if not table_exists(con, "close_snapshots"):
        return {}
    rows = con.execute(
        "select period, max(version), arg_max(status, version), max(version) filter (where status = 'closed') "
        "from close_snapshots group by period order by period"
    ).fetchall()
    return {p: {"version": v, "status": s, "closed_version": c} for p, v, s, c in rows}


def failing_error_checks(con: duckdb.DuckDBPyConnection, period: str) -> list[tuple[str, str | None]]:
    """The latest reconciliation's ERROR failures for `period`: (check_id, detail)."""
    if not table_exists(con, "recon_results"):
        return []
    return con.execute(
        "select check_id, any_value(detail) from recon_results where period = ? and status = 'fail' "
        "group by check_id order by check_id",
        [period],
    ).fetchall()


# --- computing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Figures:
    period: str
    kpis: str
    statements: str
    checks: str
    source_fingerprint: str


def _figures(con: duckdb.DuckDBPyConnection, periods: Iterable[str]) -> dict[str, _Figures]:
    con.execute("create or replace temp table _snapshot_periods (period varchar)")
    con.execute("insert into _snapshot_periods select unnest(?::varchar[])", [sorted(set(periods))])
    if table_exists(con, "recon_results"):
        con.execute(
            "create or replace temp view _snapshot_recon as select period, check_id, status, "
            "expected, actual, difference, detail from recon_results"
        )
    else:  # before reconciliation exists: no verdicts, an empty checks list
        con.execute(
            "create or replace temp view _snapshot_recon as select null::varchar as period, "
            "null::varchar as check_id, null::varchar as status, null::decimal(18,2) as expected, "
            "null::decimal(18,2) as actual, null::decimal(18,2) as difference, "
            "null::varchar as detail where false"
        )
    try:
        table = frame(con, sql_text("snapshots", "figures.sql"))
    finally:
        con.execute("drop view if exists _snapshot_recon")
        con.execute("drop table if exists _snapshot_periods")
    return {
        row.period: _Figures(row.period, row.kpis, row.statements, row.checks, row.source_fingerprint)
        for row in table.itertuples(index=False)
    }


def current_fingerprints(con: duckdb.DuckDBPyConnection, periods: Iterable[str]) -> dict[str, str]:
    """The fingerprint each period's figures have in the warehouse now (what a new version would get)."""
    return {period: fig.source_fingerprint for period, fig in _figures(con, periods).items()}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _compare(closed: Decimal | None, now: Decimal | None) -> dict[str, str | None] | None:
    if closed == now:
        return None
    difference = now - closed if closed is not None and now is not None else None
    return {"closed": _text(closed), "now": _text(now), "difference": _text(difference)}


def _account_figures(statements: dict[str, list[dict[str, Any]]]) -> dict[str, Decimal | None]:
    figures: dict[str, Decimal | None] = {}
    for row in statements.get("pnl", []):
        figures[row["account_id"]] = _decimal(row["amount"])
    for row in statements.get("balance_sheet", []):
        figures[row["account_id"]] = _decimal(row["balance"])
    return figures


def differences(
    closed: Snapshot, kpis: dict[str, Decimal | None], statements: dict[str, list[dict[str, Any]]]
) -> dict[str, dict[str, dict[str, str | None]]]:
    """Per KPI (ledger KPIs only) and per account: {"closed", "now", "difference"} as decimal
    strings, for every figure that differs from the closed version (an account missing on one side
    counts as absent: its difference is null)."""
    result: dict[str, dict[str, dict[str, str | None]]] = {"kpis": {}, "accounts": {}}
    for name in sorted((set(closed.kpis) | set(kpis)) - POINT_IN_TIME_KPIS):
        change = _compare(closed.kpis.get(name), kpis.get(name))
        if change:
            result["kpis"][name] = change
    before, after = _account_figures(closed.statements), _account_figures(statements)
    for account in sorted(set(before) | set(after)):
        change = _compare(before.get(account), after.get(account))
        if change:
            result["accounts"][account] = change
    return result


# --- the one write path --------------------------------------------------------------------------


def _append(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    """INSERT one version and its seal. The version must be the next one of its period: this is
    the only statement that ever writes close_snapshots."""
    if row["status"] not in STATUSES:
        raise ValueError(f"unknown snapshot status {row['status']!r}")
    current = scalar(con, "select coalesce(max(version), 0) from close_snapshots where period = ?", [row["period"]])
    if row["version"] != current + 1:
        raise SnapshotImmutable(
            f"{row['period']} v{row['version']}: versions are appended in order (next is v{current + 1}); "
            "an existing version is never written again"
        )
    for statement in sql_text("snapshots", "append.sql").split(";\n"):
        if statement.strip() and not all(
            line.strip().startswith("--") or not line.strip() for line in statement.splitlines()
        ):
            con.execute(statement, {k: row[k] for k in row if f"${k}" in statement})


def _now() -> datetime:
    return datetime.now(timezone.utc)


def take_snapshots(
    con: duckdb.DuckDBPyConnection, periods: Iterable[str], run_id: str, *, now: datetime | None = None
) -> SnapshotResult:
    """Append a version for every period in `periods` whose fingerprint changed since its latest
    version (a period never snapshotted gets v1). One transaction; idempotent for unchanged data.
    Periods not in the `periods` mart (not reported yet, or before first_period) are skipped."""
    taken_at = now or _now()
    figures = _figures(con, periods)
    result = SnapshotResult()
    with transaction(con):
        latest = latest_versions(con)
        closed = _last_closed(con)
        for period in sorted(figures):
            fig = figures[period]
            last = latest.get(period)
            if last is not None and last.source_fingerprint == fig.source_fingerprint:
                result.unchanged.append(period)
                continue
            version = (last.version if last else 0) + 1
            kpis = {k: _decimal(v) for k, v in json.loads(fig.kpis).items()}
            statements = json.loads(fig.statements)
            last_closed = closed.get(period)
            diff = differences(last_closed, kpis, statements) if last_closed else None
            row = {
                "period": period,
                "version": version,
                "run_id": run_id,
                "taken_at": taken_at,
                "status": "restated" if last_closed else "draft",
                "kpis": fig.kpis,
                "statements": fig.statements,
                "checks": fig.checks,
                "source_fingerprint": fig.source_fingerprint,
                "page_path": page_path(period, version),
                "closed_by": None,
                "closed_at": None,
                "override_reason": None,
                "differences": json.dumps(diff, sort_keys=True) if diff is not None else None,
            }
            _append(con, row)
            result.appended.append(_snapshot(row))
    return result


def _last_closed(con: duckdb.DuckDBPyConnection) -> dict[str, Snapshot]:
    return {s.period: s for s in _rows(con, "where status = 'closed'")}


def ended_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [p for (p,) in con.execute("select period from periods where not is_open order by period").fetchall()]


def close(
    con: duckdb.DuckDBPyConnection,
    period: str,
    *,
    by: str,
    run_id: str,
    override_reason: str | None = None,
    now: datetime | None = None,
) -> Snapshot:
    """Sign `period` off: append a `closed` version with the latest figures (a fresh version is
    taken first if the figures changed since the last snapshot)."""
    by = (by or "").strip()
    override_reason = (override_reason or "").strip() or None
    if not by:
        raise CloseRefused("a close needs the name of who signs it off (--by NAME)")
    known = dict(con.execute("select period, is_open from periods").fetchall())
    if period not in known:
        first, last = (min(known), max(known)) if known else ("?", "?")
        raise CloseRefused(f"{period} is not a reported period ({first} to {last})")
    if known[period]:
        raise CloseRefused(f"{period} has not ended yet: only ended months can be closed")
    versions = history(con, period)
    current = _figures(con, [period])[period]
    if versions and versions[-1].status == "closed" and versions[-1].source_fingerprint == current.source_fingerprint:
        done = versions[-1]
        raise CloseRefused(
            f"{period} is already closed (v{done.version} by {done.closed_by} at "
            f"{done.closed_at:%Y-%m-%d %H:%M %Z}) and its figures have not changed since"
        )
    failing = failing_error_checks(con, period)
    if failing and not override_reason:
        listed = "; ".join(f"{check}: {detail}" if detail else check for check, detail in failing)
        raise CloseRefused(
            f"{period} cannot be closed while ERROR checks fail ({listed}); "
            "fix the data or close with --override REASON"
        )
    at = now or _now()
    take_snapshots(con, [period], run_id, now=at)
    with transaction(con):
        latest = history(con, period)[-1]
        kpis, statements, checks = con.execute(
            "select kpis, statements, checks from close_snapshots where period = ? and version = ?",
            [period, latest.version],
        ).fetchall()[0]
        row = {
            "period": period,
            "version": latest.version + 1,
            "run_id": run_id,
            "taken_at": at,
            "status": "closed",
            "kpis": kpis,
            "statements": statements,
            "checks": checks,
            "source_fingerprint": latest.source_fingerprint,
            "page_path": page_path(period, latest.version + 1),
            "closed_by": by,
            "closed_at": at,
            "override_reason": override_reason,
            "differences": None,
        }
        _append(con, row)
    return history(con, period)[-1]
