-- R2 after the last cut-off: every span of the run (25_spans.sql; the open ones end at the last
-- month-end), as recon_bank_match_spans' rows under this run's id ($1).

select
    $1::varchar as run_id,
    s.first_period,
    s.last_period,
    c.bank_account_id,
    c.txn_id,
    c.booked_date,
    c.entry_id,
    c.line_no,
    c.posted_date,
    c.amount,
    c.rule
from (
    select * from _recon_spans
    union all
    select o.k, o.first_period, co.period from _recon_open as o cross join _recon_cut as co
) as s
inner join _recon_candidates as c
    on c.k = s.k
order by c.bank_account_id, s.first_period, c.txn_id
