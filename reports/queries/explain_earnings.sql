-- The computed earnings rows of the balance sheet (mart_balance_sheet), per period in $periods and
-- revenue or expense account, credit - debit: `current` from the fiscal year's first day through the
-- month-end (current-year earnings), `retained` before the fiscal year (retained earnings); with
-- the figures the balance sheet shows for both rows.
with

-- each account's debit and credit per posting day: what the rows add up (a few rows per account and
-- day instead of every line once per period)
daily as (
    select
        jl.account_id as account_id,
        jl.posted_date as posted_date,
        sum(jl.debit) as debit,
        sum(jl.credit) as credit,
    from erp_journal_lines as jl
    group by all
)

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
left join daily as jl
    on jl.account_id = a.account_id
    and jl.posted_date <= p.period_end
where p.period in (select unnest($periods::varchar[]))
    and a.type in ('revenue', 'expense')
group by all
order by 1, 2
