-- Bills open at each period's cutoff, soonest due first (days_to_due < 0: overdue); open_documents():
-- warehouse/sql/marts/00_functions.sql, the definition R4 reconciles.
select
    od.period as period,
    od.document_id as bill_id,
    od.party_name as vendor,
    od.doc_type as doc_type,
    od.issue_date as issue_date,
    od.due_date as due_date,
    (-od.days_overdue)::integer as days_to_due,
    od.total as total,
    od.open_balance as open_balance,
    od.currency as currency,
from open_documents() as od
where od.kind = 'ap'
order by od.period, od.due_date, od.document_id
