-- The portfolio page (issue 22, reports/portfolio.py): one entity's last ended month as its own page
-- reports it (reported_kpis: a closed month's last closed version), the worst verdict of its checks
-- that month, its last sign-off and the oldest as-of of its configured sources. One row; money in the
-- entity's own currency (run_context), never converted.
with

focus as (
    select max(p.period) as period from periods as p where not p.is_open
),

figures as (
    select
        max(k.value) filter (where k.kpi = 'revenue') as revenue,
        max(k.value) filter (where k.kpi = 'net_income') as net_income,
        max(k.value) filter (where k.kpi = 'cash') as cash,
        max(k.value) filter (where k.kpi = 'ar') as ar,
        max(k.value) filter (where k.kpi = 'ap') as ap,
    from reported_kpis as k
    where k.period = (select f.period from focus as f)
),

verdicts as (
    select
        count(*) filter (where r.status = 'fail') as failing,
        count(*) filter (where r.status = 'warn') as warning,
        count(*) as checked,
    from recon_results as r
    where r.period = (select f.period from focus as f)
),

last_close as (
    select s.period as period, s.closed_by as closed_by, s.closed_at::varchar as closed_at,
    from close_snapshots as s
    where s.status = 'closed'
    order by s.period desc, s.version desc
    limit 1
)

select
    (select f.period from focus as f) as period,
    (select c.currency from run_context as c limit 1) as currency,
    fi.revenue::varchar as revenue,
    fi.net_income::varchar as net_income,
    fi.cash::varchar as cash,
    fi.ar::varchar as ar,
    fi.ap::varchar as ap,
    v.failing as failing,
    v.warning as warning,
    v.checked as checked,
    (select lc.period from last_close as lc) as last_closed,
    (select lc.closed_by from last_close as lc) as closed_by,
    (select lc.closed_at from last_close as lc) as closed_at,
    (select min(cl.source_as_of)::varchar from configured_loads as cl) as data_as_of,
from figures as fi, verdicts as v
