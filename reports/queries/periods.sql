-- The reported periods, oldest first: the period selector's choices. `through` is the last day the
-- figures count (the open month: the run's as-of date); `ledger_lines` the journal lines posted in
-- the month on known accounts: a month without any is "no data" on the page, never 0.00.
select
    p.period as period,
    p.period_end as period_end,
    p.days as days,
    p.is_open as is_open,
    (p.period_start + (p.days - 1))::date as through,
    strftime(p.fiscal_year_start, '%Y-%m') as fiscal_year_start,
    coalesce((
        select sum(lm.lines)
        from ledger_monthly as lm
        semi join erp_accounts as a
            on a.account_id = lm.account_id
        where lm.period = p.period
    ), 0)::bigint as ledger_lines,
from periods as p
order by p.period
