-- explain_line_balances: account_balances at the grain of journal lines, for one period ($period).
-- One row per posted line dated up to the period's end on an account of erp_accounts (the marts'
-- inner join), with the columns of an account_balances row: debit, credit and net_dc carry the line
-- only when it falls inside the period, balance_dc carries every line up to the month-end (the
-- opening postings before first_period included). So a mart expression that sums account_balances
-- rows of the period gives the same figure summed over these rows, and each row's value is that
-- line's share: `closeboard explain` lists them, largest first.

select
    p.period as period,
    jl.account_id as account_id,
    a.name as account_name,
    a.type as type,
    a.subtype as subtype,
    (case when jl.posted_date >= p.period_start then jl.debit else 0 end)::decimal(18, 2) as debit,
    (case when jl.posted_date >= p.period_start then jl.credit else 0 end)::decimal(18, 2) as credit,
    (
        case when jl.posted_date >= p.period_start then jl.debit - jl.credit else 0 end
    )::decimal(18, 2) as net_dc,
    (jl.debit - jl.credit)::decimal(18, 2) as balance_dc,
    jl.entry_id as entry_id,
    jl.line_no as line_no,
    jl.posted_date as posted_date,
    jl.description as description,
    jl.customer_id as customer_id,
    jl.vendor_id as vendor_id,
    jl.document_id as document_id,
from erp_journal_lines as jl
inner join erp_accounts as a
    on a.account_id = jl.account_id
inner join periods as p
    on p.period = $period
where jl.posted_date <= p.period_end
