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

lines as (
    select
        jl.entry_id as entry_id,
        jl.posted_date as posted_date,
        jl.debit as debit,
        jl.credit as credit,
        a.type as type,
        a.subtype as subtype,
    from erp_journal_lines as jl
    inner join erp_accounts as a
        on a.account_id = jl.account_id
    where jl.posted_date <= m_through
),

financing_entries as (
    select distinct l.entry_id as entry_id
    from lines as l
    where l.type = 'equity'
        or (l.type = 'liability' and l.subtype = 'debt')
),

figures as (
    select
        coalesce(sum(l.credit - l.debit) filter (
            where l.posted_date >= m_start and l.type = 'revenue'), 0) as revenue,
        coalesce(sum(l.debit - l.credit) filter (
            where l.posted_date >= m_start and l.type = 'expense' and l.subtype = 'cogs'), 0) as cogs,
        coalesce(sum(l.debit - l.credit) filter (
            where l.posted_date >= m_start and l.type = 'expense'
                and l.subtype is distinct from 'cogs'), 0) as opex,
        coalesce(sum(l.debit - l.credit) filter (where l.subtype = 'cash'), 0) as cash,
        coalesce(sum(l.debit - l.credit) filter (where l.subtype = 'ar'), 0) as ar,
        coalesce(sum(l.credit - l.debit) filter (where l.subtype = 'ap'), 0) as ap,
        coalesce(sum(l.credit - l.debit) filter (
            where l.posted_date >= m_start and l.subtype = 'cash'
                and l.entry_id not in (select fe.entry_id from financing_entries as fe)), 0) as net_burn,
        coalesce(sum(l.credit - l.debit) filter (
            where l.posted_date >= (m_start::date - interval 2 month) and l.subtype = 'cash'
                and l.entry_id not in (select fe.entry_id from financing_entries as fe)), 0) as net_burn_3m,
    from lines as l
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
