-- `closeboard mcp` get_checks: the latest reconciliation's verdicts for one period, figures as
-- decimal text, with how many items (evidence records) each lists.
select
    r.run_id as run_id,
    r.check_id as check_id,
    r.status as status,
    r.expected::varchar as expected,
    r.actual::varchar as actual,
    r.difference::varchar as difference,
    r.detail as detail,
    (
        select count(*) from recon_items as i
        where i.period = r.period and i.check_id = r.check_id
    )::integer as items,
from recon_results as r
where r.period = $period
order by r.check_id
