-- The journal lines behind the income statement's accounts, for the periods $periods: per period
-- and revenue or expense account, the lines posted in the month, each in the account's normal
-- direction as the statement counts it (revenue credit - debit, expenses debit - credit), with the
-- account's count and total of them, largest first, at most $limit per account (zeros left out).
-- Set-based in two passes (issue 21): the counts, totals and the size of each account's $limit-th
-- largest line come from one aggregate; only the lines at least that large (ties kept) are then
-- ordered, instead of every line of the months. A $limit above 1000 (every line) orders them all.
with

month_lines as (
    select
        p.period as period,
        jl.account_id as account_id,
        jl.posted_date as posted_date,
        jl.entry_id as entry_id,
        jl.line_no as line_no,
        jl.description as description,
        jl.document_id as document_id,
        (case when a.type = 'revenue' then jl.credit - jl.debit else jl.debit - jl.credit end)::decimal(18, 2)
            as amount,
    from erp_journal_lines as jl
    inner join erp_accounts as a
        on a.account_id = jl.account_id
        and a.type in ('revenue', 'expense')
    inner join periods as p
        on jl.posted_date between p.period_start and p.period_end
    where p.period in (select unnest($periods::varchar[]))
        and jl.debit <> jl.credit
),

per_account as (
    select
        ml.period as period,
        ml.account_id as account_id,
        count(*) as _count,
        sum(ml.amount)::decimal(18, 2) as _total,
        list_min(max(abs(ml.amount), least($limit, 1000))) as least_shown,
    from month_lines as ml
    group by all
)

select
    ml.*,
    pa._count as _count,
    pa._total as _total,
from month_lines as ml
inner join per_account as pa
    on pa.period = ml.period
    and pa.account_id = ml.account_id
    and ($limit > 1000 or abs(ml.amount) >= pa.least_shown)
qualify row_number() over (
    partition by ml.period, ml.account_id
    order by abs(ml.amount) desc, ml.amount desc, ml.entry_id, ml.line_no
) <= $limit
order by ml.period, ml.account_id, abs(ml.amount) desc, ml.amount desc, ml.entry_id, ml.line_no
