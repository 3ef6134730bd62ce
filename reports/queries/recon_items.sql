-- The items behind each period's checks (unmatched bank and book lines, open-item differences,
-- backlog), the largest 200 per period and check; the panel says when more exist.
select
    i.period as period,
    i.check_id as check_id,
    i.source as source,
    i.record_id as record_id,
    i.record_date as record_date,
    i.amount as amount,
    i.reason as reason,
from recon_items as i
qualify row_number() over (
    partition by i.period, i.check_id
    order by abs(coalesce(i.amount, 0)) desc, i.record_id
) <= 200
order by i.period, i.check_id, i.record_date, i.record_id
