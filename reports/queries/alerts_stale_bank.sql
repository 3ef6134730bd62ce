-- Alerts (issue 20): per period, the bank reconciliation's stale items (unmatched longer than
-- reconciliation.stale_after_days at the month-end): how many, the oldest line's date and their sum.
select
    period,
    count(*) as items,
    min(record_date) as oldest,
    sum(amount)::decimal(18, 2) as amount
from recon_items
where check_id = 'R2_bank_vs_book' and reason like '%: stale (over %'
group by period
order by period
