-- `closeboard mcp`: the published run's settings: its date (the company's today when it ran) and
-- the reporting currency.
select
    rc.as_of as run_date,
    rc.currency as currency,
from run_context as rc
