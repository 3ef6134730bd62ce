-- Invoices and credit notes open at each period's cutoff, with their days overdue (open_documents():
-- warehouse/sql/marts/00_functions.sql, the definition R3 reconciles).
select
    od.period as period,
    od.document_id as invoice_id,
    od.party_name as customer,
    od.doc_type as doc_type,
    od.issue_date as issue_date,
    od.due_date as due_date,
    od.days_overdue as days_overdue,
    od.total as total,
    od.open_balance as open_balance,
    od.currency as currency,
from open_documents() as od
where od.kind = 'ar'
order by od.period, od.days_overdue desc, od.document_id
