-- Per-check severity overrides from closeboard.yaml (reconciliation.severity): a check set to `warn`
-- reports its ERROR findings as 'warn' (they no longer block sign-off); a check set to `error` reports
-- its WARN findings as 'fail'.

update _recon_results as r
set status = case
    when s.severity = 'warn' and r.status = 'fail' then 'warn'
    when s.severity = 'error' and r.status = 'warn' then 'fail'
    else r.status
end
from recon_severity as s
where s.check_id = r.check_id;
