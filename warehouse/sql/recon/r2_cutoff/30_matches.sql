-- R2 at one cut-off: its matches, as recon_bank_matches' rows, under this run's id ($1) (the opening cut-off's are
-- not kept: warehouse.recon does not ask for them).

select $1::varchar as run_id, co.period, m.bank_account_id, m.txn_id, m.booked_date, m.entry_id, m.line_no, m.posted_date, m.amount, m.rule
from _recon_matched as m
cross join _recon_cut as co
