-- The periods whose latest close snapshot is signed off (`closed`): settled, never re-pulled.
select period
from close_snapshots
qualify version = max(version) over (partition by period) and status = 'closed'
