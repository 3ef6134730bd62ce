-- Table macros the section queries share (temp: they live in the rendering connection only).
--
-- report_cutoffs(): each reported period with the date its open items are measured at: the
--   month-end, or the run's as-of date for the open month.
-- open_documents(): every invoice (kind 'ar') and bill (kind 'ap') open at each cutoff:
--   issued by then, not a draft, not void by then, at total - applications (payments, credits,
--   write-offs) dated up to the cutoff; credit notes carry negative amounts. Rows with nothing
--   left open are left out. days_overdue = cutoff - due_date (negative: not yet due).

create or replace temp macro report_cutoffs() as table
select
    p.period as period,
    p.period_start as period_start,
    least(p.period_end, rc.as_of) as cutoff,
    p.is_open as is_open,
from periods as p
cross join run_context as rc;

create or replace temp macro open_documents() as table
with

applications as (
    select
        pay.document_id as document_id,
        pay.paid_date as paid_date,
        pay.amount as amount,
    from erp_payments as pay
    where pay.document_id is not null
),

documents as (
    select
        'ar' as kind,
        i.invoice_id as document_id,
        i.customer_id as party_id,
        i.customer_name as party_name,
        i.issue_date as issue_date,
        i.due_date as due_date,
        i.total as total,
        i.currency as currency,
        i.doc_type as doc_type,
        i.status as status,
        i.voided_date as voided_date,
    from erp_invoices as i
    union all
    select
        'ap' as kind,
        b.bill_id as document_id,
        b.vendor_id as party_id,
        b.vendor_name as party_name,
        b.issue_date as issue_date,
        b.due_date as due_date,
        b.total as total,
        b.currency as currency,
        b.doc_type as doc_type,
        b.status as status,
        b.voided_date as voided_date,
    from erp_bills as b
),

issued as (
    select * from documents as d
    where d.status <> 'draft'
        and not (d.status = 'void' and d.voided_date is null)
),

at_cutoff as (
    select
        c.period as period,
        c.cutoff as cutoff,
        d.kind as kind,
        d.document_id as document_id,
        d.party_id as party_id,
        d.party_name as party_name,
        d.issue_date as issue_date,
        d.due_date as due_date,
        d.total as total,
        d.currency as currency,
        d.doc_type as doc_type,
        (d.total - coalesce(sum(a.amount), 0))::decimal(18, 2) as open_balance,
    from report_cutoffs() as c
    inner join issued as d
        on d.issue_date <= c.cutoff
        and (d.voided_date is null or d.voided_date > c.cutoff)
    left join applications as a
        on a.document_id = d.document_id
        and a.paid_date <= c.cutoff
    group by
        c.period, c.cutoff, d.kind, d.document_id, d.party_id, d.party_name, d.issue_date,
        d.due_date, d.total, d.currency, d.doc_type
)

select
    ac.*,
    (ac.cutoff - coalesce(ac.due_date, ac.cutoff))::integer as days_overdue,
from at_cutoff as ac
where ac.open_balance <> 0;
