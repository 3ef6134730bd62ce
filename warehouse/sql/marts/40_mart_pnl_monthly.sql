-- mart_pnl_monthly: the monthly P&L by account, revenue positive (credit - debit) and expenses
-- positive (debit - credit). Dense: every revenue and expense account appears in every reported
-- period, with 0.00 where it had no postings, so charts and month-over-month columns line up.

create or replace table mart_pnl_monthly as
with

pnl_accounts as (
    select * from account_balances as ab
    where ab.type in ('revenue', 'expense')
),

final as (
    select
        pa.period as period,
        pa.account_id as account_id,
        pa.account_name as account_name,
        pa.type as type,
        pa.subtype as subtype,
        (
            case
                when pa.type = 'revenue' then pa.credit - pa.debit
                else pa.debit - pa.credit
            end
        )::decimal(18, 2) as amount,
    from pnl_accounts as pa
)

select * from final
order by period, case type when 'revenue' then 0 else 1 end, account_id
