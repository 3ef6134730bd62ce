-- `closeboard mcp` get_kpis: one period's KPIs exactly as mart_kpis holds them, as decimal text.
select
    k.kpi as kpi,
    k.value::varchar as value,
from mart_kpis as k
where k.period = $period
order by k.kpi
