-- Per period: its latest snapshot version and status, and its last closed version (sign-off) if
-- any (its figures: the reported_kpis view); restated_since_close when a restated version follows that close.
with

latest as (
    select
        s.period as period,
        max(s.version) as latest_version,
        arg_max(s.status, s.version) as latest_status,
    from close_snapshots as s
    group by s.period
),

closed as (
    select
        s.period as period,
        s.version as closed_version,
        s.closed_by as closed_by,
        s.closed_at::varchar as closed_at,
        s.override_reason as override_reason,
    from close_snapshots as s
    where s.status = 'closed'
    qualify row_number() over (partition by s.period order by s.version desc) = 1
)

select
    l.period as period,
    l.latest_version::integer as latest_version,
    l.latest_status as latest_status,
    c.closed_version::integer as closed_version,
    c.closed_by as closed_by,
    c.closed_at as closed_at,
    c.override_reason as override_reason,
    coalesce(
        (
            select bool_or(s.status = 'restated') from close_snapshots as s
            where s.period = l.period and s.version > c.closed_version
        ),
        false
    ) as restated_since_close,
from latest as l
left join closed as c
    on c.period = l.period
order by l.period
