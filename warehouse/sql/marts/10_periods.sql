-- periods: the reported months, first_period through the month containing as_of (the open month),
-- as calendar() (00_functions.sql) defines them. days is the length of the month, or for the open
-- month the days elapsed (as_of's day of month); fiscal_year_start is the first day of the fiscal
-- year the month belongs to.

create or replace table periods as
select
    c.period as period,
    c.period_start as period_start,
    c.period_end as period_end,
    c.days as days,
    c.is_open as is_open,
    c.fiscal_year_start as fiscal_year_start,
from calendar() as c
order by c.period
