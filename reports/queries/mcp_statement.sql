-- `closeboard mcp` get_statement: one statement of one period from mart_statements, in its order,
-- amounts as decimal text (null is "no data", never 0.00).
select
    s.line_order as line_order,
    s.line_id as line_id,
    s.label as label,
    s.kind as kind,
    s.depth as depth,
    s.section as section,
    s.amount::varchar as amount,
    s.prior_month::varchar as prior_month,
    s.prior_year::varchar as prior_year,
    s.ytd::varchar as ytd,
from mart_statements as s
where s.period = $period
    and s.statement = $statement
    and s.rollup = $rollup
order by s.line_order
