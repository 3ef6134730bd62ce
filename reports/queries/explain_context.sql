-- What `closeboard explain` can explain: every reported period (oldest first, the open month
-- flagged) and the reporting currency.
select
    p.period as period,
    p.is_open as is_open,
    rc.currency as currency,
from periods as p
cross join run_context as rc
order by p.period
