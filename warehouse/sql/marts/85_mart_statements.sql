-- mart_statements: the income statement, balance sheet and cash-flow statement of every reported
-- period, one row per line (statement_lines and cash_flow_lines, whose headers give each line's
-- rule), with four columns of exact DECIMAL(18,2) figures (statement_windows):
--   amount       the period (a balance-sheet line: the month-end balance)
--   prior_month  the month before
--   prior_year   the same month a year before
--   ytd          fiscal year to date (a balance-sheet line: the change since the year's opening)
-- Null means no data: the column's months start before the ledger's first month. A heading line is
-- null throughout.
--   statement  income_statement | balance_sheet | cash_flow
--   rollup     account (accounts nested by parent_id) | subtype (one line per type/subtype)
--   kind       group | account | subtype | total | line | heading | balance | check
--   line_order the line's place in its statement and rollup, from 1
-- Budget (income statement only, where the `budgets` table budgets the line: 82_budget.sql):
--   budget        the period's budget for the line; null where there is none (never 0.00)
--   variance      amount - budget (null in the open month, which is month to date)
--   variance_pct  variance / |budget| x 100, 2 places half away from zero (null when budget is 0)
--   favourable    revenue, gross profit and net income above budget, cost of revenue and operating
--                 expenses below it (on budget counts as favourable)

create or replace table mart_statements as
with

unioned as (
    select * from statement_lines
    union all
    select * from cash_flow_lines
),

pivoted as (
    select
        u.statement as statement,
        u.rollup as rollup,
        u.period as period,
        u.line_id as line_id,
        any_value(u.label) as label,
        any_value(u.kind) as kind,
        any_value(u.depth) as depth,
        any_value(u.sort_key) as sort_key,
        any_value(u.section) as section,
        max(u.value) filter (where u.col = 'amount') as amount,
        max(u.value) filter (where u.col = 'prior_month') as prior_month,
        max(u.value) filter (where u.col = 'prior_year') as prior_year,
        max(u.value) filter (where u.col = 'ytd') as ytd,
    from unioned as u
    group by u.statement, u.rollup, u.period, u.line_id
)

select
    p.statement::varchar as statement,
    p.rollup::varchar as rollup,
    p.period::varchar as period,
    (
        row_number() over (partition by p.statement, p.rollup, p.period order by p.sort_key, p.line_id)
    )::integer as line_order,
    p.line_id::varchar as line_id,
    p.label::varchar as label,
    p.kind::varchar as kind,
    p.depth::integer as depth,
    p.section::varchar as section,
    p.amount::decimal(18, 2) as amount,
    p.prior_month::decimal(18, 2) as prior_month,
    p.prior_year::decimal(18, 2) as prior_year,
    p.ytd::decimal(18, 2) as ytd,
    bl.budget::decimal(18, 2) as budget,
    v.variance::decimal(18, 2) as variance,
    div_round2(v.variance * 100, abs(bl.budget)) as variance_pct,
    case
        when v.variance is null then null
        when p.section in ('cogs', 'opex') then v.variance <= 0
        else v.variance >= 0
    end as favourable,
from pivoted as p
left join budget_lines as bl
    on bl.statement = p.statement
    and bl.rollup = p.rollup
    and bl.period = p.period
    and bl.line_id = p.line_id
left join periods as pe
    on pe.period = p.period
cross join lateral (
    select case when not pe.is_open then p.amount - bl.budget end as variance
) as v
order by
    p.period,
    case p.statement when 'income_statement' then 1 when 'balance_sheet' then 2 else 3 end,
    p.rollup,
    line_order
