"""Reconciliation R1-R7 (DESIGN "Reconciliation"), computed in SQL over the canonical tables.

``build_recon(con, run_id, params)`` evaluates every check at every period's month-end (the open
month: the run date) from `run_context`, and replaces `recon_results`, `recon_items` and
`recon_bank_match_spans` (read as `recon_bank_matches`, one row per match and month-end) with this
run's rows in one transaction (the caller's, when one is open).

Incremental: R2, R3 and R4 (the costly ones: R2's matching at every month-end, the open documents at
every month-end) are recomputed only from the earliest month whose inputs changed since the last run
(`sql/recon/incremental/inputs.sql` fingerprints what they read, per input and month), and never
later than the latest ended month or the last run's open month; their rows for earlier periods are
kept (a check at a month-end reads only rows dated up to it). A refresh the same day (the same open
cut-off) with no input changed recomputes none of their periods. R5 measures backlog against the run
date, at every month-end from what the CRM and the invoices hold now: it is recomputed whole, unless none
of what it reads changed (`R5_INPUTS`, fingerprinted with R2-R4's) and the run date is the last run's,
when its rows are kept as they are (at scale 100 its ~123k backlog items cost ~0.35 s a run). Every other
check is recomputed whole each run, because its earlier periods can change with no data change in
them: R1 lists an unbalanced entry under its first line's month, which a later line of the same entry
changes; R6 counts this load and its freshness; R7 reads the ERP's trial balance reports, pulled whole.
All are cheap beside R2-R4.
The rules are the `.sql` files in `sql/recon/`, run in file-name order. R2's one-to-one matching runs
after `10_bank_candidates.sql`, one cut-off at a time (`sql/recon/r2_cutoff/`: that cut-off's pairs,
`11_match_step.sql` repeated until every pair is taken or ruled out, then its unmatched lines and its
matches), so its working set is one month-end's pairs, never every pair at every cut-off (issue 21:
1 GiB at scale 100). A cut-off matches again only the connected components of the pair graph that
gained a pair since the previous one and keeps the previous matches of the others
(`01_components.sql`: why that is the same matching), and a match is stored once for the month-ends
in a row it holds at (`25_spans.sql`), not once per month-end: at scale 100 a cold run's
reconciliation 8.8 s -> 5.5 s (replayed alone, bench/recon.py).

Statuses: 'fail' is an ERROR finding (blocks sign-off), 'warn' a WARN finding, 'pass' neither;
'not_configured' when a source the check reads is not in closeboard.yaml (neither pass nor fail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from connectors.periods import shift
from warehouse.checks import CHECK_IDS, CHECKS
from warehouse.db import frame, records, scalar, sql_text, transaction
from warehouse.models import load_functions

RECON_DIR = Path(__file__).parent / "sql" / "recon"
CUTOFF_DIR = RECON_DIR / "r2_cutoff"  # R2's matching at each cut-off, run after CANDIDATES
CANDIDATES = "10_bank_candidates.sql"
MATCH_STEP = "11_match_step.sql"
# R2's private matching database (the candidate pairs, the bank and book lines and one cut-off's pairs)
# is held to a quarter of the warehouse connection's own memory_limit (closeboard.yaml's
# warehouse.memory_limit), within these bytes; past it, it spills where the warehouse does
WORK_MEMORY_MIN = 64 * 10**6
WORK_MEMORY_MAX = 256 * 10**6
_MEMORY_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}

DEFAULT_SEVERITY = {c.id: c.severity for c in CHECKS}
CHECK_TITLES = {c.id: c.title for c in CHECKS}
# the sources each check reads; without one of them configured the check is `not_configured`
CHECK_SOURCES = {c.id: c.sources for c in CHECKS if c.sources}
MAX_MATCH_ROUNDS = 100_000
COMPONENTS_FROM = 3  # month-ends matched in a run from which R2 finds the pair graph's components
# what `build_recon` imports only when it first needs it (scipy's graph components in `_components`,
# pyarrow's pandas compatibility at its first conversion): a caller importing on another thread meanwhile
# imports these first (pipelines.expectations.import_meanwhile); tests/test_recon_verdicts.py checks the list
LAZY_IMPORTS = ("pyarrow.pandas_compat", "pyarrow.vendored.version", "scipy.sparse", "scipy.sparse.csgraph")
INPUTS_SQL = RECON_DIR / "incremental" / "inputs.sql"
VERDICTS_DIR = RECON_DIR / "verdicts"  # the stored great-expectations verdicts (schema/recon.sql)
VERDICT_SCHEMA = pa.schema(
    [
        ("check_id", pa.string()),
        ("digest", pa.string()),
        ("outcome", pa.string()),
        ("failed", pa.list_(pa.string())),
        ("evaluated", pa.int32()),
        ("validated_in", pa.string()),
    ]
)
# recomputed only from the earliest changed month on (see the module's docstring)
INCREMENTAL_CHECKS = ("R2_bank_vs_book", "R3_ar", "R4_ap")
# their rules (and R2's matching, after CANDIDATES), not run at all when none of their periods is
# recomputed (a refresh the same day with nothing they read changed)
INCREMENTAL_FILES = (CANDIDATES, "20_r2_bank_vs_book.sql", "40_r3_r4_subledgers.sql")
# R5, kept whole when none of the inputs it reads (inputs.sql parts) changed and the run date is the
# last run's; the CRM is read by R5 only, so its changes never recompute R2-R4
R5, R5_FILE = "R5_bookings_vs_billings", "50_r5_bookings_vs_billings.sql"
R5_INPUTS = ("params", "context", "erp_invoices", "crm_opportunities")
ONLY_R5_INPUTS = ("crm_opportunities",)
# the largest of the run's own tables, dropped once its rows are in place (freed at the commit)
_WORK_TABLES = ("_recon_candidates", "_recon_bank", "_recon_book", "_recon_r2_unmatched", "_recon_control")
_WORK_TABLES += ("_recon_doc_positions", "_recon_apps", "_recon_docs")


@dataclass(frozen=True)
class ReconParams:
    match_window_days: int = 5
    stale_after_days: int = 45
    warn_after_days: int = 5  # business days (Mon-Fri) before an unmatched bank-only item warns (R2)
    bookings_tolerance: Decimal = Decimal("0.02")
    freshness_hours: int = 24
    max_rejected_share: Decimal = Decimal("0.01")
    # the configured sources; a check whose inputs are not all configured reports `not_configured`
    sources: tuple[str, ...] = ("erp", "bank", "crm")
    severity: dict[str, str] = field(default_factory=dict)  # check_id -> 'error' | 'warn' (overrides)

    def __post_init__(self) -> None:
        for check_id, level in self.severity.items():
            if check_id not in CHECK_IDS:
                raise ValueError(f"reconciliation.severity: unknown check {check_id!r} (one of {', '.join(CHECK_IDS)})")
            if level not in ("error", "warn"):
                raise ValueError(f"reconciliation.severity.{check_id}: expected error or warn, got {level!r}")
        if self.match_window_days < 0 or self.stale_after_days < 0 or self.warn_after_days < 0:
            raise ValueError("reconciliation: match_window_days, stale_after_days and warn_after_days must be >= 0")


@dataclass(frozen=True)
class ReconSummary:
    run_id: str
    periods: int
    results: int
    items: int
    matches: int
    match_rounds: int
    worst: dict[str, str]  # check_id -> worst status over all periods
    # R2-R4 were recomputed from this period on (None: every period; after the open month: none)
    from_period: str | None = None
    kept_all: bool = False  # R2-R4 recomputed for no period: their rows stand as they were
    kept_whole: tuple[str, ...] = ()  # checks not recomputed at all (R5, nothing it reads changed)

    @property
    def recomputed(self) -> str:
        """R2-R4's recomputed periods, in words: every period, from a month on, or none."""
        if self.kept_all:
            return "none (nothing R2-R4 read changed, and the run date is the last run's)"
        return self.from_period or "every period"


def _in_transaction(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the caller holds an open transaction (two reads of the id agree only inside one)."""
    first, second = (con.execute("select current_transaction_id()").fetchall()[0][0] for _ in range(2))
    return first == second


def build_recon(
    con: duckdb.DuckDBPyConnection, run_id: str, params: ReconParams | None = None, *, full: bool = False
) -> ReconSummary:
    """Compute R1-R7 for every period and replace the recon_* tables with this run's rows (R2-R4 only
    from the earliest month whose inputs changed, unless `full`)."""
    params = params or ReconParams()
    contexts = scalar(con, "select count(*) from run_context")
    if contexts != 1:
        raise ValueError(f"run_context must hold exactly one row, found {contexts}")
    owns = not _in_transaction(con)
    if owns:
        con.execute("begin transaction")
    try:
        summary = _build(con, run_id, params, full)
    except BaseException:
        if owns:
            con.execute("rollback")
        raise
    if owns:
        con.execute("commit")
    return summary


def _run_dates(con: duckdb.DuckDBPyConnection) -> tuple[str | None, str]:
    """(the last run's run date, this run's): their open cut-offs, 'YYYY-MM-DD' (a warehouse written
    before the last run's was kept holds its month); inputs.sql has run."""
    return (
        scalar(con, "select max(period) from recon_inputs where part = 'open_month'"),
        scalar(con, "select strftime(max(cutoff) filter (where is_open), '%Y-%m-%d') from calendar()"),
    )


def _from_period(con: duckdb.DuckDBPyConnection, full: bool, run_dates: tuple[str | None, str]) -> str | None:
    """The first period R2-R4 are recomputed for (None: all): the earliest month whose inputs
    changed, at the latest the latest ended month (R3/R4 check today's document balances there), the
    open month (its cut-off is the run date) and the last run's open month (its cut-off was that run's
    date). Every period when an input that is not by month changed, or nothing is stored yet. None of
    them (the month after the open month) when no input changed and the run date is the last run's: a
    refresh later the same day with nothing new keeps every R2-R4 row as it stands (they are a function
    of exactly these)."""
    stored_cutoff, open_cutoff = run_dates
    stored_open = stored_cutoff[:7] if stored_cutoff else None
    if full or stored_open is None or not scalar(con, "select count(*) from recon_results"):
        return None
    changed = [
        period
        for (period,) in con.execute(
            "select distinct period from _recon_changed where part not in (select unnest(?))", [list(ONLY_R5_INPUTS)]
        ).fetchall()
    ]
    if "" in changed:
        return None
    latest, open_month = con.execute(
        "select max(period) filter (where is_latest_ended), max(period) filter (where is_open) from calendar()"
    ).fetchone()
    if not changed and stored_cutoff == open_cutoff:
        return shift(open_month, 1)
    return min(p for p in (*changed, latest, open_month, stored_open) if p)


def _keeps_r5(con: duckdb.DuckDBPyConnection, full: bool, run_dates: tuple[str | None, str]) -> bool:
    """Whether R5's stored rows stand as they are: a run that is not `full`, on the last run's run date,
    with R5 rows stored and none of R5_INPUTS changed (inputs.sql has run). R5 is a function of exactly
    these: the calendar and its cut-offs (the run date, the context), the settings, every invoice and
    every opportunity."""
    last, this = run_dates
    if full or last != this or not scalar(con, "select count(*) from recon_results where check_id = ?", [R5]):
        return False
    return not scalar(con, "select count(*) from _recon_changed where part in (select unnest(?))", [list(R5_INPUTS)])


def _build(con: duckdb.DuckDBPyConnection, run_id: str, params: ReconParams, full: bool) -> ReconSummary:
    con.execute(
        "create or replace temp table recon_params as select ?::integer as match_window_days, "
        "?::integer as stale_after_days, ?::decimal(9, 4) as bookings_tolerance, ?::integer as freshness_hours, "
        "?::decimal(9, 6) as max_rejected_share, ?::integer as warn_after_days, ?::varchar as sources, "
        "null::varchar as from_period",
        [
            params.match_window_days,
            params.stale_after_days,
            str(params.bookings_tolerance),
            params.freshness_hours,
            str(params.max_rejected_share),
            params.warn_after_days,
            ",".join(sorted(params.sources)),
        ],
    )
    con.execute("create or replace temp table recon_severity (check_id varchar, severity varchar)")
    for check_id, level in sorted(params.severity.items()):
        con.execute("insert into recon_severity values (?, ?)", [check_id, level])

    load_functions(con)  # calendar() and open_documents(): the cut-offs and open items the marts use
    con.execute(INPUTS_SQL.read_text(encoding="utf-8"))  # what R2-R5 read, and what of it changed
    run_dates = _run_dates(con)
    from_period = _from_period(con, full, run_dates)
    con.execute("update recon_params set from_period = ?", [from_period])
    kept_all = from_period is not None and not scalar(
        con, "select count(*) from calendar() where period >= ?", [from_period]
    )
    kept_whole = (R5,) if _keeps_r5(con, full, run_dates) else ()
    rounds = 0
    for path in sorted(RECON_DIR.glob("*.sql")):
        if kept_all and path.name in INCREMENTAL_FILES:
            continue  # no R2-R4 period to recompute: their rows stand, and nothing here would be kept
        if R5 in kept_whole and path.name == R5_FILE:
            continue  # R5's rows stand
        _run_file(con, path)
        if path.name == CANDIDATES:
            rounds = _match_by_cutoff(con, run_id, from_period)

    for check_id, needed in CHECK_SOURCES.items():  # bank and CRM are optional: not configured, not pass or fail
        missing = [source for source in needed if source not in params.sources]
        if missing and check_id not in kept_whole:
            con.execute("delete from _recon_items where check_id = ?", [check_id])
            con.execute("delete from _recon_results where check_id = ?", [check_id])
            con.execute(
                """insert into _recon_results select period, ?, 'not_configured', null, null, null, ?
                   from _recon_cutoffs where not is_opening""",
                [
                    check_id,
                    f"not configured: no {' or '.join(missing)} source in closeboard.yaml (connectors.{missing[0]})",
                ],
            )
    _replace_rows(con, run_id, from_period, kept_whole)
    worst = dict(
        con.execute(
            """select check_id,
                   case max(case status when 'fail' then 3 when 'warn' then 2 when 'pass' then 1 else 0 end)
                       when 3 then 'fail' when 2 then 'warn' when 1 then 'pass' else 'not_configured' end
               from recon_results group by check_id order by check_id"""
        ).fetchall()
    )
    summary = ReconSummary(
        run_id=run_id,
        periods=scalar(con, "select count(distinct period) from recon_results"),
        results=scalar(con, "select count(*) from recon_results"),
        items=scalar(con, "select count(*) from recon_items"),
        # one per match and month-end it holds at (recon_bank_matches' rows), counted from the spans
        matches=scalar(
            con,
            "select coalesce(sum(date_diff('month', strptime(first_period, '%Y-%m'), strptime(last_period, '%Y-%m')) + 1), 0) "
            "from recon_bank_match_spans",
        ),
        match_rounds=rounds,
        worst=worst,
        from_period=from_period,
        kept_all=kept_all,
        kept_whole=kept_whole,
    )
    for table in _WORK_TABLES:
        con.execute(f"drop table if exists {table}")
    return summary


def _run_file(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    try:
        con.execute(path.read_text(encoding="utf-8"))
    except duckdb.Error as exc:
        raise type(exc)(f"{path.name}: {exc}") from exc


def work_memory_limit(con: duckdb.DuckDBPyConnection) -> str:
    """The memory_limit of R2's private matching database: a quarter of `con`'s own (as DuckDB shows
    it, e.g. '953.6 MiB'), at least WORK_MEMORY_MIN and at most WORK_MEMORY_MAX bytes."""
    shown = scalar(con, "select current_setting('memory_limit')")
    amount, _, unit = str(shown).strip().partition(" ")
    if unit not in _MEMORY_UNITS:
        raise ValueError(f"warehouse connection: unexpected memory_limit {shown!r} (expected e.g. '953.6 MiB')")
    quarter = int(Decimal(amount) * _MEMORY_UNITS[unit]) // 4
    return f"{min(max(quarter, WORK_MEMORY_MIN), WORK_MEMORY_MAX)}B"


def _match_by_cutoff(con: duckdb.DuckDBPyConnection, run_id: str, from_period: str | None) -> int:
    """R2's matching at each cut-off of `_recon_scope` in turn (`sql/recon/r2_cutoff/`), in a private
    in-memory database outside the run's transaction (see `00_work.sql`: why), from the previous
    cut-off's matches in the components of the pair graph no new pair reaches (`_components`): each
    cut-off's unmatched lines go to `_recon_r2_unmatched`, one cut-off's rows at a time, and the spans of
    month-ends each match holds at to `recon_bank_match_spans` (`_open_spans`: from `from_period` on,
    the stored ones that reach it go on). The match rounds taken, over all cut-offs."""
    cutoffs = con.execute("select period, cutoff, is_opening from _recon_scope order by cutoff").fetchall()
    held_at, open_spans = _open_spans(con, from_period)
    spill = scalar(con, "select current_setting('temp_directory')")
    work = duckdb.connect(
        config={"memory_limit": work_memory_limit(con), **({"temp_directory": spill} if spill else {})}
    )
    try:
        for name in ("candidates", "bank", "book"):
            work.register(f"_in_{name}", con.sql(f"select * from _recon_{name}").to_arrow_table())
        _run_file(work, CUTOFF_DIR / "00_work.sql")
        for name in ("candidates", "bank", "book"):
            work.unregister(f"_in_{name}")
        month_ends = sum(not is_opening for _, _, is_opening in cutoffs)
        work.register("_in_components", _components(work, month_ends))
        work.register("_in_open", open_spans)
        _run_file(work, CUTOFF_DIR / "01_components.sql")
        for name in ("components", "open"):
            work.unregister(f"_in_{name}")
        if scalar(work, "select count(*) from _recon_open") != open_spans.num_rows:
            raise RuntimeError(
                f"R2: a bank match stored at {held_at} is not among this run's candidate pairs "
                "(its lines changed though the reconciliation found no change before it)"
            )
        sql = {path.name: path.read_text(encoding="utf-8") for path in CUTOFF_DIR.glob("*.sql")}
        rounds = 0
        previous = date.min  # no pair before the first cut-off: every component is matched there
        first = True  # the first month-end: compare every match with the spans held at `held_at`
        for period, cutoff, is_opening in cutoffs:
            work.execute(
                "create or replace table _recon_cut as select ?::varchar as period, ?::date as cutoff, "
                "?::boolean as is_opening, ?::date as previous, ?::varchar as held_at, ?::boolean as compare_all",
                [period, cutoff, is_opening, previous, held_at, first],
            )
            previous = cutoff
            work.execute(sql["10_pairs.sql"])
            while scalar(work, "select count(*) from _recon_pairs"):
                rounds += 1
                if rounds > MAX_MATCH_ROUNDS:
                    raise RuntimeError("R2 matching did not converge")
                work.execute(sql[MATCH_STEP])
            # one cut-off's rows cross over as Arrow, inserted through a relation (no view to keep)
            con.from_arrow(work.sql(sql["20_unmatched.sql"]).to_arrow_table()).insert_into("_recon_r2_unmatched")
            if not is_opening:
                work.execute(sql["25_spans.sql"])
                held_at, first = period, False
        spans = work.sql(sql["30_matches.sql"], params=[run_id]).to_arrow_table()
        con.from_arrow(spans).insert_into("recon_bank_match_spans")
    finally:
        work.close()
    return rounds


def _open_spans(con: duckdb.DuckDBPyConnection, from_period: str | None) -> tuple[str | None, pa.Table]:
    """Make room for this run's bank match spans, which start at `from_period` (None: every period):
    the stored spans from it on go, and those that hold at the period before it (`held_at`) are taken
    out to go on in this run (their matches are that month-end's: nothing dated up to it changed).
    Returns `held_at` and those spans (txn_id, entry_id, line_no, first_period)."""
    held_at = scalar(con, "select max(period) from _recon_cutoffs where not is_opening and period < ?", [from_period])
    if from_period is None or held_at is None:
        con.execute("delete from recon_bank_match_spans")
        held_at = None
    else:
        con.execute("delete from recon_bank_match_spans where first_period >= ?", [from_period])
    going_on = con.sql(
        "select txn_id, entry_id, line_no, first_period from recon_bank_match_spans where last_period >= ?",
        params=[held_at or ""],
    ).to_arrow_table()
    con.execute("delete from recon_bank_match_spans where last_period >= ?", [held_at or ""])
    return held_at, going_on


def _components(work: duckdb.DuckDBPyConnection, month_ends: int) -> pa.Table:
    """Each candidate pair's connected component (k, comp) in the graph whose nodes are the bank and
    book lines and whose edges are the pairs (`r2_cutoff/01_components.sql`: why). Matched at fewer
    than COMPONENTS_FROM month-ends (a daily refresh's latest ended and open month), the pairs are one
    component: the later month-end would keep too little to pay for finding them (~0.3 s at scale 100)."""
    if month_ends < COMPONENTS_FROM:
        return work.sql("select k, 0::bigint as comp from _recon_candidates").to_arrow_table()
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = work.sql(
        "select k, dense_rank() over (order by txn_id) - 1 as bank, "
        "dense_rank() over (order by entry_id, line_no) - 1 as book from _recon_candidates"
    ).fetchnumpy()
    banks = int(edges["bank"].max()) + 1 if len(edges["k"]) else 0
    nodes = banks + (int(edges["book"].max()) + 1 if len(edges["k"]) else 0)
    graph = coo_matrix(
        (np.ones(len(edges["k"]), dtype=np.int8), (edges["bank"], banks + edges["book"])), (nodes, nodes)
    )
    _, labels = connected_components(graph, directed=False)
    return pa.table({"k": edges["k"], "comp": labels[edges["bank"]].astype(np.int64)})


def _replace_rows(
    con: duckdb.DuckDBPyConnection, run_id: str, from_period: str | None, kept_whole: Sequence[str] = ()
) -> None:
    """Replace the recon_* rows this run computed: every row (`from_period` None), or the rows of
    the checks recomputed whole (all but `kept_whole`) and R2-R4's from `from_period` on. The verdicts
    kept (R2-R4's earlier ones, a check kept whole) stay, under this run's id (they hold for this run's
    data); their items and bank matches stay as they are, with the id of the run that found them
    (readers order them, never by insertion; `_match_by_cutoff` has replaced the bank matches already).
    Then store this run's input fingerprints and open month for the next run."""
    # rows this run recomputed
    fresh = "(not list_contains($kept, check_id) and (check_id not in (select unnest($checks)) or period >= $from))"
    scope = {"checks": list(INCREMENTAL_CHECKS), "from": from_period or "", "kept": list(kept_whole)}
    con.execute(f"delete from recon_results where {fresh}", scope)
    con.execute("update recon_results set run_id = $run where run_id <> $run", {"run": run_id})
    con.execute(f"delete from recon_items where {fresh}", scope)
    con.execute(
        f"""insert into recon_results
        select $run, period, check_id, status, expected, actual, difference, detail
        from _recon_results where {fresh} order by period, check_id""",
        {"run": run_id, **scope},
    )
    con.execute(
        f"""insert into recon_items
        select $run, period, check_id, source, record_id, record_date, amount, reason
        from _recon_items where {fresh} order by period, check_id, record_date, record_id""",
        {"run": run_id, **scope},
    )
    con.execute("delete from recon_inputs")
    con.execute("insert into recon_inputs select * from _recon_inputs_now")
    con.execute(
        "insert into recon_inputs select 'open_month', strftime(max(cutoff), '%Y-%m-%d'), 0, 0 "
        "from calendar() where is_open"
    )


@dataclass(frozen=True)
class StoredResults:
    """The reconciliation as a run left it, for its asset and checks."""

    results: pd.DataFrame  # recon_results by check and period (exact decimals)
    items: dict[str, int]  # check_id -> items


def stored_results(con: duckdb.DuckDBPyConnection) -> StoredResults:
    """What the asset reports after `build_recon`: its results, and its items counted per check."""
    return StoredResults(
        frame(con, sql_text("recon", "read", "results.sql")),
        dict(con.execute(sql_text("recon", "read", "item_counts.sql")).fetchall()),
    )


def stored_verdicts(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Each check's last great-expectations verdict with the digest of what it validated (recon_verdicts:
    check_id, digest, outcome, failed, evaluated, validated_in)."""
    return records(con, (VERDICTS_DIR / "stored.sql").read_text(encoding="utf-8"))


def replace_verdicts(con: duckdb.DuckDBPyConnection, verdicts: Sequence[dict[str, Any]]) -> None:
    """Store this run's verdicts (the fields of `stored_verdicts`) in place of the stored ones, at once."""
    con.register("_verdicts", pa.Table.from_pylist(list(verdicts), schema=VERDICT_SCHEMA))
    try:
        with transaction(con):
            _run_file(con, VERDICTS_DIR / "replace.sql")
    finally:
        con.unregister("_verdicts")
