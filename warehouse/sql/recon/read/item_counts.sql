-- Items per check after a run (the asset checks' items).
select check_id, count(*) as items
from recon_items
group by 1
order by 1
