-- R6 completeness and freshness, over what the last load of each table received (source_loads).
-- Every record a source sent is accounted for: staged (received) + set aside by the adapter
-- (rows_rejected) = the source's reported `total`; of the staged rows, loaded + quarantined at
-- publish. A table whose rejected rows (adapter + publish) are all it sent, or more than
-- max_rejected_share of it, is an ERROR naming the first reasons: it never reads as a quiet month.
--   ERROR: the counts above; keys unique in the canonical tables; the rejected share; an account
--          whose parent_id does not exist;
--   WARN:  each rejected record (listed with its reason); postings or bank lines dated after the run
--          date; a source whose `as_of` is older than freshness_hours at load time, or missing.
-- A table of a source closeboard.yaml does not configure, or that its adapter does not read (tool
-- "(...)"), is not checked. These describe the current load, not a month: they are reported under the
-- open period; every ended period gets a pass row that says so. expected = rows reported, actual =
-- rows the source sent (received + rejected by the adapter).

create or replace temp table _recon_r6_loads as
select * from source_loads where tool not like '(%';

create or replace temp table _recon_r6_keys as
select 'erp_accounts' as table_name, count(*) - count(distinct account_id) as duplicates from erp_accounts
union all select 'erp_journal_lines', count(*) - count(distinct (entry_id, line_no)) from erp_journal_lines
union all select 'erp_invoices', count(*) - count(distinct invoice_id) from erp_invoices
union all select 'erp_bills', count(*) - count(distinct bill_id) from erp_bills
union all select 'erp_payments', count(*) - count(distinct (payment_id, line_no)) from erp_payments
union all select 'erp_fx_rates', count(*) - count(distinct (currency, rate_date)) from erp_fx_rates
union all select 'erp_trial_balance', count(*) - count(distinct (balance_date, account_id)) from erp_trial_balance
union all select 'bank_accounts', count(*) - count(distinct bank_account_id) from bank_accounts
union all select 'bank_transactions', count(*) - count(distinct txn_id) from bank_transactions
union all select 'bank_balances', count(*) - count(distinct (bank_account_id, balance_date)) from bank_balances
union all select 'crm_opportunities', count(*) - count(distinct opportunity_id) from crm_opportunities;

create or replace temp table _recon_r6_findings (
    severity varchar, source varchar, record_id varchar, record_date date, amount decimal(18, 2), reason varchar
);

insert into _recon_r6_findings
select
    'fail', sl.source, sl.table_name, null, (sl.rows_received + sl.rows_rejected - sl.reported_total)::decimal(18, 2),
    sl.tool || ' reported a total of ' || sl.reported_total || ' rows for ' || sl.table_name
    || ' but served ' || (sl.rows_received + sl.rows_rejected)
    || case when sl.rows_rejected > 0 then ' (' || sl.rows_rejected || ' of them rejected by the adapter)' else '' end,
from _recon_r6_loads as sl
where sl.reported_total is not null and sl.rows_received + sl.rows_rejected <> sl.reported_total;

insert into _recon_r6_findings
select 'fail', 'warehouse', k.table_name, null, k.duplicates::decimal(18, 2),
    k.table_name || ' holds ' || k.duplicates || ' row(s) with a duplicate key',
from _recon_r6_keys as k
where k.duplicates > 0;

insert into _recon_r6_findings
select
    'fail', sl.source, sl.table_name, null, (sl.rows_rejected + sl.rows_quarantined)::decimal(18, 2),
    sl.table_name || ': ' || (sl.rows_rejected + sl.rows_quarantined) || ' of '
    || (sl.rows_received + sl.rows_rejected) || ' rows rejected ('
    || sl.rows_rejected || ' by the adapter, ' || sl.rows_quarantined || ' at publish)'
    || case when sl.rows_rejected + sl.rows_quarantined = sl.rows_received + sl.rows_rejected
            then ', every row' else ', more than ' || (p.max_rejected_share * 100)::double || '%' end
    || '; first reasons: ' || coalesce((
        select string_agg(r.reason, ' | ') from (
            select q.reason from quarantine as q
            where q.run_id = sl.run_id and q.source = sl.source and q.tool = sl.tool
            group by q.reason order by min(rowid) limit 3
        ) as r
    ), 'none recorded'),
from _recon_r6_loads as sl
cross join recon_params as p
where sl.rows_rejected + sl.rows_quarantined > 0
    and (sl.rows_rejected + sl.rows_quarantined = sl.rows_received + sl.rows_rejected
         or (sl.rows_rejected + sl.rows_quarantined)::decimal(38, 10)
            > p.max_rejected_share * (sl.rows_received + sl.rows_rejected));

insert into _recon_r6_findings
select
    'warn', q.source, q.tool || ' ' || left(q.record, 160), null, null,
    'rejected from ' || q.tool || ': ' || q.reason,
from quarantine as q
semi join (select distinct run_id, source, tool from _recon_r6_loads) as sl
    on q.run_id = sl.run_id and q.source = sl.source and q.tool = sl.tool;

-- the chart of accounts rolls up by parent_id (statements): a parent that does not exist, or an
-- account that is its own parent, is a finding about the account
insert into _recon_r6_findings
select 'fail', 'erp', a.account_id, null, null,
    case when a.parent_id = a.account_id then 'account ' || a.account_id || ' names itself as its parent'
         else 'account ' || a.account_id || ' names parent_id ' || a.parent_id || ', which is not in erp_accounts' end,
from erp_accounts as a
where a.parent_id is not null
    and (a.parent_id = a.account_id or a.parent_id not in (select account_id from erp_accounts));

insert into _recon_r6_findings
select 'warn', 'erp', jl.entry_id || ':' || jl.line_no, jl.posted_date, (jl.debit - jl.credit)::decimal(18, 2),
    'journal line posted after the run date ' || b.as_of::varchar,
from erp_journal_lines as jl
cross join _recon_bounds as b
where jl.posted_date > b.as_of;

insert into _recon_r6_findings
select 'warn', 'bank', t.txn_id, t.booked_date, t.amount,
    'bank line booked after the run date ' || b.as_of::varchar,
from bank_transactions as t
cross join _recon_bounds as b
where t.booked_date > b.as_of;

insert into _recon_r6_findings
select
    'warn', sl.source, sl.table_name, null, null,
    case
        when try_cast(sl.source_as_of as timestamptz) is null
            then sl.tool || ' gave no usable as_of (' || coalesce(sl.source_as_of, 'none') || ')'
        else sl.tool || ' data as of ' || sl.source_as_of || ' was older than ' || p.freshness_hours
            || ' hours when loaded at ' || sl.loaded_at::varchar
    end,
from _recon_r6_loads as sl
cross join recon_params as p
where try_cast(sl.source_as_of as timestamptz) is null
    or try_cast(sl.source_as_of as timestamptz) < sl.loaded_at - to_hours(p.freshness_hours);

insert into _recon_items
select co.period, 'R6_completeness', f.source, f.record_id, f.record_date, f.amount, f.reason
from _recon_r6_findings as f
inner join _recon_cutoffs as co
    on co.is_open;

insert into _recon_results
with

loads as (
    select
        coalesce(sum(sl.reported_total), 0) as reported,
        coalesce(sum(sl.rows_received + sl.rows_rejected), 0) as sent,
        coalesce(sum(sl.rows_received), 0) as received,
        coalesce(sum(sl.rows_loaded), 0) as loaded,
        coalesce(sum(sl.rows_rejected), 0) as rejected,
        coalesce(sum(sl.rows_quarantined), 0) as quarantined,
        count(*) as tables,
    from _recon_r6_loads as sl
),

findings as (
    select
        count(*) filter (where f.severity = 'fail') as errors,
        count(*) filter (where f.severity = 'warn') as warnings,
    from _recon_r6_findings as f
)

select
    co.period,
    'R6_completeness',
    case
        when not co.is_open then 'pass'
        when f.errors > 0 then 'fail'
        when f.warnings > 0 then 'warn'
        else 'pass'
    end,
    case when co.is_open then l.reported::decimal(18, 2) end,
    case when co.is_open then l.sent::decimal(18, 2) end,
    case when co.is_open then (l.sent - l.reported)::decimal(18, 2) end,
    case
        when co.is_open then l.tables || ' table(s): ' || l.reported || ' rows reported by the sources, '
            || l.sent || ' sent, ' || l.loaded || ' loaded, ' || l.rejected || ' rejected by the adapter, '
            || l.quarantined || ' quarantined at publish; '
            || f.errors || ' error finding(s), ' || f.warnings || ' warning(s)'
        else 'load completeness and freshness are checked under the open period'
    end,
from _recon_cutoffs as co
cross join loads as l
cross join findings as f
where not co.is_opening;
