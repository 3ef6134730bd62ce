"""Assets: one per canonical table (grouped by source), the marts, and the dashboard page.

Each asset is thin: it calls into connectors/warehouse/reports through `pipelines.ingest` and
reports what it did as metadata.
"""

import dagster as dg

from connectors.client import ConnectorError
from connectors.config import Config
from connectors.records import SOURCES, source_tables
from pipelines import progress
from pipelines.ingest import ingest_source
from pipelines.publishing import build_models, render_and_publish
from pipelines.resources import CloseboardResource, SourcesResource

WAREHOUSE_GROUP = "warehouse"  # the marts
REPORTS_GROUP = "reports"  # the dashboard page


def source_retry_policy(config: Config, source: str) -> dg.RetryPolicy | None:
    """One retry policy, from closeboard.yaml. The client retries each call (`client.retries`, with
    backoff); a source step that still fails transiently is tried again as a whole (re-pulling the
    whole source) `refresh.source_retries` times, after `refresh.source_retry_delay_s` (doubling).
    Unset, that is once, and only for failures the client did not retry already (`step_may_retry`),
    so attempts never multiply by default. A source that is not configured has nothing to retry."""
    if source not in config.connectors:
        return None
    retries = 1 if config.refresh.source_retries is None else config.refresh.source_retries
    if retries == 0:
        return None
    return dg.RetryPolicy(
        max_retries=retries, delay=config.refresh.source_retry_delay_s, backoff=dg.Backoff.EXPONENTIAL
    )


def step_may_retry(config: Config, exc: ConnectorError) -> bool:
    """Whether a source step that failed with `exc` may be tried again by its retry policy: never for
    bad data, a refused tool or a needed sign-in (not transient); with `refresh.source_retries` unset,
    only when the client has not retried the failing call itself (the data changed between pages, a
    vendor error the adapter knows to be passing, a session broken between calls); with it set, for
    every transient failure (an operator riding out longer outages, knowing the attempts multiply)."""
    if not exc.transient:
        return False
    if config.refresh.source_retries is not None:
        return True
    return exc.attempts <= 1


# the assets are the tables of each source's family; which of them a source's adapter feeds is
# config (a table it does not feed is materialized empty, saying so)
SOURCE_TABLES: dict[str, tuple[str, ...]] = {source: source_tables(source) for source in SOURCES}
SOURCE_DESCRIPTIONS = {
    "erp": "the general ledger, customers' invoices, vendors' bills and payments",
    "bank": "bank accounts, their transactions and statement balances",
    "crm": "sales opportunities (pipeline and won deals)",
    "budget": "the budget per month and account or KPI",
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
    "budgets": "The budget per month and account or KPI (optional): budget vs actual on the income statement and tiles.",
}
# the marts Dagster shows (one definition: the reconciliation, the snapshots and the page depend on them)
MARTS = {
    "periods": "The reported months, from the first period to the open month.",
    "mart_pnl_monthly": "Profit and loss by month and account.",
    "mart_balance_sheet": "Month-end balance sheet by account, with earnings rows so it balances.",
    "mart_kpis": "Monthly key figures: revenue, margins, cash, burn, runway, AR, AP, DSO, DPO, pipeline.",
    "mart_statements": "Income statement, balance sheet and cash flow (indirect method) by line, with the prior"
    " month, the same month a year before, year to date and the budget.",
    "mart_budget": "The budget per month and KPI or statement line, beside the actual (empty without a budget).",
}
MART_KEYS = [dg.AssetKey(name) for name in MARTS]


def _source_asset(source: str, retry_policy: dg.RetryPolicy | None) -> dg.AssetsDefinition:
    tables = SOURCE_TABLES[source]

    @dg.multi_asset(
        name=f"{source}_source",
        specs=[
            dg.AssetSpec(table, group_name=source, description=TABLE_DESCRIPTIONS[table], kinds={"duckdb"})
            for table in tables
        ],
        description=f"Read {SOURCE_DESCRIPTIONS[source]} through the {source} MCP connector.",
        pool="warehouse",
        retry_policy=retry_policy,
    )
    def _asset(context: dg.AssetExecutionContext, closeboard: CloseboardResource, sources: SourcesResource):
        config = closeboard.settings()
        if source in config.connectors:
            progress.emit(f"{source}: reading through MCP")
        else:  # bank and CRM are optional: their tables are emptied and their checks say "not configured"
            progress.emit(f"{source}: not configured in {config.path} (optional): its tables are left empty")
        try:
            server = (
                sources.server(config.connectors[source], closeboard.data_home) if source in config.connectors else None
            )
            # the first source step starts the servers of every source step of the run at once
            planned = context.run.step_keys_to_execute or context.job_def.graph.node_names()
            result = ingest_source(
                config,
                source,
                home=closeboard.data_home,
                run_id=context.run_id,
                connect=closeboard.warehouse,
                server=server,
                servers=sources.started_ahead(
                    context.run_id, config, closeboard.data_home, [s for s in SOURCE_TABLES if f"{s}_source" in planned]
                ),
            )
        except ConnectorError as exc:
            # a source that may come back is retried by source_retry_policy; bad data or a refused tool is not
            raise dg.Failure(str(exc), allow_retries=step_may_retry(config, exc)) from exc
        for table in tables:
            pulled = result.pull.tables[table]
            published = result.published[table]
            if source in config.connectors:
                progress.emit(
                    f"{source}: {table} {published.loaded:,} rows loaded of {published.sent:,} received"
                    + (f", {published.rejected:,} rejected by the adapter" if published.rejected else "")
                    + (f", {published.quarantined:,} quarantined" if published.quarantined else "")
                )
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


def source_assets(config: Config) -> list[dg.AssetsDefinition]:
    """One multi-asset per source family (its tables), each with the retry policy `config` gives it."""
    return [_source_asset(source, source_retry_policy(config, source)) for source in SOURCE_TABLES]


CANONICAL_KEYS = [dg.AssetKey(t) for tables in SOURCE_TABLES.values() for t in tables]


@dg.multi_asset(
    name="marts",
    specs=[
        dg.AssetSpec(name, group_name=WAREHOUSE_GROUP, deps=CANONICAL_KEYS, kinds={"duckdb"}, description=description)
        for name, description in MARTS.items()
    ],
    description="Build the monthly statements and key figures from the ledger.",
    pool="warehouse",
)
def marts(context: dg.AssetExecutionContext, closeboard: CloseboardResource):
    counts = build_models(closeboard)
    progress.emit("warehouse: statements and key figures built")
    for name in MARTS:
        yield dg.MaterializeResult(asset_key=name, metadata={"rows": dg.MetadataValue.int(counts[name])})


@dg.asset(
    group_name=REPORTS_GROUP,
    deps=[
        *MART_KEYS,
        dg.AssetKey("refresh_snapshots"),  # after the refresh's snapshot step (pipelines.close)
        *(dg.AssetKey(name) for name in ("recon_results", "recon_items", "recon_bank_matches")),
    ],
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
