-- statement_lines: the income statement and balance sheet as long rows (period x column x line),
-- pivoted into mart_statements by 85_mart_statements.sql. Two rollups of the same figures:
--   rollup 'account'  every account in its section, nested under its parent (parent_id) within the
--                     section: a parent's line (kind 'group', line_id its account_id) is its whole
--                     subtree, its own postings (if it has any) a line of their own (kind 'account',
--                     line_id '<account_id>/direct', "... (posted directly)"); leaves are kind
--                     'account' with their account_id
--   rollup 'subtype'  one line per section and subtype (kind 'subtype'; no subtype: 'Other', last)
-- and, in both, the totals (kind 'total'):
--   income statement  total revenue, total cost of revenue, gross profit (revenue - cogs), total
--                     operating expenses, net income (revenue - cogs - opex); revenue credit - debit,
--                     expenses debit - credit, as in mart_pnl_monthly; every column is a flow
--   balance sheet     total assets, total liabilities, total equity (with the computed retained and
--                     current-year earnings, as in mart_balance_sheet), total liabilities and equity;
--                     assets debit - credit, liabilities and equity credit - debit; the ytd column is
--                     the change since the fiscal year's opening balance, the others month-end balances
-- sort_key orders the lines: section, then the account path (root to leaf), then the section total.

create or replace table statement_lines as
with

values_ as (
    select
        case when i.section in ('revenue', 'cogs', 'opex') then 'income_statement' else 'balance_sheet' end
            as statement,
        v.period as period,
        v.col as col,
        i.item_id as item_id,
        i.name as name,
        i.section as section,
        i.subtype as subtype,
        case
            when i.section in ('revenue', 'cogs', 'opex') or v.col = 'ytd' then v.change
            else v.balance
        end as value,
    from statement_values as v
    inner join statement_items as i
        on i.item_id = v.item_id
    where i.section is not null
),

section_order as (
    select * from (
        values
            ('revenue', '1'),
            ('cogs', '2'),
            ('opex', '4'),
            ('assets', '1'),
            ('liabilities', '2'),
            ('equity', '3')
    ) as so(section, section_key)
),

items as (
    select
        t.item_id as item_id,
        any_value(t.depth) as depth,
        any_value(t.path) as path,
        any_value(t.has_children) as has_children,
        any_value(t.has_postings) as has_postings,
    from statement_tree as t
    group by t.item_id
),

-- rollup 'account': groups (a parent's subtree), leaves, and a parent's own postings
group_lines as (
    select
        v.statement as statement,
        v.period as period,
        v.col as col,
        anc.item_id as line_id,
        anc_i.name as label,
        'group' as kind,
        anc.depth as depth,
        so.section_key || '|' || anc.path as sort_key,
        v.section as section,
        sum(v.value) as value,
    from values_ as v
    inner join statement_tree as t
        on t.item_id = v.item_id
    inner join items as anc
        on anc.item_id = t.ancestor_id
    inner join statement_items as anc_i
        on anc_i.item_id = anc.item_id
    inner join section_order as so
        on so.section = v.section
    where anc.has_children
    group by all
),

leaf_lines as (
    select
        v.statement as statement,
        v.period as period,
        v.col as col,
        case when it.has_children then v.item_id || '/direct' else v.item_id end as line_id,
        case when it.has_children then v.name || ' (posted directly)' else v.name end as label,
        'account' as kind,
        it.depth + (case when it.has_children then 1 else 0 end) as depth,
        so.section_key || '|' || it.path || (case when it.has_children then '/' else '' end)
            as sort_key,
        v.section as section,
        v.value as value,
    from values_ as v
    inner join items as it
        on it.item_id = v.item_id
    inner join section_order as so
        on so.section = v.section
    where not it.has_children or it.has_postings
),

subtype_lines as (
    select
        v.statement as statement,
        v.period as period,
        v.col as col,
        v.section || ':' || coalesce(v.subtype, '') as line_id,
        subtype_label(v.subtype) as label,
        'subtype' as kind,
        0 as depth,
        so.section_key || '|' || coalesce(v.subtype, '}') as sort_key,
        v.section as section,
        sum(v.value) as value,
    from values_ as v
    inner join section_order as so
        on so.section = v.section
    group by all
),

by_section as (
    select
        v.statement as statement,
        v.period as period,
        v.col as col,
        v.section as section,
        sum(v.value) as value,
    from values_ as v
    group by all
),

pivoted as (
    select
        bs.statement as statement,
        bs.period as period,
        bs.col as col,
        max(bs.value) filter (where bs.section = 'revenue') as revenue,
        max(bs.value) filter (where bs.section = 'cogs') as cogs,
        max(bs.value) filter (where bs.section = 'opex') as opex,
        max(bs.value) filter (where bs.section = 'assets') as assets,
        max(bs.value) filter (where bs.section = 'liabilities') as liabilities,
        max(bs.value) filter (where bs.section = 'equity') as equity,
    from by_section as bs
    group by all
),

total_lines as (
    select
        p.statement as statement,
        p.period as period,
        p.col as col,
        t.line_id as line_id,
        t.label as label,
        'total' as kind,
        0 as depth,
        t.sort_key as sort_key,
        t.section as section,
        case t.line_id
            when 'total_revenue' then p.revenue
            when 'total_cogs' then p.cogs
            when 'gross_profit' then p.revenue - coalesce(p.cogs, 0)
            when 'total_opex' then p.opex
            when 'net_income' then p.revenue - coalesce(p.cogs, 0) - coalesce(p.opex, 0)
            when 'total_assets' then p.assets
            when 'total_liabilities' then p.liabilities
            when 'total_equity' then p.equity
            when 'total_liabilities_and_equity' then coalesce(p.liabilities, 0) + p.equity
        end as value,
    from pivoted as p
    inner join (
        values
            ('income_statement', 'total_revenue', 'Total revenue', '1|~', 'revenue'),
            ('income_statement', 'total_cogs', 'Total cost of revenue', '2|~', 'cogs'),
            ('income_statement', 'gross_profit', 'Gross profit', '3|~', null),
            ('income_statement', 'total_opex', 'Total operating expenses', '4|~', 'opex'),
            ('income_statement', 'net_income', 'Net income', '5|~', null),
            ('balance_sheet', 'total_assets', 'Total assets', '1|~', 'assets'),
            ('balance_sheet', 'total_liabilities', 'Total liabilities', '2|~', 'liabilities'),
            ('balance_sheet', 'total_equity', 'Total equity', '3|~', 'equity'),
            (
                'balance_sheet', 'total_liabilities_and_equity', 'Total liabilities and equity',
                '4|~', null
            )
    ) as t(statement, line_id, label, sort_key, section)
        on t.statement = p.statement
),

account_rollup as (
    select * from group_lines
    union all
    select * from leaf_lines
    union all
    select * from total_lines
),

subtype_rollup as (
    select * from subtype_lines
    union all
    select * from total_lines
)

select
    ar.statement as statement,
    'account' as rollup,
    ar.period as period,
    ar.col as col,
    ar.line_id as line_id,
    ar.label as label,
    ar.kind as kind,
    ar.depth::integer as depth,
    ar.sort_key as sort_key,
    ar.section as section,
    ar.value::decimal(18, 2) as value,
from account_rollup as ar
union all
select
    sr.statement,
    'subtype',
    sr.period,
    sr.col,
    sr.line_id,
    sr.label,
    sr.kind,
    sr.depth::integer,
    sr.sort_key,
    sr.section,
    sr.value::decimal(18, 2),
from subtype_rollup as sr
