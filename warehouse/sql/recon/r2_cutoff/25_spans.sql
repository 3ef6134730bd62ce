-- R2 at one month-end (not the opening cut-off), after the matching: the spans that end, of the matches
-- held at the previous month-end (_recon_open) and not here, which last held at that month-end's period
-- (_recon_cut.held_at), and those that start here, of the matches not held there. Only the components
-- matched again here (_recon_touched) can have either, except at the run's first month-end, whose
-- previous cut-off (the opening one) is not the month-end the open spans held at (_recon_cut.compare_all).

create or replace table _recon_compared as
select t.comp as comp
from _recon_touched as t
union
select c.comp
from _recon_candidates as c
inner join (select true as yes from _recon_cut as co where co.compare_all) as every
    on every.yes;

create or replace table _recon_ended as
select o.k as k, o.first_period as first_period, co.held_at as last_period
from _recon_open as o
cross join _recon_cut as co
semi join _recon_compared as x
    on x.comp = o.comp
anti join _recon_matched as m
    on m.k = o.k;

insert into _recon_spans
select * from _recon_ended;

delete from _recon_open as o
using _recon_ended as e
where e.k = o.k;

insert into _recon_open
select m.k, m.comp, co.period
from _recon_matched as m
cross join _recon_cut as co
semi join _recon_compared as x
    on x.comp = m.comp
anti join _recon_open as o
    on o.k = m.k;
