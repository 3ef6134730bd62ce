-- R2 matching at one cut-off (_recon_cut, set by warehouse.recon for each of _recon_scope in turn):
-- the candidate pairs (10_bank_candidates.sql) whose two lines are both dated up to it, and an empty
-- _recon_matched for the pairs 11_match_step.sql takes.

create or replace table _recon_pairs as
select co.period as period, c.*
from _recon_candidates as c
inner join _recon_cut as co
    on greatest(c.booked_date, c.posted_date) <= co.cutoff;

create or replace table _recon_matched (
    period varchar, bank_account_id varchar, txn_id varchar, booked_date date, entry_id varchar,
    line_no integer, posted_date date, amount decimal(18, 2), dist bigint, rule varchar, k bigint
);
