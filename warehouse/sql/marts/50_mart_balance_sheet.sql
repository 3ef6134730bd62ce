-- mart_balance_sheet: month-end balances of every asset, liability and equity account (dense, 0.00
-- before an account's first posting), in the account's normal direction: assets debit - credit,
-- liabilities and equity credit - debit. Two computed equity rows per period make it balance:
--   _retained_earnings  profit (revenue - expense) posted before the period's fiscal-year start
--   _current_earnings   profit from the fiscal-year start to the month-end
-- so sum(asset) = sum(liability) + sum(equity) at every month-end when the ledger balances. Closing
-- entries that move profit into a retained-earnings account leave that sum unchanged.
-- Rebuilt whole at every refresh, like mart_pnl_monthly (40_mart_pnl_monthly.sql says why).

create or replace table mart_balance_sheet as
with

balance_accounts as (
    select
        ab.period as period,
        ab.account_id as account_id,
        ab.account_name as account_name,
        ab.type as type,
        (
            case when ab.type = 'asset' then ab.balance_dc else -ab.balance_dc end
        )::decimal(18, 2) as balance,
        case ab.type when 'asset' then 0 when 'liability' then 1 else 2 end as type_order,
    from account_balances as ab
    where ab.type in ('asset', 'liability', 'equity')
),

profit_by_month as (
    select
        lm.period as period,
        sum(lm.credit - lm.debit) as profit,
    from ledger_monthly as lm
    inner join erp_accounts as a
        on a.account_id = lm.account_id
    where a.type in ('revenue', 'expense')
    group by all
),

earnings as (
    select
        p.period as period,
        coalesce(
            sum(pbm.profit) filter (where pbm.period < strftime(p.fiscal_year_start, '%Y-%m')),
            0
        ) as retained_earnings,
        coalesce(
            sum(pbm.profit) filter (where pbm.period >= strftime(p.fiscal_year_start, '%Y-%m')),
            0
        ) as current_earnings,
    from periods as p
    left join profit_by_month as pbm
        on pbm.period <= p.period
    group by p.period
),

earnings_rows as (
    select
        e.period as period,
        '_retained_earnings' as account_id,
        'Retained earnings' as account_name,
        'equity' as type,
        e.retained_earnings::decimal(18, 2) as balance,
        3 as type_order,
    from earnings as e
    union all
    select
        e.period as period,
        '_current_earnings' as account_id,
        'Current-year earnings' as account_name,
        'equity' as type,
        e.current_earnings::decimal(18, 2) as balance,
        4 as type_order,
    from earnings as e
),

unioned as (
    select * from balance_accounts
    union all
    select * from earnings_rows
)

select
    u.period as period,
    u.account_id as account_id,
    u.account_name as account_name,
    u.type as type,
    u.balance as balance,
from unioned as u
order by u.period, u.type_order, u.account_id
