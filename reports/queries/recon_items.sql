-- The items behind each period's checks (unmatched bank and book lines, open-item differences,
-- backlog), every one: the page embeds the largest of each period and check (the section's `rows`,
-- reports/tables.py) and says how many more there are from this query's count, which a cap here would
-- make a lie ("20 of 200" for 5,934 items); `closeboard serve` fetches a month's every item.
select
    i.period as period,
    i.check_id as check_id,
    i.source as source,
    i.record_id as record_id,
    i.record_date as record_date,
    i.amount as amount,
    i.reason as reason,
from recon_items as i
order by i.period, i.check_id, i.record_date, i.record_id
