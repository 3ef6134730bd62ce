-- What the incremental checks (R2, R3, R4: warehouse.recon.INCREMENTAL_CHECKS) read, fingerprinted per
-- input and month, so a run recomputes them only from the earliest month whose inputs changed
-- (warehouse.recon decides, and stores this run's fingerprints in recon_inputs with its verdicts); and
-- what R5 reads (warehouse.recon.R5_INPUTS: params, context, erp_invoices and crm_opportunities, which
-- only R5 reads), so a run with none of them changed on the same run date keeps R5's rows whole.
-- A row per input and month: its row count and an order-free hash of its rows. period '' is an input
-- that is not by month; any change to one of those means every period is recomputed:
--   params        the reconciliation settings, the configured sources and the severity overrides
--   context       first_period, the fiscal year and the company currency (not the run date)
--   erp_accounts, bank_accounts   read whole by R2-R4 (subtypes, the bank account's ledger account)
--   currencies    the document currencies R3/R4 give a row at every month-end, even before they occur
--   crm_opportunities   read by R5 only: a change recomputes R5, never R2-R4
-- By month (a check at a month-end reads only rows dated up to it):
--   erp_journal_lines by posted_date, those on a bank or AR/AP control account (an entry elsewhere,
--   an accrual or a depreciation, changes nothing R2-R4 read); erp_payments by paid_date; bank_transactions by booked_date;
--   bank_balances by balance_date; erp_invoices and erp_bills by the earlier of their issue date and
--   the first journal line naming them (R3/R4 list a control line's document, with its issue date and
--   currency, at every month-end from that line's on, even before the document is issued).

create table if not exists recon_inputs (
    part    varchar not null,   -- the input, or 'open_month' (period: the run's open month's cut-off,
                                -- the run date, as 'YYYY-MM-DD'; its first 7 characters the month)
    period  varchar not null,   -- 'YYYY-MM', or '' for an input that is not by month
    n       bigint not null,    -- rows
    h       hugeint not null    -- sum of the rows' hashes
);

create or replace temp table _recon_inputs_now as
with

doc_first_line as (
    select jl.document_id as document_id, strftime(min(jl.posted_date), '%Y-%m') as period
    from erp_journal_lines as jl
    where jl.document_id is not null
    group by jl.document_id
),

documents as (
    select 'erp_invoices' as part, i.invoice_id as document_id, i.issue_date as issue_date, hash(i) as h
    from erp_invoices as i
    union all
    select 'erp_bills', b.bill_id, b.issue_date, hash(b) from erp_bills as b
),

currencies as (
    select distinct a.subtype as kind, jl.currency as currency
    from erp_journal_lines as jl
    inner join erp_accounts as a
        on a.account_id = jl.account_id
    where a.subtype in ('ar', 'ap')
    union
    select 'ar', i.currency from erp_invoices as i
    union
    select 'ap', b.currency from erp_bills as b
    union
    select 'unapplied', p.currency from erp_payments as p where p.document_id is null
)

select
    'params' as part,
    '' as period,
    1::bigint as n,
    hash(
        p,
        (select coalesce(string_agg(s.check_id || '=' || s.severity, ',' order by s.check_id), '') from recon_severity as s)
    )::hugeint as h,
from recon_params as p
union all
select 'context', '', 1, hash(rc.first_period, rc.fiscal_year_start_month, rc.currency)::hugeint
from run_context as rc
union all
select 'erp_accounts', '', count(*), coalesce(sum(hash(a)::hugeint), 0) from erp_accounts as a
union all
select 'bank_accounts', '', count(*), coalesce(sum(hash(a)::hugeint), 0) from bank_accounts as a
union all
select 'currencies', '', count(*), coalesce(sum(hash(c.kind, c.currency)::hugeint), 0) from currencies as c
union all
select 'crm_opportunities', '', count(*), coalesce(sum(hash(o)::hugeint), 0) from crm_opportunities as o
union all
select 'erp_journal_lines', coalesce(strftime(jl.posted_date, '%Y-%m'), ''), count(*), sum(hash(jl)::hugeint)
from erp_journal_lines as jl
-- only the lines R2-R4 read: on a bank account's ledger account (R2) or an AR/AP control account
-- (R3/R4); which accounts those are is in erp_accounts and bank_accounts, fingerprinted whole
where jl.account_id in (select ba.gl_account_id from bank_accounts as ba)
    or jl.account_id in (select a.account_id from erp_accounts as a where a.subtype in ('ar', 'ap'))
group by all
union all
select d.part, coalesce(least(strftime(d.issue_date, '%Y-%m'), f.period), ''), count(*), sum(d.h::hugeint)
from documents as d
left join doc_first_line as f
    on f.document_id = d.document_id
group by all
union all
select 'erp_payments', coalesce(strftime(p.paid_date, '%Y-%m'), ''), count(*), sum(hash(p)::hugeint)
from erp_payments as p
group by all
union all
select 'bank_transactions', coalesce(strftime(t.booked_date, '%Y-%m'), ''), count(*), sum(hash(t)::hugeint)
from bank_transactions as t
group by all
union all
select 'bank_balances', coalesce(strftime(bb.balance_date, '%Y-%m'), ''), count(*), sum(hash(bb)::hugeint)
from bank_balances as bb
group by all;

-- the inputs that differ from the last run's (new, gone or changed), by month
create or replace temp table _recon_changed as
select coalesce(n.part, o.part) as part, coalesce(n.period, o.period) as period
from _recon_inputs_now as n
full outer join (select * from recon_inputs where part <> 'open_month') as o
    on o.part = n.part and o.period = n.period
where n.n is distinct from o.n or n.h is distinct from o.h;
