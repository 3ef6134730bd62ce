-- `closeboard mcp` get_check_items: one page of the records behind one period's check, largest
-- first (then by record id, a stable order for cursors).
select
    i.source as source,
    i.record_id as record_id,
    i.record_date::varchar as record_date,
    i.amount::varchar as amount,
    i.reason as reason,
from recon_items as i
where i.period = $period
    and i.check_id = $check_id
order by abs(coalesce(i.amount, 0)) desc, i.record_id, i.source, i.record_date, i.reason
limit $limit offset $offset
