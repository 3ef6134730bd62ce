-- The parts behind each balance-sheet and cash-flow line (both rollups, as statement_lines and
-- cash_flow_lines number them), for the page's click-to-explain and `GET /api/explain`:
--   part   an account_id, or a computed earnings row (_retained_earnings, _current_earnings)
--   sign   what the line multiplies the part's amounts by
--   mode   balance   the account's month-end balance, debit - credit: its opening balance (the
--                    month-end before) plus the month's journal lines
--          opening   only that opening balance (cash at the beginning of the period)
--          move      only the month's journal lines, debit - credit (a cash-flow effect is minus the
--                    change: sign -1)
--          pnl       the month's journal lines of a revenue or expense account in its normal
--                    direction, as the income statement counts them (net income in the cash flow)
--          computed  a computed earnings row, its figure as the balance sheet shows it
--          current   (the earnings rows' own lines) a revenue or expense account's credit - debit,
--          retained  from the fiscal year's first day through the month-end (_current_earnings) or
--                    before the fiscal year (_retained_earnings)
with

bs as (
    select i.item_id as item_id, i.section as section, i.subtype as subtype,
        case when i.item_id in ('_retained_earnings', '_current_earnings') then 1 else i.normal_sign end as sign,
        case when i.item_id in ('_retained_earnings', '_current_earnings') then 'computed' else 'balance' end
            as mode,
    from statement_items as i
    where i.section in ('assets', 'liabilities', 'equity')
),

tree as (
    select distinct t.item_id as item_id, t.ancestor_id as ancestor_id, t.has_children as has_children,
    from statement_tree as t
),

parents as (
    select distinct t.item_id as item_id,
    from statement_tree as t
    where t.has_children
),

bs_parts as (
    select 'account' as rollup, t.ancestor_id as line_id, b.item_id as part, b.sign as sign, b.mode as mode,
    from bs as b
    inner join tree as t
        on t.item_id = b.item_id
    where b.mode = 'balance'
    union all
    select 'account', b.item_id || '/direct', b.item_id, b.sign, b.mode,
    from bs as b
    semi join parents as p
        on p.item_id = b.item_id
    union all
    select 'subtype', b.section || ':' || coalesce(b.subtype, ''), b.item_id, b.sign, b.mode,
    from bs as b
    union all
    select r.rollup, x.line_id, b.item_id, b.sign, b.mode,
    from bs as b
    inner join (
        values
            ('total_assets', 'assets'),
            ('total_liabilities', 'liabilities'),
            ('total_equity', 'equity'),
            ('total_liabilities_and_equity', 'liabilities'),
            ('total_liabilities_and_equity', 'equity')
    ) as x(line_id, section)
        on x.section = b.section
    cross join (values ('account'), ('subtype')) as r(rollup)
    union all
    select r.rollup, e.line_id, i.item_id, 1, e.mode,
    from statement_items as i
    cross join (values ('_retained_earnings', 'retained'), ('_current_earnings', 'current')) as e(line_id, mode)
    cross join (values ('account')) as r(rollup)
    where i.section in ('revenue', 'cogs', 'opex')
),

cf as (
    select i.item_id as item_id, i.subtype as subtype, i.cash_flow_class as class, i.normal_sign as normal_sign,
    from statement_items as i
    where i.cash_flow_class is not null
),

cf_parts as (
    select 'account' as rollup, c.item_id as line_id, c.item_id as part, -1 as sign, 'move' as mode,
    from cf as c
    where c.class not in ('net_income', 'cash')
    union all
    select 'subtype', c.class || ':' || coalesce(c.subtype, ''), c.item_id, -1, 'move',
    from cf as c
    where c.class not in ('net_income', 'cash')
    union all
    select r.rollup, x.line_id, c.item_id,
        case when x.mode = 'pnl' then -c.normal_sign else x.sign end, x.mode,
    from cf as c
    inner join (
        values
            ('net_income', 'net_income', -1, 'pnl'),
            ('net_cash_operating', 'net_income', -1, 'pnl'),
            ('net_cash_operating', 'noncash', -1, 'move'),
            ('net_cash_operating', 'ar', -1, 'move'),
            ('net_cash_operating', 'ap', -1, 'move'),
            ('net_cash_operating', 'other_wc', -1, 'move'),
            ('net_cash_investing', 'investing', -1, 'move'),
            ('net_cash_financing', 'financing', -1, 'move'),
            ('net_change_in_cash', 'cash', 1, 'move'),
            ('cash_begin', 'cash', 1, 'opening'),
            ('cash_end', 'cash', 1, 'balance')
    ) as x(line_id, class, sign, mode)
        on x.class = c.class
    cross join (values ('account'), ('subtype')) as r(rollup)
)

select 'balance_sheet' as statement, rollup, line_id, part, sign::integer as sign, mode,
from bs_parts
union all
select 'cash_flow', rollup, line_id, part, sign::integer, mode,
from cf_parts
order by statement, rollup, line_id, part
