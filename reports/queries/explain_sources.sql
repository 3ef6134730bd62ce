-- The loads of the source tables a figure reads ($tables): which source and tool filled each, in
-- which run, when, and how many rows; not-configured sources keep their '(not configured)' row.
select
    sl.table_name as table_name,
    sl.source as source,
    sl.tool as tool,
    sl.run_id as run_id,
    sl.loaded_at as loaded_at,
    sl.rows_loaded as rows_loaded,
    sl.source_as_of as source_as_of,
from source_loads as sl
where list_contains($tables, sl.table_name)
order by sl.source, sl.table_name
