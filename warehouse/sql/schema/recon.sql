-- Reconciliation evidence (DESIGN "Reconciliation"), replaced by each refresh in one transaction
-- (warehouse/recon.py). R1 and R5-R7 are recomputed for every period; R2-R4 only from the earliest
-- month whose inputs changed (`recon_inputs`, sql/recon/incremental/inputs.sql), their earlier rows
-- kept because a check at a month-end reads only rows dated up to it. So every recon_results row
-- carries the latest run's id (a kept verdict holds for that run's data too), while a kept
-- recon_items row or bank match span keeps the id of the run that wrote it: read them by period and
-- check, never by run_id.

create table if not exists recon_results (
    run_id          varchar not null,
    period          varchar not null,      -- 'YYYY-MM'
    check_id        varchar not null,      -- R1_trial_balance, R2_bank_vs_book, R3_ar, R4_ap,
                                           -- R5_bookings_vs_billings, R6_completeness, R7_erp_report
    status          varchar not null,      -- pass | warn (a WARN finding) | fail (an ERROR finding)
                                           -- | not_configured (a source it reads is not configured, or R7: not available)
    expected        decimal(18, 2),
    actual          decimal(18, 2),
    difference      decimal(18, 2),        -- actual - expected
    detail          varchar
);

-- Every unmatched or offending record behind a verdict, with the reason.
create table if not exists recon_items (
    run_id          varchar not null,
    period          varchar not null,
    check_id        varchar not null,
    source          varchar not null,      -- erp, bank, crm, or the warehouse table it concerns
    record_id       varchar not null,      -- txn_id, entry_id, entry_id:line_no, invoice_id, ...
    record_date     date,
    amount          decimal(18, 2),
    reason          varchar not null
);

-- R2's one-to-one matching at each period's month-end (the open month: the run date): which bank
-- line matched which book line, and by which rule (reference first, then nearest date), from the first
-- to the last month-end it holds at in a row. A match mostly holds at every later month-end: one row
-- for all of them, not one per month-end (at scale 100: ~160k rows, not 1.9M).
create table if not exists recon_bank_match_spans (
    run_id          varchar not null,      -- the run that last wrote the span
    first_period    varchar not null,      -- 'YYYY-MM'
    last_period     varchar not null,      -- 'YYYY-MM', the last month-end in a row it holds at
    bank_account_id varchar not null,
    txn_id          varchar not null,
    booked_date     date not null,
    entry_id        varchar not null,
    line_no         integer not null,
    posted_date     date not null,
    amount          decimal(18, 2) not null,
    rule            varchar not null       -- reference | date
);

-- one row per match and month-end it holds at, as readers ask for them
create or replace view recon_bank_matches as
select
    s.run_id as run_id,
    strftime(s.month, '%Y-%m') as period,
    s.bank_account_id as bank_account_id,
    s.txn_id as txn_id,
    s.booked_date as booked_date,
    s.entry_id as entry_id,
    s.line_no as line_no,
    s.posted_date as posted_date,
    s.amount as amount,
    s.rule as rule,
from (
    select
        sp.*,
        unnest(
            generate_series(strptime(sp.first_period, '%Y-%m'), strptime(sp.last_period, '%Y-%m'), interval 1 month)
        ) as month,
    from recon_bank_match_spans as sp
) as s;

-- The last great-expectations verdict of each check (pipelines/expectations.py), with the digest of what
-- it validated: the check's rows as its suite reads them (period, status, difference), the number of
-- periods expected, the suite as written and the library's version. A refresh whose digest for a check
-- is the same takes the verdict as it stands (the validation is a function of exactly these) instead of
-- importing great-expectations again (seconds per process; issue 21), and its asset check says in which
-- run the verdict was validated. Replaced by each refresh, one row per check.
create table if not exists recon_verdicts (
    check_id        varchar not null,
    digest          varchar not null,      -- sha256 hex of what the suite validated
    outcome         varchar not null,      -- pass | warn | fail
    failed          varchar[] not null,    -- the expectations that did not hold, worst first
    evaluated       integer not null,      -- expectations evaluated
    validated_in    varchar not null       -- the run that validated it
);
