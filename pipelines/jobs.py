"""The jobs, named for what people do (DESIGN "Operations"), each selecting asset groups:

- `refresh`: every source, the marts, the reconciliation, the snapshot step (`refresh_snapshots`,
  which appends versions to the `close_snapshot` history) and the page
  (unpartitioned: which periods to pull is decided inside the run from the ledger summary);
- `backfill_history`: the partitioned close snapshot alone (no source is read);
- `close_draft`: a whole refresh plus one month's draft close snapshot (the close-draft schedule);
- `close_period`: the sign-off, an op job (run config `ops.sign_off.config: {period, by, override}`).

Every job carries the tag `closeboard/warehouse: write`, so the instance runs one writer at a time.
"""

from __future__ import annotations

import dagster as dg

from pipelines.assets import REPORTS_GROUP, SOURCE_TABLES, WAREHOUSE_GROUP
from pipelines.close import CLOSE_GROUP, HISTORY_GROUP, sign_off
from pipelines.recon import RECON_GROUP

WAREHOUSE_TAG = {"closeboard/warehouse": "write"}
# the unpartitioned groups, in the order the data flows; the partitioned history is HISTORY_GROUP
REFRESH_GROUPS = (*SOURCE_TABLES, WAREHOUSE_GROUP, RECON_GROUP, CLOSE_GROUP, REPORTS_GROUP)

refresh = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.groups(*REFRESH_GROUPS),
    description="Pull every source, rebuild the statements and key figures, render the dashboard.",
    tags=WAREHOUSE_TAG,
)

backfill_history = dg.define_asset_job(
    "backfill_history",
    selection=dg.AssetSelection.groups(HISTORY_GROUP),
    description="Take the close snapshots of a range of months (backfill every ended month for "
    "the whole history: one run, no source is read).",
    tags=WAREHOUSE_TAG,
)

close_draft = dg.define_asset_job(
    "close_draft",
    selection=dg.AssetSelection.groups(*REFRESH_GROUPS, HISTORY_GROUP),
    description="Refresh everything and take the draft close snapshot of one month (the partition).",
    tags=WAREHOUSE_TAG,
)


@dg.job(
    name="close_period",
    tags=WAREHOUSE_TAG,
    description="Sign off a month (run config: ops.sign_off.config: period, by, override).",
)
def close_period() -> None:
    sign_off()


JOBS = [refresh, close_period, backfill_history, close_draft]
