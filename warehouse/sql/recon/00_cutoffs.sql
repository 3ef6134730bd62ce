-- The month-ends every check is computed at: one per reported period, as calendar()
-- (marts/00_functions.sql, loaded by warehouse.recon) gives them (the open month: the run date), plus
-- the opening cut-off, the day before first_period, where R2 measures its opening difference.
-- Reads run_context (as the marts do) and recon_params (written by warehouse.recon for this run).

create or replace temp table _recon_bounds as
select
    min(c.period_start) as first_month,
    max(c.period_start) as open_month,
    any_value(rc.as_of) as as_of,
    any_value(rc.currency) as currency,
from calendar() as c
cross join run_context as rc;

create or replace temp table _recon_cutoffs as
select
    c.period as period,
    c.cutoff as cutoff,
    false as is_opening,
    c.is_open as is_open,
    c.is_latest_ended as is_latest_ended,
from calendar() as c
union all
select
    strftime(b.first_month - interval 1 day, '%Y-%m') as period,
    (b.first_month - interval 1 day)::date as cutoff,
    true as is_opening,
    false as is_open,
    false as is_latest_ended,
from _recon_bounds as b;

-- The cut-offs R2, R3 and R4 are computed at in this run: every one, or (an incremental run,
-- recon_params.from_period set by warehouse.recon from the inputs that changed) the periods from
-- from_period on, plus the opening cut-off R2 measures its opening difference at. The other checks
-- read _recon_cutoffs whole (see warehouse.recon.INCREMENTAL_CHECKS for why).
create or replace temp table _recon_scope as
select co.*
from _recon_cutoffs as co
cross join recon_params as p
where p.from_period is null or co.is_opening or co.period >= p.from_period;

-- where a dated finding is reported: its own month, clamped to the reported range
create or replace temp macro _recon_period(d) as
    strftime(
        least(greatest(date_trunc('month', d)::date, (select first_month from _recon_bounds)),
              (select open_month from _recon_bounds)),
        '%Y-%m'
    );

create or replace temp table _recon_results (
    period varchar, check_id varchar, status varchar,
    expected decimal(18, 2), actual decimal(18, 2), difference decimal(18, 2), detail varchar
);
create or replace temp table _recon_items (
    period varchar, check_id varchar, source varchar, record_id varchar,
    record_date date, amount decimal(18, 2), reason varchar
);
-- DuckDB 2.0.0, inside a transaction: when the first rows appended to an empty table arrive as more than
-- one row group at once, its column statistics stay "empty", and scans that use them (a group by, an IN
-- filter) see none of its rows. At scale 100 R5 appends ~123k backlog items in one insert: with no R2
-- item before it (a refresh that recomputes no R2 cut-off) `recon_items` lost every one of them. One row
-- appended and removed first gives both tables real statistics (so is _recon_r2_unmatched given them, in
-- sql/recon/10_bank_candidates.sql; tests/warehouse/test_recon_large_appends.py).
insert into _recon_results values ('', '', '', null, null, null, '');
delete from _recon_results;
insert into _recon_items values ('', '', '', '', null, null, '');
delete from _recon_items;
