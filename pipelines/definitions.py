"""The Dagster code location `closeboard` (workspace.yaml loads `pipelines.definitions`).

Importing this module never opens DuckDB or starts a connector.
"""

from __future__ import annotations

import dagster as dg

from pipelines.assets import dashboard, marts, source_assets
from pipelines.recon import reconciliation
from pipelines.resources import CloseboardResource
from pipelines.close import WAREHOUSE_TAG, import_config
from pipelines.close import build as build_close

# the close history (issue 4): partitions and schedules from closeboard.yaml, read at import without DuckDB
close_defs = build_close(import_config(), upstream=sorted(reconciliation.keys))  # snapshots follow the verdicts

refresh = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(close_defs.close_snapshot),  # refresh is unpartitioned
    description="Pull every source, rebuild the statements and key figures, render the dashboard.",
    executor_def=dg.in_process_executor,
    tags=WAREHOUSE_TAG,
)

defs = dg.Definitions(
    assets=[*source_assets, marts, reconciliation, dashboard, *close_defs.assets],
    jobs=[refresh, *close_defs.jobs],
    schedules=close_defs.schedules,
    sensors=close_defs.sensors,  # marks CLI runs whose process died as failed, so the writer queue moves
    resources={"closeboard": CloseboardResource()},
    executor=dg.in_process_executor,
)
