-- The statements of every reported period (mart_statements): income statement, balance sheet and
-- cash flow, by account (nested by parent_id) and by type/subtype, each line with its four exact
-- columns (the period, the month before, the same month a year before, year to date). Null is
-- "no data" (the column's months precede the ledger), never 0.00. `line` refers to
-- statement_lines.sql (same numbering), which carries each line's label, kind and depth once.
select
    s.period as period,
    dense_rank() over (order by s.statement, s.rollup, s.line_id) as line,
    s.amount as amount,
    s.prior_month as prior_month,
    s.prior_year as prior_year,
    s.ytd as ytd,
from mart_statements as s
order by s.period, line
