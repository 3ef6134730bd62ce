-- `closeboard mcp` get_kpis: one period's KPIs as it reports them (the reported_kpis view: a closed
-- period's last closed snapshot, else mart_kpis), as decimal text; figures_from and version say
-- which.
select
    k.kpi as kpi,
    k.value::varchar as value,
    k.figures_from as figures_from,
    k.version as version,
from reported_kpis as k
where k.period = $period
order by k.kpi
