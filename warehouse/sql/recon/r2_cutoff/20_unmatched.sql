-- R2 at one cut-off, after the matching: the lines dated up to it that no pair took (a bank line with
-- no book line, a book line with no bank line), as _recon_r2_unmatched's rows (read by
-- 20_r2_bank_vs_book.sql).

select
    co.period,
    co.cutoff,
    co.is_opening,
    'bank',
    b.bank_account_id,
    b.txn_id,
    b.d,
    b.amount,
    date_diff('day', b.d, co.cutoff),
    _recon_weekdays_through(co.cutoff) - _recon_weekdays_through(b.d),
from _recon_cut as co
inner join _recon_bank as b
    on b.d <= co.cutoff
anti join _recon_matched as m
    on m.txn_id = b.txn_id
union all
select
    co.period,
    co.cutoff,
    co.is_opening,
    'erp',
    k.bank_account_id,
    k.book_id,
    k.d,
    k.amount,
    date_diff('day', k.d, co.cutoff),
    _recon_weekdays_through(co.cutoff) - _recon_weekdays_through(k.d),
from _recon_cut as co
inner join _recon_book as k
    on k.d <= co.cutoff
anti join _recon_matched as m
    on m.entry_id = k.entry_id and m.line_no = k.line_no
