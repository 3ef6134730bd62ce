-- The statements of one period ($period) for the XLSX export: income statement, balance sheet and
-- cash flow (mart_statements), both rollups, every line in its statement's order with its four
-- exact DECIMAL(18,2) columns. Null is "no data" (the column's months precede the ledger), never 0.
select
    s.statement as statement,
    s.rollup as rollup,
    s.line_order as line_order,
    s.line_id as line_id,
    s.label as label,
    s.kind as kind,
    s.depth as depth,
    s.amount as amount,
    s.prior_month as prior_month,
    s.prior_year as prior_year,
    s.ytd as ytd,
    s.budget as budget,                -- the income statement's budget columns (null: no budget)
    s.variance as variance,
    s.variance_pct as variance_pct,
from mart_statements as s
where s.period = $period
order by
    case s.statement when 'income_statement' then 1 when 'balance_sheet' then 2 else 3 end,
    case s.rollup when 'account' then 1 else 2 end,
    s.line_order
