-- The sources panel: per configured source how closeboard reaches it (transport and auth kind from
-- closeboard.yaml, never a secret), its last successful read (the latest publish of one of its
-- tables), and what its last run did: MCP calls, failed calls, rows loaded and the first error.
-- A source's last run is the run whose calls came last (connector_calls is append-only: rowid order).
with calls as (
    select source, run_id, status, error, rowid as seq from connector_calls
),
last_run as (
    select source, arg_max(run_id, seq) as run_id from calls group by source
),
last_calls as (
    select c.source,
           count(*)::integer as calls,
           count(*) filter (where c.status <> 'ok')::integer as errors,
           left(arg_min(c.error, c.seq) filter (where c.status <> 'ok'), 200) as last_error
    from calls as c
    join last_run as l on l.source = c.source and l.run_id = c.run_id
    group by c.source
),
loads as (
    select s.source,
           max(s.loaded_at) as last_read,
           sum(s.rows_loaded) filter (where s.run_id = l.run_id)::bigint as rows
    from source_loads as s
    left join last_run as l on l.source = s.source
    group by s.source
)
select
    cs.source,
    cs.auth_kind,
    cs.transport,
    strftime(ld.last_read at time zone 'UTC', '%Y-%m-%d %H:%M UTC') as last_read,
    lc.calls,
    ld.rows,
    coalesce(lc.errors, 0) as errors,
    case when lc.calls is null then 'never read' when ld.rows is not null then 'ok' else 'failed' end as last_run,
    lc.last_error
from connector_sources as cs
left join last_calls as lc on lc.source = cs.source
left join loads as ld on ld.source = cs.source
order by cs.source
