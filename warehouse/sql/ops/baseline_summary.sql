-- The stored ledger summary of one source (month x account: lines, debit, credit). $1: the source.
select period, account_id, lines, debit, credit
from ledger_summary
where source = $1
