-- R2 matching at one cut-off (_recon_cut, set by warehouse.recon for each of _recon_scope in turn, with
-- the previous one of the run, or 0001-01-01 for the first): the components (01_components.sql) with a
-- pair whose two lines are dated up to this cut-off and not both up to the previous one are matched
-- again, from their candidate pairs dated up to it; every other component's matches at the previous
-- cut-off stand (its pairs are the same, so the greedy matching takes the same ones).

create or replace table _recon_touched as
select distinct c.comp as comp
from _recon_candidates as c
inner join _recon_cut as co
    on greatest(c.booked_date, c.posted_date) <= co.cutoff
    and greatest(c.booked_date, c.posted_date) > co.previous;

create or replace table _recon_matched as
select co.period as period, m.* exclude (period)
from _recon_matched as m
cross join _recon_cut as co
anti join _recon_touched as t
    on t.comp = m.comp;

create or replace table _recon_pairs as
select co.period as period, c.*
from _recon_candidates as c
inner join _recon_cut as co
    on greatest(c.booked_date, c.posted_date) <= co.cutoff
semi join _recon_touched as t
    on t.comp = c.comp;
