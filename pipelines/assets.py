"""Assets: one per canonical table (grouped by source), the marts, and the dashboard page.

Each asset is thin: it calls into connectors/warehouse/reports through `pipelines.ingest` and
reports what it did as metadata.
"""

import os

import dagster as dg

from connectors.client import ConnectorError
from connectors.records import SOURCES, source_tables
from pipelines import progress
from pipelines.ingest import ingest_source
from pipelines.publishing import build_models, render_and_publish
from pipelines.resources import CloseboardResource, SourcesResource

# A source that fails after the client's own retries (a server down, a timeout) is tried again as a
# whole step. Tests shorten the delay through the environment.
SOURCE_RETRY = dg.RetryPolicy(
    max_retries=int(os.environ.get("CLOSEBOARD_SOURCE_RETRIES", "2")),
    delay=float(os.environ.get("CLOSEBOARD_SOURCE_RETRY_DELAY_S", "30")),
    backoff=dg.Backoff.EXPONENTIAL,
)

# the assets are the tables of each source's family; which of them a source's adapter feeds is
# config (a table it does not feed is materialized empty, saying so)
SOURCE_TABLES: dict[str, tuple[str, ...]] = {source: source_tables(source) for source in SOURCES}
SOURCE_DESCRIPTIONS = {
    "erp": "the general ledger, customers' invoices, vendors' bills and payments",
    "bank": "bank accounts, their transactions and statement balances",
    "crm": "sales opportunities (pipeline and won deals)",
}
TABLE_DESCRIPTIONS = {
    "erp_accounts": "Chart of accounts from the ERP.",
    "erp_journal_lines": "Every posted journal line from the ERP ledger (the source of truth).",
    "erp_invoices": "Customer invoices and credit notes with their open balance.",
    "erp_bills": "Vendor bills with their open balance.",
    "erp_payments": "Payments applied to invoices and bills.",
    "erp_fx_rates": "Exchange rates into the reporting currency, where the ERP publishes them.",
    "erp_trial_balance": "The ERP's own trial balance at each month-end, where it gives one (R7 ties out to it).",
    "bank_accounts": "Bank accounts and the ledger account each one maps to.",
    "bank_transactions": "Bank statement lines.",
    "bank_balances": "Statement closing balances per bank account and day.",
    "crm_opportunities": "Sales opportunities from the CRM.",
}
MART_TABLES = ("periods", "mart_pnl_monthly", "mart_balance_sheet", "mart_kpis", "mart_statements")


def _source_asset(source: str) -> dg.AssetsDefinition:
    tables = SOURCE_TABLES[source]

    @dg.multi_asset(
        name=f"{source}_source",
        specs=[
            dg.AssetSpec(table, group_name=source, description=TABLE_DESCRIPTIONS[table], kinds={"duckdb"})
            for table in tables
        ],
        description=f"Read {SOURCE_DESCRIPTIONS[source]} through the {source} MCP connector.",
        pool="warehouse",
        retry_policy=SOURCE_RETRY,
    )
    def _asset(context: dg.AssetExecutionContext, closeboard: CloseboardResource, sources: SourcesResource):
        config = closeboard.settings()
        if source in config.connectors:
            progress.emit(f"{source}: reading through MCP")
        else:  # bank and CRM are optional: their tables are emptied and their checks say "not configured"
            progress.emit(f"{source}: not configured in {config.path} (optional): its tables are left empty")
        try:
            server = (sources.server(config.connectors[source], closeboard.data_home)
                      if source in config.connectors else None)
            result = ingest_source(config, source, home=closeboard.data_home, run_id=context.run_id,
                                   connect=closeboard.warehouse, server=server)
        except ConnectorError as exc:
            # a source that may come back is retried by SOURCE_RETRY; bad data or a refused tool is not
            raise dg.Failure(str(exc), allow_retries=exc.transient) from exc
        for table in tables:
            pulled = result.pull.tables[table]
            published = result.published[table]
            if source in config.connectors:
                progress.emit(f"{source}: {table} {published.loaded:,} rows loaded of {published.sent:,} received"
                              + (f", {published.rejected:,} rejected by the adapter" if published.rejected else "")
                              + (f", {published.quarantined:,} quarantined" if published.quarantined else ""))
            yield dg.MaterializeResult(
                asset_key=table,
                metadata={
                    "rows": dg.MetadataValue.int(published.loaded),
                    "rows_received": dg.MetadataValue.int(published.sent),
                    "rows_rejected_by_adapter": dg.MetadataValue.int(published.rejected),
                    "rows_quarantined": dg.MetadataValue.int(published.quarantined),
                    "source_total": dg.MetadataValue.int(pulled.reported_total or 0),
                    "source_as_of": dg.MetadataValue.text(pulled.as_of or "unknown"),
                    "pages": dg.MetadataValue.int(pulled.pages),
                    "tool": dg.MetadataValue.text(pulled.tool),
                    "preview": dg.MetadataValue.md(result.previews[table]),
                },
            )

    return _asset


source_assets = [_source_asset(source) for source in SOURCE_TABLES]
CANONICAL_KEYS = [dg.AssetKey(t) for tables in SOURCE_TABLES.values() for t in tables]


@dg.multi_asset(
    name="marts",
    specs=[
        dg.AssetSpec(name, group_name="warehouse", deps=CANONICAL_KEYS, kinds={"duckdb"},
                     description=description)
        for name, description in (
            ("periods", "The reported months, from the first period to the open month."),
            ("mart_pnl_monthly", "Profit and loss by month and account."),
            ("mart_balance_sheet", "Month-end balance sheet by account, with earnings rows so it balances."),
            ("mart_kpis", "Monthly key figures: revenue, margins, cash, burn, runway, AR, AP, DSO, DPO, pipeline."),
            ("mart_statements", "Income statement, balance sheet and cash flow (indirect method) by line, with the"
                                " prior month, the same month a year before and year to date."),
        )
    ],
    description="Build the monthly statements and key figures from the ledger.",
    pool="warehouse",
)
def marts(context: dg.AssetExecutionContext, closeboard: CloseboardResource):
    counts = build_models(closeboard)
    progress.emit("warehouse: statements and key figures built")
    for name in MART_TABLES:
        yield dg.MaterializeResult(asset_key=name, metadata={"rows": dg.MetadataValue.int(counts[name])})


@dg.asset(
    group_name="reports",
    deps=[*(dg.AssetKey(name) for name in MART_TABLES), dg.AssetKey("close_snapshots"),  # after the snapshot step
          *(dg.AssetKey(name) for name in ("recon_results", "recon_items", "recon_bank_matches"))],
    description="The dashboard page (var/reports/latest.html) the finance team opens.",
    pool="warehouse",
    kinds={"html"},
)
def dashboard(context: dg.AssetExecutionContext, closeboard: CloseboardResource) -> dg.MaterializeResult:
    page = render_and_publish(closeboard, context.run_id)
    progress.emit(f"reports: dashboard written to {page}")
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(page)), "bytes": dg.MetadataValue.int(page.stat().st_size)}
    )
