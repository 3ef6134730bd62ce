"""The monthly close in Dagster: periods as partitions, snapshots, sign-off and the schedules.

DESIGN "Snapshot history and the monthly close" and "Operations":
- `close_snapshots` (unpartitioned, part of `refresh`): after reconciliation, appends a version for
  every ended month whose fingerprint changed (a plain refresh is how a restatement appears).
- `close_snapshot` (partitioned by month from company.first_period, the open month being the extra
  partition; `BackfillPolicy.single_run()`): the same warehouse function over
  `context.partition_keys`, so a backfill of the whole history is one run from the UI.
- `backfill_history`: the partitioned snapshot alone (`closeboard backfill` runs it over every
  ended month); `close_draft`: a whole refresh plus the previous month's snapshot, run by the
  close-draft schedule on business day N; `close_period`: the sign-off, an op job (run config
  period, by, override).
- Schedules: `daily_refresh` (refresh_cron in company.timezone) and `close_draft_schedule`, which
  runs daily and skips unless today is business day N (Mon-Fri; no holiday calendar) in
  company.timezone.

The partitions and schedules come from closeboard.yaml read at import (no DuckDB is opened):
$CLOSEBOARD_CONFIG, else the data home's closeboard.yaml, else ./closeboard.yaml, else the example
configuration shipped with the repository.
"""


import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import warnings

import dagster as dg

from connectors.config import Config, load_config
from pipelines import progress
from pipelines.publishing import crash_point, render_and_publish
from pipelines.resources import CloseboardResource, config_path
from reports.export import archive_pdf
from reports.history import write_history
from reports.render import PageContext
from warehouse import loads
from warehouse.db import publish_read_copy
from warehouse.home import Home
from warehouse.snapshots import CloseRefused, Snapshot, close, ended_periods, take_snapshots

# single-run backfills are what DESIGN asks for; Dagster marks the parameter beta
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`")

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "closeboard.yaml"
WAREHOUSE_TAG = {"closeboard/warehouse": "write"}
HISTORY_KEY = dg.AssetKey("close_snapshot")  # the history: one partition per month
HISTORY_KPIS = ("revenue", "net_income", "cash", "ar", "ap")  # the key figures each version shows in Dagster
MART_KEYS = [dg.AssetKey(k) for k in ("periods", "mart_pnl_monthly", "mart_balance_sheet", "mart_kpis")]


def import_config() -> Config:
    """closeboard.yaml as the code location sees it at import (never opens DuckDB). The example only
    when no configuration is named or found; a broken one fails the code location loudly, listing
    every problem, rather than showing the example's partitions while runs fail."""
    path = config_path(None, Home.resolve())
    if not os.environ.get("CLOSEBOARD_CONFIG") and not path.exists():
        return load_config(EXAMPLE_CONFIG)
    return load_config(path)


# --- business days -------------------------------------------------------------------------------


def business_day_of_month(day: date) -> int | None:
    """1 for the month's first weekday (Mon-Fri), 2 for the second...; None on a weekend."""
    if day.weekday() >= 5:
        return None
    return sum(1 for d in range(1, day.day + 1) if day.replace(day=d).weekday() < 5)


def previous_period(day: date) -> str:
    return (day.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


# --- warehouse steps (thin: the work is in warehouse.snapshots and reports.history) ---------------


def snapshot_periods(closeboard: CloseboardResource, run_id: str, periods: Sequence[str] | None,
                     *, publish: bool) -> list[str]:
    """Append versions for `periods` (None: every ended month) whose figures changed. With
    `publish` (a run without the dashboard step: the backfill), also archive the page of every
    version without one, rewrite the history page and publish the readers' copy; without it the
    run's dashboard step does that after rendering the page (`render_and_publish`). Archived pages
    are rendered with each version's own figures (reports.history), never copied from latest.html,
    so nothing here may archive before the render. Returns the appended versions."""
    config = closeboard.settings()
    home = closeboard.data_home
    with closeboard.warehouse() as con:
        wanted = ended_periods(con) if periods is None else list(periods)
        result = take_snapshots(con, wanted, run_id)
        crash_point("snapshot_committed")
        if publish:
            ctx = PageContext(config.company.name, config.company.currency, run_id, loads.source_freshness(con))
            write_history(con, home.reports, ctx)
            con.execute("checkpoint")
    if publish:
        publish_read_copy(home)
    return result.appended


def _label(snap: Snapshot) -> str:
    return f"{snap.period} v{snap.version} {snap.status}"


def _snapshot_metadata(appended: list[Snapshot]) -> dict[str, dg.MetadataValue]:
    return {
        "versions_appended": dg.MetadataValue.int(len(appended)),
        "appended": dg.MetadataValue.md("\n".join(f"- {_label(a)}" for a in appended) or "nothing changed"),
    }


def history_materialization(snap: Snapshot) -> dg.AssetMaterialization:
    """A snapshot version as a materialization of its month's `close_snapshot` partition, whichever
    step appended it (the refresh, the sign-off), so Dagster's partitions view shows every month's
    state: status, version, sign-off, override, the key figures (exact, as text) and a restatement's
    differences."""
    metadata: dict[str, Any] = {
        "status": dg.MetadataValue.text(snap.status),
        "version": dg.MetadataValue.int(snap.version),
        "closed_by": dg.MetadataValue.text(snap.closed_by or ""),
        "override_reason": dg.MetadataValue.text(snap.override_reason or ""),
        "failing_checks": dg.MetadataValue.text(", ".join(snap.failing_checks) or "none"),
        **{kpi: dg.MetadataValue.text("no data" if snap.kpis.get(kpi) is None else str(snap.kpis[kpi]))
           for kpi in HISTORY_KPIS},
    }
    if snap.differences:
        metadata["differences"] = dg.MetadataValue.json(snap.differences)
    return dg.AssetMaterialization(asset_key=HISTORY_KEY, partition=snap.period, metadata=metadata,
                                   description=f"close snapshot {_label(snap)}")


@dataclass(frozen=True)
class CloseDefinitions:
    partitions: dg.MonthlyPartitionsDefinition
    close_snapshots: dg.AssetsDefinition
    close_snapshot: dg.AssetsDefinition
    close_period_job: dg.JobDefinition
    backfill_history: object  # an unresolved asset job
    close_draft: object  # an unresolved asset job
    daily_refresh: dg.ScheduleDefinition
    close_draft_schedule: dg.ScheduleDefinition
    dead_runs_sensor: dg.SensorDefinition

    @property
    def assets(self) -> list[dg.AssetsDefinition]:
        return [self.close_snapshots, self.close_snapshot]

    @property
    def jobs(self) -> list:
        return [self.close_period_job, self.backfill_history, self.close_draft]

    @property
    def schedules(self) -> list[dg.ScheduleDefinition]:
        return [self.daily_refresh, self.close_draft_schedule]

    @property
    def sensors(self) -> list[dg.SensorDefinition]:
        return [self.dead_runs_sensor]


def build(config: Config, *, upstream: Sequence[dg.AssetKey] = (), refresh_job: str = "refresh",
          default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.RUNNING) -> CloseDefinitions:
    """The close definitions for `config`; `upstream` is what the snapshot waits for (the marts and
    the reconciliation assets)."""
    company = config.company
    deps = list(dict.fromkeys([*MART_KEYS, *upstream]))
    partitions = dg.MonthlyPartitionsDefinition(
        start_date=company.first_period, fmt="%Y-%m", end_offset=1, timezone=company.timezone
    )

    @dg.asset(
        name="close_snapshots",
        group_name="close",
        deps=deps,
        description="Close history: appends a snapshot version for every ended month whose ledger "
                    "figures or ERROR verdicts changed (a restatement, after a month was closed).",
        pool="warehouse",
        kinds={"duckdb"},
    )
    def close_snapshots(context: dg.AssetExecutionContext, closeboard: CloseboardResource) -> dg.MaterializeResult:
        appended = snapshot_periods(closeboard, context.run_id, None, publish=False)
        for snap in appended:  # the month's partition of the history shows the new version
            context.log_event(history_materialization(snap))
        progress.emit(f"history: {len(appended)} snapshot version(s) appended"
                      + (f" ({', '.join(map(_label, appended))})" if appended else ""))
        return dg.MaterializeResult(metadata=_snapshot_metadata(appended))

    @dg.asset(
        name="close_snapshot",
        group_name="close",
        deps=[*deps, dg.AssetKey("close_snapshots")],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        description="The close snapshot of one month (a partition): a new draft/restated version when "
                    "the month's figures changed, none otherwise. Backfill it to take the whole history.",
        pool="warehouse",
        kinds={"duckdb"},
    )
    def close_snapshot(context: dg.AssetExecutionContext, closeboard: CloseboardResource) -> None:
        appended = snapshot_periods(closeboard, context.run_id, context.partition_keys, publish=True)
        context.log.info(f"{len(context.partition_keys)} period(s): {len(appended)} version(s) appended")
        for snap in appended:
            context.log.info(_label(snap))
        progress.emit(f"history: {len(appended)} snapshot version(s) appended")
        context.add_output_metadata(_snapshot_metadata(appended))

    @dg.op(
        name="sign_off",
        config_schema={
            "period": dg.Field(str, description="the month to sign off, YYYY-MM"),
            "by": dg.Field(str, description="who signs it off"),
            "override": dg.Field(str, default_value="",
                                 description="reason to close although ERROR checks fail (recorded)"),
        },
        pool="warehouse",
        description="Sign a month off: append a closed version (refused for an open month or while an "
                    "ERROR check fails, unless an override reason is given), then republish.",
    )
    def close_period_op(context: dg.OpExecutionContext, closeboard: CloseboardResource) -> None:
        cfg = context.op_config
        with closeboard.warehouse() as con:
            try:
                snap = close(con, cfg["period"], by=cfg["by"], override_reason=cfg["override"] or None,
                             run_id=context.run_id)
            except CloseRefused as exc:
                raise dg.Failure(description=f"close refused: {exc}", allow_retries=False) from None
        render_and_publish(closeboard, context.run_id)
        pdf, note = archive_pdf(closeboard.data_home, snap, company=closeboard.settings().company.name)
        (context.log.info if pdf else context.log.warning)(note)  # no Chromium: the close stands, without a PDF
        progress.emit(note)
        context.log_event(history_materialization(snap))
        message = f"{snap.period} closed as v{snap.version} by {snap.closed_by}" + (
            f" (override: {snap.override_reason})" if snap.override_reason else "")
        context.log.info(message)
        progress.emit(message)
        context.add_output_metadata({"period": snap.period, "version": snap.version,
                                     "closed_by": snap.closed_by or "",
                                     "override_reason": snap.override_reason or ""})

    @dg.job(name="close_period", tags=WAREHOUSE_TAG,
            description="Sign off a month (run config: ops.sign_off.config: period, by, override).")
    def close_period_job() -> None:
        close_period_op()

    backfill_history = dg.define_asset_job(
        "backfill_history",
        selection=[close_snapshot],
        description="Take the close snapshots of a range of months (backfill every ended month for "
                    "the whole history: one run, no source is read).",
        tags=WAREHOUSE_TAG,
    )
    close_draft = dg.define_asset_job(
        "close_draft",
        selection=dg.AssetSelection.all(),
        description="Refresh everything and take the draft close snapshot of one month (the partition).",
        tags=WAREHOUSE_TAG,
    )

    daily_refresh = dg.ScheduleDefinition(
        name="daily_refresh",
        job_name=refresh_job,
        cron_schedule=config.schedules.refresh_cron,
        execution_timezone=company.timezone,
        default_status=default_status,
        description=f"Refresh the open periods and the page ({config.schedules.refresh_cron}, {company.timezone}).",
        tags=WAREHOUSE_TAG,
    )

    business_day = config.schedules.close_business_day
    zone = ZoneInfo(company.timezone)

    @dg.schedule(
        name="close_draft_schedule",
        job=close_draft,
        cron_schedule=config.schedules.refresh_cron,
        execution_timezone=company.timezone,
        default_status=default_status,
        description=f"On business day {business_day} of a month ({company.timezone}), refresh and take the "
                    "previous month's draft close snapshot for sign-off; skips on every other day.",
    )
    def close_draft_schedule(context: dg.ScheduleEvaluationContext):
        when = context.scheduled_execution_time or datetime.now(zone)
        today = when.astimezone(zone).date()
        number = business_day_of_month(today)
        if number != business_day:
            what = "a weekend day" if number is None else f"business day {number}"
            return dg.SkipReason(f"{today} is {what}; the close draft runs on business day {business_day}")
        period = previous_period(today)
        return dg.RunRequest(run_key=f"close-draft-{period}", partition_key=period,
                             tags={**WAREHOUSE_TAG, "closeboard/close_draft": period})

    @dg.sensor(
        name="fail_dead_cli_runs",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus(default_status.value),
        description="Marks failed the runs a CLI process ran in-process and died in (kill -9), so they "
                    "do not hold the closeboard/warehouse queue while the daemon runs; launches nothing.",
    )
    def dead_runs_sensor(context: dg.SensorEvaluationContext):
        from pipelines.instance import fail_dead_runs

        failed = fail_dead_runs(context.instance)
        return dg.SkipReason(f"marked failed: {', '.join(failed)}" if failed else "no in-process run died")

    return CloseDefinitions(partitions, close_snapshots, close_snapshot, close_period_job, backfill_history,
                            close_draft, daily_refresh, close_draft_schedule, dead_runs_sensor)


# --- running jobs in this process (the CLI) ------------------------------------------------------


@dataclass(frozen=True)
class JobOutcome:
    success: bool
    run_id: str
    errors: list[tuple[str, str]]  # (step, message)


def execute(job_name: str, home: Home, *, run_config: dict | None = None,
            tags: dict[str, str] | None = None) -> JobOutcome:
    """Run one of the code location's jobs in this process on `home`'s Dagster instance, as one
    warehouse writer; `errors` holds (step, the user's error message) for each failed step.

    Nothing monitors an in-process run: the run carries this process's id as a tag, and every
    in-process run first marks failed the runs of processes that died (`fail_dead_runs`), so a
    killed CLI run does not hold the `closeboard/warehouse` queue for ever."""
    from pipelines.definitions import defs
    from pipelines.instance import fail_dead_runs, instance, process_tag

    config = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}, **(run_config or {})}
    with instance(home) as dagster_instance:
        for dead in fail_dead_runs(dagster_instance):
            progress.emit(f"run {dead} was left running by a process that died: marked failed")
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=dagster_instance, raise_on_error=False,
            tags={**WAREHOUSE_TAG, **(tags or {}), **process_tag()}, run_config=config,
        )
    errors = []
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data is not None:
                error = event.step_failure_data.error
                user = event.step_failure_data.user_failure_data
                if user is not None and user.description:
                    errors.append((event.step_key, user.description))
                    continue
                while error is not None and (error.cause or error.context) is not None:
                    error = error.cause or error.context  # the user's error, not Dagster's wrappers
                errors.append((event.step_key, error.message.strip() if error else "unknown error"))
    return JobOutcome(result.success, result.run_id, errors)


def close_run_config(period: str, by: str, override: str | None) -> dict:
    return {"ops": {"sign_off": {"config": {"period": period, "by": by, "override": override or ""}}}}


def backfill_tags(config: Config, first: str | None = None, last: str | None = None) -> dict[str, str]:
    """The single-run backfill of [first, last] (default: first_period to the last ended month)."""
    ended = previous_period(config.company.report_date())
    return {
        "dagster/asset_partition_range_start": first or config.company.first_period,
        "dagster/asset_partition_range_end": last or ended,
    }
