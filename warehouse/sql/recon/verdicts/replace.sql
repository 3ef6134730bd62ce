-- This run's verdicts (registered as _verdicts by warehouse.recon.replace_verdicts) replace the stored ones.
delete from recon_verdicts;
insert into recon_verdicts
select check_id, digest, outcome, failed, evaluated, validated_in
from _verdicts
order by check_id;
