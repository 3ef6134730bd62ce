-- The journal lines behind the income statement's accounts, for the periods $periods: per period
-- and revenue or expense account, the lines posted in the month, each in the account's normal
-- direction as the statement counts it (revenue credit - debit, expenses debit - credit), with the
-- account's count and total of them, largest first, at most $limit per account (zeros left out).
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
    count(*) over (partition by p.period, jl.account_id) as _count,
    sum(case when a.type = 'revenue' then jl.credit - jl.debit else jl.debit - jl.credit end)
        over (partition by p.period, jl.account_id)::decimal(18, 2) as _total,
from erp_journal_lines as jl
inner join erp_accounts as a
    on a.account_id = jl.account_id
    and a.type in ('revenue', 'expense')
inner join periods as p
    on jl.posted_date between p.period_start and p.period_end
where p.period in (select unnest($periods::varchar[]))
    and jl.debit <> jl.credit
qualify row_number() over (
    partition by p.period, jl.account_id
    order by abs(amount) desc, amount desc, jl.entry_id, jl.line_no
) <= $limit
order by p.period, jl.account_id, abs(amount) desc, amount desc, jl.entry_id, jl.line_no
