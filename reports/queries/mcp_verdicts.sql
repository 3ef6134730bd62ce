-- `closeboard mcp` list_periods: every period's verdict per check (the latest reconciliation).
select
    r.period as period,
    r.check_id as check_id,
    r.status as status,
from recon_results as r
order by r.period, r.check_id
