-- The reconciliation's results after a run, by check and period (the asset checks' rows).
select * from recon_results order by check_id, period
