-- The journal lines behind the statements, for the periods $periods: per period and account of a type
-- in $types, the lines posted in the month with the account's count and total of them, largest first,
-- at most $limit per account (zeros left out). Each line is debit - credit, or with $normal in the
-- direction the income statement counts it (revenue credit - debit, expenses debit - credit). With
-- $opening, each account's opening balance too (debit - credit of every line dated before the month,
-- the opening postings before first_period included, added up from account_days():
-- warehouse.models.load_functions must have run on the connection) as a row with line_no 0 and no
-- entry. The income statement's lines (revenue and expense, $normal, no opening) and the balance
-- sheet's and cash flow's (debit - credit, with the opening) are both read here.
-- Set-based in two passes (issue 21): the counts, totals and the size of each account's $limit-th
-- largest line come from one aggregate; only the lines at least that large (ties kept) are then
-- ordered, instead of every line of the months. A $limit above 1000 (every line) orders them all.
with

moves as (
    select
        p.period as period,
        jl.account_id as account_id,
        jl.posted_date as posted_date,
        jl.entry_id as entry_id,
        jl.line_no as line_no,
        jl.description as description,
        jl.document_id as document_id,
        (case when $normal and a.type = 'revenue' then jl.credit - jl.debit else jl.debit - jl.credit end)::decimal(18, 2)
            as amount,
    from erp_journal_lines as jl
    inner join erp_accounts as a
        on a.account_id = jl.account_id
        and a.type in (select unnest($types::varchar[]))
    inner join periods as p
        on jl.posted_date between p.period_start and p.period_end
    where p.period in (select unnest($periods::varchar[]))
        and jl.debit <> jl.credit
),

per_account as (
    select
        m.period as period,
        m.account_id as account_id,
        count(*) as _count,
        sum(m.amount)::decimal(18, 2) as _total,
        list_min(max(abs(m.amount), least($limit, 1000))) as least_shown,
    from moves as m
    group by all
)

select
    m.*,
    pa._count as _count,
    pa._total as _total,
from moves as m
inner join per_account as pa
    on pa.period = m.period
    and pa.account_id = m.account_id
    and ($limit > 1000 or abs(m.amount) >= pa.least_shown)
qualify row_number() over (
    partition by m.period, m.account_id
    order by abs(m.amount) desc, m.amount desc, m.entry_id, m.line_no
) <= $limit
union all
select
    p.period,
    a.account_id,
    (p.period_start - interval 1 day)::date,
    null,
    0,
    'Opening balance (the month-end before)',
    null,
    coalesce(sum(jl.debit - jl.credit), 0)::decimal(18, 2),
    0,
    0::decimal(18, 2),
from erp_accounts as a
cross join periods as p
left join account_days() as jl
    on jl.account_id = a.account_id
    and jl.posted_date < p.period_start
where $opening
    and p.period in (select unnest($periods::varchar[]))
    and a.type in (select unnest($types::varchar[]))
group by all
order by period, account_id, line_no = 0 desc, abs(amount) desc, amount desc, entry_id, line_no
