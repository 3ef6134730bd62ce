-- A table macro for the section queries (temp: it lives in the rendering connection only); it needs
-- the marts' div_round2 (warehouse/sql/marts/00_functions.sql), which the renderer loads first
-- (warehouse.models.load_functions).
--
-- kpis_through(m_start, m_through): the ledger KPIs of the month that starts on m_start, counting
--   only what is posted from m_start through m_through (balances: every posting up to m_through),
--   by mart_kpis's rules (warehouse/sql/marts/60_mart_kpis.sql): revenue, cogs, opex,
--   gross_margin_pct, net_income, cash, ar, ap, net_burn, runway_months (cash / the mean burn of the
--   two months before and these days), dso and dpo (over the days counted). Through the month's last
--   day it gives mart_kpis's figure for every one of them (tests/reports/test_page_honest.py holds it
--   to that); the page uses it to compare the open month with the same days of the month before.
create or replace temp macro kpis_through(m_start, m_through) as table
with

accounts as (
    select a.account_id as account_id, a.type as type, a.subtype as subtype,
    from erp_accounts as a
),

-- every account's debit and credit up to m_through, and within the month's days: balances need every
-- posting, the P&L only the month's (one aggregate per account, not every line carried through)
per_account as (
    select
        jl.account_id as account_id,
        sum(jl.debit - jl.credit) as balance_dc,
        sum(jl.debit - jl.credit) filter (where jl.posted_date >= m_start) as month_dc,
    from erp_journal_lines as jl
    where jl.posted_date <= m_through
    group by jl.account_id
),

-- the cash lines the burn counts (from two months before m_start), and of their entries those that
-- also post to equity or debt (funding and loans, not burn)
cash_lines as (
    select jl.entry_id as entry_id, jl.posted_date as posted_date, jl.debit as debit, jl.credit as credit,
    from erp_journal_lines as jl
    inner join accounts as a
        on a.account_id = jl.account_id
    where a.subtype = 'cash'
        and jl.posted_date >= (m_start::date - interval 2 month)
        and jl.posted_date <= m_through
),

financing_entries as (
    select distinct jl.entry_id as entry_id
    from erp_journal_lines as jl
    inner join accounts as a
        on a.account_id = jl.account_id
    semi join cash_lines as cl
        on cl.entry_id = jl.entry_id
    where jl.posted_date <= m_through
        and (a.type = 'equity' or (a.type = 'liability' and a.subtype = 'debt'))
),

burn as (
    select
        sum(cl.credit - cl.debit) filter (where cl.posted_date >= m_start) as net_burn,
        sum(cl.credit - cl.debit) as net_burn_3m,
    from cash_lines as cl
    anti join financing_entries as fe
        on fe.entry_id = cl.entry_id
),

figures as (
    select
        coalesce(sum(-pa.month_dc) filter (where a.type = 'revenue'), 0) as revenue,
        coalesce(sum(pa.month_dc) filter (where a.type = 'expense' and a.subtype = 'cogs'), 0) as cogs,
        coalesce(sum(pa.month_dc) filter (
            where a.type = 'expense' and a.subtype is distinct from 'cogs'), 0) as opex,
        coalesce(sum(pa.balance_dc) filter (where a.subtype = 'cash'), 0) as cash,
        coalesce(sum(pa.balance_dc) filter (where a.subtype = 'ar'), 0) as ar,
        coalesce(sum(-pa.balance_dc) filter (where a.subtype = 'ap'), 0) as ap,
        coalesce(any_value(b.net_burn), 0) as net_burn,
        coalesce(any_value(b.net_burn_3m), 0) as net_burn_3m,
    from per_account as pa
    inner join accounts as a
        on a.account_id = pa.account_id
    cross join burn as b
),

wide as (
    select
        f.revenue::decimal(18, 2) as revenue,
        f.cogs::decimal(18, 2) as cogs,
        case when f.revenue <> 0 then div_round2((f.revenue - f.cogs) * 100, f.revenue) end as gross_margin_pct,
        f.opex::decimal(18, 2) as opex,
        (f.revenue - f.cogs - f.opex)::decimal(18, 2) as net_income,
        f.cash::decimal(18, 2) as cash,
        f.ar::decimal(18, 2) as ar,
        f.ap::decimal(18, 2) as ap,
        f.net_burn::decimal(18, 2) as net_burn,
        case when f.net_burn_3m > 0 then div_round2(f.cash * 3, f.net_burn_3m) end as runway_months,
        case when f.revenue > 0 then div_round2(f.ar * f.days, f.revenue) end as dso,
        case when f.cogs + f.opex > 0 then div_round2(f.ap * f.days, f.cogs + f.opex) end as dpo,
    from (select f.*, (m_through::date - m_start::date + 1) as days from figures as f) as f
)

select w.kpi as kpi, w.value::decimal(18, 2) as value
from wide
unpivot include nulls (
    value for kpi in (
        revenue, cogs, gross_margin_pct, opex, net_income, cash, ar, ap, net_burn, runway_months, dso, dpo
    )
) as w;
