"""The `reconciliation` asset and its checks R1-R7 (DESIGN "Reconciliation", "Operations").

The asset runs warehouse.recon.build_recon after the marts (all figures in SQL); each check's verdict
comes from the great-expectations suite in pipelines.expectations over that check's per-period rows,
with the figures as metadata (validated again only where those rows changed since the stored verdict,
`recon_verdicts`). Checks are not blocking: the page must still render to show why.
"""

from dataclasses import asdict

import dagster as dg
import pandas as pd

from connectors.config import Config
from pipelines import progress
from pipelines.expectations import Verdict, import_meanwhile, validate_checks
from pipelines.assets import MART_KEYS
from pipelines.resources import CloseboardResource
from warehouse.checks import BY_ID
from warehouse.recon import (
    CHECK_IDS,
    CHECK_TITLES,
    DEFAULT_SEVERITY,
    LAZY_IMPORTS,
    ReconParams,
    build_recon,
    replace_verdicts,
    stored_results,
    stored_verdicts,
)

GUARDED = dg.AssetKey("recon_results")
RECON_GROUP = "reconciliation"


def recon_params(closeboard: CloseboardResource) -> ReconParams:
    return params_of(closeboard.settings())


def params_of(settings: Config) -> ReconParams:
    """The reconciliation's settings and configured sources, as closeboard.yaml gives them."""
    recon = settings.reconciliation
    return ReconParams(
        match_window_days=recon.match_window_days,
        stale_after_days=recon.stale_after_days,
        warn_after_days=recon.warn_after_days,
        bookings_tolerance=recon.bookings_tolerance,
        freshness_hours=recon.freshness_hours,
        max_rejected_share=recon.max_rejected_share,
        sources=tuple(settings.connectors),
        severity=dict(recon.severity),
    )


def _table_md(rows) -> str:
    lines = ["| period | status | expected | actual | difference |", "|---|---|---:|---:|---:|"]
    for r in rows.itertuples(index=False):
        cells = [
            "" if v is None or v is pd.NA else str(v) for v in (r.period, r.status, r.expected, r.actual, r.difference)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# the tables the reconciliation writes, each an asset of its own
RECON_OUTPUTS = {
    "recon_results": "One verdict per period and check R1-R7 (pass, warn, fail, not_configured) with its figures.",
    "recon_items": "Every unmatched or offending record behind a verdict, with the reason.",
    "recon_bank_matches": "Which bank line matched which book line at each month-end (R2).",
}


@dg.multi_asset(
    name="reconciliation",
    specs=[
        dg.AssetSpec(table, group_name=RECON_GROUP, deps=MART_KEYS, kinds={"duckdb"}, description=description)
        for table, description in RECON_OUTPUTS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            check_id,
            asset=GUARDED,
            blocking=False,
            description=f"{CHECK_TITLES[check_id]}: {BY_ID[check_id].description}",
        )
        for check_id in CHECK_IDS
    ],
    description="Reconcile bank, AR, AP and CRM figures to the ERP ledger, period by period.",
    pool="warehouse",
)
def reconciliation(context: dg.AssetExecutionContext, closeboard: CloseboardResource):
    params = recon_params(closeboard)
    with closeboard.warehouse() as con:
        known = {row["check_id"]: Verdict(**row) for row in stored_verdicts(con)}
        # a first refresh validates every check: the library's import runs alongside the SQL
        importing = import_meanwhile(*LAZY_IMPORTS) if not known else None
        try:
            summary = build_recon(con, context.run_id, params)
        finally:
            if importing is not None:
                importing.join()
        stored = stored_results(con)
        results, items = stored.results, stored.items
        progress.emit(
            "reconciliation: "
            + ", ".join(f"{c.split('_')[0]} {summary.worst.get(c, 'n/a').replace('_', ' ')}" for c in CHECK_IDS)
        )
        for name, rows in (
            ("recon_results", summary.results),
            ("recon_items", summary.items),
            ("recon_bank_matches", summary.matches),
        ):
            metadata = {
                "rows": dg.MetadataValue.int(rows),
                # R2-R4 (and R2's matches) recomputed from this period on, the other checks for every period
                "recomputed_from": dg.MetadataValue.text(summary.recomputed),
                # but those whose inputs did not change since the last run on the same run date (R5)
                "kept_whole": dg.MetadataValue.text(", ".join(summary.kept_whole) or "none"),
            }
            yield dg.MaterializeResult(asset_key=name, metadata=metadata)

        severity = {c: params.severity.get(c, DEFAULT_SEVERITY[c]) for c in CHECK_IDS}
        unconfigured = {c for c in CHECK_IDS if summary.worst.get(c) == "not_configured"}
        verdicts = validate_checks(
            results[~results["check_id"].isin(unconfigured)],
            {c: s for c, s in severity.items() if c not in unconfigured},
            summary.periods,
            run_id=context.run_id,
            known=known,
        )
        replace_verdicts(con, [asdict(v) for v in verdicts.values()])  # on the step's one connection
    for check_id in CHECK_IDS:
        rows = results[results["check_id"] == check_id]
        if check_id in unconfigured:  # neither pass nor fail: Dagster has no third state, so say it
            yield dg.AssetCheckResult(
                check_name=check_id,
                asset_key=GUARDED,
                passed=True,
                severity=dg.AssetCheckSeverity.WARN,
                description=str(rows["detail"].iloc[0]) if len(rows) else "not configured",
                metadata={"status": dg.MetadataValue.text("not configured")},
            )
            continue
        verdict = verdicts[check_id]
        statuses = rows["status"].astype(str)
        failing = rows[statuses != "pass"]
        yield dg.AssetCheckResult(
            check_name=check_id,
            asset_key=GUARDED,
            passed=verdict.outcome == "pass",
            severity=dg.AssetCheckSeverity.ERROR if verdict.outcome == "fail" else dg.AssetCheckSeverity.WARN,
            description="; ".join(verdict.failed) or "every expectation holds",
            metadata={
                "severity": dg.MetadataValue.text(severity[check_id]),
                "periods": dg.MetadataValue.int(len(rows)),
                "periods_failing": dg.MetadataValue.int(int((statuses == "fail").sum())),
                "periods_warning": dg.MetadataValue.int(int((statuses == "warn").sum())),
                "items": dg.MetadataValue.int(int(items.get(check_id, 0))),
                "failing_periods": dg.MetadataValue.text(", ".join(failing["period"].astype(str)) or "none"),
                "latest_expected": dg.MetadataValue.text(str(rows["expected"].iloc[-1]) if len(rows) else ""),
                "latest_actual": dg.MetadataValue.text(str(rows["actual"].iloc[-1]) if len(rows) else ""),
                "latest_difference": dg.MetadataValue.text(str(rows["difference"].iloc[-1]) if len(rows) else ""),
                "expectations_evaluated": dg.MetadataValue.int(verdict.evaluated),
                # great-expectations ran in this run, or in the run whose verdict holds for these same rows
                "validated_in": dg.MetadataValue.text(
                    "this run" if verdict.validated_in == context.run_id else f"run {verdict.validated_in} (same rows)"
                ),
                "per_period": dg.MetadataValue.md(_table_md(rows)),
                "status_counts": dg.MetadataValue.json(
                    {f"{check_id}/{status}": int(n) for status, n in sorted(statuses.value_counts().items())}
                ),
            },
        )
