-- Items an adapter could not map, registered as _rejected, with their reason.
insert into quarantine
select run_id, source, tool, record, reason
from _rejected
