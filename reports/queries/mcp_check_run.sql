-- `closeboard mcp` get_check_items: the reconciliation run behind one period's verdicts (a cursor is
-- cut from it) and how many records one of its checks lists.
select
    (select any_value(r.run_id) from recon_results as r where r.period = $period) as run_id,
    (select count(*) from recon_items as i where i.period = $period and i.check_id = $check_id)::bigint as total,
