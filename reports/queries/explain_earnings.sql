-- The computed earnings rows of the balance sheet (mart_balance_sheet), per period in $periods and
-- revenue or expense account, credit - debit: `current` from the fiscal year's first day through the
-- month-end (current-year earnings), `retained` before the fiscal year (retained earnings); with
-- the figures the balance sheet shows for both rows. Added up from account_days() (each account's
-- debit and credit per posting day): warehouse.models.load_functions must have run on the connection.
select
    p.period as period,
    a.account_id as account_id,
    coalesce(sum(jl.credit - jl.debit) filter (where jl.posted_date >= fy.start), 0)::decimal(18, 2) as current,
    coalesce(sum(jl.credit - jl.debit) filter (where jl.posted_date < fy.start), 0)::decimal(18, 2) as retained,
from periods as p
cross join run_context as rc
cross join lateral (
    select make_date(
        year(p.period_start) - (case when month(p.period_start) < rc.fiscal_year_start_month then 1 else 0 end),
        rc.fiscal_year_start_month, 1
    ) as start
) as fy
cross join erp_accounts as a
left join account_days() as jl
    on jl.account_id = a.account_id
    and jl.posted_date <= p.period_end
where p.period in (select unnest($periods::varchar[]))
    and a.type in ('revenue', 'expense')
group by all
order by 1, 2
