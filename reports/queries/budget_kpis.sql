-- Budget vs actual per period and KPI (mart_budget, 82_budget.sql) for the tiles' "vs budget":
-- only KPIs with a budget that month; variance = actual - budget; favourable says which colour.
select
    b.period as period,
    b.kpi as kpi,
    b.budget as budget,
    b.variance as variance,
    b.variance_pct as variance_pct,
    b.favourable as favourable,
from mart_budget as b
order by b.period, b.kpi
