"""Running the code location's jobs in this process: what the CLI does (and the tests, with the
bundled servers in memory), on the data home's own Dagster instance, as one warehouse writer.

Nothing monitors an in-process run: the run carries this process's id as a tag, and every
in-process run first marks failed the runs of processes that died (`fail_dead_runs`), so a killed
CLI run does not hold the `closeboard/warehouse` queue for ever.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from connectors.config import Config, load_config
from pipelines import progress
from pipelines.definitions import build_definitions, location_config_path
from pipelines.instance import fail_dead_runs, instance, process_tag
from pipelines.jobs import WAREHOUSE_TAG
from pipelines.resources import CloseboardResource, SourcesResource
from pipelines.schedules import previous_period
from warehouse.home import Home

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # the CLI prints progress lines instead


@dataclass(frozen=True)
class JobOutcome:
    success: bool
    run_id: str
    errors: list[tuple[str, str]]  # (step, message)


def definitions_for(
    home: Home, *, config: Path | None = None, sources: SourcesResource | None = None
) -> dg.Definitions:
    """The code location for `home`: `config` (default: the one the code location reads) parsed
    once, the warehouse in `home`, and `sources` (default: live, as closeboard.yaml says)."""
    path = config or location_config_path(home)
    with warnings.catch_warnings():  # Dagster's beta notes on the code location's own asset parameters
        warnings.simplefilter("ignore", dg.BetaWarning)
        return build_definitions(
            load_config(path),
            closeboard=CloseboardResource(config_path=str(path), home=str(home.root)),
            sources=sources,
        )


def run_job(
    defs: dg.Definitions,
    job_name: str,
    dagster_instance: dg.DagsterInstance,
    *,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
    run_id: str | None = None,
) -> dg.ExecuteInProcessResult:
    """One job of `defs` in this process on `dagster_instance`; a failure is in the result, not raised."""
    return defs.resolve_job_def(job_name).execute_in_process(
        instance=dagster_instance,
        raise_on_error=False,
        tags=tags,
        run_config={**QUIET, **(run_config or {})},
        run_id=run_id,
    )


def step_errors(result: dg.ExecuteInProcessResult) -> list[tuple[str, str]]:
    """(step, the user's error message) for each failed step: a Failure's description, else the
    innermost error of the chain (the user's error, not Dagster's wrappers)."""
    errors = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            user = event.step_failure_data.user_failure_data
            if user is not None and user.description:
                errors.append((event.step_key, user.description))
                continue
            error = event.step_failure_data.error
            while error is not None and (error.cause or error.context) is not None:
                error = error.cause or error.context
            errors.append((event.step_key, error.message.strip() if error else "unknown error"))
    return errors


def execute(
    job_name: str,
    home: Home,
    *,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
    config: Path | None = None,
    sources: SourcesResource | None = None,
    run_id: str | None = None,
) -> JobOutcome:
    """Run one of the code location's jobs in this process on `home`'s Dagster instance, as one
    warehouse writer (`config` and `sources` as `definitions_for`), as run `run_id` when given (the
    servers started ahead for it are its own: connectors.prestart.run_with_servers); `errors` holds
    (step, the user's error message) for each failed step."""
    defs = definitions_for(home, config=config, sources=sources)
    with instance(home, config) as dagster_instance:
        for dead in fail_dead_runs(dagster_instance):
            progress.emit(f"run {dead} was left running by a process that died: marked failed")
        result = run_job(
            defs,
            job_name,
            dagster_instance,
            run_config=run_config,
            tags={**WAREHOUSE_TAG, **(tags or {}), **process_tag()},
            run_id=run_id,
        )
    return JobOutcome(result.success, result.run_id, [] if result.success else step_errors(result))


def backfill_tags(config: Config, first: str | None = None, last: str | None = None) -> dict[str, str]:
    """The single-run backfill of [first, last] (default: first_period to the last ended month)."""
    ended = previous_period(config.company.report_date())
    return {
        "dagster/asset_partition_range_start": first or config.company.first_period,
        "dagster/asset_partition_range_end": last or ended,
    }
