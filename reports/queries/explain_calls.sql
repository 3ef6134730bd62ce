-- The MCP calls that loaded one table ($table): connector_calls of the run that last published it
-- (source_loads.run_id), for the tool it was read with, in the order they were made.
select
    cc.tool as tool,
    cc.called_at as called_at,
    cc.page as page,
    cc.items as items,
    cc.bytes as bytes,
    cc.duration_ms as duration_ms,
    cc.status as status,
    cc.arguments as arguments,
from connector_calls as cc
inner join source_loads as sl
    on sl.run_id = cc.run_id
    and sl.source = cc.source
    and sl.tool = cc.tool
where sl.table_name = $table
order by cc.called_at, cc.page
