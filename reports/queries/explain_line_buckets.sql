-- explain_line_buckets: explain_line_balances for many periods ($periods, the page's months) without
-- one copy of every line per period. Each posted line dated up to the last period's end comes at most
-- twice, with the columns of an explain_line_balances row:
--   _at true    as it counts in its own month (one of $periods): period, debit, credit and net_dc
--               carry the line; _bucket is that month
--   _at false   as it counts in every later month: period null, debit, credit and net_dc 0,
--               balance_dc the line (the opening postings before first_period included); _bucket is
--               the first of $periods it counts in, it counts in every later one too
-- So explain_line_balances for period P is the `_at` rows of P plus the other rows of every bucket
-- up to P (with period P): reports/explain.py `_figure_rows` adds them up that way.
with

chosen as (
    select p.period as period, p.period_start as period_start, p.period_end as period_end,
    from periods as p
    where p.period in (select unnest($periods::varchar[]))
),

lines as (
    select jl.*, a.name as account_name, a.type as type, a.subtype as subtype,
    from erp_journal_lines as jl
    inner join erp_accounts as a
        on a.account_id = jl.account_id
),

-- per posting date: the chosen month it falls in (_at), and the first chosen month after it
dates as (
    select c.period as _bucket, d.posted_date as posted_date, true as _at,
    from (select distinct jl.posted_date as posted_date from erp_journal_lines as jl) as d
    inner join chosen as c
        on d.posted_date between c.period_start and c.period_end
    union all
    select min(c.period), d.posted_date, false,
    from (select distinct jl.posted_date as posted_date from erp_journal_lines as jl) as d
    inner join chosen as c
        on c.period_start > d.posted_date
    group by d.posted_date
),

placed as (
    select l.*, d._bucket as _bucket, d._at as _at,
    from lines as l
    inner join dates as d
        on d.posted_date = l.posted_date
)

select
    case when l._at then l._bucket end as period,
    l.account_id as account_id,
    l.account_name as account_name,
    l.type as type,
    l.subtype as subtype,
    (case when l._at then l.debit else 0 end)::decimal(18, 2) as debit,
    (case when l._at then l.credit else 0 end)::decimal(18, 2) as credit,
    (case when l._at then l.debit - l.credit else 0 end)::decimal(18, 2) as net_dc,
    (l.debit - l.credit)::decimal(18, 2) as balance_dc,
    l.entry_id as entry_id,
    l.line_no as line_no,
    l.posted_date as posted_date,
    l.description as description,
    l.customer_id as customer_id,
    l.vendor_id as vendor_id,
    l.document_id as document_id,
    l._at as _at,
    l._bucket as _bucket,
from placed as l
