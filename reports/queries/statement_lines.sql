-- The statements' lines, once (the same in every period): which statement and rollup, label, kind,
-- depth and place. `line` numbers them as statements.sql does, so the values can refer to a line by
-- number instead of repeating its text for every period.
select
    dense_rank() over (order by s.statement, s.rollup, s.line_id) as line,
    s.statement as statement,
    s.rollup as rollup,
    s.line_id as line_id,
    any_value(s.label) as label,
    any_value(s.kind) as kind,
    any_value(s.depth) as depth,
    min(s.line_order) as line_order,
from mart_statements as s
group by s.statement, s.rollup, s.line_id
order by s.statement, s.rollup, line_order
