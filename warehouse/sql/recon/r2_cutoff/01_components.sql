-- R2's candidate pairs by connected component (warehouse.recon._components: bank and book lines are the
-- nodes, pairs the edges, over every pair of the run), handed over as _in_components (k, comp). The
-- greedy one-to-one matching decides each component apart from the others (a pair competes only with
-- pairs that share a line with it, and through them with their component), so at a cut-off only the
-- components that gained a pair since the previous cut-off can match otherwise: 10_pairs.sql keeps the
-- previous cut-off's matches in every other component and matches these again.

-- with the date a pair reaches a cut-off (its later line's)
create or replace table _recon_candidates as
select c.*, x.comp as comp, greatest(c.booked_date, c.posted_date) as reached
from _recon_candidates as c
inner join _in_components as x
    on x.k = c.k;

-- the matches at the previous cut-off (none before the first), as candidate pairs
create table _recon_matched as
select c.*
from _recon_candidates as c
limit 0;

-- The spans of recon_bank_match_spans (25_spans.sql): those still open, held at the previous
-- month-end (from the first one each holds at), handed over as _in_open by warehouse.recon (an
-- incremental run's, held at the month-end before its first recomputed one), and those ended.
create table _recon_open as
select c.k as k, c.comp as comp, o.first_period as first_period
from _in_open as o
inner join _recon_candidates as c
    on c.txn_id = o.txn_id
    and c.entry_id = o.entry_id
    and c.line_no = o.line_no;

create table _recon_spans (k bigint, first_period varchar, last_period varchar);
