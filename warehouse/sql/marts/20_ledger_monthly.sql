-- ledger_monthly: the journal aggregated once per month and account, over the whole ledger
-- (months before first_period and after as_of included; the same shape as the ERP's
-- get_ledger_summary). Every later model reads balances from here, not from the lines.
-- Lines on accounts missing from erp_accounts are kept here (R1 reports them) and drop out of the
-- marts, which join to erp_accounts.

create or replace table ledger_monthly as
with

lines_by_month as (
    select
        date_trunc('month', jl.posted_date)::date as period_start,
        jl.account_id as account_id,
        count(*) as lines,
        sum(jl.debit) as debit,
        sum(jl.credit) as credit,
    from erp_journal_lines as jl
    group by all
),

final as (
    select
        strftime(lm.period_start, '%Y-%m') as period,
        lm.account_id as account_id,
        lm.lines::bigint as lines,
        lm.debit::decimal(18, 2) as debit,
        lm.credit::decimal(18, 2) as credit,
    from lines_by_month as lm
)

select * from final
order by period, account_id
