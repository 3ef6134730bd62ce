-- Per configured source, the as-of its server reported at its last load: the data-as-of of an
-- export whose version has no archived page to say it (the page embeds its own).
select
    cl.source as source,
    max(cl.source_as_of) as as_of,
from configured_loads as cl
group by cl.source
order by cl.source
