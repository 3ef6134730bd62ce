-- R2 matching, step 1: the bank lines, the book lines of each bank account's ledger account (in the
-- bank account's currency), and every admissible pair (same account, same amount and sign):
--   rule 'reference' (prio 0): the bank reference equals the book line's document_id or entry_id and
--       the bank date is from match_window_days before to stale_after_days after the book date;
--   rule 'date' (prio 1): any other pair within +-match_window_days.
-- Pairs are ranked once, globally: reference first, then nearest date, ties by bank id, then book id.
-- Matching is one-to-one and greedy in that order, separately at each cut-off over the lines dated up
-- to it (a line whose counterpart comes later is that month's reconciling item).

create or replace temp table _recon_bank as
select
    t.txn_id as txn_id,
    t.bank_account_id as bank_account_id,
    a.gl_account_id as gl_account_id,
    a.currency as currency,
    t.booked_date as d,
    t.amount as amount,
    nullif(trim(t.reference), '') as reference,
from bank_transactions as t
inner join bank_accounts as a
    on a.bank_account_id = t.bank_account_id;

create or replace temp table _recon_book as
select
    jl.entry_id as entry_id,
    jl.line_no as line_no,
    jl.entry_id || ':' || jl.line_no as book_id,
    a.bank_account_id as bank_account_id,
    jl.account_id as gl_account_id,
    a.currency as currency,
    jl.posted_date as d,
    case
        when a.currency = b.currency then jl.debit - jl.credit
        when jl.currency = a.currency then jl.amount_currency
    end::decimal(18, 2) as amount,
    jl.document_id as document_id,
from erp_journal_lines as jl
inner join (
    select gl_account_id, min(bank_account_id) as bank_account_id, min(currency) as currency
    from bank_accounts
    group by gl_account_id
) as a
    on a.gl_account_id = jl.account_id
cross join _recon_bounds as b;

create or replace temp table _recon_candidates as
with pairs as (
    select
        b.bank_account_id as bank_account_id,
        b.txn_id as txn_id,
        b.d as booked_date,
        k.entry_id as entry_id,
        k.line_no as line_no,
        k.d as posted_date,
        b.amount as amount,
        (
            b.reference is not null
            and (b.reference = k.document_id or b.reference = k.entry_id)
            and b.d >= k.d - p.match_window_days
            and b.d <= k.d + p.stale_after_days
        ) as by_reference,
        abs(date_diff('day', k.d, b.d)) as dist,
        p.match_window_days as window_days,
    from _recon_bank as b
    cross join recon_params as p
    inner join _recon_book as k
        on k.gl_account_id = b.gl_account_id
        and k.amount = b.amount
        and b.d >= k.d - greatest(p.match_window_days, 0)
        and b.d <= k.d + greatest(p.match_window_days, p.stale_after_days)
    -- a pair is matched only at the cut-offs both its lines are dated up to (r2_cutoff/10_pairs.sql):
    -- none after this run's last one (a refresh with nothing new matches at the opening cut-off alone);
    -- the ranks of the pairs kept keep their order
    where greatest(b.d, k.d) <= (select max(s.cutoff) from _recon_scope as s)
)
select
    pr.* exclude (by_reference, window_days),
    case when pr.by_reference then 'reference' else 'date' end as rule,
    row_number() over (
        order by (case when pr.by_reference then 0 else 1 end), pr.dist, pr.txn_id, pr.entry_id, pr.line_no
    ) as k,
from pairs as pr
where pr.by_reference or pr.dist <= pr.window_days;

-- The matching itself runs one cut-off at a time, apart (warehouse.recon, sql/recon/r2_cutoff/), so no
-- table holds every pair at every cut-off. What it leaves, per cut-off, are the lines matched by none
-- (deposits in transit, outstanding payments, bank-only items) below, and the matches, written
-- straight to recon_bank_matches. Declared, not created by a query: in DuckDB 2.0.0 a table created
-- empty by a query inside a transaction keeps "empty" column statistics, and once more than one row
-- group (122,880 rows) is appended in that transaction, scans that use the statistics (joins, filters,
-- sums) see none of its rows (at scale 100: every bank line "unmatched"; commit 2fddc38).
create or replace temp table _recon_r2_unmatched (
    period varchar, cutoff date, is_opening boolean, source varchar, bank_account_id varchar,
    record_id varchar, record_date date, amount decimal(18, 2), age bigint, business_age bigint
);
-- and given statistics before its first append, which may be more than one row group (00_cutoffs.sql)
insert into _recon_r2_unmatched values (null, null, null, null, null, null, null, null, null, null);
delete from _recon_r2_unmatched;
