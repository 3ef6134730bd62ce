-- The reported periods, oldest first: the period selector's choices.
select
    p.period as period,
    p.period_end as period_end,
    p.days as days,
    p.is_open as is_open,
from periods as p
order by p.period
