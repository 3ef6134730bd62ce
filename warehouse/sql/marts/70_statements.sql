-- The statements' building blocks: the month windows behind each column, the items a statement
-- shows (every account plus the two computed earnings rows) and month-end balances over a range
-- wide enough for every comparison.
--
-- statement_windows: per reported period, its four columns as month windows [start_month, end_month]:
--   amount       the period itself
--   prior_month  the month before
--   prior_year   the same month a year before
--   ytd          the fiscal year's first month (periods.fiscal_year_start) through the period
--   A flow (income statement, cash flow) is the change over the window; a balance (balance sheet)
--   is the month-end balance at end_month, and in the ytd column its change over the window.
--   known: the window starts on or after the ledger's first month. Before it the books say nothing,
--   so the column is null ("no data"), never 0.00 (a fiscal year that began before the ledger did has
--   no year-to-date figure).
--
-- statement_items: every account (type, subtype, parent_id) plus `_retained_earnings` and
--   `_current_earnings` (mart_balance_sheet's rule, type equity), each with its section:
--     income statement: revenue | cogs (expense, subtype cogs) | opex (every other expense)
--     balance sheet:    assets | liabilities | equity
--   and its cash-flow class (the indirect method; documented in 80_cash_flow.sql).
--
-- statement_balances: month x item, the month-end balance debit-positive (debit - credit over every
--   posting up to the month-end: account_balances' rule, extended to the months before first_period
--   that the comparison columns reach). The earnings rows are -(profit) so every month sums to 0
--   over all items when the ledger balances. Lines on accounts missing from erp_accounts drop out,
--   as in every mart (R1 reports them).

create or replace table statement_windows as
with

ledger_start as (
    select min(strptime(lm.period || '-01', '%Y-%m-%d'))::date as ledger_start,
    from ledger_monthly as lm
    semi join erp_accounts as a
        on a.account_id = lm.account_id
),

columns_ as (
    select
        p.period as period,
        'amount' as col,
        p.period_start as start_month,
        p.period_start as end_month,
    from periods as p
    union all
    select
        p.period as period,
        'prior_month' as col,
        (p.period_start - interval 1 month)::date as start_month,
        (p.period_start - interval 1 month)::date as end_month,
    from periods as p
    union all
    select
        p.period as period,
        'prior_year' as col,
        (p.period_start - interval 12 month)::date as start_month,
        (p.period_start - interval 12 month)::date as end_month,
    from periods as p
    union all
    select
        p.period as period,
        'ytd' as col,
        p.fiscal_year_start as start_month,
        p.period_start as end_month,
    from periods as p
)

select
    c.period as period,
    c.col as col,
    c.start_month as start_month,
    c.end_month as end_month,
    (c.start_month - interval 1 month)::date as before_start,
    coalesce(c.start_month >= ls.ledger_start, false) as known,
from columns_ as c
cross join ledger_start as ls
order by c.period, c.col;


create or replace table statement_items as
with

items as (
    select
        a.account_id as item_id,
        a.name as name,
        a.type as type,
        a.subtype as subtype,
        a.parent_id as parent_id,
    from erp_accounts as a
    union all
    select '_retained_earnings', 'Retained earnings (profit of prior fiscal years)', 'equity', 'retained_earnings', null
    union all
    select '_current_earnings', 'Current-year earnings', 'equity', 'current_earnings', null
)

select
    i.item_id as item_id,
    i.name as name,
    i.type as type,
    i.subtype as subtype,
    i.parent_id as parent_id,
    -- what the account tree sorts by: the account id, with the earnings rows last
    case i.item_id
        when '_retained_earnings' then '}1'
        when '_current_earnings' then '}2'
        else i.item_id
    end as sort_id,
    case
        when i.type = 'revenue' then 'revenue'
        when i.type = 'expense' and i.subtype = 'cogs' then 'cogs'
        when i.type = 'expense' then 'opex'
        when i.type = 'asset' then 'assets'
        when i.type = 'liability' then 'liabilities'
        when i.type = 'equity' then 'equity'
    end as section,
    case
        when i.item_id in ('_retained_earnings', '_current_earnings') then null
        when i.type in ('revenue', 'expense') then 'net_income'
        when i.subtype = 'cash' then 'cash'
        when i.type = 'asset'
            and i.subtype in ('accumulated_depreciation', 'accumulated_amortization') then 'noncash'
        when i.subtype = 'ar' then 'ar'
        when i.subtype = 'ap' then 'ap'
        when i.type = 'asset'
            and i.subtype in ('fixed_asset', 'intangible_asset', 'investment', 'long_term_investment')
            then 'investing'
        when i.type = 'liability' and i.subtype = 'debt' then 'financing'
        when i.type = 'equity' then 'financing'
        else 'other_wc'
    end as cash_flow_class,
    -- +1: debit-normal (assets, expenses); -1: credit-normal (liabilities, equity, revenue)
    case when i.type in ('asset', 'expense') then 1 else -1 end as normal_sign,
from items as i
order by i.item_id;


create or replace table statement_balances as
with

settings as (
    select rc.fiscal_year_start_month as fiscal_year_start_month,
    from run_context as rc
),

ledger as (
    select
        strptime(lm.period || '-01', '%Y-%m-%d')::date as month,
        lm.account_id as account_id,
        lm.debit - lm.credit as net_dc,
    from ledger_monthly as lm
    semi join erp_accounts as a
        on a.account_id = lm.account_id
),

bounds as (
    select
        least(
            (select min(w.before_start) from statement_windows as w),
            (select min(l.month) from ledger as l)
        ) as grid_start,
        (select max(p.period_start) from periods as p) as grid_end,
),

months as (
    select unnest(generate_series(b.grid_start, b.grid_end, interval 1 month))::date as month,
    from bounds as b
),

account_rows as (
    select
        m.month as month,
        a.account_id as item_id,
        a.type as type,
        sum(coalesce(l.net_dc, 0)) over (
            partition by a.account_id
            order by m.month
            rows between unbounded preceding and current row
        ) as balance_dc,
    from months as m
    cross join erp_accounts as a
    left join ledger as l
        on l.month = m.month
        and l.account_id = a.account_id
),

-- profit (credit - debit on revenue and expense accounts) from the ledger's start to each month-end
profit_to_date as (
    select
        ar.month as month,
        -sum(ar.balance_dc) as profit,
    from account_rows as ar
    where ar.type in ('revenue', 'expense')
    group by ar.month
),

earnings as (
    select
        m.month as month,
        coalesce(before_year.profit, 0) as retained_earnings,
        coalesce(to_date.profit, 0) - coalesce(before_year.profit, 0) as current_earnings,
    from months as m
    cross join settings as s
    left join profit_to_date as to_date
        on to_date.month = m.month
    left join profit_to_date as before_year
        on before_year.month = (
            make_date(
                year(m.month)
                - (case when month(m.month) < s.fiscal_year_start_month then 1 else 0 end),
                s.fiscal_year_start_month,
                1
            ) - interval 1 month
        )::date
),

unioned as (
    select ar.month as month, ar.item_id as item_id, ar.balance_dc as balance_dc,
    from account_rows as ar
    union all
    select e.month, '_retained_earnings', -e.retained_earnings,
    from earnings as e
    union all
    select e.month, '_current_earnings', -e.current_earnings,
    from earnings as e
)

select
    u.month as month,
    strftime(u.month, '%Y-%m') as period,
    u.item_id as item_id,
    u.balance_dc::decimal(18, 2) as balance_dc,
from unioned as u
order by u.month, u.item_id;


-- statement_values: per reported period, column and item: the balance at the window's end and the
-- change over the window, both in the item's normal direction; null where the window is not known.
create or replace table statement_values as
select
    w.period as period,
    w.col as col,
    i.item_id as item_id,
    case when w.known then (i.normal_sign * coalesce(e.balance_dc, 0))::decimal(18, 2) end
        as balance,
    case
        when w.known
            then (i.normal_sign * (coalesce(e.balance_dc, 0) - coalesce(b.balance_dc, 0)))::decimal(18, 2)
    end as change,
from statement_windows as w
cross join statement_items as i
left join statement_balances as e
    on e.month = w.end_month
    and e.item_id = i.item_id
left join statement_balances as b
    on b.month = w.before_start
    and b.item_id = i.item_id
order by w.period, w.col, i.item_id;


-- statement_tree: each item's chain of parents within its section (parent_id, followed while the
-- parent is in the same section; at most 32 steps, so a cycle in the chart cannot loop), with the
-- item's depth, its sort path (account ids from the root down) and whether it has children.
create or replace table statement_tree as
with recursive

chain(item_id, ancestor_id, steps) as (
    select i.item_id, i.item_id, 0
    from statement_items as i
    union all
    select c.item_id, p.item_id, c.steps + 1
    from chain as c
    inner join statement_items as child
        on child.item_id = c.ancestor_id
    inner join statement_items as p
        on p.item_id = child.parent_id
        and p.section = child.section
        and p.item_id <> child.item_id
    where c.steps < 32
),

shape as (
    select
        c.item_id as item_id,
        max(c.steps) as depth,
        string_agg(i.sort_id, '/' order by c.steps desc) as path,
    from chain as c
    inner join statement_items as i
        on i.item_id = c.ancestor_id
    group by c.item_id
),

parents as (
    select distinct c.ancestor_id as item_id,
    from chain as c
    where c.steps = 1
),

posted as (
    select distinct lm.account_id as item_id,
    from ledger_monthly as lm
)

select
    c.item_id as item_id,
    c.ancestor_id as ancestor_id,
    c.steps as steps,
    s.depth as depth,
    s.path as path,
    p.item_id is not null as has_children,
    po.item_id is not null as has_postings,
from chain as c
inner join shape as s
    on s.item_id = c.item_id
left join parents as p
    on p.item_id = c.item_id
left join posted as po
    on po.item_id = c.item_id
order by c.item_id, c.steps;
