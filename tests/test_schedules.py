"""The close's Dagster definitions: partitions, jobs and the two schedules, evaluated through Dagster's
schedule evaluation API for given dates (business day N across weekends, month and year ends, and
the company's timezone, not UTC)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import numpy as np
import pytest

from connectors.config import Config, parse_config
from pipelines.close import month_partitions
from pipelines.definitions import build_definitions, defs, import_config
from pipelines.schedules import business_day_of_month, previous_period

TZ = "America/New_York"


def config(business_day: int = 3, cron: str = "30 6 * * *", tz: str = TZ):
    return parse_config(
        {
            "company": {"name": "Test Co", "currency": "USD", "first_period": "2025-11", "timezone": tz},
            "connectors": {
                "erp": {
                    "server": {"command": "python", "args": ["-m", "connectors.servers.erp"]},
                    "allow_tools": ["list_accounts", "list_journal_lines"],
                }
            },
            "schedules": {"refresh_cron": cron, "close_business_day": business_day},
        }
    )


def at(day: date, hour: int = 6, minute: int = 30, tz: str = TZ) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz))


def repository(settings: Config) -> dg.RepositoryDefinition:
    """The code location as pipelines.definitions assembles it for `settings`."""
    return build_definitions(settings).get_repository_def()


def schedule(repo: dg.RepositoryDefinition, name: str = "close_draft_schedule") -> dg.ScheduleDefinition:
    return repo.get_schedule_def(name)


def evaluate(repo: dg.RepositoryDefinition, schedule: dg.ScheduleDefinition, when: datetime):
    with dg.build_schedule_context(scheduled_execution_time=when, repository_def=repo) as context:
        return schedule.evaluate_tick(context)


def nth_business_day(year: int, month: int, n: int) -> date:
    """Independent of the code under test: numpy's Mon-Fri business-day calendar."""
    first = np.datetime64(f"{year:04d}-{month:02d}-01")
    return np.busday_offset(first, n - 1, roll="forward").astype(date)


@pytest.mark.parametrize("year, month", [(2026, 8), (2027, 1), (2026, 2)])
@pytest.mark.parametrize("n", [1, 3, 5])
def test_close_draft_runs_only_on_business_day_n_for_the_previous_month(year: int, month: int, n: int) -> None:
    settings = config(business_day=n)
    repo = repository(settings)
    expected_day = nth_business_day(year, month, n)
    previous = (date(year, month, 1) - timedelta(days=1)).strftime("%Y-%m")
    day, runs = date(year, month, 1), {}
    while day.month == month:
        result = evaluate(repo, schedule(repo), at(day))
        if result.run_requests:
            runs[day] = result.run_requests
        else:
            assert f"business day {n}" in result.skip_message
        day += timedelta(days=1)
    assert list(runs) == [expected_day]
    (request,) = runs[expected_day]
    assert request.partition_key == previous
    assert request.run_key == f"close-draft-{previous}"
    assert request.tags["closeboard/warehouse"] == "write"
    assert previous in month_partitions(settings).get_partition_keys(current_time=at(expected_day))
    assert repo.get_job("close_draft").partitions_def == month_partitions(settings)


def test_business_days_skip_weekends() -> None:
    # 2026-08-01 is a Saturday: the first business day is Monday the 3rd
    assert date(2026, 8, 1).weekday() == 5
    assert [business_day_of_month(date(2026, 8, d)) for d in range(1, 8)] == [None, None, 1, 2, 3, 4, 5]
    assert previous_period(date(2027, 1, 5)) == "2026-12"


def test_the_business_day_is_counted_in_the_company_timezone() -> None:
    settings = config(business_day=3)
    repo = repository(settings)
    third = nth_business_day(2026, 8, 3)
    utc = ZoneInfo("UTC")
    # 02:00 UTC on the third business day is still the evening before in New York: no run yet
    early = datetime.combine(third, time(2, 0), tzinfo=utc)
    assert evaluate(repo, schedule(repo), early).run_requests == []
    # 03:00 UTC the next day is 23:00 on the third business day in New York: the run
    late = datetime.combine(third + timedelta(days=1), time(3, 0), tzinfo=utc)
    assert [r.partition_key for r in evaluate(repo, schedule(repo), late).run_requests] == ["2026-07"]


def test_daily_refresh_schedule_takes_cron_and_timezone_from_config() -> None:
    settings = config(cron="15 5 * * 1-5", tz="Europe/Berlin")
    repo = repository(settings)
    refresh, draft = schedule(repo, "daily_refresh"), schedule(repo)
    assert (refresh.cron_schedule, refresh.execution_timezone, refresh.job_name) == (
        "15 5 * * 1-5",
        "Europe/Berlin",
        "refresh",
    )
    assert (draft.cron_schedule, draft.execution_timezone, draft.job_name) == (
        "15 5 * * 1-5",
        "Europe/Berlin",
        "close_draft",
    )
    (request,) = evaluate(repo, refresh, at(date(2026, 8, 3), 5, 15, "Europe/Berlin")).run_requests
    assert request.partition_key is None  # refresh is unpartitioned


def test_the_code_location_wires_partitions_jobs_and_schedules_from_closeboard_yaml() -> None:
    settings = import_config()
    schedules = {s.name: s for s in defs.schedules if s.name in ("daily_refresh", "close_draft_schedule")}
    assert len(schedules) == 2  # (other schedules, such as delivery's, come from their own blocks)
    assert "fail_dead_cli_runs" in {s.name for s in defs.sensors}
    for schedule in schedules.values():
        assert schedule.cron_schedule == settings.schedules.refresh_cron
        assert schedule.execution_timezone == settings.company.timezone
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    graph = defs.resolve_asset_graph()
    partitioned = graph.get(dg.AssetKey("close_snapshot"))
    keys = partitioned.partitions_def.get_partition_keys(current_time=at(date(2026, 6, 15)))
    assert keys[0] == settings.company.first_period and keys[-1] == "2026-06"  # the open month is the extra one
    assert partitioned.backfill_policy == dg.BackfillPolicy.single_run()
    refresh = defs.resolve_job_def("refresh")
    selected = {k.to_user_string() for k in refresh.asset_layer.selected_asset_keys}
    assert "refresh_snapshots" in selected and "close_snapshot" not in selected
    assert refresh.partitions_def is None
    assert {k.to_user_string() for k in defs.resolve_job_def("backfill_history").asset_layer.selected_asset_keys} == {
        "close_snapshot"
    }
    for name in ("close_period", "backfill_history", "close_draft"):
        assert defs.resolve_job_def(name).tags["closeboard/warehouse"] == "write"
    # the snapshot step runs after the marts and before the page
    assert dg.AssetKey("refresh_snapshots") in graph.get(dg.AssetKey("dashboard")).parent_keys
    assert {dg.AssetKey("mart_kpis"), dg.AssetKey("recon_results")} <= graph.get(
        dg.AssetKey("refresh_snapshots")
    ).parent_keys
