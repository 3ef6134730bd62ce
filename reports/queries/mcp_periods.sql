-- `closeboard mcp`: every reported period (oldest first) with its close state: the latest snapshot
-- version (status, fingerprint) and the last closed one (sign-off), and whether a restated version
-- follows that close. The open month has no snapshot (month to date).
with

versions as (
    select
        s.period as period,
        max(s.version)::integer as latest_version,
        arg_max(s.status, s.version) as latest_status,
        arg_max(s.source_fingerprint, s.version) as latest_fingerprint,
        max(s.version) filter (where s.status = 'closed')::integer as closed_version,
    from close_snapshots as s
    group by s.period
),

closed as (
    select
        s.period as period,
        s.source_fingerprint as closed_fingerprint,
        s.closed_by as closed_by,
        s.closed_at as closed_at,
        s.override_reason as override_reason,
    from close_snapshots as s
    inner join versions as v
        on v.period = s.period
        and v.closed_version = s.version
)

select
    p.period as period,
    p.period_end as period_end,
    p.is_open as is_open,
    v.latest_version as latest_version,
    v.latest_status as latest_status,
    v.latest_fingerprint as latest_fingerprint,
    v.closed_version as closed_version,
    c.closed_fingerprint as closed_fingerprint,
    c.closed_by as closed_by,
    c.closed_at as closed_at,
    c.override_reason as override_reason,
    coalesce(v.latest_status = 'restated', false) as restated_since_close,
from periods as p
left join versions as v
    on v.period = p.period
left join closed as c
    on c.period = p.period
order by p.period
