-- R1 trial balance (ERROR): every journal entry balances; per period sum(debit) = sum(credit); every
-- line's account exists in erp_accounts with one of the five types; and at every month-end
-- assets = liabilities + equity + earnings (revenue - expenses), over the whole ledger up to it.
-- expected = assets, actual = liabilities + equity + earnings, difference = actual - expected.
-- An unbalanced entry or a line on an unknown account is listed in the month it is posted in
-- (clamped to the reported range); the balance sheet stays out of balance at every later month-end.

create or replace temp table _recon_r1_unbalanced as
select
    jl.entry_id as entry_id,
    min(jl.posted_date) as posted_date,
    sum(jl.debit) as debit,
    sum(jl.credit) as credit,
from erp_journal_lines as jl
group by jl.entry_id
having sum(jl.debit) <> sum(jl.credit);

create or replace temp table _recon_r1_unknown as
select jl.*, a.type as account_type
from erp_journal_lines as jl
left join erp_accounts as a
    on a.account_id = jl.account_id
where a.account_id is null
    or a.type not in ('asset', 'liability', 'equity', 'revenue', 'expense');

insert into _recon_items
select
    _recon_period(u.posted_date),
    'R1_trial_balance',
    'erp',
    u.entry_id,
    u.posted_date,
    (u.debit - u.credit)::decimal(18, 2),
    'journal entry does not balance: debit ' || u.debit || ', credit ' || u.credit,
from _recon_r1_unbalanced as u;

insert into _recon_items
select
    _recon_period(u.posted_date),
    'R1_trial_balance',
    'erp',
    u.entry_id || ':' || u.line_no,
    u.posted_date,
    (u.debit - u.credit)::decimal(18, 2),
    case
        when u.account_type is null then 'line on account ' || u.account_id || ', which is not in the chart of accounts'
        else 'line on account ' || u.account_id || ' of unknown type ' || u.account_type
    end,
from _recon_r1_unknown as u;

insert into _recon_results
with

by_day as (
    select
        jl.posted_date as d,
        sum(jl.debit) as debit,
        sum(jl.credit) as credit,
        sum(case when a.type = 'asset' then jl.debit - jl.credit else 0 end) as assets,
        sum(case when a.type in ('liability', 'equity', 'revenue', 'expense') then jl.credit - jl.debit else 0 end)
            as claims,
    from erp_journal_lines as jl
    left join erp_accounts as a
        on a.account_id = jl.account_id
    group by jl.posted_date
),

periods as (
    select
        co.period as period,
        co.cutoff as cutoff,
        sum(b.assets) as assets,
        sum(b.claims) as claims,
        coalesce(sum(b.debit) filter (where b.d >= date_trunc('month', co.cutoff)), 0) as period_debit,
        coalesce(sum(b.credit) filter (where b.d >= date_trunc('month', co.cutoff)), 0) as period_credit,
    from _recon_cutoffs as co
    left join by_day as b
        on b.d <= co.cutoff
    where not co.is_opening
    group by co.period, co.cutoff
),

offending as (
    select i.period as period, count(*) as items
    from _recon_items as i
    where i.check_id = 'R1_trial_balance'
    group by i.period
)

select
    p.period,
    'R1_trial_balance',
    case
        when coalesce(o.items, 0) > 0 or coalesce(p.assets, 0) <> coalesce(p.claims, 0)
            or p.period_debit <> p.period_credit then 'fail'
        else 'pass'
    end,
    coalesce(p.assets, 0)::decimal(18, 2),
    coalesce(p.claims, 0)::decimal(18, 2),
    (coalesce(p.claims, 0) - coalesce(p.assets, 0))::decimal(18, 2),
    'at ' || p.cutoff::varchar || ': assets ' || coalesce(p.assets, 0)::decimal(18, 2)
    || ' vs liabilities + equity + earnings ' || coalesce(p.claims, 0)::decimal(18, 2)
    || '; posted in the month: debit ' || p.period_debit::decimal(18, 2)
    || ', credit ' || p.period_credit::decimal(18, 2)
    || '; ' || coalesce(o.items, 0) || ' offending entr(y/ies) or line(s) this month',
from periods as p
left join offending as o
    on o.period = p.period;
