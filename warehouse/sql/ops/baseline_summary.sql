-- A stored summary (month x account or key: lines, debit, credit). $1: its scope, the source for its
-- ledger summary or 'source/table' for a table pulled by months (documents, bank lines).
select period, account_id, lines, debit, credit
from ledger_summary
where source = $1
