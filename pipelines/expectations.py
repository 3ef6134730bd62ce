"""The reconciliation checks' expectation suites, written so an accountant can read them.

Each check R1-R7 has one suite, validated with great-expectations 1.x (ephemeral context) over that
check's rows of `recon_results` (one row per period: status, expected, actual, difference). The SQL
in warehouse/sql/recon computes the figures; these suites state what must hold of them:

- R1 trial balance: every period has a verdict; at every month-end liabilities + equity + earnings
  equal assets to the cent (difference 0.00); no period fails; no period warns.
- R2 bank vs book: every period has a verdict; adjusted bank balance equals adjusted book balance
  to the cent; no period fails (no stale unmatched item, no missing statement); no period warns
  (no bank line waiting to be booked).
- R3 AR / R4 AP: every period has a verdict; subledger equals the control account to the cent in
  every period; no period fails (that also covers documents whose balance is not total - payments).
- R5 bookings vs billings: every period has a verdict; no period warns (every won deal maps to an
  ERP customer and is invoiced in time; no customer invoiced above won beyond the tolerance).
- R6 completeness: every period has a verdict; rows received equal the rows each source reported;
  no period fails (keys unique, required fields present); no period warns (no future-dated lines,
  every source fresh).
- R7 ERP report tie-out: every period with an ERP trial balance has a verdict; each account's balance
  equals the ERP's report to the cent (difference 0.00); no period fails.

An expectation about an ERROR finding is `critical` (a WARN-severity check's are `warning`), one about
a WARN finding `warning`; the Dagster check's verdict is the worst failed expectation.
great_expectations is imported inside the functions only: it costs seconds to import, and only when
some check's rows differ from those its stored verdict validated. A verdict is a function of exactly what
its suite reads (the check's period, status and difference per period and the number of periods
expected), the suite as written here and the library's version: `digest` fingerprints these, and a
refresh whose digest for a check equals the stored one (warehouse.recon.stored_verdicts) takes that
verdict as it stands, saying which run validated it. A refresh with nothing changed, or whose changes
leave every verdict as it was, never imports great-expectations.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from warehouse.checks import BY_ID


@dataclass(frozen=True)
class Verdict:
    check_id: str
    outcome: str  # pass | warn | fail
    failed: list[str]  # descriptions of the expectations that did not hold, worst first
    evaluated: int
    digest: str = ""  # what was validated (`digest`)
    validated_in: str = ""  # the run whose validation this is


def import_meanwhile(*first: str) -> threading.Thread:
    """Start importing great-expectations on a thread of its own, for a run that will validate (no
    verdict stored yet: a first refresh), so its seconds of import overlap the reconciliation's SQL,
    which DuckDB runs without holding the GIL. The modules `first` (those the caller may import before
    it joins the thread: warehouse.recon.LAZY_IMPORTS) are imported before, on the caller's thread: two
    threads importing the same modules at once can deadlock on their import locks, and Python then
    fails one of the imports (scipy's, on a first refresh whose bank matching imported scipy while
    great-expectations did: "_DeadlockError: deadlock detected by _ModuleLock('scipy.linalg...')").
    Join the thread before anything else may import. A failed import is left to `validate_checks`,
    which imports the library again and reports it."""
    for name in first:
        importlib.import_module(name)

    def load() -> None:
        try:
            importlib.import_module("great_expectations")
        except Exception:  # reported by validate_checks, which imports it again
            pass

    thread = threading.Thread(target=load, name="import-great-expectations", daemon=True)
    thread.start()
    return thread


def _suite(gx: Any, check_id: str, severity: str, periods: int) -> Any:
    from great_expectations.expectations.metadata_types import FailureSeverity

    error_level = FailureSeverity.CRITICAL if severity == "error" else FailureSeverity.WARNING
    suite = gx.ExpectationSuite(name=check_id)
    suite.add_expectation(
        gx.expectations.ExpectTableRowCountToEqual(
            value=periods,
            severity=FailureSeverity.CRITICAL,
            description="Every reported period has a verdict.",
        )
    )
    exact = BY_ID[check_id].exact
    if exact:  # the check agrees to the cent or fails
        suite.add_expectation(
            gx.expectations.ExpectColumnValuesToBeBetween(
                column="difference",
                min_value=0,
                max_value=0,
                severity=error_level,
                description=exact,
            )
        )
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToNotBeInSet(
            column="status",
            value_set=["fail"],
            severity=FailureSeverity.CRITICAL,
            description="No period has an ERROR finding (it would block sign-off).",
        )
    )
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToBeInSet(
            column="status",
            value_set=["pass"],
            severity=FailureSeverity.WARNING,
            description="No period has a WARN finding.",
        )
    )
    return suite


def _context(gx: Any) -> Any:
    context = gx.get_context(mode="ephemeral")
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    except Exception:  # an older/newer layout: progress bars are cosmetic
        pass
    return context


@cache
def _suites() -> str:
    """The suites as written here and the library that runs them: an edit to either validates every check
    again. Read at the first digest, not at import (the package metadata costs ~40 ms on every start)."""
    return hashlib.sha256(Path(__file__).read_bytes() + version("great-expectations").encode()).hexdigest()


def _rows(results: pd.DataFrame, check_id: str, periods: int) -> tuple[pd.DataFrame, int]:
    """The check's rows as its suite reads them (period, status, exact difference) and the number of
    periods expected. A period the check could not be evaluated for (its input not configured or not
    available) is no verdict: neither a row to validate nor one that is expected."""
    mine = results[results["check_id"] == check_id]
    unevaluated = mine["status"].astype(str) == "not_configured"
    rows = mine[~unevaluated]
    frame = pd.DataFrame(
        {
            "period": rows["period"].astype(str).to_list(),
            "status": rows["status"].astype(str).to_list(),
            # exact: Decimal objects, never floats; a missing figure is left to the status expectation
            "difference": [
                Decimal(str(v)) if v is not None and not pd.isna(v) else None
                for v in rows["difference"].astype(object).to_list()
            ],
        },
        dtype=object,
    )
    return frame, periods - int(unevaluated.sum())


def digest(check_id: str, severity: str, frame: pd.DataFrame, expected: int) -> str:
    """The fingerprint of one validation: the suites and library (`_suites`), the check, its severity and
    what its suite states (`exact`), the periods expected and each row as the suite reads it."""
    rows = [[p, s, None if d is None else str(d)] for p, s, d in frame.itertuples(index=False)]
    text = json.dumps([_suites(), check_id, severity, BY_ID[check_id].exact, expected, rows])
    return hashlib.sha256(text.encode()).hexdigest()


def validate_checks(
    results: pd.DataFrame,
    severity: dict[str, str],
    periods: int,
    *,
    run_id: str,
    known: Mapping[str, Verdict] | None = None,
) -> dict[str, Verdict]:
    """Each check's verdict over its rows of `results` (columns of recon_results): its suite validated
    in this run (`run_id`), or the verdict in `known` (the stored ones) when that validated the same
    (`digest`)."""
    frames = {check_id: _rows(results, check_id, periods) for check_id in sorted(severity)}
    digests = {c: digest(c, severity[c], frame, expected) for c, (frame, expected) in frames.items()}
    known = known or {}
    verdicts = {c: known[c] for c, d in digests.items() if c in known and known[c].digest == d}
    todo = [c for c in frames if c not in verdicts]
    if not todo:
        return verdicts
    import great_expectations as gx

    context = _context(gx)
    batch_def = (
        context.data_sources.add_pandas("recon")
        .add_dataframe_asset("recon_results")
        .add_batch_definition_whole_dataframe("per_check")
    )
    for check_id in todo:
        frame, expected = frames[check_id]
        suite = context.suites.add(_suite(gx, check_id, severity[check_id], expected))
        result = batch_def.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
        failed = [r for r in result.results if not r.success]
        critical = [
            r
            for r in failed
            if str(getattr(r.expectation_config.severity, "value", r.expectation_config.severity)) == "critical"
        ]
        outcome = "fail" if critical else ("warn" if failed else "pass")
        ordered = critical + [r for r in failed if r not in critical]
        verdicts[check_id] = Verdict(
            check_id,
            outcome,
            [r.expectation_config.description or r.expectation_config.type for r in ordered],
            len(result.results),
            digests[check_id],
            run_id,
        )
    return verdicts
