-- Whether one source's tables pulled by months were pulled whole within the last $2 milliseconds.
-- $1: the source.
select count(*) > 0
from full_pulls
where source = $1 and pulled_at > now() - to_milliseconds($2)
