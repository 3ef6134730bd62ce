-- The stored verdict of each check (schema/recon.sql, recon_verdicts).
select check_id, digest, outcome, failed, evaluated, validated_in
from recon_verdicts
order by check_id
