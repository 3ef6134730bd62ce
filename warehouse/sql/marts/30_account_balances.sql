-- account_balances: every account in erp_accounts x every reported period (a dense grid), with the
-- month's activity and the month-end balance. Balances are debit-positive (debit - credit) and
-- include every posting before first_period (the opening balance); the marts turn them into each
-- account's normal direction.

create or replace table account_balances as
with

first_period as (
    select min(p.period) as period from periods as p
),

opening as (
    select
        lm.account_id as account_id,
        sum(lm.debit - lm.credit) as opening_dc,
    from ledger_monthly as lm
    cross join first_period as fp
    where lm.period < fp.period
    group by all
),

grid as (
    select
        p.period as period,
        a.account_id as account_id,
        a.name as account_name,
        a.type as type,
        a.subtype as subtype,
    from periods as p
    cross join erp_accounts as a
),

activity as (
    select
        g.period as period,
        g.account_id as account_id,
        g.account_name as account_name,
        g.type as type,
        g.subtype as subtype,
        coalesce(lm.debit, 0) as debit,
        coalesce(lm.credit, 0) as credit,
        coalesce(o.opening_dc, 0) as opening_dc,
    from grid as g
    left join ledger_monthly as lm
        on lm.period = g.period
        and lm.account_id = g.account_id
    left join opening as o
        on o.account_id = g.account_id
),

final as (
    select
        a.period as period,
        a.account_id as account_id,
        a.account_name as account_name,
        a.type as type,
        a.subtype as subtype,
        a.debit::decimal(18, 2) as debit,
        a.credit::decimal(18, 2) as credit,
        (a.debit - a.credit)::decimal(18, 2) as net_dc,
        (
            a.opening_dc
            + sum(a.debit - a.credit) over (
                partition by a.account_id
                order by a.period
                rows between unbounded preceding and current row
            )
        )::decimal(18, 2) as balance_dc,
    from activity as a
)

select * from final
order by period, account_id
