-- R2 matching at one cut-off (_recon_cut, set by warehouse.recon for each of _recon_scope in turn, with
-- the previous one of the run, or 0001-01-01 for the first): the components (01_components.sql) with a
-- pair whose two lines are dated up to this cut-off and not both up to the previous one are matched
-- again, from their candidate pairs dated up to it; every other component's matches at the previous
-- cut-off stand (its pairs are the same, so the greedy matching takes the same ones).

create or replace table _recon_touched as
select distinct c.comp as comp
from _recon_candidates as c
inner join _recon_cut as co
    on c.reached <= co.cutoff
    and c.reached > co.previous;

delete from _recon_matched as m
using _recon_touched as t
where t.comp = m.comp;

create or replace table _recon_pairs as
select c.*
from _recon_candidates as c
inner join _recon_cut as co
    on c.reached <= co.cutoff
semi join _recon_touched as t
    on t.comp = c.comp;
