-- Helpers the models, the reconciliation and the report queries share (warehouse.models.load_functions
-- loads them). Temp macros live in the connection, not in the warehouse file.
--
-- div_round2(num, den): num / den rounded half away from zero to 2 places, as DECIMAL(18,2), exact.
-- DuckDB divides DECIMALs in DOUBLE (DECIMAL / DECIMAL gives DOUBLE), so the quotient is taken on
-- HUGEINTs instead: both operands are scaled to integers (exact for up to 4 decimal places; money
-- and money x integer have 2), then q = (2|n| + |d|) // (2|d|) is |n / d| rounded half up, and the
-- sign is put back. Null when either operand is null or den = 0; callers decide when else to null.

create or replace temp macro div_round2(num, den) as (
    case
        when num is null or den is null or den = 0 then null
        else (
            (
                sign(num) * sign(den)
                * (
                    (
                        2 * abs((num::decimal(38, 4) * 10000)::hugeint) * 100
                        + abs((den::decimal(38, 4) * 10000)::hugeint)
                    )
                    // (2 * abs((den::decimal(38, 4) * 10000)::hugeint))
                )
            )::decimal(38, 0) * 0.01
        )::decimal(18, 2)
    end
);

-- subtype_label(subtype): a statement line's label for an account subtype ('accrued_liabilities' ->
-- 'Accrued liabilities'; no subtype -> 'Other'), the same on every statement.

create or replace temp macro subtype_label(subtype) as (
    coalesce(upper(left(subtype, 1)) || replace(substr(subtype, 2), '_', ' '), 'Other')
);

-- calendar(): the reported months, the one definition every reader takes them from (the `periods`
-- mart, the reconciliation's cut-offs, the page's open documents): first_period through the month
-- containing run_context.as_of (the open month).
--   period            'YYYY-MM'
--   period_start      the month's first day; period_end its last
--   days              the length of the month, or for the open month the days elapsed (as_of's day)
--   cutoff            the day open items and balances are measured at: period_end, or for the open
--                     month as_of
--   is_open           the month containing as_of
--   is_latest_ended   the month before the open one
--   fiscal_year_start the first day of the fiscal year the month belongs to

create or replace temp macro calendar() as table
with

settings as (
    select
        strptime(rc.first_period || '-01', '%Y-%m-%d')::date as first_month,
        date_trunc('month', rc.as_of)::date as open_month,
        rc.as_of as as_of,
        rc.fiscal_year_start_month as fiscal_year_start_month,
    from run_context as rc
),

months as (
    select
        unnest(generate_series(s.first_month, s.open_month, interval 1 month))::date as period_start,
        s.open_month as open_month,
        s.as_of as as_of,
        s.fiscal_year_start_month as fiscal_year_start_month,
    from settings as s
)

select
    strftime(m.period_start, '%Y-%m') as period,
    m.period_start as period_start,
    last_day(m.period_start) as period_end,
    (
        case
            when m.period_start = m.open_month then day(m.as_of)
            else day(last_day(m.period_start))
        end
    )::integer as days,
    (case when m.period_start = m.open_month then m.as_of else last_day(m.period_start) end)::date as cutoff,
    m.period_start = m.open_month as is_open,
    m.period_start = (m.open_month - interval 1 month)::date as is_latest_ended,
    make_date(
        year(m.period_start)
        - (case when month(m.period_start) < m.fiscal_year_start_month then 1 else 0 end),
        m.fiscal_year_start_month,
        1
    ) as fiscal_year_start,
from months as m;

-- account_days(): each account's debit and credit summed per posting day (account_id, posted_date,
-- debit, credit), from erp_journal_lines: what the explanations' opening balances and earnings rows add
-- up (a few rows per account and day instead of every line once per period;
-- reports/queries/explain_account_moves.sql, explain_earnings.sql).

create or replace temp macro account_days() as table
select
    jl.account_id as account_id,
    jl.posted_date as posted_date,
    sum(jl.debit) as debit,
    sum(jl.credit) as credit,
from erp_journal_lines as jl
group by all;

-- open_documents(): "a document open at a cutoff", the one definition R3/R4 (sql/recon), the page's
-- AR/AP tables and aging, and the export read. Every invoice (kind 'ar') and bill (kind 'ap') open at
-- each calendar() cutoff: issued by then, not a draft, not void by then (a void document without a
-- voided_date never counts), at total - its applications (payment lines naming it: payments,
-- credits applied, write-offs, refunds) dated up to the cutoff; credit notes carry negative amounts.
-- Rows with nothing left open are left out. days_overdue = cutoff - due_date (negative: not yet due).
-- open_documents(from_period := 'YYYY-MM'): only the cutoffs of that period and later (the
-- reconciliation's incremental run: warehouse.recon).
-- Computed set-based (issue 21: 4x faster at scale 100 than joining every document to every cut-off
-- and its applications dated up to it): a document's open balance only changes on its issue date and
-- the days it gets applications, so each such day starts a segment with its balance, lasting until
-- the next such day or the voiding; a cut-off takes the open segment it falls in, so no row is made
-- for a document at a cut-off where nothing is open (tests/warehouse/test_shared_definitions.py
-- holds it to a walk in Python).

create or replace temp macro open_documents(from_period := null) as table
with

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

-- doc_no: a number per document (materialized, so every reader sees the same numbering), which the
-- windows below partition and sort by instead of (kind, document_id) strings
issued as materialized (
    select d.*, row_number() over () as doc_no,
    from documents as d
    where d.status <> 'draft'
        and not (d.status = 'void' and d.voided_date is null)
        and d.issue_date is not null
),

applied as (
    select pay.document_id as document_id, pay.paid_date as paid_date, sum(pay.amount) as amount,
    from erp_payments as pay
    where pay.document_id is not null and pay.paid_date is not null
    group by all
),

steps as (
    select d.doc_no as doc_no, d.issue_date as day, 0 as amount,
    from issued as d
    union all
    select d.doc_no, greatest(a.paid_date, d.issue_date), a.amount,
    from issued as d
    inner join applied as a
        on a.document_id = d.document_id
),

by_day as (
    select s.doc_no as doc_no, s.day as day, sum(s.amount) as amount,
    from steps as s
    group by all
),

-- a document's open balance is a step function of the cut-off: each segment holds from `day` (its
-- issue, or a day with applications) until the next such day or its voiding, whichever comes first
segments as (
    select
        d.doc_no as doc_no,
        b.day as day,
        least(
            coalesce(lead(b.day) over (partition by b.doc_no order by b.day), 'infinity'::date),
            coalesce(d.voided_date, 'infinity'::date)
        ) as until,
        (d.total - coalesce(sum(b.amount) over (
            partition by b.doc_no order by b.day rows between unbounded preceding and current row
        ), 0))::decimal(18, 2) as open_balance,
    from by_day as b
    inner join issued as d
        on d.doc_no = b.doc_no
),

open_segments as materialized (
    select * from segments as s where s.open_balance <> 0 and s.day < s.until
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
        s.open_balance as open_balance,
    from open_segments as s
    inner join (select * from calendar() where from_period is null or period >= from_period) as c
        on c.cutoff >= s.day
        and c.cutoff < s.until
    inner join issued as d
        on d.doc_no = s.doc_no
)

select
    ac.*,
    (ac.cutoff - coalesce(ac.due_date, ac.cutoff))::integer as days_overdue,
from at_cutoff as ac;
