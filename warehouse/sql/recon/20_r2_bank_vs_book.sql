-- R2 bank vs book, per bank account at each cut-off, in the bank account's currency:
--   statement closing balance + deposits in transit - outstanding payments
--     = GL balance of its gl_account_id + bank-only receipts - bank-only charges + opening difference
-- exact. Deposits in transit / outstanding payments: book lines with no bank line matched by the
-- cut-off; bank-only receipts / charges: bank lines with no book line matched by the cut-off. The
-- opening difference is the same equation's gap at the opening cut-off (the day before
-- first_period), carried forward (0 when there is no statement balance yet at that day).
-- The statement balance at a cut-off is the latest closing balance on or before it; when that
-- predates the cut-off (the open month, a feed that sends balances only at month-ends) it is rolled
-- forward with the feed's transactions booked after its date up to the cut-off, and the detail says
-- so. With no closing balance on or before the cut-off the account is WARN `not reconcilable`.
-- An unmatched item older than stale_after_days (calendar days) fails; a bank-only item (a fee not
-- yet booked) older than warn_after_days business days (Mon-Fri) warns; younger bank-only items and
-- deposits in transit / outstanding payments are listed only.

-- _recon_r2_unmatched (every cut-off's unmatched lines) is filled by R2's matching, one cut-off at a
-- time (10_bank_candidates.sql, sql/recon/r2_cutoff/).

create or replace temp table _recon_r2_accounts as
with

latest_balance as (
    select
        co.period as period,
        co.cutoff as cutoff,
        bb.bank_account_id as bank_account_id,
        arg_max(bb.closing_balance, bb.balance_date) as closing_balance,
        max(bb.balance_date) as balance_date,
    from _recon_scope as co
    inner join bank_balances as bb
        on bb.balance_date <= co.cutoff
    group by all
),

-- the latest balance rolled forward with the feed's transactions booked after it, up to the cut-off
statement as (
    select
        lb.period as period,
        lb.bank_account_id as bank_account_id,
        lb.closing_balance as statement_balance,
        lb.balance_date as balance_date,
        (lb.closing_balance + coalesce(sum(b.amount), 0))::decimal(18, 2) as closing_balance,
        count(b.txn_id) as rolled_txns,
    from latest_balance as lb
    left join _recon_bank as b
        on b.bank_account_id = lb.bank_account_id
        and b.d > lb.balance_date
        and b.d <= lb.cutoff
    group by lb.period, lb.bank_account_id, lb.closing_balance, lb.balance_date
),

ledger_by_day as (
    select k.bank_account_id as bank_account_id, k.d as d, sum(k.amount) as amount
    from _recon_book as k
    group by all
),

ledger as (
    select co.period as period, l.bank_account_id as bank_account_id, sum(l.amount) as gl_balance
    from _recon_scope as co
    inner join ledger_by_day as l
        on l.d <= co.cutoff
    group by all
),

unmatched as (
    select
        u.period as period,
        u.bank_account_id as bank_account_id,
        coalesce(sum(u.amount) filter (where u.source = 'erp' and u.amount > 0), 0) as in_transit,
        coalesce(-sum(u.amount) filter (where u.source = 'erp' and u.amount < 0), 0) as outstanding,
        coalesce(sum(u.amount) filter (where u.source = 'bank' and u.amount > 0), 0) as bank_receipts,
        coalesce(-sum(u.amount) filter (where u.source = 'bank' and u.amount < 0), 0) as bank_charges,
        count(*) filter (where u.age > p.stale_after_days) as stale_items,
        count(*) filter (
            where u.source = 'bank' and u.age <= p.stale_after_days and u.business_age > p.warn_after_days
        ) as old_bank_items,
        count(*) as items,
        count(*) filter (where u.source = 'erp') as book_items,
    from _recon_r2_unmatched as u
    cross join recon_params as p
    group by all
),

grid as (
    select
        co.period as period,
        co.cutoff as cutoff,
        co.is_opening as is_opening,
        a.bank_account_id as bank_account_id,
        a.currency as currency,
        s.closing_balance as statement,
        s.statement_balance as statement_balance,
        s.balance_date as balance_date,
        coalesce(s.rolled_txns, 0) as rolled_txns,
        coalesce(l.gl_balance, 0) as gl_balance,
        coalesce(u.in_transit, 0) as in_transit,
        coalesce(u.outstanding, 0) as outstanding,
        coalesce(u.bank_receipts, 0) as bank_receipts,
        coalesce(u.bank_charges, 0) as bank_charges,
        coalesce(u.stale_items, 0) as stale_items,
        coalesce(u.old_bank_items, 0) as old_bank_items,
        coalesce(u.book_items, 0) as book_items,
        coalesce(u.items, 0) as items,
    from _recon_scope as co
    cross join bank_accounts as a
    left join statement as s
        on s.period = co.period and s.bank_account_id = a.bank_account_id
    left join ledger as l
        on l.period = co.period and l.bank_account_id = a.bank_account_id
    left join unmatched as u
        on u.period = co.period and u.bank_account_id = a.bank_account_id
),

opening as (
    select
        g.bank_account_id as bank_account_id,
        (g.statement + g.in_transit - g.outstanding)
        - (g.gl_balance + g.bank_receipts - g.bank_charges) as opening_difference,
    from grid as g
    where g.is_opening and g.statement is not null
)

select
    g.*,
    -- how the statement figure was reached, when it is not the cut-off's own closing balance
    case when g.balance_date < g.cutoff then
        'statement ' || g.balance_date::varchar || ' rolled forward by ' || g.rolled_txns
        || case when g.rolled_txns = 1 then ' transaction' else ' transactions' end
        || ' from ' || g.statement_balance::decimal(18, 2)
    end as statement_note,
    coalesce(o.opening_difference, 0)::decimal(18, 2) as opening_difference,
    (g.statement + g.in_transit - g.outstanding)::decimal(18, 2) as adjusted_bank,
    (g.gl_balance + g.bank_receipts - g.bank_charges + coalesce(o.opening_difference, 0))::decimal(18, 2)
        as adjusted_book,
from grid as g
left join opening as o
    on o.bank_account_id = g.bank_account_id
where not g.is_opening;

insert into _recon_results
with per_account as (
    select
        a.*,
        (a.adjusted_bank - a.adjusted_book)::decimal(18, 2) as difference,
        case
            when a.stale_items > 0 then 'fail'
            when a.statement is null then 'warn'
            when a.adjusted_bank <> a.adjusted_book then 'fail'
            when a.old_bank_items > 0 then 'warn'
            else 'pass'
        end as status,
    from _recon_r2_accounts as a
)
select
    pa.period,
    'R2_bank_vs_book',
    case max(case pa.status when 'fail' then 2 when 'warn' then 1 else 0 end)
        when 2 then 'fail' when 1 then 'warn' else 'pass' end,
    -- the figures of the reconcilable accounts (a statement balance), when they share one currency
    case when count(distinct pa.currency) = 1 then sum(pa.adjusted_book) filter (where pa.statement is not null) end,
    case when count(distinct pa.currency) = 1 then sum(pa.adjusted_bank) filter (where pa.statement is not null) end,
    case when count(distinct pa.currency) = 1 then sum(pa.difference) filter (where pa.statement is not null) end,
    string_agg(
        pa.bank_account_id || ' (' || pa.currency || '): '
        || case
            when pa.statement is null then
                'not reconcilable: no statement balance on or before ' || pa.cutoff::varchar
                || '; ledger ' || pa.gl_balance::decimal(18, 2) || '; ' || pa.items || ' unmatched item(s)'
            else
                'statement ' || pa.statement::varchar
                || coalesce(' (' || pa.statement_note || ')', ' on ' || pa.balance_date::varchar)
                || ' + deposits in transit ' || pa.in_transit::decimal(18, 2)
                || ' - outstanding payments ' || pa.outstanding::decimal(18, 2)
                || ' = ledger ' || pa.gl_balance::decimal(18, 2)
                || ' + bank-only receipts ' || pa.bank_receipts::decimal(18, 2)
                || ' - bank-only charges ' || pa.bank_charges::decimal(18, 2)
                || ' + opening difference ' || pa.opening_difference
                || '; difference ' || pa.difference::varchar
        end
        || '; ' || pa.stale_items || ' stale item(s)'
        || case when pa.old_bank_items > 0
            then '; ' || pa.old_bank_items || ' bank-only item(s) over ' || p.warn_after_days || ' business day(s)'
            else '' end,
        ' | ' order by pa.bank_account_id
    ),
from per_account as pa
cross join recon_params as p
group by pa.period;

insert into _recon_items
select
    u.period,
    'R2_bank_vs_book',
    u.source,
    u.record_id,
    u.record_date,
    u.amount,
    case
        when u.source = 'erp' and u.amount >= 0 then 'deposit in transit'
        when u.source = 'erp' then 'outstanding payment'
        when u.amount >= 0 then 'bank receipt not in the books'
        else 'bank charge not yet booked'
    end
    || ' on ' || u.bank_account_id || ', ' || u.age || ' day(s) old at ' || u.cutoff::varchar
    || case
        when u.age > p.stale_after_days then ': stale (over ' || p.stale_after_days || ' days)'
        when u.source = 'bank' and u.business_age > p.warn_after_days
            then ': not booked after ' || u.business_age || ' business days (warns over '
                || p.warn_after_days || ')'
        else ''
    end,
from _recon_r2_unmatched as u
cross join recon_params as p
where not u.is_opening;

insert into _recon_items
select
    a.period,
    'R2_bank_vs_book',
    'bank',
    a.bank_account_id,
    a.cutoff,
    (a.adjusted_bank - a.adjusted_book)::decimal(18, 2),
    case
        when a.statement is null
            then 'not reconcilable: no statement balance on ' || a.bank_account_id || ' on or before '
                || a.cutoff::varchar
        else 'statement does not reconcile to the ledger: adjusted bank ' || a.adjusted_bank
            || ' vs adjusted book ' || a.adjusted_book || coalesce(' (' || a.statement_note || ')', '')
    end,
from _recon_r2_accounts as a
where a.statement is null or a.adjusted_bank <> a.adjusted_book;
