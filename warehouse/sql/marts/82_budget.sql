-- Budget vs actual (the optional `budgets` table, fed by the `budget` connector; docs/budget.md).
-- Only rows in the reporting currency count (closeboard never sums two currencies; the budget
-- adapter quarantines a row in another currency with its reason, connectors/adapters/budget.py),
-- and only for reported periods. With no budget rows for a period its lines have no budget: null, never 0.
--
-- budget_lines: the income statement's budget per period and line, both rollups, as statement_lines
--   numbers them (line_id); only the period column ('amount') has a budget:
--     account line   the account's own budget (rows with account_id on a revenue or expense account)
--     group line     the sum over the parent's subtree, as the actual (statement_line_accounts)
--     subtype line   the sum over the section's accounts of that subtype
--     total lines    total_revenue / total_cogs / total_opex: the section's account budgets;
--                    gross_profit = revenue - cogs, net_income = revenue - cogs - opex (null when a
--                    part has no budget). A KPI row (kpi revenue, cogs, opex, gross_profit,
--                    net_income) replaces the derived total of its line.
--   A line with no budget row under it has none (null).
--
-- mart_budget: per period and KPI (revenue, cogs, gross_profit, gross_margin_pct, opex, net_income,
--   net_burn) the budget (a KPI row, else the income statement's total; gross_margin_pct = budgeted
--   gross profit / budgeted revenue x 100; net_burn only from a KPI row), the actual (mart_kpis),
--   variance = actual - budget, variance_pct = variance / |budget| x 100 (2 places, half away from
--   zero; null when the budget is 0, and for gross_margin_pct, whose variance is in points), and
--   favourable: revenue, gross profit, gross margin and net income above budget are favourable,
--   cogs, opex and net burn above budget unfavourable; on budget is favourable. The open month is
--   month to date against a whole month's budget: its variance, variance_pct and favourable are null.

create or replace table budget_accounts as
select
    b.period as period,
    b.account_id as account_id,
    sum(b.amount)::decimal(18, 2) as budget,
from budgets as b
inner join erp_accounts as a
    on a.account_id = b.account_id
    and a.type in ('revenue', 'expense')
inner join run_context as rc
    on b.currency = rc.currency
semi join periods as p
    on p.period = b.period
group by all;


create or replace table budget_kpis as
select
    b.period as period,
    b.kpi as kpi,
    sum(b.amount)::decimal(18, 2) as budget,
from budgets as b
inner join run_context as rc
    on b.currency = rc.currency
semi join periods as p
    on p.period = b.period
where b.kpi is not null
group by all;


create or replace table statement_line_accounts as
-- The accounts behind each income-statement line (both rollups, as statement_lines numbers them),
-- with the sign the line gives them: rollup 'account' a parent's line is its subtree (statement_tree),
-- its "(posted directly)" line ('<account_id>/direct') and a leaf their own account; rollup 'subtype' the section's accounts of that subtype; the totals their
-- section, gross profit revenue - cost of revenue, net income revenue - cost of revenue - operating
-- expenses. The budget lines below add up these accounts' budgets; `closeboard explain` and the
-- page's click-to-explain list these accounts' journal lines.
with

items as (
    select i.item_id as account_id, i.section as section, i.subtype as subtype,
    from statement_items as i
    where i.section in ('revenue', 'cogs', 'opex')
),

tree as (
    select distinct t.item_id as item_id, t.ancestor_id as ancestor_id,
    from statement_tree as t
),

parents as (
    select distinct t.item_id as item_id,
    from statement_tree as t
    where t.has_children
),

totals as (
    select * from (
        values
            ('total_revenue', 'revenue', 1),
            ('total_cogs', 'cogs', 1),
            ('total_opex', 'opex', 1),
            ('gross_profit', 'revenue', 1),
            ('gross_profit', 'cogs', -1),
            ('net_income', 'revenue', 1),
            ('net_income', 'cogs', -1),
            ('net_income', 'opex', -1)
    ) as t(line_id, section, sign)
)

select u.rollup::varchar as rollup, u.line_id::varchar as line_id, u.account_id::varchar as account_id,
    u.sign::integer as sign, u.kind::varchar as kind,
from (
    select 'account' as rollup, t.ancestor_id as line_id, i.account_id as account_id, 1 as sign,
        'line' as kind,
    from items as i
    inner join tree as t
        on t.item_id = i.account_id
    union all
    select 'account', i.account_id || '/direct', i.account_id, 1, 'line',
    from items as i
    semi join parents as pa
        on pa.item_id = i.account_id
    union all
    select 'subtype', i.section || ':' || coalesce(i.subtype, ''), i.account_id, 1, 'line',
    from items as i
    union all
    select r.rollup, t.line_id, i.account_id, t.sign, 'total',
    from totals as t
    inner join items as i
        on i.section = t.section
    cross join (values ('account'), ('subtype')) as r(rollup)
) as u
order by rollup, line_id, account_id;


create or replace table budget_lines as
with

section_of as (
    select i.item_id as account_id, i.section as section,
    from statement_items as i
    where i.section in ('revenue', 'cogs', 'opex')
),

own as (
    select ba.period as period, ba.account_id as account_id, so.section as section, ba.budget as budget,
    from budget_accounts as ba
    inner join section_of as so
        on so.account_id = ba.account_id
),

-- account and subtype lines: the budgets of the accounts under the line
account_lines as (
    select o.period as period, la.rollup as rollup, la.line_id as line_id, sum(o.budget) as budget,
    from own as o
    inner join statement_line_accounts as la
        on la.account_id = o.account_id
        and la.kind = 'line'
    group by all
),

sections as (
    select
        o.period as period,
        sum(o.budget) filter (where o.section = 'revenue') as revenue,
        sum(o.budget) filter (where o.section = 'cogs') as cogs,
        sum(o.budget) filter (where o.section = 'opex') as opex,
    from own as o
    group by o.period
),

kpi_rows as (
    select
        bk.period as period,
        max(bk.budget) filter (where bk.kpi = 'revenue') as revenue,
        max(bk.budget) filter (where bk.kpi = 'cogs') as cogs,
        max(bk.budget) filter (where bk.kpi = 'opex') as opex,
        max(bk.budget) filter (where bk.kpi = 'gross_profit') as gross_profit,
        max(bk.budget) filter (where bk.kpi = 'net_income') as net_income,
    from budget_kpis as bk
    group by bk.period
),

totals as (
    select
        coalesce(s.period, k.period) as period,
        coalesce(k.revenue, s.revenue) as revenue,
        coalesce(k.cogs, s.cogs) as cogs,
        coalesce(k.opex, s.opex) as opex,
        k.gross_profit as gross_profit_kpi,
        k.net_income as net_income_kpi,
    from sections as s
    full outer join kpi_rows as k
        on k.period = s.period
),

total_lines as (
    select t.period, r.rollup, x.line_id, x.budget,
    from totals as t
    cross join (values ('account'), ('subtype')) as r(rollup)
    cross join lateral (
        values
            ('total_revenue', t.revenue),
            ('total_cogs', t.cogs),
            ('gross_profit', coalesce(t.gross_profit_kpi, t.revenue - t.cogs)),
            ('total_opex', t.opex),
            ('net_income', coalesce(t.net_income_kpi, t.revenue - t.cogs - t.opex))
    ) as x(line_id, budget)
)

select
    'income_statement' as statement,
    u.rollup::varchar as rollup,
    u.period::varchar as period,
    u.line_id::varchar as line_id,
    u.budget::decimal(18, 2) as budget,
from (
    select * from account_lines
    union all
    select * from total_lines
) as u
where u.budget is not null
order by u.period, u.rollup, u.line_id;


create or replace table mart_budget as
with

statement_totals as (
    select
        bl.period as period,
        max(bl.budget) filter (where bl.line_id = 'total_revenue') as revenue,
        max(bl.budget) filter (where bl.line_id = 'total_cogs') as cogs,
        max(bl.budget) filter (where bl.line_id = 'gross_profit') as gross_profit,
        max(bl.budget) filter (where bl.line_id = 'total_opex') as opex,
        max(bl.budget) filter (where bl.line_id = 'net_income') as net_income,
    from budget_lines as bl
    where bl.rollup = 'account'
    group by bl.period
),

budgeted as (
    select st.period as period, x.kpi as kpi, x.budget as budget,
    from statement_totals as st
    cross join lateral (
        values
            ('revenue', st.revenue),
            ('cogs', st.cogs),
            ('gross_profit', st.gross_profit),
            ('gross_margin_pct', div_round2(st.gross_profit * 100, st.revenue)),
            ('opex', st.opex),
            ('net_income', st.net_income)
    ) as x(kpi, budget)
    union all
    select bk.period, bk.kpi, bk.budget,
    from budget_kpis as bk
    where bk.kpi = 'net_burn'
),

rules as (
    select * from (
        values
            ('revenue', true, 1), ('cogs', false, 2), ('gross_profit', true, 3),
            ('gross_margin_pct', true, 4), ('opex', false, 5), ('net_income', true, 6),
            ('net_burn', false, 7)
    ) as r(kpi, higher_is_better, kpi_order)
),

compared as (
    select
        b.period as period,
        b.kpi as kpi,
        r.kpi_order as kpi_order,
        r.higher_is_better as higher_is_better,
        b.budget as budget,
        k.value as actual,
        case when not p.is_open then k.value - b.budget end as variance,
    from budgeted as b
    inner join rules as r
        on r.kpi = b.kpi
    inner join periods as p
        on p.period = b.period
    left join mart_kpis as k
        on k.period = b.period
        and k.kpi = b.kpi
    where b.budget is not null
)

select
    c.period::varchar as period,
    c.kpi::varchar as kpi,
    c.budget::decimal(18, 2) as budget,
    c.actual::decimal(18, 2) as actual,
    c.variance::decimal(18, 2) as variance,
    case when c.kpi <> 'gross_margin_pct' then div_round2(c.variance * 100, abs(c.budget)) end as variance_pct,
    case
        when c.variance is null then null
        when c.higher_is_better then c.variance >= 0
        else c.variance <= 0
    end as favourable,
    c.higher_is_better as higher_is_better,
from compared as c
order by c.period, c.kpi_order;
