-- R3 AR and R4 AP: per document currency, at each month-end, the subledger (sum of open items) equals
-- the GL balance of the control accounts (subtype 'ar', debit-positive; subtype 'ap', credit-positive).
-- A document counts at a month-end as open_documents() (marts/00_functions.sql) says: issued by then,
-- not a draft and not void by then, at total - its applications (payments, credits applied,
-- write-offs, refunds: payment lines naming it) dated up to the month-end; unapplied cash (a payment
-- line naming no document) is a credit in AR.
-- Each document's reported `balance` must equal total - all its applications (today's figure:
-- checked under the latest ended period and the open one). Evidence: every document whose open
-- amount differs from its control-account lines at the month-end, control lines with no document,
-- unapplied cash, and balance mismatches. expected = control balance, actual = subledger.

create or replace temp table _recon_docs as
select
    'R3_ar' as check_id,
    i.invoice_id as doc_id,
    i.issue_date as issue_date,
    i.total as total,
    i.balance as balance,
    i.currency as currency,
    i.status as status,
from erp_invoices as i
union all
select
    'R4_ap',
    b.bill_id,
    b.issue_date,
    b.total,
    b.balance,
    b.currency,
    b.status,
from erp_bills as b;

create or replace temp table _recon_apps as
select d.check_id as check_id, p.document_id as doc_id, p.paid_date as paid_date, p.amount as amount
from erp_payments as p
inner join _recon_docs as d
    on d.doc_id = p.document_id;

create or replace temp table _recon_unapplied as
select p.payment_id || ':' || p.line_no as record_id, p.paid_date as paid_date, p.currency as currency, p.amount as amount
from erp_payments as p
where p.document_id is null;

create or replace temp table _recon_control as
select
    case a.subtype when 'ar' then 'R3_ar' else 'R4_ap' end as check_id,
    jl.entry_id || ':' || jl.line_no as record_id,
    jl.posted_date as posted_date,
    jl.document_id as doc_id,
    jl.currency as currency,
    (
        case when a.subtype = 'ar' then 1 else -1 end
        * case when jl.currency = b.currency then jl.debit - jl.credit else jl.amount_currency end
    )::decimal(18, 2) as amount,
from erp_journal_lines as jl
inner join erp_accounts as a
    on a.account_id = jl.account_id
cross join _recon_bounds as b
where a.subtype in ('ar', 'ap');

-- per document and month-end: the subledger's open amount (open_documents(), marts/00_functions.sql:
-- the one definition of a document open at a cutoff, which the page and the export read too) and the
-- control account's lines. A document of the subledger that is not open at a cutoff counts 0 there.
create or replace temp table _recon_doc_positions as
with

subledger as (
    select
        od.period as period,
        od.cutoff as cutoff,
        case od.kind when 'ar' then 'R3_ar' else 'R4_ap' end as check_id,
        od.document_id as doc_id,
        od.issue_date as issue_date,
        od.currency as currency,
        od.open_balance as open_amount,
    from open_documents(from_period := (select from_period from recon_params)) as od
),

-- a document's control-account balance is a step function of the cut-off, like its open amount: each
-- day with lines naming it starts a segment (its running sum, first line date and smallest currency)
-- lasting until the next such day. A cut-off takes the segment it falls in, and only when its balance
-- is not 0: a document at 0 on both sides is no finding and adds 0 to every sum below, so no row is
-- made for it (not one per document and month-end: issue 21, 1 GiB at scale 100).
control_days as (
    select c.check_id as check_id, c.doc_id as doc_id, c.posted_date as day, sum(c.amount) as amount,
        min(c.currency) as currency,
    from _recon_control as c
    where c.doc_id is not null
    group by all
),

control_segments as (
    select
        cd.check_id as check_id,
        cd.doc_id as doc_id,
        cd.day as day,
        coalesce(lead(cd.day) over by_day, 'infinity'::date) as until,
        min(cd.day) over (partition by cd.check_id, cd.doc_id) as first_posted,
        min(cd.currency) over (by_day rows between unbounded preceding and current row) as currency,
        sum(cd.amount) over (by_day rows between unbounded preceding and current row) as gl_amount,
    from control_days as cd
    window by_day as (partition by cd.check_id, cd.doc_id order by cd.day)
),

control as (
    select co.period as period, co.cutoff as cutoff, s.check_id as check_id, s.doc_id as doc_id,
        s.currency as currency, s.first_posted as first_posted, s.gl_amount as gl_amount,
    from control_segments as s
    inner join _recon_scope as co
        on co.cutoff >= s.day
        and co.cutoff < s.until
    where not co.is_opening and s.gl_amount <> 0
),

positions as (
    select
        coalesce(s.period, c.period) as period,
        coalesce(s.cutoff, c.cutoff) as cutoff,
        coalesce(s.check_id, c.check_id) as check_id,
        coalesce(s.doc_id, c.doc_id) as doc_id,
        s.issue_date as issue_date,
        s.currency as currency,
        c.first_posted as first_posted,
        c.currency as gl_currency,
        coalesce(s.open_amount, 0)::decimal(18, 2) as open_amount,
        coalesce(c.gl_amount, 0)::decimal(18, 2) as gl_amount,
    from subledger as s
    full outer join control as c
        on c.period = s.period and c.check_id = s.check_id and c.doc_id = s.doc_id
)

select
    p.period as period,
    p.cutoff as cutoff,
    p.check_id as check_id,
    p.doc_id as doc_id,
    coalesce(p.issue_date, d.issue_date, p.first_posted) as doc_date,
    coalesce(p.currency, d.currency, p.gl_currency) as currency,
    p.open_amount as open_amount,
    p.gl_amount as gl_amount,
    d.doc_id is not null as in_subledger,
from positions as p
left join _recon_docs as d
    on d.check_id = p.check_id and d.doc_id = p.doc_id;

create or replace temp table _recon_balance_mismatch as
select
    d.check_id as check_id,
    d.doc_id as doc_id,
    d.issue_date as issue_date,
    d.balance as balance,
    (d.total - coalesce(sum(a.amount), 0))::decimal(18, 2) as computed,
from _recon_docs as d
left join _recon_apps as a
    on a.check_id = d.check_id and a.doc_id = d.doc_id
group by d.check_id, d.doc_id, d.issue_date, d.balance, d.total, d.status
having d.balance <> d.total - coalesce(sum(a.amount), 0)
    and not (d.status = 'void' and d.balance = 0);

insert into _recon_items
select
    p.period,
    p.check_id,
    'erp',
    p.doc_id,
    p.doc_date,
    (p.open_amount - p.gl_amount)::decimal(18, 2),
    case
        when not p.in_subledger then 'control-account lines name document ' || p.doc_id
            || ', which is not in the subledger: ' || p.gl_amount || ' at ' || p.cutoff::varchar
        else 'open amount ' || p.open_amount || ' at ' || p.cutoff::varchar || ' vs ' || p.gl_amount
            || ' on the ' || case p.check_id when 'R3_ar' then 'AR' else 'AP' end || ' control account'
    end,
from _recon_doc_positions as p
where p.open_amount <> p.gl_amount;

insert into _recon_items
select
    _recon_period(c.posted_date),
    c.check_id,
    'erp',
    c.record_id,
    c.posted_date,
    c.amount,
    case c.check_id when 'R3_ar' then 'AR' else 'AP' end || ' control-account line with no document',
from _recon_control as c
where c.doc_id is null;

insert into _recon_items
select
    _recon_period(u.paid_date),
    'R3_ar',
    'erp',
    u.record_id,
    u.paid_date,
    u.amount,
    'unapplied cash (a credit in the AR subledger)',
from _recon_unapplied as u;

insert into _recon_items
select
    co.period,
    m.check_id,
    'erp',
    m.doc_id,
    m.issue_date,
    (m.balance - m.computed)::decimal(18, 2),
    'reported balance ' || m.balance || ' but total - applications = ' || m.computed,
from _recon_balance_mismatch as m
cross join _recon_scope as co
where co.is_open or co.is_latest_ended;

insert into _recon_results
with

sides as (
    select * from (values ('R3_ar'), ('R4_ap')) as s(check_id)
),

currencies as (
    select distinct check_id, currency from _recon_docs
    union
    select distinct check_id, currency from _recon_control
    union
    select distinct 'R3_ar', currency from _recon_unapplied
),

subledger as (
    select p.period as period, p.check_id as check_id, p.currency as currency, sum(p.open_amount) as amount
    from _recon_doc_positions as p
    where p.in_subledger
    group by all
),

unapplied as (
    select co.period as period, u.currency as currency, sum(u.amount) as amount
    from _recon_scope as co
    inner join _recon_unapplied as u
        on u.paid_date <= co.cutoff
    group by all
),

control as (
    select co.period as period, c.check_id as check_id, c.currency as currency, sum(c.amount) as amount
    from _recon_scope as co
    inner join _recon_control as c
        on c.posted_date <= co.cutoff
    group by all
),

per_currency as (
    select
        co.period as period,
        cu.check_id as check_id,
        cu.currency as currency,
        coalesce(c.amount, 0)::decimal(18, 2) as control_balance,
        (coalesce(s.amount, 0)
            - case when cu.check_id = 'R3_ar' then coalesce(u.amount, 0) else 0 end)::decimal(18, 2) as subledger,
    from _recon_scope as co
    cross join currencies as cu
    left join subledger as s
        on s.period = co.period and s.check_id = cu.check_id and s.currency = cu.currency
    left join unapplied as u
        on u.period = co.period and u.currency = cu.currency
    left join control as c
        on c.period = co.period and c.check_id = cu.check_id and c.currency = cu.currency
    where not co.is_opening
),

mismatches as (
    select co.period as period, m.check_id as check_id, count(*) as n
    from _recon_balance_mismatch as m
    cross join _recon_scope as co
    where co.is_open or co.is_latest_ended
    group by all
),

grid as (
    select co.period as period, s.check_id as check_id
    from _recon_scope as co
    cross join sides as s
    where not co.is_opening
)

select
    g.period,
    g.check_id,
    case
        when bool_or(pc.subledger <> pc.control_balance) or coalesce(max(m.n), 0) > 0 then 'fail'
        else 'pass'
    end,
    case when count(distinct pc.currency) <= 1 then coalesce(sum(pc.control_balance), 0) end,
    case when count(distinct pc.currency) <= 1 then coalesce(sum(pc.subledger), 0) end,
    case when count(distinct pc.currency) <= 1 then coalesce(sum(pc.subledger - pc.control_balance), 0) end,
    coalesce(
        string_agg(
            pc.currency || ': subledger ' || pc.subledger || ' vs control ' || pc.control_balance
            || ', difference ' || (pc.subledger - pc.control_balance)::decimal(18, 2),
            '; ' order by pc.currency
        ),
        'no documents'
    )
    || case when coalesce(max(m.n), 0) > 0
        then '; ' || max(m.n) || ' document(s) whose reported balance is not total - applications'
        else '' end,
from grid as g
left join per_currency as pc
    on pc.period = g.period and pc.check_id = g.check_id
left join mismatches as m
    on m.period = g.period and m.check_id = g.check_id
group by g.period, g.check_id;
