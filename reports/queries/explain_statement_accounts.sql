-- The accounts behind each income-statement line and the sign the line gives them
-- (statement_line_accounts, warehouse/sql/marts/82_budget.sql): `closeboard explain` and the page's
-- click-to-explain list their journal lines.
select la.rollup as rollup, la.line_id as line_id, la.account_id as account_id, la.sign as sign,
from statement_line_accounts as la
order by la.rollup, la.line_id, la.account_id
