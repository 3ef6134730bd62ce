-- Every KPI of every reported period (long format), as the period reports it: the warehouse's
-- reported_kpis view (warehouse/sql/marts/90_reported_kpis.sql), where a closed period has its last
-- closed snapshot's figures and every other period mart_kpis's.
select
    k.period as period,
    k.kpi as kpi,
    k.value as value,
from reported_kpis as k
order by k.period, k.kpi
