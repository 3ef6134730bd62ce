-- reported_kpis: what each period reports, the one definition of the closed-month rule that the page,
-- `closeboard mcp`, the summary and every other reader take their KPIs from (long format, like
-- mart_kpis). A period with a closed version reports its last closed snapshot's KPIs (DESIGN: the
-- page shows a closed month's last closed version, also when a restated version follows); every
-- other period, and any KPI the snapshot does not hold, reports mart_kpis's live figure.
--   figures_from   'snapshot' or 'warehouse'
--   version        the closed version the figure comes from (null: the warehouse's)
-- A view, so a sign-off (which appends to close_snapshots) is reported at once, without a rebuild.

create or replace view reported_kpis as
with

closed as (
    select
        s.period as period,
        s.version as version,
        s.kpis as kpis,
    from close_snapshots as s
    where s.status = 'closed'
    qualify row_number() over (partition by s.period order by s.version desc) = 1
),

snapshot_kpis as (
    select
        c.period as period,
        j.key as kpi,
        (j.value ->> '$')::decimal(18, 2) as value,
        c.version::integer as version,
    from closed as c, json_each(c.kpis) as j
)

select
    sk.period as period,
    sk.kpi as kpi,
    sk.value as value,
    'snapshot' as figures_from,
    sk.version as version,
from snapshot_kpis as sk
union all
select
    k.period as period,
    k.kpi as kpi,
    k.value as value,
    'warehouse' as figures_from,
    null::integer as version,
from mart_kpis as k
anti join snapshot_kpis as sk
    on sk.period = k.period
    and sk.kpi = k.kpi
