-- The recipients a message (kind, period, version, rule) already went to.
select distinct recipient
from deliveries
where kind = $1 and period = $2 and version = $3 and rule = $4 and status = 'sent'
order by recipient;
