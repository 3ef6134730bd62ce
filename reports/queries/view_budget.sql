-- A view tile's "vs budget" (reports/views.py, `budget: KPI`): per period and KPI the budget of
-- mart_budget (82_budget.sql: only KPIs budgeted that month; no row is no budget, never 0.00), which
-- way is favourable, and whether the month is open (month to date against a whole month: no variance).
select
    b.period as period,
    b.kpi as kpi,
    b.budget as budget,
    b.higher_is_better as higher_is_better,
    p.is_open as is_open,
from mart_budget as b
inner join periods as p
    on p.period = b.period
order by b.period, b.kpi
