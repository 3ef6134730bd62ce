"""The Dagster code location `closeboard` (workspace.yaml loads `pipelines.definitions`).

Importing this module never opens DuckDB or starts a connector.
"""

from __future__ import annotations

import dagster as dg

from pipelines.assets import dashboard, marts, source_assets
from pipelines.resources import CloseboardResource

WAREHOUSE_TAG = {"closeboard/warehouse": "write"}

refresh = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all(),
    description="Pull every source, rebuild the statements and key figures, render the dashboard.",
    executor_def=dg.in_process_executor,
    tags=WAREHOUSE_TAG,
)

defs = dg.Definitions(
    assets=[*source_assets, marts, dashboard],
    jobs=[refresh],
    resources={"closeboard": CloseboardResource()},
    executor=dg.in_process_executor,
)
