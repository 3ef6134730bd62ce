-- Per configured source, the as-of its server reported at its last load (null when it reports none).
select source, max(source_as_of)
from configured_loads
group by source
order by source
