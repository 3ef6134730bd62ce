-- The open month's comparison bases: the month before (mom) and the same month a year before (yoy),
-- each over the same number of days (its days 1..N, N = the open month's days elapsed, at most that
-- month's own length); every ledger KPI by mart_kpis's rules (kpis_through in _kpis_through.sql), computed
-- here from the journal, never in the page from rounded figures. No rows when no month is open.
with

open_month as (
    select
        p.period as period,
        p.period_start as period_start,
        p.days as days,
    from periods as p
    where p.is_open
),

bases as (
    select
        om.period as period,
        c.compare as compare,
        (om.period_start - to_months(c.months))::date as base_start,
        least(
            (om.period_start - to_months(c.months))::date + (om.days - 1),
            last_day((om.period_start - to_months(c.months))::date)
        ) as base_through,
    from open_month as om
    cross join (values ('mom', 1), ('yoy', 12)) as c(compare, months)
),

mom as (
    select b.period, b.compare, b.base_start, b.base_through, k.kpi, k.value
    from bases as b
    cross join kpis_through(
        (select x.base_start from bases as x where x.compare = 'mom'),
        (select x.base_through from bases as x where x.compare = 'mom')
    ) as k
    where b.compare = 'mom'
),

yoy as (
    select b.period, b.compare, b.base_start, b.base_through, k.kpi, k.value
    from bases as b
    cross join kpis_through(
        (select x.base_start from bases as x where x.compare = 'yoy'),
        (select x.base_through from bases as x where x.compare = 'yoy')
    ) as k
    where b.compare = 'yoy'
),

both_ as (
    select * from mom
    union all
    select * from yoy
)

select
    b.period as period,
    b.compare as compare,
    strftime(b.base_start, '%Y-%m') as compared_period,
    b.base_through as compared_through,
    b.kpi as kpi,
    b.value as value,
from both_ as b
order by b.compare, b.kpi
