"""The Dagster code location `closeboard` (workspace.yaml loads `pipelines.definitions`).

Importing this module never opens DuckDB or starts a connector. `build_definitions` assembles the
location for a configuration and a choice of resources; tests use it with in-memory sources. The
parts: assets (pipelines.assets, .recon, .close), jobs selected by asset group (pipelines.jobs),
schedules and sensors (pipelines.schedules).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from connectors.config import Config, load_config, load_group
from pipelines.assets import dashboard, marts, source_assets
from pipelines.close import close_assets
from pipelines.delivery import build as build_delivery
from pipelines.jobs import JOBS
from pipelines.recon import reconciliation
from pipelines.resources import CloseboardResource, SourcesResource
from warehouse.home import config_path
from pipelines.schedules import SENSORS, build_schedules
from warehouse.home import Home

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "closeboard.yaml"


def location_config_path(home: Home | None = None) -> Path:
    """The closeboard.yaml the code location reads: $CLOSEBOARD_CONFIG, else the data home's
    closeboard.yaml, else ./closeboard.yaml; the repository's example only when no configuration is
    named or found."""
    path = config_path(None, home or Home.resolve())
    if not os.environ.get("CLOSEBOARD_CONFIG") and not path.exists():
        return EXAMPLE_CONFIG
    return path


def import_config(home: Home | None = None) -> Config:
    """closeboard.yaml as the code location sees it (never opens DuckDB). A broken one fails loudly,
    listing every problem, rather than showing the example's partitions while runs fail."""
    return load_config(location_config_path(home))


def build_definitions(
    config: Config, *, closeboard: CloseboardResource | None = None, sources: SourcesResource | None = None
) -> dg.Definitions:
    """The code location for `config`: the close's partitions, the source steps' retry policy and
    the schedules come from it."""
    assets = [
        *source_assets(config),
        marts,
        reconciliation,
        dashboard,
        *close_assets(config, upstream=sorted(reconciliation.keys)),
    ]  # snapshots follow the verdicts
    delivery = build_delivery(config, closeboard or CloseboardResource())  # the month pack and alerts (issue 20)
    schedules = [*build_schedules(config), *delivery.schedules]  # more schedules: add them here
    sensors = [
        *SENSORS,
        *delivery.sensors,
    ]  # more sensors: add them here (SENSORS marks CLI runs whose process died as failed)
    return dg.Definitions(
        assets=assets,
        jobs=[*JOBS, *delivery.jobs],
        schedules=schedules,
        sensors=sensors,
        resources={"closeboard": closeboard or CloseboardResource(), "sources": sources or SourcesResource()},
        executor=dg.in_process_executor,  # one writer: every step of a run in its process, one at a time
    )


def location_definitions(home: Home | None = None) -> dg.Definitions:
    """The code location for the closeboard.yaml it reads: a single company's, or a group's (`entities:`,
    issue 22: the refresh partitioned by entity, pipelines/entities.py)."""
    home = home or Home.resolve()
    group = load_group(location_config_path(home))
    if group is None:
        return build_definitions(import_config(home))
    from pipelines.entities import build_group_definitions

    return build_group_definitions(group, home)


# closeboard.yaml read at import, without DuckDB; a broken one fails the code location loudly
defs = location_definitions()
