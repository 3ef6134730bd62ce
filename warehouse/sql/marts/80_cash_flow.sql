-- cash_flow_lines: the cash-flow statement by the indirect method, as long rows (period x column x
-- line) in statement_lines' shape; pivoted into mart_statements by 85_mart_statements.sql.
--
-- Every account's cash effect over a column's window is minus its debit-positive change; since every
-- entry balances, those effects over all non-cash accounts sum to the change in cash. Each account
-- falls in one class by type and subtype (statement_items.cash_flow_class):
--   net_income  revenue and expense accounts: together, net income (the income statement's figure)
--   operating   noncash    asset subtypes accumulated_depreciation, accumulated_amortization: the
--                          non-cash charge added back
--               ar         subtype ar: (increase) / decrease in receivables
--               ap         subtype ap: increase / (decrease) in payables
--               other_wc   every other asset or liability (accrued, deferred revenue, prepaid, no
--                          subtype, ...): other current assets and liabilities
--   investing   asset subtypes fixed_asset, intangible_asset, investment, long_term_investment
--   financing   liability subtype debt, and every equity account (share capital, retained earnings:
--               a dividend or an entry straight to equity); the computed earnings rows are net income
--   cash        subtype cash: the result, not a line
-- Lines: net income; per account (rollup 'account', accounts with at least one posting) or per class
-- and subtype (rollup 'subtype'); subtotals per activity; net change in cash; cash at the beginning
-- and the end of the window (month-end balances of the cash accounts); and `cash_difference` = net
-- change - (end - beginning), 0.00 whenever every ledger line's account is in erp_accounts.

create or replace table cash_flow_lines as
with

effects as (
    select
        v.period as period,
        v.col as col,
        i.item_id as item_id,
        i.name as name,
        i.subtype as subtype,
        i.cash_flow_class as class,
        -i.normal_sign * v.change as value,
    from statement_values as v
    inner join statement_items as i
        on i.item_id = v.item_id
    where i.cash_flow_class is not null
),

cash as (
    select
        e.period as period,
        e.col as col,
        -sum(e.value) as change,
        sum(v.balance) as cash_end,
    from effects as e
    inner join statement_values as v
        on v.period = e.period
        and v.col = e.col
        and v.item_id = e.item_id
    where e.class = 'cash'
    group by all
),

classes as (
    select * from (
        values
            ('noncash', '1|2', 1),
            ('ar', '1|4', 2),
            ('ap', '1|5', 2),
            ('other_wc', '1|6', 2),
            ('investing', '2|1', 1),
            ('financing', '3|1', 1)
    ) as c(class, sort_key, depth)
),

posted as (
    select distinct t.item_id as item_id,
    from statement_tree as t
    where t.has_postings
),

account_lines as (
    select
        e.period as period,
        e.col as col,
        e.item_id as line_id,
        case when e.class = 'noncash' then e.name || ' (non-cash)' else e.name end as label,
        'account' as kind,
        c.depth as depth,
        c.sort_key || '|' || e.item_id as sort_key,
        e.class as section,
        e.value as value,
    from effects as e
    inner join classes as c
        on c.class = e.class
    semi join posted as p
        on p.item_id = e.item_id
),

subtype_lines as (
    select
        e.period as period,
        e.col as col,
        e.class || ':' || coalesce(e.subtype, '') as line_id,
        subtype_label(e.subtype) as label,
        'subtype' as kind,
        c.depth as depth,
        c.sort_key || '|' || coalesce(e.subtype, '}') as sort_key,
        e.class as section,
        sum(e.value) as value,
    from effects as e
    inner join classes as c
        on c.class = e.class
    group by all
),

by_class as (
    select
        e.period as period,
        e.col as col,
        sum(e.value) filter (where e.class = 'net_income') as net_income,
        sum(e.value) filter (where e.class in ('net_income', 'noncash', 'ar', 'ap', 'other_wc'))
            as operating,
        coalesce(sum(e.value) filter (where e.class = 'investing'), 0) as investing,
        coalesce(sum(e.value) filter (where e.class = 'financing'), 0) as financing,
    from effects as e
    group by all
),

fixed_lines as (
    select
        b.period as period,
        b.col as col,
        f.line_id as line_id,
        f.label as label,
        f.kind as kind,
        f.depth as depth,
        f.sort_key as sort_key,
        f.section as section,
        case f.line_id
            when 'net_income' then b.net_income
            when 'net_cash_operating' then b.operating
            when 'net_cash_investing' then case when b.operating is not null then b.investing end
            when 'net_cash_financing' then case when b.operating is not null then b.financing end
            when 'net_change_in_cash' then b.operating + b.investing + b.financing
            when 'cash_begin' then c.cash_end - c.change
            when 'cash_end' then c.cash_end
            when 'cash_difference' then (b.operating + b.investing + b.financing) - c.change
        end as value,
    from by_class as b
    left join cash as c
        on c.period = b.period
        and c.col = b.col
    cross join (
        values
            ('heading_operating', 'Operating activities', 'heading', 0, '1|0', null),
            ('net_income', 'Net income', 'line', 1, '1|1', 'net_income'),
            ('heading_working_capital', 'Changes in working capital', 'heading', 1, '1|3', null),
            ('net_cash_operating', 'Net cash from operating activities', 'total', 0, '1|~', null),
            ('heading_investing', 'Investing activities', 'heading', 0, '2|0', null),
            ('net_cash_investing', 'Net cash from investing activities', 'total', 0, '2|~', null),
            ('heading_financing', 'Financing activities', 'heading', 0, '3|0', null),
            ('net_cash_financing', 'Net cash from financing activities', 'total', 0, '3|~', null),
            ('net_change_in_cash', 'Net change in cash', 'total', 0, '4|0', null),
            ('cash_begin', 'Cash at beginning of period', 'balance', 0, '4|1', 'cash'),
            ('cash_end', 'Cash at end of period', 'balance', 0, '4|2', 'cash'),
            (
                'cash_difference', 'Net change less change in cash (ties at 0.00)', 'check', 0,
                '4|3', null
            )
    ) as f(line_id, label, kind, depth, sort_key, section)
),

account_rollup as (
    select * from account_lines
    union all
    select * from fixed_lines
),

subtype_rollup as (
    select * from subtype_lines
    union all
    select * from fixed_lines
)

select
    'cash_flow' as statement,
    'account' as rollup,
    ar.period as period,
    ar.col as col,
    ar.line_id as line_id,
    ar.label as label,
    ar.kind as kind,
    ar.depth::integer as depth,
    ar.sort_key as sort_key,
    ar.section as section,
    (case when ar.kind = 'heading' then null else ar.value end)::decimal(18, 2) as value,
from account_rollup as ar
union all
select
    'cash_flow',
    'subtype',
    sr.period,
    sr.col,
    sr.line_id,
    sr.label,
    sr.kind,
    sr.depth::integer,
    sr.sort_key,
    sr.section,
    (case when sr.kind = 'heading' then null else sr.value end)::decimal(18, 2),
from subtype_rollup as sr
