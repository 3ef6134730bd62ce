-- Every KPI of every reported period (long format), exactly as mart_kpis holds it. Closed periods
-- are replaced by their last closed snapshot's figures by the renderer (kpi_query in sections.yaml).
select
    k.period as period,
    k.kpi as kpi,
    k.value as value,
from mart_kpis as k
order by k.period, k.kpi
