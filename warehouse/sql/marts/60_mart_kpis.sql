-- mart_kpis: one row per reported period and KPI (long format), value DECIMAL(18,2), null where
-- undefined. Definitions are DESIGN "The read side"; in short:
--   revenue, cogs, opex   the period's P&L (revenue credit - debit; expenses debit - credit,
--                         cogs = subtype cogs, opex = every other expense account)
--   gross_profit          revenue - cogs
--   gross_margin_pct      gross_profit / revenue x 100, null when revenue = 0
--   net_income            revenue - cogs - opex
--   cash, ar, ap          month-end GL balances of the cash, ar, ap subtype accounts in the
--                         normal direction (cash, ar debit - credit; ap credit - debit)
--   net_burn              credit - debit on cash accounts in the period, leaving out whole entries
--                         that also post to an equity account or a liability of subtype debt
--   runway_months         cash / mean net_burn of this and the two previous months (months
--                         before first_period come from the ledger; a month without cash
--                         postings burns 0); null when that mean <= 0
--   dso, dpo              ar / revenue x days, ap / (cogs + opex) x days (days elapsed in the
--                         open month); null when the divisor <= 0
--   pipeline_open         opportunities not closed, as of the refresh: the same on every period
--   bookings_won          won opportunities with close_date in the period
-- Opportunities count only in the company currency (run_context.currency): closeboard never sums
-- two currencies. Ratios are exact quotients rounded half away from zero (div_round2).

create or replace table mart_kpis as
with

settings as (
    select
        any_value(rc.currency) as currency,
        min(p.period_start) as first_month,
        max(p.period_start) as open_month,
    from periods as p
    cross join run_context as rc
),

period_figures as (
    select
        ab.period as period,
        sum(case when ab.type = 'revenue' then ab.credit - ab.debit else 0 end) as revenue,
        sum(
            case
                when ab.type = 'expense' and ab.subtype = 'cogs' then ab.debit - ab.credit
                else 0
            end
        ) as cogs,
        sum(
            case
                when ab.type = 'expense' and ab.subtype is distinct from 'cogs'
                    then ab.debit - ab.credit
                else 0
            end
        ) as opex,
        sum(case when ab.subtype = 'cash' then ab.balance_dc else 0 end) as cash,
        sum(case when ab.subtype = 'ar' then ab.balance_dc else 0 end) as ar,
        sum(case when ab.subtype = 'ap' then -ab.balance_dc else 0 end) as ap,
    from account_balances as ab
    group by ab.period
),

-- entries that move cash against equity or debt: funding and loans, not burn
financing_entries as (
    select distinct
        jl.entry_id as entry_id,
    from erp_journal_lines as jl
    inner join erp_accounts as a
        on a.account_id = jl.account_id
    where a.type = 'equity'
        or (a.type = 'liability' and a.subtype = 'debt')
),

cash_accounts as (
    select a.account_id as account_id
    from erp_accounts as a
    where a.subtype = 'cash'
),

burn_by_month as (
    select
        strftime(date_trunc('month', jl.posted_date), '%Y-%m') as period,
        sum(jl.credit - jl.debit) as net_burn,
    from erp_journal_lines as jl
    semi join cash_accounts as ca
        on ca.account_id = jl.account_id
    anti join financing_entries as fe
        on fe.entry_id = jl.entry_id
    group by all
),

-- the reported months plus the two before first_period, for the three-month mean
burn_months as (
    select
        strftime(
            unnest(
                generate_series(s.first_month - interval 2 month, s.open_month, interval 1 month)
            ),
            '%Y-%m'
        ) as period,
    from settings as s
),

burn_trailing as (
    select
        bm.period as period,
        coalesce(bbm.net_burn, 0) as net_burn,
        sum(coalesce(bbm.net_burn, 0)) over (
            order by bm.period
            rows between 2 preceding and current row
        ) as net_burn_3m,
    from burn_months as bm
    left join burn_by_month as bbm
        on bbm.period = bm.period
),

opportunities as (
    select o.*
    from crm_opportunities as o
    semi join settings as s
        on s.currency = o.currency
),

pipeline as (
    select
        coalesce(sum(o.amount) filter (where not o.is_closed), 0) as pipeline_open,
    from opportunities as o
),

bookings as (
    select
        strftime(o.close_date, '%Y-%m') as period,
        sum(o.amount) as bookings_won,
    from opportunities as o
    where o.is_won
        and o.close_date is not null
    group by all
),

figures as (
    select
        p.period as period,
        p.days as days,
        coalesce(pf.revenue, 0) as revenue,
        coalesce(pf.cogs, 0) as cogs,
        coalesce(pf.opex, 0) as opex,
        coalesce(pf.cash, 0) as cash,
        coalesce(pf.ar, 0) as ar,
        coalesce(pf.ap, 0) as ap,
        bt.net_burn as net_burn,
        bt.net_burn_3m as net_burn_3m,
        pl.pipeline_open as pipeline_open,
        coalesce(bk.bookings_won, 0) as bookings_won,
    from periods as p
    cross join pipeline as pl
    left join period_figures as pf
        on pf.period = p.period
    left join burn_trailing as bt
        on bt.period = p.period
    left join bookings as bk
        on bk.period = p.period
),

wide as (
    select
        f.period as period,
        f.revenue::decimal(18, 2) as revenue,
        f.cogs::decimal(18, 2) as cogs,
        (f.revenue - f.cogs)::decimal(18, 2) as gross_profit,
        case
            when f.revenue <> 0 then div_round2((f.revenue - f.cogs) * 100, f.revenue)
        end as gross_margin_pct,
        f.opex::decimal(18, 2) as opex,
        (f.revenue - f.cogs - f.opex)::decimal(18, 2) as net_income,
        f.cash::decimal(18, 2) as cash,
        f.ar::decimal(18, 2) as ar,
        f.ap::decimal(18, 2) as ap,
        f.net_burn::decimal(18, 2) as net_burn,
        case
            when f.net_burn_3m > 0 then div_round2(f.cash * 3, f.net_burn_3m)
        end as runway_months,
        case
            when f.revenue > 0 then div_round2(f.ar * f.days, f.revenue)
        end as dso,
        case
            when f.cogs + f.opex > 0 then div_round2(f.ap * f.days, f.cogs + f.opex)
        end as dpo,
        f.pipeline_open::decimal(18, 2) as pipeline_open,
        f.bookings_won::decimal(18, 2) as bookings_won,
    from figures as f
),

long as (
    select w.period as period, w.kpi as kpi, w.value as value
    from wide
    unpivot include nulls (
        value for kpi in (
            revenue,
            cogs,
            gross_profit,
            gross_margin_pct,
            opex,
            net_income,
            cash,
            ar,
            ap,
            net_burn,
            runway_months,
            dso,
            dpo,
            pipeline_open,
            bookings_won,
        )
    ) as w
),

kpi_order as (
    select * from (
        values
            ('revenue', 1),
            ('cogs', 2),
            ('gross_profit', 3),
            ('gross_margin_pct', 4),
            ('opex', 5),
            ('net_income', 6),
            ('cash', 7),
            ('ar', 8),
            ('ap', 9),
            ('net_burn', 10),
            ('runway_months', 11),
            ('dso', 12),
            ('dpo', 13),
            ('pipeline_open', 14),
            ('bookings_won', 15)
    ) as ko(kpi, kpi_order)
)

select
    l.period::varchar as period,
    l.kpi::varchar as kpi,
    l.value::decimal(18, 2) as value,
from long as l
inner join kpi_order as ko
    on ko.kpi = l.kpi
order by l.period, ko.kpi_order
