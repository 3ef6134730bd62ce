-- `closeboard mcp`'s own audit table, in <home>/mcp_audit.duckdb (never the warehouse, whose
-- readers' copy is read-only and replaced on every publish): one row per tool call, what was asked
-- (the validated arguments) and how it went. Appended only.
create table if not exists mcp_calls (
    called_at       timestamptz not null,
    tool            varchar not null,
    arguments       varchar not null,      -- JSON of the call's arguments
    status          varchar not null,      -- ok, error
    error           varchar,
    answer_bytes    bigint,
    duration_ms     integer,
    transport       varchar not null,      -- stdio, http, memory
    warehouse_run   varchar                -- the run whose published copy answered (status.json run_id)
);
insert into mcp_calls
values ($called_at, $tool, $arguments, $status, $error, $answer_bytes, $duration_ms, $transport, $warehouse_run);
