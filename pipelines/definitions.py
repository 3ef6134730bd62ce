"""The Dagster code location `closeboard` (workspace.yaml loads `pipelines.definitions`).

Importing this module never opens DuckDB or starts a connector. `build_definitions` assembles the
location for a configuration and a choice of resources; tests use it with in-memory sources.
"""

from __future__ import annotations

import dagster as dg

from connectors.config import Config
from pipelines.assets import dashboard, marts, source_assets
from pipelines.close import WAREHOUSE_TAG, import_config
from pipelines.close import build as build_close
from pipelines.recon import reconciliation
from pipelines.resources import CloseboardResource, SourcesResource


def build_definitions(config: Config, *, closeboard: CloseboardResource | None = None,
                      sources: SourcesResource | None = None) -> dg.Definitions:
    """The code location for `config`: the close's partitions and schedules come from it."""
    close_defs = build_close(config, upstream=sorted(reconciliation.keys))  # snapshots follow the verdicts
    refresh = dg.define_asset_job(
        "refresh",
        selection=dg.AssetSelection.all() - dg.AssetSelection.assets(close_defs.close_snapshot),  # unpartitioned
        description="Pull every source, rebuild the statements and key figures, render the dashboard.",
        tags=WAREHOUSE_TAG,
    )
    return dg.Definitions(
        assets=[*source_assets, marts, reconciliation, dashboard, *close_defs.assets],
        jobs=[refresh, *close_defs.jobs],
        schedules=close_defs.schedules,
        sensors=close_defs.sensors,  # marks CLI runs whose process died as failed, so the writer queue moves
        resources={"closeboard": closeboard or CloseboardResource(), "sources": sources or SourcesResource()},
        executor=dg.in_process_executor,  # one writer: every step of a run in its process, one at a time
    )


# closeboard.yaml read at import, without DuckDB; a broken one fails the code location loudly
defs = build_definitions(import_config())
