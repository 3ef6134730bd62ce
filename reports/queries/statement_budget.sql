-- The income statement's budget columns (mart_statements, 82_budget.sql): only lines with a budget,
-- numbered as statements.sql numbers them (`line`). No row: no budget for the line (never 0.00).
with

numbered as (
    select
        s.*,
        dense_rank() over (order by s.statement, s.rollup, s.line_id) as line,
    from mart_statements as s
)

select
    n.period as period,
    n.line as line,
    n.budget as budget,
    n.variance as variance,
    n.variance_pct as variance_pct,
    n.favourable as favourable,
from numbered as n
where n.budget is not null
order by n.period, n.line
