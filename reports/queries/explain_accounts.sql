-- Account names, for rows that carry only an account_id (journal lines read straight from
-- erp_journal_lines).
select
    a.account_id as account_id,
    a.name as account_name,
from erp_accounts as a
