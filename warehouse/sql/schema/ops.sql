-- Operational tables: what a run read, what it rejected, and the settings the marts are built for.

create table if not exists quarantine (
    run_id          varchar not null,
    source          varchar not null,
    tool            varchar not null,
    record          varchar not null,      -- the record as received, JSON text
    reason          varchar not null
);

create table if not exists connector_calls (
    run_id          varchar not null,
    source          varchar not null,
    tool            varchar not null,
    arguments       varchar,               -- JSON, secrets redacted
    page            integer,
    items           integer,
    bytes           bigint,
    duration_ms     integer,
    status          varchar not null,      -- ok, error
    error           varchar,
    called_at       timestamptz,           -- when the call started (UTC)
    session_ms      integer                -- a call that opened its session (the first, or the first after a
                                           -- reconnect): the opening (the server started or reached, initialize,
                                           -- tools/list), not in duration_ms
);
-- warehouses created before called_at and session_ms existed
alter table connector_calls add column if not exists called_at timestamptz;
alter table connector_calls add column if not exists session_ms integer;

-- Per configured source, how closeboard reaches it (from closeboard.yaml at the last page render;
-- never a secret): transport stdio | http, auth kind stdio | none | bearer | oauth | client_credentials.
create table if not exists connector_sources (
    source          varchar not null primary key,
    adapter         varchar not null,
    transport       varchar not null,
    auth_kind       varchar not null
);

-- One row per (source, table) pulled by the last successful publish of that table.
create table if not exists source_loads (
    run_id          varchar not null,
    source          varchar not null,
    tool            varchar not null,
    table_name      varchar not null primary key,
    rows_received   bigint not null,
    rows_loaded     bigint not null,
    rows_quarantined bigint not null,
    reported_total  bigint,
    source_as_of    varchar,
    loaded_at       timestamptz not null,
    rows_rejected   bigint not null default 0   -- set aside by the adapter before staging (in quarantine)
);
-- a warehouse made before rows_rejected was counted
alter table source_loads add column if not exists rows_rejected bigint default 0;

-- The single row the marts read their settings from (written before marts are built).
create table if not exists run_context (
    first_period    varchar not null,      -- 'YYYY-MM', first period reported
    as_of           date not null,         -- the run's date in company.timezone
    fiscal_year_start_month integer not null,
    currency        varchar not null
);

-- The ledger summary (month x account: lines, debit, credit) as of each source's last successful
-- load; the next refresh compares against it to pull only the months that may have changed.
create table if not exists ledger_summary (
    source          varchar not null,
    period          varchar not null,
    account_id      varchar not null,
    lines           bigint not null,
    debit           decimal(18, 2) not null,
    credit          decimal(18, 2) not null
);

-- When each source's windowed table was last pulled whole: an incremental refresh pulls it whole again
-- once this is older than the connector's `full_pull_every_days` (the safety net under the summary).
create table if not exists full_pulls (
    source          varchar not null primary key,
    table_name      varchar not null,
    pulled_at       timestamptz not null
);

-- The loads of the sources closeboard.yaml configures. A source it leaves out (bank and CRM are
-- optional) has its tables published empty with the tool '(not configured)' (warehouse.loads.NOT_CONFIGURED).
create or replace view configured_loads as
select * from source_loads where tool <> '(not configured)';

-- The schema this warehouse was last brought to: the digest of warehouse/sql/schema's files
-- (warehouse.db.ensure_schema runs them again only when it differs or one of their tables is gone).
create table if not exists warehouse_schema (
    digest          varchar not null
);

-- The dashboard's click-to-explain as last computed (reports/render.py), under the fingerprint of
-- everything it is a function of (reports.explain.page_inputs): a refresh that changed none of it
-- reads it back instead of computing it again. One row; JSON text; its sources are not in it.
create table if not exists page_explanations (
    digest          varchar not null,
    explanations    varchar not null
);

-- The page's open documents as last computed (reports/tables.py `open_documents_once`): the fingerprint
-- of what they were computed from (reports.tables.open_documents_inputs). The rows are in
-- kept_open_documents, made by the statement that fills it (its columns are the open_documents() macro's).
create table if not exists kept_open_documents_inputs (
    digest          varchar not null
);
