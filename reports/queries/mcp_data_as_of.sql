-- `closeboard mcp`: how fresh the published figures are, per configured source: the as-of its server
-- reported and when it was loaded (source_loads of the last publish of each of its tables). Never the
-- calls' arguments.
select
    cl.source as source,
    max(cl.source_as_of) as source_as_of,
    max(cl.loaded_at) as loaded_at,
from configured_loads as cl
group by cl.source
order by cl.source
