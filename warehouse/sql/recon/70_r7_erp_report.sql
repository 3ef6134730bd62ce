-- R7 ERP report tie-out: at every cut-off where the ERP gave its own trial balance (erp_trial_balance,
-- cumulative Σdebit / Σcredit since inception, one row per account), each account's balance in
-- closeboard (Σ debit - credit of the journal lines dated up to the cut-off) equals the ERP's
-- (debit - credit), exactly. It catches what no other check can: lines the API does not serve (a
-- journal outside the token's scope, a filter), which leave closeboard's own books balanced and wrong.
-- An account in only one of the two counts as 0 in the other. Each differing account is an item with
-- both balances. A cut-off the ERP gave no trial balance for is `not_configured` ("not available"),
-- never a pass; so is every period when the source gives none at all.
--   expected = Σ|ERP balance| over its accounts, actual = the same over closeboard's,
--   difference = Σ |closeboard - ERP| over the accounts (0 when they agree; a hidden balanced entry
--   would cancel out in a signed sum).

create or replace temp table _recon_r7_cuts as
select co.period, co.cutoff
from _recon_cutoffs as co
where not co.is_opening
    and exists (select 1 from erp_trial_balance as tb where tb.balance_date = co.cutoff);

create or replace temp table _recon_r7_balances as
with

daily as (
    select jl.account_id as account_id, jl.posted_date as d, sum(jl.debit - jl.credit) as amount
    from erp_journal_lines as jl
    group by all
),

running as (
    select account_id, d, sum(amount) over (partition by account_id order by d) as balance
    from daily
),

ours as (
    select c.period as period, c.cutoff as cutoff, r.account_id as account_id, r.balance as balance
    from _recon_r7_cuts as c
    cross join (select distinct account_id from daily) as a
    asof join running as r
        on r.account_id = a.account_id and r.d <= c.cutoff
),

theirs as (
    select c.period as period, c.cutoff as cutoff, tb.account_id as account_id,
        sum(tb.debit - tb.credit) as balance
    from _recon_r7_cuts as c
    inner join erp_trial_balance as tb
        on tb.balance_date = c.cutoff
    group by all
)

select
    coalesce(o.period, t.period) as period,
    coalesce(o.cutoff, t.cutoff) as cutoff,
    coalesce(o.account_id, t.account_id) as account_id,
    coalesce(o.balance, 0)::decimal(18, 2) as ours,
    coalesce(t.balance, 0)::decimal(18, 2) as theirs,
from ours as o
full outer join theirs as t
    on t.period = o.period and t.account_id = o.account_id;

insert into _recon_items
select b.period, 'R7_erp_report', 'erp', b.account_id, b.cutoff, (b.ours - b.theirs)::decimal(18, 2),
    'account ' || b.account_id || ': closeboard balance ' || b.ours::varchar || ', the ERP''s trial balance '
    || b.theirs::varchar || ' at ' || b.cutoff::varchar,
from _recon_r7_balances as b
where b.ours <> b.theirs;

insert into _recon_results
with

per_period as (
    select
        b.period as period,
        any_value(b.cutoff) as cutoff,
        sum(abs(b.theirs)) as expected,
        sum(abs(b.ours)) as actual,
        sum(abs(b.ours - b.theirs)) as difference,
        count(*) filter (where b.ours <> b.theirs) as differing,
        string_agg(b.account_id, ', ' order by abs(b.ours - b.theirs) desc, b.account_id)
            filter (where b.ours <> b.theirs) as accounts,
    from _recon_r7_balances as b
    group by b.period
),

any_report as (
    select count(*) > 0 as given from erp_trial_balance
)

select
    co.period,
    'R7_erp_report',
    case when p.period is null then 'not_configured' when p.differing > 0 then 'fail' else 'pass' end,
    p.expected::decimal(18, 2),
    p.actual::decimal(18, 2),
    p.difference::decimal(18, 2),
    case
        when not ar.given then
            'not available: the ERP source gives no trial balance of its own (allow-list its report tool, '
            || 'e.g. get_trial_balance, where the adapter reads one)'
        when p.period is null then 'not available: no ERP trial balance at ' || co.cutoff::varchar
        when p.differing > 0 then
            p.differing || ' account(s) differ from the ERP''s own trial balance at ' || p.cutoff::varchar
            || ': ' || p.accounts
        else 'every account''s balance equals the ERP''s own trial balance at ' || p.cutoff::varchar
    end,
from _recon_cutoffs as co
cross join any_report as ar
left join (select * from per_period) as p
    on p.period = co.period
where not co.is_opening;
