-- Periods per check and status after a run, keyed 'check_id/status' (the asset checks' status_counts).
select check_id || '/' || status as check_status, count(*) as periods
from recon_results
group by all
order by 1
