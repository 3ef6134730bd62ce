"""The monthly close in Dagster: the snapshot assets and the sign-off op.

DESIGN "Snapshot history and the monthly close" and "Operations":
- `refresh_snapshots` (unpartitioned, group `close`, part of `refresh`): the refresh's step that
  appends a version for every ended month whose fingerprint changed (a plain refresh is how a
  restatement appears), reporting each one as a materialization of its month's `close_snapshot`.
- `close_snapshot` (group `close_history`, partitioned by month from company.first_period, the open
  month being the extra partition; `BackfillPolicy.single_run()`): the history. Its partitions carry
  every version, whichever step appended it; a backfill runs the same warehouse function over
  `context.partition_keys`, so the whole history is one run from the UI.

One asset name speaks of the history (issue 15, item 7): the refresh's step was called
`close_snapshots` until it was renamed, so a Dagster home from before keeps old materializations of
that key; nothing reads them (the close state is in the warehouse table `close_snapshots`, which
keeps its name), and `dagster asset wipe close_snapshots` removes them from the catalog.
- `sign_off`: the op of the `close_period` job (run config period, by, override): sign-off is an
  action, not a materialization.

The jobs that select these live in pipelines.jobs, the schedules in pipelines.schedules, the
in-process runner the CLI uses in pipelines.runner.
"""

import warnings
from collections.abc import Sequence
from typing import Any

import dagster as dg

from connectors.config import Config
from pipelines import progress
from pipelines.assets import MART_KEYS
from pipelines.publishing import crash_point, page_context, publish_and_archive_views, render_and_publish
from pipelines.resources import CloseboardResource
from reports.export import archive_pdf
from reports.history import write_history
from warehouse.db import publish_read_copy
from warehouse.snapshots import CloseRefused, Snapshot, close, ended_periods, take_snapshots

# single-run backfills are what DESIGN asks for; Dagster marks the parameter beta
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`")

CLOSE_GROUP = "close"  # refresh_snapshots: the refresh's unpartitioned snapshot step
HISTORY_GROUP = "close_history"  # close_snapshot: one partition per month, for backfills
HISTORY_KEY = dg.AssetKey("close_snapshot")  # the history: one partition per month
REFRESH_STEP_KEY = dg.AssetKey("refresh_snapshots")  # the refresh's step that appends versions
HISTORY_KPIS = ("revenue", "net_income", "cash", "ar", "ap")  # the key figures each version shows in Dagster
SIGN_OFF = "sign_off"


# --- warehouse steps (thin: the work is in warehouse.snapshots and reports.history) ---------------


def snapshot_periods(
    closeboard: CloseboardResource, run_id: str, periods: Sequence[str] | None, *, publish: bool
) -> list[Snapshot]:
    """Append versions for `periods` (None: every ended month) whose figures changed. With
    `publish` (a run without the dashboard step: the backfill), also archive the page of every
    version without one, rewrite the history page, publish the readers' copy, render the user's
    views from it and archive them with each version archived (as `render_and_publish` does after
    its publish); without it the run's dashboard step does all that after rendering the page.
    Archived pages are rendered with each version's own figures (reports.history), never copied
    from latest.html, so nothing here may archive before the render. Returns the appended versions."""
    config = closeboard.settings()
    home = closeboard.data_home
    with closeboard.warehouse() as con:
        wanted = ended_periods(con) if periods is None else list(periods)
        result = take_snapshots(con, wanted, run_id)
        crash_point("snapshot_committed")
        if publish:
            write_history(con, home.reports, page_context(con, config, run_id))
            con.execute("checkpoint")
    if publish:
        publish_read_copy(home)
        publish_and_archive_views(config, home, run_id)
    return result.appended


def _label(snap: Snapshot) -> str:
    return f"{snap.period} v{snap.version} {snap.status}"


def _snapshot_metadata(appended: list[Snapshot]) -> dict[str, dg.MetadataValue]:
    return {
        "versions_appended": dg.MetadataValue.int(len(appended)),
        "appended": dg.MetadataValue.md("\n".join(f"- {_label(a)}" for a in appended) or "nothing changed"),
    }


def history_materialization(snap: Snapshot, partition: str | None = None) -> dg.AssetMaterialization:
    """A snapshot version as a materialization of its month's `close_snapshot` partition, whichever
    step appended it (the refresh, the sign-off), so Dagster's partitions view shows every month's
    state: status, version, sign-off, override, the key figures (exact, as text) and a restatement's
    differences. `partition`: the resource's key for the month (a group's names the entity too)."""
    metadata: dict[str, Any] = {
        "status": dg.MetadataValue.text(snap.status),
        "version": dg.MetadataValue.int(snap.version),
        "closed_by": dg.MetadataValue.text(snap.closed_by or ""),
        "override_reason": dg.MetadataValue.text(snap.override_reason or ""),
        "failing_checks": dg.MetadataValue.text(", ".join(snap.failing_checks) or "none"),
        **{
            kpi: dg.MetadataValue.text("no data" if snap.kpis.get(kpi) is None else str(snap.kpis[kpi]))
            for kpi in HISTORY_KPIS
        },
    }
    if snap.differences:
        metadata["differences"] = dg.MetadataValue.json(snap.differences)
    return dg.AssetMaterialization(
        asset_key=HISTORY_KEY,
        partition=partition or snap.period,
        metadata=metadata,
        description=f"close snapshot {_label(snap)}",
    )


# --- the assets ----------------------------------------------------------------------------------


def month_partitions(config: Config) -> dg.MonthlyPartitionsDefinition:
    """One partition per month from company.first_period; the open month is the extra one."""
    company = config.company
    return dg.MonthlyPartitionsDefinition(
        start_date=company.first_period, fmt="%Y-%m", end_offset=1, timezone=company.timezone
    )


def close_assets(config: Config, *, upstream: Sequence[dg.AssetKey] = ()) -> list[dg.AssetsDefinition]:
    """`refresh_snapshots` and `close_snapshot` for `config` (the partitions start at its first
    period); `upstream` is what the snapshot waits for (the marts and the reconciliation assets)."""
    deps = list(dict.fromkeys([*MART_KEYS, *upstream]))

    @dg.asset(
        name=REFRESH_STEP_KEY.path[-1],
        group_name=CLOSE_GROUP,
        deps=deps,
        description="The refresh's snapshot step: appends a version for each ended month whose figures "
        "changed (its ledger figures or ERROR verdicts: a restatement, after a month was closed); the "
        "history is the partitions of close_snapshot, where each appended version is reported.",
        pool="warehouse",
        kinds={"duckdb"},
    )
    def refresh_snapshots(context: dg.AssetExecutionContext, closeboard: CloseboardResource) -> dg.MaterializeResult:
        appended = snapshot_periods(closeboard, context.run_id, None, publish=False)
        for snap in appended:  # the month's partition of the history shows the new version
            context.log_event(history_materialization(snap, closeboard.history_partition(snap.period)))
        progress.emit(
            f"history: {len(appended)} snapshot version(s) appended"
            + (f" ({', '.join(map(_label, appended))})" if appended else "")
        )
        return dg.MaterializeResult(metadata=_snapshot_metadata(appended))

    @dg.asset(
        name="close_snapshot",
        group_name=HISTORY_GROUP,
        deps=[*deps, REFRESH_STEP_KEY],
        partitions_def=month_partitions(config),
        backfill_policy=dg.BackfillPolicy.single_run(),
        description="The close snapshot of one month (a partition): a new draft/restated version when "
        "the month's figures changed, none otherwise. Backfill it to take the whole history.",
        pool="warehouse",
        kinds={"duckdb"},
    )
    def close_snapshot(context: dg.AssetExecutionContext, closeboard: CloseboardResource) -> None:
        months = closeboard.history_periods(context.partition_keys)  # a group's keys are entity|month
        appended = snapshot_periods(closeboard, context.run_id, months, publish=True)
        context.log.info(f"{len(context.partition_keys)} period(s): {len(appended)} version(s) appended")
        for snap in appended:
            context.log.info(_label(snap))
        progress.emit(f"history: {len(appended)} snapshot version(s) appended")
        context.add_output_metadata(_snapshot_metadata(appended))

    return [refresh_snapshots, close_snapshot]


# --- the sign-off (an op: an action, not a materialization) --------------------------------------


@dg.op(
    name=SIGN_OFF,
    config_schema={
        "period": dg.Field(str, description="the month to sign off, YYYY-MM"),
        "by": dg.Field(str, description="who signs it off"),
        "override": dg.Field(
            str, default_value="", description="reason to close although ERROR checks fail (recorded)"
        ),
    },
    pool="warehouse",
    description="Sign a month off: append a closed version (refused for an open month or while an "
    "ERROR check fails, unless an override reason is given), then republish.",
)
def sign_off(context: dg.OpExecutionContext, closeboard: CloseboardResource) -> None:
    cfg = context.op_config
    with closeboard.warehouse() as con:
        try:
            snap = close(
                con, cfg["period"], by=cfg["by"], override_reason=cfg["override"] or None, run_id=context.run_id
            )
        except CloseRefused as exc:
            raise dg.Failure(description=f"close refused: {exc}", allow_retries=False) from None
    render_and_publish(closeboard, context.run_id)
    pdf, note = archive_pdf(closeboard.data_home, snap, company=closeboard.settings().company.name)
    (context.log.info if pdf else context.log.warning)(note)  # no Chromium: the close stands, without a PDF
    progress.emit(note)
    context.log_event(history_materialization(snap, closeboard.history_partition(snap.period)))
    message = f"{snap.period} closed as v{snap.version} by {snap.closed_by}" + (
        f" (override: {snap.override_reason})" if snap.override_reason else ""
    )
    context.log.info(message)
    progress.emit(message)
    context.add_output_metadata(
        {
            "period": snap.period,
            "version": snap.version,
            "closed_by": snap.closed_by or "",
            "override_reason": snap.override_reason or "",
        }
    )


def close_run_config(period: str, by: str, override: str | None) -> dict:
    """The `close_period` job's run config: sign off `period` by `by` (with an override reason)."""
    return {"ops": {SIGN_OFF: {"config": {"period": period, "by": by, "override": override or ""}}}}
