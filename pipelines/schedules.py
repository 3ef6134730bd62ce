"""Schedules and sensors (DESIGN "Operations"), from closeboard.yaml's `schedules:`:

- `daily_refresh`: the `refresh` job on `schedules.refresh_cron` in company.timezone;
- `close_draft_schedule`: runs on the same cron and skips unless today is business day
  `schedules.close_business_day` (Mon-Fri; no holiday calendar) in company.timezone, when it
  refreshes and takes the previous month's draft close snapshot for sign-off;
- `fail_dead_cli_runs`: marks failed the in-process runs of CLI processes that died, so they do not
  hold the one-writer queue while the daemon runs.

All are on by default and can be switched off in the UI.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from connectors.config import Config
from connectors.periods import period_of, shift
from pipelines.jobs import WAREHOUSE_TAG, close_draft, refresh

# --- business days -------------------------------------------------------------------------------


def business_day_of_month(day: date) -> int | None:
    """1 for the month's first weekday (Mon-Fri), 2 for the second...; None on a weekend."""
    if day.weekday() >= 5:
        return None
    return sum(1 for d in range(1, day.day + 1) if day.replace(day=d).weekday() < 5)


def previous_period(day: date) -> str:
    """The month before the one holding `day`."""
    return shift(period_of(day), -1)


# --- schedules -----------------------------------------------------------------------------------


def build_schedules(
    config: Config, *, default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.RUNNING
) -> list[dg.ScheduleDefinition]:
    """`daily_refresh` and `close_draft_schedule` for `config`."""
    company = config.company
    cron = config.schedules.refresh_cron
    daily_refresh = dg.ScheduleDefinition(
        name="daily_refresh",
        job=refresh,
        cron_schedule=cron,
        execution_timezone=company.timezone,
        default_status=default_status,
        description=f"Refresh the open periods and the page ({cron}, {company.timezone}).",
        tags=WAREHOUSE_TAG,
    )

    business_day = config.schedules.close_business_day
    zone = ZoneInfo(company.timezone)

    @dg.schedule(
        name="close_draft_schedule",
        job=close_draft,
        cron_schedule=cron,
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
        return dg.RunRequest(
            run_key=f"close-draft-{period}",
            partition_key=period,
            tags={**WAREHOUSE_TAG, "closeboard/close_draft": period},
        )

    return [daily_refresh, close_draft_schedule]


# --- sensors -------------------------------------------------------------------------------------


@dg.sensor(
    name="fail_dead_cli_runs",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks failed the runs a CLI process ran in-process and died in (kill -9), so they "
    "do not hold the closeboard/warehouse queue while the daemon runs; launches nothing.",
)
def dead_runs_sensor(context: dg.SensorEvaluationContext):
    from pipelines.instance import fail_dead_runs

    failed = fail_dead_runs(context.instance)
    return dg.SkipReason(f"marked failed: {', '.join(failed)}" if failed else "no in-process run died")


SENSORS = [dead_runs_sensor]
