-- The latest reconciliation verdicts per period and check, with how many items each lists.
select
    r.period as period,
    r.check_id as check_id,
    r.status as status,
    r.expected as expected,
    r.actual as actual,
    r.difference as difference,
    r.detail as detail,
    (
        select count(*) from recon_items as i
        where i.period = r.period and i.check_id = r.check_id
    )::integer as items,
from recon_results as r
order by r.period, r.check_id
