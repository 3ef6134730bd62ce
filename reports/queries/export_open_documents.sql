-- Invoices (kind 'ar') and bills (kind 'ap') open at one period's cutoff ($period), for the XLSX
-- export: the same open_documents() macro the page's tables and R3/R4 read (warehouse/sql/marts/
-- 00_functions.sql), exact amounts.
select
    od.kind as kind,
    od.document_id as document_id,
    od.party_name as party,
    od.doc_type as doc_type,
    od.issue_date as issue_date,
    od.due_date as due_date,
    od.days_overdue as days_overdue,
    od.total as total,
    od.open_balance as open_balance,
    od.currency as currency,
from open_documents() as od
where od.period = $period
order by od.kind, od.days_overdue desc, od.document_id
